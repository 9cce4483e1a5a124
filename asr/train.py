"""Training loop: CTC loss, AdamW with warm-up and cosine decay, validation WER, best-checkpoint
keeping, early stopping, exact resume (also mid-epoch, after Ctrl-C) and DDP via torchrun."""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from asr.augment import AugmentConfig
from asr.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from asr.config import config_from_dict, config_to_dict, read_toml
from asr.data import Batch, DurationBatchSampler, SpeechDataset, collate, feature_stats
from asr.decode import greedy_decode
from asr.errors import AsrError
from asr.features import FeatureConfig, SpecAugmentConfig
from asr.manifest import Utterance, read_manifest
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary, normalize_text

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "train"]


@dataclass(frozen=True)
class TrainConfig:
    train_manifest: Path
    dev_manifest: Path | None
    out_dir: Path
    epochs: int = 30
    batch_seconds: float = 200.0  # padded audio seconds per batch (per process under DDP)
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


@dataclass
class _Progress:
    """Run state that a resumable checkpoint carries, apart from the weights."""

    epoch: int = 0  # epochs fully done
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps in all
    best_score: tuple[float, float] = (math.inf, math.inf)  # (dev WER, dev loss) or train loss
    stale_epochs: int = 0  # epochs since the best score


def train(config: TrainConfig, model_config: ModelConfig, features: FeatureConfig) -> Path:
    """Train until `epochs` or early stopping; returns the path of the best checkpoint."""
    rank, world = _init_distributed()
    torch.manual_seed(config.seed)
    out = Path(config.out_dir)
    last_path = out / "last.pt"
    resume = load_checkpoint(last_path) if last_path.is_file() else None
    train_set = read_manifest(config.train_manifest)
    ckpt = resume or _new_checkpoint(config, model_config, features, train_set)
    check = _text_checker(ckpt.vocab)
    train_set = [u for u in train_set if not check(u.text)]
    dev_set = read_manifest(config.dev_manifest, check_text=check) if config.dev_manifest else []
    if not train_set:
        raise AsrError(f"{config.train_manifest}: no usable training utterances")
    model = ckpt.build_model().train()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    sampler = DurationBatchSampler(
        [u.duration for u in train_set], config.batch_seconds, True, config.seed, rank, world
    )
    data = SpeechDataset(
        train_set, ckpt.vocab, ckpt.feature_config, ckpt.mean, ckpt.std,
        config.augment, config.specaug, config.seed,
    )  # fmt: skip
    # A loader's own generator: each new iterator would otherwise draw from the global RNG,
    # and a run resumed mid-epoch would then see different dropout masks.
    loader = DataLoader(
        data, batch_sampler=sampler, collate_fn=collate, num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = _schedule(optimizer, config, config.epochs * len(sampler))
    progress = _Progress()
    if resume is not None and resume.resume is not None:
        progress = _restore(resume.resume, optimizer, scheduler)
        logger.info("resumed %s: epoch %d, batch %d", last_path, progress.epoch, progress.batch)
    ddp = DistributedDataParallel(model) if world > 1 else model
    dev = _dev_loader(dev_set, ckpt, config)
    log = _CsvLog(out / "log.csv") if rank == 0 else None
    while progress.epoch < config.epochs and progress.stale_epochs < config.patience:
        sampler.set_epoch(progress.epoch)
        data.set_epoch(progress.epoch)
        sampler.skip = progress.batch
        started = time.monotonic()
        try:
            loss = _train_epoch(ddp, loader, optimizer, scheduler, config, progress, device, rank)
        except KeyboardInterrupt:
            if rank == 0:
                _save(last_path, ckpt, model, optimizer, scheduler, progress, config)
                logger.warning("interrupted: saved %s; run again to resume", last_path)
            raise
        dev_loss, dev_wer = _validate(model, dev, ckpt.vocab, device) if dev else (loss, math.nan)
        # Best by dev WER, ties (e.g. all-blank output early on) broken by dev loss.
        _end_epoch(progress, (dev_wer, dev_loss) if dev else (loss, loss))
        if rank == 0:
            model_ckpt = _with_weights(ckpt, model, progress, config)
            if progress.stale_epochs == 0:
                save_checkpoint(out / "best.pt", model_ckpt)
            _save(last_path, ckpt, model, optimizer, scheduler, progress, config)
            log.write(progress, loss, dev_loss, dev_wer, scheduler.get_last_lr()[0], started)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out / "best.pt"


def _init_distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), world


