"""What the log-mel features are (`FeatureConfig`), apart from the torch code computing them
(`asr.features`), so that a model's settings load where torch does not (the ONNX path)."""

from __future__ import annotations

from dataclasses import dataclass

from asr.errors import AsrError

NORMALISATIONS = ("global", "utterance", "speaker", "running")  # see asr.normalise

__all__ = ["NORMALISATIONS", "FeatureConfig", "upgrade_features"]


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
