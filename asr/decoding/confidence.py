"""Utterance confidence: how far the best in-vocabulary transcript falls below the best path.

A model trained on its vocabulary *and* on other speech (speechocean762's read sentences) spells
what it hears: on a digit string its best path spells digit words, on "we call it bear" it
spells other letters. The decoder's hypothesis (a lexicon beam outputs vocabulary words only) is
forced-aligned to the log-probs, and its per-frame log-prob deficit against the unconstrained
best path, the `gap`, measures how far the vocabulary had to bend what the model heard: near 0
for in-vocabulary speech, large for anything else (a filler model, as keyword spotters use).
The second piece of evidence is the `foreign` share: of the posterior mass the model puts on
characters (not blank), the part on characters no vocabulary word spells ("l", "m", "p"...): 0
for a digit however badly heard, large for "we call it bear". The third is the `entropy` of
the posterior per frame: how unsure the model is of what it heard at all. A logistic curve in
the three, fitted on dev (`asr.evaluation.calibrate`), maps them to a probability that the
audio is speech in the vocabulary; below the stored threshold, the audio is rejected. With the
gap alone, dev AUROC was 0.906; with the foreign share, 0.980; the entropy took the share of
other dev speech rejected from 77 to 83 % at the same false rejections (recipes/voices/RESULTS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from asr.decoding.forced import best_path_score
from asr.text import SPACE

__all__ = [
    "NO_PATH_GAP", "Evidence", "RejectionConfig", "confidence", "evidence", "foreign_ids",
    "foreign_share", "mean_entropy", "rejects", "vocabulary_gap",
]  # fmt: skip

NO_PATH_GAP = 50.0  # nats per frame: a hypothesis the frames cannot hold matches nothing


@dataclass(frozen=True)
class RejectionConfig:
    """Stored in a checkpoint by `asr calibrate`: fitted and thresholded on dev, never on test."""

    scale: float  # logistic slope per nat of gap (negative: a larger gap, less confidence)
    bias: float  # logistic offset
    threshold: float  # a confidence below this rejects the audio
    words: tuple[str, ...]  # the vocabulary: a transcript with any other word is rejected
    foreign_scale: float = 0.0  # slope per unit of foreign share (0: calibrated on the gap alone)
    entropy_scale: float = 0.0  # slope per nat of entropy (0: calibrated without it)


class Evidence(NamedTuple):
    """What one decoded utterance gives the confidence curve (a long file: frame-weighted)."""

    gap: float  # nats per frame below the best path
    foreign: float  # share (0-1) of the spoken posterior mass on letters no word spells
    entropy: float = 0.0  # nats per frame: the posterior's mean entropy


def vocabulary_gap(log_probs, tokens: tuple[int, ...] | list[int]) -> float:
    """log_probs (time, vocab) of one utterance (numpy or a CPU tensor) and its hypothesis (ids,
    no blanks) -> nats per frame by which the hypothesis' best alignment falls below the best
    path (>= 0)."""
    log_probs = np.asarray(log_probs, dtype=np.float32)
    frames = len(log_probs)
    if frames == 0:
        return NO_PATH_GAP
    best = float(log_probs.max(-1).sum())
    if not tokens:  # the all-blank path
        return max(0.0, best - float(log_probs[:, 0].sum())) / frames
    aligned = best_path_score(log_probs, list(tokens))
    if aligned is None:  # fewer frames than the tokens need
        return NO_PATH_GAP
    return max(0.0, best - aligned) / frames


def foreign_ids(symbols: tuple[str, ...], words: tuple[str, ...]) -> tuple[int, ...]:
    """Ids of the alphabet's characters (not blank 0, not space) that no word of `words` has."""
    used = set("".join(words)) | {SPACE}
    return tuple(i for i, s in enumerate(symbols) if i > 0 and s not in used)


def foreign_share(log_probs, foreign: tuple[int, ...]) -> float:
    """log_probs (time, vocab) -> the share (0-1) of the non-blank posterior mass on `foreign`."""
    if not foreign or not len(log_probs):
        return 0.0
    probs = np.exp(np.asarray(log_probs, dtype=np.float32))  # (time, vocab)
    spoken = float((1 - probs[:, 0]).sum())
    return float(probs[:, list(foreign)].sum()) / spoken if spoken > 1e-6 else 0.0


def mean_entropy(log_probs) -> float:
    """log_probs (time, vocab) -> the posterior's entropy in nats, averaged over frames."""
    if not len(log_probs):
        return 0.0
    log_probs = np.asarray(log_probs, dtype=np.float32)
    return float(-(np.exp(log_probs) * log_probs).sum(-1).mean())


def evidence(log_probs, tokens: tuple[int, ...] | list[int], foreign: tuple[int, ...]) -> Evidence:
    """The evidence of one decoded utterance: its log_probs (time, vocab; numpy or a CPU
    tensor), its hypothesis' ids
    and the ids of the characters no vocabulary word has."""
    return Evidence(
        vocabulary_gap(log_probs, tokens), foreign_share(log_probs, foreign),
        mean_entropy(log_probs),
    )  # fmt: skip


def confidence(evidence: Evidence, text: str, config: RejectionConfig) -> float:
    """Probability (0-1) that the audio is speech in the vocabulary; 0 for an empty transcript
    or one with a word outside it."""
    words = text.split()
    if not words or any(w not in config.words for w in words):
        return 0.0
    z = (
        config.scale * evidence.gap + config.foreign_scale * evidence.foreign
        + config.entropy_scale * evidence.entropy + config.bias
    )  # fmt: skip
    if z < 0:  # exp(-z) would overflow for a gap far out on the curve
        return math.exp(z) / (1.0 + math.exp(z))
    return 1.0 / (1.0 + math.exp(-z))


def rejects(confidence: float, threshold: float) -> bool:
    """Below the threshold, or nothing of the vocabulary heard (confidence 0: an empty
    transcript or a word outside it) whatever the threshold."""
    return confidence < threshold or confidence == 0.0
