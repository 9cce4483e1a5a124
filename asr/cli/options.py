"""What every command shares: its parser class and help format, and options spelt alike.

Outputs follow whisper and NeMo: `--output-dir DIR` for a folder, `-o/--output FILE` for one
file; old spellings (`--out`) keep working for one release, with a one-line note on stderr.
`--model` takes a file or a shipped model's name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["CommandParser", "HelpFormatter", "add_model", "add_output", "add_output_dir"]


class HelpFormatter(argparse.HelpFormatter):
    """Appends `(default: X)` to an option's help unless the help already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.required
            or not action.option_strings
            or action.nargs == 0  # flags: off unless given
            or action.default in (None, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: {_shown(action.default)})"


def _shown(default) -> str:
    """A default as a user types it: lists space-separated, an empty one as `none`."""
    if isinstance(default, (list, tuple)):
        default = " ".join(map(str, default)) or "none"
    return str(default).replace("%", "%%")  # argparse %-formats help strings


class CommandParser(argparse.ArgumentParser):
    """A (sub)command's parser: its own usage on an unknown option, defaults in its help.

    argparse hands a subcommand's unknown arguments back to the top-level parser, which then
    prints `asr`'s usage instead of the subcommand's.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.set_defaults(command_parser=self)  # the innermost command's wins: for usage errors

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def add_model(
    p: argparse.ArgumentParser, what: str = "checkpoint (.pt) or ONNX model",
    default_name: str | None = None, **kw,
):  # fmt: skip
    """`--model`: a file, or the name of a model shipped with asr (see asr.inference.shipped);
    without it, the shipped `default_name` (None: the default model)."""
    from asr.inference.shipped import DEFAULT_NAME, SHIPPED

    names = ", ".join(SHIPPED)
    default = "" if kw.get("required") else f" (default: {default_name or DEFAULT_NAME})"
    help = f"{what}, or a shipped model's name: {names}{default}"
    return p.add_argument("--model", metavar="MODEL", help=help, **kw)


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
