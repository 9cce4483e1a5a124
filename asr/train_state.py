"""A training run's position, as a resumable checkpoint carries it beside the weights."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from asr.averaging import Kept

__all__ = ["Progress", "restore", "resume_state"]


@dataclass
class Progress:
    """Run state that a resumable checkpoint carries, apart from the weights."""

    epoch: int = 0  # epochs fully done
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps in all
    best_score: tuple[float, float] = (math.inf, math.inf)  # (dev WER, dev loss) or train loss
    stale_epochs: int = 0  # epochs since the best score
    loss_sum: float = 0.0  # training losses of the current epoch's steps, so that a resumed
    loss_steps: int = 0  # epoch still reports (and early-stops on) the whole epoch's mean
    kept: list[Kept] = field(default_factory=list)  # epochs whose files average_best averages

    def end_epoch(self, score: tuple[float, float]) -> None:
        self.epoch, self.batch = self.epoch + 1, 0
        self.loss_sum, self.loss_steps = 0.0, 0
        if score < self.best_score:
            self.best_score, self.stale_epochs = score, 0
        else:
            self.stale_epochs += 1


def resume_state(optimizer, scheduler, progress: Progress) -> dict:
    """What last.pt carries besides the weights: optimizer, schedule, RNG and position."""
    return {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": torch.get_rng_state(),
        "progress": vars(progress).copy(),
    }


def restore(state: dict, optimizer, scheduler) -> Progress:
    """resume_state undone: the optimizer, schedule and RNG set, and the position returned."""
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    progress = Progress(**state["progress"])  # a file from before `kept` existed has none
    progress.best_score = tuple(progress.best_score)
    progress.kept = [tuple(k) for k in progress.kept]
    return progress
