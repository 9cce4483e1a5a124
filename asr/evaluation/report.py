"""Evaluation reports: results.json for machines, report.md and report.html for people.

All three are rendered from the one results dict that `build_results` returns, so they
cannot disagree. Utterances in it are ordered worst first; `index` keeps the input order.
"""

import datetime
import importlib.metadata
import json
import logging
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

import asr
from asr.errors import AsrError
from asr.evaluation.bootstrap import N_BOOT, bootstrap_ci
from asr.evaluation.breakdown import GroupScore, by_length, by_speaker, confusions, worst_first
from asr.evaluation.plots import (
    Posteriorgram,
    ReportPlots,
    error_types_plot,
    group_wer_plot,
    posteriorgram_plot,
)
from asr.evaluation.report_html import render_html
from asr.evaluation.report_md import render_markdown
from asr.evaluation.scoring import EditCounts, UtteranceScore, sclite_lines, score_utterances, total

logger = logging.getLogger(__name__)

CI_LEVEL = 0.95
TOP_K = 20  # confusion pairs, insertions and deletions listed
METADATA_KEYS = ("model", "data", "decoding", "rejection", "date", "versions")  # copied verbatim


def write_report(
    utterances: Sequence[Mapping],
    metadata: Mapping,
    out_dir: Path,
    posteriors: Sequence[Posteriorgram] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict:
    """Score `utterances` and write results.json, report.md, report.html and plots/*.png.

    utterances: dicts with audio_filepath, ref, hyp (normalised), speaker, duration.
    metadata: model, data, decoding (and optionally date, versions), copied verbatim.
    posteriors: a few utterances' CTC outputs to draw as posteriorgrams.
    Returns the results dict written to results.json.
    """
    if not utterances:
        raise AsrError(f"{out_dir}: no utterances to report on")
    results = build_results(score_utterances(utterances), metadata, n_boot, seed)
    _carry_extra_fields(results["utterances"], utterances)
    plots = _plots(results, posteriors or [])
    out_dir = Path(out_dir)
    try:
        (out_dir / "plots").mkdir(parents=True, exist_ok=True)
        for plot in plots.all():
            (out_dir / "plots" / f"{plot.name}.png").write_bytes(plot.png)
        text = {
            "results.json": json.dumps(results, indent=2, allow_nan=False) + "\n",
            "report.md": render_markdown(results, plots, out_dir),
            "report.html": render_html(results, plots, out_dir),
        }
        for name, content in text.items():
            (out_dir / name).write_text(content, encoding="utf-8")
    except OSError as err:
        raise AsrError(f"{out_dir}: cannot write report ({err})") from err
    logger.info(
        "WER %.2f%% on %d utterances; report in %s",
        100 * results["wer"],
        results["num_utterances"],
        out_dir,
    )
    return results


def build_results(
    scores: Sequence[UtteranceScore], metadata: Mapping, n_boot: int = N_BOOT, seed: int = 0
) -> dict:
    """The JSON-ready results: totals, confidence intervals, breakdowns, utterances, metadata."""
    words = total([s.words for s in scores])
    chars = total([s.chars for s in scores])
    top = confusions(scores, TOP_K)
    return {
        "wer": words.rate,
        "cer": chars.rate,
        "num_utterances": len(scores),
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "hits": words.hits,
        "ref_words": words.ref_len,
        "counts": {"words": _counts(words), "chars": _counts(chars)},
        "ci": _ci(scores, n_boot, seed),
        "by_speaker": [_group(g) for g in by_speaker(scores)],
        "by_length": [_group(g) for g in by_length(scores)],
        "confusions": {
            "substitutions": [{"ref": r, "hyp": h, "count": n} for r, h, n in top.substitutions],
            "insertions": [{"word": w, "count": n} for w, n in top.insertions],
            "deletions": [{"word": w, "count": n} for w, n in top.deletions],
        },
        "utterances": [_utterance(scores[i], i) for i in worst_first(scores)],
        **_metadata(metadata),
    }


def versions() -> dict:
    """Versions of what produced the numbers, so results can be reproduced."""
    packages = {name: _package_version(name) for name in ("torch", "jiwer", "numpy")}
    return {"python": platform.python_version(), "asr": asr.__version__, **packages}


def _counts(c: EditCounts) -> dict:
    return {
        "hits": c.hits,
        "substitutions": c.substitutions,
        "deletions": c.deletions,
        "insertions": c.insertions,
        "errors": c.errors,
        "ref_len": c.ref_len,
        "hyp_len": c.hyp_len,
    }


def _ci(scores: Sequence[UtteranceScore], n_boot: int, seed: int) -> dict:
    return {
        "level": CI_LEVEL,
        "method": "percentile bootstrap over utterances",
        "n_boot": n_boot,
        "seed": seed,
        "wer": _interval([s.words for s in scores], n_boot, seed),
        "cer": _interval([s.chars for s in scores], n_boot, seed),
    }


def _interval(counts: Sequence[EditCounts], n_boot: int, seed: int) -> list[float]:
    errors = np.array([c.errors for c in counts])  # (utterances,)
    ref_lens = np.array([c.ref_len for c in counts])  # (utterances,)
    ci = bootstrap_ci(errors, ref_lens, n_boot, seed, CI_LEVEL)
    return [ci.low, ci.high]


def _group(g: GroupScore) -> dict:
    return {
        "name": g.name,
        "num_utterances": g.num_utterances,
        "wer": g.wer,
        "cer": g.cer,
        "ref_words": g.words.ref_len,
        "errors": g.words.errors,
        "substitutions": g.words.substitutions,
        "deletions": g.words.deletions,
        "insertions": g.words.insertions,
    }


def _utterance(s: UtteranceScore, index: int) -> dict:
    return {
        "audio_filepath": s.audio_filepath,
        "ref": s.ref,
        "hyp": s.hyp,
        "speaker": s.speaker,
        "duration": s.duration,
        "index": index,
        "wer": s.wer,
        "cer": s.cer,
        "ref_words": s.words.ref_len,
        "errors": s.words.errors,
        "substitutions": s.words.substitutions,
        "deletions": s.words.deletions,
        "insertions": s.words.insertions,
        "ref_chars": s.chars.ref_len,
        "char_errors": s.chars.errors,
        "alignment": list(sclite_lines(s.alignment)),
    }


def _carry_extra_fields(rows: list[dict], utterances: Sequence[Mapping]) -> None:
    """Keep fields the caller added (e.g. a decoding `error`) next to the scores they explain."""
    for row in rows:
        extra = utterances[row["index"]].keys() - row.keys()
        row.update({key: utterances[row["index"]][key] for key in sorted(extra)})


def _metadata(metadata: Mapping) -> dict:
    defaults = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    return {key: metadata.get(key, defaults.get(key)) for key in METADATA_KEYS}


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _plots(results: Mapping, posteriors: Sequence[Posteriorgram]) -> ReportPlots:
    speakers, lengths = results["by_speaker"], results["by_length"]
    return ReportPlots(
        error_types=error_types_plot(
            results["substitutions"], results["deletions"], results["insertions"]
        ),
        by_speaker=group_wer_plot(
            "wer_by_speaker",
            "WER by speaker",
            [g["name"] for g in speakers],
            [g["wer"] for g in speakers],
        ),
        by_length=group_wer_plot(
            "wer_by_length",
            "WER by utterance duration",
            [g["name"] for g in lengths],
            [g["wer"] for g in lengths],
        ),
        posteriorgrams=tuple(
            posteriorgram_plot(f"posteriorgram_{i}", p) for i, p in enumerate(posteriors)
        ),
    )
