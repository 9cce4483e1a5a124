"""Audio files: every read and write of the package, and its one resampler.

Reading takes any format soundfile knows, at any rate and channel count, to float32; writing is
16-bit PCM wav. Everything downstream works on tensors.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from asr.errors import AsrError

SAMPLE_RATE = 16000  # Hz, the default model rate; FeatureConfig may choose another

# A Kaiser-windowed sinc 64 zero crossings wide (resampy's "kaiser_best"), its stop band about
# 100 dB down: for rendering corpora, where no energy may pass a band limit. Loading keeps
# torchaudio's default filter, which is shorter and so faster.
_SHARP_FILTER = {
    "lowpass_filter_width": 64,
    "rolloff": 0.9475937167399596,
    "resampling_method": "sinc_interp_kaiser",
    "beta": 14.769656459379492,
}
# What soundfile raises for a file it cannot open or decode.
_SOUNDFILE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError)

PCM_SCALE = 32768.0  # 16-bit sample -> [-1, 1)

__all__ = [
    "SAMPLE_RATE",
    "AudioInfo",
    "StreamResampler",
    "audio_blocks",
    "audio_duration",
    "audio_info",
    "load_audio",
    "read_audio",
    "read_blocks",
    "read_pcm",
    "read_wav_stream",
    "resample",
    "write_audio",
]


@dataclass(frozen=True)
class AudioInfo:
    frames: int  # samples per channel
    sample_rate: int  # Hz
    channels: int

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.frames / self.sample_rate


def load_audio(
    path: Path, sample_rate: int = SAMPLE_RATE, min_samples: int = 0, seconds: float | None = None
) -> torch.Tensor:
    """Read `path` (only its first `seconds` if given), mix to mono, resample to `sample_rate`.

    Returns a float32 tensor (samples,) in [-1, 1]. Raises AsrError as `read_audio` does, and
    for fewer than `min_samples` samples at `sample_rate`.
    """
    stop = None if seconds is None else round(seconds * audio_info(path).sample_rate)
    wave, rate = read_audio(path, stop=stop)
    wave = resample(wave, rate, sample_rate)
    if len(wave) < min_samples:
        raise AsrError(
            f"{path}: too short ({len(wave) / sample_rate:.3f} s; at least "
            f"{min_samples / sample_rate:.3f} s needed)"
        )
    return wave


def read_audio(
    path: Path, start: int = 0, stop: int | None = None, mono: bool = True
) -> tuple[torch.Tensor, int]:
    """Frames [start, stop) of `path` at its own rate, and that rate in Hz.

    The samples are float32, mixed to mono (samples,), or (samples, channels) with mono=False.
    Raises AsrError naming the file and the reason for: a missing path, a directory or other
    non-regular file (a FIFO would block), an empty or header-only file, bytes that are not
    audio, and NaN/inf samples.
    """
    path = Path(path)
    _check_regular(path)
    try:
        data, rate = sf.read(path, start=start, stop=stop, dtype="float32", always_2d=True)
    except _SOUNDFILE_ERRORS as err:  # (samples, channels) when it succeeds
        raise AsrError(f"{path}: cannot decode audio ({_short(err)})") from err
    if data.shape[0] == 0 and start == 0:
        raise AsrError(f"{path}: no audio samples (header only)")
    if not np.isfinite(data).all():
        raise AsrError(f"{path}: audio contains NaN or infinite samples")
    wave = torch.from_numpy(data.mean(axis=1) if mono else data)  # (samples,) mono
    return wave, rate


def audio_blocks(path: Path, block_frames: int) -> Iterator[torch.Tensor]:
    """The file mixed to mono in consecutive float32 blocks (block_frames,), the last maybe
    shorter, read one at a time so that memory holds one block. Raises AsrError if unreadable."""
    _check_regular(Path(path))
    try:
        with sf.SoundFile(path) as f:
            for data in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                yield torch.from_numpy(data.mean(axis=1))  # (samples, channels) -> (samples,)
    except _SOUNDFILE_ERRORS as err:
        raise AsrError(f"{path}: cannot decode audio ({_short(err)})") from err


def audio_info(path: Path) -> AudioInfo:
    """Length, rate and channels from the header alone (no decoding); AsrError if unreadable."""
    _check_regular(Path(path))
    try:
        info = sf.info(path)
    except _SOUNDFILE_ERRORS as err:
        raise AsrError(f"{path}: cannot read audio header ({_short(err)})") from err
    return AudioInfo(info.frames, info.samplerate, info.channels)


def audio_duration(path: Path) -> float:
    """Seconds, from the header alone; raises AsrError if unreadable."""
    return audio_info(path).duration


def write_audio(path: Path, wave: torch.Tensor | np.ndarray, sample_rate: int) -> None:
    """Write float samples (samples,) or (samples, channels) as a 16-bit PCM wav.

    Clipped to [-1, 1] first: resampling and added noise can overshoot full scale, and 16-bit
    writes would wrap around. Raises AsrError if the file cannot be written.
    """
    data = wave.numpy() if isinstance(wave, torch.Tensor) else wave
    try:
        sf.write(path, np.clip(data, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    except _SOUNDFILE_ERRORS as err:
        raise AsrError(f"{path}: cannot write audio ({_short(err)})") from err


def resample(
    wave: torch.Tensor, orig_rate: int, new_rate: int, sharp: bool = False
) -> torch.Tensor:
    """(..., samples) at orig_rate -> (..., samples') at new_rate (band-limited sinc); `sharp`
    uses the long Kaiser filter, whose stop band lets nothing above the new Nyquist rate pass."""
    if orig_rate == new_rate:
        return wave
    return AF.resample(wave, orig_rate, new_rate, **(_SHARP_FILTER if sharp else {}))


def _check_regular(path: Path) -> None:
    """A regular, non-empty file; opening a FIFO or a device would wait for a writer."""
    if not path.exists():
        raise AsrError(f"{path}: no such file")
    if path.is_dir():
        raise AsrError(f"{path}: is a directory, not an audio file")
    if not path.is_file():
        raise AsrError(f"{path}: not a regular file (a pipe or device); give an audio file")
    if path.stat().st_size == 0:
        raise AsrError(f"{path}: empty file")


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
        yield resampler.feed(block)
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


def _short(err: Exception) -> str:
    """libsndfile messages repeat the path; keep the reason only, on one line."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text.split(": ", 1)[-1] if "Error opening" in text else text
