"""Greedy (best-path) CTC decoding over log-probabilities; pure functions."""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_decode"]


def greedy_decode(log_probs, lengths, blank: int = 0) -> list[list[int]]:
    """log_probs (batch, time, vocab), lengths (batch,): numpy arrays or CPU tensors -> token ids
    per utterance.

    Takes the best symbol per frame, merges repeats, then drops blanks.
    """
    best = np.asarray(log_probs).argmax(-1)  # (batch, time)
    # A frame starts a new symbol where it differs from the previous frame.
    changed = np.ones_like(best, dtype=bool)
    changed[:, 1:] = best[:, 1:] != best[:, :-1]
    keep = changed & (best != blank)  # (batch, time)
    return [best[i, :n][keep[i, :n]].tolist() for i, n in enumerate(np.asarray(lengths).tolist())]
