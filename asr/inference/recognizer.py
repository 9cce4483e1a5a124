"""A loaded model ready to transcribe: batching by length, one forward per batch, decoding."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from asr.audio import audio_duration, load_audio
from asr.checkpoint import Checkpoint, load_checkpoint
from asr.data import DurationBatchSampler, speaker_means
from asr.decoding.align import WordTiming, align_words
from asr.decoding.beam import DecodeConfig, Decoder, Hypothesis, build_decoder
from asr.errors import AsrError
from asr.features import FeatureConfig, model_features
from asr.inference.quantize import for_inference
from asr.inference.segment import Segment, SegmentConfig, own_words, plan_segments, read_segment
from asr.manifest import Utterance
from asr.model import CTCModel
from asr.text import Vocabulary

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).parents[1] / "default_model" / "model.pt"
CHUNK_FILES = 256  # files read ahead and sorted by length; bounds memory on long lists

__all__ = ["DEFAULT_MODEL", "Recognizer", "Transcript", "resolve_model"]


@dataclass
class Transcript:
    path: Path
    text: str = ""
    duration: float = 0.0  # seconds of audio
    error: str | None = None  # one-line reason when the file could not be transcribed
    log_probs: Tensor | None = None  # (time', vocab), kept only when asked for (not long files)
    words: list[WordTiming] | None = None  # timed words, when asked for (always for long files)
    nbest: list[Hypothesis] = field(default_factory=list)  # best first; empty for long files


def resolve_model(path: Path | None) -> Path:
    """The given checkpoint path, or the default model shipped inside the package."""
    if path is not None:
        return Path(path)
    if not DEFAULT_MODEL.is_file():
        raise AsrError(f"{DEFAULT_MODEL}: no default model in this install; pass --model")
    return DEFAULT_MODEL


class Recognizer:
    """Model, vocabulary and feature pipeline from one checkpoint."""

    def __init__(self, ckpt: Checkpoint, device: str = "cpu", precision: str = "fp32", model=None):
        """`model`: a ready stand-in for the checkpoint's weights, called like CTCModel
        (e.g. `asr.inference.export.OnnxModel`); otherwise the checkpoint's network at
        `precision`."""
        if precision == "int8" and device != "cpu":
            raise AsrError(f"int8 inference runs on the CPU only, not on {device}")
        self.checkpoint = ckpt
        self.precision = precision
        if model is None:
            model = for_inference(ckpt.build_model(), precision)
        self.model: CTCModel = model.to(device)
        self.vocab: Vocabulary = ckpt.vocab
        self.features: FeatureConfig = ckpt.feature_config
        self.mean, self.std = ckpt.mean.to(device), ckpt.std.to(device)
        self.device = device
        # Set by use_decoding; until then the checkpoint's tuned settings (greedy when it has none).
        self.decoding: DecodeConfig | None = None
        self._decoder: Decoder | None = None
        self.segments = SegmentConfig()  # files longer than max_seconds are segmented
        # File -> its speaker's mean log-mel (n_mels,), for models trained with speaker_mean;
        # set by use_speakers, and any file not in it is normalised by its own mean.
        self.file_means: dict[Path, Tensor] = {}

    @classmethod
    def load(cls, path: Path, device: str = "cpu", precision: str = "fp32") -> Recognizer:
        """A checkpoint, or an `asr export`ed .onnx file (run by onnxruntime, as exported)."""
        if Path(path).suffix == ".onnx":
            from asr.inference.export import load_onnx  # onnxruntime is an optional dependency

            ckpt, model = load_onnx(path)
            return cls(ckpt, device, model=model)
        return cls(load_checkpoint(path), device, precision)

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame."""
        return self.features.hop_ms / 1000 * self.model.config.time_stride

    def use_speakers(self, utterances: Sequence[Utterance]) -> None:
        """Normalise each of these files by its speaker's mean over all of them, when the model
        was trained with speaker_mean (a pass over their audio); otherwise nothing to do."""
        # An unreadable file is skipped quietly: transcribing it reports it, once.
        means = speaker_means(utterances, self.features, warn=False)
        self.file_means = {
            Path(u.audio_filepath): means[u.speaker] for u in utterances if u.speaker in means
        }

    def features_of(
        self, waves: Sequence[Tensor], means: Sequence[Tensor | None] | None = None
    ) -> tuple[Tensor, Tensor]:
        """waves: list of (samples,) -> normalised feats (batch, time, n_mels), lengths (batch,).

        means: each wave's speaker's mean log-mel (n_mels,), or None for its own mean."""
        lengths = torch.tensor([self.features.num_frames(len(w)) for w in waves])
        feats = torch.zeros(len(waves), int(lengths.max()), self.features.n_mels)
        mean, std = self.mean.cpu(), self.std.cpu()
        for i, wave in enumerate(waves):
            # Normalise before padding: padding stays 0, as in training batches and as the
            # conv's own zero padding of a file alone, so a file's text never depends on its
            # batch-mates.
            spk_mean = means[i] if means else None
            feats[i, : lengths[i]] = model_features(wave, self.features, mean, std, spk_mean)
        return feats, lengths

    @torch.inference_mode()
    def log_probs(
        self, waves: Sequence[Tensor], means: Sequence[Tensor | None] | None = None
    ) -> tuple[Tensor, Tensor]:
        """waves: list of (samples,) -> log-probs (batch, time', vocab), lengths (batch,)."""
        feats, lengths = self.features_of(waves, means)
        log_probs, out_lengths = self.model(feats.to(self.device), lengths)
        return log_probs.cpu(), out_lengths.cpu()

    def decode_config(self, **overrides) -> DecodeConfig:
        """The checkpoint's tuned decoding settings with the non-None `overrides` applied.

        Asking for greedy drops the tuned beam's LM and lexicon rather than refusing them.
        """
        values = {
            **self.checkpoint.decoding,
            **{k: v for k, v in overrides.items() if v is not None},
        }
        if values.get("method", "greedy") == "greedy":
            values = {"method": "greedy"}
        return DecodeConfig.from_dict(values)

    def use_decoding(self, config: DecodeConfig) -> None:
        """Decode with `config` from now on (loads the lexicon and LM once)."""
        self._decoder = build_decoder(config, self.vocab)
        self.decoding = config

    @property
    def decoder(self) -> Decoder:
        if self._decoder is None:
            self.use_decoding(self.decode_config())
        return self._decoder

    def decoding_settings(self) -> dict:
        """How transcripts are decoded, as recorded in evaluation reports."""
        config = self.decoding or self.decode_config()
        return {"decoder": config.method, **config.to_dict()}

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """log_probs (batch, time', vocab), lengths (batch,) -> best texts."""
        return [nbest[0].text for nbest in self.decoder(log_probs, lengths)]

    def transcribe(
        self,
        paths: Iterable[Path],
        batch_seconds: float = 120.0,
        keep_log_probs: bool = False,
        words: bool = False,
    ) -> Iterator[Transcript]:
        """Transcripts in input order; a file that fails yields a Transcript with `error` set.

        Files are read CHUNK_FILES at a time and batched by duration, so padding is small and
        memory does not grow with the number of files. A file longer than
        `segments.max_seconds` is streamed in segments cut at pauses (`asr.inference.segment`),
        so any length fits in memory; its words are always timed. `words` times the others too.
        """
        chunk: list[Path] = []
        for path in paths:
            chunk.append(Path(path))
            if len(chunk) == CHUNK_FILES:
                yield from self._transcribe_chunk(chunk, batch_seconds, keep_log_probs, words)
                chunk = []
        if chunk:
            yield from self._transcribe_chunk(chunk, batch_seconds, keep_log_probs, words)

    def _transcribe_chunk(
        self, paths: list[Path], batch_seconds: float, keep_log_probs: bool, words: bool
    ) -> list[Transcript]:
        results = [Transcript(p) for p in paths]
        waves: dict[int, Tensor] = {}
        for i, result in enumerate(results):
            try:
                if self._is_long(result.path):
                    self._transcribe_long(result, batch_seconds)
                    continue
                waves[i] = load_audio(result.path, self.features.sample_rate)
                result.duration = len(waves[i]) / self.features.sample_rate
            except AsrError as err:
                result.error = str(err)
        loaded = list(waves)
        sampler = DurationBatchSampler([results[i].duration for i in loaded], batch_seconds)
        for batch in ([loaded[j] for j in b] for b in sampler):
            means = [self.file_means.get(results[i].path) for i in batch]
            log_probs, lengths = self.log_probs([waves[i] for i in batch], means)
            hyps = self.decoder(log_probs, lengths)
            for i, nbest, lp, n in zip(batch, hyps, log_probs, lengths, strict=True):
                result = results[i]
                result.text, result.nbest = nbest[0].text, nbest
                if keep_log_probs:
                    result.log_probs = lp[:n].clone()
                if words:
                    result.words = align_words(
                        lp[:n], nbest[0].tokens, self.vocab, self.frame_shift
                    )
        return results

    def _is_long(self, path: Path) -> bool:
        try:
            return audio_duration(path) > self.segments.max_seconds
        except AsrError:
            return False  # load_audio names the problem more precisely

    def _transcribe_long(self, result: Transcript, batch_seconds: float) -> None:
        """Decode segment batches in order; keep each segment's own words (absolute times)."""
        segments, result.duration = plan_segments(result.path, self.segments)
        logger.info("%s: %.0f s in %d segments", result.path, result.duration, len(segments))
        result.words = []
        for group in _batches(segments, batch_seconds):
            waves = [read_segment(result.path, s, self.features.sample_rate) for s in group]
            spk_mean = self.file_means.get(result.path)
            log_probs, lengths = self.log_probs(waves, [spk_mean] * len(waves))
            hyps = self.decoder(log_probs, lengths)
            for seg, nbest, lp, n in zip(group, hyps, log_probs, lengths, strict=True):
                timed = align_words(
                    lp[:n], nbest[0].tokens, self.vocab, self.frame_shift, seg.read_start
                )
                result.words.extend(own_words(timed, seg))
        result.text = " ".join(w.word for w in result.words)


def _batches(segments: list[Segment], batch_seconds: float) -> Iterator[list[Segment]]:
    """Consecutive segments, at most `batch_seconds` of read audio per batch (at least one)."""
    batch: list[Segment] = []
    for seg in segments:
        if batch and sum(s.read_end - s.read_start for s in batch + [seg]) > batch_seconds:
            yield batch
            batch = []
        batch.append(seg)
    if batch:
        yield batch
