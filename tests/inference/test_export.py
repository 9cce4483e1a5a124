"""ONNX export: one graph from waves, run without torch, gives PyTorch's transcripts, also for
batches of mixed lengths, and the shipped model's confidences and rejections."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from asr.checkpoint import load_checkpoint  # noqa: E402
from asr.errors import AsrError  # noqa: E402
from asr.inference.export import export_onnx  # noqa: E402
from asr.inference.onnx_recognizer import OnnxRecognizer  # noqa: E402
from asr.inference.recognizer import Recognizer  # noqa: E402
from asr.inference.shipped import DEFAULT_MODEL  # noqa: E402

from conftest import ROOT  # noqa: E402


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    exp, manifest = trained
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_onnx(load_checkpoint(exp / "best.pt"), out), exp / "best.pt", manifest


def _paths(manifest):
    return [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()]


def test_onnx_transcripts_equal_pytorch_on_real_recordings(exported):
    onnx, checkpoint, manifest = exported
    paths = _paths(manifest)
    expected = [t.text for t in Recognizer.load(checkpoint).transcribe(paths)]
    # Several batches of mixed lengths: the LSTM's sequence_lens must stop each utterance.
    got = [t.text for t in OnnxRecognizer.load(onnx).transcribe(paths, batch_seconds=5.0)]
    assert got == expected
    assert sum(bool(text) for text in expected) == len(paths)


def test_shipped_model_exported_keeps_texts_confidences_and_word_times(tmp_path):
    onnx = export_onnx(load_checkpoint(DEFAULT_MODEL), tmp_path / "default.onnx")
    paths = sorted((ROOT / "data" / "samples").glob("*.wav"))
    torch_side = list(Recognizer.load(DEFAULT_MODEL).transcribe(paths, words=True))
    onnx_side = list(OnnxRecognizer.load(onnx).transcribe(paths, words=True))
    assert [t.text for t in onnx_side] == [t.text for t in torch_side]
    assert [t.rejected for t in onnx_side] == [t.rejected for t in torch_side]
    assert all(t.confidence is not None for t in onnx_side)
    # onnxruntime's LSTM uses its own tanh/sigmoid approximations: close, not bit-equal.
    for ours, theirs in zip(onnx_side, torch_side, strict=True):
        assert ours.confidence == pytest.approx(theirs.confidence, abs=0.02)
        assert [w.word for w in ours.words] == [w.word for w in theirs.words]
        for a, b in zip(ours.words, theirs.words, strict=True):
            assert abs(a.start - b.start) <= 0.05 and abs(a.end - b.end) <= 0.05


def test_padded_batch_gives_each_utterance_its_own_log_probs(exported):
    onnx, checkpoint, manifest = exported
    recognizer = OnnxRecognizer.load(onnx)
    from asr.audio import load_samples

    waves = [load_samples(p, recognizer.features.sample_rate) for p in _paths(manifest)[:4]]
    assert len({len(w) for w in waves}) > 1
    batch, lengths = recognizer.log_probs(waves)
    torch_recognizer = Recognizer.load(checkpoint)
    for wave, log_probs, n in zip(waves, batch, lengths, strict=True):
        alone, alone_lengths = recognizer.log_probs([wave])
        assert int(alone_lengths[0]) == int(n)
        np.testing.assert_allclose(log_probs[:n], alone[0], atol=1e-4)
        torch_log_probs, _ = torch_recognizer.log_probs([wave])
        np.testing.assert_allclose(alone[0], torch_log_probs[0].numpy(), atol=0.1)


def test_exported_file_carries_the_checkpoint_settings(exported):
    onnx, checkpoint, _ = exported
    original, loaded = Recognizer.load(checkpoint), OnnxRecognizer.load(onnx)
    assert loaded.features == original.features
    assert loaded.vocab == original.vocab
    assert loaded.decoding == original.decoding
    assert loaded.frame_shift == pytest.approx(original.frame_shift)


def test_onnx_transcribe_never_loads_torch(exported):
    onnx, _, manifest = exported
    probe = (
        "import sys; from asr.cli.main import main; "
        f"code = main(['transcribe', {_paths(manifest)[0]!r}, '--model', {str(onnx)!r}, '-q']); "
        "print(code, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr


def test_a_file_that_is_not_an_export_is_refused(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(AsrError, match="garbage.onnx: cannot read ONNX model"):
        OnnxRecognizer.load(garbage)
    with pytest.raises(AsrError, match="no such ONNX file"):
        OnnxRecognizer.load(tmp_path / "missing.onnx")


def test_a_speaker_normalised_model_is_not_exported(exported, tmp_path):
    _, checkpoint, _ = exported
    ckpt = load_checkpoint(checkpoint)
    features = replace(ckpt.feature_config, normalisation="speaker")
    with pytest.raises(AsrError, match="speaker means"):
        export_onnx(replace(ckpt, feature_config=features), tmp_path / "m.onnx")


def test_evaluate_runs_an_exported_model_and_records_it(exported, tmp_path):
    onnx, checkpoint, manifest = exported
    from asr.cli.main import main

    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(onnx), "--manifest", str(manifest),
                 "--output-dir", str(out), "-q"]) == 0  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    original = load_checkpoint(checkpoint)
    assert results["model"]["parameters"] == sum(
        p.numel() for p in original.build_model().parameters()
    )


def test_commands_that_need_the_checkpoint_refuse_an_export_in_one_line(exported):
    onnx, _, _ = exported
    with pytest.raises(AsrError, match="runs in `asr transcribe` and `asr evaluate` only"):
        Recognizer.load(onnx)


def test_int8_export_quantises_the_lstm_and_keeps_the_shipped_texts(tmp_path):
    """`asr export --precision int8`: LSTM nodes only (the features' matmul stays fp32), a
    smaller file that says so, and on the real sample recordings the fp32 export's texts."""
    import onnx

    ckpt = load_checkpoint(DEFAULT_MODEL)
    fp32 = export_onnx(ckpt, tmp_path / "fp32.onnx")
    int8 = export_onnx(ckpt, tmp_path / "int8.onnx", "int8")
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops and "MatMulInteger" not in ops
    assert int8.stat().st_size < 0.6 * fp32.stat().st_size
    assert sorted(p.name for p in tmp_path.glob("*.onnx*")) == ["fp32.onnx", "int8.onnx"]
    recognizer = OnnxRecognizer.load(int8)
    assert recognizer.identity()["precision"] == "int8"
    assert OnnxRecognizer.load(fp32).identity()["precision"] == "fp32"
    paths = sorted((ROOT / "data" / "samples").glob("*.wav"))
    expected = [t.text for t in OnnxRecognizer.load(fp32).transcribe(paths)]
    assert [t.text for t in recognizer.transcribe(paths)] == expected


def test_int8_export_of_another_cell_is_refused(exported, tmp_path):
    _, checkpoint, _ = exported
    ckpt = load_checkpoint(checkpoint)
    gru = replace(ckpt, model_config=replace(ckpt.model_config, cell="gru"))
    with pytest.raises(AsrError, match="int8 quantises LSTM layers"):
        export_onnx(gru, tmp_path / "m.onnx", "int8")
    assert not (tmp_path / "m.onnx").exists()


def test_an_export_brings_its_lm_and_lexicon_and_moves_whole(tmp_path):
    """The LM and lexicon are copied beside the export and named relative to it: its folder,
    moved, still decodes with them (the shipped model's word LM)."""
    ckpt = load_checkpoint(DEFAULT_MODEL)
    export_onnx(ckpt, tmp_path / "built" / "digits.onnx")
    moved = (tmp_path / "built").rename(tmp_path / "elsewhere")
    recognizer = OnnxRecognizer.load(moved / "digits.onnx")
    assert recognizer.decoding.lm == moved / "digits.words.arpa"
    assert recognizer.decoding.lexicon == moved / "digits.words.lex"
    assert recognizer.decoding.lm.read_bytes() == Path(ckpt.decoding.lm).read_bytes()
    assert replace(recognizer.decoding, lm=None, lexicon=None) == replace(
        ckpt.decoding, lm=None, lexicon=None
    )
    paths = sorted((ROOT / "data" / "samples").glob("*.wav"))
    expected = [t.text for t in Recognizer.load(DEFAULT_MODEL).transcribe(paths)]
    assert [t.text for t in recognizer.transcribe(paths)] == expected


def test_export_without_onnxruntime_says_so_in_one_line(exported, monkeypatch, tmp_path):
    _, checkpoint, _ = exported
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)
    with pytest.raises(AsrError, match="onnxruntime is not installed"):
        export_onnx(load_checkpoint(checkpoint), tmp_path / "m.onnx")
