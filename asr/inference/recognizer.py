"""A PyTorch checkpoint ready to transcribe: its features, normalisation and network (the
reading, batching and decoding are `asr.inference.transcriber`'s)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from asr.checkpoint import Checkpoint, load_checkpoint
from asr.config import config_from_dict, config_to_dict
from asr.decode_config import DecodeConfig, with_overrides
from asr.decoding.confidence import RejectionConfig
from asr.errors import AsrError
from asr.features import FeatureConfig, log_mel_batch
from asr.inference.onnx_recognizer import is_export
from asr.inference.quantize import for_inference
from asr.inference.segment import SegmentConfig
from asr.inference.transcriber import Transcriber
from asr.manifest import Utterance
from asr.model import CTCModel
from asr.normalise import Normaliser
from asr.text import Vocabulary

logger = logging.getLogger(__name__)

__all__ = ["Recognizer"]


class Recognizer(Transcriber):
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
        `model`: a ready network called like CTCModel (`with_decoding` shares it); otherwise
        the checkpoint's network at `precision`."""
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
        self.segments = segments or SegmentConfig()
        self.rejection = (
            config_from_dict(RejectionConfig, ckpt.rejection) if ckpt.rejection else None
        )
        self._setup_decoding()

    @classmethod
    def load(cls, path: Path, device: str = "cpu", precision: str = "fp32", **decoding):
        """A checkpoint (an exported .onnx file is `OnnxRecognizer`'s). `decoding`: DecodeConfig
        fields overriding the checkpoint's tuned ones (None: keep)."""
        if is_export(path):
            raise AsrError(
                f"{path}: an exported ONNX model runs in `asr transcribe` and `asr evaluate` "
                "only; give the .pt checkpoint it was exported from"
            )
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

    @property
    def needs_speakers(self) -> bool:
        return self.normaliser.mode == "speaker"

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
        """waves: list of (samples,), tensors or numpy -> normalised feats (batch, time, n_mels),
        lengths (batch,).

        speakers: each wave's speaker, whose mean `normaliser` (default: the checkpoint's, with
        no speaker means) subtracts when the model normalises by speaker. `tail`: append the
        tuned silence (DecodeConfig.tail_seconds), as for whole files; or, per wave, where."""
        normaliser = normaliser or self.normaliser
        waves = [torch.as_tensor(w) for w in self._padded_waves(waves, tail)]
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

    def single_threaded(self) -> None:
        # Before any parallel region in this process: torch then runs ops inline on one thread,
        # never touching the OpenMP pool the parent may have started before the fork.
        torch.set_num_threads(1)

    def _kept(self, log_probs: Tensor) -> Tensor:
        return log_probs.clone()

    def identity(self) -> dict:
        ckpt = self.checkpoint
        return {
            "model_config": config_to_dict(ckpt.model_config),
            "feature_config": config_to_dict(ckpt.feature_config),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "training": ckpt.metadata,
        }
