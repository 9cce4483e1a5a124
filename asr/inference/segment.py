"""Long recordings in bounded memory: plan segments cut at pauses, read them one at a time.

One streaming pass over the file measures short-time energy; cuts go at the quietest point of
each stretch between `min_seconds` and `max_seconds` past the previous cut, so a segment ends in
a pause whenever the speech has one. Each segment is read with `overlap_seconds` of context on
both sides and owns only the time between its cuts: a word belongs to the segment whose own
span holds its midpoint, so a word near a seam is neither lost nor counted twice. Memory stays
that of one block or one batch of segments, and time grows linearly with the length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from asr.audio import audio_blocks, audio_info, read_audio, resample
from asr.decoding.align import WordTiming
from asr.errors import AsrError

ENERGY_FLOOR = 1e-10  # mean-square floor before log, so digital silence stays finite

__all__ = [
    "Segment",
    "SegmentConfig",
    "find_cuts",
    "frame_energies",
    "own_words",
    "plan_segments",
    "read_segment",
]


@dataclass(frozen=True)
class SegmentConfig:
    max_seconds: float = 20.0  # longest span a segment owns; also "long file" threshold
    min_seconds: float = 8.0  # a cut is searched from here on, so segments are not tiny
    overlap_seconds: float = 1.0  # context read on each side of a segment's own span
    frame_ms: float = 10.0  # energy frame
    pause_ms: float = 200.0  # energy is averaged over this, so cuts land inside pauses
    block_seconds: float = 60.0  # read from disk at a time when measuring energy

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds:
            raise AsrError(f"segments: need 0 < min_seconds < max_seconds, got {self}")


@dataclass(frozen=True)
class Segment:
    start: float  # seconds: the span this segment owns
    end: float
    read_start: float  # seconds: what is read and decoded, context included
    read_end: float


def frame_energies(path: Path, config: SegmentConfig) -> tuple[np.ndarray, float]:
    """Energy in dB per frame of the file, read block by block; and the frame length in seconds."""
    rate = audio_info(path).sample_rate
    frame = max(1, round(rate * config.frame_ms / 1000))
    block = frame * max(1, round(config.block_seconds * rate / frame))
    energies = [_block_energy(data.numpy(), frame) for data in audio_blocks(path, block)]
    if not energies:
        raise AsrError(f"{path}: no audio samples")
    return np.concatenate(energies), frame / rate


def _block_energy(samples: np.ndarray, frame: int) -> np.ndarray:
    """(samples,) -> (frames,) dB; a short last frame counts as its own."""
    padded = np.pad(samples, (0, -len(samples) % frame))
    power = (padded.reshape(-1, frame) ** 2).mean(axis=1)  # (frames,)
    return 10 * np.log10(power + ENERGY_FLOOR)


def find_cuts(energy_db: np.ndarray, frame_seconds: float, config: SegmentConfig) -> list[int]:
    """Frame indices [0, cut, ..., len]: each gap within max_seconds, cut at the quietest pause."""
    total = len(energy_db)
    low = round(config.min_seconds / frame_seconds)
    high = round(config.max_seconds / frame_seconds)
    width = max(1, round(config.pause_ms / 1000 / frame_seconds))
    smooth = np.convolve(energy_db, np.ones(width) / width, mode="same")  # (frames,)
    cuts = [0]
    while total - cuts[-1] > high:
        window = smooth[cuts[-1] + low : cuts[-1] + high]
        cuts.append(cuts[-1] + low + int(np.argmin(window)))
    cuts.append(total)
    return cuts


def plan_segments(path: Path, config: SegmentConfig) -> tuple[list[Segment], float]:
    """Segments covering the whole file in order, and its duration in seconds."""
    energy, frame_seconds = frame_energies(path, config)
    duration = audio_info(path).duration
    cuts = [min(c * frame_seconds, duration) for c in find_cuts(energy, frame_seconds, config)]
    segments = [
        Segment(
            start=a,
            end=b,
            read_start=max(0.0, a - config.overlap_seconds),
            read_end=min(duration, b + config.overlap_seconds),
        )
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    return segments, duration


def read_segment(path: Path, segment: Segment, sample_rate: int) -> torch.Tensor:
    """Mono float32 (samples,) of the segment's read span, resampled to `sample_rate`."""
    rate = audio_info(path).sample_rate
    start, stop = round(segment.read_start * rate), round(segment.read_end * rate)
    wave, rate = read_audio(path, start, stop)  # (samples,)
    return resample(wave, rate, sample_rate)


def own_words(words: Sequence[WordTiming], segment: Segment) -> Iterator[WordTiming]:
    """The words (absolute times) whose midpoint lies in the segment's own span."""
    for word in words:
        if segment.start <= (word.start + word.end) / 2 < segment.end:
            yield word
