"""Word timings and confidences: CTC forced alignment of a hypothesis to its log-probs.

Any decoder's output (greedy or beam) is aligned the same way (`asr.decoding.forced`), so
timings never depend on the search. CTC posteriors
are peaky: a character fires on a frame or two and blanks cover the rest, so a word's span runs
from its first character's frames to its last one's, and blank frames are left to the pauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from asr.decoding.forced import TokenSpan, forced_align, merge_tokens
from asr.text import SPACE, Vocabulary

__all__ = ["WordTiming", "align_words"]


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds from the start of the audio
    end: float  # seconds
    confidence: float  # in [0, 1]: mean posterior of the word's characters where they fire


def align_words(
    log_probs,
    tokens: Sequence[int],
    vocab: Vocabulary,
    frame_shift: float,
    offset: float = 0.0,
) -> list[WordTiming]:
    """log_probs (time, vocab) of one utterance (numpy or a CPU tensor), tokens its hypothesis
    (ids, no blanks).

    Returns one WordTiming per word of the hypothesis, times in seconds plus `offset`. An
    utterance too short for its tokens (CTC needs a frame per token and a blank between
    repeats) is aligned on its characters alone, and failing that split evenly.
    """
    space = vocab.symbols.index(SPACE)
    targets = _strip(list(tokens), space)
    letters = [t for t in targets if t != space]
    if not letters:
        return []
    log_probs = np.asarray(log_probs, dtype=np.float32)
    spans = _forced_spans(log_probs, targets)
    if spans is None:
        letter_spans = _forced_spans(log_probs, letters) or _even_spans(len(log_probs), letters)
        spans = _with_spaces(letter_spans, targets, space)
    words: list[WordTiming] = []
    current: list[TokenSpan] = []
    for span in [*spans, TokenSpan(space, 0, 0, 0.0)]:  # a final space closes the last word
        if span.token != space:
            current.append(span)
        elif current:
            words.append(_word(current, vocab, frame_shift, offset))
            current = []
    return words


def _strip(tokens: list[int], space: int) -> list[int]:
    """Single spaces between words, none at the ends."""
    out: list[int] = []
    for t in tokens:
        if t != space or (out and out[-1] != space):
            out.append(t)
    while out and out[-1] == space:
        out.pop()
    return out


def _forced_spans(log_probs: np.ndarray, targets: list[int]) -> list[TokenSpan] | None:
    """One span per target token, or None when the frames cannot hold the targets."""
    aligned = forced_align(log_probs, targets)
    if aligned is None:  # fewer frames than the targets need
        return None
    labels, scores = aligned  # (time,), (time,) log-probs
    return merge_tokens(labels, np.exp(scores))


def _even_spans(frames: int, letters: list[int]) -> list[TokenSpan]:
    """Equal shares of the frames, no confidence: the last resort for a too-short utterance."""
    step = frames / len(letters)
    return [TokenSpan(t, int(i * step), int((i + 1) * step), 0.0) for i, t in enumerate(letters)]


def _with_spaces(letter_spans: list[TokenSpan], targets: list[int], space: int) -> list[TokenSpan]:
    """Put the word breaks of `targets` back between spans aligned without them."""
    spans = iter(letter_spans)
    return [TokenSpan(space, 0, 0, 0.0) if t == space else next(spans) for t in targets]


def _word(
    spans: list[TokenSpan], vocab: Vocabulary, frame_shift: float, offset: float
) -> WordTiming:
    return WordTiming(
        word="".join(vocab.symbols[s.token] for s in spans),
        start=round(offset + spans[0].start * frame_shift, 3),
        end=round(offset + spans[-1].end * frame_shift, 3),
        confidence=round(sum(s.score for s in spans) / len(spans), 4),
    )
