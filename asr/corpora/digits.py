"""FSDD digits recipe data: speaker-held-out splits and connected-digit utterances.

FSDD's five speakers are all male; two speak US English with a neutral accent (jackson, theo),
the others English with Greek, Belgian-French and German accents. The default test speaker is
theo, so that training keeps jackson's native accent and the test measures a new voice rather
than an accent never heard; dev is yweweler, one of the accented speakers, because holding out
jackson too would leave training without any native speaker. Synthetic digits for training
augmentation live in `asr.corpora.synth_digits`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.audio import read_audio, resample, write_audio
from asr.errors import AsrError
from asr.manifest import Utterance, read_manifest, write_manifest

logger = logging.getLogger(__name__)

# The spoken digits, indexed by value: FSDD names its files by the digit, synthetic digits and
# the digit lexicons spell them.
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DEFAULT_TEST_SPEAKERS = ("theo",)
DEFAULT_DEV_SPEAKERS = ("yweweler",)
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class ConnectedConfig:
    min_digits: int = 2  # digits per utterance
    max_digits: int = 7
    pause_range: tuple[float, float] = (0.05, 0.3)  # seconds of silence around each digit
    snr_range: tuple[float, float] = (30.0, 40.0)  # dB, white noise against the speech's power
    sample_rate: int = 16_000  # Hz, the model's default; FSDD's 8 kHz is resampled
    seed: int = 0
    jobs: int = 4  # threads reading, resampling and writing


@dataclass(frozen=True)
class ConnectedPlan:
    sources: tuple[Utterance, ...]  # recordings of one speaker, in spoken order
    pauses: tuple[float, ...]  # seconds; len(sources) + 1, leading and trailing included
    snr_db: float
    noise_seed: int


def split_by_speaker(
    utterances: Sequence[Utterance],
    dev_speakers: Sequence[str] = DEFAULT_DEV_SPEAKERS,
    test_speakers: Sequence[str] = DEFAULT_TEST_SPEAKERS,
) -> dict[str, list[Utterance]]:
    """{"train", "dev", "test"}: held-out speakers' utterances go to dev or test, the rest train."""
    present = {u.speaker for u in utterances}
    missing = (set(dev_speakers) | set(test_speakers)) - present
    if missing:
        raise AsrError(f"speakers {sorted(missing)} not among {sorted(map(str, present))}")
    if set(dev_speakers) & set(test_speakers):
        raise AsrError(f"speakers {sorted(set(dev_speakers) & set(test_speakers))} in dev and test")
    return {
        "train": [u for u in utterances if u.speaker not in {*dev_speakers, *test_speakers}],
        "dev": [u for u in utterances if u.speaker in dev_speakers],
        "test": [u for u in utterances if u.speaker in test_speakers],
    }


def chunk_sizes(total: int, low: int, high: int, rng: random.Random) -> list[int]:
    """Random sizes in [low, high] summing to `total`, so every item is used exactly once.

    Needs high >= 2 * low - 1, so that a remainder too short to stand alone can always be merged
    into the chunk before it; a total below `low` yields no chunks.
    """
    if not 1 <= low <= high or high < 2 * low - 1:
        raise AsrError(f"digits per utterance {low}-{high}: need 1 <= min and max >= 2 * min - 1")
    sizes = []
    while total >= low:
        size = rng.randint(low, high)
        if total - size < low:  # the rest would be too short for an utterance of its own
            size = total if total <= high else total - low
        sizes.append(size)
        total -= size
    return sizes


def plan_connected(
    utterances: Sequence[Utterance], config: ConnectedConfig, salt: str = ""
) -> list[ConnectedPlan]:
    """Group each speaker's recordings into utterances of min-max digits, each recording once.

    Deterministic in (config.seed, salt) and independent of the input order.
    """
    rng = random.Random(f"{config.seed}-{salt}")
    by_speaker: dict[str, list[Utterance]] = {}
    for utt in sorted(utterances, key=lambda u: (str(u.speaker), str(u.audio_filepath))):
        by_speaker.setdefault(str(utt.speaker), []).append(utt)
    plans = []
    for recordings in by_speaker.values():
        rng.shuffle(recordings)
        start = 0
        for size in chunk_sizes(len(recordings), config.min_digits, config.max_digits, rng):
            pauses = tuple(round(rng.uniform(*config.pause_range), 3) for _ in range(size + 1))
            snr = round(rng.uniform(*config.snr_range), 1)
            sources = tuple(recordings[start : start + size])
            plans.append(ConnectedPlan(sources, pauses, snr, rng.randrange(2**32)))
            start += size
    return plans


