"""One flag vocabulary: --output-dir for folders, -o/--output for files; --out still parses."""

from pathlib import Path

import pytest

from asr.cli.main import _parser

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
