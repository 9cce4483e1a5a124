"""Transcribing on several cores: many files go to one worker process per core, one thread each.

Why processes, not threads: the BiLSTM's per-step matmuls (batch x 4*hidden) are too small to
split across cores, so on the 2-core machine 2 intra-op threads ran at 0.87x of one, while two
one-thread processes on halves of the same 500 clips took 0.83x of one's time, start-up
included (issue 15). Workers are forked once the model is loaded, so they share its weights and
skip torch's start-up; files go to them in chunks of like length and transcripts come back in
input order, so the output is the one a single process writes. Too few files to share
(one long recording) stay in this process, on intra-op threads.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from asr.errors import AsrError
from asr.inference.transcriber import CHUNK_FILES, Transcriber, Transcript
from asr.manifest import Utterance

__all__ = ["MIN_CHUNK", "transcribe_parallel"]

MIN_CHUNK = 16  # files per task at least: below, a worker's batches would be too small
CHUNKS_PER_JOB = 16  # tasks per worker: one slow chunk (long files) does not idle the rest, and
# results stream back while the rest run (theo's 500 clips, 2 workers: 0.45 s against 0.50 at 4)

_work: tuple | None = None  # (recognizer, transcribe's keywords), inherited by forked workers


def transcribe_parallel(
    recognizer: Transcriber,
    utterances: Sequence[Utterance],
    threads: int | None,
    batch_seconds: float = 120.0,
    keep_log_probs: bool = False,
    words: bool = False,
    normaliser=None,
) -> Iterator[Transcript]:
    """`Transcriber.transcribe` on `threads` cores (None: every core this process may use): that
    many one-thread workers, or this process when there are too few files to share.
    Transcripts are yielded in input order."""
    utterances = list(utterances)
    jobs = min(threads or _usable_cores(), len(utterances) // MIN_CHUNK)
    kwargs = {"batch_seconds": batch_seconds, "keep_log_probs": keep_log_probs, "words": words}
    if jobs <= 1:
        yield from recognizer.transcribe(utterances, normaliser=normaliser, **kwargs)
        return
    # A speaker's mean needs all of their files: taken here once, not per chunk.
    kwargs["normaliser"] = normaliser or recognizer.normaliser_for(utterances)
    size = max(MIN_CHUNK, min(CHUNK_FILES, math.ceil(len(utterances) / (jobs * CHUNKS_PER_JOB))))
    chunks = _chunks_by_size(utterances, size, jobs * CHUNKS_PER_JOB)
    global _work
    _work = (recognizer, kwargs)
    pool = ProcessPoolExecutor(jobs, get_context("fork"), _start_worker)
    try:
        done: dict[int, Transcript] = {}  # finished, waiting for a file before them
        following = 0  # the input index to yield next
        tasks = ([utterances[i] for i in chunk] for chunk in chunks)
        for chunk, transcripts in zip(chunks, pool.map(_transcribe_chunk, tasks), strict=True):
            done.update(zip(chunk, transcripts, strict=True))
            while following in done:
                yield done.pop(following)
                following += 1
    except BrokenProcessPool as err:
        raise AsrError("a transcription worker process died (out of memory or killed)") from err
    finally:
        # Interrupted or done: pending chunks are dropped, running ones end within seconds.
        # Waiting for them also keeps the pool's exit hook from writing to a closed pipe.
        pool.shutdown(wait=True, cancel_futures=True)
        _work = None


def _chunks_by_size(utterances: Sequence[Utterance], size: int, per_window: int) -> list[list[int]]:
    """Input indices in chunks of `size` files of like length, so that a worker's batches pad
    little, as one process sorts each CHUNK_FILES it reads (theo's 500 clips on 2 workers:
    0.50 s against 0.55 s in input order). Sorted by file size, which costs a stat, not a header
    read; within windows of `per_window` chunks, so that a long list is not held whole while its
    transcripts wait for the files before them."""
    window = size * per_window
    chunks = []
    for start in range(0, len(utterances), window):
        indices = range(start, min(start + window, len(utterances)))
        ordered = sorted(indices, key=lambda i: _file_size(utterances[i].audio_filepath))
        chunks += [ordered[i : i + size] for i in range(0, len(ordered), size)]
    return chunks


def _file_size(path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # the worker reports the file


def _usable_cores() -> int:
    """Cores this process may run on (its affinity, as `taskset` or a container sets it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent reports it once and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _work[0].single_threaded()


def _transcribe_chunk(chunk: list[Utterance]) -> list[Transcript]:
    recognizer, kwargs = _work
    return list(recognizer.transcribe(chunk, **kwargs))
