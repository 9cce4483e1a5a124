import csv
import dataclasses
import json
import logging
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from asr.checkpoint import load_checkpoint
from asr.data import DurationBatchSampler
from asr.errors import AsrError
from asr.evaluation.evaluate import evaluate
from asr.inference.recognizer import Recognizer
from asr.manifest import read_manifest
from asr.train import configs_from_toml, train

from conftest import ROOT, fsdd_sample

# Smaller than the conftest model: these tests train it a dozen times, a second each.
SMALL_MODEL = {"conv_channels": (8, 8), "lstm_hidden": 32, "dropout": 0.2}


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


def _train_two_ranks(script: str, tmp_path: Path, config: Path, manifest: Path, epochs: int,
                     timeout: int) -> None:  # fmt: skip
    """`asr train` under torchrun, 2 CPU processes, through `script` (given tmp_path, then the
    command line); its output folder is tmp_path/ddp."""
    runner = tmp_path / "runner.py"
    runner.write_text(script)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(runner), str(tmp_path), "train", "--config", str(config), "--train", str(manifest),
        "--dev", str(manifest), "--output-dir", str(tmp_path / "ddp"), "--epochs", str(epochs),
        "--threads", "1",
    ]  # fmt: skip
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_torchrun_two_cpu_processes(fsdd, tiny_config, tmp_path):
    manifest = fsdd_sample(fsdd, tmp_path / "ddp.jsonl", 16, {"nicolas"})
    _train_two_ranks(RANK_SPY, tmp_path, tiny_config, manifest, epochs=2, timeout=300)
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


# Rank 1's dev figures never improve, rank 0's always do: alone, rank 1 would early-stop after
# its second epoch, and rank 0 go on to a third without it (on the recipe's data, a hang).
DIVERGING_DEV = """
import os, sys
import asr.train
from asr.cli import main

epochs = []

def validate(*args):
    epochs.append(1)
    return (1.0, 1.0) if os.environ["RANK"] == "1" else (1 / len(epochs), 1 / len(epochs))

asr.train._validate = validate
code = main(sys.argv[2:])
with open(os.path.join(sys.argv[1], "rank%s.epochs" % os.environ["RANK"]), "w") as f:
    f.write(str(len(epochs)))
sys.exit(code)
"""


def test_every_rank_stops_on_rank_0s_dev_figures(fsdd, tiny_config, tmp_path):
    manifest = fsdd_sample(fsdd, tmp_path / "ddp.jsonl", 8, {"nicolas"})
    config = tmp_path / "patient.toml"
    config.write_text(tiny_config.read_text().replace("patience = 100", "patience = 1"))
    _train_two_ranks(DIVERGING_DEV, tmp_path, config, manifest, epochs=3, timeout=240)
    rows = list(csv.DictReader((tmp_path / "ddp" / "log.csv").open()))
    assert [r["dev_wer"] for r in rows] == ["1", "0.5", "0.333333"]  # rank 0's figures
    assert [(tmp_path / f"rank{r}.epochs").read_text() for r in (0, 1)] == ["3", "3"]


@pytest.fixture
def one_thread():
    """On a busy machine, idle-spinning extra threads make a tiny model several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _configs(tiny_config, manifest: Path, out: Path, **train_values):
    train_config, model_config, features = configs_from_toml(
        tiny_config, train_manifest=manifest, dev_manifest=None, out_dir=out, **train_values
    )
    return train_config, dataclasses.replace(model_config, **SMALL_MODEL), features


def _sample(fsdd, path: Path, count: int = 16) -> Path:
    return fsdd_sample(fsdd, path, count, {"jackson"})


def _steps(out: Path) -> int:
    return load_checkpoint(out / "last.pt").resume["progress"]["step"]


def _assert_identical(a, b, where: str = "") -> None:
    """Bit for bit: tensors by torch.equal, containers item by item."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_identical(x, y, f"{where}/{i}")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def straight(fsdd, tiny_config, tmp_path_factory):
    """(configs, batches per epoch, last.pt) of two uninterrupted epochs: what every resumed run
    must equal."""
    root = tmp_path_factory.mktemp("straight")
    manifest = _sample(fsdd, root / "train.jsonl")
    # average_best: the kept epochs are part of what a resumed run must restore exactly
    configs = _configs(
        tiny_config, manifest, root / "exp", epochs=2, batch_seconds=2, average_best=2
    )
    configs = (dataclasses.replace(configs[0], dev_manifest=manifest), *configs[1:])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(*configs)
    finally:
        torch.set_num_threads(threads)
    per_epoch = len(DurationBatchSampler([u.duration for u in read_manifest(manifest)], 2))
    return configs, per_epoch, load_checkpoint(root / "exp" / "last.pt")


