"""Ctrl-C at a safe point: while training, SIGINT only asks the loop to stop after the step.

Stopping inside a step would save a state from halfway through a batch (batch-norm statistics
and the RNG already advanced, maybe the weights updated) that the resumed run then trains on
again, so resuming would no longer equal the uninterrupted run. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading

logger = logging.getLogger(__name__)

__all__ = ["DeferredInterrupt"]


class DeferredInterrupt:
    """Context manager: the first SIGINT sets `requested`; a second raises KeyboardInterrupt
    at once, with `forced` set. Outside the main thread, where no handler can be installed,
    SIGINT raises KeyboardInterrupt as usual."""

    def __init__(self, message: str):
        self.message = message  # logged on the first SIGINT: what happens next
        self.requested = False
        self.forced = False
        self._previous = None

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("%s (Ctrl-C again to stop at once)", self.message)
