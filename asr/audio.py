"""Reading audio: any format soundfile knows, any rate and channel count, to mono float32.

All audio I/O of the package lives here; everything downstream works on tensors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from asr.errors import AsrError

SAMPLE_RATE = 16000  # Hz, the default model rate; FeatureConfig may choose another

__all__ = ["SAMPLE_RATE", "load_audio", "resample", "audio_duration"]


def load_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Read `path`, mix to mono, resample to `sample_rate`.

    Returns a float32 tensor (samples,) in [-1, 1]. Raises AsrError naming the file and the
    reason for: a missing path, a directory, an empty or header-only file, bytes that are not
    audio, and NaN/inf samples.
    """
    path = Path(path)
    if not path.exists():
        raise AsrError(f"{path}: no such file")
    if path.is_dir():
        raise AsrError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AsrError(f"{path}: empty file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)  # (samples, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AsrError(f"{path}: cannot decode audio ({_short(err)})") from err
    if data.shape[0] == 0:
        raise AsrError(f"{path}: no audio samples (header only)")
    if not np.isfinite(data).all():
        raise AsrError(f"{path}: audio contains NaN or infinite samples")
    wave = torch.from_numpy(data.mean(axis=1))  # (samples,) mixing channels to mono
    return resample(wave, rate, sample_rate)


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """(..., samples) at orig_rate -> (..., samples') at new_rate (band-limited sinc)."""
    if orig_rate == new_rate:
        return wave
    return AF.resample(wave, orig_rate, new_rate)


def audio_duration(path: Path) -> float:
    """Duration in seconds from the header alone (no decoding); raises AsrError if unreadable."""
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AsrError(f"{path}: cannot read audio header ({_short(err)})") from err
    return info.frames / info.samplerate


def _short(err: Exception) -> str:
    """libsndfile messages repeat the path; keep the reason only, on one line."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text.split(": ", 1)[-1] if "Error opening" in text else text
