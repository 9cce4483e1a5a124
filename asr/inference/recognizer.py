"""A loaded model ready to transcribe: batching by length, one forward per batch, decoding."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from asr.audio import audio_duration, load_audio
from asr.checkpoint import Checkpoint, load_checkpoint
from asr.config import config_from_dict, config_to_dict
from asr.data import DurationBatchSampler
from asr.decode_config import DecodeConfig, with_overrides
from asr.decoding.align import WordTiming, align_words
from asr.decoding.beam import Decoder, Hypothesis, build_decoder
from asr.decoding.confidence import (
    Evidence,
    RejectionConfig,
    confidence,
    evidence,
    foreign_ids,
    rejects,
)
from asr.errors import AsrError
from asr.features import FeatureConfig, log_mel_batch
from asr.inference.quantize import for_inference
from asr.inference.segment import (
    SegmentConfig,
    own_words,
    plan_segments,
    read_segment,
    segment_batches,
)
from asr.manifest import Utterance
from asr.model import CTCModel
from asr.normalise import Normaliser
from asr.text import Vocabulary

logger = logging.getLogger(__name__)

CHUNK_FILES = 256  # files read ahead and sorted by length; bounds memory on long lists

__all__ = ["Recognizer", "Transcript"]


@dataclass
class Transcript:
    path: Path
    text: str = ""
    duration: float = 0.0  # seconds of audio
    error: str | None = None  # one-line reason when the file could not be transcribed
    log_probs: Tensor | None = None  # (time', vocab), kept only when asked for (not long files)
    words: list[WordTiming] | None = None  # timed words, when asked for (always for long files)
    nbest: list[Hypothesis] = field(default_factory=list)  # best first; empty for long files
    # With a calibrated checkpoint: P(the audio is speech in the model's vocabulary), and
    # whether that fell below the checkpoint's threshold (then `text` is what was heard anyway).
    confidence: float | None = None
    rejected: bool | None = None


class Recognizer:
    """One checkpoint's model, vocabulary, normalisation and decoder, configured once."""

    def __init__(
        self,
        ckpt: Checkpoint,
        decoding: DecodeConfig | None = None,
        segments: SegmentConfig | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        model=None,
    ):
        """`decoding`: None for the checkpoint's tuned settings (greedy when it has none).
        `segments`: how files longer than `segments.max_seconds` are cut (None: defaults).
        `model`: a ready stand-in for the checkpoint's weights, called like CTCModel (e.g.
        `asr.inference.export.OnnxModel`); otherwise the checkpoint's network at `precision`."""
        if precision == "int8" and device != "cpu":
            raise AsrError(f"int8 inference runs on the CPU only, not on {device}")
        self.checkpoint = ckpt
        if model is None:
            model = for_inference(ckpt.build_model(), precision)
        self.model: CTCModel = model.to(device)
        self.vocab: Vocabulary = ckpt.vocab
        self.features: FeatureConfig = ckpt.feature_config
        self.normaliser: Normaliser = ckpt.normaliser  # no speaker means: see normaliser_for
        self.device = device
        self.decoding: DecodeConfig = decoding or ckpt.decoding or DecodeConfig()
        self.decoder: Decoder = build_decoder(self.decoding, self.vocab)  # LM loaded once
        self.segments = segments or SegmentConfig()
        self.rejection = (
            config_from_dict(RejectionConfig, ckpt.rejection) if ckpt.rejection else None
        )
        words = self.rejection.words if self.rejection else ()
        self.foreign = foreign_ids(self.vocab.symbols, words)  # see asr.decoding.confidence

    @classmethod
    def load(
        cls, path: Path, device: str = "cpu", precision: str = "fp32", **decoding
    ) -> Recognizer:
        """A checkpoint, or an `asr export`ed .onnx file (run by onnxruntime, as exported).
        `decoding`: DecodeConfig fields overriding the checkpoint's tuned ones (None: keep)."""
        if Path(path).suffix == ".onnx":
            from asr.inference.export import load_onnx  # onnxruntime is an optional dependency

            ckpt, model = load_onnx(path)
            return cls(ckpt, with_overrides(ckpt.decoding, **decoding), device=device, model=model)
        ckpt = load_checkpoint(path)
        return cls(
            ckpt, with_overrides(ckpt.decoding, **decoding), device=device, precision=precision
        )

    def with_decoding(self, decoding: DecodeConfig) -> Recognizer:
        """The same model and segmenting with other decoding settings (the weights are shared)."""
        return Recognizer(self.checkpoint, decoding, self.segments, self.device, model=self.model)

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame."""
        return self.features.hop_ms / 1000 * self.model.config.time_stride

    def normaliser_for(self, utterances: Sequence[Utterance]) -> Normaliser:
        """The normaliser for these files: with their speakers' means when the model normalises
        by speaker (a pass over their audio), else the checkpoint's."""
        return self.normaliser.for_speakers(utterances, self.features)

    def features_of(
        self,
        waves: Sequence[Tensor],
        speakers: Sequence[str | None] | None = None,
        normaliser: Normaliser | None = None,
        tail: bool | Sequence[bool] = True,
    ) -> tuple[Tensor, Tensor]:
        """waves: list of (samples,) -> normalised feats (batch, time, n_mels), lengths (batch,).

        speakers: each wave's speaker, whose mean `normaliser` (default: the checkpoint's, with
        no speaker means) subtracts when the model normalises by speaker. `tail`: append the
        tuned silence (DecodeConfig.tail_seconds), as for whole files; or, per wave, where."""
        normaliser = normaliser or self.normaliser
        silence = round(self.decoding.tail_seconds * self.features.sample_rate)
        tails = [tail] * len(waves) if isinstance(tail, bool) else tail
        waves = [
            torch.cat([w, w.new_zeros(silence)]) if t and silence else w
            for w, t in zip(waves, tails, strict=True)
        ]
        samples = torch.tensor([len(w) for w in waves])  # (batch,)
        # One STFT over the padded batch on the model's device, not one per file in Python.
        padded = pad_sequence(list(waves), batch_first=True).to(self.device)  # (batch, samples)
        feats, lengths = log_mel_batch(padded, samples, self.features)  # (batch, time, n_mels)
        # Normalised per file with padding kept 0, as in training batches and as the conv's own
        # zero padding of a file alone, so a file's text never depends on its batch-mates.
        feats = normaliser.batch(feats, lengths, speakers)
        return feats, lengths

    @torch.inference_mode()
    def log_probs(
        self,
        waves: Sequence[Tensor],
        speakers: Sequence[str | None] | None = None,
        normaliser: Normaliser | None = None,
        tail: bool | Sequence[bool] = True,
    ) -> tuple[Tensor, Tensor]:
        """waves: list of (samples,) -> log-probs (batch, time', vocab), lengths (batch,)."""
        feats, lengths = self.features_of(waves, speakers, normaliser, tail)
        log_probs, out_lengths = self.model(feats, lengths)
        return log_probs.cpu(), out_lengths.cpu()

    def decoding_settings(self) -> dict:
        """How transcripts are decoded, as recorded in evaluation reports."""
        return {"decoder": self.decoding.method, **config_to_dict(self.decoding)}

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """log_probs (batch, time', vocab), lengths (batch,) -> best texts."""
        return [nbest[0].text for nbest in self.decoder(log_probs, lengths)]

    def transcribe(
        self,
        inputs: Iterable[Path | Utterance],
        batch_seconds: float = 120.0,
        keep_log_probs: bool = False,
        words: bool = False,
        normaliser: Normaliser | None = None,
    ) -> Iterator[Transcript]:
        """Transcripts in input order; a file that fails yields a Transcript with `error` set.

        Files are read CHUNK_FILES at a time and batched by duration, so padding is small and
        memory does not grow with the number of files. A file longer than
        `segments.max_seconds` is streamed in segments cut at pauses (`asr.inference.segment`),
        so any length fits in memory; its words are always timed. `words` times the others too.
        Utterances carry speakers: a model that normalises by speaker gets their means from
        `normaliser`, by default `normaliser_for(inputs)`.
        """
        utterances: Iterable[Utterance] = (_utterance(x) for x in inputs)
        if normaliser is None and self.normaliser.mode == "speaker":
            utterances = list(utterances)  # a speaker's mean needs all of their files first
            normaliser = self.normaliser_for(utterances)
        normaliser = normaliser or self.normaliser
        chunk: list[Utterance] = []
        for utt in utterances:
            chunk.append(utt)
            if len(chunk) == CHUNK_FILES:
                yield from self._transcribe_chunk(
                    chunk, batch_seconds, keep_log_probs, words, normaliser
                )
                chunk = []
        if chunk:
            yield from self._transcribe_chunk(
                chunk, batch_seconds, keep_log_probs, words, normaliser
            )

    def _transcribe_chunk(
        self,
        utterances: list[Utterance],
        batch_seconds: float,
        keep_log_probs: bool,
        words: bool,
        normaliser: Normaliser,
    ) -> list[Transcript]:
        results = [Transcript(Path(u.audio_filepath)) for u in utterances]
        waves: dict[int, Tensor] = {}
        rate = self.features.sample_rate
        for i, result in enumerate(results):
            try:
                if self._is_long(result.path):
                    self._transcribe_long(result, batch_seconds, utterances[i].speaker, normaliser)
                    continue
                waves[i] = load_audio(result.path, rate, self.features.min_samples)
                result.duration = len(waves[i]) / rate
            except AsrError as err:
                result.error = str(err)
        loaded = list(waves)
        sampler = DurationBatchSampler([results[i].duration for i in loaded], batch_seconds)
        for batch in ([loaded[j] for j in b] for b in sampler):
            speakers = [utterances[i].speaker for i in batch]
            log_probs, lengths = self.log_probs([waves[i] for i in batch], speakers, normaliser)
            hyps = self.decoder(log_probs, lengths)
            for i, nbest, lp, n in zip(batch, hyps, log_probs, lengths, strict=True):
                result = results[i]
                result.text, result.nbest = nbest[0].text, nbest
                self._judge(result, self._evidence(lp[:n], nbest[0].tokens))
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

    def _transcribe_long(
        self, result: Transcript, batch_seconds: float, speaker: str | None, normaliser: Normaliser
    ) -> None:
        """Decode segment batches in order; keep each segment's own words (absolute times)."""
        segments, result.duration = plan_segments(result.path, self.segments)
        logger.info("%s: %.0f s in %d segments", result.path, result.duration, len(segments))
        result.words = []
        # The file's evidence: its segments' evidence weighted by their frames.
        evidence, frames = [0.0] * len(Evidence._fields), 0
        for group in segment_batches(segments, batch_seconds):
            waves = [read_segment(result.path, s, self.features.sample_rate) for s in group]
            tails = [s.clip_end for s in group]  # decoded as a clip where it ends as one
            speakers = [speaker] * len(waves)
            log_probs, lengths = self.log_probs(waves, speakers, normaliser, tails)
            hyps = self.decoder(log_probs, lengths)
            for seg, nbest, lp, n in zip(group, hyps, log_probs, lengths, strict=True):
                timed = align_words(
                    lp[:n], nbest[0].tokens, self.vocab, self.frame_shift, seg.read_start
                )
                result.words.extend(own_words(timed, seg))
                for i, value in enumerate(self._evidence(lp[:n], nbest[0].tokens)):
                    evidence[i] += value * int(n)
                frames += int(n)
        result.text = " ".join(w.word for w in result.words)
        self._judge(result, Evidence(*(value / max(frames, 1) for value in evidence)))

    def _evidence(self, log_probs: Tensor, tokens: tuple[int, ...]) -> Evidence:
        """The evidence of one decoded utterance (time', vocab); zeros uncalibrated."""
        if self.rejection is None:
            return Evidence(0.0, 0.0, 0.0)
        return evidence(log_probs, tokens, self.foreign)

    def _judge(self, result: Transcript, evidence: Evidence) -> None:
        """Confidence and rejection of a decoded file, when the checkpoint is calibrated."""
        if self.rejection is not None:
            result.confidence = confidence(evidence, result.text, self.rejection)
            result.rejected = rejects(result.confidence, self.rejection.threshold)


def _utterance(item: Path | Utterance) -> Utterance:
    """A bare path is a file of unknown speaker."""
    return item if isinstance(item, Utterance) else Utterance(Path(item), 0.0, "")
