"""Tune beam search on a dev manifest: grid search of tail, LM weight and word score by corpus WER.

The acoustic model runs once per tail (DecodeConfig.tail_seconds); every other grid point only
re-decodes the kept log-probs. The best setting becomes the checkpoint's `decoding` (a
DecodeConfig), which `asr transcribe` and `asr evaluate` use unless told otherwise.

A streaming model can be tuned on what `asr stream` decodes instead (`stream_pause`): the dev
utterances joined by pauses into one stream, its finals where the endpointer cuts them (pauses
inside words included), scored as one text. Decoding tuned on whole clips is not that optimum
(digits-stream on a dev-voice stream: 55.7 % WER as tuned on clips, 47.8 % at another grid point).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from tqdm import tqdm

from asr.audio import load_audio
from asr.checkpoint import load_checkpoint, save_checkpoint
from asr.decode_config import DecodeConfig
from asr.decoding.beam import Decoder, build_decoder
from asr.errors import AsrError
from asr.evaluation.scoring import score_utterances, total
from asr.inference.recognizer import Recognizer
from asr.inference.stream import Stream
from asr.manifest import read_manifest
from asr.text import normalize_text

logger = logging.getLogger(__name__)

DECODE_BATCH = 64  # utterances per decoder call
# A dev stream's pauses are white noise this loud (RMS, full scale 1), as a microphone's floor:
# digital zeros give log-mels no stream has (benchmarks.stream builds its streams the same way).
PAUSE_NOISE_RMS = 1e-3
STREAM_CHUNK_SECONDS = 0.1  # audio fed to the stream at a time (finals do not depend on it)

__all__ = [
    "TuneResult",
    "corpus_rates",
    "decode_texts",
    "dev_log_probs",
    "save_tuned",
    "stream_log_probs",
    "tune",
]


@dataclass(frozen=True)
class TuneResult:
    best: DecodeConfig
    wer: float  # corpus WER of `best` on the dev manifest
    grid: tuple[dict, ...]  # {"tail_seconds", "lm_weight", "word_score", "wer"} per point, in order


def dev_log_probs(
    recognizer: Recognizer, manifest: Path, batch_seconds: float = 120.0
) -> tuple[list[Tensor], list[str]]:
    """Log-probs (time', vocab) and normalised reference of each readable utterance."""
    utterances = read_manifest(manifest)
    log_probs, refs = [], []
    transcripts = recognizer.transcribe(utterances, batch_seconds, keep_log_probs=True)
    for utt, t in zip(utterances, transcripts, strict=True):
        if t.error or t.log_probs is None:  # unreadable, or long enough to be segmented
            logger.warning("%s: left out of tuning (%s)", utt.audio_filepath, t.error or "long")
            continue
        log_probs.append(t.log_probs)
        refs.append(normalize_text(utt.text))
    if not log_probs:
        raise AsrError(f"{manifest}: no utterances to decode")
    return log_probs, refs


def stream_log_probs(
    recognizer: Recognizer, manifest: Path, pause_seconds: float
) -> tuple[list[Tensor], str]:
    """The manifest's utterances streamed in order, `pause_seconds` of noise before each:
    each final's log-probs (time', vocab), and the utterances' normalised references joined."""
    stream, rate = Stream(recognizer), recognizer.features.sample_rate
    stream.kept_finals, refs = [], []
    noise, chunk = np.random.default_rng(0), round(STREAM_CHUNK_SECONDS * rate)
    for utt in tqdm(read_manifest(manifest), desc="stream", unit="utt", disable=None):
        try:
            wave = load_audio(utt.audio_filepath, rate)  # (samples,)
        except AsrError as err:
            logger.warning("%s: left out of tuning (%s)", utt.audio_filepath, err)
            continue
        pause = noise.standard_normal(round(pause_seconds * rate)) * PAUSE_NOISE_RMS
        audio = torch.cat([torch.from_numpy(pause.astype(np.float32)), wave])
        for i in range(0, len(audio), chunk):
            stream.feed(audio[i : i + chunk])
        refs.append(normalize_text(utt.text))
    if not refs:
        raise AsrError(f"{manifest}: no utterances to stream")
    stream.finish()
    return stream.kept_finals, " ".join(refs)


def decode_texts(decoder: Decoder, log_probs: Sequence[Tensor]) -> list[str]:
    """Best text per utterance; log_probs: list of (time', vocab), decoded in padded batches."""
    texts = []
    for i in range(0, len(log_probs), DECODE_BATCH):
        chunk = log_probs[i : i + DECODE_BATCH]
        lengths = torch.tensor([len(lp) for lp in chunk])
        padded = pad_sequence(list(chunk), batch_first=True)  # (batch, time', vocab)
        texts += [nbest[0].text for nbest in decoder(padded, lengths)]
    return texts


def corpus_rates(refs: Sequence[str], hyps: Sequence[str]) -> tuple[float, float]:
    """Corpus (WER, CER) of normalised references and hypotheses."""
    rows = [
        {"audio_filepath": str(i), "ref": r, "hyp": h, "duration": 0.0}
        for i, (r, h) in enumerate(zip(refs, hyps, strict=True))
    ]
    scores = score_utterances(rows)
    return total([s.words for s in scores]).rate, total([s.chars for s in scores]).rate


def tune(
    recognizer: Recognizer,
    manifest: Path,
    base: DecodeConfig,
    lm_weights: Sequence[float],
    word_scores: Sequence[float],
    batch_seconds: float = 120.0,
    tails: Sequence[float] = (0.0,),
    stream_pause: float | None = None,
) -> TuneResult:
    """Try every (tail, lm_weight, word_score) with `base`'s other settings; lowest WER wins.

    Ties go to the earlier grid point, so list the values you prefer first. A uni-directional
    model keeps no tail: its stream's finals must equal its offline output, and a stream has no
    utterance mean for a tail to lower. With `stream_pause` (seconds), the WER is that of the
    finals of the manifest streamed (stream_log_probs).
    """
    if base.method != "beam":
        raise AsrError("tuning needs beam decoding (an LM weight means nothing to greedy)")
    if stream_pause is not None and stream_pause < 0:
        raise AsrError(f"tune: the stream's pause must be >= 0 seconds, got {stream_pause}")
    if not recognizer.checkpoint.model_config.bidirectional:
        tails = (0.0,)
    grid, best, best_wer = [], base, float("inf")
    points = [(w, s) for w in lm_weights for s in word_scores]
    for tail in tails:
        tailed = dataclasses.replace(base, tail_seconds=tail, nbest=1)
        if stream_pause is None:
            lps, refs = dev_log_probs(recognizer.with_decoding(tailed), manifest, batch_seconds)
        else:  # Stream refuses a model that cannot stream; a greedy one cuts the finals
            lps, ref = stream_log_probs(recognizer, manifest, stream_pause)
            refs = [ref]  # scored as one text: finals do not line up with the utterances
        for weight, score in tqdm(
            points, desc=f"tune, tail {tail:g} s", unit="setting", disable=None
        ):
            config = dataclasses.replace(tailed, lm_weight=weight, word_score=score)
            hyps = decode_texts(build_decoder(config, recognizer.vocab), lps)
            if stream_pause is not None:
                hyps = [normalize_text(" ".join(hyps))]
            wer = corpus_rates(refs, hyps)[0]
            point = {"tail_seconds": tail, "lm_weight": weight, "word_score": score}
            grid.append({**point, "wer": wer})
            logger.debug("%s: WER %.2f%%", point, 100 * wer)
            if wer < best_wer:
                best, best_wer = config, wer
    return TuneResult(best, best_wer, tuple(grid))


def path_beside(path: Path, checkpoint: Path) -> Path:
    """`path` relative to the checkpoint's folder when inside it, else absolute."""
    path, folder = path.resolve(), Path(checkpoint).resolve().parent
    return path.relative_to(folder) if path.is_relative_to(folder) else path


def save_tuned(model: Path, out: Path, result: TuneResult, manifest: Path) -> None:
    """Copy checkpoint `model` to `out` (may be the same file) with the tuned decoding settings.

    LM and lexicon paths are stored absolute, so the checkpoint works from any folder, or relative
    to `out`'s folder when they lie in it, so that a checkpoint can ship with them.
    """
    ckpt = load_checkpoint(model)
    best = dataclasses.replace(
        result.best,
        lm=None if result.best.lm is None else path_beside(Path(result.best.lm), out),
        lexicon=None
        if result.best.lexicon is None
        else path_beside(Path(result.best.lexicon), out),
    )
    ckpt.decoding = best
    ckpt.metadata = {**ckpt.metadata, "tuned": {"manifest": str(manifest), "wer": result.wer}}
    save_checkpoint(out, ckpt)
    logger.info("%s: decoding %s", out, ckpt.decoding)
