"""ONNX export: onnxruntime gives PyTorch's transcripts, also for batches of mixed lengths."""

import json

import pytest
import torch

pytest.importorskip("onnxruntime")

from asr.checkpoint import load_checkpoint  # noqa: E402
from asr.errors import AsrError  # noqa: E402
from asr.inference.export import export_onnx, load_onnx  # noqa: E402
from asr.inference.recognizer import Recognizer  # noqa: E402


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    exp, manifest = trained
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_onnx(load_checkpoint(exp / "best.pt"), out), exp / "best.pt", manifest


def test_onnx_transcripts_equal_pytorch_on_real_recordings(exported):
    onnx, checkpoint, manifest = exported
    paths = [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()]
    expected = [t.text for t in Recognizer.load(checkpoint).transcribe(paths)]
    # Several batches of mixed lengths: the LSTM's sequence_lens must stop each utterance.
    got = [t.text for t in Recognizer.load(onnx).transcribe(paths, batch_seconds=5.0)]
    assert got == expected
    assert sum(bool(text) for text in expected) == len(paths)


def test_padded_batch_gives_each_utterance_its_own_log_probs(exported):
    onnx, checkpoint, manifest = exported
    paths = [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()][:4]
    recognizer = Recognizer.load(onnx)
    from asr.audio import load_audio

    waves = [load_audio(p, recognizer.features.sample_rate) for p in paths]
    assert len({len(w) for w in waves}) > 1
    batch, lengths = recognizer.log_probs(waves)
    for wave, log_probs, n in zip(waves, batch, lengths, strict=True):
        alone, alone_lengths = recognizer.log_probs([wave])
        assert int(alone_lengths[0]) == int(n)
        assert torch.allclose(log_probs[:n], alone[0], atol=1e-4)
        torch_log_probs, _ = Recognizer.load(checkpoint).log_probs([wave])
        # onnxruntime's LSTM uses its own tanh/sigmoid approximations: close, not bit-equal.
        assert torch.allclose(alone[0], torch_log_probs[0], atol=0.1)


def test_exported_file_carries_the_checkpoint_without_weights(exported):
    onnx, checkpoint, _ = exported
    original = load_checkpoint(checkpoint)
    ckpt, model = load_onnx(onnx)
    assert ckpt.model_config == original.model_config
    assert ckpt.feature_config == original.feature_config
    assert ckpt.vocab == original.vocab
    assert torch.allclose(ckpt.mean, original.mean) and torch.allclose(ckpt.std, original.std)
    assert ckpt.state_dict == {}
    assert model.config == original.model_config


def test_a_file_that_is_not_an_export_is_refused(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(AsrError, match="garbage.onnx"):
        load_onnx(garbage)
    with pytest.raises(AsrError, match="no such ONNX file"):
        load_onnx(tmp_path / "missing.onnx")
