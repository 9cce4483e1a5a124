import math

import torch

from asr.decoding.confidence import (
    NO_PATH_GAP,
    Evidence,
    RejectionConfig,
    confidence,
    foreign_ids,
    foreign_share,
    mean_entropy,
    vocabulary_gap,
)

CONFIG = RejectionConfig(scale=-4.0, bias=2.0, threshold=0.5, words=("one", "two"))


def _peaked(ids: list[int], vocab: int = 5) -> torch.Tensor:
    """(time, vocab) log-probs putting 0.9 on each frame's id."""
    probs = torch.full((len(ids), vocab), 0.1 / (vocab - 1))
    probs[torch.arange(len(ids)), torch.tensor(ids)] = 0.9
    return probs.log()


def test_gap_is_zero_when_the_hypothesis_is_the_best_path():
    log_probs = _peaked([0, 2, 0, 3, 3, 0])
    assert vocabulary_gap(log_probs, [2, 3]) == 0.0


def test_gap_grows_with_what_the_hypothesis_has_to_bend():
    log_probs = _peaked([0, 2, 0, 3, 0, 4, 0])
    one_off = vocabulary_gap(log_probs, [2, 3, 1])  # last token unlike what was heard
    two_off = vocabulary_gap(log_probs, [2, 1, 1])
    assert 0 < one_off < two_off
    per_frame = (math.log(0.9) - math.log(0.1 / 4)) / 7
    assert abs(one_off - per_frame) < 1e-5


def test_gap_of_empty_and_impossible_hypotheses():
    log_probs = _peaked([0, 2, 0])
    assert vocabulary_gap(log_probs, []) > 0  # the blank path where a token was heard
    assert vocabulary_gap(_peaked([0, 0, 0]), []) == 0.0
    assert vocabulary_gap(log_probs, [1, 1, 1]) == NO_PATH_GAP  # repeats need blanks between
    assert vocabulary_gap(torch.zeros(0, 5), [1]) == NO_PATH_GAP


def test_confidence_is_logistic_in_the_gap_and_zero_outside_the_vocabulary():
    assert confidence(Evidence(0.5, 0.0), "one two", CONFIG) == 0.5
    assert confidence(Evidence(0.0, 0.0), "one", CONFIG) > confidence(
        Evidence(1.0, 0.0), "one", CONFIG
    )
    assert confidence(Evidence(0.0, 0.0), "one three", CONFIG) == 0.0
    assert confidence(Evidence(0.0, 0.0), "", CONFIG) == 0.0
    # A checkpoint calibrated on the gap alone (foreign_scale 0) ignores the foreign share.
    assert confidence(Evidence(0.5, 0.9), "one", CONFIG) == 0.5
    both = RejectionConfig(-4.0, 2.0, 0.5, ("one", "two"), foreign_scale=-10.0)
    assert (
        confidence(Evidence(0.5, 0.3), "one", both)
        < confidence(Evidence(0.5, 0.0), "one", both)
        == 0.5
    )
    # The entropy counts only in a checkpoint calibrated with it.
    assert confidence(Evidence(0.5, 0.0, 2.0), "one", CONFIG) == 0.5
    unsure = RejectionConfig(-4.0, 2.0, 0.5, ("one", "two"), entropy_scale=-1.0)
    assert confidence(Evidence(0.5, 0.0, 1.0), "one", unsure) < 0.5


def test_mean_entropy_is_zero_when_sure_and_log_vocab_when_lost():
    sure = torch.tensor([[1.0, 0, 0, 0], [0, 0, 1.0, 0]]).clamp_min(1e-12).log()
    assert mean_entropy(sure) < 1e-6
    lost = torch.full((3, 4), 0.25).log()
    assert abs(mean_entropy(lost) - math.log(4)) < 1e-5
    assert mean_entropy(torch.zeros(0, 4)) == 0.0


def test_foreign_share_is_the_mass_on_letters_no_word_spells():
    symbols = ("<b>", " ", "e", "n", "o", "w", "l", "m")  # "one", "won": l and m are foreign
    assert foreign_ids(symbols, ("one", "won")) == (6, 7)
    probs = torch.tensor([
        [1.0, 0, 0, 0, 0, 0, 0, 0],  # blank: counts for nothing
        [0.5, 0, 0, 0.25, 0, 0, 0.25, 0],  # half spoken, half of that on "l"
        [0.0, 0, 0.5, 0, 0, 0, 0, 0.5],
    ])  # fmt: skip
    log_probs = probs.clamp_min(1e-12).log()
    assert abs(foreign_share(log_probs, (6, 7)) - 0.75 / 1.5) < 1e-5
    assert foreign_share(log_probs, ()) == 0.0
    assert foreign_share(log_probs[:1], (6, 7)) == 0.0  # nothing spoken


def test_confidence_far_out_on_the_curve_is_a_probability():
    """A gap the steep curve maps past exp's range: 0 < confidence, no overflow."""
    steep = RejectionConfig(scale=-400.0, bias=2.0, threshold=0.5, words=("one",))
    assert 0.0 <= confidence(Evidence(NO_PATH_GAP, 0.0), "one", steep) < 1e-300
    assert confidence(Evidence(-NO_PATH_GAP, 0.0), "one", steep) == 1.0
