from dataclasses import replace

import pytest
import torch

from asr.errors import AsrError
from asr.model import CELLS, CTCModel, ModelConfig, conv_output_lengths

TINY = ModelConfig(
    n_mels=40, vocab_size=12, conv_channels=(4, 4), conv_kernels=((5, 11), (5, 11)),
    lstm_hidden=16, lstm_layers=2, dropout=0.0,
)  # fmt: skip


@pytest.mark.parametrize("length", [1, 2, 7, 100, 101, 333])
def test_output_lengths_exact_for_odd_and_even(length):
    model = CTCModel(TINY).eval()
    log_probs, lengths = model(torch.randn(1, length, 40), torch.tensor([length]))
    assert (
        log_probs.shape[1]
        == int(lengths[0])
        == int(conv_output_lengths(torch.tensor([length]), TINY)[0])
    )
    assert int(lengths[0]) == (length + 1) // 2


def test_shapes_and_log_softmax():
    model = CTCModel(TINY).eval()
    log_probs, lengths = model(torch.randn(3, 50, 40), torch.tensor([50, 31, 9]))
    assert log_probs.shape == (3, 25, 12) and lengths.tolist() == [25, 16, 5]
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 25))


def test_padding_does_not_change_outputs():
    """Masked convs + packed LSTM: a file gives the same output alone or in a padded batch."""
    torch.manual_seed(0)
    model = CTCModel(TINY).eval()
    short = torch.randn(1, 37, 40)
    batch = torch.zeros(2, 80, 40)
    batch[0, :37] = short[0]
    batch[1] = torch.randn(80, 40)
    alone, n = model(short, torch.tensor([37]))
    together, lengths = model(batch, torch.tensor([37, 80]))
    torch.testing.assert_close(together[0, : int(n[0])], alone[0], atol=1e-5, rtol=1e-4)


def test_config_sizes_follow_from_config():
    config = ModelConfig()
    assert config.time_stride == 2
    assert config.conv_out_features == 32 * 20
    model = CTCModel(config)
    assert model.lstm.input_size == config.conv_out_features
    assert model.lstm.num_layers == 4 and model.head.out_features == 29


def test_backward_runs():
    model = CTCModel(TINY)
    log_probs, lengths = model(torch.randn(2, 30, 40), torch.tensor([30, 20]))
    log_probs.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


KINDS = [
    {"cell": "lstm"}, {"cell": "gru"}, {"cell": "rnn"},
    {"cell": "lstm", "bidirectional": False}, {"cell": "gru", "bidirectional": False},
    {"cell": "rnn", "bidirectional": False},
    {"cell": "gru", "bidirectional": False, "lookahead": 2},
]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: "-".join(map(str, k.values())))
def test_each_cell_and_direction_shapes_and_padding(kind):
    config = replace(TINY, **kind)
    torch.manual_seed(0)
    model = CTCModel(config).eval()
    assert isinstance(model.lstm, CELLS[kind["cell"]])
    assert model.head.in_features == config.directions * config.lstm_hidden
    batch = torch.randn(2, 50, 40)
    batch[1, 31:] = 0  # padding, as collate and Recognizer pad
    log_probs, lengths = model(batch, torch.tensor([50, 31]))
    assert log_probs.shape == (2, 25, 12) and lengths.tolist() == [25, 16]
    alone, _ = model(batch[1:, :31], torch.tensor([31]))
    torch.testing.assert_close(log_probs[1, :16], alone[0], atol=1e-5, rtol=1e-4)


def test_uni_model_output_ignores_the_future_beyond_its_lookahead():
    """Frame t of a uni model with lookahead L depends on no input past what the convs and the
    L future frames reach: changing the tail leaves earlier frames alone."""
    config = replace(TINY, cell="gru", bidirectional=False, lookahead=2)
    torch.manual_seed(0)
    model = CTCModel(config).eval()
    x = torch.randn(1, 60, 40)
    y = x.clone()
    y[0, 40:] = torch.randn(20, 40)
    a, _ = model(x, torch.tensor([60]))
    b, _ = model(y, torch.tensor([60]))
    # Input frame 40 reaches output frames >= (40 - 2 - 2*2) // 2 = 17 through the convs
    # ((5, _) kernels) and 2 more back through the lookahead.
    torch.testing.assert_close(a[0, :15], b[0, :15])
    assert not torch.allclose(a[0, 15:], b[0, 15:])


def test_bidirectional_lookahead_is_refused():
    with pytest.raises(AsrError, match="lookahead"):
        ModelConfig(lookahead=2)
    with pytest.raises(AsrError, match="cell"):
        ModelConfig(cell="transformer")
