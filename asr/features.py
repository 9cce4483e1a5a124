"""Log-mel filterbank features, utterance and global mean/variance normalisation, SpecAugment.

Pure functions over tensors; the filterbank and window are cached per configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torchaudio.functional as AF

LOG_FLOOR = 1e-10  # power floor before log, as librosa's power_to_db amin

__all__ = [
    "FeatureConfig",
    "SpecAugmentConfig",
    "log_mel",
    "model_features",
    "normalize",
    "spec_augment",
    "unnormalized_features",
]


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 16000  # Hz; audio is resampled to this on load
    n_mels: int = 80
    win_ms: float = 25.0  # analysis window
    hop_ms: float = 10.0  # frame shift
    f_min: float = 0.0  # Hz
    f_max: float | None = None  # Hz; None means sample_rate / 2
    # Subtract each utterance's per-bin mean first: gain and channel invariance.
    utterance_mean: bool = False
    # Subtract the speaker's per-bin mean instead, over all their utterances in the manifest at
    # hand (Kaldi's CMN by utt2spk): a short word's own mean removes part of the word too.
    # Utterances with no speaker (a file given alone) fall back to their own mean.
    speaker_mean: bool = False

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def n_fft(self) -> int:
        return 1 << (self.win_length - 1).bit_length()  # next power of two >= window

    def num_frames(self, num_samples: int) -> int:
        """Frames log_mel yields for a signal of num_samples (centred STFT)."""
        return num_samples // self.hop_length + 1


@dataclass(frozen=True)
class SpecAugmentConfig:
    freq_masks: int = 2
    freq_width: int = 15  # mel bins, at most, per mask
    time_masks: int = 2
    time_width: float = 0.05  # fraction of the utterance, at most, per mask


@lru_cache(maxsize=8)
def _filters(config: FeatureConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Hann window (win_length,) and slaney mel filterbank (n_fft // 2 + 1, n_mels)."""
    fbank = AF.melscale_fbanks(
        n_freqs=config.n_fft // 2 + 1,
        f_min=config.f_min,
        f_max=config.f_max or config.sample_rate / 2,
        n_mels=config.n_mels,
        sample_rate=config.sample_rate,
        norm="slaney",  # librosa's defaults, so our features match the field's reference
        mel_scale="slaney",
    )
    return torch.hann_window(config.win_length), fbank


def log_mel(wave: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """wave (..., samples) -> natural-log mel power (..., time, n_mels)."""
    window, fbank = _filters(config)
    spec = torch.stft(
        wave,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=window.to(wave.device),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )  # (..., freq, time)
    power = spec.real.square() + spec.imag.square()
    mel = power.transpose(-1, -2) @ fbank.to(wave.device)  # (..., time, n_mels)
    return mel.clamp(min=LOG_FLOOR).log()


def normalize(feats: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Global CMVN: feats (..., n_mels) with training-set mean/std (n_mels,)."""
    return (feats - mean) / std


def unnormalized_features(
    wave: torch.Tensor, config: FeatureConfig, speaker_mean: torch.Tensor | None = None
) -> torch.Tensor:
    """wave (samples,) -> log-mels (time, n_mels), less their speaker's mean (n_mels,) when
    given, else less their own per-bin mean over time if config.utterance_mean or
    config.speaker_mean: what the global statistics are computed on."""
    feats = log_mel(wave, config)  # (time, n_mels)
    # A gain or a fixed channel response is an additive per-bin constant in the log domain.
    if speaker_mean is not None:
        feats = feats - speaker_mean
    elif config.utterance_mean or config.speaker_mean:
        feats = feats - feats.mean(0)
    return feats


def model_features(
    wave: torch.Tensor,
    config: FeatureConfig,
    mean: torch.Tensor,
    std: torch.Tensor,
    speaker_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    """wave (samples,) -> the model's input (time, n_mels), with training-set mean/std (n_mels,)."""
    return normalize(unnormalized_features(wave, config, speaker_mean), mean, std)


class StatsAccumulator:
    """Running per-bin mean and std over many utterances (float64 sums, so order-independent)."""

    def __init__(self, n_mels: int):
        self.count = 0
        self.total = torch.zeros(n_mels, dtype=torch.float64)
        self.squares = torch.zeros(n_mels, dtype=torch.float64)

    def add(self, feats: torch.Tensor) -> None:
        """feats (time, n_mels)."""
        feats = feats.double()
        self.count += feats.shape[0]
        self.total += feats.sum(0)
        self.squares += feats.square().sum(0)

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std), each (n_mels,) float32."""
        if self.count == 0:
            raise ValueError("no frames accumulated")
        mean = self.total / self.count
        var = (self.squares / self.count - mean.square()).clamp(min=1e-8)
        return mean.float(), var.sqrt().float()


def spec_augment(
    feats: torch.Tensor, config: SpecAugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """Zero random frequency bands and time spans of normalised feats (time, n_mels).

    Zero is the training-set mean after normalisation, so masks carry no energy cue.
    """
    feats = feats.clone()
    time, n_mels = feats.shape
    for _ in range(config.freq_masks):
        width = int(torch.randint(0, config.freq_width + 1, (1,), generator=generator))
        start = int(torch.randint(0, max(1, n_mels - width), (1,), generator=generator))
        feats[:, start : start + width] = 0
    max_time = int(config.time_width * time)
    for _ in range(config.time_masks):
        width = int(torch.randint(0, max_time + 1, (1,), generator=generator))
        start = int(torch.randint(0, max(1, time - width), (1,), generator=generator))
        feats[start : start + width] = 0
    return feats