def _text_checker(vocab: Vocabulary):
    def check(text: str) -> str | None:
        unknown = vocab.unknown_chars(text)
        if unknown:
            return f"characters outside the vocabulary: {''.join(sorted(unknown))!r}"
        if not normalize_text(text):
            return "empty text after normalisation"
        return None

    return check


def _new_checkpoint(
    config: TrainConfig,
    model_config: ModelConfig,
    features: FeatureConfig,
    train_set: list[Utterance],
) -> Checkpoint:
    """Vocabulary and normalisation statistics from the training set; fresh or given weights."""
    if not train_set:
        raise AsrError(f"{config.train_manifest}: no usable training utterances")
    if config.init_from is not None:
        # Fine-tuning keeps the output layer and features: training text must fit its alphabet.
        init = load_checkpoint(config.init_from)
        return Checkpoint(
            init.model_config, init.feature_config, init.vocab, init.mean, init.std,
            init.state_dict, decoding=init.decoding,
        )  # fmt: skip
    vocab = Vocabulary.from_texts(u.text for u in train_set)
    mean, std = feature_stats(train_set, features, config.stats_utterances)
    model_config = dataclasses.replace(model_config, vocab_size=len(vocab), n_mels=features.n_mels)
    return Checkpoint(model_config, features, vocab, mean, std, CTCModel(model_config).state_dict())


