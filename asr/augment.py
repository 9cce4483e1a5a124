"""Waveform augmentation for training: band limiting, silence padding, speed and volume
perturbation, noise.

Pure functions over (samples,) tensors driven by an explicit torch.Generator, so a resumed run
draws the same perturbations as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asr.audio import resample

__all__ = ["AugmentConfig", "augment_wave"]


@dataclass(frozen=True)
class AugmentConfig:
    speeds: tuple[float, ...] = (0.9, 1.0, 1.1)  # Kaldi-style speed perturbation factors
    gain_db: float = 6.0  # volume drawn uniformly in +-gain_db
    noise_prob: float = 0.5  # chance of adding white noise to an utterance
    snr_db: tuple[float, float] = (10.0, 40.0)  # signal-to-noise range of that noise
    # Seconds of silence drawn in this range for each end: the utterance mean the features
    # subtract moves with the share of silence, and corpora differ in it (FSDD is cut tight,
    # Speech Commands has pauses), so the model learns words whatever that share is.
    pad_seconds: tuple[float, float] = (0.0, 0.0)
    # Chance of band-limiting an utterance to narrowband_hz (resampled to twice that and back,
    # as a recording made at that Nyquist rate reads), so that a wide-band model hears narrow-band
    # speech from every corpus's voices, not only from the corpus recorded narrow (FSDD, 8 kHz).
    narrowband_prob: float = 0.0
    narrowband_hz: int = 4000


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def augment_wave(
    wave: torch.Tensor, sample_rate: int, config: AugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """wave (samples,) -> perturbed wave (samples',); speed and padding change the length."""
    # Drawn only when enabled, so configs without it draw the perturbations they always did.
    if (
        config.narrowband_prob
        and float(torch.rand((), generator=generator)) < config.narrowband_prob
    ):
        narrow = 2 * config.narrowband_hz
        if narrow < sample_rate:
            wave = resample(resample(wave, sample_rate, narrow, sharp=True), narrow, sample_rate)
    speed = config.speeds[int(torch.randint(len(config.speeds), (), generator=generator))]
    if speed != 1.0:
        # Resampling to rate/speed and playing at rate shifts tempo and pitch, like sox speed.
        wave = resample(wave, round(sample_rate * speed), sample_rate)
    wave = wave * 10 ** (_uniform(-config.gain_db, config.gain_db, generator) / 20)
    power = wave.square().mean().clamp(min=1e-10)  # of the speech: the padding is not signal
    if config.pad_seconds[1] > 0:
        before = round(_uniform(*config.pad_seconds, generator) * sample_rate)
        after = round(_uniform(*config.pad_seconds, generator) * sample_rate)
        wave = torch.nn.functional.pad(wave, (before, after))  # digital silence, noisy below
    if float(torch.rand((), generator=generator)) < config.noise_prob:
        snr = _uniform(*config.snr_db, generator)
        noise = torch.randn(wave.shape, generator=generator)
        wave = wave + noise * (power / 10 ** (snr / 10)).sqrt()
    return wave
