"""Feature normalisation as one object: what is subtracted from each utterance's log-mels, then
the training set's per-bin mean and std (global CMVN).

`FeatureConfig.normalisation` chooses what comes off first:
- "global": nothing; only the training-set statistics.
- "utterance": the utterance's own per-bin mean (gain and channel invariance: a gain or a fixed
  channel response is an additive per-bin constant in the log domain).
- "speaker": the speaker's per-bin mean over all their utterances in the manifest at hand
  (Kaldi's CMN by utt2spk): a short word's own mean removes part of the word too. An utterance
  with no speaker (a file given alone) falls back to its own mean.
- "running": each frame less the mean of the frames up to it (online CMN): the gain and
  channel invariance of "utterance" for a stream, which cannot wait for the utterance's end.
  Training sees the same causal means, so a stream normalises as training did from its first
  frame (`Normaliser.streaming` carries the sums across chunks). With `FeatureConfig.prior_ms`,
  the sums start from the training set's mean log-mels counted as that many frames (Kaldi's
  online CMVN prior): without it a file's first frame is centred to zero and a short word on
  its own mostly cancels itself out.

A `Normaliser` is built once: by `fit_normaliser` on the training set, or from a checkpoint's
statistics, and `for_speakers` adds the speaker means of the utterances about to be processed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor
from tqdm import tqdm

from asr.audio import load_audio
from asr.errors import AsrError
from asr.features import NORMALISATIONS, FeatureConfig, log_mel
from asr.manifest import Utterance

logger = logging.getLogger(__name__)

__all__ = ["Normaliser", "StatsAccumulator", "fit_normaliser", "running_centre"]


def running_centre(
    feats: Tensor, total: Tensor | None = None, count: int = 0
) -> tuple[Tensor, Tensor, int]:
    """feats (..., time, n_mels) less, at each frame, the mean of the frames up to it, counting
    `count` earlier frames whose sum is `total` (..., n_mels); -> (centred, new total, count)."""
    sums = feats.cumsum(-2)  # (..., time, n_mels)
    if total is not None:
        sums = sums + total.unsqueeze(-2)
    frames = torch.arange(1, feats.shape[-2] + 1, device=feats.device) + count  # (time,)
    centred = feats - sums / frames[:, None].to(feats)
    last = sums[..., -1, :] if feats.shape[-2] else total
    return centred, last, count + feats.shape[-2]


def _prior_sums(
    prior: Tensor | None, frames: int, device: torch.device | None = None
) -> tuple[Tensor | None, int]:
    """The frame sum (n_mels,) and count a file's running mean starts from: `frames` frames of
    `prior` (n_mels,), or none."""
    if prior is None or not frames:
        return None, 0
    return (prior * frames).to(device), frames


@dataclass(frozen=True)
class Normaliser:
    mode: str  # one of NORMALISATIONS: what each utterance loses before the global statistics
    mean: Tensor  # (n_mels,) training-set mean of the features after that subtraction
    std: Tensor  # (n_mels,)
    speaker_means: Mapping[str, Tensor] = field(default_factory=dict)  # speaker -> (n_mels,)
    # "running": the training set's mean log-mels (n_mels,), counted as prior_frames frames
    # before each file's first; None: no prior.
    prior: Tensor | None = None
    prior_frames: int = 0

    def __post_init__(self) -> None:
        if self.mode not in NORMALISATIONS:
            raise AsrError(f"normalisation must be one of {NORMALISATIONS}, got {self.mode!r}")

    def centre(self, feats: Tensor, speaker: str | None = None) -> Tensor:
        """log-mels (time, n_mels) less their speaker's or their own mean, as `mode` says: what
        the global statistics are computed on."""
        if self.mode == "global":
            return feats
        if self.mode == "running":
            return self._running(feats)
        return feats - self._offset(feats.mean(0), speaker)

    def _running(self, feats: Tensor) -> Tensor:
        """feats (..., time, n_mels) less the running mean, the prior's frames counted first."""
        start = _prior_sums(self.prior, self.prior_frames, feats.device)
        return running_centre(feats, *start)[0]

    def _offset(self, own: Tensor, speaker: str | None) -> Tensor:
        """(n_mels,) what a non-global mode takes off an utterance whose own mean is `own`: its
        speaker's mean when known and the mode is "speaker", else `own`."""
        if self.mode == "speaker" and speaker in self.speaker_means:
            return self.speaker_means[speaker]
        return own

    def __call__(self, feats: Tensor, speaker: str | None = None) -> Tensor:
        """log-mels (time, n_mels) -> the model's input (time, n_mels)."""
        return (self.centre(feats, speaker) - self.mean) / self.std

    def batch(
        self, feats: Tensor, frames: Tensor, speakers: Sequence[str | None] | None = None
    ) -> Tensor:
        """log-mels (batch, time, n_mels), zero past frames (batch,) -> the model's input, each
        file as `self(its frames, its speaker)` and its padding still zero: a file's text never
        depends on its batch-mates, and the conv sees what it sees of a file alone."""
        frames = frames.to(feats.device)
        valid = torch.arange(feats.shape[1], device=feats.device) < frames[:, None]  # (batch, time)
        if self.mode == "running":  # causal: a file's frames never see its padding
            feats = self._running(feats)
        elif self.mode != "global":
            own = feats.sum(1) / frames[:, None]  # (batch, n_mels): own means (padding is 0)
            if self.mode == "speaker":
                speakers = speakers or [None] * len(feats)
                own = torch.stack([self._offset(m, s) for m, s in zip(own, speakers, strict=True)])
            feats = feats - own.to(feats)[:, None]  # (batch, time, n_mels)
        mean, std = self.mean.to(feats.device), self.std.to(feats.device)
        return (feats - mean) / std * valid[..., None]  # (batch, time, n_mels)

    def streaming(self) -> Callable[[Tensor], Tensor]:
        """A normaliser for one stream's consecutive chunks of frames (time, n_mels): their
        outputs joined equal `self(all frames)`. Only the causal modes can stream."""
        if self.mode == "global":
            return self
        if self.mode != "running":
            raise AsrError(
                f"the model normalises by the {self.mode} mean, which a stream has not heard "
                "yet; stream a model trained with normalisation = 'running' or 'global'"
            )
        # The frames so far (the prior's first): their sum (n_mels,) and count.
        state = list(_prior_sums(self.prior, self.prior_frames))

        def normalise(feats: Tensor) -> Tensor:
            centred, state[0], state[1] = running_centre(feats, *state)
            return (centred - self.mean) / self.std

        return normalise

    def for_speakers(self, utterances: Sequence[Utterance], config: FeatureConfig) -> Normaliser:
        """This normaliser with the speaker means of `utterances` (one pass over their audio,
        transcripts unused, so a test speaker's mean comes from their test audio as Kaldi's CMN
        does); itself unless mode is "speaker". Unreadable files are skipped quietly: whoever
        processes them reports them."""
        if self.mode != "speaker":
            return self
        stats: dict[str, StatsAccumulator] = {}
        labelled = [u for u in utterances if u.speaker is not None]
        for utt, wave in _readable_waves(labelled, config, "speaker means", warn=False):
            acc = stats.setdefault(utt.speaker, StatsAccumulator(config.n_mels))
            acc.add(log_mel(wave, config))
        return replace(self, speaker_means={s: acc.result()[0] for s, acc in stats.items()})


