"""Audio arriving in blocks: a file read block by block, raw 16-bit PCM or a WAV on a pipe,
each resampled as it arrives to the same samples `asr.audio.resample` gives the whole."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from asr.audio import audio_blocks, audio_info, resample
from asr.errors import AsrError

PCM_SCALE = 32768.0  # 16-bit sample -> [-1, 1)

__all__ = ["PCM_SCALE", "StreamResampler", "read_blocks", "read_pcm", "read_wav_stream"]


class StreamResampler:
    """`resample` (default filter) of a signal arriving in chunks: the same output, by chunks.

    torchaudio's polyphase sinc filter makes each block of `new` output samples (rates divided by
    their gcd) from one block of `orig` input samples and `width` samples either side, zero
    beyond the ends; so an output block is final once its right context has arrived, and only
    that context is kept.
    """

    def __init__(self, orig_rate: int, new_rate: int):
        gcd = math.gcd(orig_rate, new_rate)
        self.rates = (orig_rate, new_rate)
        self.orig, self.new = orig_rate // gcd, new_rate // gcd
        # torchaudio's filter half-width (lowpass_filter_width 6, rolloff 0.99), one block spare.
        width = math.ceil(6 * self.orig / (0.99 * min(self.orig, self.new))) + self.orig
        self.context = math.ceil(width / self.orig)  # blocks of context either side
        self.buffer = torch.zeros(0)  # input from block `self.first` on
        self.first = 0  # input block where the buffer starts
        self.done = 0  # output blocks emitted
        self.total = 0  # input samples seen

    def feed(self, wave: torch.Tensor, final: bool = False) -> torch.Tensor:
        """(samples,) -> the output samples now complete (all of them when `final`)."""
        self.total += len(wave)
        self.buffer = torch.cat([self.buffer, wave])
        if self.orig == self.new:
            out, self.buffer = self.buffer, torch.zeros(0)
            return out
        available = self.first + len(self.buffer) // self.orig  # complete input blocks
        ready = available - self.context - 1
        if not final and ready <= self.done:
            return torch.zeros(0)
        out = resample(self.buffer, *self.rates)  # block b of `out` is input block first + b
        start = (self.done - self.first) * self.new
        if final:
            end = math.ceil(self.new * self.total / self.orig) - self.first * self.new
        else:
            end, self.done = (ready - self.first) * self.new, ready
        keep = max(self.first, self.done - self.context)  # left context of the next block
        self.buffer, self.first = self.buffer[(keep - self.first) * self.orig :], keep
        return out[start:end]


def read_blocks(path: Path, sample_rate: int, block_seconds: float) -> Iterator[torch.Tensor]:
    """A file as mono float32 blocks (samples,) at `sample_rate`, read one at a time."""
    if not Path(path).is_file():
        raise AsrError(f"{path}: no such file")
    rate = audio_info(path).sample_rate
    resampler = StreamResampler(rate, sample_rate)
    for block in audio_blocks(path, max(1, round(block_seconds * rate))):
        yield resampler.feed(torch.from_numpy(block))
    yield resampler.feed(torch.zeros(0), final=True)


def read_pcm(
    stream: BinaryIO, rate: int, sample_rate: int, block_seconds: float, channels: int = 1
) -> Iterator[torch.Tensor]:
    """Raw 16-bit little-endian PCM at `rate` -> mono float32 blocks (samples,) at
    `sample_rate`, each as soon as the stream has it (a pipe is read as it fills)."""
    resampler = StreamResampler(rate, sample_rate)
    frame = 2 * channels
    size = frame * max(1, round(block_seconds * rate))
    read = getattr(stream, "read1", stream.read)  # read1: whatever has arrived, up to size
    pending = b""
    while chunk := read(size):
        pending += chunk
        usable = len(pending) - len(pending) % frame
        data = np.frombuffer(pending[:usable], dtype="<i2").reshape(-1, channels)
        pending = pending[usable:]
        yield resampler.feed(torch.from_numpy(data.mean(axis=1, dtype=np.float32) / PCM_SCALE))
    yield resampler.feed(torch.zeros(0), final=True)


def read_wav_stream(
    stream: BinaryIO, sample_rate: int, block_seconds: float, name: str = "stdin"
) -> Iterator[torch.Tensor]:
    """A 16-bit PCM WAV arriving on a pipe (no seeking; a streaming writer's data size is
    ignored) -> mono float32 blocks at `sample_rate`, as `read_pcm`."""
    head = _read_exactly(stream, 12, name)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AsrError(f"{name}: not a WAV stream (give raw PCM with --rate)")
    fmt = None
    while True:
        kind, size = struct.unpack("<4sI", _read_exactly(stream, 8, name))
        if kind == b"data":
            break
        body = _read_exactly(stream, size + size % 2, name)
        if kind == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
    if fmt is None:
        raise AsrError(f"{name}: WAV stream has no fmt chunk before its data")
    tag, channels, rate, _, _, bits = fmt
    if tag not in (1, 0xFFFE) or bits != 16:
        raise AsrError(f"{name}: WAV stream must be 16-bit PCM, got format {tag}, {bits} bits")
    yield from read_pcm(stream, rate, sample_rate, block_seconds, channels)


def _read_exactly(stream: BinaryIO, size: int, name: str) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise AsrError(f"{name}: WAV stream ends inside its header")
    return data
