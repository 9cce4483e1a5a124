"""Checkpoint averaging: the element-wise mean of the weights of a run's best epochs.

The epochs near the end of a run sit at different points of one basin of the loss; their mean
usually generalises better than any one of them (ESPnet, WeNet and fairseq all ship it, and
average the N best by dev score). Training (asr.train) keeps the N best epochs' files in its
output folder as it goes, so an interrupted run resumes with them, and averages them at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch

from asr.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

__all__ = [
    "Kept",
    "average_weights",
    "averaged",
    "epoch_path",
    "keep_best",
    "keep_epoch",
    "prune_epochs",
]

# (dev WER, dev loss, epoch) of an epoch whose weights are kept, best first.
Kept = tuple[float, float, int]


def keep_best(kept: Sequence[Kept], score: tuple[float, float], epoch: int, n: int) -> list[Kept]:
    """The `n` best of `kept` and this epoch's score, best first (an earlier epoch wins a tie)."""
    return sorted([*kept, (*score, epoch)])[:n]  # tuples order by WER, loss, then epoch


def average_weights(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of same-shaped state dicts. Integer buffers (BatchNorm's count of batches) are
    not weights: they are taken from the first, the best epoch's."""
    if not states:
        raise ValueError("average_weights: no state dicts")
    averaged = {}
    for name, first in states[0].items():
        if first.is_floating_point():
            averaged[name] = torch.stack([s[name].float() for s in states]).mean(0).to(first.dtype)
        else:
            averaged[name] = first.clone()
    return averaged


def epoch_path(out: Path, epoch: int) -> Path:
    return out / f"epoch-{epoch}.pt"


def keep_epoch(
    out: Path, kept: Sequence[Kept], score: tuple[float, float], epoch: int, n: int,
    ckpt: Checkpoint,
) -> list[Kept]:  # fmt: skip
    """The new best-`n` list, with this epoch's model file written if it is among them. The
    files it drops are removed by prune_epochs, once the resumable state names the new list."""
    best = keep_best(kept, score, epoch, n)
    if any(e == epoch for *_, e in best):
        save_checkpoint(epoch_path(out, epoch), ckpt)
    return best


def prune_epochs(out: Path, kept: Sequence[Kept]) -> None:
    """Remove the epoch files that are not among `kept`."""
    names = {epoch_path(out, e).name for *_, e in kept}
    for path in out.glob("epoch-*.pt"):
        if path.name not in names:
            path.unlink()


def averaged(out: Path, kept: Sequence[Kept]) -> Checkpoint:
    """The kept epochs' mean, with the best one's configs, vocabulary and statistics."""
    ckpts = [load_checkpoint(epoch_path(out, e)) for *_, e in kept]
    metadata = {**ckpts[0].metadata, "averaged_epochs": [e for *_, e in kept]}
    weights = average_weights([c.state_dict for c in ckpts])
    return dataclasses.replace(ckpts[0], state_dict=weights, metadata=metadata)
