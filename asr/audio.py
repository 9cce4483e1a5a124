"""Audio files: every whole-file read and write of the package, and its one resampler (audio
arriving in blocks: `asr.audio_stream`).

Reading takes any format soundfile knows, at any rate and channel count, to float32; writing is
16-bit PCM wav. The readers give tensors, and `read_samples` / `load_samples` numpy arrays.
torch is imported by the functions that need it, not by the module: the ONNX transcribe path
(`asr.inference.onnx_recognizer`) reads audio at its model's rate without loading torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from asr.errors import AsrError

if TYPE_CHECKING:
    import torch

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

__all__ = [
    "SAMPLE_RATE",
    "AudioInfo",
    "audio_blocks",
    "audio_duration",
    "audio_info",
    "load_audio",
    "load_samples",
    "read_audio",
    "read_samples",
    "resample",
    "resample_samples",
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
    """`load_samples` as a float32 tensor (samples,) in [-1, 1]."""
    import torch

    return torch.from_numpy(load_samples(path, sample_rate, min_samples, seconds))


def load_samples(
    path: Path, sample_rate: int = SAMPLE_RATE, min_samples: int = 0, seconds: float | None = None
) -> np.ndarray:
    """Read `path` (only its first `seconds` if given), mix to mono, resample to `sample_rate`.

    Returns float32 samples (samples,) in [-1, 1]. Raises AsrError as `read_samples` does, and
    for fewer than `min_samples` samples at `sample_rate`.
    """
    stop = None if seconds is None else round(seconds * audio_info(path).sample_rate)
    wave, rate = read_samples(path, stop=stop)
    wave = resample_samples(wave, rate, sample_rate)
    if len(wave) < min_samples:
        raise AsrError(
            f"{path}: too short ({len(wave) / sample_rate:.3f} s; at least "
            f"{min_samples / sample_rate:.3f} s needed)"
        )
    return wave


def read_audio(
    path: Path, start: int = 0, stop: int | None = None, mono: bool = True
) -> tuple[torch.Tensor, int]:
    """`read_samples` as a tensor, and the file's rate in Hz."""
    import torch

    wave, rate = read_samples(path, start, stop, mono)
    return torch.from_numpy(wave), rate


def read_samples(
    path: Path, start: int = 0, stop: int | None = None, mono: bool = True
) -> tuple[np.ndarray, int]:
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
    return (data.mean(axis=1) if mono else data), rate  # (samples,) mono


def audio_blocks(path: Path, block_frames: int) -> Iterator[np.ndarray]:
    """The file mixed to mono in consecutive float32 blocks (block_frames,), the last maybe
    shorter, read one at a time so that memory holds one block. Raises AsrError if unreadable."""
    _check_regular(Path(path))
    try:
        with sf.SoundFile(path) as f:
            for data in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                yield data.mean(axis=1)  # (samples, channels) -> (samples,)
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
    data = np.asarray(wave)
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
    import torchaudio.functional as AF

    return AF.resample(wave, orig_rate, new_rate, **(_SHARP_FILTER if sharp else {}))


def resample_samples(wave: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """`resample` of numpy samples (samples,); torch loads only when the rates differ."""
    if orig_rate == new_rate:
        return wave
    import torch

    return resample(torch.from_numpy(wave), orig_rate, new_rate).numpy()


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


def _short(err: Exception) -> str:
    """libsndfile messages repeat the path; keep the reason only, on one line."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text.split(": ", 1)[-1] if "Error opening" in text else text
