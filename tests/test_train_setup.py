import dataclasses
from pathlib import Path

import pytest
import torch

from asr.checkpoint import Checkpoint
from asr.errors import AsrError
from asr.features import FeatureConfig
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary
from asr.train_setup import grown_head, warm_start

CONFIG = ModelConfig(n_mels=40, vocab_size=5, conv_channels=(4,), conv_kernels=((3, 5),),
                     conv_strides=((2, 2),), lstm_hidden=8, lstm_layers=1)  # fmt: skip


def _checkpoint() -> Checkpoint:
    torch.manual_seed(0)
    return Checkpoint(
        CONFIG, FeatureConfig(sample_rate=8000, n_mels=40), Vocabulary(("<b>", " ", "a", "b", "c")),
        torch.zeros(40), torch.ones(40), CTCModel(CONFIG).state_dict(),
    )  # fmt: skip


def test_fine_tuning_appends_new_characters_and_keeps_the_old_outputs():
    init = _checkpoint()
    vocab, config, weights = grown_head(init, ["ab cab", "yes", "cd"])
    assert vocab.symbols == ("<b>", " ", "a", "b", "c", "d", "e", "s", "y")
    assert config.vocab_size == 9 and weights["head.weight"].shape[0] == 9
    model = CTCModel(config)
    model.load_state_dict(weights)
    old = init.build_model()
    x, n = torch.randn(1, 20, 40), torch.tensor([20])
    # The old symbols' logits are the old model's: log-softmax differs only by a constant.
    new_logp, old_logp = model.eval()(x, n)[0][..., :5], old(x, n)[0]
    shift = (new_logp - old_logp)[..., :1]
    torch.testing.assert_close(new_logp - shift, old_logp)


def test_fine_tuning_on_text_it_can_spell_keeps_the_checkpoint_as_it_is():
    init = _checkpoint()
    vocab, config, weights = grown_head(init, ["abc", "c a b"])
    assert vocab == init.vocab and config == init.model_config and weights is init.state_dict


def test_a_warm_start_copies_the_named_modules_and_keeps_the_new_architecture():
    init = _checkpoint()  # bidirectional
    uni = dataclasses.replace(CONFIG, bidirectional=False, lookahead=1)
    torch.manual_seed(1)
    fresh = CTCModel(uni).state_dict()
    names = ["frontend", "lstm.weight_ih_l0", "lstm.weight_hh_l0"]
    copied = warm_start(init, fresh, names, Path("init.pt"))
    assert set(copied) == {k for k in fresh if k.startswith("frontend.")} | set(names[1:])
    for key, tensor in copied.items():
        assert torch.equal(tensor, init.state_dict[key])
    CTCModel(uni).load_state_dict(fresh | copied)


def test_a_warm_start_names_the_parameter_that_does_not_fit():
    init = _checkpoint()
    wider = CTCModel(dataclasses.replace(CONFIG, lstm_hidden=16)).state_dict()
    with pytest.raises(AsrError, match=r"init.pt: cannot initialise lstm.weight_hh_l0 \(64, 16\)"):
        warm_start(init, wider, ["lstm.weight_hh_l0"], Path("init.pt"))
    with pytest.raises(AsrError, match="no parameters under 'encoder'"):
        warm_start(init, wider, ["encoder"], Path("init.pt"))


def test_a_warm_start_grows_the_lookahead_and_first_computes_what_init_did():
    """A uni model given more future frames starts from init's function: the new taps are 0."""
    short = dataclasses.replace(CONFIG, bidirectional=False, lookahead=2)
    torch.manual_seed(2)
    init = dataclasses.replace(_checkpoint(), model_config=short,
                               state_dict=CTCModel(short).state_dict())  # fmt: skip
    longer = dataclasses.replace(short, lookahead=6)
    fresh = CTCModel(longer).state_dict()
    names = ["frontend", "lstm", "lookahead", "head"]
    grown = CTCModel(longer).eval()
    grown.load_state_dict(fresh | warm_start(init, fresh, names, Path("init.pt")))
    taps = grown.lookahead.conv.weight  # (hidden, 1, 7)
    assert taps.shape[-1] == 7 and not taps[..., 3:].any()
    x, n = torch.randn(1, 30, 40), torch.tensor([30])
    torch.testing.assert_close(grown(x, n)[0], init.build_model()(x, n)[0])
