import json
import random
from pathlib import Path

import pytest

from asr.errors import AsrError
from asr.evaluation.compare import compare, format_comparison
from asr.evaluation.report import build_results
from asr.evaluation.scoring import score_utterances

VOCAB = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away"]


def reference_set(n: int = 200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(VOCAB, k=rng.randint(3, 12))) for _ in range(n)]


def noisy(refs: list[str], word_error: float, seed: int) -> list[str]:
    """Hypotheses substituting each reference word with probability word_error."""
    rng = random.Random(seed)
    return [
        " ".join("zzz" if rng.random() < word_error else w for w in ref.split()) for ref in refs
    ]


def write_results(path: Path, refs: list[str], hyps: list[str], names: list[str]) -> Path:
    utterances = [
        {"audio_filepath": name, "ref": r, "hyp": h, "speaker": None, "duration": 1.0}
        for name, r, h in zip(names, refs, hyps, strict=True)
    ]
    results = build_results(score_utterances(utterances), {}, n_boot=10)
    path.write_text(json.dumps(results))
    return path


def names(n: int) -> list[str]:
    return [f"/data/{i}.wav" for i in range(n)]


def test_clearly_better_system_is_significant(tmp_path):
    refs = reference_set()
    a = write_results(tmp_path / "a.json", refs, noisy(refs, 0.3, seed=1), names(len(refs)))
    b = write_results(tmp_path / "b.json", refs, noisy(refs, 0.1, seed=2), names(len(refs)))
    c = compare(a, b, n_boot=1000, seed=0)
    assert c.num_matched == len(refs)
    assert c.wer_a == pytest.approx(json.loads(a.read_text())["wer"])
    assert c.wer_b == pytest.approx(json.loads(b.read_text())["wer"])
    assert c.test.diff == pytest.approx(c.wer_b - c.wer_a)
    assert c.test.ci.high < 0
    assert c.significant
    text = format_comparison(c)
    assert "not significant" not in text and "significant" in text


def test_identical_systems_are_not_significant(tmp_path):
    refs = reference_set()
    hyps = noisy(refs, 0.2, seed=1)
    a = write_results(tmp_path / "a.json", refs, hyps, names(len(refs)))
    b = write_results(tmp_path / "b.json", refs, hyps, names(len(refs)))
    c = compare(a, b, n_boot=500, seed=0)
    assert c.test.diff == 0.0
    assert not c.significant
    assert "not significant" in format_comparison(c)


def test_matches_by_path_whatever_the_order(tmp_path):
    refs = reference_set(50)
    hyps = noisy(refs, 0.2, seed=1)
    order = list(range(50))
    random.Random(3).shuffle(order)
    a = write_results(tmp_path / "a.json", refs, hyps, names(50))
    b = write_results(
        tmp_path / "b.json",
        [refs[i] for i in order][:40],
        [hyps[i] for i in order][:40],
        [names(50)[i] for i in order][:40],
    )
    c = compare(a, b, n_boot=200)
    assert (c.num_matched, c.only_a, c.only_b, c.ref_mismatches) == (40, 10, 0, 0)
    assert c.test.diff == 0.0


def test_counts_reference_mismatches(tmp_path):
    a = write_results(tmp_path / "a.json", ["a b", "c d"], ["a b", "c d"], ["x", "y"])
    b = write_results(tmp_path / "b.json", ["a b", "c e"], ["a b", "c d"], ["x", "y"])
    c = compare(a, b, n_boot=50)
    assert c.ref_mismatches == 1
    assert c.wer_b == 0.25
    assert "different references" in format_comparison(c)


def test_refuses_when_nothing_matches(tmp_path):
    a = write_results(tmp_path / "a.json", ["a b"], ["a b"], ["x"])
    b = write_results(tmp_path / "b.json", ["a b"], ["a b"], ["y"])
    with pytest.raises(AsrError, match="b.json: no audio_filepath in common"):
        compare(a, b)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "cannot read results"),
        ('{"wer": 0.1}', "no 'utterances' list"),
        ('{"utterances": [{"audio_filepath": "x", "ref": "a"}]}', "utterance 0 lacks"),
        (
            '{"utterances": [{"audio_filepath": "x", "ref": "a", "hyp": "a"},'
            ' {"audio_filepath": "x", "ref": "a", "hyp": "b"}]}',
            "x appears twice",
        ),
    ],
)
def test_refuses_bad_results_files(tmp_path, content, reason):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = write_results(tmp_path / "a.json", ["a"], ["a"], ["x"])
    with pytest.raises(AsrError, match=reason):
        compare(good, bad)


def test_refuses_missing_file(tmp_path):
    good = write_results(tmp_path / "a.json", ["a"], ["a"], ["x"])
    with pytest.raises(AsrError, match="missing.json: cannot read results"):
        compare(good, tmp_path / "missing.json")
