"""Where the errors are: per speaker, per utterance length, frequent confusions, worst first."""

import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from asr.evaluation.scoring import EditCounts, Rates, UtteranceScore, total

UNKNOWN_SPEAKER = "(unknown)"  # group name for utterances whose manifest gives no speaker
LENGTH_EDGES = (0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0)  # seconds; the last bin is open-ended


@dataclass(frozen=True)
class GroupScore(Rates):
    """Corpus-level counts of one group of utterances."""

    name: str
    num_utterances: int
    words: EditCounts
    chars: EditCounts


@dataclass(frozen=True)
class Confusions:
    """Most frequent error tokens, each list sorted by count, then alphabetically."""

    substitutions: list[tuple[str, str, int]]  # (ref word, hyp word, count)
    insertions: list[tuple[str, int]]
    deletions: list[tuple[str, int]]


def by_speaker(scores: Sequence[UtteranceScore]) -> list[GroupScore]:
    """One group per speaker, sorted by name; a missing speaker is UNKNOWN_SPEAKER."""
    groups = _group(scores, lambda s: s.speaker or UNKNOWN_SPEAKER)
    return [_group_score(name, members) for name, members in sorted(groups.items())]


def by_length(
    scores: Sequence[UtteranceScore], edges: Sequence[float] = LENGTH_EDGES
) -> list[GroupScore]:
    """One group per duration bin [edges[i], edges[i+1]) that holds any utterance, shortest first.

    Durations below edges[0] fall into the first bin, and the last bin has no upper end.
    """
    bounds = [*edges, math.inf]
    groups = _group(scores, lambda s: _bin_index(s.duration, edges))
    return [
        _group_score(_bin_name(bounds[i], bounds[i + 1]), groups[i])
        for i in range(len(edges))
        if i in groups
    ]


def confusions(scores: Sequence[UtteranceScore], top_k: int = 20) -> Confusions:
    """The top_k most frequent substituted pairs, inserted words and deleted words."""
    subs: Counter[tuple[str, str]] = Counter()
    ins: Counter[str] = Counter()
    dels: Counter[str] = Counter()
    for s in scores:
        for t in s.alignment:
            if t.op == "S":
                subs[(t.ref, t.hyp)] += 1
            elif t.op == "I":
                ins[t.hyp] += 1
            elif t.op == "D":
                dels[t.ref] += 1
    return Confusions(
        substitutions=[(r, h, n) for (r, h), n in _most_common(subs, top_k)],
        insertions=_most_common(ins, top_k),
        deletions=_most_common(dels, top_k),
    )


def worst_first(scores: Sequence[UtteranceScore]) -> list[int]:
    """Indices into scores, highest WER first; ties go to more word errors, then input order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i].wer, -scores[i].words.errors, i))


def _group(
    scores: Sequence[UtteranceScore], key: Callable[[UtteranceScore], Hashable]
) -> dict[Hashable, list[UtteranceScore]]:
    groups: dict[Hashable, list[UtteranceScore]] = {}
    for s in scores:
        groups.setdefault(key(s), []).append(s)
    return groups


def _group_score(name: str, members: Sequence[UtteranceScore]) -> GroupScore:
    return GroupScore(
        name=name,
        num_utterances=len(members),
        words=total([s.words for s in members]),
        chars=total([s.chars for s in members]),
    )


def _bin_index(duration: float, edges: Sequence[float]) -> int:
    inside = [i for i, edge in enumerate(edges) if duration >= edge]
    return inside[-1] if inside else 0


def _bin_name(low: float, high: float) -> str:
    return f"{low:g}+ s" if math.isinf(high) else f"{low:g}-{high:g} s"


def _most_common(counter: Counter, top_k: int) -> list:
    """Like Counter.most_common, but ties broken alphabetically so reports do not reshuffle."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