def _schedule(optimizer, config: TrainConfig, total_steps: int):
    """Linear warm-up to the peak rate, then cosine decay to zero at the last step."""
    warmup = min(config.warmup_steps, max(1, total_steps // 10))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        done = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _train_epoch(model, loader, optimizer, scheduler, config, progress, device, rank) -> float:
    """One pass (or the rest of one, when resuming); returns the mean training loss."""
    total, count = 0.0, 0
    bar = tqdm(
        loader, desc=f"epoch {progress.epoch + 1}", unit="batch", initial=progress.batch,
        total=progress.batch + len(loader.batch_sampler) - progress.batch,
        disable=None if rank == 0 else True, leave=False,
    )  # fmt: skip
    for batch in bar:
        if batch.feats.shape[0]:
            loss = _train_step(model, batch, optimizer, config, device)
            scheduler.step()
            progress.step += 1
            total, count = total + loss, count + 1
            bar.set_postfix(loss=f"{loss:.3f}")
        progress.batch += 1
    return total / max(1, count)


def _train_step(model, batch: Batch, optimizer, config: TrainConfig, device: str) -> float:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        log_probs, lengths = model(batch.feats.to(device), batch.lengths)
    loss = _ctc_loss(log_probs, lengths, batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    return loss.item()


def _ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, batch: Batch) -> torch.Tensor:
    """log_probs (batch, time', vocab) -> mean per-character CTC loss."""
    return F.ctc_loss(
        log_probs.transpose(0, 1),  # (time', batch, vocab)
        batch.targets.to(log_probs.device),
        lengths.cpu(),
        batch.target_lengths,
        blank=0,
        zero_infinity=True,  # an utterance too short for its text must not poison the step
    )


def _dev_loader(dev_set, ckpt: Checkpoint, config: TrainConfig) -> DataLoader | None:
    if not dev_set:
        return None
    data = SpeechDataset(dev_set, ckpt.vocab, ckpt.feature_config, ckpt.mean, ckpt.std)
    sampler = DurationBatchSampler([u.duration for u in dev_set], config.batch_seconds)
    return DataLoader(
        data, batch_sampler=sampler, collate_fn=collate, generator=torch.Generator()
    )


@torch.inference_mode()
def _validate(model, loader: DataLoader, vocab: Vocabulary, device: str) -> tuple[float, float]:
    """(mean CTC loss, corpus WER) over the dev set with greedy decoding."""
    model.eval()
    refs, hyps, total = [], [], 0.0
    for batch in tqdm(loader, desc="validate", unit="batch", disable=None, leave=False):
        log_probs, lengths = model(batch.feats.to(device), batch.lengths)
        total += float(_ctc_loss(log_probs, lengths, batch)) * len(batch.indices)
        hyps += [vocab.decode(ids) for ids in greedy_decode(log_probs.cpu(), lengths.cpu())]
        refs += [normalize_text(loader.dataset.utterances[i].text) for i in batch.indices]
    model.train()
    return total / max(1, len(refs)), jiwer.wer(refs, hyps)


def _end_epoch(progress: _Progress, score: tuple[float, float]) -> None:
    progress.epoch, progress.batch = progress.epoch + 1, 0
    if score < progress.best_score:
        progress.best_score, progress.stale_epochs = score, 0
    else:
        progress.stale_epochs += 1


def _with_weights(ckpt: Checkpoint, model, progress: _Progress, config: TrainConfig) -> Checkpoint:
    metadata = {
        "epoch": progress.epoch,
        "step": progress.step,
        "best_score": progress.best_score,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "train_config": {k: str(v) for k, v in config_to_dict(config).items()},
    }
    return Checkpoint(
        ckpt.model_config, ckpt.feature_config, ckpt.vocab, ckpt.mean, ckpt.std,
        model.state_dict(), metadata, ckpt.decoding,
    )  # fmt: skip


def _save(path: Path, ckpt, model, optimizer, scheduler, progress: _Progress, config) -> None:
    """The resumable checkpoint: weights plus optimizer, schedule, RNG and position."""
    resumable = _with_weights(ckpt, model, progress, config)
    resumable.resume = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": torch.get_rng_state(),
        "progress": vars(progress).copy(),
    }
    save_checkpoint(path, resumable)


def _restore(state: dict, optimizer, scheduler) -> _Progress:
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    progress = _Progress(**state["progress"])
    progress.best_score = tuple(progress.best_score)
    return progress


class _CsvLog:
    """One row per epoch, readable by any plotting tool; the same line goes to the log."""

    FIELDS = ["epoch", "step", "train_loss", "dev_loss", "dev_wer", "lr", "seconds"]

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with path.open("w", newline="") as f:
                csv.writer(f).writerow(self.FIELDS)

    def write(self, progress: _Progress, loss, dev_loss, dev_wer, lr, started) -> None:
        row = [progress.epoch, progress.step, loss, dev_loss, dev_wer, lr]
        row.append(time.monotonic() - started)
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
        logger.info(
            "epoch %d  step %d  train loss %.3f  dev loss %.3f  dev WER %.2f%%  lr %.2e  %.0f s",
            *row[:4], 100 * dev_wer, lr, row[-1],
        )  # fmt: skip


def configs_from_toml(
    path: Path | None, **train_values
) -> tuple[TrainConfig, ModelConfig, FeatureConfig]:
    """Configs from a TOML file's [features], [model], [train], [augment], [specaug] sections.

    `train_values` (from the command line) override [train]. `augment = false` or
    `specaug = false` under [train] turns that augmentation off.
    """
    sections = read_toml(path) if path else {}
    source = str(path)
    unknown = set(sections) - {"features", "model", "train", "augment", "specaug", "decode"}
    if unknown:
        raise AsrError(f"{path}: unknown config sections: {', '.join(sorted(unknown))}")
    train_section = {**sections.get("train", {}), **train_values}
    for name, cls in (("augment", AugmentConfig), ("specaug", SpecAugmentConfig)):
        if train_section.get(name, True) is False:
            train_section[name] = None
        else:
            train_section[name] = config_from_dict(cls, sections.get(name, {}), True, source)
    for key in ("train_manifest", "dev_manifest", "out_dir", "init_from"):
        if train_section.get(key) is not None:
            train_section[key] = Path(train_section[key])
    return (
        config_from_dict(TrainConfig, train_section, True, source),
        config_from_dict(ModelConfig, sections.get("model", {}), True, source),
        config_from_dict(FeatureConfig, sections.get("features", {}), True, source),
    )
