"""Training loop: CTC loss, AdamW with warm-up and cosine decay, validation WER, best-checkpoint
keeping, early stopping, exact resume (also mid-epoch, after Ctrl-C) and DDP via torchrun."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import jiwer
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from asr.averaging import averaged, keep_epoch, prune_epochs
from asr.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from asr.config import config_to_dict
from asr.data import Batch, DurationBatchSampler, SpeechDataset, collate
from asr.decoding.greedy import greedy_decode
from asr.errors import AsrError
from asr.features import FeatureConfig
from asr.interrupt import DeferredInterrupt
from asr.manifest import read_manifest
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary, normalize_text
from asr.train_config import TrainConfig, configs_from_toml
from asr.train_setup import (
    CsvLog,
    dev_loader,
    ignore_sigint,
    init_distributed,
    lr_schedule,
    new_checkpoint,
    prepare_out,
    text_checker,
    training_set,
)
from asr.train_state import Progress, restore, resume_state

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "configs_from_toml", "train"]


@dataclass
class _Run:
    """What one training process holds while it trains."""

    config: TrainConfig
    ckpt: Checkpoint  # vocabulary, configs and statistics the saved files carry
    model: CTCModel
    ddp: torch.nn.Module  # the model, wrapped for DistributedDataParallel when world > 1
    data: SpeechDataset
    sampler: DurationBatchSampler
    loader: DataLoader
    dev: DataLoader | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    progress: Progress
    device: str
    rank: int

    @property
    def out(self) -> Path:
        return Path(self.config.out_dir)


def train(config: TrainConfig, model_config: ModelConfig, features: FeatureConfig) -> Path:
    """Train until `epochs` or early stopping; returns the path of the best checkpoint.

    Rerunning with the same out_dir resumes from its last.pt, mid-epoch if it was interrupted.
    """
    rank, world = init_distributed()
    torch.manual_seed(config.seed)
    run = _setup(config, model_config, features, rank, world)
    log = CsvLog(run.out / "log.csv") if rank == 0 else None
    with DeferredInterrupt("interrupted: stopping after this step, saving first") as interrupt:
        while run.progress.epoch < config.epochs and run.progress.stale_epochs < config.patience:
            row = _run_epoch(run, interrupt)
            if log is not None:
                log.write(*row)
            if interrupt.requested:  # during validation: the epoch is saved
                raise KeyboardInterrupt
    if rank == 0 and config.average_best > 1:
        _average(run)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return run.out / "best.pt"


def _setup(
    config: TrainConfig, model_config: ModelConfig, features: FeatureConfig, rank: int, world: int
) -> _Run:
    """Data, model and optimizer, fresh or restored from out_dir/last.pt."""
    last_path = Path(config.out_dir) / "last.pt"
    resume = load_checkpoint(last_path) if last_path.is_file() else None
    # Resuming continues the saved model; fine-tuning takes init_from's configs, not these (a
    # warm start of init_modules keeps these).
    fine_tuned = config.init_from is not None and not config.init_modules
    differ = resume.differences(model_config, features) if resume and not fine_tuned else []
    if differ:
        raise AsrError(
            f"{last_path}: this output folder holds a model trained with another config "
            f"({'; '.join(differ)}); use a new output folder or the original config"
        )
    init = load_checkpoint(config.init_from) if resume is None and config.init_from else None
    # The run's features: a resumed or fine-tuned model's own, else the config's.
    restored = resume or (init if fine_tuned else None)
    features = restored.feature_config if restored else features
    # A fine-tuned model's alphabet grows to fit the training text (see new_checkpoint).
    train_set = training_set(config, resume.vocab if resume else None)
    if resume is not None:
        ckpt, normaliser = resume, resume.normaliser.for_speakers(train_set, features)
    else:
        ckpt, normaliser = new_checkpoint(config, model_config, features, train_set, init)
    check = text_checker(ckpt.vocab)
    dev_set = read_manifest(config.dev_manifest, check_text=check) if config.dev_manifest else []
    if rank == 0:
        prepare_out(Path(config.out_dir), ckpt)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = ckpt.build_model().train().to(device)
    sampler = DurationBatchSampler(
        [u.duration for u in train_set], config.batch_seconds, True, config.seed, rank, world
    )
    data = SpeechDataset(
        train_set, ckpt.vocab, ckpt.feature_config, normaliser,
        config.augment, config.specaug, config.seed,
    )  # fmt: skip
    # A loader's own generator: each new iterator would otherwise draw from the global RNG,
    # and a run resumed mid-epoch would then see different dropout masks.
    loader = DataLoader(
        data, batch_sampler=sampler, collate_fn=collate, num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed), worker_init_fn=ignore_sigint,
    )  # fmt: skip
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = lr_schedule(optimizer, config, config.epochs * len(sampler))
    progress = Progress()
    if resume is not None and resume.resume is not None:
        progress = restore(resume.resume, optimizer, scheduler)
        logger.info("resumed %s: epoch %d, batch %d", last_path, progress.epoch, progress.batch)
    ddp = DistributedDataParallel(model) if world > 1 else model
    return _Run(
        config, ckpt, model, ddp, data, sampler, loader, dev_loader(dev_set, ckpt, config),
        optimizer, scheduler, progress, device, rank,
    )  # fmt: skip


def _run_epoch(run: _Run, interrupt: DeferredInterrupt) -> tuple:
    """Train the (rest of the) epoch, validate, save; returns the log row."""
    progress, started = run.progress, time.monotonic()
    run.sampler.set_epoch(progress.epoch)
    run.data.set_epoch(progress.epoch)
    run.sampler.skip = progress.batch
    try:
        loss = _train_epoch(run, interrupt)
    except KeyboardInterrupt:
        if run.rank == 0 and interrupt.forced:
            logger.warning("stopped mid-step, not saved: a rerun resumes from the last save")
        elif run.rank == 0:
            _save(run)
            logger.warning("interrupted: saved %s; run again to resume", run.out / "last.pt")
        raise
    if run.dev is not None:
        dev_loss, dev_wer = _validate(run.model, run.dev, run.ckpt.vocab, run.device)
    else:
        dev_loss, dev_wer = loss, math.nan
    if dist.is_initialized():
        # Every rank stops and keeps epochs on rank 0's figures: BatchNorm's running statistics
        # differ by rank, and so do their dev losses, and a rank that early-stopped alone left
        # the other waiting in its next step forever (a tie in dev WER, 2026-12-07).
        figures = [loss, dev_loss, dev_wer]
        dist.broadcast_object_list(figures, src=0)
        loss, dev_loss, dev_wer = figures
    # Best by dev WER, ties (e.g. all-blank output early on) broken by dev loss.
    score = (dev_wer, dev_loss) if run.dev is not None else (loss, loss)
    progress.end_epoch(score)
    if run.rank == 0:
        if progress.stale_epochs == 0:
            save_checkpoint(run.out / "best.pt", _with_weights(run))
        if run.config.average_best > 1:
            progress.kept = keep_epoch(
                run.out, progress.kept, score, progress.epoch, run.config.average_best,
                _with_weights(run),
            )  # fmt: skip
        _save(run)
        prune_epochs(run.out, progress.kept)
    lr = run.scheduler.get_last_lr()[0]
    return progress.epoch, progress.step, loss, dev_loss, dev_wer, lr, started


def _train_epoch(run: _Run, interrupt: DeferredInterrupt) -> float:
    """One pass (or the rest of one, when resuming); returns the mean training loss."""
    progress = run.progress
    bar = tqdm(
        run.loader, desc=f"epoch {progress.epoch + 1}", unit="batch", initial=progress.batch,
        total=len(run.sampler), disable=None if run.rank == 0 else True, leave=False,
    )  # fmt: skip
    for batch in bar:
        if batch.feats.shape[0]:
            loss = _train_step(run.ddp, batch, run.optimizer, run.config, run.device)
            run.scheduler.step()
            progress.step += 1
            progress.loss_sum += loss
            progress.loss_steps += 1
            bar.set_postfix(loss=f"{loss:.3f}")
        progress.batch += 1
        if interrupt.requested:  # between steps: the saved state resumes exactly
            raise KeyboardInterrupt
    return progress.loss_sum / max(1, progress.loss_steps)


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


@torch.inference_mode()
def _validate(model, loader: DataLoader, vocab: Vocabulary, device: str) -> tuple[float, float]:
    """(mean CTC loss, corpus WER) over the dev set with greedy decoding."""
    model.eval()
    refs, hyps, total = [], [], 0.0
    for batch in tqdm(loader, desc="validate", unit="batch", disable=None, leave=False):
        if not batch.indices:
            continue  # every file of the batch failed to load (each logged)
        log_probs, lengths = model(batch.feats.to(device), batch.lengths)
        total += float(_ctc_loss(log_probs, lengths, batch)) * len(batch.indices)
        hyps += [vocab.decode(ids) for ids in greedy_decode(log_probs.cpu(), lengths.cpu())]
        refs += [normalize_text(loader.dataset.utterances[i].text) for i in batch.indices]
    model.train()
    return total / max(1, len(refs)), jiwer.wer(refs, hyps)


def _average(run: _Run) -> None:
    """average.pt from the kept epochs; it becomes best.pt when it scores better on dev."""
    if not run.progress.kept:  # a run saved before average_best was set: no epoch files
        logger.warning("average_best: %s holds no kept epochs to average", run.out)
        return
    ckpt = averaged(run.out, run.progress.kept)
    save_checkpoint(run.out / "average.pt", ckpt)
    if run.dev is None:
        return
    run.model.load_state_dict(ckpt.state_dict)
    dev_loss, dev_wer = _validate(run.model, run.dev, run.ckpt.vocab, run.device)
    better = (dev_wer, dev_loss) < run.progress.best_score
    logger.info(
        "average of epochs %s: dev WER %.2f %%, loss %.3f (best epoch: %.2f %%); %s",
        ckpt.metadata["averaged_epochs"], 100 * dev_wer, dev_loss,
        100 * run.progress.best_score[0], "best.pt is the average" if better else "not better",
    )  # fmt: skip
    if better:
        save_checkpoint(run.out / "best.pt", ckpt)


def _with_weights(run: _Run) -> Checkpoint:
    """The model file: current weights with the run's configs, vocabulary and metadata."""
    ckpt, progress = run.ckpt, run.progress
    metadata = {
        "epoch": progress.epoch,
        "step": progress.step,
        "best_score": progress.best_score,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "train_config": {k: str(v) for k, v in config_to_dict(run.config).items()},
    }
    return Checkpoint(
        ckpt.model_config, ckpt.feature_config, ckpt.vocab, ckpt.mean, ckpt.std,
        run.model.state_dict(), metadata, ckpt.decoding, prior=ckpt.prior,
    )  # fmt: skip


def _save(run: _Run) -> None:
    """The resumable last.pt: weights plus optimizer, schedule, RNG and position."""
    resumable = _with_weights(run)
    resumable.resume = resume_state(run.optimizer, run.scheduler, run.progress)
    save_checkpoint(run.out / "last.pt", resumable)
