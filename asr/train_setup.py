"""What a training run is set up from: the process group, the training set, the output folder,
a new checkpoint with its normalisation, the learning-rate schedule, the dev loader, and the
per-epoch CSV log."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader

from asr.checkpoint import Checkpoint, check_room, remove_stale_temporaries
from asr.data import DurationBatchSampler, SpeechDataset, collate
from asr.errors import AsrError
from asr.features import FeatureConfig
from asr.manifest import Utterance, read_manifest
from asr.model import CTCModel, ModelConfig
from asr.normalise import Normaliser, fit_normaliser
from asr.text import Vocabulary, normalize_text
from asr.train_config import TrainConfig

logger = logging.getLogger(__name__)

__all__ = [
    "CsvLog",
    "dev_loader",
    "ignore_sigint",
    "init_distributed",
    "lr_schedule",
    "new_checkpoint",
    "prepare_out",
    "text_checker",
    "training_set",
    "warm_start",
]


def init_distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), world


def text_checker(vocab: Vocabulary | None):
    """A read_manifest check_text: reject text that normalises to nothing (punctuation only) or,
    with `vocab`, that has characters outside it."""

    def check(text: str) -> str | None:
        unknown = vocab.unknown_chars(text) if vocab is not None else set()
        if unknown:
            return f"characters outside the vocabulary: {''.join(sorted(unknown))!r}"
        if not normalize_text(text):
            return f"empty text after normalisation: {text!r}"
        return None

    return check


def training_set(config: TrainConfig, vocab: Vocabulary | None) -> list[Utterance]:
    """The training manifest's utterances that fit `vocab` (None: a new one is built from them)
    and max_duration; what is skipped is reported."""
    utterances = read_manifest(config.train_manifest, check_text=text_checker(vocab))
    long = [u for u in utterances if u.duration > config.max_duration]
    if long:
        examples = ", ".join(f"{u.audio_filepath} ({u.duration:.1f} s)" for u in long[:3])
        logger.warning(
            "%s: skipped %d utterances longer than max_duration (%g s), e.g. %s",
            config.train_manifest, len(long), config.max_duration, examples,
        )  # fmt: skip
    utterances = [u for u in utterances if u.duration <= config.max_duration]
    if not utterances:
        raise AsrError(f"{config.train_manifest}: no usable training utterances")
    return utterances


def prepare_out(out: Path, ckpt: Checkpoint) -> None:
    """Remove what killed saves left; make sure the checkpoints fit before the first epoch.

    best.pt holds the weights, last.pt also AdamW's two moments, and replacing last.pt needs
    room for a second copy of it while the first exists."""
    for tmp in remove_stale_temporaries(out) if out.is_dir() else []:
        logger.info("removed %s, left by a save that was killed", tmp)
    weights = sum(t.numel() * t.element_size() for t in ckpt.state_dict.values())
    held = sum(p.stat().st_size for p in (out / "best.pt", out / "last.pt") if p.is_file())
    check_room(out, max(0, 7 * weights - held))


def ignore_sigint(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C to the main process, which stops at a safe point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def new_checkpoint(
    config: TrainConfig,
    model_config: ModelConfig,
    features: FeatureConfig,
    train_set: list[Utterance],
    init: Checkpoint | None,
) -> tuple[Checkpoint, Normaliser]:
    """Vocabulary and normalisation statistics from the training set; fresh, or the weights of
    `init` (config.init_from), all of them or, for a warm start, those under
    config.init_modules. The normaliser carries the training speakers' means."""
    if not train_set:
        raise AsrError(f"{config.train_manifest}: no usable training utterances")
    if init is not None and not config.init_modules:
        # Fine-tuning keeps the features, statistics and weights; the output layer grows by the
        # training text's new characters (a digits model learning yes/no and filler sentences).
        vocab, model_config, weights = grown_head(init, (u.text for u in train_set))
        ckpt = Checkpoint(
            model_config, init.feature_config, vocab, init.mean, init.std, weights,
            decoding=init.decoding if vocab == init.vocab else None, prior=init.prior,
        )  # fmt: skip
        return ckpt, ckpt.normaliser.for_speakers(train_set, ckpt.feature_config)
    vocab = Vocabulary.from_texts(u.text for u in train_set)
    normaliser = fit_normaliser(train_set, features, config.stats_utterances)
    model_config = dataclasses.replace(model_config, vocab_size=len(vocab), n_mels=features.n_mels)
    weights = CTCModel(model_config).state_dict()
    if init is not None:
        weights |= warm_start(init, weights, config.init_modules, config.init_from)
    ckpt = Checkpoint(
        model_config, features, vocab, normaliser.mean, normaliser.std, weights,
        prior=normaliser.prior,
    )  # fmt: skip
    return ckpt, normaliser