def fit_normaliser(
    utterances: Sequence[Utterance], config: FeatureConfig, max_utterances: int | None = None
) -> Normaliser:
    """The training set's normaliser, statistics and speaker means from one pass over its audio.

    Each group (the whole set, an utterance, or a speaker, as config.normalisation says) keeps
    its own frame sums; the statistics after subtracting each group's mean follow from them, so
    the audio is read once. "global", "utterance" and "running" read a spread subset of at most
    `max_utterances`; "speaker" reads every utterance, as a speaker's mean needs them all.
    A running prior (config.prior_ms) is the subset's mean log-mels, taken before the centring.
    """
    mode = config.normalisation
    if mode != "speaker" and max_utterances:
        utterances = utterances[:: max(1, math.ceil(len(utterances) / max_utterances))]
    waves = _readable_waves(utterances, config, "feature stats")
    keyed: Iterable[tuple[object, Tensor]] = (
        (_group(mode, utt, i), log_mel(wave, config)) for i, (utt, wave) in enumerate(waves)
    )
    prior = None
    if config.prior_frames:  # the centring needs the prior: the subset's log-mels are kept
        keyed = list(keyed)
        if keyed:
            raw = StatsAccumulator(config.n_mels)
            for _, feats in keyed:
                raw.add(feats)
            prior = raw.result()[0]
    start = _prior_sums(prior, config.prior_frames)
    groups: dict[object, StatsAccumulator] = {}
    for key, feats in keyed:
        if mode == "running":  # centred frame by frame: then as "global"
            feats = running_centre(feats, *start)[0]
        groups.setdefault(key, StatsAccumulator(config.n_mels)).add(feats)
    if not groups:
        raise AsrError("no readable audio to compute feature statistics from")
    count = sum(g.count for g in groups.values())
    total = torch.zeros(config.n_mels, dtype=torch.float64)
    squares = torch.zeros(config.n_mels, dtype=torch.float64)
    for key, g in groups.items():
        # Frames of group g less the group mean m: sum x - n m and sum x^2 - 2 m sum x + n m^2.
        # The one group of the modes that take no group's mean (key None) keeps m = 0.
        m = torch.zeros_like(g.total) if key is None else g.total / g.count
        total += g.total - g.count * m
        squares += g.squares - 2 * m * g.total + g.count * m.square()
    mean = total / count
    std = (squares / count - mean.square()).clamp(min=1e-8).sqrt()
    speakers = {}
    if mode == "speaker":
        speakers = {k: (g.total / g.count).float() for k, g in groups.items() if isinstance(k, str)}
    return Normaliser(mode, mean.float(), std.float(), speakers, prior, config.prior_frames)


