"""Inputs that once crashed, hung or passed silently: one line each, the documented exit code.

The shipped default model (8 kHz digits) transcribes, so no test here trains but the last.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from asr.manifest import read_manifest

from conftest import FSDD, ROOT, TEST_DATA

CLIP = FSDD / "recordings" / "3_theo_0.wav"  # "three"


@pytest.fixture
def short_wav(tmp_path) -> Path:
    """0.01 s: 80 samples at 8 kHz, shorter than one analysis window."""
    path = tmp_path / "short.wav"
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, 80), 8000, subtype="PCM_16")
    return path


def _errors(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_short_clip_is_one_line_the_others_transcribed(short_wav, capsys):
    assert main(["transcribe", "-q", str(short_wav), str(CLIP)]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"{short_wav}: too short (0.010 s; at least 0.032 s needed)"]
    assert out == f"{CLIP}\tthree\n"


def test_short_clip_scores_as_an_error_in_evaluate(short_wav, tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    lines = [{"audio_filepath": str(p), "duration": 0.5, "text": t}
             for p, t in ((short_wav, "one"), (CLIP, "three"))]  # fmt: skip
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["evaluate", "-q", "--manifest", str(manifest), "--output-dir", str(tmp_path / "e")]
    assert main(argv) == 0
    rows = json.loads((tmp_path / "e" / "results.json").read_text())["utterances"]
    assert [("error" in row, row["hyp"]) for row in rows] == [(True, ""), (False, "three")]
    assert "too short" in rows[0]["error"]


def test_training_skips_a_short_clip_and_says_so(short_wav, tiny_config, tmp_path, caplog):
    entries = read_manifest(FSDD / "manifest.jsonl")
    manifest = tmp_path / "train.jsonl"
    lines = [{"audio_filepath": str(u.audio_filepath), "duration": u.duration, "text": u.text}
             for u in entries if u.speaker == "theo"][:6]  # fmt: skip
    lines.append({"audio_filepath": str(short_wav), "duration": 0.01, "text": "one"})
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["train", "--config", str(tiny_config), "--train", str(manifest), "--dev", str(manifest)]
    argv += ["--output-dir", str(tmp_path / "exp"), "--epochs", "2", "--threads", "1"]
    assert main([*argv, "-q"]) == 0
    assert (tmp_path / "exp" / "best.pt").is_file()
    # Named once for the training set and once for dev, not again in the second epoch.
    assert caplog.text.count(f"skipped (in every epoch): {short_wav}: too short") == 2


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "asr.cli", "transcribe", "-q", str(fifo), str(CLIP)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{fifo}: not a regular file (a pipe or device); give an audio file"
    ]
    assert done.stdout == f"{CLIP}\tthree\n"


def test_directory_named_like_audio_and_empty_folder_exit_1(tmp_path, capsys):
    (tmp_path / "x.wav").mkdir()
    (tmp_path / "empty").mkdir()
    assert main(["transcribe", "-q", str(tmp_path / "x.wav"), str(tmp_path / "empty")]) == 1
    errors = _errors(capsys)
    assert len(errors) == 2
    assert errors[0].startswith(f"{tmp_path / 'x.wav'}: a folder with no audio files")
    assert errors[1].startswith(f"{tmp_path / 'empty'}: a folder with no audio files")


def test_output_dir_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    taken = tmp_path / "out.txt"
    taken.write_text("keep me")
    assert main(["transcribe", "-q", "--output-dir", str(taken), str(CLIP)]) == 2
    assert _errors(capsys) == [f"asr transcribe: --output-dir {taken}: is a file, not a folder"]
    assert taken.read_text() == "keep me"


def _alone(path, capsys) -> str:
    """The shipped model's text for one file transcribed alone, as an output file holds it."""
    capsys.readouterr()
    assert main(["transcribe", "-q", str(path)]) == 0
    return capsys.readouterr().out.split("\t", 1)[1]


def test_same_names_in_two_folders_keep_their_folders(tmp_path, capsys):
    for folder, name in (("a", "3_theo_0"), ("b", "7_theo_2"), ("b/deep", "3_theo_0")):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(FSDD / "recordings" / f"{name}.wav", tmp_path / "in" / folder / "x.wav")
    out = tmp_path / "out"
    inputs = [str(tmp_path / "in" / "a" / "x.wav"), str(tmp_path / "in" / "b")]
    assert main(["transcribe", "-q", "--output-dir", str(out), *inputs]) == 0
    written = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*.txt")}
    alone = {
        name: _alone(FSDD / "recordings" / f"{name}.wav", capsys)
        for name in ("3_theo_0", "7_theo_2")
    }
    three, seven = alone["3_theo_0"], alone["7_theo_2"]
    assert written == {"a/x.txt": three, "b/x.txt": seven, "b/deep/x.txt": three}


def test_an_unwritable_output_is_one_line_and_the_others_are_written(tmp_path, capsys):
    for folder, name in (("a", "3_theo_0"), ("b", "7_theo_2")):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(FSDD / "recordings" / f"{name}.wav", tmp_path / "in" / folder / "x.wav")
    out = tmp_path / "out"
    (out / "a" / "x.txt").mkdir(parents=True)  # writing a's transcript there fails, even as root
    assert main(["transcribe", "-q", "--output-dir", str(out), str(tmp_path / "in")]) == 1
    assert _errors(capsys) == [
        f"{tmp_path / 'in' / 'a' / 'x.wav'}: cannot write {out / 'a' / 'x.txt'}: Is a directory"
    ]
    assert (out / "b" / "x.txt").read_text() == _alone(FSDD / "recordings" / "7_theo_2.wav", capsys)


def test_onnx_model_without_onnxruntime_names_it(tmp_path, short_wav):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read: the runtime is missing first")
    script = (  # None in sys.modules is how Python marks a module that cannot be imported
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from asr.cli import main\n"
        f"sys.exit(main(['transcribe', '-q', '--model', {str(model)!r}, {str(short_wav)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"asr: {model}: an .onnx model needs onnxruntime, which is not installed "
        "(pip install onnx onnxruntime; or give a .pt checkpoint)"
    ]


KENLM_BINARY = b"mmap lm http://kheafield.com/code format version 5\n\0\0\0\5\1\2\xff\xfe"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (KENLM_BINARY, "a KenLM binary language model, not a lexicon: give it as --lm"),
        (b"\n\\data\\\nngram 1=3\n", "an ARPA language model, not a lexicon: give it as --lm"),
        (bytes(range(256)), "binary data, not a lexicon"),
    ],
)
def test_language_model_given_as_lexicon_names_the_mixup(tmp_path, capsys, content, reason):
    lexicon = tmp_path / "digits.lex"
    lexicon.write_bytes(content)
    argv = ["transcribe", "-q", "--decoder", "beam", "--lexicon", str(lexicon), str(CLIP)]
    assert main(argv) == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and errors[0].startswith(f"asr: {lexicon}: {reason}")


def test_real_read_sentences_transcribe_at_16khz(capsys):
    """FLAC at 16 kHz through the 8 kHz default model: no error, a line per file."""
    manifest = TEST_DATA / "speechocean762" / "manifest.jsonl"
    assert main(["transcribe", "-q", str(manifest)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        str(u.audio_filepath) for u in read_manifest(manifest)
    ]
