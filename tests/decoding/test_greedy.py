import torch

from asr.decoding.greedy import greedy_decode


def _one_hot(path: list[int], vocab: int = 5) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(path), vocab).float().log()


def test_greedy_merges_repeats_then_drops_blanks():
    log_probs = _one_hot([0, 1, 1, 0, 1, 2, 2, 0, 0, 3])[None]
    assert greedy_decode(log_probs, torch.tensor([10])) == [[1, 1, 2, 3]]


def test_greedy_respects_lengths_in_a_batch():
    a = _one_hot([1, 2, 0, 0, 0, 0])
    b = _one_hot([3, 3, 0, 4, 4, 2])
    out = greedy_decode(torch.stack([a, b]), torch.tensor([2, 6]))
    assert out == [[1, 2], [3, 4, 2]]


def test_all_blank_and_empty():
    assert greedy_decode(_one_hot([0, 0, 0])[None], torch.tensor([3])) == [[]]
    assert greedy_decode(_one_hot([1, 2])[None], torch.tensor([0])) == [[]]
