"""TrainConfig and reading a run's configs from a recipe's TOML file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asr.augment import AugmentConfig
from asr.config import config_from_dict, read_toml
from asr.errors import AsrError, UsageError
from asr.features import FeatureConfig, SpecAugmentConfig
from asr.model import ModelConfig

__all__ = ["TrainConfig", "configs_from_toml"]


@dataclass(frozen=True)
class TrainConfig:
    train_manifest: Path
    dev_manifest: Path | None
    out_dir: Path
    epochs: int = 30
    batch_seconds: float = 200.0  # padded audio seconds per batch (per process under DDP)
    max_duration: float = 30.0  # seconds; longer training utterances are reported and skipped
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 1e-2
    warmup_steps: int = 200  # linear warm-up, then cosine decay to 0 over the run
    grad_clip: float = 5.0  # max global gradient norm
    patience: int = 5  # stop after this many epochs without a better dev WER
    seed: int = 0
    num_workers: int = 0  # DataLoader worker processes
    stats_utterances: int = 2000  # utterances sampled for the normalisation statistics
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    specaug: SpecAugmentConfig | None = field(default_factory=SpecAugmentConfig)
    init_from: Path | None = None  # start from these weights (fine-tuning), not from scratch
    # With init_from: copy only the parameters under these names (e.g. "frontend"), and keep this
    # run's own model and features: a warm start of a new architecture from another model.
    init_modules: tuple[str, ...] = ()
    # At the end, average the weights of this many best epochs (by dev WER; asr.averaging): the
    # average becomes best.pt when it scores better on dev. 0 or 1: no averaging.
    average_best: int = 0

    def __post_init__(self):
        if self.average_best < 0:
            raise AsrError(f"train: average_best must be 0 or more, got {self.average_best}")
        if self.init_modules and self.init_from is None:
            raise AsrError("train: init_modules needs init_from, the checkpoint to copy them from")


def configs_from_toml(
    path: Path | None, **train_values
) -> tuple[TrainConfig, ModelConfig, FeatureConfig]:
    """Configs from a TOML file's [features], [model], [train], [augment], [specaug] sections.

    `train_values` (from the command line) override [train]. `augment = false` or
    `specaug = false` under [train] turns that augmentation off.
    """
    sections = read_toml(path) if path else {}
    source = str(path)
    unknown = set(sections) - {"features", "model", "train", "augment", "specaug"}
    if unknown:
        raise AsrError(f"{path}: unknown config sections: {', '.join(sorted(unknown))}")
    train_section = {"dev_manifest": None, **sections.get("train", {}), **train_values}
    _require_paths(train_section, path)
    for name, cls in (("augment", AugmentConfig), ("specaug", SpecAugmentConfig)):
        if train_section.get(name, True) is False:
            train_section[name] = None
        else:
            train_section[name] = config_from_dict(cls, sections.get(name, {}), True, source)
    return (
        config_from_dict(TrainConfig, train_section, True, source),
        config_from_dict(ModelConfig, sections.get("model", {}), True, source),
        config_from_dict(FeatureConfig, sections.get("features", {}), True, source),
    )


# Settings a run cannot default, and the `asr train` options that give them.
REQUIRED = {"train_manifest": "--train", "out_dir": "--output-dir"}


def _require_paths(train_section: dict, path: Path | None) -> None:
    missing = [key for key in REQUIRED if train_section.get(key) is None]
    if missing:
        flags = " and ".join(REQUIRED[key] for key in missing)
        keys = " and ".join(missing)
        where = path or "--config"
        raise UsageError(f"training needs {flags} (or {keys} under [train] in {where})")
