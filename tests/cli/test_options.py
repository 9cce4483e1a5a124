"""One flag vocabulary: --output-dir for folders, -o/--output for files; --out still parses."""

import argparse
import dataclasses
from pathlib import Path

import pytest

from asr.cli import main
from asr.cli.main import _parser
from asr.cli.train import TRAIN_DEFAULTS
from asr.errors import AsrError
from asr.inference.shipped import DEFAULT_MODEL, resolve_model
from asr.train_config import TrainConfig

# (command line before the output flag, dest, the new spelling)
RENAMED = [
    (["train", "--train", "t.jsonl"], "out_dir", "--output-dir"),
    (["evaluate", "--manifest", "m.jsonl"], "output_dir", "--output-dir"),
    (["export"], "output", "--output"),
    (["tune", "--model", "m.pt", "--manifest", "d.jsonl", "--lm", "l", "--lexicon", "x"],
     "output", "--output"),
    (["prepare", "librispeech", "root"], "output", "--output"),
    (["prepare", "commonvoice", "t.tsv"], "output", "--output"),
    (["prepare", "kaldi", "data"], "output", "--output"),
    (["prepare", "folder", "clips"], "output", "--output"),
    (["prepare", "speech-commands", "root"], "output", "--output"),
    (["prepare", "combine", "a.jsonl"], "output", "--output"),
    (["prepare", "synth", "prompts.txt"], "output_dir", "--output-dir"),
    (["prepare", "synth-digits"], "output_dir", "--output-dir"),
    (["prepare", "fsdd", "fsdd"], "output_dir", "--output-dir"),
    (["prepare", "split", "m.jsonl"], "output_dir", "--output-dir"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "dest", "new"), RENAMED, ids=lambda v: " ".join(v)[:30])
def test_new_spelling_parses_quietly(argv, dest, new, capsys):
    args = _parser().parse_args([*argv, new, "target"])
    assert getattr(args, dest) == Path("target")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("argv", "dest", "new"), RENAMED, ids=lambda v: " ".join(v)[:30])
def test_old_spelling_still_parses_with_one_note(argv, dest, new, capsys):
    args = _parser().parse_args([*argv, "--out", "target"])
    assert getattr(args, dest) == Path("target")
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "--out is deprecated" in err and f"use {new}" in err


def test_short_output_flag():
    assert _parser().parse_args(["export", "-o", "m.onnx"]).output == Path("m.onnx")


@pytest.mark.parametrize(("argv", "dest", "new"), RENAMED, ids=lambda v: " ".join(v)[:30])
def test_help_and_errors_name_only_the_new_spelling(argv, dest, new, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args([*argv[: 2 if argv[0] == "prepare" else 1], "--help"])
    help_text = capsys.readouterr().out
    assert new in help_text
    assert "--out " not in help_text and "--out," not in help_text


def _commands(parser, prefix=()):
    """(argv prefix, parser) of every command and subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


def _options_without_default(parser):
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.required:
            continue  # positionals, flags and --help, required options: no default to show
        text = formatter._format_action(action)
        if "default" not in text:
            yield action.option_strings[-1]


def test_every_option_shows_its_default():
    missing = {
        " ".join(argv): list(_options_without_default(sub)) for argv, sub in _commands(_parser())
    }
    assert {command: opts for command, opts in missing.items() if opts} == {}


def test_every_command_has_a_description():
    bare = [" ".join(argv) for argv, sub in _commands(_parser()) if not sub.description]
    assert bare == []


def test_threads_only_where_torch_does_the_work():
    with_threads = {
        argv[0]
        for argv, sub in _commands(_parser())
        if any("--threads" in a.option_strings for a in sub._actions)
    }
    assert with_threads == {"train", "transcribe", "stream", "evaluate", "tune", "calibrate"}


def test_train_help_defaults_are_train_configs():
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert {key: fields[key] for key in TRAIN_DEFAULTS} == TRAIN_DEFAULTS


def test_help_formats_list_defaults_as_typed(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["prepare", "fsdd", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "dev-only speakers (default: yweweler)" in text


def test_unknown_option_prints_the_commands_own_usage(capsys):
    for argv, prog in [(["transcribe", "a.wav", "--foo"], "asr transcribe"),
                       (["prepare", "folder", "clips", "-o", "m.jsonl", "--foo"],
                        "asr prepare folder")]:  # fmt: skip
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"usage: {prog} ")
        assert f"{prog}: error: unrecognized arguments: --foo" in err


@pytest.mark.parametrize(
    ("argv", "missing"),
    [(["--train", "t.jsonl"], "needs --output-dir"),
     (["--output-dir", "exp"], "needs --train"),
     ([], "needs --train and --output-dir")],
)  # fmt: skip
def test_train_without_train_or_output_dir_is_a_usage_error(argv, missing, capsys):
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: asr train ")
    assert err.splitlines()[-1].startswith(f"asr train: error: training {missing} ")
    assert "Traceback" not in err


def test_shipped_models_by_name(capsys):
    assert resolve_model("digits") == resolve_model(None) == DEFAULT_MODEL
    assert resolve_model("exp/best.pt") == Path("exp/best.pt")
    with pytest.raises(AsrError, match=r"nosuch: .*shipped: digits"):
        resolve_model("nosuch")
    with pytest.raises(SystemExit):
        main(["transcribe", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "a shipped model's name: digits, digits-stream (default: digits)" in help_text
    with pytest.raises(SystemExit):
        main(["stream", "--help"])
    assert "(default: digits-stream)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_threads_must_be_a_positive_count(value, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["transcribe", "a.wav", "--threads", value])
    assert exit.value.code == 2
    shown = repr(value) if value == "two" else value
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"asr transcribe: error: argument --threads: {shown}: ")
