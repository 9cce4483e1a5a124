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

__all__ = ["TokenSpan", "best_path_score", "forced_align", "merge_tokens"]


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
    result = _viterbi(log_probs, targets, blank, backtrack=True)
    if result is None:
        return None
    labels, path = result
    return labels[path], log_probs[np.arange(len(log_probs)), labels[path]]


def best_path_score(log_probs: np.ndarray, targets: Sequence[int], blank: int = 0) -> float | None:
    """The summed log-prob (time, vocab) of the targets' best path: `forced_align`'s scores
    summed, without tracing the path back; None when the frames cannot hold the targets."""
    return _viterbi(np.asarray(log_probs, dtype=np.float32), targets, blank, backtrack=False)


def _viterbi(log_probs: np.ndarray, targets: Sequence[int], blank: int, backtrack: bool):
    """The recursion: with `backtrack`, (labels (states,), the path's state per frame (time,));
    without, the best path's score; None when no path exists."""
    frames = len(log_probs)
    labels = np.full(2 * len(targets) + 1, blank, dtype=np.int64)  # blank, y1, blank, y2, ...
    labels[1::2] = targets
    states = len(labels)
    repeats = sum(a == b for a, b in zip(targets, targets[1:], strict=False))  # pairs
    if frames < len(targets) + repeats:
        return None
    # A label state may skip the blank before it unless it repeats the label two states back.
    jump_ok = np.full(states, -np.inf, dtype=np.float32)
    jump_ok[2:][(labels[2:] != blank) & (labels[2:] != labels[:-2])] = 0.0
    emit = log_probs[:, labels]  # (time, states)
    # Two states of -inf before state 0, so a state's predecessors are slices of one buffer.
    score = np.full(states + 2, -np.inf, dtype=np.float32)
    score[2:4] = emit[0, :2]
    back = np.zeros((frames, states), dtype=np.int8) if backtrack else None  # states back
    for t in range(1, frames):
        stay, step, jump = score[2:], score[1:-1], score[:-2] + jump_ok
        best = np.maximum(stay, step)  # ties keep the earlier option: stay, then step
        if backtrack:
            back[t] = step > stay
            back[t][jump > best] = 2
        np.maximum(best, jump, out=best)
        score[2:] = best + emit[t]
    score = score[2:]
    end = states - 1 if states == 1 or score[-1] > score[-2] else states - 2
    if not np.isfinite(score[end]):
        return None
    if not backtrack:
        return float(score[end])
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = end
        end -= int(back[t, end])  # back is int8: end must stay a Python int
    return labels, path


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