def _sigint_inside(where: str, step: int, times: int) -> list:
    """Global hooks that send this process SIGINT `times` times during training step `step`
    (1-based): in the first batch norm's forward (its statistics already updated), in the
    backward pass through it, just after the optimizer step (weights updated, the schedule and
    position not yet), or in the validation that follows the step."""
    first, seen, fired = [], [], []  # the first batch-norm module; its training forwards

    def interrupt(*args):
        if not fired:
            fired.append(True)
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)

    def forward_hook(module, args, output):
        if not isinstance(module, nn.BatchNorm2d):
            return
        if not first:
            first.append(module)
        if module is not first[0]:
            return
        if module.training:
            seen.append(module)
        if len(seen) != step or module.training != (where != "validation"):
            return
        if where in ("forward", "validation"):
            interrupt()
        elif where == "backward":
            args[0].register_hook(interrupt)  # fires once the gradient reaches the conv output

    def step_hook(optimizer, args, kwargs):
        if len(seen) == step and where == "step":
            interrupt()

    return [
        nn.modules.module.register_module_forward_hook(forward_hook),
        register_optimizer_step_post_hook(step_hook),
    ]


@pytest.mark.parametrize(
    "where, times",
    [("forward", 1), ("backward", 1), ("step", 1), ("validation", 1), ("forward", 2)],
)
def test_ctrl_c_anywhere_resumes_bit_for_bit(straight, where, times, tmp_path, one_thread):
    """Once: the step (or validation) finishes and is saved. Twice: training stops at once,
    unsaved, and the rerun resumes from the last save (here: the end of the first epoch)."""
    configs, per_epoch, expected = straight
    train_config = dataclasses.replace(configs[0], out_dir=tmp_path / "exp")
    assert per_epoch >= 3
    step = per_epoch if where == "validation" else per_epoch + 2  # second epoch, third batch
    hooks = _sigint_inside(where, step, times)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(train_config, *configs[1:])
    finally:
        for hook in hooks:
            hook.remove()
    assert _steps(tmp_path / "exp") == (step if times == 1 else per_epoch)
    train(train_config, *configs[1:])
    resumed = load_checkpoint(tmp_path / "exp" / "last.pt")
    _assert_identical(resumed.state_dict, expected.state_dict, "weights")  # batch-norm buffers too
    _assert_identical(resumed.resume, expected.resume, "resume")  # optimizer, schedule, RNG


def test_resuming_with_another_model_or_features_is_refused(
    fsdd, tiny_config, tmp_path, one_thread
):
    configs = _configs(
        tiny_config, _sample(fsdd, tmp_path / "train.jsonl", 8), tmp_path / "exp", epochs=1
    )
    train(*configs)
    other_model = dataclasses.replace(configs[1], lstm_hidden=48)
    other_features = dataclasses.replace(configs[2], n_mels=32)
    with pytest.raises(AsrError) as refused:
        train(configs[0], other_model, other_features)
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'exp' / 'last.pt'}: ")
    assert "[model] lstm_hidden = 48, saved 32; [features] n_mels = 32, saved 40" in message
    train(dataclasses.replace(configs[0], epochs=2), *configs[1:])  # the same configs resume
    assert len(list(csv.DictReader((tmp_path / "exp" / "log.csv").open()))) == 2


