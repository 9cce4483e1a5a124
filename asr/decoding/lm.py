"""Word n-gram language models for CTC beam search: ARPA estimation (lexicons: lexicon.py).

Interpolated modified Kneser-Ney (Chen & Goodman 1998, as in KenLM's lmplz), estimated in pure
Python because lmplz is not installable here. Each sentence is `<s> w1 .. wn </s>`; every
history's distribution over the vocabulary plus `</s>` and `<unk>` sums to 1, and the ARPA
backoff weights are the interpolation weights, so backing off reproduces the interpolated model.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from asr.errors import AsrError
from asr.text import normalize_text

logger = logging.getLogger(__name__)

__all__ = [
    "LMConfig",
    "LMStats",
    "NgramModel",
    "build_arpa",
    "estimate",
    "kn_discounts",
    "read_sentences",
    "read_words",
    "write_arpa",
    "write_atomic",
]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
BOS_LOGPROB = -99.0  # <s> is never predicted; ARPA convention for "impossible"

Ngram = tuple[str, ...]
Discounts = tuple[float, float, float]  # D1, D2, D3+


@dataclass(frozen=True)
class LMConfig:
    order: int = 3  # longest n-gram; 3 = trigram
    min_count: int = 1  # words seen fewer times are counted as <unk>
    # D1, D2, D3+ when counts-of-counts give no valid discounts (tiny corpora); KenLM's defaults
    discount_fallback: Discounts = (0.5, 1.0, 1.5)

    def __post_init__(self) -> None:
        if self.order < 1:
            raise AsrError(f"LMConfig: order must be >= 1, got {self.order}")
        if self.min_count < 1:
            raise AsrError(f"LMConfig: min_count must be >= 1, got {self.min_count}")
        if not _valid_discounts(self.discount_fallback):
            raise AsrError(f"LMConfig: need 0 < Dk < k, got {self.discount_fallback}")


@dataclass(frozen=True)
class NgramModel:
    """Interpolated probabilities; index n-1 of each tuple holds order n."""

    probs: tuple[dict[Ngram, float], ...]  # p(w | h) keyed by h + (w,); <s> has no entry
    backoffs: tuple[dict[Ngram, float], ...]  # interpolation weight of each history h
    discounts: tuple[Discounts, ...]


@dataclass(frozen=True)
class LMStats:
    ngrams: tuple[int, ...]  # ARPA entries per order, unigrams (with <s>) first
    vocab_size: int  # words the LM predicts, </s> and <unk> included
    sentences: int
    words: int  # running words, sentence boundaries excluded
    discounts: tuple[Discounts, ...]  # D1, D2, D3+ per order
    seconds: float  # reading, estimating and writing


def read_sentences(path: Path) -> list[list[str]]:
    """One normalised sentence per non-empty line: lowercase words of letters, digits, '."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            sentences = [words for line in f if (words := normalize_text(line).split())]
    except (OSError, UnicodeDecodeError) as err:
        raise AsrError(f"{path}: cannot read text ({err})") from err
    if not sentences:
        raise AsrError(f"{path}: no words after normalisation")
    return sentences


def estimate(sentences: Sequence[Sequence[str]], config: LMConfig) -> NgramModel:
    """Interpolated modified Kneser-Ney model of the sentences (words, no boundary markers)."""
    sentences = _replace_rare(sentences, config.min_count)
    adjusted = _adjust_counts(_count_ngrams(sentences, config.order))
    unigrams = {g: c for g, c in adjusted[0].items() if g != (BOS,)}
    unigrams.setdefault((UNK,), 0)  # unseen: only the uniform share gives it mass
    probs: list[dict[Ngram, float]] = []
    backoffs: list[dict[Ngram, float]] = []
    discounts: list[Discounts] = []
    for n, counts in enumerate([unigrams, *adjusted[1:]], 1):
        found = kn_discounts(Counter(c for c in counts.values() if 0 < c <= 4))
        if found is None:
            logger.warning(
                "order %d: counts-of-counts give no valid discounts, using %s",
                n,
                config.discount_fallback,
            )
        discounts.append(found or config.discount_fallback)
        lower = probs[-1] if probs else None
        order_probs, weights = _interpolate(counts, discounts[-1], lower, len(unigrams))
        probs.append(order_probs)
        backoffs.append(weights)
    return NgramModel(tuple(probs), tuple(backoffs), tuple(discounts))


def kn_discounts(count_of_counts: Mapping[int, int]) -> Discounts | None:
    """Chen & Goodman's D1, D2, D3+ from n_k = how many n-grams have count k (k = 1..4).

    None when some n_k is zero or a discount falls outside (0, k): the estimate is unusable.
    """
    n1, n2, n3, n4 = (count_of_counts.get(k, 0) for k in range(1, 5))
    if min(n1, n2, n3, n4) == 0:
        return None
    y = n1 / (n1 + 2 * n2)
    found = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return found if _valid_discounts(found) else None


def _valid_discounts(discounts: Discounts) -> bool:
    # Dk >= k would give zero or negative mass to n-grams seen k times
    return all(0 < d < k for k, d in enumerate(discounts, 1))


def _replace_rare(sentences: Sequence[Sequence[str]], min_count: int) -> Sequence[Sequence[str]]:
    if min_count <= 1:
        return sentences
    freq = Counter(w for words in sentences for w in words)
    return [[w if freq[w] >= min_count else UNK for w in words] for words in sentences]


