"""Word timings and confidences: CTC forced alignment of a hypothesis to its log-probs.

Any decoder's output (greedy or beam) is aligned the same way with
`torchaudio.functional.forced_align`, so timings never depend on the search. CTC posteriors
are peaky: a character fires on a frame or two and blanks cover the rest, so a word's span runs
from its first character's frames to its last one's, and blank frames are left to the pauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torchaudio.functional as AF
from torch import Tensor

from asr.text import SPACE, Vocabulary

__all__ = ["WordTiming", "align_words"]


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds from the start of the audio
    end: float  # seconds
    confidence: float  # in [0, 1]: mean posterior of the word's characters where they fire


@dataclass(frozen=True)
class _Span:
    token: int
    start: int  # first frame
    end: int  # one past the last frame
    score: float  # mean posterior over the span's frames


def align_words(
    log_probs: Tensor,
    tokens: Sequence[int],
    vocab: Vocabulary,
    frame_shift: float,
    offset: float = 0.0,
) -> list[WordTiming]:
    """log_probs (time, vocab) of one utterance, tokens its hypothesis (ids, no blanks).

    Returns one WordTiming per word of the hypothesis, times in seconds plus `offset`. An
    utterance too short for its tokens (CTC needs a frame per token and a blank between
    repeats) is aligned on its characters alone, and failing that split evenly.
    """
    space = vocab.symbols.index(SPACE)
    targets = _strip(list(tokens), space)
    letters = [t for t in targets if t != space]
    if not letters:
        return []
    spans = _forced_spans(log_probs, targets)
    if spans is None:
        letter_spans = _forced_spans(log_probs, letters) or _even_spans(len(log_probs), letters)
        spans = _with_spaces(letter_spans, targets, space)
    words: list[WordTiming] = []
    current: list[_Span] = []
    for span in [*spans, _Span(space, 0, 0, 0.0)]:  # a final space closes the last word
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


def _forced_spans(log_probs: Tensor, targets: list[int]) -> list[_Span] | None:
    """One span per target token, or None when the frames cannot hold the targets."""
    emissions = log_probs.detach().float().cpu().unsqueeze(0)  # (1, time, vocab)
    try:
        labels, scores = AF.forced_align(emissions, torch.tensor([targets]), blank=0)
    except RuntimeError:  # fewer frames than the targets need
        return None
    merged = AF.merge_tokens(labels[0], scores[0].exp(), blank=0)  # scores: (1, time) log-probs
    return [_Span(s.token, s.start, s.end, float(s.score)) for s in merged]


def _even_spans(frames: int, letters: list[int]) -> list[_Span]:
    """Equal shares of the frames, no confidence: the last resort for a too-short utterance."""
    step = frames / len(letters)
    return [_Span(t, int(i * step), int((i + 1) * step), 0.0) for i, t in enumerate(letters)]


def _with_spaces(letter_spans: list[_Span], targets: list[int], space: int) -> list[_Span]:
    """Put the word breaks of `targets` back between spans aligned without them."""
    spans = iter(letter_spans)
    return [_Span(space, 0, 0, 0.0) if t == space else next(spans) for t in targets]


def _word(spans: list[_Span], vocab: Vocabulary, frame_shift: float, offset: float) -> WordTiming:
    return WordTiming(
        word="".join(vocab.symbols[s.token] for s in spans),
        start=round(offset + spans[0].start * frame_shift, 3),
        end=round(offset + spans[-1].end * frame_shift, 3),
        confidence=round(sum(s.score for s in spans) / len(spans), 4),
    )