def test_a_warm_start_keeps_its_own_architecture_and_features(straight, tmp_path, one_thread):
    """A uni-directional, running-mean model started from the offline model's front end."""
    configs = straight[0]
    init = configs[0].out_dir / "best.pt"
    offline = load_checkpoint(init)
    train_config = dataclasses.replace(
        configs[0], out_dir=tmp_path / "exp", epochs=1, lr=0.0, init_from=init,
        init_modules=("frontend", "lstm.weight_ih_l0"),
    )  # fmt: skip
    model = dataclasses.replace(configs[1], bidirectional=False, lookahead=2)
    features = dataclasses.replace(configs[2], normalisation="running")
    train(train_config, model, features)
    ckpt = load_checkpoint(tmp_path / "exp" / "last.pt")
    assert not ckpt.model_config.bidirectional and ckpt.model_config.lookahead == 2
    assert ckpt.feature_config.normalisation == "running"
    for key in ("frontend.layers.0.0.weight", "lstm.weight_ih_l0"):  # lr 0: as copied
        assert torch.equal(ckpt.state_dict[key], offline.state_dict[key]), key
    fresh = ckpt.state_dict["lstm.weight_hh_l0"]  # not named: newly initialised
    assert not torch.equal(fresh, offline.state_dict["lstm.weight_hh_l0"])


def test_missing_durations_are_read_so_batches_keep_their_size(
    fsdd, tiny_config, tmp_path, one_thread
):
    given = _sample(fsdd, tmp_path / "given.jsonl")
    entries = [json.loads(line) for line in given.read_text().splitlines()]
    durations = [e.pop("duration") for e in entries]
    missing = tmp_path / "missing.jsonl"
    missing.write_text("".join(json.dumps(e) + "\n" for e in entries))
    train(*_configs(tiny_config, missing, tmp_path / "exp", epochs=1, batch_seconds=2))
    batches = len(DurationBatchSampler(durations, 2))
    assert batches > 1 and _steps(tmp_path / "exp") == batches  # not all in one batch


def test_overlong_utterances_are_reported_and_skipped(
    fsdd, tiny_config, tmp_path, caplog, one_thread
):
    manifest = _sample(fsdd, tmp_path / "train.jsonl", 8)
    short = read_manifest(manifest)
    long = tmp_path / "long.wav"  # 12 s of speech among clips under a second
    wave = np.concatenate([sf.read(u.audio_filepath)[0] for u in short] * 8)[: 12 * 8000]
    sf.write(long, wave, 8000)
    with manifest.open("a") as f:
        f.write(json.dumps({"audio_filepath": str(long), "text": "zero"}) + "\n")
    with caplog.at_level(logging.WARNING, logger="asr.train"):
        train(*_configs(tiny_config, manifest, tmp_path / "exp", epochs=1, max_duration=5))
    assert (
        f"skipped 1 utterances longer than max_duration (5 s), e.g. {long} (12.0 s)" in caplog.text
    )
    assert _steps(tmp_path / "exp") == len(DurationBatchSampler([u.duration for u in short], 4))


def test_unusable_transcripts_are_reported_once_with_line_numbers(
    fsdd, tiny_config, tmp_path, caplog, one_thread
):
    manifest = _sample(fsdd, tmp_path / "train.jsonl", 12)
    lines = manifest.read_text().splitlines()
    for lineno in (3, 8):  # punctuation only: nothing to learn, nothing to say
        lines[lineno - 1] = lines[lineno - 1].replace(json.loads(lines[lineno - 1])["text"], "?!")
    manifest.write_text("\n".join(lines) + "\n")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(
        "\n".join([lines[0], lines[1].replace(json.loads(lines[1])["text"], "zebra")]) + "\n"
    )
    configs = _configs(tiny_config, manifest, tmp_path / "exp", epochs=1)
    with caplog.at_level(logging.WARNING):
        train(dataclasses.replace(configs[0], dev_manifest=dev), *configs[1:])
    (train_warning,) = [r.message for r in caplog.records if str(manifest) in r.message]
    assert "skipped 2: 2 empty text after normalisation (lines 3, 8; e.g. '?!')" in train_warning
    (dev_warning,) = [r.message for r in caplog.records if str(dev) in r.message]
    assert "skipped 1: 1 characters outside the vocabulary (line 2; e.g. 'ab')" in dev_warning


