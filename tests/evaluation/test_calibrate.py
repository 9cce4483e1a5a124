import numpy as np
import pytest

from asr.decoding.confidence import rejects
from asr.errors import AsrError
from asr.evaluation.calibrate import auroc, fit_logistic, pick_threshold, rejection_rates


def test_auroc_known_values():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1, 0.2], [0.9, 0.8]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    assert auroc([0.9, 0.3], [0.5, 0.1]) == 0.75


def test_logistic_fit_separates_small_gaps_from_large_ones():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 0.4, 100), rng.uniform(0.6, 2.0, 100)])
    y = np.array([1.0] * 100 + [0.0] * 100)
    (scale,), bias = fit_logistic(x[:, None], y)
    assert scale < 0
    p = 1 / (1 + np.exp(-(scale * x + bias)))
    assert (p[:100] > 0.5).all() and (p[100:] < 0.5).all()


def test_logistic_fit_uses_the_feature_that_separates():
    """Two features, only the second of which tells the classes apart."""
    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 1, 200)
    signal = np.concatenate([rng.uniform(0, 0.3, 100), rng.uniform(0.5, 1.0, 100)])
    y = np.array([1.0] * 100 + [0.0] * 100)
    (w_noise, w_signal), _ = fit_logistic(np.stack([noise, signal], 1), y)
    assert w_signal < 0 and abs(w_noise) < abs(w_signal) / 5


def test_fit_needs_both_kinds():
    with pytest.raises(AsrError, match="in-vocabulary and out-of-vocabulary"):
        fit_logistic(np.array([[0.1], [0.2]]), np.array([1.0, 1.0]))


def test_threshold_rejects_at_most_the_allowed_share():
    scores = [(i + 1) / 100 for i in range(100)]
    threshold = pick_threshold(scores, 0.05)
    assert sum(rejects(s, threshold) for s in scores) == 5
    assert threshold == pytest.approx(0.055)  # midway: no dev score sits on it
    assert sum(rejects(s, pick_threshold(scores, 0.0)) for s in scores) == 0


def test_zero_confidences_are_rejected_and_the_threshold_stays_above_them():
    """Empty transcripts (confidence 0) of in-vocabulary speech, more than the allowed share:
    the threshold then rejects them and nothing else, not nothing at all (a threshold of 0
    would accept out-of-vocabulary speech the decoder heard no word in)."""
    scores = [0.0] * 3 + [0.2, 0.5, 0.9] + [0.95] * 94
    threshold = pick_threshold(scores, 0.01)
    assert threshold == 0.1  # midway below 0.2, the lowest score heard
    assert [rejects(s, threshold) for s in scores[:4]] == [True, True, True, False]
    assert rejects(0.0, 0.0)


def test_rates_count_both_kinds_against_the_threshold():
    rates = rejection_rates([0.9, 0.8, 0.3, 0.95], [0.1, 0.6, 0.2], threshold=0.5)
    assert rates.in_vocab_rejected == 0.25 and rates.oov_rejected == pytest.approx(2 / 3)
    assert (rates.in_vocab, rates.oov) == (4, 3)
    assert rates.auroc == pytest.approx(11 / 12)
