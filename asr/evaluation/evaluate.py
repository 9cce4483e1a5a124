"""Score a model on a manifest: transcribe every utterance, then write the report
(results.json for machines, report.md and report.html for people) with `asr.evaluation.report`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.audio import load_samples
from asr.decoding.confidence import rejects
from asr.errors import AsrError
from asr.evaluation.breakdown import worst_first
from asr.evaluation.calibrate import rejection_rates
from asr.evaluation.plots import Posteriorgram
from asr.evaluation.report import write_report
from asr.evaluation.scoring import score_utterances
from asr.inference.parallel import transcribe_parallel
from asr.inference.transcriber import Transcriber, Transcript
from asr.manifest import Utterance, read_manifest
from asr.normalise import Normaliser
from asr.text import normalize_text

logger = logging.getLogger(__name__)

# Posteriorgrams show the start of an utterance: a plot wider than this cannot be read, and
# reading only this much keeps a long recording's plot from loading the whole file.
POSTERIORGRAM_SECONDS = 10.0

__all__ = ["evaluate"]


def evaluate(
    recognizer: Transcriber,
    manifest: Path,
    out_dir: Path,
    batch_seconds: float = 120.0,
    model_path: Path | None = None,
    posteriorgrams: int = 3,
    n_boot: int = 1000,
    seed: int = 0,
    oov_manifest: Path | None = None,
    threads: int | None = 1,
) -> dict:
    """Decode every utterance of `manifest` and write the report into `out_dir`.

    An utterance whose audio cannot be read scores as an empty hypothesis (all deletions), so a
    broken file can only worsen, never flatter, the result; it is listed with its error.
    Posteriorgrams are drawn for the `posteriorgrams` worst utterances. With a calibrated
    model, each utterance's confidence and rejection are listed and counted; `oov_manifest`
    (speech outside the vocabulary) adds how much of it is rejected and the AUROC between the
    two. `threads`: CPU cores to decode on (None: all; `asr.inference.parallel`). Returns
    results.json's content.
    """
    utterances = read_manifest(manifest)
    if not utterances:
        raise AsrError(f"{manifest}: no usable utterances to evaluate")
    normaliser = recognizer.normaliser_for(utterances)  # speaker means, if the model uses them
    transcripts = _transcripts(recognizer, utterances, batch_seconds, normaliser, threads)
    rows = [_row(utt, t) for utt, t in zip(utterances, transcripts, strict=True)]
    posteriors = _worst_posteriorgrams(recognizer, rows, posteriorgrams, normaliser)
    metadata = {
        "model": _model_identity(recognizer, model_path),
        "data": {"manifest": str(manifest), "sha256": _sha256(manifest), "count": len(rows)},
        "decoding": recognizer.decoding_settings(),
        "rejection": _rejection(recognizer, rows, oov_manifest, batch_seconds, threads),
    }
    return write_report(rows, metadata, out_dir, posteriors, n_boot=n_boot, seed=seed)


def _transcripts(
    recognizer: Transcriber,
    utterances: list[Utterance],
    batch_seconds: float,
    normaliser: Normaliser,
    threads: int | None,
) -> Iterator[Transcript]:
    yield from tqdm(
        transcribe_parallel(
            recognizer, utterances, threads, batch_seconds, normaliser=normaliser
        ),
        total=len(utterances), desc="decode", unit="utt", disable=None,
    )  # fmt: skip


def _row(utt: Utterance, transcript: Transcript) -> dict:
    row = {
        "audio_filepath": str(utt.audio_filepath),
        "ref": normalize_text(utt.text),
        "hyp": transcript.text,
        "speaker": utt.speaker,
        "duration": utt.duration,
    }
    if transcript.confidence is not None:
        row["confidence"], row["rejected"] = transcript.confidence, transcript.rejected
    if transcript.error:
        logger.warning("%s", transcript.error)
        row["error"] = transcript.error
    return row


def _rejection(
    recognizer: Transcriber,
    rows: list[dict],
    oov_manifest: Path | None,
    batch_seconds: float,
    threads: int | None,
) -> dict | None:
    """Rejections among `rows` and, with out-of-vocabulary speech, its rejections and AUROC."""
    config = recognizer.rejection
    if config is None:
        if oov_manifest is not None:
            raise AsrError(f"{oov_manifest}: rejection needs a calibrated model (asr calibrate)")
        return None
    scored = [r["confidence"] for r in rows if "confidence" in r]
    summary: dict = {
        "threshold": config.threshold,
        "rejected": sum(rejects(c, config.threshold) for c in scored),
    }
    summary["rejected_rate"] = summary["rejected"] / max(len(scored), 1)
    if oov_manifest is not None:
        oov = read_manifest(oov_manifest)
        normaliser = recognizer.normaliser_for(oov)
        transcripts = _transcripts(recognizer, oov, batch_seconds, normaliser, threads)
        confidences = [t.confidence for t in transcripts]
        rates = rejection_rates(scored, [c for c in confidences if c is not None], config.threshold)
        summary |= {"oov_manifest": str(oov_manifest), **asdict(rates)}
    return summary


def _worst_posteriorgrams(
    recognizer: Transcriber, rows: list[dict], count: int, normaliser: Normaliser
) -> list[Posteriorgram]:
    """CTC outputs of the first POSTERIORGRAM_SECONDS of the `count` worst readable utterances,
    recomputed one by one (cheap)."""
    readable = [r for r in rows if "error" not in r]
    worst = worst_first(score_utterances(readable))[:count]
    posteriors = []
    for i in worst:
        path = Path(readable[i]["audio_filepath"])
        features = recognizer.features
        wave = load_samples(
            path, features.sample_rate, features.min_samples, seconds=POSTERIORGRAM_SECONDS
        )
        speakers = [readable[i]["speaker"]]
        log_probs, lengths = recognizer.log_probs([wave], speakers, normaliser, tail=False)
        posteriors.append(
            Posteriorgram(
                audio_filepath=readable[i]["audio_filepath"],
                log_probs=np.asarray(log_probs[0, : int(lengths[0])]),
                tokens=list(recognizer.vocab.symbols),
                frame_shift=recognizer.frame_shift,
            )
        )
    return posteriors


def _model_identity(recognizer: Transcriber, path: Path | None) -> dict:
    return {
        "path": str(path) if path else None,
        "sha256": _sha256(path) if path else None,
        **recognizer.identity(),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
