"""Batches by duration: consecutive files of a length order, cut where padding would pass a
budget. A pure function, shared by training's sampler and transcription (which runs without
torch in the ONNX path)."""

from __future__ import annotations

from collections.abc import Sequence

MAX_BATCH = 512  # files in a batch at most, however short they are

__all__ = ["MAX_BATCH", "duration_batches"]


def duration_batches(
    order: Sequence[int], durations: Sequence[float], max_seconds: float, max_batch: int = MAX_BATCH
) -> list[list[int]]:
    """Indices in `order` (by duration, e.g. sorted) cut into batches whose padded size (count x
    longest duration) stays under `max_seconds`, and of at most `max_batch`; a file longer than
    the budget is a batch of its own."""
    batches, current, longest = [], [], 0.0
    for i in order:
        longest_if_added = max(longest, durations[i])
        too_big = longest_if_added * (len(current) + 1) > max_seconds
        if current and (too_big or len(current) >= max_batch):
            batches.append(current)
            current, longest_if_added = [], durations[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    return batches
