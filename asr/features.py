"""Log-mel filterbank features and SpecAugment (normalisation: `asr.normalise`).

Pure functions over tensors; the filterbank and window are cached per configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torchaudio.functional as AF

from asr.errors import AsrError

LOG_FLOOR = 1e-10  # power floor before log, as librosa's power_to_db amin

NORMALISATIONS = ("global", "utterance", "speaker", "running")  # see asr.normalise

__all__ = [
    "NORMALISATIONS",
    "FeatureConfig",
    "SpecAugmentConfig",
    "log_mel",
    "log_mel_batch",
    "spec_augment",
    "upgrade_features",
]


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 16000  # Hz; audio is resampled to this on load
    n_mels: int = 80
    win_ms: float = 25.0  # analysis window
    hop_ms: float = 10.0  # frame shift
    f_min: float = 0.0  # Hz
    f_max: float | None = None  # Hz; None means sample_rate / 2
    # What each utterance's log-mels lose before the training-set mean and std: nothing
    # ("global"), their own mean ("utterance"), their speaker's ("speaker") or, frame by frame,
    # the mean of the frames so far ("running", for streams); asr.normalise.
    normalisation: str = "global"
    # "running" only: the training set's mean log-mels count as this much audio heard before a
    # file's first frame (Kaldi's online CMVN prior), so the first frames of a file are not
    # centred to zero on their own mean; 0: no prior.
    prior_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise AsrError(
                f"features: normalisation must be one of {NORMALISATIONS}, "
                f"got {self.normalisation!r}"
            )
        if self.prior_ms < 0 or (self.prior_ms and self.normalisation != "running"):
            raise AsrError(
                f"features: prior_ms must be 0, or positive with normalisation = 'running', "
                f"got {self.prior_ms!r} with {self.normalisation!r}"
            )

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def n_fft(self) -> int:
        return 1 << (self.win_length - 1).bit_length()  # next power of two >= window

    @property
    def min_samples(self) -> int:
        """Fewest samples log_mel takes: one FFT window (its centred frames pad by half one)."""
        return self.n_fft

    @property
    def prior_frames(self) -> int:
        """Frames the running mean's prior counts as (prior_ms of frames)."""
        return round(self.prior_ms / self.hop_ms)

    def num_frames(self, num_samples: int) -> int:
        """Frames log_mel yields for a signal of num_samples (centred STFT)."""
        return num_samples // self.hop_length + 1


def upgrade_features(values: dict) -> dict:
    """A feature config saved before `normalisation` replaced two booleans, as it is now."""
    values = dict(values)
    utterance, speaker = values.pop("utterance_mean", False), values.pop("speaker_mean", False)
    if "normalisation" not in values:
        values["normalisation"] = "speaker" if speaker else "utterance" if utterance else "global"
    return values


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


def log_mel(wave: torch.Tensor, config: FeatureConfig, center: bool = True) -> torch.Tensor:
    """wave (..., samples) -> natural-log mel power (..., time, n_mels).

    center: frame t is centred on sample t * hop of the signal reflect-padded by n_fft // 2
    (what every model sees); False starts it at sample t * hop, unpadded (a stream's inner
    frames, asr.inference.stream)."""
    window, fbank = _filters(config)
    spec = torch.stft(
        wave,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=window.to(wave.device),
        center=center,
        pad_mode="reflect",
        return_complex=True,
    )  # (..., freq, time)
    power = spec.real.square() + spec.imag.square()
    mel = power.transpose(-1, -2) @ fbank.to(wave.device)  # (..., time, n_mels)
    return mel.clamp(min=LOG_FLOOR).log()


def log_mel_batch(
    waves: torch.Tensor, samples: torch.Tensor, config: FeatureConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """waves (batch, samples) zero-padded, samples (batch,) -> log-mels (batch, time, n_mels)
    and frames (batch,): each file's frames as `log_mel` of it alone, frames past its own end
    zero, in one STFT over the batch on the waves' device.

    `log_mel` reflect-pads a file's two ends by n_fft // 2 (torch's "reflect": the edge sample
    is not repeated); here each file's right-hand reflection is written at its own end, not the
    batch's, then an uncentred STFT over the batch gives the same frames as file by file."""
    pad = config.n_fft // 2
    if int(samples.min()) <= pad:
        raise AsrError(
            f"features: a wave of {int(samples.min())} samples is too short to "
            f"reflect-pad by {pad} (load_audio pads to FeatureConfig.min_samples)"
        )
    samples = samples.to(waves.device)
    padded = torch.nn.functional.pad(waves, (pad, pad))  # (batch, pad + samples + pad)
    padded[:, :pad] = waves[:, 1 : pad + 1].flip(1)  # samples pad .. 1
    back = torch.arange(pad, device=waves.device)  # (pad,)
    source = (samples - 2)[:, None] - back  # (batch, pad): samples last - 1, last - 2, ...
    padded.scatter_(1, pad + samples[:, None] + back, waves.gather(1, source))
    feats = log_mel(padded, config, center=False)  # (batch, time, n_mels)
    frames = samples // config.hop_length + 1  # (batch,) as FeatureConfig.num_frames
    valid = torch.arange(feats.shape[1], device=feats.device) < frames[:, None]
    return feats * valid[..., None], frames.cpu()  # (batch, time, n_mels), (batch,)


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
