"""`asr stream`: a file and stdin (raw PCM and WAV, read as they arrive) to JSON lines."""

import json
import subprocess
import sys
import threading
from dataclasses import replace

import pytest
import soundfile as sf

from asr.checkpoint import save_checkpoint
from tests.conftest import ROOT
from tests.inference.test_stream import SPEECH, UNI, random_recognizer

COMMAND = [sys.executable, "-m", "asr.cli", "stream", "-q", "--threads", "1"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A uni-directional GRU whose random best path follows the audio (events occur)."""
    path = tmp_path_factory.mktemp("stream") / "uni.pt"
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    save_checkpoint(path, recognizer.checkpoint)
    return path


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_file_and_raw_pcm_on_a_pipe_give_the_same_events(model, tmp_path):
    """stdin is read as it arrives: the first event comes out while stdin is still open."""
    done = subprocess.run(
        [*COMMAND, str(SPEECH), "--model", str(model)], cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from_file = _lines(done.stdout)
    assert from_file[-1]["type"] == "final" and any(e["type"] == "partial" for e in from_file)

    wave, rate = sf.read(SPEECH, dtype="int16")
    pcm = wave.astype("<i2").tobytes()
    proc = subprocess.Popen(
        [*COMMAND, "-", "--rate", str(rate), "--model", str(model)], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False,
    )  # fmt: skip
    proc.stdin.write(pcm)
    proc.stdin.flush()
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()))
    reader.start()
    reader.join(timeout=240)  # a deadlock guard: the line must come before stdin closes
    assert first and first[0], "no event while stdin was open"
    proc.stdin.close()
    rest, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert _lines((first[0] + rest).decode()) == from_file


def test_wav_on_stdin_and_txt_format_print_finals_only(model):
    done = subprocess.run(
        [*COMMAND, "-", "--format", "txt", "--model", str(model)], cwd=ROOT,
        input=SPEECH.read_bytes(), capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    texts = done.stdout.decode().splitlines()
    assert texts and all(t.strip() for t in texts)


def test_a_bidirectional_model_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "bi.pt"
    save_checkpoint(path, random_recognizer(replace(UNI, bidirectional=True)).checkpoint)
    done = subprocess.run(
        [*COMMAND, str(SPEECH), "--model", str(path)], cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "bidirectional model" in done.stderr


def test_rate_with_a_file_is_a_usage_error_exit_2(model):
    """Like argparse's own errors: the usage, then one error line, exit 2."""
    done = subprocess.run(
        [*COMMAND, str(SPEECH), "--rate", "8000", "--model", str(model)], cwd=ROOT,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: asr stream")
    assert done.stderr.splitlines()[-1].startswith("asr stream: error: --rate describes raw PCM")
