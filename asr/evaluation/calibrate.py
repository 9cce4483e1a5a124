"""Fit the rejection curve on dev: in-vocabulary utterances against out-of-vocabulary speech.

The gap, the foreign share and the entropy (see `asr.decoding.confidence`) are mapped to a
probability by a logistic regression (Newton's method: four parameters, a few hundred points);
the threshold is the highest confidence that still accepts all but `max_false_rejection` of the
in-vocabulary dev utterances, so test speakers never tune it. AUROC and both rejection rates
are reported for dev here and for test by `evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.checkpoint import load_checkpoint, save_checkpoint
from asr.config import config_to_dict
from asr.decoding.confidence import (
    Evidence,
    RejectionConfig,
    confidence,
    evidence,
    foreign_ids,
    rejects,
)
from asr.errors import AsrError
from asr.evaluation.tune import path_beside
from asr.inference.recognizer import Recognizer
from asr.manifest import read_manifest

__all__ = [
    "RejectionRates",
    "auroc",
    "calibrate",
    "fit_logistic",
    "pick_threshold",
    "rejection_rates",
    "save_calibrated",
    "utterance_evidence",
]

Scored = tuple[Evidence, str]  # an utterance's evidence and the transcript it scores


@dataclass(frozen=True)
class RejectionRates:
    auroc: float  # P(an in-vocabulary utterance scores above an out-of-vocabulary one)
    in_vocab_rejected: float  # share of in-vocabulary utterances rejected
    oov_rejected: float  # share of out-of-vocabulary utterances rejected
    in_vocab: int  # utterances of each kind
    oov: int


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> tuple:
    """x (n, k) features, y (n,) 0/1 labels -> (weights (k,), bias) of
    P(y=1) = sigmoid(x @ weights + bias)."""
    if len(set(y.tolist())) < 2:
        raise AsrError(
            "rejection: calibration needs in-vocabulary and out-of-vocabulary utterances"
        )
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)  # (n, k + 1)
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -30, 30)))  # (n,)
        grad = design.T @ (p - y) + l2 * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1].copy(), float(w[-1])


def pick_threshold(in_vocab: Sequence[float], max_false_rejection: float) -> float:
    """A confidence rejecting as many of `in_vocab` as `max_false_rejection` allows, midway
    between the last rejected score and the first accepted one (a threshold equal to a dev
    score would flip that utterance with float rounding); when the zero confidences (rejected
    at any threshold) are already more, midway below the lowest other score."""
    scores = np.sort(np.asarray(in_vocab))
    heard = scores[scores > 0]
    if not len(heard):
        return 0.5
    allowed = int(np.floor(max_false_rejection * len(scores)))  # may be rejected
    if scores[allowed] == 0 or allowed == 0:
        return float(heard[0] / 2)
    return float((scores[allowed - 1] + scores[allowed]) / 2)


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Mann-Whitney: the share of (positive, negative) pairs ranked right, ties half."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.concatenate([pos, neg])
    ranks = _average_ranks(order)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_vals = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_vals[end] != sorted_vals[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return ranks


def rejection_rates(
    in_vocab: Sequence[float], oov: Sequence[float], threshold: float
) -> RejectionRates:
    """Confidences of both kinds against the threshold (below it: rejected)."""
    iv, ov = np.asarray(in_vocab, float), np.asarray(oov, float)
    return RejectionRates(
        auroc=auroc(iv, ov),
        in_vocab_rejected=float(_rejected(iv, threshold).mean()) if len(iv) else float("nan"),
        oov_rejected=float(_rejected(ov, threshold).mean()) if len(ov) else float("nan"),
        in_vocab=len(iv),
        oov=len(ov),
    )


def _rejected(confidences: np.ndarray, threshold: float) -> np.ndarray:
    """`rejects` of each confidence (n,) -> (n,) bool."""
    return np.array([rejects(float(c), threshold) for c in confidences], dtype=bool)


def utterance_evidence(
    recognizer: Recognizer, manifest: Path, batch_seconds: float, foreign: tuple[int, ...]
) -> list[Scored]:
    """(evidence, transcript) of every readable utterance of `manifest`, `foreign` the ids of
    the characters no vocabulary word has; see asr.decoding.confidence."""
    utterances = read_manifest(manifest)
    if not utterances:
        raise AsrError(f"{manifest}: no usable utterances to calibrate on")
    normaliser = recognizer.normaliser_for(utterances)
    transcripts = recognizer.transcribe(utterances, batch_seconds, True, normaliser=normaliser)
    scored = []
    for t in tqdm(
        transcripts, total=len(utterances),
        desc=f"calibrate {manifest.name}", unit="utt", disable=None,
    ):  # fmt: skip
        if t.error is None:
            scored.append((evidence(t.log_probs, t.nbest[0].tokens, foreign), t.text))
    return scored


def calibrate(
    recognizer: Recognizer,
    in_vocab: Path,
    oov: Sequence[Path],
    words: Sequence[str],
    max_false_rejection: float = 0.01,
    batch_seconds: float = 120.0,
) -> tuple[RejectionConfig, RejectionRates]:
    """Fit the confidence curve and threshold on dev manifests of in-vocabulary speech
    (`in_vocab`) and of other speech (`oov`), with the recognizer's decoding; their rates."""
    words = tuple(sorted(set(words)))
    foreign = foreign_ids(recognizer.vocab.symbols, words)
    positive = utterance_evidence(recognizer, in_vocab, batch_seconds, foreign)
    negative = [
        e for path in oov for e in utterance_evidence(recognizer, path, batch_seconds, foreign)
    ]
    x = np.array([list(e) for e, _ in positive + negative])  # (utterances, evidence)
    y = np.array([1.0] * len(positive) + [0.0] * len(negative))
    (scale, foreign_scale, entropy_scale), bias = fit_logistic(x, y)
    fitted = RejectionConfig(
        float(scale), bias, 0.0, words, float(foreign_scale), float(entropy_scale)
    )
    pos = [confidence(e, text, fitted) for e, text in positive]
    neg = [confidence(e, text, fitted) for e, text in negative]
    config = replace(fitted, threshold=pick_threshold(pos, max_false_rejection))
    return config, rejection_rates(pos, neg, config.threshold)


def save_calibrated(model: Path, out: Path, config: RejectionConfig, rates: RejectionRates) -> None:
    """Copy checkpoint `model` to `out` (may be the same file) with the rejection settings."""
    ckpt = load_checkpoint(model)
    if ckpt.decoding is not None:  # loading made its paths absolute: keep shipped files beside
        ckpt.decoding = replace(
            ckpt.decoding,
            **{
                key: path_beside(Path(getattr(ckpt.decoding, key)), out)
                for key in ("lm", "lexicon")
                if getattr(ckpt.decoding, key) is not None
            },
        )
    ckpt.rejection = config_to_dict(config)
    ckpt.metadata = {**ckpt.metadata, "rejection_dev": asdict(rates)}
    save_checkpoint(out, ckpt)
