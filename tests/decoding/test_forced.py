"""The numpy CTC forced alignment gives torchaudio's path, scores and spans."""

import numpy as np
import pytest
import torch
import torchaudio.functional as AF

from asr.decoding.forced import best_path_score, forced_align, merge_tokens


@pytest.mark.parametrize("seed", range(4))
def test_forced_align_equals_torchaudio_on_random_posteriors(seed):
    rng = np.random.default_rng(seed)
    checked = infeasible = 0
    for _ in range(60):
        frames, vocab = int(rng.integers(2, 50)), 6
        logits = torch.from_numpy(rng.normal(size=(frames, vocab)).astype(np.float32) * 3)
        log_probs = logits.log_softmax(-1)
        targets = rng.integers(1, vocab, size=int(rng.integers(1, 14))).tolist()  # repeats too
        ours = forced_align(log_probs.numpy(), targets)
        try:
            labels, scores = AF.forced_align(log_probs[None], torch.tensor([targets]), blank=0)
        except RuntimeError:  # torchaudio refuses what the frames cannot hold
            assert ours is None and best_path_score(log_probs, targets) is None
            infeasible += 1
            continue
        assert ours is not None
        assert best_path_score(log_probs, targets) == pytest.approx(float(scores.sum()), abs=1e-4)
        np.testing.assert_array_equal(ours[0], labels[0].numpy())
        np.testing.assert_allclose(ours[1], scores[0].numpy(), rtol=1e-6, atol=1e-6)
        theirs = AF.merge_tokens(labels[0], scores[0].exp(), blank=0)
        spans = merge_tokens(ours[0], np.exp(ours[1]))
        assert [(s.token, s.start, s.end) for s in spans] == [
            (s.token, s.start, s.end) for s in theirs
        ]
        np.testing.assert_allclose([s.score for s in spans], [s.score for s in theirs], atol=1e-6)
        checked += 1
    assert checked > 10 and infeasible > 0  # both kinds of case were met


def test_a_repeat_needs_a_blank_between():
    log_probs = np.log(np.full((3, 3), 1 / 3, dtype=np.float32))
    assert forced_align(log_probs[:2], [1, 1]) is None  # "a a" needs a, blank, a
    labels, _ = forced_align(log_probs, [1, 1])
    assert labels.tolist() == [1, 0, 1]


def test_a_long_utterance_with_many_labels_aligns():
    # more states than an int8 counts: the path's state index must not take the backpointer's type
    rng = np.random.default_rng(7)
    targets = rng.integers(1, 6, size=150).tolist()
    logits = torch.from_numpy(rng.normal(size=(600, 6)).astype(np.float32))
    log_probs = logits.log_softmax(-1)
    labels, scores = AF.forced_align(log_probs[None], torch.tensor([targets]), blank=0)
    ours = forced_align(log_probs.numpy(), targets)
    np.testing.assert_array_equal(ours[0], labels[0].numpy())
    assert float(ours[1].sum()) == pytest.approx(float(scores.sum()), rel=1e-5)
