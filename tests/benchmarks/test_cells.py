"""benchmarks.cells: comparable sizes, and the gradient reach of trained checkpoints."""

from dataclasses import replace

import torch

from asr.checkpoint import Checkpoint, save_checkpoint
from asr.features import FeatureConfig
from asr.model import CTCModel
from asr.text import Vocabulary
from benchmarks.cells import BASE, comparable, gradient_reach, params, trained_reach


def test_each_cell_is_sized_to_the_uni_lstms_parameter_count():
    target = params(BASE)
    for cell, bidirectional in (("rnn", True), ("gru", False)):
        config = comparable(cell, bidirectional, target)
        assert abs(params(config) - target) < 0.04 * target  # hidden sizes step by 8
        assert config.lookahead == (0 if bidirectional else BASE.lookahead)


def test_trained_reach_reads_every_cells_best_checkpoint(tmp_path):
    small = replace(BASE, conv_channels=(4, 4), lstm_hidden=16, vocab_size=5)
    vocab = Vocabulary(("<b>", " ", "a", "b", "c"))
    for name, cell in (("rnn-uni", "rnn"), ("gru-bi", "gru")):
        bi = name.endswith("bi")
        config = replace(small, cell=cell, bidirectional=bi, lookahead=0 if bi else 2)
        torch.manual_seed(0)
        model = CTCModel(config)
        ckpt = Checkpoint(
            config, FeatureConfig(sample_rate=8000, n_mels=40), vocab, torch.zeros(40),
            torch.ones(40), model.state_dict(),
        )  # fmt: skip
        (tmp_path / name / "model").mkdir(parents=True)
        save_checkpoint(tmp_path / name / "model" / "best.pt", ckpt)
    reach = trained_reach(tmp_path)
    assert set(reach) == {"rnn-uni", "gru-bi"}
    torch.manual_seed(0)
    model = CTCModel(replace(small, cell="rnn", bidirectional=False)).eval()
    assert reach["rnn-uni"] == float(f"{gradient_reach(model):.2e}")
