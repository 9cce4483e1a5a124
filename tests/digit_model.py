"""Helpers for the decoding tests: a tiny model that also knows pauses, and digit audio with
known word boundaries.

The `trained` fixture's model has heard isolated, trimmed clips only, so it cannot handle
silence between words; fine-tuning it briefly on connected digits of the same recordings (about
30 s of CPU) gives a model for beam search, word timings and long audio. The result is cached in
the session's temporary folder, so the test modules that use it share one training run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from asr.audio import load_audio
from asr.corpora.digits import DIGIT_WORDS


def connected_model(trained: tuple[Path, Path], tiny_config: Path, root: Path) -> Path:
    """best.pt of the `trained` model fine-tuned on connected digits of its recordings."""
    from asr.corpora.digits import ConnectedConfig, make_connected
    from asr.manifest import read_manifest
    from asr.train import configs_from_toml, train

    best = root / "exp" / "best.pt"
    if best.is_file():
        return best
    exp, manifest = trained
    config = ConnectedConfig(
        min_digits=2, max_digits=4, pause_range=(0.1, 0.5), sample_rate=8000, jobs=1
    )
    connected = root / "connected.jsonl"
    make_connected(read_manifest(manifest), root / "wav", connected, config, progress=False)
    train_config, model_config, features = configs_from_toml(
        tiny_config,
        train_manifest=connected,
        dev_manifest=connected,
        out_dir=root / "exp",
        init_from=exp / "best.pt",
        epochs=20,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy machine, idle-spinning extra threads cost far more
    try:
        train(train_config, model_config, features)
    finally:
        torch.set_num_threads(threads)
    return best


def recordings(fsdd: Path, speaker: str, exclude: Path | None = None) -> list[dict]:
    """FSDD manifest entries of `speaker` (absolute paths), minus those listed in `exclude`."""
    skip = set()
    if exclude is not None:
        skip = {json.loads(line)["audio_filepath"] for line in exclude.read_text().splitlines()}
    entries = []
    for line in (fsdd / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        entry["audio_filepath"] = str(fsdd / entry["audio_filepath"])
        if entry["speaker"] == speaker and entry["audio_filepath"] not in skip:
            entries.append(entry)
    return sorted(entries, key=lambda e: e["audio_filepath"])


def concatenate(
    entries: list[dict], out: Path, rate: int, gaps: tuple[float, float], seed: int = 0
) -> list[tuple[str, float, float]]:
    """Write the clips to `out` at `rate` with random silent gaps (seconds) before each and at
    the end; returns (word, start, end) of every clip in seconds."""
    rng = random.Random(seed)
    parts, bounds, t = [], [], 0.0
    for entry in entries:
        gap = np.zeros(round(rng.uniform(*gaps) * rate), dtype=np.float32)
        clip = load_audio(Path(entry["audio_filepath"]), rate).numpy()
        parts += [gap, clip]
        t += len(gap) / rate
        bounds.append((entry["text"], t, t + len(clip) / rate))
        t += len(clip) / rate
    parts.append(np.zeros(round(gaps[1] * rate), dtype=np.float32))
    sf.write(str(out), np.concatenate(parts), rate, subtype="PCM_16")
    return bounds


def digit_text(path: Path, lines: int = 300, seed: int = 0) -> Path:
    """Random digit strings, one to six words a line: text for a digit language model."""
    rng = random.Random(seed)
    path.write_text(
        "".join(
            " ".join(rng.choice(DIGIT_WORDS) for _ in range(rng.randint(1, 6))) + "\n"
            for _ in range(lines)
        )
    )
    return path


def unheard_set(fsdd: Path, trained_manifest: Path, root: Path, files: int, seed: int = 1) -> Path:
    """A manifest of `files` recordings of five george digits each, none of which the `trained`
    model heard, joined with pauses."""
    clips = recordings(fsdd, "george", exclude=trained_manifest)
    random.Random(seed).shuffle(clips)
    lines = []
    for i in range(files):
        path = root / f"unheard_{i}.wav"
        bounds = concatenate(clips[5 * i : 5 * i + 5], path, 8000, (0.1, 0.4), seed + i)
        text = " ".join(word for word, _, _ in bounds)
        lines.append(json.dumps({"audio_filepath": str(path), "duration": 3.0, "text": text}))
    manifest = root / "unheard.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest
