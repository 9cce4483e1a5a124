"""The `asr` command as a user runs it: output format, errors, exit codes."""

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from asr.cli import main

from conftest import ROOT


def _asr(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "asr.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_help_lists_commands_and_exit_codes():
    done = _asr("--help")
    assert done.returncode == 0
    for command in ("train", "transcribe", "evaluate", "compare"):
        assert command in done.stdout
    assert "Exit codes" in done.stdout


def test_usage_error_exits_2():
    assert _asr("transcribe").returncode == 2
    assert _asr("no-such-command").returncode == 2


def test_transcribe_keeps_going_past_bad_files(trained, tmp_path, capsys):
    exp, manifest = trained
    good = [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()][:3]
    folder = tmp_path / "folder"
    folder.mkdir()
    sf.write(folder / "nested.wav", sf.read(good[0])[0], 8000)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.flac"
    garbage.write_bytes(b"not audio" * 100)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(800, np.nan), 8000, subtype="FLOAT")
    inputs = [good[0], str(empty), good[1], str(tmp_path / "missing.wav"), str(garbage), str(nan)]
    inputs += [good[2], str(folder)]
    code = main(["transcribe", "--model", str(exp / "best.pt"), "-q", *inputs])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [*good, str(folder / "nested.wav")]
    assert all(len(line.split("\t")) == 2 for line in lines)
    errors = err.splitlines()
    assert len(errors) == 4
    for path, reason in [(empty, "empty file"), (tmp_path / "missing.wav", "no such file"),
                         (garbage, "cannot decode"), (nan, "NaN")]:  # fmt: skip
        assert any(e.startswith(f"{path}: ") and reason in e for e in errors), errors


def test_transcribe_all_good_exits_0(trained, capsys):
    exp, manifest = trained
    first = json.loads(manifest.read_text().splitlines()[0])
    assert main(["transcribe", "--model", str(exp / "best.pt"), "-q", first["audio_filepath"]]) == 0
    assert capsys.readouterr().out.startswith(first["audio_filepath"] + "\t")


def test_transcribe_groups_files_by_speaker(trained, tmp_path, monkeypatch, capsys):
    """A manifest's speakers group its files for a model that normalises by speaker;
    --one-speaker puts every input, folders included, in one group; plain files are on their
    own."""
    from asr.inference.recognizer import Recognizer

    exp, manifest = trained
    grouped = []
    transcribe = Recognizer.transcribe

    def spy(self, inputs, *args, **kwargs):
        grouped.append(sorted((str(u.audio_filepath), u.speaker) for u in inputs if u.speaker))
        return transcribe(self, inputs, *args, **kwargs)

    monkeypatch.setattr(Recognizer, "transcribe", spy)
    utterances = [json.loads(line) for line in manifest.read_text().splitlines()[:3]]
    part = tmp_path / "part.jsonl"
    part.write_text("".join(json.dumps(u) + "\n" for u in utterances))
    folder = tmp_path / "folder"
    folder.mkdir()
    sf.write(folder / "a.wav", sf.read(utterances[0]["audio_filepath"])[0], 8000)
    model = ["transcribe", "--model", str(exp / "best.pt"), "-q"]
    assert main([*model, str(part)]) == 0
    assert main([*model, str(folder)]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    assert main([*model, "--one-speaker", str(part), str(folder), str(bad)]) == 1
    from_manifest = sorted((u["audio_filepath"], u["speaker"]) for u in utterances)
    assert grouped[0] == from_manifest and {s for _, s in from_manifest} == {"george"}
    assert grouped[1] == []
    assert {s for _, s in grouped[2]} == {"--one-speaker"} and len(grouped[2]) == 5
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 4
    # The speaker pass skips the bad file quietly: transcribing it reports it, once.
    assert len(err.splitlines()) == 1 and err.startswith(f"{bad}: cannot decode")


def test_bad_model_is_one_line_exit_1(tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"junk")
    done = _asr("transcribe", "-q", "--model", str(fake), str(fake))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and str(fake) in done.stderr
    assert "Traceback" not in done.stderr


def test_evaluate_writes_results_and_report(trained, tmp_path, capsys):
    exp, manifest = trained
    out = tmp_path / "eval"
    code = main(["evaluate", "--model", str(exp / "best.pt"), "--manifest", str(manifest),
                 "--output-dir", str(out), "-q", "--bootstrap", "200"])  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert {"wer", "cer", "num_utterances", "utterances"} <= results.keys()
    assert results["num_utterances"] == 40 and 0 <= results["wer"] <= 1
    assert {"audio_filepath", "ref", "hyp"} <= results["utterances"][0].keys()
    assert results["model"]["path"] == str(exp / "best.pt")
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert "report.html" in capsys.readouterr().out


def test_compare_two_runs(trained, tmp_path, capsys):
    exp, manifest = trained
    for name in ("a", "b"):
        main(["evaluate", "--model", str(exp / "best.pt"), "--manifest", str(manifest),
              "--output-dir", str(tmp_path / name), "-q", "--bootstrap", "100"])  # fmt: skip
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a" / "results.json"),
                 str(tmp_path / "b" / "results.json")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "not significant" in out and "matched 40 utterances" in out


def test_reader_going_away_is_quiet():
    """`asr transcribe ... | head -c 100`: the closed pipe ends the run with 141, no traceback."""
    inputs = [str(ROOT / "data" / "samples")] * 60  # more JSON than a pipe buffer holds
    command = [sys.executable, "-m", "asr.cli", "transcribe", "-q", "--format", "json", *inputs]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
