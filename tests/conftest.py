"""Shared fixtures: real recordings from tests/data (README.md there), small synthetic waves.

tests/data is a small subset of the corpora kept in ../shared/data, inside the repository so
that a fresh clone runs every test; the tests that need a full corpus use SHARED_DATA and skip
without it.
"""

from __future__ import annotations

import json
import random
from itertools import zip_longest
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]  # the repository
TEST_DATA = ROOT / "tests" / "data"  # the real clips in the repository
SHARED_DATA = ROOT.parent / "shared" / "data"  # full read-only corpora beside a checkout, if any
FSDD = TEST_DATA / "fsdd"  # 162 FSDD recordings of 5 speakers
PROMPTS = TEST_DATA / "text" / "prompts.txt"  # the 720 Harvard sentences


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fsdd() -> Path:
    return FSDD


def fsdd_sample(fsdd: Path, out: Path, count: int, speakers: set[str], seed: int = 0) -> Path:
    """Write a manifest of `count` FSDD recordings of `speakers`, spread over all digits."""
    entries = [json.loads(line) for line in (fsdd / "manifest.jsonl").read_text().splitlines()]
    entries = [e for e in entries if e["speaker"] in speakers]
    random.Random(seed).shuffle(entries)
    by_digit: dict[str, list[dict]] = {}
    for e in entries:
        by_digit.setdefault(e["text"], []).append(e)
    rounds = zip_longest(*(by_digit[d] for d in sorted(by_digit)))  # one of each digit a round
    chosen = [e for group in rounds for e in group if e is not None][:count]
    if len(chosen) < count:
        raise ValueError(f"{fsdd}: {len(chosen)} recordings of {sorted(speakers)}, {count} asked")
    for e in chosen:
        e["audio_filepath"] = str(fsdd / e["audio_filepath"])
    out.write_text("".join(json.dumps(e) + "\n" for e in chosen))
    return out


@pytest.fixture
def sine_wav(tmp_path) -> Path:
    """One second of a 440 Hz tone at 16 kHz, stereo, 16-bit."""
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "tone.wav"
    sf.write(path, np.stack([tone, tone], axis=1), 16000, subtype="PCM_16")
    return path


TINY_CONFIG = """
[features]
sample_rate = 8000
n_mels = 40

[model]
conv_channels = [16, 16]
conv_kernels = [[5, 11], [5, 11]]
conv_strides = [[2, 2], [1, 2]]
lstm_hidden = 128
lstm_layers = 2
dropout = 0.0

[train]
epochs = 70
batch_seconds = 4
lr = 5e-3
warmup_steps = 10
patience = 100
augment = false
specaug = false
"""


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(TINY_CONFIG)
    return path


@pytest.fixture(scope="session")
def trained(fsdd, tiny_config, tmp_path_factory) -> tuple[Path, Path]:
    """A tiny model trained on 40 real recordings of one speaker: (checkpoint dir, manifest).

    The recordings are listed in tests/data/fsdd/tiny_train.jsonl; george's other clips there
    are unheard by it.

    Shared by the end-to-end and CLI tests so the suite trains it once (about a minute).
    """
    from asr.train import configs_from_toml, train

    root = tmp_path_factory.mktemp("trained")
    manifest = root / "train.jsonl"
    entries = [json.loads(line) for line in (fsdd / "tiny_train.jsonl").read_text().splitlines()]
    for e in entries:
        e["audio_filepath"] = str(fsdd / e["audio_filepath"])
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    train_config, model_config, features = configs_from_toml(
        tiny_config, train_manifest=manifest, dev_manifest=manifest, out_dir=root / "exp"
    )
    train(train_config, model_config, features)
    return root / "exp", manifest


@pytest.fixture(scope="session")
def connected(trained, tiny_config, tmp_path_factory) -> Path:
    """The `trained` model fine-tuned on connected digits (tests/digit_model.py), built once."""
    from digit_model import connected_model

    return connected_model(trained, tiny_config, tmp_path_factory.getbasetemp() / "connected")
