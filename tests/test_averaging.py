import csv
import dataclasses
import logging

import pytest
import torch

from asr.averaging import average_weights, epoch_path, keep_best
from asr.checkpoint import load_checkpoint
from asr.errors import AsrError
from asr.train import configs_from_toml, train

from conftest import fsdd_sample


def test_keep_best_keeps_the_n_lowest_scores_best_first():
    kept = []
    for epoch, score in enumerate([(0.5, 2.0), (0.3, 1.0), (0.3, 0.9), (0.6, 0.1)], start=1):
        kept = keep_best(kept, score, epoch, 2)
    assert kept == [(0.3, 0.9, 3), (0.3, 1.0, 2)]  # WER first, then loss
    assert keep_best([(0.3, 1.0, 2)], (0.3, 1.0, 5), 5, 1) == [(0.3, 1.0, 2)]  # a tie: earlier


def test_average_weights_is_the_mean_and_keeps_integer_buffers_of_the_first():
    a = {"w": torch.tensor([1.0, 2.0]), "bn.num_batches_tracked": torch.tensor(7)}
    b = {"w": torch.tensor([3.0, 6.0]), "bn.num_batches_tracked": torch.tensor(9)}
    mean = average_weights([a, b])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0]))
    assert mean["bn.num_batches_tracked"].item() == 7
    with pytest.raises(ValueError):
        average_weights([])


def test_training_keeps_the_best_epochs_and_averages_them(fsdd, tiny_config, tmp_path, caplog):
    """Only the kept epochs' files stay; average.pt is their mean; best.pt is the average
    exactly when the log says it scored better on dev."""
    manifest = fsdd_sample(fsdd, tmp_path / "train.jsonl", 12, {"jackson"})
    out = tmp_path / "exp"
    config, model, features = configs_from_toml(
        tiny_config, train_manifest=manifest, dev_manifest=manifest, out_dir=out, epochs=4,
        patience=9, average_best=2,
    )  # fmt: skip
    model = dataclasses.replace(model, conv_channels=(8, 8), lstm_hidden=32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with caplog.at_level(logging.INFO, logger="asr.train"):
            train(config, model, features)
    finally:
        torch.set_num_threads(threads)
    kept = load_checkpoint(out / "last.pt").resume["progress"]["kept"]
    wers = {int(r["epoch"]): float(r["dev_wer"]) for r in csv.DictReader((out / "log.csv").open())}
    others = [wer for epoch, wer in wers.items() if epoch not in {e for *_, e in kept}]
    assert len(kept) == 2 and len(others) == 2 and max(k[0] for k in kept) <= min(others)
    assert sorted(p.name for p in out.glob("epoch-*.pt")) == sorted(
        epoch_path(out, e).name for *_, e in kept
    )
    average = load_checkpoint(out / "average.pt")
    assert average.metadata["averaged_epochs"] == [e for *_, e in kept]
    files = [load_checkpoint(epoch_path(out, e)).state_dict for *_, e in kept]
    for name, weight in average.state_dict.items():
        if weight.is_floating_point():
            assert torch.allclose(weight, (files[0][name] + files[1][name]) / 2), name
    best = load_checkpoint(out / "best.pt")
    chosen = "best.pt is the average" in caplog.text
    assert chosen or "not better" in caplog.text
    assert ("averaged_epochs" in best.metadata) == chosen


def test_a_negative_average_best_is_refused(tmp_path):
    with pytest.raises(AsrError, match="average_best"):
        configs_from_toml(None, train_manifest=tmp_path, out_dir=tmp_path, average_best=-1)


def test_a_run_finished_without_averaging_is_left_as_it_is(fsdd, tiny_config, tmp_path, caplog):
    manifest = fsdd_sample(fsdd, tmp_path / "train.jsonl", 4, {"jackson"})
    config, model, features = configs_from_toml(
        tiny_config, train_manifest=manifest, dev_manifest=manifest, out_dir=tmp_path, epochs=1
    )
    model = dataclasses.replace(model, conv_channels=(8, 8), lstm_hidden=32)
    train(config, model, features)
    with caplog.at_level(logging.WARNING, logger="asr.train"):
        train(dataclasses.replace(config, average_best=2), model, features)
    assert "holds no kept epochs" in caplog.text and not (tmp_path / "average.pt").exists()