def test_a_full_disk_is_found_before_the_first_epoch(fsdd, tiny_config, tmp_path):
    """The file size limit (ulimit -f) stands in for a full disk: writes fail as they would."""
    manifest = _sample(fsdd, tmp_path / "train.jsonl", 8)
    config = tmp_path / "small.toml"
    config.write_text(tiny_config.read_text().replace("lstm_hidden = 128", "lstm_hidden = 32"))
    out = tmp_path / "exp"
    limit = 200_000  # bytes: log.csv fits, the checkpoints (about 1 MB) do not

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "asr.cli", "train", "--config", str(config), "-q",
               "--train", str(manifest), "--dev", str(manifest), "--out", str(out), "--epochs", "1",
               "--threads", "1"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=limit_file_size)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"asr: {out}: cannot write checkpoints here (File too large; "), last
    assert "Traceback" not in done.stderr
    assert list(out.iterdir()) == []  # no epoch ran, no probe left behind


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_a_read_only_output_folder_is_found_before_training(
    fsdd, tiny_config, tmp_path, one_thread
):
    out = Path("/sys/kernel")  # a folder no user can create files in, root included
    configs = _configs(tiny_config, _sample(fsdd, tmp_path / "train.jsonl", 8), out, epochs=1)
    with pytest.raises(
        AsrError, match=r"^/sys/kernel: cannot write checkpoints here \(Permission denied"
    ):
        train(*configs)


def test_a_killed_save_leaves_no_temporary_file_behind(fsdd, tiny_config, tmp_path, one_thread):
    out = tmp_path / "exp"
    configs = _configs(tiny_config, _sample(fsdd, tmp_path / "train.jsonl", 8), out, epochs=1)
    train(*configs)
    kill_mid_save = (  # SIGKILL, which no finally survives, once the bytes are written
        "import os, sys; from asr.checkpoint import load_checkpoint, save_checkpoint; "
        "ckpt = load_checkpoint(sys.argv[1]); os.fsync = lambda fd: os.kill(os.getpid(), 9); "
        "save_checkpoint(sys.argv[1], ckpt)"
    )
    done = subprocess.run(
        [sys.executable, "-c", kill_mid_save, str(out / "last.pt")], cwd=ROOT, timeout=120
    )
    assert done.returncode == -signal.SIGKILL
    (stale,) = out.glob(".*.tmp")
    assert stale.name.startswith(".last.pt.")
    live = out / f".best.pt.{os.getppid()}.tmp"  # a live process's save in progress
    live.write_bytes(b"partial")
    train(dataclasses.replace(configs[0], epochs=2), *configs[1:])
    assert list(out.glob(".*.tmp")) == [live]


# `asr train` whose first batch norm sends SIGINT to the whole process group, as a terminal's
# Ctrl-C does, during training step sys.argv[1]: the data loader workers get it too.
CTRL_C_AT_STEP = """
import os, signal, sys
from torch import nn
from asr.cli import main

seen = []

def hook(module, args, output):
    if isinstance(module, nn.BatchNorm2d) and module.training:
        seen.append(module)
        if len(seen) == 2 * int(sys.argv[1]) - 1:  # two batch norms a step: the first one
            os.killpg(os.getpgid(0), signal.SIGINT)

nn.modules.module.register_module_forward_hook(hook)
sys.exit(main(sys.argv[2:]))
"""


def test_ctrl_c_with_loader_workers_exits_130_after_saving(fsdd, tiny_config, tmp_path):
    manifest = _sample(fsdd, tmp_path / "train.jsonl")
    config = tmp_path / "small.toml"
    config.write_text(tiny_config.read_text().replace("lstm_hidden = 128", "lstm_hidden = 32"))
    out = tmp_path / "exp"
    command = [sys.executable, "-c", CTRL_C_AT_STEP, "3", "train", "--config", str(config),
               "--train", str(manifest), "--dev", str(manifest), "--out", str(out), "-q",
               "--batch-seconds", "2", "--workers", "1", "--threads", "1"]  # fmt: skip
    # A session of its own: the process group it signals is itself and its loader worker.
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=180, start_new_session=True
    )
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert _steps(out) == 3  # the step finished, then saved
