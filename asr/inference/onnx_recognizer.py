"""An `asr export`ed model transcribing without torch: onnxruntime runs the one graph from waves
to log-probs (features, normalisation and network; `asr.inference.export`), numpy and
flashlight-text do the rest (`asr.inference.transcriber`).

Why: loading torch takes 1-2.5 s of a process that transcribes a folder of clips in under one
(issue 15), and onnxruntime loads in a tenth of a second. torch is still loaded where it is
needed: for a file at another sample rate than the model's (torchaudio resamples it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asr.config import config_from_dict
from asr.decode_config import decoding_beside, with_overrides
from asr.decoding.confidence import RejectionConfig
from asr.errors import AsrError
from asr.feature_config import FeatureConfig, upgrade_features
from asr.inference.segment import SegmentConfig
from asr.inference.transcriber import Transcriber
from asr.manifest import Utterance
from asr.text import Vocabulary

SUFFIX = ".onnx"  # what `asr export` writes; a model path ending so is run by this module
METADATA_KEY = "asr_checkpoint"  # JSON: everything of the checkpoint but its weights
INPUTS = ("waves", "samples")  # (batch, samples) float32 zero-padded, (batch,) int64

__all__ = ["INPUTS", "METADATA_KEY", "SUFFIX", "OnnxRecognizer", "is_export"]


def is_export(path: str | Path) -> bool:
    """Whether a model path names an exported graph rather than a checkpoint."""
    return Path(path).suffix == SUFFIX


class OnnxRecognizer(Transcriber):
    """An exported graph, its vocabulary and its decoder, configured once."""

    # onnxruntime's LSTM and convolutions run slower per file in larger batches: theo's 500 clips
    # (one thread, sorted by length) took 0.57 s in batches of 32, 0.53 in 16, 0.94 in 128, 2.4
    # in 512.
    max_batch = 32

    def __init__(
        self,
        path: Path,
        threads: int | None = None,
        segments: SegmentConfig | None = None,
        **decoding,
    ):
        """`threads`: onnxruntime's intra-op threads (None: 1). `decoding`: DecodeConfig fields
        overriding the exported tuned ones (None: keep)."""
        self.path = Path(path)
        self.session = _session(self.path, threads or 1)
        meta = _metadata(self.session, self.path)
        self.vocab = Vocabulary(tuple(meta["vocab"]))
        features = upgrade_features(meta["feature_config"])
        self.features = config_from_dict(FeatureConfig, features)
        stored = meta.get("decoding")
        tuned = decoding_beside(stored, self.path.parent) if stored else None
        self.decoding = with_overrides(tuned, **decoding)
        self.segments = segments or SegmentConfig()
        rejection = meta.get("rejection")
        self.rejection = config_from_dict(RejectionConfig, rejection) if rejection else None
        self._frame_shift = float(meta["frame_shift"])
        self._identity = {
            key: meta.get(key) for key in ("model_config", "feature_config", "parameters")
        } | {"precision": meta.get("precision", "fp32"), "training": meta.get("metadata", {})}
        self._setup_decoding()

    @classmethod
    def load(cls, path: Path, threads: int | None = None, **decoding) -> OnnxRecognizer:
        return cls(path, threads, **decoding)

    @property
    def frame_shift(self) -> float:
        return self._frame_shift

    @property
    def needs_speakers(self) -> bool:
        return False  # speaker-normalised models do not export

    def normaliser_for(self, utterances: Sequence[Utterance]) -> None:
        return None  # the graph normalises each file by itself

    def log_probs(
        self, waves: Sequence, speakers=None, normaliser=None, tail: bool | Sequence[bool] = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """waves: list of (samples,) -> log-probs (batch, time', vocab), lengths (batch,).
        `speakers` and `normaliser` are unused: the graph normalises each file by itself."""
        waves = self._padded_waves(waves, tail)
        samples = np.array([len(w) for w in waves], dtype=np.int64)  # (batch,)
        batch = np.zeros((len(waves), int(samples.max())), dtype=np.float32)  # (batch, samples)
        for row, wave in zip(batch, waves, strict=True):
            row[: len(wave)] = wave
        log_probs, lengths = self.session.run(None, {"waves": batch, "samples": samples})
        return log_probs, lengths

    def single_threaded(self) -> None:
        pass  # the session runs on its one intra-op thread: nothing to change after a fork

    def identity(self) -> dict:
        return self._identity

    def _kept(self, log_probs: np.ndarray) -> np.ndarray:
        return log_probs.copy()


def _session(path: Path, threads: int):
    """An onnxruntime CPU session of `path`; AsrError naming the file when it cannot be one."""
    if not path.is_file():
        raise AsrError(f"{path}: no such ONNX file")
    try:  # an optional dependency (the `bench` extra): name it rather than a traceback
        import onnxruntime as ort
    except ImportError as err:
        raise AsrError(
            f"{path}: an .onnx model needs onnxruntime, which is not installed "
            "(pip install onnx onnxruntime; or give a .pt checkpoint)"
        ) from err
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Threads that spin while waiting take the cores other processes need (asr.runtime).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: its warnings are for graph authors
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own exception types (Fail, InvalidProtobuf, ...)
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise AsrError(f"{path}: cannot read ONNX model ({reason})") from err


def _metadata(session, path: Path) -> dict:
    """The checkpoint's settings stored by `asr export`; AsrError for another ONNX file."""
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise AsrError(f"{path}: not exported by `asr export` (no {METADATA_KEY} metadata)")
    inputs = tuple(i.name for i in session.get_inputs())
    if inputs != INPUTS:
        raise AsrError(
            f"{path}: exported by an older asr (its graph takes {', '.join(inputs)}, not "
            "waves); export the checkpoint again with `asr export`"
        )
    try:
        return json.loads(props[METADATA_KEY])
    except json.JSONDecodeError as err:
        raise AsrError(f"{path}: unreadable {METADATA_KEY} metadata ({err})") from err
