"""Fast start: help and usage errors never import torch; export and --precision are wired."""

import subprocess
import sys

import pytest

from asr.cli import main

PROBE = """
import sys
from asr.cli import main
try:
    main({argv!r})
except SystemExit as done:
    code = done.code
print(code, "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    "argv, code", [(["--help"], 0), (["transcribe", "--help"], 0), (["transcribe"], 2)]
)
def test_help_and_usage_errors_do_not_import_torch(argv, code):
    probe = PROBE.format(argv=argv)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.split()[-2:] == [str(code), "False"]


def test_export_then_transcribe_with_the_onnx_file(trained, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    exp, manifest = trained
    clip = manifest.read_text().splitlines()[0].split('"audio_filepath": "')[1].split('"')[0]
    out = tmp_path / "model.onnx"
    assert main(["export", "--model", str(exp / "best.pt"), "--output", str(out), "-q"]) == 0
    assert out.is_file()
    capsys.readouterr()
    assert main(["transcribe", clip, "--model", str(exp / "best.pt"), "--precision", "int8"]) == 0
    int8 = capsys.readouterr().out
    assert main(["transcribe", clip, "--model", str(out), "-q"]) == 0
    assert capsys.readouterr().out == int8 and int8.strip()


def test_unknown_precision_is_a_usage_error():
    with pytest.raises(SystemExit) as done:
        main(["transcribe", "x.wav", "--precision", "fp16"])
    assert done.value.code == 2
