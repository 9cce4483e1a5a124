"""A torch/torchaudio pair that cannot load is one line naming both versions, not a traceback."""

import os
import subprocess
import sys
from importlib.metadata import version

from conftest import ROOT


def test_mismatched_torchaudio_is_one_line(tmp_path):
    # What a torchaudio built for another torch does at import (seen with torchaudio 2.11.1 on
    # torch 2.11.0): its extension library fails to load with an undefined symbol.
    fake = tmp_path / "torchaudio"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise OSError('Could not load this library: libtorchaudio.so: undefined symbol: "
        "torch_exception_get_what_without_backtrace')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    wav = ROOT / "data" / "samples"
    command = [sys.executable, "-m", "asr.cli", "transcribe", str(wav)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"torch {version('torch')}" in lines[0]
    assert f"torchaudio {version('torchaudio')}" in lines[0]
    assert "pip install torch==" in lines[0] and "Traceback" not in done.stderr
