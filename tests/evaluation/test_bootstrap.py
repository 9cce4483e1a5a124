import numpy as np
import pytest

from asr.evaluation.bootstrap import bootstrap_ci, paired_bootstrap


def corpus(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (errors, reference words) of a system with about 20% WER."""
    rng = np.random.default_rng(seed)
    ref_lens = rng.integers(1, 25, n)
    return rng.binomial(ref_lens, 0.2), ref_lens


def test_ci_contains_point_estimate_and_is_deterministic_by_seed():
    errors, ref_lens = corpus()
    point = errors.sum() / ref_lens.sum()
    ci = bootstrap_ci(errors, ref_lens, n_boot=1000, seed=7)
    assert ci.low < point < ci.high
    assert ci.high - ci.low < 0.05  # 400 utterances pin a 20% WER to a few points
    assert bootstrap_ci(errors, ref_lens, n_boot=1000, seed=7) == ci
    assert bootstrap_ci(errors, ref_lens, n_boot=1000, seed=8) != ci


def test_ci_is_one_point_when_every_utterance_has_the_same_rate():
    ci = bootstrap_ci(np.array([1, 2, 3]), np.array([2, 4, 6]), n_boot=200)
    assert ci.low == pytest.approx(0.5)
    assert ci.high == pytest.approx(0.5)


def test_ci_with_no_reference_words_uses_error_count():
    ci = bootstrap_ci(np.array([2, 2]), np.array([0, 0]), n_boot=50)
    assert (ci.low, ci.high) == (4.0, 4.0)  # two insertions per utterance, two utterances


def test_ci_chunks_agree_with_one_big_draw(monkeypatch):
    errors, ref_lens = corpus(n=50)
    whole = bootstrap_ci(errors, ref_lens, n_boot=300, seed=3)
    monkeypatch.setattr("asr.evaluation.bootstrap.MAX_DRAWS", 50 * 7)  # 7 resamples per chunk
    assert bootstrap_ci(errors, ref_lens, n_boot=300, seed=3) == whole


def test_paired_bootstrap_finds_a_clearly_better_system():
    errors_a, ref_lens = corpus()
    errors_b = errors_a // 2  # B halves A's errors on every utterance
    test = paired_bootstrap(errors_a, errors_b, ref_lens, ref_lens, n_boot=1000, seed=0)
    assert test.diff < 0
    assert test.ci.high < 0
    assert test.p_value < 0.01


def test_paired_bootstrap_finds_nothing_between_identical_systems():
    errors, ref_lens = corpus()
    test = paired_bootstrap(errors, errors, ref_lens, ref_lens, n_boot=1000, seed=0)
    assert test.diff == 0.0
    assert test.p_value == 1.0
    assert test.ci.contains(0.0)


def test_paired_bootstrap_finds_nothing_between_equally_good_systems():
    errors_a, ref_lens = corpus(seed=1)
    errors_b = np.random.default_rng(2).binomial(ref_lens, 0.2)  # same 20%, other errors
    test = paired_bootstrap(errors_a, errors_b, ref_lens, ref_lens, n_boot=1000, seed=0)
    assert test.p_value > 0.05
    assert test.ci.contains(0.0)


def test_paired_bootstrap_refuses_unpaired_arrays():
    errors, ref_lens = corpus(n=10)
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap(errors, errors[:5], ref_lens, ref_lens)
