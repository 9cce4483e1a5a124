"""Score hypotheses against references with jiwer: edit counts, alignments, WER and CER.

Error rates are total errors / total reference length over the utterances (never a mean
of per-utterance rates), as `jiwer.process_words` and `jiwer.process_characters` do.
When the reference length is 0 the rate is the raw error count (0 for an empty hypothesis,
otherwise the number of inserted tokens), which is also what jiwer 4 returns; it keeps
every rate finite so results stay valid JSON.

Characters are counted the jiwer way: spaces between words are characters too.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jiwer

logger = logging.getLogger(__name__)

GAP = None  # stands for the missing side of an insertion or deletion in an alignment


@dataclass(frozen=True)
class EditCounts:
    """Levenshtein edit counts of one or more hypothesis/reference pairs."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def ref_len(self) -> int:
        """Reference tokens: every one is a hit, a substitution or a deletion."""
        return self.hits + self.substitutions + self.deletions

    @property
    def hyp_len(self) -> int:
        return self.hits + self.substitutions + self.insertions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        return error_rate(self.errors, self.ref_len)

    def __add__(self, other: "EditCounts") -> "EditCounts":
        return EditCounts(
            self.hits + other.hits,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )


@dataclass(frozen=True)
class AlignedToken:
    """One column of an alignment; `op` is C(orrect), S(ubstitution), D(eletion) or I(nsertion)."""

    op: str
    ref: str | None  # GAP for an insertion
    hyp: str | None  # GAP for a deletion


class Rates:
    """WER and CER of anything holding word and character EditCounts."""

    words: EditCounts
    chars: EditCounts

    @property
    def wer(self) -> float:
        return self.words.rate

    @property
    def cer(self) -> float:
        return self.chars.rate


@dataclass(frozen=True)
class UtteranceScore(Rates):
    """Word and character scores of one utterance, with its word alignment."""

    audio_filepath: str
    ref: str
    hyp: str
    speaker: str | None
    duration: float  # seconds
    words: EditCounts
    chars: EditCounts
    alignment: tuple[AlignedToken, ...]  # word level, reference order


def error_rate(errors: int, ref_len: int) -> float:
    """Errors per reference token; the raw error count when there is no reference (see top)."""
    return errors / max(ref_len, 1)


def total(counts: Sequence[EditCounts]) -> EditCounts:
    """Corpus-level counts: the sum over utterances."""
    return sum(counts, EditCounts())


def score_utterances(utterances: Sequence[Mapping]) -> list[UtteranceScore]:
    """Score utterance dicts with keys audio_filepath, ref, hyp, speaker, duration.

    ref and hyp are normalised text (lowercase words, single spaces); either may be empty.
    """
    refs = [u["ref"] for u in utterances]
    hyps = [u["hyp"] for u in utterances]
    word_tokens, word_chunks = _align(refs, hyps, jiwer.process_words, str.split)
    _, char_chunks = _align(refs, hyps, jiwer.process_characters, lambda s: list(s.strip()))
    scores = []
    for u, (ref_words, hyp_words), w_chunks, c_chunks in zip(
        utterances, word_tokens, word_chunks, char_chunks, strict=True
    ):
        alignment = _columns(ref_words, hyp_words, w_chunks)
        scores.append(
            UtteranceScore(
                audio_filepath=u["audio_filepath"],
                ref=u["ref"],
                hyp=u["hyp"],
                speaker=u.get("speaker"),
                duration=float(u["duration"]),
                words=_count(alignment),
                chars=_count_chunks(c_chunks),
                alignment=alignment,
            )
        )
    logger.debug("scored %d utterances", len(scores))
    return scores


Tokens = tuple[list[str], list[str]]
Chunks = list[jiwer.AlignmentChunk]


def _align(
    refs: list[str],
    hyps: list[str],
    process: Callable[[list[str], list[str]], jiwer.WordOutput | jiwer.CharacterOutput],
    tokenize: Callable[[str], list[str]],
) -> tuple[list[Tokens], list[Chunks]]:
    """jiwer tokens and alignment chunks for every pair.

    Pairs with an empty reference skip jiwer (jiwer 3 refuses them): their hypothesis
    tokens are all insertions, which is what newer jiwer returns for them too.
    """
    nonempty = [i for i, ref in enumerate(refs) if ref.strip()]
    tokens: list[Tokens] = [([], tokenize(hyp)) for hyp in hyps]
    chunks: list[Chunks] = [
        [jiwer.AlignmentChunk("insert", 0, 0, 0, len(hyp))] if hyp else [] for _, hyp in tokens
    ]
    if nonempty:
        out = process([refs[i] for i in nonempty], [hyps[i] for i in nonempty])
        for i, ref_t, hyp_t, al in zip(
            nonempty, out.references, out.hypotheses, out.alignments, strict=True
        ):
            tokens[i] = (ref_t, hyp_t)
            chunks[i] = al
    return tokens, chunks


def _columns(ref: list[str], hyp: list[str], chunks: Chunks) -> tuple[AlignedToken, ...]:
    """Expand jiwer's span chunks into one column per aligned token."""
    columns: list[AlignedToken] = []
    for c in chunks:
        refs = ref[c.ref_start_idx : c.ref_end_idx]
        hyps = hyp[c.hyp_start_idx : c.hyp_end_idx]
        if c.type == "equal":
            columns += [AlignedToken("C", r, h) for r, h in zip(refs, hyps, strict=True)]
        elif c.type == "substitute":
            columns += [AlignedToken("S", r, h) for r, h in zip(refs, hyps, strict=True)]
        elif c.type == "delete":
            columns += [AlignedToken("D", r, GAP) for r in refs]
        elif c.type == "insert":
            columns += [AlignedToken("I", GAP, h) for h in hyps]
        else:
            raise AssertionError(f"unknown jiwer chunk type {c.type!r}")
    return tuple(columns)


def _count(alignment: Sequence[AlignedToken]) -> EditCounts:
    ops = [t.op for t in alignment]
    return EditCounts(ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I"))


def _count_chunks(chunks: Chunks) -> EditCounts:
    """Counts straight from chunk spans, as jiwer sums them (no need to expand characters)."""
    spans = {"equal": 0, "substitute": 0, "delete": 0, "insert": 0}
    for c in chunks:
        ref_span = c.ref_end_idx - c.ref_start_idx
        spans[c.type] += c.hyp_end_idx - c.hyp_start_idx if c.type == "insert" else ref_span
    return EditCounts(spans["equal"], spans["substitute"], spans["delete"], spans["insert"])


def sclite_lines(alignment: Sequence[AlignedToken]) -> tuple[str, str, str]:
    """REF, HYP and Eval lines as sclite prints them.

    Correct words are lowercase, errors UPPERCASE, and a gap is asterisks as wide as the
    word opposite it; the Eval line marks each error column with S, D or I.
    """
    ref_cols, hyp_cols, eval_cols = [], [], []
    for t in alignment:
        width = max(len(t.ref or ""), len(t.hyp or ""))
        ref = "*" * width if t.ref is GAP else t.ref
        hyp = "*" * width if t.hyp is GAP else t.hyp
        if t.op != "C":
            ref, hyp = ref.upper(), hyp.upper()
        ref_cols.append(ref.ljust(width))
        hyp_cols.append(hyp.ljust(width))
        eval_cols.append(("" if t.op == "C" else t.op).ljust(width))
    return (
        ("REF:  " + " ".join(ref_cols)).rstrip(),
        ("HYP:  " + " ".join(hyp_cols)).rstrip(),
        ("Eval: " + " ".join(eval_cols)).rstrip(),
    )
