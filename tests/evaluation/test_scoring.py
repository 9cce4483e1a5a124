import random

import jiwer
import pytest

from asr.evaluation.scoring import EditCounts, sclite_lines, score_utterances, total

VOCAB = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]


def utts(*pairs: tuple[str, str]) -> list[dict]:
    return [
        {"audio_filepath": f"{i}.wav", "ref": r, "hyp": h, "speaker": None, "duration": 1.0}
        for i, (r, h) in enumerate(pairs)
    ]


def random_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """Random word strings, a few of them empty, with hypotheses that are noisy copies."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        ref = rng.choices(VOCAB, k=rng.choice([0, 1, 3, 6, 10]))
        hyp = [rng.choice(VOCAB) if rng.random() < 0.2 else w for w in ref if rng.random() > 0.15]
        hyp[rng.randrange(len(hyp) + 1) : 0] = rng.choices(VOCAB, k=rng.choice([0, 0, 1, 2]))
        pairs.append((" ".join(ref), " ".join(hyp)))
    return pairs


@pytest.mark.parametrize(
    "level, seed, reference, rate",
    [("words", 1, jiwer.process_words, "wer"), ("chars", 2, jiwer.process_characters, "cer")],
)
def test_totals_match_jiwer_on_random_pairs(level, seed, reference, rate):
    pairs = random_pairs(300, seed=seed)
    ours = total([getattr(s, level) for s in score_utterances(utts(*pairs))])
    out = reference([r for r, _ in pairs], [h for _, h in pairs])
    counts = ("hits", "substitutions", "deletions", "insertions")
    assert [getattr(ours, c) for c in counts] == [getattr(out, c) for c in counts]
    assert ours.rate == pytest.approx(getattr(out, rate))


def test_per_utterance_rates_match_jiwer():
    pairs = [(r, h) for r, h in random_pairs(50, seed=3) if r]
    for (ref, hyp), s in zip(pairs, score_utterances(utts(*pairs)), strict=True):
        assert s.wer == pytest.approx(jiwer.wer(ref, hyp))
        assert s.cer == pytest.approx(jiwer.cer(ref, hyp))


@pytest.mark.parametrize(
    ("ref", "hyp", "words", "wer"),
    [
        ("a b c d", "a x c d e", EditCounts(3, 1, 0, 1), 0.5),
        ("", "a b", EditCounts(0, 0, 0, 2), 2.0),  # no reference: WER is the error count
        ("the cat", "", EditCounts(0, 0, 2, 0), 1.0),
        ("", "", EditCounts(0, 0, 0, 0), 0.0),
        ("a b", "a b", EditCounts(2, 0, 0, 0), 0.0),
    ],
)
def test_hand_worked_word_counts(ref, hyp, words, wer):
    (s,) = score_utterances(utts((ref, hyp)))
    assert s.words == words
    assert s.wer == wer


def test_hand_worked_char_counts():
    (s,) = score_utterances(utts(("ab cd", "ab")))
    assert s.chars == EditCounts(hits=2, deletions=3)  # " cd" is three characters
    (s,) = score_utterances(utts(("", "a b")))
    assert s.chars == EditCounts(insertions=3)


def test_empty_reference_counts_in_corpus_totals():
    scores = score_utterances(utts(("a b", "a b"), ("", "x y")))
    words = total([s.words for s in scores])
    assert words == EditCounts(hits=2, insertions=2)
    assert words.rate == 1.0


def test_sclite_alignment_lines():
    (s,) = score_utterances(utts(("the cat sat on the mat", "the bat sat the mat too")))
    assert sclite_lines(s.alignment) == (
        "REF:  the CAT sat ON the mat ***",
        "HYP:  the BAT sat ** the mat TOO",
        "Eval:     S       D          I",
    )


def test_sclite_lines_pad_columns_to_the_longer_word():
    (s,) = score_utterances(utts(("a b", "a bbbb")))
    assert sclite_lines(s.alignment) == ("REF:  a B", "HYP:  a BBBB", "Eval:   S")


def test_alignment_columns_cover_both_sides():
    for ref, hyp in random_pairs(100, seed=4):
        (s,) = score_utterances(utts((ref, hyp)))
        assert [t.ref for t in s.alignment if t.ref is not None] == ref.split()
        assert [t.hyp for t in s.alignment if t.hyp is not None] == hyp.split()
