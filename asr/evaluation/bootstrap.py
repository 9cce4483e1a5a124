"""Bootstrap confidence intervals and paired significance tests for corpus error rates.

Utterances are the resampling unit: errors within an utterance are not independent, so
resampling words would make intervals too narrow. A resample's rate is
sum(errors) / max(sum(ref_len), 1), the same definition as `asr.evaluation.scoring.error_rate`.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

N_BOOT = 1000  # resamples; percentile intervals at 95% are stable to ~0.1% WER by then
MAX_DRAWS = 4_000_000  # indices drawn per chunk, to bound memory on large test sets


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class PairedTest:
    """B minus A on the same utterances; negative `diff` means B makes fewer errors."""

    diff: float
    ci: Interval
    p_value: float  # two-sided, of "A and B have the same error rate"


def bootstrap_ci(
    errors: np.ndarray,
    ref_lens: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """Percentile interval of the corpus error rate; errors, ref_lens: (utterances,)."""
    rates = np.concatenate(
        [_rates(errors, ref_lens, idx) for idx in _resamples(len(errors), n_boot, seed)]
    )  # (n_boot,)
    return _percentiles(rates, level)


def paired_bootstrap(
    errors_a: np.ndarray,
    errors_b: np.ndarray,
    ref_lens_a: np.ndarray,
    ref_lens_b: np.ndarray,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> PairedTest:
    """Paired test of rate B - rate A; all arrays (utterances,), aligned utterance by utterance.

    Both systems are scored on the same resampled utterances. The p-value shifts the
    resampled differences to the null (Berg-Kirkpatrick et al., 2012): how often a difference
    at least as large as the observed one arises by resampling noise alone.
    """
    if not len(errors_a) == len(errors_b) == len(ref_lens_a) == len(ref_lens_b):
        raise ValueError(f"paired arrays differ in length: {len(errors_a)}, {len(errors_b)}")
    diff = _rate(errors_b, ref_lens_b) - _rate(errors_a, ref_lens_a)
    diffs = np.concatenate(
        [
            _rates(errors_b, ref_lens_b, idx) - _rates(errors_a, ref_lens_a, idx)
            for idx in _resamples(len(errors_a), n_boot, seed)
        ]
    )  # (n_boot,)
    extreme = np.abs(diffs - diff) >= abs(diff)  # (n_boot,)
    # the +1s count the observed sample itself, so p is never an impossible 0
    p_value = (1 + int(extreme.sum())) / (n_boot + 1)
    return PairedTest(diff=diff, ci=_percentiles(diffs, level), p_value=p_value)


def _resamples(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Index matrices (chunk, n) drawn with replacement, n_boot rows in all."""
    if n == 0 or n_boot < 1:
        raise ValueError(f"bootstrap needs utterances and resamples, got n={n}, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    chunk = max(1, MAX_DRAWS // n)
    for start in range(0, n_boot, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_boot - start), n))


def _rate(errors: np.ndarray, ref_lens: np.ndarray) -> float:
    return float(errors.sum() / max(ref_lens.sum(), 1))


def _rates(errors: np.ndarray, ref_lens: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Corpus rate of each resample; idx (chunk, n) -> (chunk,)."""
    return errors[idx].sum(axis=1) / np.maximum(ref_lens[idx].sum(axis=1), 1)


def _percentiles(values: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))
