import csv
import json
import os
import subprocess
import sys

import pytest
import torch

import asr.train
from asr.checkpoint import load_checkpoint
from asr.data import DurationBatchSampler
from asr.evaluation.evaluate import evaluate
from asr.inference.recognizer import Recognizer
from asr.manifest import read_manifest
from asr.train import configs_from_toml, train

from conftest import ROOT, fsdd_sample


def test_end_to_end_on_real_recordings(trained, tmp_path):
    """Loss falls and the training utterances decode with WER under 0.3."""
    exp, manifest = trained
    rows = list(csv.DictReader((exp / "log.csv").open()))
    losses = [float(r["train_loss"]) for r in rows]
    assert len(rows) == 70 and losses[-1] < losses[0] / 5
    results = evaluate(Recognizer.load(exp / "best.pt"), manifest, tmp_path / "eval")
    assert results["num_utterances"] == 40
    assert results["wer"] < 0.3, results["wer"]
    assert (tmp_path / "eval" / "results.json").is_file()


def _small_run(fsdd, tiny_config, tmp_path, out: str, epochs: int = 3):
    manifest = fsdd_sample(fsdd, tmp_path / "small.jsonl", 16, {"jackson"})
    train_config, model_config, features = configs_from_toml(
        tiny_config, train_manifest=manifest, dev_manifest=manifest, out_dir=tmp_path / out,
        epochs=epochs,
    )  # fmt: skip
    return train_config, model_config.__class__(**{**vars(model_config), "dropout": 0.2}), features


def test_interrupted_run_resumes_where_uninterrupted_one_ends(
    fsdd, tiny_config, tmp_path, monkeypatch
):
    straight = _small_run(fsdd, tiny_config, tmp_path, "straight")
    train(*straight)

    resumed = _small_run(fsdd, tiny_config, tmp_path, "resumed")
    real_step, calls = asr.train._train_step, []

    def interrupt_on_seventh(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:  # mid-epoch: Ctrl-C arrives during training
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(asr.train, "_train_step", interrupt_on_seventh)
    with pytest.raises(KeyboardInterrupt):
        train(*resumed)
    saved = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert saved.resume["progress"]["step"] == 6  # saved before exiting
    monkeypatch.setattr(asr.train, "_train_step", real_step)
    train(*resumed)

    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a.resume["progress"] == b.resume["progress"]
    for name, tensor in a.state_dict.items():
        torch.testing.assert_close(b.state_dict[name], tensor, atol=1e-4, rtol=1e-3)


# Run under torchrun: the real `asr train`, with each rank's training steps recorded, so the
# test sees which utterances every rank trained on.
RANK_SPY = """
import json, os, sys
import asr.train
from asr.cli import main

real_step, seen = asr.train._train_step, []

def recording_step(model, batch, *args, **kwargs):
    seen.append(batch.indices)
    return real_step(model, batch, *args, **kwargs)

asr.train._train_step = recording_step
code = main(sys.argv[2:])
with open(os.path.join(sys.argv[1], "rank%s.json" % os.environ["RANK"]), "w") as f:
    json.dump(seen, f)
sys.exit(code)
"""


def test_torchrun_two_cpu_processes(fsdd, tiny_config, tmp_path):
    manifest = fsdd_sample(fsdd, tmp_path / "ddp.jsonl", 16, {"nicolas"})
    spy = tmp_path / "rank_spy.py"
    spy.write_text(RANK_SPY)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(spy), str(tmp_path), "train", "--config", str(tiny_config), "--train", str(manifest),
        "--dev", str(manifest), "--output-dir", str(tmp_path / "ddp"), "--epochs", "2",
        "--threads", "1",
    ]  # fmt: skip
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "ddp" / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]  # rank 0 alone writes the log
    assert load_checkpoint(tmp_path / "ddp" / "best.pt").metadata["epoch"] >= 1
    # Each epoch, the ranks split what one process would train on: each takes every other of
    # its batches, disjoint, as many steps each (a last odd batch is left out).
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    config = configs_from_toml(
        tiny_config, train_manifest=manifest, dev_manifest=manifest, out_dir=tmp_path / "ddp"
    )[0]
    durations = [u.duration for u in read_manifest(manifest)]
    single = DurationBatchSampler(durations, config.batch_seconds, True, config.seed)
    start = 0
    for epoch, row in enumerate(rows):
        single.set_epoch(epoch)
        batches = list(single)
        steps = len(batches) // 2
        assert int(row["step"]) - start == steps > 0  # rank 0's steps this epoch
        shares = [sum(rank[start : start + steps], []) for rank in ranks]
        assert not set(shares[0]) & set(shares[1])
        assert sorted(shares[0] + shares[1]) == sorted(sum(batches[: 2 * steps], []))
        start += steps
    assert [len(rank) for rank in ranks] == [start, start]