def _group(mode: str, utt: Utterance, index: int) -> object:
    """Whose mean an utterance loses: nobody's (one group), its own, or its speaker's."""
    if mode in ("global", "running"):
        return None
    if mode == "speaker" and utt.speaker is not None:
        return utt.speaker
    return index  # its own group; never equal to a speaker name (a str)


class StatsAccumulator:
    """Running per-bin mean and std over many utterances (float64 sums, so order-independent)."""

    def __init__(self, n_mels: int):
        self.count = 0
        self.total = torch.zeros(n_mels, dtype=torch.float64)
        self.squares = torch.zeros(n_mels, dtype=torch.float64)

    def add(self, feats: Tensor) -> None:
        """feats (time, n_mels)."""
        feats = feats.double()
        self.count += feats.shape[0]
        self.total += feats.sum(0)
        self.squares += feats.square().sum(0)

    def result(self) -> tuple[Tensor, Tensor]:
        """(mean, std), each (n_mels,) float32."""
        if self.count == 0:
            raise ValueError("no frames accumulated")
        mean = self.total / self.count
        var = (self.squares / self.count - mean.square()).clamp(min=1e-8)
        return mean.float(), var.sqrt().float()


def _readable_waves(
    utterances: Sequence[Utterance], config: FeatureConfig, desc: str, warn: bool = True
) -> Iterator[tuple[Utterance, Tensor]]:
    """(utterance, wave (samples,)) for each utterance whose audio loads, with progress; one
    that does not is skipped, with a warning if `warn`."""
    for utt in tqdm(utterances, desc=desc, unit="utt", disable=None):
        try:
            wave = load_audio(utt.audio_filepath, config.sample_rate, config.min_samples)
        except AsrError as err:
            (logger.warning if warn else logger.debug)("skipped: %s", err)
            continue
        yield utt, wave