def warm_start(
    init: Checkpoint, weights: dict[str, torch.Tensor], names: Iterable[str], source: Path | None
) -> dict[str, torch.Tensor]:
    """init's tensors for the entries of `weights` under each of `names` (a module such as
    "frontend", or one parameter such as "lstm.weight_ih_l0"); each name must cover at least one
    entry, and init must hold every covered entry at the same shape."""
    copied = {}
    for name in names:
        covered = [k for k in weights if k == name or k.startswith(name + ".")]
        if not covered:
            raise AsrError(f"init_modules: the model has no parameters under {name!r}")
        for key in covered:
            theirs = _grown_lookahead(key, init.state_dict.get(key), weights[key])
            if theirs is None or theirs.shape != weights[key].shape:
                found = "missing" if theirs is None else f"shape {tuple(theirs.shape)}"
                raise AsrError(
                    f"{source}: cannot initialise {key} {tuple(weights[key].shape)} from it "
                    f"({found})"
                )
            copied[key] = theirs.clone()
    logger.info("initialised %d tensors from %s: %s", len(copied), source, ", ".join(names))
    return copied


def _grown_lookahead(key: str, theirs: torch.Tensor | None, ours: torch.Tensor):
    """A lookahead convolution (hidden, 1, frames + 1) warm-starts one of more frames: its taps
    are copied and the later ones start at zero, so the model first computes what init did and
    then learns to use the further future."""
    if theirs is None or not key.endswith("lookahead.conv.weight"):
        return theirs
    grow = ours.shape[-1] - theirs.shape[-1]
    return F.pad(theirs, (0, grow)) if grow > 0 and theirs.shape[:-1] == ours.shape[:-1] else theirs


def grown_head(
    init: Checkpoint, texts: Iterable[str]
) -> tuple[Vocabulary, ModelConfig, dict[str, torch.Tensor]]:
    """init's vocabulary with the texts' characters it lacks appended (its ids unchanged), and
    its weights with a CTC head row of fresh initialisation for each of them."""
    new = sorted(set().union(*(init.vocab.unknown_chars(t) for t in texts)))
    if not new:
        return init.vocab, init.model_config, init.state_dict
    vocab = Vocabulary((*init.vocab.symbols, *new))
    model_config = dataclasses.replace(init.model_config, vocab_size=len(vocab))
    weights = dict(init.state_dict)
    fresh = CTCModel(model_config).head.state_dict()  # weight (vocab, width), bias (vocab,)
    old = len(init.vocab)
    for name in ("weight", "bias"):
        weights[f"head.{name}"] = torch.cat([init.state_dict[f"head.{name}"], fresh[name][old:]])
    logger.info("fine-tuning adds %d characters to the alphabet: %s", len(new), "".join(new))
    return vocab, model_config, weights


def lr_schedule(optimizer, config: TrainConfig, total_steps: int):
    """Linear warm-up to the peak rate, then cosine decay to zero at the last step."""
    warmup = min(config.warmup_steps, max(1, total_steps // 10))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def dev_loader(dev_set, ckpt: Checkpoint, config: TrainConfig) -> DataLoader | None:
    if not dev_set:
        return None
    normaliser = ckpt.normaliser.for_speakers(dev_set, ckpt.feature_config)
    data = SpeechDataset(dev_set, ckpt.vocab, ckpt.feature_config, normaliser)
    sampler = DurationBatchSampler([u.duration for u in dev_set], config.batch_seconds)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate, generator=torch.Generator())


class CsvLog:
    """One row per epoch, readable by any plotting tool; the same line goes to the log."""

    FIELDS = ["epoch", "step", "train_loss", "dev_loss", "dev_wer", "lr", "seconds"]

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(self.FIELDS)

    def write(self, epoch: int, step: int, loss, dev_loss, dev_wer, lr, started) -> None:
        row = [epoch, step, loss, dev_loss, dev_wer, lr]
        row.append(time.monotonic() - started)
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
        logger.info(
            "epoch %d  step %d  train loss %.3f  dev loss %.3f  dev WER %.2f%%  lr %.2e  %.0f s",
            *row[:4], 100 * dev_wer, lr, row[-1],
        )  # fmt: skip
