"""Datasets, duration-bucketed batching and padding collate for CTC training and inference."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Sampler

from asr.audio import load_audio
from asr.augment import AugmentConfig, augment_wave
from asr.batching import MAX_BATCH, duration_batches
from asr.errors import AsrError
from asr.features import FeatureConfig, SpecAugmentConfig, log_mel, spec_augment
from asr.manifest import Utterance
from asr.normalise import Normaliser
from asr.text import Vocabulary

logger = logging.getLogger(__name__)


@dataclass
class Example:
    index: int  # position in the dataset
    feats: torch.Tensor  # (time, n_mels), normalised
    target: torch.Tensor  # (chars,) int64 ids


@dataclass
class Batch:
    indices: list[int]
    feats: torch.Tensor  # (batch, time, n_mels), zero-padded
    lengths: torch.Tensor  # (batch,) frames
    targets: torch.Tensor  # (sum of target lengths,) concatenated ids
    target_lengths: torch.Tensor  # (batch,)


class SpeechDataset(Dataset):
    """Utterances -> normalised log-mels and target ids; augments when configs are given.

    An utterance whose audio fails to load yields None (logged), so one bad file never stops
    training: `collate` drops it. Randomness is seeded per (seed, epoch, index) so any worker
    count, and a resumed run, draw the same augmentation.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        vocab: Vocabulary,
        features: FeatureConfig,
        normaliser: Normaliser,
        augment: AugmentConfig | None = None,
        specaug: SpecAugmentConfig | None = None,
        seed: int = 0,
    ):
        self.utterances = list(utterances)
        self.vocab = vocab
        self.features = features
        self.normaliser = normaliser  # with the speaker means of `utterances`, if it uses them
        self.augment, self.specaug = augment, specaug
        self.seed, self.epoch = seed, 0
        self.failed: set[int] = set()  # indices already reported: one warning per file, not epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> Example | None:
        utt = self.utterances[index]
        rate = self.features.sample_rate
        try:
            wave = load_audio(utt.audio_filepath, rate, self.features.min_samples)
        except AsrError as err:
            if index not in self.failed:
                self.failed.add(index)
                logger.warning("skipped (in every epoch): %s", err)
            return None
        generator = torch.Generator().manual_seed(hash((self.seed, self.epoch, index)) % 2**63)
        if self.augment is not None:
            wave = augment_wave(wave, self.features.sample_rate, self.augment, generator)
        feats = self.normaliser(log_mel(wave, self.features), utt.speaker)  # (time, n_mels)
        if self.specaug is not None:
            feats = spec_augment(feats, self.specaug, generator)
        target = torch.tensor(self.vocab.encode(utt.text), dtype=torch.long)
        return Example(index, feats, target)


def collate(examples: Sequence[Example | None]) -> Batch:
    """Pad a list of examples into a Batch, dropping failed (None) ones."""
    examples = [e for e in examples if e is not None]
    lengths = torch.tensor([e.feats.shape[0] for e in examples], dtype=torch.long)
    n_mels = examples[0].feats.shape[1] if examples else 0
    feats = torch.zeros(len(examples), max(lengths.tolist(), default=0), n_mels)
    for i, e in enumerate(examples):
        feats[i, : e.feats.shape[0]] = e.feats  # (batch, time, n_mels)
    return Batch(
        indices=[e.index for e in examples],
        feats=feats,
        lengths=lengths,
        targets=torch.cat([e.target for e in examples]) if examples else torch.zeros(0).long(),
        target_lengths=torch.tensor([len(e.target) for e in examples], dtype=torch.long),
    )


class DurationBatchSampler(Sampler[list[int]]):
    """Batches of similar duration whose padded size (count x longest) stays under max_seconds.

    Bucketing keeps padding small and memory bounded. With shuffle, durations get a little noise
    before sorting and batch order is permuted, both seeded by (seed, epoch). Under DDP each rank
    takes every world_size-th batch, all ranks the same count. `skip` drops the first batches of
    the next iteration, so a run resumed mid-epoch continues exactly where it stopped.
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_seconds: float,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_batch: int = MAX_BATCH,
    ):
        self.durations = torch.tensor(list(durations), dtype=torch.float64)
        self.max_seconds, self.max_batch = max_seconds, max_batch
        self.shuffle, self.seed = shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1000003 + self.epoch)
        keys = self.durations
        if self.shuffle:
            keys = keys * (1 + 0.1 * torch.rand(len(keys), generator=generator, dtype=keys.dtype))
        order = torch.argsort(keys).tolist()
        batches = duration_batches(order, self.durations.tolist(), self.max_seconds, self.max_batch)
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        per_rank = len(batches) // self.world_size if self.world_size > 1 else len(batches)
        return batches[self.rank :: self.world_size][:per_rank]

    def __iter__(self) -> Iterator[list[int]]:
        batches, self.skip = self._batches()[self.skip :], 0
        yield from batches

    def __len__(self) -> int:
        return len(self._batches())
