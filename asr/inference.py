"""A loaded model ready to transcribe: batching by length, one forward per batch, decoding."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from asr.audio import load_audio
from asr.checkpoint import Checkpoint, load_checkpoint
from asr.data import DurationBatchSampler
from asr.decode import greedy_decode
from asr.errors import AsrError
from asr.features import FeatureConfig, log_mel, normalize
from asr.model import CTCModel
from asr.text import Vocabulary

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).parent / "default_model" / "model.pt"
CHUNK_FILES = 256  # files read ahead and sorted by length; bounds memory on long lists

__all__ = ["DEFAULT_MODEL", "Recognizer", "Transcript", "resolve_model"]


@dataclass
class Transcript:
    path: Path
    text: str = ""
    duration: float = 0.0  # seconds of audio
    error: str | None = None  # one-line reason when the file could not be transcribed
    log_probs: Tensor | None = None  # (time', vocab), kept only when asked for


def resolve_model(path: Path | None) -> Path:
    """The given checkpoint path, or the default model shipped inside the package."""
    if path is not None:
        return Path(path)
    if not DEFAULT_MODEL.is_file():
        raise AsrError(f"{DEFAULT_MODEL}: no default model in this install; pass --model")
    return DEFAULT_MODEL


class Recognizer:
    """Model, vocabulary and feature pipeline from one checkpoint."""

    def __init__(self, ckpt: Checkpoint, device: str = "cpu"):
        self.checkpoint = ckpt
        self.model: CTCModel = ckpt.build_model().to(device)
        self.vocab: Vocabulary = ckpt.vocab
        self.features: FeatureConfig = ckpt.feature_config
        self.mean, self.std = ckpt.mean.to(device), ckpt.std.to(device)
        self.device = device

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> Recognizer:
        return cls(load_checkpoint(path), device)

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame."""
        return self.features.hop_ms / 1000 * self.model.config.time_stride

    def features_of(self, waves: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """waves: list of (samples,) -> normalised feats (batch, time, n_mels), lengths (batch,)."""
        lengths = torch.tensor([self.features.num_frames(len(w)) for w in waves])
        feats = torch.zeros(len(waves), int(lengths.max()), self.features.n_mels)
        for i, wave in enumerate(waves):
            feats[i, : lengths[i]] = log_mel(wave, self.features)  # (time, n_mels)
        return normalize(feats, self.mean.cpu(), self.std.cpu()), lengths

    @torch.inference_mode()
    def log_probs(self, waves: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """waves: list of (samples,) -> log-probs (batch, time', vocab), lengths (batch,)."""
        feats, lengths = self.features_of(waves)
        log_probs, out_lengths = self.model(feats.to(self.device), lengths)
        return log_probs.cpu(), out_lengths.cpu()

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """log_probs (batch, time', vocab), lengths (batch,) -> texts."""
        return [self.vocab.decode(ids) for ids in greedy_decode(log_probs, lengths)]

    def transcribe(
        self,
        paths: Iterable[Path],
        batch_seconds: float = 120.0,
        keep_log_probs: bool = False,
    ) -> Iterator[Transcript]:
        """Transcripts in input order; a file that fails yields a Transcript with `error` set.

        Files are read CHUNK_FILES at a time and batched by duration, so padding is small and
        memory does not grow with the number of files.
        """
        chunk: list[Path] = []
        for path in paths:
            chunk.append(Path(path))
            if len(chunk) == CHUNK_FILES:
                yield from self._transcribe_chunk(chunk, batch_seconds, keep_log_probs)
                chunk = []
        if chunk:
            yield from self._transcribe_chunk(chunk, batch_seconds, keep_log_probs)

    def _transcribe_chunk(
        self, paths: list[Path], batch_seconds: float, keep_log_probs: bool
    ) -> list[Transcript]:
        results = [Transcript(p) for p in paths]
        waves: dict[int, Tensor] = {}
        for i, result in enumerate(results):
            try:
                waves[i] = load_audio(result.path, self.features.sample_rate)
                result.duration = len(waves[i]) / self.features.sample_rate
            except AsrError as err:
                result.error = str(err)
        loaded = list(waves)
        sampler = DurationBatchSampler([results[i].duration for i in loaded], batch_seconds)
        for batch in ([loaded[j] for j in b] for b in sampler):
            log_probs, lengths = self.log_probs([waves[i] for i in batch])
            for i, text, lp, n in zip(
                batch, self.decode(log_probs, lengths), log_probs, lengths, strict=True
            ):
                results[i].text = text
                if keep_log_probs:
                    results[i].log_probs = lp[:n].clone()
        return results
