"""`asr train`: train a model from a TOML config and manifests."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.options import add_output_dir

logger = logging.getLogger("asr")


def add_train(sub, common) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train a model on a JSONL manifest",
        description="Train a CNN + BiLSTM + CTC model. Rerun the same command to resume after an "
        "interruption (Ctrl-C saves first). For several processes: torchrun --nproc_per_node N "
        "-m asr.cli train ...",
    )
    p.add_argument("--config", type=Path, help="TOML with [features] [model] [train] sections")
    p.add_argument("--train", type=Path, dest="train_manifest", help="training manifest (JSONL)")
    p.add_argument("--dev", type=Path, dest="dev_manifest", help="validation manifest (JSONL)")
    add_output_dir(p, "folder for best.pt, last.pt and the log", ("--out",), dest="out_dir")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-seconds", type=float, help="padded audio seconds per batch")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, dest="num_workers", help="data loader processes")
    p.add_argument("--init-from", type=Path, help="start from this checkpoint's weights")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    from asr.train import configs_from_toml, train

    keys = ["train_manifest", "dev_manifest", "out_dir", "epochs", "batch_seconds", "lr"]
    keys += ["seed", "num_workers", "init_from"]
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    train_config, model_config, features = configs_from_toml(args.config, **overrides)
    best = train(train_config, model_config, features)
    logger.info("best model: %s", best)
    return EXIT_OK
