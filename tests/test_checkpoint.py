import dataclasses
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asr.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from asr.cli.main import main
from asr.decode_config import DecodeConfig
from asr.errors import AsrError
from asr.features import FeatureConfig
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary

CONFIG = ModelConfig(n_mels=40, vocab_size=5, conv_channels=(4,), conv_kernels=((3, 5),),
                     conv_strides=((2, 2),), lstm_hidden=8, lstm_layers=1)  # fmt: skip


REJECTION = {"scale": -2.0, "bias": 3.0, "threshold": 0.4, "words": ["a", "b"]}


def _checkpoint() -> Checkpoint:
    torch.manual_seed(0)
    return Checkpoint(
        CONFIG, FeatureConfig(sample_rate=8000, n_mels=40), Vocabulary(("<b>", " ", "a", "b", "c")),
        torch.randn(40), torch.rand(40) + 0.5, CTCModel(CONFIG).state_dict(),
        metadata={"epoch": 3}, decoding=DecodeConfig(method="beam", beam_size=8),
        rejection=REJECTION,
    )  # fmt: skip


def test_round_trip_rebuilds_the_same_model(tmp_path):
    ckpt = _checkpoint()
    save_checkpoint(tmp_path / "m.pt", ckpt)
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.model_config == CONFIG and loaded.feature_config == ckpt.feature_config
    assert loaded.vocab == ckpt.vocab and loaded.metadata == {"epoch": 3}
    assert loaded.decoding == DecodeConfig(method="beam", beam_size=8)
    assert loaded.rejection == REJECTION  # asr calibrate's threshold is read back, not dropped
    torch.testing.assert_close(loaded.mean, ckpt.mean)
    x, n = torch.randn(1, 20, 40), torch.tensor([20])
    torch.testing.assert_close(loaded.build_model()(x, n)[0], ckpt.build_model()(x, n)[0])


def test_a_running_prior_is_carried_and_required_where_the_features_use_one(tmp_path):
    features = FeatureConfig(sample_rate=8000, n_mels=40, normalisation="running", prior_ms=500)
    ckpt = replace(_checkpoint(), feature_config=features, prior=torch.randn(40))
    save_checkpoint(tmp_path / "m.pt", ckpt)
    normaliser = load_checkpoint(tmp_path / "m.pt").normaliser
    torch.testing.assert_close(normaliser.prior, ckpt.prior)
    assert normaliser.prior_frames == 50
    save_checkpoint(tmp_path / "none.pt", replace(ckpt, prior=None))
    with pytest.raises(AsrError, match="none.pt: inconsistent checkpoint: prior is not"):
        load_checkpoint(tmp_path / "none.pt")


def test_lm_paths_beside_a_checkpoint_survive_a_copy_made_from_a_relative_path(
    tmp_path, monkeypatch
):
    # A shipped model names its lexicon relative to its folder; loaded as shipped/m.pt from the
    # working directory and saved elsewhere (as fine-tuning does), it must still name that file.
    (tmp_path / "shipped").mkdir()
    (tmp_path / "shipped" / "words.lex").write_text("a a |\n")
    shipped = replace(_checkpoint(), decoding=DecodeConfig(method="beam", lexicon="words.lex"))
    save_checkpoint(tmp_path / "shipped" / "m.pt", shipped)
    monkeypatch.chdir(tmp_path)
    loaded = load_checkpoint(Path("shipped/m.pt"))
    save_checkpoint(tmp_path / "tuned" / "m.pt", loaded)
    copy = load_checkpoint(tmp_path / "tuned" / "m.pt")
    assert Path(copy.decoding.lexicon).resolve() == (tmp_path / "shipped" / "words.lex").resolve()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_round_trip_carries_cell_direction_and_lookahead(tmp_path, cell):
    config = replace(CONFIG, cell=cell, bidirectional=False, lookahead=1)
    torch.manual_seed(0)
    ckpt = replace(_checkpoint(), model_config=config, state_dict=CTCModel(config).state_dict())
    save_checkpoint(tmp_path / "m.pt", ckpt)
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.model_config == config
    x, n = torch.randn(1, 20, 40), torch.tensor([20])
    torch.testing.assert_close(loaded.build_model()(x, n)[0], ckpt.build_model()(x, n)[0])


def test_checkpoint_saved_before_cells_loads_as_a_bilstm(tmp_path):
    """A model config without cell/bidirectional/lookahead (every checkpoint before them)."""
    save_checkpoint(tmp_path / "m.pt", _checkpoint())
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    for key in ("cell", "bidirectional", "lookahead"):
        del payload["model_config"][key]
    torch.save(payload, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.model_config == CONFIG and CONFIG.cell == "lstm" and CONFIG.bidirectional
    loaded.build_model()  # the old state dict fits the network


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_checkpoint(path, _checkpoint())
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, _checkpoint())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_malicious_pickle_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": "asr-checkpoint/1", "payload": _Exploit()}, path)
    with pytest.raises(AsrError, match="refused"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"hello")
    with pytest.raises(AsrError, match=str(junk)):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(AsrError, match="not an asr checkpoint"):
        load_checkpoint(other)
    with pytest.raises(AsrError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.pt")


def _save_broken(path, **changes) -> None:
    """A checkpoint file whose payload has `changes` (None deletes the key)."""
    save_checkpoint(path, _checkpoint())
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, path)


def _other_weights() -> dict:
    return CTCModel(dataclasses.replace(CONFIG, lstm_hidden=16)).state_dict()


BROKEN = {
    "zero-byte": (lambda p: p.write_bytes(b""), "empty file"),
    "text": (lambda p: p.write_text("hello world\n"), "not a checkpoint"),
    "no weights": (lambda p: _save_broken(p, state_dict=None), "no state_dict"),
    "no configs": (
        lambda p: _save_broken(p, model_config=None, vocab=None),
        "no model_config, vocab",
    ),
    "bad config": (lambda p: _save_broken(p, model_config="big"), "malformed checkpoint"),
    "shapes": (
        lambda p: _save_broken(p, state_dict=_other_weights()),
        r"lstm.weight_ih_l0 has shape \(64, 80\)",
    ),
    "vocabulary": (lambda p: _save_broken(p, vocab=["<b>", " ", "a"]), "3 vocabulary symbols"),
    "statistics": (lambda p: _save_broken(p, mean=torch.zeros(80)), r"mean is not a \(40,\)"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_checkpoints_name_file_and_problem(tmp_path, case):
    write, reason = BROKEN[case]
    path = tmp_path / "model.pt"
    write(path)
    with pytest.raises(AsrError, match=reason) as caught:
        load_checkpoint(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_broken_checkpoint_is_one_line_and_exit_1(tmp_path, sine_wav, capsys):
    path = tmp_path / "model.pt"
    _save_broken(path, state_dict=_other_weights())
    assert main(["transcribe", "-q", "--model", str(path), str(sine_wav)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: inconsistent checkpoint" in err
