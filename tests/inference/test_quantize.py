"""int8 and batch-norm folding: same transcripts as fp32 on real recordings."""

import json

import pytest
import torch

from asr.errors import AsrError
from asr.inference.quantize import fold_batchnorm, for_inference
from asr.inference.recognizer import Recognizer
from asr.model import CTCModel, ModelConfig

TINY = ModelConfig(
    n_mels=16, vocab_size=5, conv_channels=(4, 4), conv_kernels=((3, 5), (3, 5)),
    lstm_hidden=8, lstm_layers=1, dropout=0.0,
)  # fmt: skip


def _trained_batchnorm(model: CTCModel) -> CTCModel:
    """Non-trivial running statistics, as after training (fresh ones are the identity)."""
    generator = torch.Generator().manual_seed(0)
    for layer in model.frontend.layers:
        norm = layer[1]
        norm.running_mean.uniform_(-1, 1, generator=generator)
        norm.running_var.uniform_(0.5, 2, generator=generator)
        norm.weight.data.uniform_(0.5, 2, generator=generator)
        norm.bias.data.uniform_(-1, 1, generator=generator)
    return model.eval()


def test_folding_batchnorm_keeps_log_probs():
    torch.manual_seed(0)
    model = _trained_batchnorm(CTCModel(TINY))
    feats, lengths = torch.randn(3, 40, 16), torch.tensor([40, 31, 9])
    with torch.inference_mode():
        expected, expected_lengths = model(feats, lengths)
        folded, folded_lengths = fold_batchnorm(model)(feats, lengths)
    assert torch.equal(folded_lengths, expected_lengths)
    assert torch.allclose(folded, expected, atol=1e-5)
    assert all(
        isinstance(layer[1], torch.nn.Identity) for layer in fold_batchnorm(model).frontend.layers
    )


def test_int8_replaces_lstm_and_head_with_quantised_modules():
    model = for_inference(CTCModel(TINY), "int8")
    assert isinstance(model.lstm, torch.ao.nn.quantized.dynamic.LSTM)
    assert isinstance(model.head, torch.ao.nn.quantized.dynamic.Linear)
    assert isinstance(CTCModel(TINY).lstm, torch.nn.LSTM)  # the original is left as it was


def test_unknown_precision_is_refused():
    with pytest.raises(AsrError, match="precision 'fp16'"):
        for_inference(CTCModel(TINY), "fp16")


def test_int8_transcripts_equal_fp32_on_real_recordings(trained):
    exp, manifest = trained
    paths = [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()]
    fp32 = Recognizer.load(exp / "best.pt")
    int8 = Recognizer.load(exp / "best.pt", precision="int8")
    expected = [t.text for t in fp32.transcribe(paths)]
    assert [t.text for t in int8.transcribe(paths)] == expected
    assert sum(bool(text) for text in expected) == len(paths)  # the model really says words
