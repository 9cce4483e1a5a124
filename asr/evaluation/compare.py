"""Compare two evaluations of the same test set: is B's WER really different from A's?

Utterances are matched by audio_filepath and rescored from their ref/hyp text, so the
test only trusts what results.json says was recognised, not its derived numbers.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.evaluation.bootstrap import N_BOOT, PairedTest, paired_bootstrap
from asr.evaluation.scoring import UtteranceScore, score_utterances, total

logger = logging.getLogger(__name__)

ALPHA = 0.05  # significance level for calling a difference real
_FIELDS = ("audio_filepath", "ref", "hyp")  # all compare needs from each utterance


@dataclass(frozen=True)
class Comparison:
    """WER of two systems on their shared utterances; B - A, so negative favours B."""

    a: Path
    b: Path
    num_matched: int
    only_a: int  # utterances in A's results but not B's
    only_b: int
    ref_mismatches: int  # matched utterances whose reference text differs between A and B
    wer_a: float
    wer_b: float
    test: PairedTest
    n_boot: int
    alpha: float

    @property
    def significant(self) -> bool:
        return self.test.p_value < self.alpha


def compare(
    a_results: Path, b_results: Path, n_boot: int = N_BOOT, seed: int = 0, alpha: float = ALPHA
) -> Comparison:
    """Paired bootstrap comparison of two results.json files on the utterances they share."""
    a, b = _load(Path(a_results)), _load(Path(b_results))
    shared = sorted(a.keys() & b.keys())  # sorted: the resampling must not depend on file order
    if not shared:
        raise AsrError(f"{b_results}: no audio_filepath in common with {a_results}")
    mismatches = sum(a[k]["ref"] != b[k]["ref"] for k in shared)
    if mismatches:
        logger.warning("%d matched utterances have different references in A and B", mismatches)
    scores_a = _score([a[k] for k in shared])
    scores_b = _score([b[k] for k in shared])
    test = paired_bootstrap(
        _errors(scores_a),
        _errors(scores_b),
        _ref_lens(scores_a),
        _ref_lens(scores_b),
        n_boot,
        seed,
        level=1 - alpha,  # the CI excludes 0 about when the test is significant
    )
    return Comparison(
        a=Path(a_results),
        b=Path(b_results),
        num_matched=len(shared),
        only_a=len(a.keys() - b.keys()),
        only_b=len(b.keys() - a.keys()),
        ref_mismatches=mismatches,
        wer_a=total([s.words for s in scores_a]).rate,
        wer_b=total([s.words for s in scores_b]).rate,
        test=test,
        n_boot=n_boot,
        alpha=alpha,
    )


def format_comparison(c: Comparison) -> str:
    """A few lines for a terminal: both WERs, the difference with its CI, and the verdict."""
    verdict = "significant" if c.significant else "not significant"
    level = f"{100 * (1 - c.alpha):g}% CI"
    lines = [
        f"A: {c.a}  WER {100 * c.wer_a:.2f}%",
        f"B: {c.b}  WER {100 * c.wer_b:.2f}%",
        f"B - A: {100 * c.test.diff:+.2f}% ({level} {100 * c.test.ci.low:+.2f}% to "
        f"{100 * c.test.ci.high:+.2f}%), p = {c.test.p_value:.4f}, {verdict} at "
        f"alpha {c.alpha:g} ({c.n_boot} paired bootstrap resamples)",
        f"matched {c.num_matched} utterances; {c.only_a} only in A, {c.only_b} only in B",
    ]
    if c.ref_mismatches:
        lines.append(f"warning: {c.ref_mismatches} matched utterances have different references")
    return "\n".join(lines)


def _load(path: Path) -> dict[str, dict]:
    """Utterances of a results.json, keyed by audio_filepath."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AsrError(f"{path}: cannot read results ({err})") from err
    utterances = results.get("utterances") if isinstance(results, dict) else None
    if not isinstance(utterances, list):
        raise AsrError(f"{path}: no 'utterances' list; is this an asr results.json?")
    by_path: dict[str, dict] = {}
    for i, u in enumerate(utterances):
        if not (isinstance(u, dict) and all(isinstance(u.get(k), str) for k in _FIELDS)):
            raise AsrError(f"{path}: utterance {i} lacks string fields {', '.join(_FIELDS)}")
        if u["audio_filepath"] in by_path:
            raise AsrError(f"{path}: {u['audio_filepath']} appears twice")
        by_path[u["audio_filepath"]] = u
    return by_path


def _score(utterances: list[dict]) -> list[UtteranceScore]:
    """Score text only; speaker and duration play no part in a WER comparison."""
    return score_utterances(
        [{**{k: u[k] for k in _FIELDS}, "speaker": None, "duration": 0.0} for u in utterances]
    )


def _errors(scores: list[UtteranceScore]) -> np.ndarray:
    return np.array([s.words.errors for s in scores])  # (utterances,)


def _ref_lens(scores: list[UtteranceScore]) -> np.ndarray:
    return np.array([s.words.ref_len for s in scores])  # (utterances,)
