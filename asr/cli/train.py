"""`asr train`: train a model from a TOML config and manifests."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.options import add_output_dir

logger = logging.getLogger("asr")

# TrainConfig's defaults, for --help only (importing asr.train_config would load torch);
# tests/cli/test_options.py checks them against the dataclass.
TRAIN_DEFAULTS = {"epochs": 30, "batch_seconds": 200.0, "lr": 1e-3, "seed": 0, "num_workers": 0}


def _default(key: str) -> str:
    return f"(default: [train] {key} in --config, else {TRAIN_DEFAULTS[key]:g})"


def add_train(sub, common) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train a model on a JSONL manifest",
        description="Train a CNN + BiLSTM + CTC model. Rerun the same command to resume after an "
        "interruption (Ctrl-C saves first). For several processes: torchrun --nproc_per_node N "
        "-m asr.cli train ... Options override the config's [train] keys of the same meaning.",
    )
    p.add_argument(
        "--config", type=Path,
        help="TOML with [features] [model] [train] [augment] [specaug] sections (default: none, "
        "every setting at its default)",
    )  # fmt: skip
    p.add_argument(
        "--train", type=Path, dest="train_manifest",
        help="training manifest, JSONL (no default: give it here or as [train] train_manifest)",
    )  # fmt: skip
    p.add_argument(
        "--dev", type=Path, dest="dev_manifest",
        help="validation manifest, JSONL (default: [train] dev_manifest, else none: best.pt is "
        "then the epoch of lowest training loss)",
    )  # fmt: skip
    add_output_dir(
        p, "folder for best.pt, last.pt and log.csv (no default: give it here or as [train] "
        "out_dir)", ("--out",), dest="out_dir",
    )  # fmt: skip
    p.add_argument(
        "--epochs", type=int, metavar="N", help=f"passes over the data {_default('epochs')}"
    )
    p.add_argument(
        "--batch-seconds", type=float, metavar="S",
        help=f"padded audio seconds per batch {_default('batch_seconds')}",
    )  # fmt: skip
    p.add_argument("--lr", type=float, help=f"peak learning rate {_default('lr')}")
    p.add_argument("--seed", type=int, help=f"seed of every random choice {_default('seed')}")
    p.add_argument(
        "--workers", type=int, dest="num_workers", metavar="N",
        help=f"data loader processes {_default('num_workers')}",
    )  # fmt: skip
    p.add_argument(
        "--init-from", type=Path, metavar="CHECKPOINT",
        help="start from this checkpoint's weights (default: [train] init_from, else from scratch)",
    )  # fmt: skip
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    from asr.train import configs_from_toml, train

    keys = ["train_manifest", "dev_manifest", "out_dir", "epochs", "batch_seconds", "lr"]
    keys += ["seed", "num_workers", "init_from"]
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    train_config, model_config, features = configs_from_toml(args.config, **overrides)
    if train_config.dev_manifest is None:
        logger.warning("no dev set (--dev): best.pt is the epoch of lowest training loss")
    best = train(train_config, model_config, features)
    logger.info("best model: %s", best)
    return EXIT_OK
