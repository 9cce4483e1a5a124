"""Score a model on a manifest: transcribe every utterance, WER/CER with jiwer, results.json."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import jiwer
from tqdm import tqdm

from asr.errors import AsrError
from asr.inference import Recognizer
from asr.manifest import Utterance, read_manifest
from asr.text import normalize_text

logger = logging.getLogger(__name__)

__all__ = ["evaluate", "word_error_rate", "char_error_rate"]


def word_error_rate(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER (fraction) of normalised references against hypotheses."""
    return jiwer.wer(refs, hyps)


def char_error_rate(refs: list[str], hyps: list[str]) -> float:
    return jiwer.cer(refs, hyps)


def evaluate(
    recognizer: Recognizer, manifest: Path, out_dir: Path, batch_seconds: float = 120.0
) -> dict:
    """Decode every utterance of `manifest`; write and return `out_dir/results.json`.

    An utterance whose audio cannot be read scores as an empty hypothesis (all deletions), so a
    broken file can only worsen, never flatter, the result; it is listed with its error.
    """
    utterances = read_manifest(manifest)
    if not utterances:
        raise AsrError(f"{manifest}: no usable utterances to evaluate")
    rows = [
        _row(utt, t)
        for utt, t in zip(
            utterances, _transcripts(recognizer, utterances, batch_seconds), strict=True
        )
    ]
    refs = [r["ref"] for r in rows]
    hyps = [r["hyp"] for r in rows]
    results = {
        "wer": word_error_rate(refs, hyps),
        "cer": char_error_rate(refs, hyps),
        "num_utterances": len(rows),
        "num_failed": sum("error" in r for r in rows),
        "utterances": rows,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def _transcripts(recognizer, utterances: list[Utterance], batch_seconds: float) -> Iterator:
    paths = [u.audio_filepath for u in utterances]
    yield from tqdm(
        recognizer.transcribe(paths, batch_seconds), total=len(paths), desc="decode", unit="utt",
        disable=None,
    )  # fmt: skip


def _row(utt: Utterance, transcript) -> dict:
    row = {
        "audio_filepath": str(utt.audio_filepath),
        "ref": normalize_text(utt.text),
        "hyp": transcript.text,
        "speaker": utt.speaker,
        "duration": utt.duration,
    }
    if transcript.error:
        logger.warning("%s", transcript.error)
        row["error"] = transcript.error
    return row