def _count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter[Ngram]]:
    """Raw counts per order of n-grams within `<s> w1 .. wn </s>`."""
    flat: list[str] = []
    for words in sentences:
        flat.append(BOS)
        flat.extend(words)
        flat.append(EOS)
    counts = []
    for n in range(1, order + 1):
        # counting the whole stream at once is C-speed; the n-grams it adds across sentence
        # ends hold </s> before their last word and are removed; the shifted copies differ in
        # length, so zip is not strict
        grams = Counter(zip(*(flat[i:] for i in range(n)), strict=False))
        for gram in [g for g in grams if EOS in g[:-1]]:
            del grams[gram]
        counts.append(grams)
    return counts


def _adjust_counts(raw: list[Counter[Ngram]]) -> list[dict[Ngram, int]]:
    """Kneser-Ney counts: below the top order, how many distinct words precede an n-gram.

    The top order, and n-grams starting with <s> (nothing precedes them), keep raw counts.
    """
    adjusted: list[dict[Ngram, int]] = [dict(raw[-1])]
    for n in range(len(raw) - 1, 0, -1):  # raw[n] holds (n+1)-grams
        preceded = Counter(g[1:] for g in raw[n])
        lower = {g: c if g[0] == BOS else preceded[g] for g, c in raw[n - 1].items()}
        adjusted.insert(0, lower)
    return adjusted


def _interpolate(
    counts: dict[Ngram, int],
    discounts: Discounts,
    lower: dict[Ngram, float] | None,
    vocab_size: int,
) -> tuple[dict[Ngram, float], dict[Ngram, float]]:
    """p(w|h) = (c(hw) - D(c)) / c(h.) + gamma(h) p(w|h'); h' drops h's first word.

    gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / c(h.), the mass the discounts freed;
    unigrams interpolate with the uniform 1 / vocab_size. Returns (p, gamma keyed by h).
    """
    by_count = (0.0, *discounts)  # index min(c, 3); count 0 (<unk>) loses nothing
    totals: dict[Ngram, int] = defaultdict(int)
    freed: dict[Ngram, float] = defaultdict(float)
    for gram, c in counts.items():
        totals[gram[:-1]] += c
        freed[gram[:-1]] += by_count[min(c, 3)]
    gamma = {h: freed[h] / total for h, total in totals.items()}
    probs = {}
    for gram, c in counts.items():
        h = gram[:-1]
        below = lower[gram[1:]] if lower is not None else 1 / vocab_size
        probs[gram] = (c - by_count[min(c, 3)]) / totals[h] + gamma[h] * below
    return probs, gamma


def write_arpa(model: NgramModel, path: Path) -> None:
    """ARPA text (log10 probabilities and backoff weights), written atomically."""
    write_atomic(Path(path), _arpa_lines(model))


def _arpa_lines(model: NgramModel) -> Iterable[str]:
    order = len(model.probs)
    sizes = [len(p) for p in model.probs]
    sizes[0] += 1  # <s>
    yield "\\data\\\n"
    yield from (f"ngram {n}={size}\n" for n, size in enumerate(sizes, 1))
    for n, probs in enumerate(model.probs, 1):
        # histories of the next order carry backoff weights; the top order has none
        weights = model.backoffs[n] if n < order else {}
        yield f"\n\\{n}-grams:\n"
        if n == 1:
            yield _arpa_line(BOS_LOGPROB, (BOS,), weights.get((BOS,)))
        for gram, p in probs.items():
            yield _arpa_line(math.log10(p), gram, weights.get(gram))
    yield "\n\\end\\\n"


def _arpa_line(logprob: float, gram: Ngram, weight: float | None) -> str:
    words = " ".join(gram)
    if weight is None:
        return f"{logprob:.7f}\t{words}\n"
    return f"{logprob:.7f}\t{words}\t{math.log10(weight):.7f}\n"


def build_arpa(text_path: Path, out_path: Path, config: LMConfig) -> LMStats:
    """Estimate an n-gram LM from a text file (one sentence per line) and write it as ARPA."""
    start = time.perf_counter()
    sentences = read_sentences(text_path)
    model = estimate(sentences, config)
    write_arpa(model, out_path)
    stats = LMStats(
        ngrams=(len(model.probs[0]) + 1, *(len(p) for p in model.probs[1:])),
        vocab_size=len(model.probs[0]),
        sentences=len(sentences),
        words=sum(len(words) for words in sentences),
        discounts=model.discounts,
        seconds=time.perf_counter() - start,
    )
    logger.info("%s: %s", out_path, stats)
    return stats


def read_words(arpa_path: Path) -> list[str]:
    """The ARPA's unigram words, without <s>, </s> and <unk>: the lexicon's vocabulary."""
    arpa_path = Path(arpa_path)
    words: list[str] = []
    try:
        with arpa_path.open(encoding="utf-8") as f:
            in_unigrams = False
            for line in f:
                if line.startswith("\\"):
                    if in_unigrams:
                        break  # stop before the (much larger) higher orders
                    in_unigrams = line.strip() == "\\1-grams:"
                elif in_unigrams and (fields := line.split()):
                    words.append(fields[1])
    except (OSError, UnicodeDecodeError, IndexError) as err:
        raise AsrError(f"{arpa_path}: cannot read ARPA unigrams ({err})") from err
    words = [w for w in words if w not in (BOS, EOS, UNK)]
    if not words:
        raise AsrError(f"{arpa_path}: no unigrams found")
    return words


def write_atomic(path: Path, lines: Iterable[str]) -> None:
    # a reader (or a crashed run) never sees a half-written file; the pid keeps parallel
    # writers of the same file apart
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.writelines(lines)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise AsrError(f"{path}: cannot write ({err})") from err
