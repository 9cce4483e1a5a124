"""Long recordings in bounded memory: plan segments cut at pauses, read them one at a time.

One streaming pass over the file measures short-time energy. Silences of `min_silence_ms` or
more, `silence_db` below the file's loud level or within `floor_db` of its noise floor, separate
speech regions and are not decoded: a segment that is mostly silence is nothing like the clips a
model trains on, and its per-utterance mean drowns the speech (30 digit strings with 2 s of
digital silence between them: 73.7 % WER as one file, 36.8 % clip by clip, with the 2026-11
default model). A region is padded into the quiet around it, never into digital silence, so it
holds what a clip would. Within a region longer than `max_seconds`, cuts go at the quietest
point of each stretch between `min_seconds` and `max_seconds` past the previous cut. Each
segment is read with `overlap_seconds` of context on both sides (within its region) and owns
only the time between its cuts: a word belongs to the segment whose own span holds its
midpoint, so a word near a seam is neither lost nor counted twice. Memory stays that of one
block or one batch of segments; time grows linearly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.audio import audio_blocks, audio_info, read_samples, resample_samples
from asr.decoding.align import WordTiming
from asr.errors import AsrError

ENERGY_FLOOR = 1e-10  # mean-square floor before log, so digital silence stays finite
DEAD_DB = -90.0  # a frame under this (about one 16-bit step) is digital silence, not a room

__all__ = [
    "Segment",
    "SegmentConfig",
    "block_energy",
    "find_cuts",
    "frame_energies",
    "own_words",
    "plan_segments",
    "read_segment",
    "segment_batches",
    "silence_level",
    "speech_regions",
]


@dataclass(frozen=True)
class SegmentConfig:
    max_seconds: float = 20.0  # longest span a segment owns; also "long file" threshold
    min_seconds: float = 8.0  # a cut is searched from here on, so segments are not tiny
    overlap_seconds: float = 1.0  # context read on each side of a segment's own span
    frame_ms: float = 10.0  # energy frame
    pause_ms: float = 200.0  # energy is averaged over this, so cuts land inside pauses
    block_seconds: float = 60.0  # read from disk at a time when measuring energy
    silence_db: float = 40.0  # a frame this far below the loud level (99th percentile) is silent
    # ... and so is one within floor_db of the noise floor (10th percentile of the frames above
    # digital silence), unless within min_snr_db of the loud level: a -60 dBFS room under speech
    # at -24 dB is 36 dB down, so on the loud level alone a 10-minute file of digit groups was
    # one region cut every 8-20 s (34.7 % WER; 31.3 % cut at its pauses, 2026-12 default model).
    floor_db: float = 6.0
    min_snr_db: float = 25.0
    # Silent this long, the speech regions on each side part; shorter pauses stay inside, as
    # in the clips people record (500 ms split 5 of 86 speechocean762 digit strings, 600 ms 2).
    min_silence_ms: float = 600.0
    pad_ms: float = 200.0  # kept around each speech region, so its first and last words are whole

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds:
            raise AsrError(f"segments: need 0 < min_seconds < max_seconds, got {self}")
        if not 0 <= 2 * self.pad_ms <= self.min_silence_ms:
            raise AsrError(f"segments: need 0 <= 2 * pad_ms <= min_silence_ms, got {self}")


@dataclass(frozen=True)
class Segment:
    start: float  # seconds: the span this segment owns
    end: float
    read_start: float  # seconds: what is read and decoded, context included
    read_end: float
    # It ends a region that the file's end or digital silence follows (within the pause after
    # it), as a clip ends: decoded as a clip, with the tuned tail (DecodeConfig.tail_seconds).
    clip_end: bool = False


def frame_energies(path: Path, config: SegmentConfig) -> tuple[np.ndarray, float]:
    """Energy in dB per frame of the file, read block by block; and the frame length in seconds."""
    rate = audio_info(path).sample_rate
    frame = max(1, round(rate * config.frame_ms / 1000))
    block = frame * max(1, round(config.block_seconds * rate / frame))
    energies = [block_energy(data, frame) for data in audio_blocks(path, block)]
    if not energies:
        raise AsrError(f"{path}: no audio samples")
    return np.concatenate(energies), frame / rate


def block_energy(samples: np.ndarray, frame: int) -> np.ndarray:
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


def speech_regions(
    energy_db: np.ndarray, frame_seconds: float, config: SegmentConfig
) -> list[tuple[int, int]]:
    """(first, end) frames of each stretch between long silences, padded; none if all silent."""
    silent = energy_db < silence_level(energy_db, config)  # (frames,)
    edges = np.flatnonzero(np.diff(np.concatenate([[1], silent.astype(np.int8), [1]])))
    pad = round(config.pad_ms / 1000 / frame_seconds)
    min_silence = round(config.min_silence_ms / 1000 / frame_seconds)
    regions: list[tuple[int, int]] = []
    for first, end in zip(edges[::2], edges[1::2], strict=True):  # runs of sound
        if regions and first - regions[-1][1] < min_silence:
            regions[-1] = (regions[-1][0], end)  # a short pause stays inside the region
        else:
            regions.append((first, end))
    dead = energy_db < DEAD_DB  # (frames,)
    return [_pad(a, b, pad, dead) for a, b in regions]


def silence_level(energy_db: np.ndarray, config: SegmentConfig) -> float:
    """dB under which a frame is silent: far below the loud level, or near the noise floor."""
    loud = np.percentile(energy_db, 99)
    live = energy_db[energy_db >= DEAD_DB]  # a room's frames; digital silence has no floor
    if not len(live):
        return loud - config.silence_db
    floor = np.percentile(live, 10) + config.floor_db
    return max(loud - config.silence_db, min(floor, loud - config.min_snr_db))


def _pad(first: int, end: int, pad: int, dead: np.ndarray) -> tuple[int, int]:
    """The region widened by up to `pad` frames each side, but never over digital silence: a
    clip's per-utterance mean holds none, and a few frames at the log floor pull every bin's
    mean far down (30 speechocean762 digit strings joined with 2 s of zeros, 2026-11 default
    model: 56.6 % WER padded into the zeros, 45.1 % not, 46.0 % clip by clip)."""
    before = np.flatnonzero(dead[max(0, first - pad) : first])
    start = max(0, first - pad) + (before[-1] + 1 if len(before) else 0)
    after = np.flatnonzero(dead[end : end + pad])
    stop = end + (after[0] if len(after) else min(pad, len(dead) - end))
    return start, stop


def plan_segments(path: Path, config: SegmentConfig) -> tuple[list[Segment], float]:
    """Segments covering the file's speech in order, and its duration in seconds."""
    energy, frame_seconds = frame_energies(path, config)
    duration = audio_info(path).duration
    segments = []
    regions = speech_regions(energy, frame_seconds, config)
    for (first, end), (after, _) in zip(regions, [*regions[1:], (len(energy), 0)], strict=True):
        # the file ends with the region, or the pause after it reaches digital silence
        clip_end = end == after or bool((energy[end:after] < DEAD_DB).any())
        cuts = [first + c for c in find_cuts(energy[first:end], frame_seconds, config)]
        low, high = first * frame_seconds, min(end * frame_seconds, duration)
        for a, b in zip(cuts, cuts[1:], strict=False):
            start, stop = a * frame_seconds, min(b * frame_seconds, duration)
            segments.append(
                Segment(
                    start=start,
                    end=stop,
                    read_start=max(low, start - config.overlap_seconds),
                    read_end=min(high, stop + config.overlap_seconds),
                    clip_end=clip_end and b == cuts[-1],
                )
            )
    return segments, duration


def read_segment(path: Path, segment: Segment, sample_rate: int) -> np.ndarray:
    """Mono float32 (samples,) of the segment's read span, resampled to `sample_rate`."""
    rate = audio_info(path).sample_rate
    start, stop = round(segment.read_start * rate), round(segment.read_end * rate)
    wave, rate = read_samples(path, start, stop)  # (samples,)
    return resample_samples(wave, rate, sample_rate)


def own_words(words: Sequence[WordTiming], segment: Segment) -> Iterator[WordTiming]:
    """The words (absolute times) whose midpoint lies in the segment's own span."""
    for word in words:
        if segment.start <= (word.start + word.end) / 2 < segment.end:
            yield word


def segment_batches(segments: list[Segment], batch_seconds: float) -> Iterator[list[Segment]]:
    """Consecutive segments, at most `batch_seconds` of read audio per batch (at least one)."""
    batch: list[Segment] = []
    for seg in segments:
        if batch and sum(s.read_end - s.read_start for s in batch + [seg]) > batch_seconds:
            yield batch
            batch = []
        batch.append(seg)
    if batch:
        yield batch
