"""Output options every command spells alike, as whisper and NeMo do: `--output-dir DIR` for a
folder, `-o/--output FILE` for one file. Old spellings (`--out`) keep working for one release,
with a one-line note on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_output", "add_output_dir"]


class _Renamed(argparse.Action):
    """Stores the value; a spelling outside `option_strings` (an old one) adds a note."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string not in self.option_strings:
            print(
                f"{parser.prog}: {option_string} is deprecated and goes in the next release; "
                f"use {self.option_strings[-1]}",
                file=sys.stderr,
            )
        setattr(namespace, self.dest, values)


def add_output_dir(p: argparse.ArgumentParser, help: str, old: tuple[str, ...] = (), **kw):
    """`--output-dir DIR`; `old` spellings still parse, with a note."""
    kw.setdefault("metavar", "DIR")
    return _add(p, ("--output-dir",), old, help, kw)


def add_output(p: argparse.ArgumentParser, help: str, old: tuple[str, ...] = (), **kw):
    """`-o/--output FILE`; `old` spellings still parse, with a note."""
    kw.setdefault("metavar", "FILE")
    return _add(p, ("-o", "--output"), old, help, kw)


def _add(p, flags, old, help, kw):
    kw.setdefault("type", Path)
    action = p.add_argument(*flags, *old, action=_Renamed, help=help, **kw)
    # The parser already knows the old spellings; hiding them here keeps them out of --help,
    # the usage line and error messages, which all read option_strings.
    action.option_strings = list(flags)
    return action
