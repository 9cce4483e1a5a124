"""Greedy (best-path) CTC decoding over log-probabilities; pure functions."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["greedy_decode"]


def greedy_decode(log_probs: Tensor, lengths: Tensor, blank: int = 0) -> list[list[int]]:
    """log_probs (batch, time, vocab), lengths (batch,) -> token ids per utterance.

    Takes the best symbol per frame, merges repeats, then drops blanks.
    """
    best = log_probs.argmax(dim=-1)  # (batch, time)
    # A frame starts a new symbol where it differs from the previous frame.
    changed = torch.ones_like(best, dtype=torch.bool)
    changed[:, 1:] = best[:, 1:] != best[:, :-1]
    keep = changed & (best != blank)  # (batch, time)
    return [best[i, : int(n)][keep[i, : int(n)]].tolist() for i, n in enumerate(lengths.tolist())]
