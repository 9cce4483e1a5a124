"""Transcribing files with any acoustic model: reading, batching by length, one forward per
batch, decoding, confidence and word timing; long files in segments cut at pauses.

`Transcriber` holds what every model shares; a subclass says how waves become log-probs:
`asr.inference.recognizer.Recognizer` (a PyTorch checkpoint) or
`asr.inference.onnx_recognizer.OnnxRecognizer` (an exported graph, run without torch). Nothing
here imports torch.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.audio import audio_duration, load_samples
from asr.batching import MAX_BATCH, duration_batches
from asr.config import config_to_dict
from asr.decode_config import DecodeConfig
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
from asr.feature_config import FeatureConfig
from asr.inference.segment import (
    SegmentConfig,
    own_words,
    plan_segments,
    read_segment,
    segment_batches,
)
from asr.manifest import Utterance
from asr.text import Vocabulary

logger = logging.getLogger(__name__)

CHUNK_FILES = 256  # files read ahead and sorted by length; bounds memory on long lists

__all__ = ["CHUNK_FILES", "Transcriber", "Transcript"]


@dataclass
class Transcript:
    path: Path
    text: str = ""
    duration: float = 0.0  # seconds of audio
    error: str | None = None  # one-line reason when the file could not be transcribed
    log_probs: object = None  # (time', vocab) as the model gives them, when asked for (not long)
    words: list[WordTiming] | None = None  # timed words, when asked for (always for long files)
    nbest: list[Hypothesis] = field(default_factory=list)  # best first; empty for long files
    # With a calibrated checkpoint: P(the audio is speech in the model's vocabulary), and
    # whether that fell below the checkpoint's threshold (then `text` is what was heard anyway).
    confidence: float | None = None
    rejected: bool | None = None


class Transcriber(ABC):
    """Reading, batching, decoding and judging, for a subclass that turns waves into log-probs.

    A subclass sets `vocab`, `features` (its FeatureConfig), `decoding`, `segments` and
    `rejection` (None: uncalibrated), then calls `_setup_decoding`; and it implements the
    abstract methods."""

    max_batch = MAX_BATCH  # files per forward at most, whatever batch_seconds allows
    vocab: Vocabulary
    features: FeatureConfig
    decoding: DecodeConfig
    segments: SegmentConfig
    rejection: RejectionConfig | None

    def _setup_decoding(self) -> None:
        self.decoder: Decoder = build_decoder(self.decoding, self.vocab)  # LM loaded once
        words = self.rejection.words if self.rejection else ()
        self.foreign = foreign_ids(self.vocab.symbols, words)  # see asr.decoding.confidence

    @property
    @abstractmethod
    def frame_shift(self) -> float:
        """Seconds per output frame."""

    @property
    @abstractmethod
    def needs_speakers(self) -> bool:
        """Whether the model normalises by speaker: then `normaliser_for` needs all the files."""

    @abstractmethod
    def log_probs(self, waves: Sequence, speakers=None, normaliser=None, tail=True):
        """waves: list of (samples,) -> log-probs (batch, time', vocab), lengths (batch,)."""

    @abstractmethod
    def normaliser_for(self, utterances: Sequence[Utterance]):
        """What normalises these files: None when the model takes nothing from their speakers."""

    @abstractmethod
    def single_threaded(self) -> None:
        """Run on one thread from now on: in a worker process forked from this one."""

    @abstractmethod
    def identity(self) -> dict:
        """The model as evaluation reports record it: its configs (as dicts), parameter count
        and training metadata."""

    @abstractmethod
    def _kept(self, log_probs):
        """A copy of one file's log-probs (time', vocab) that does not hold its batch's."""

    def _padded_waves(self, waves: Sequence, tail: bool | Sequence[bool]) -> list:
        """The waves with the tuned silence appended (DecodeConfig.tail_seconds), as for whole
        files; or, per wave, where `tail` says."""
        silence = round(self.decoding.tail_seconds * self.features.sample_rate)
        tails = [tail] * len(waves) if isinstance(tail, bool) else tail
        pad = np.zeros(silence, dtype=np.float32)
        return [
            np.concatenate([np.asarray(w), pad]) if t and silence else w
            for w, t in zip(waves, tails, strict=True)
        ]

    def decoding_settings(self) -> dict:
        """How transcripts are decoded, as recorded in evaluation reports."""
        return {"decoder": self.decoding.method, **config_to_dict(self.decoding)}

    def decode(self, log_probs, lengths) -> list[str]:
        """log_probs (batch, time', vocab), lengths (batch,) -> best texts."""
        return [nbest[0].text for nbest in self.decoder(log_probs, lengths)]

    def transcribe(
        self,
        inputs: Iterable[Path | Utterance],
        batch_seconds: float = 120.0,
        keep_log_probs: bool = False,
        words: bool = False,
        normaliser=None,
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
        if normaliser is None and self.needs_speakers:
            utterances = list(utterances)  # a speaker's mean needs all of their files first
            normaliser = self.normaliser_for(utterances)
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
        normaliser,
    ) -> list[Transcript]:
        results = [Transcript(Path(u.audio_filepath)) for u in utterances]
        waves: dict[int, np.ndarray] = {}
        rate = self.features.sample_rate
        for i, result in enumerate(results):
            try:
                if self._is_long(result.path):
                    self._transcribe_long(result, batch_seconds, utterances[i].speaker, normaliser)
                    continue
                waves[i] = load_samples(result.path, rate, self.features.min_samples)
                result.duration = len(waves[i]) / rate
            except AsrError as err:
                result.error = str(err)
        loaded = list(waves)
        durations = [results[i].duration for i in loaded]
        order = sorted(range(len(loaded)), key=durations.__getitem__)
        batches = duration_batches(order, durations, batch_seconds, self.max_batch)
        for batch in ([loaded[j] for j in b] for b in batches):
            speakers = [utterances[i].speaker for i in batch]
            log_probs, lengths = self.log_probs([waves[i] for i in batch], speakers, normaliser)
            hyps = self.decoder(log_probs, lengths)
            for i, nbest, lp, n in zip(batch, hyps, log_probs, lengths, strict=True):
                result = results[i]
                result.text, result.nbest = nbest[0].text, nbest
                self._judge(result, self._evidence(lp[:n], nbest[0].tokens))
                if keep_log_probs:
                    result.log_probs = self._kept(lp[:n])
                if words:
                    result.words = align_words(
                        lp[:n], nbest[0].tokens, self.vocab, self.frame_shift
                    )
        return results

    def _is_long(self, path: Path) -> bool:
        try:
            return audio_duration(path) > self.segments.max_seconds
        except AsrError:
            return False  # load_samples names the problem more precisely

    def _transcribe_long(
        self, result: Transcript, batch_seconds: float, speaker: str | None, normaliser
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

    def _evidence(self, log_probs, tokens: tuple[int, ...]) -> Evidence:
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
