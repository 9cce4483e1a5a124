"""CTC forced alignment in numpy: the best path of one utterance's frames through its labels.

The Viterbi recursion over the label sequence with a blank before, between and after the
labels, as torchaudio's `forced_align` (whose CPU kernel follows flashlight's CTC criterion);
written over numpy arrays so that confidence and word timing run without torch, in the ONNX
transcribe path as in the PyTorch one. Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["TokenSpan", "forced_align", "merge_tokens"]


class TokenSpan(NamedTuple):
    token: int
    start: int  # first frame
    end: int  # one past the last frame
    score: float  # mean posterior over the span's frames


def forced_align(
    log_probs: np.ndarray, targets: Sequence[int], blank: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """log_probs (time, vocab), targets (labels,) without blanks -> the best path's label per
    frame (time,) and that label's log-prob per frame (time,); None when the frames cannot hold
    the targets (CTC needs a frame per label and a blank between repeats)."""
    log_probs = np.asarray(log_probs, dtype=np.float32)
    frames = len(log_probs)
    labels = np.full(2 * len(targets) + 1, blank, dtype=np.int64)  # blank, y1, blank, y2, ...
    labels[1::2] = targets
    states = len(labels)
    repeats = sum(a == b for a, b in zip(targets, targets[1:], strict=False))  # pairs
    if frames < len(targets) + repeats:
        return None
    # A label state may skip the blank before it unless it repeats the label two states back.
    skip = np.zeros(states, dtype=bool)
    skip[2:] = (labels[2:] != blank) & (labels[2:] != labels[:-2])
    emit = log_probs[:, labels]  # (time, states)
    score = np.full(states, -np.inf, dtype=np.float32)
    score[:2] = emit[0, :2]
    back = np.zeros((frames, states), dtype=np.int8)  # how many states back each one came from
    for t in range(1, frames):
        stay = score
        step = np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        options = np.stack([stay, step, jump])  # (3, states); ties keep the earlier option
        back[t] = options.argmax(0)
        score = options.max(0) + emit[t]
    end = states - 1 if states == 1 or score[-1] > score[-2] else states - 2
    if not np.isfinite(score[end]):
        return None
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = end
        end -= back[t, end]
    return labels[path], emit[np.arange(frames), path]


def merge_tokens(labels: np.ndarray, probs: np.ndarray, blank: int = 0) -> list[TokenSpan]:
    """A frame-level path (time,) and its posteriors (time,) -> one span per run of a label
    (blanks dropped), scored by its mean posterior."""
    spans = []
    starts = np.flatnonzero(np.diff(labels, prepend=-1) != 0)
    ends = np.append(starts[1:], len(labels))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if labels[start] != blank:
            score = float(probs[start:end].mean())
            spans.append(TokenSpan(int(labels[start]), start, end, score))
    return spans