def render_connected(plan: ConnectedPlan, out: Path, sample_rate: int) -> Utterance:
    """Join the plan's recordings with its pauses, add its noise, write a 16-bit wav to `out`."""
    pieces = [_read_resampled(src.audio_filepath, sample_rate) for src in plan.sources]
    speech_power = float(np.mean(np.concatenate(pieces) ** 2))
    silences = [np.zeros(round(p * sample_rate), dtype=np.float32) for p in plan.pauses]
    parts = silences[:1]
    for piece, silence in zip(pieces, silences[1:], strict=True):
        parts += [piece, silence]
    audio = np.concatenate(parts)
    noise_std = np.sqrt(speech_power / 10 ** (plan.snr_db / 10))
    audio += np.random.default_rng(plan.noise_seed).normal(0, noise_std, len(audio))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_audio(out, audio, sample_rate)  # clipped: resampling and noise can overshoot
    text = " ".join(src.text for src in plan.sources)
    return Utterance(out, len(audio) / sample_rate, text, plan.sources[0].speaker)


def _read_resampled(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 (samples,) at `sample_rate`, through the sharp filter: rendered corpora keep
    the band of their sources."""
    wave, rate = read_audio(path)
    return resample(wave, rate, sample_rate, sharp=True).numpy()


def make_connected(
    utterances: Sequence[Utterance],
    out_dir: Path,
    manifest: Path,
    config: ConnectedConfig = ConnectedConfig(),
    salt: str = "",
    progress: bool = True,
) -> list[Utterance]:
    """Plan and render connected-digit utterances to OUT_DIR/SPEAKER_NNNNN.wav plus a manifest."""
    plans = plan_connected(utterances, config, salt)
    outs = [
        Path(out_dir).resolve() / f"{p.sources[0].speaker}_{i:05d}.wav" for i, p in enumerate(plans)
    ]
    with ThreadPoolExecutor(max_workers=config.jobs) as pool:
        connected = list(
            tqdm(
                pool.map(lambda p, o: render_connected(p, o, config.sample_rate), plans, outs),
                total=len(plans),
                desc=f"connected digits {out_dir}",
                unit="utt",
                disable=not progress,
            )
        )
    unused = len(utterances) - sum(len(p.sources) for p in plans)
    if unused:
        logger.warning(
            "%s: %d recordings too few for a %d-digit utterance: unused",
            out_dir,
            unused,
            config.min_digits,
        )
    write_manifest(manifest, connected)
    return connected


def prepare_fsdd(
    fsdd_dir: Path,
    out_dir: Path,
    dev_speakers: Sequence[str] = DEFAULT_DEV_SPEAKERS,
    test_speakers: Sequence[str] = DEFAULT_TEST_SPEAKERS,
    connected: ConnectedConfig | None = ConnectedConfig(),
    progress: bool = True,
) -> dict[str, Path]:
    """Speaker-held-out FSDD manifests OUT_DIR/{train,dev,test}.jsonl, and unless `connected`
    is None, connected-digit ones OUT_DIR/connected_{split}.jsonl built from the same split's
    recordings (wavs under OUT_DIR/connected/SPLIT/). Returns {manifest name: path}.
    """
    utterances = read_manifest(Path(fsdd_dir) / "manifest.jsonl")
    splits = split_by_speaker(utterances, dev_speakers, test_speakers)
    manifests = {}
    for name in SPLITS:
        manifests[name] = Path(out_dir) / f"{name}.jsonl"
        write_manifest(manifests[name], splits[name])
        if connected is not None:
            key = f"connected_{name}"
            manifests[key] = Path(out_dir) / f"{key}.jsonl"
            folder = Path(out_dir) / "connected" / name
            make_connected(splits[name], folder, manifests[key], connected, name, progress)
    for name, split in splits.items():
        speakers = sorted({str(u.speaker) for u in split})
        logger.info("fsdd %s: %d recordings of %s", name, len(split), ", ".join(speakers))
    return manifests
