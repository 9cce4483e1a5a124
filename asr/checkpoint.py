"""One checkpoint file carries everything needed to transcribe: weights, model and feature
config, vocabulary, normalisation statistics, decoding settings and training metadata.

Saved atomically (write, fsync, rename) and loaded with `weights_only=True`, so a crafted file
cannot execute code: it is refused with an AsrError.
"""

from __future__ import annotations

import os
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.config import config_from_dict, config_to_dict
from asr.decode_config import DecodeConfig, decoding_beside
from asr.errors import AsrError
from asr.features import FeatureConfig, upgrade_features
from asr.model import CTCModel, ModelConfig
from asr.normalise import Normaliser
from asr.text import Vocabulary

FORMAT = "asr-checkpoint/1"
_TEMPORARY = re.compile(r"\..+\.(\d+)\.tmp")  # .NAME.PID.tmp, what save_checkpoint writes first
REQUIRED = ("model_config", "feature_config", "vocab", "mean", "std", "state_dict")

__all__ = [
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "check_room",
    "remove_stale_temporaries",
]


@dataclass
class Checkpoint:
    model_config: ModelConfig
    feature_config: FeatureConfig
    vocab: Vocabulary
    mean: torch.Tensor  # (n_mels,) training-set feature mean
    std: torch.Tensor  # (n_mels,)
    state_dict: dict[str, torch.Tensor]
    metadata: dict = field(default_factory=dict)  # training: epoch, wer, data, date, ...
    decoding: DecodeConfig | None = None  # tuned decoding settings (asr tune); None: greedy
    rejection: dict = field(default_factory=dict)  # calibrated RejectionConfig (asr calibrate)
    resume: dict | None = None  # optimizer/scheduler/RNG/progress, only in resumable files
    prior: torch.Tensor | None = None  # (n_mels,) running mean's prior (FeatureConfig.prior_ms)

    def build_model(self) -> CTCModel:
        """The network in eval mode with the saved weights."""
        model = CTCModel(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.eval()

    @property
    def normaliser(self) -> Normaliser:
        """The training set's normalisation, without speaker means (see Normaliser.for_speakers)."""
        features = self.feature_config
        return Normaliser(
            features.normalisation, self.mean, self.std, {}, self.prior, features.prior_frames
        )

    def differences(self, model_config: ModelConfig, features: FeatureConfig) -> list[str]:
        """'[section] key = wanted, saved value' for each key where these configs describe
        another model than this one. vocab_size and n_mels are not compared: training takes
        them from the text and [features]."""
        differ = []
        for section, saved, wanted in (
            ("model", self.model_config, model_config),
            ("features", self.feature_config, features),
        ):
            saved, wanted = config_to_dict(saved), config_to_dict(wanted)
            for key, value in wanted.items():
                derived = section == "model" and key in ("vocab_size", "n_mels")
                if not derived and saved.get(key) != value:
                    differ.append(f"[{section}] {key} = {value!r}, saved {saved.get(key)!r}")
        return differ


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Write atomically: a crash mid-write leaves any previous file at `path` intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "model_config": config_to_dict(ckpt.model_config),
        "feature_config": config_to_dict(ckpt.feature_config),
        "vocab": list(ckpt.vocab.symbols),
        "mean": ckpt.mean.float().cpu(),
        "std": ckpt.std.float().cpu(),
        "state_dict": {k: v.cpu() for k, v in ckpt.state_dict.items()},
        "metadata": ckpt.metadata,
        "decoding": config_to_dict(ckpt.decoding) if ckpt.decoding else {},
        "rejection": ckpt.rejection,
    }
    if ckpt.resume is not None:
        payload["resume"] = ckpt.resume
    if ckpt.prior is not None:
        payload["prior"] = ckpt.prior.float().cpu()
    tmp = _temporary(path, os.getpid())
    try:
        with tmp.open("wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        _fsync_folder(path.parent)  # the rename itself survives a power cut
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint without running pickled code, and check that its weights, configs and
    vocabulary fit together; AsrError names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise AsrError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise AsrError(f"{path}: empty file (0 bytes), not a checkpoint")
    if not zipfile.is_zipfile(path):
        raise AsrError(f"{path}: not a checkpoint (asr saves torch's zip format; this is not one)")
    payload = _read_payload(path)
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise AsrError(f"{path}: incomplete checkpoint: no {', '.join(missing)}")
    try:
        ckpt = Checkpoint(
            model_config=config_from_dict(ModelConfig, payload["model_config"]),
            feature_config=config_from_dict(
                FeatureConfig, upgrade_features(payload["feature_config"])
            ),
            vocab=Vocabulary(tuple(payload["vocab"])),
            mean=payload["mean"],
            std=payload["std"],
            state_dict=payload["state_dict"],
            metadata=payload.get("metadata", {}),
            decoding=decoding_beside(payload.get("decoding", {}), path.parent),
            resume=payload.get("resume"),
            rejection=payload.get("rejection", {}),
            prior=payload.get("prior"),
        )
    except (AttributeError, TypeError, ValueError) as err:
        raise AsrError(f"{path}: malformed checkpoint ({_reason(err)})") from err
    problem = _mismatch(ckpt)
    if problem:
        raise AsrError(f"{path}: inconsistent checkpoint: {problem}")
    return ckpt


def _read_payload(path: Path) -> dict:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise AsrError(f"{path}: refused: not a safe asr checkpoint ({_reason(err)})") from err
    # Garbage bytes surface from the unpickler as any of these.
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, struct.error) as err:
        raise AsrError(f"{path}: cannot read checkpoint ({_reason(err)})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise AsrError(f"{path}: not an asr checkpoint (expected format {FORMAT})")
    return payload


def _mismatch(ckpt: Checkpoint) -> str | None:
    """What does not fit: vocabulary, statistics or weights against the configs; else None."""
    config = ckpt.model_config
    symbols = ckpt.vocab.symbols
    if not all(isinstance(s, str) for s in symbols) or len(set(symbols)) != len(symbols):
        return "the vocabulary is not a list of distinct strings"
    if len(symbols) != config.vocab_size:
        return f"{len(symbols)} vocabulary symbols, but the model outputs {config.vocab_size}"
    n_mels = ckpt.feature_config.n_mels
    stats = [("mean", ckpt.mean), ("std", ckpt.std)]
    if ckpt.feature_config.prior_frames or ckpt.prior is not None:
        stats.append(("prior", ckpt.prior))  # prior_ms asks for one, and one is only for it
    for name, stat in stats:
        if not isinstance(stat, torch.Tensor) or tuple(stat.shape) != (n_mels,):
            return f"{name} is not a ({n_mels},) tensor for {n_mels} mel bins"
    try:
        with torch.device("meta"):  # shapes only: no memory for the weights
            expected = CTCModel(config).state_dict()
    except (TypeError, ValueError, RuntimeError) as err:
        return f"its model config builds no model ({_reason(err)})"
    weights = ckpt.state_dict
    if not isinstance(weights, dict):
        return "state_dict is not a dict of tensors"
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    if missing or unexpected:
        return f"weights missing {missing[:3]}, unexpected {unexpected[:3]}"
    for key, tensor in expected.items():
        shape = tuple(getattr(weights[key], "shape", ()))
        if shape != tuple(tensor.shape):
            return f"{key} has shape {shape}, the model config needs {tuple(tensor.shape)}"
    return None


def _reason(err: Exception) -> str:
    """First line of an exception's message, or its type when it has none."""
    text = str(err).strip()
    return text.splitlines()[0][:160] if text else type(err).__name__


def check_room(folder: Path, nbytes: int) -> None:
    """Fail now, not at the first save, when `folder` cannot take `nbytes` more (a full disk, a
    quota, a read-only folder): write, fsync and remove a probe file that size."""
    folder = Path(folder)
    probe = _temporary(folder / "probe", os.getpid())
    chunk = bytes(1 << 20)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as f:
            for start in range(0, nbytes, len(chunk)):
                f.write(chunk[: nbytes - start])
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise AsrError(
            f"{folder}: cannot write checkpoints here ({err.strerror or err}; "
            f"they need {nbytes / 1e6:.1f} MB more)"
        ) from err
    finally:
        probe.unlink(missing_ok=True)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files that saves into `folder` left when their process was killed
    (`finally` never ran); returns them. A live process's temporary file is left alone."""
    stale = []
    for tmp in Path(folder).glob(".*.tmp"):
        match = _TEMPORARY.fullmatch(tmp.name)
        if match and not _alive(int(match[1])):
            tmp.unlink(missing_ok=True)
            stale.append(tmp)
    return stale


def _temporary(path: Path, pid: int | str) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but another user's
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
