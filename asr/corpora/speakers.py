"""Speaker-disjoint train/dev/test splits of a manifest: seeded, stratified, written once.

Corpora are split by speaker, never by utterance, so a test voice is heard neither in training
nor in tuning. Each speaker's rank is a hash of (seed, speaker): the first `test_frac` of the
ranked speakers are test, the next `dev_frac` dev, the rest train. Ranking by a hash rather than
shuffling a list keeps the splits stable: a speaker added to the corpus moves at most the
speakers at the boundaries, never reshuffles the others. Speakers are ranked within strata, by
the kinds of utterance they have (`kinds`: e.g. digits = utterances made only of digit words),
so each split holds its share of speechocean762's 47 digit-string readers among its 213
speakers. An utterance of no kind is of kind "other", which defines no stratum.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from asr.errors import AsrError
from asr.manifest import Utterance, write_manifest

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
OTHER = "other"  # the kind of an utterance that fits none of the named kinds

__all__ = ["OTHER", "SPLITS", "SplitConfig", "kind_of", "split_speakers", "write_splits"]

Kinds = Mapping[str, Collection[str]]  # kind name -> its words


@dataclass(frozen=True)
class SplitConfig:
    dev_frac: float = 0.2  # share of each stratum's speakers held out for tuning
    test_frac: float = 0.2  # share held out for the test, never trained or tuned on
    seed: int = 0
    # Named speakers go to dev or test whatever their rank (FSDD's five are too few to draw).
    dev_speakers: tuple[str, ...] = ()
    test_speakers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.dev_frac >= 0 and self.test_frac >= 0 and self.dev_frac + self.test_frac < 1):
            raise AsrError(
                f"speaker split: need fractions >= 0 summing below 1, got dev {self.dev_frac}"
                f" and test {self.test_frac}"
            )
        both = set(self.dev_speakers) & set(self.test_speakers)
        if both:
            raise AsrError(f"speaker split: {', '.join(sorted(both))} named for dev and test")


def kind_of(text: str, kinds: Kinds) -> str:
    """The first kind whose words make up the whole transcript, else OTHER."""
    words = text.split()
    for name, vocabulary in kinds.items():
        if words and all(w in vocabulary for w in words):
            return name
    return OTHER


def split_speakers(
    utterances: Sequence[Utterance], config: SplitConfig, kinds: Kinds | None = None
) -> dict[str, list[Utterance]]:
    """{"train", "dev", "test"}: every utterance in the split of its speaker, input order kept.

    Utterances without a speaker cannot be held out by speaker: an AsrError gives the count.
    """
    kinds = kinds or {}
    missing = sum(u.speaker is None for u in utterances)
    if missing:
        raise AsrError(f"speaker split: {missing} utterances have no speaker")
    has: dict[str, set[str]] = {}
    for utt in utterances:
        has.setdefault(str(utt.speaker), set()).add(kind_of(utt.text, kinds))
    unknown = (set(config.dev_speakers) | set(config.test_speakers)) - has.keys()
    if unknown:
        raise AsrError(f"speaker split: {', '.join(sorted(unknown))} not among the speakers")
    split_of = {s: "dev" for s in config.dev_speakers} | {s: "test" for s in config.test_speakers}
    strata: dict[tuple[str, ...], list[str]] = {}
    for speaker in sorted(has.keys() - split_of.keys()):
        strata.setdefault(tuple(sorted(has[speaker] - {OTHER})), []).append(speaker)
    for speakers in strata.values():
        split_of |= _assign(speakers, config)
    splits: dict[str, list[Utterance]] = {name: [] for name in SPLITS}
    for utt in utterances:
        splits[split_of[str(utt.speaker)]].append(utt)
    return splits


def _assign(speakers: list[str], config: SplitConfig) -> dict[str, str]:
    """Rank by hash of (seed, speaker); the first go to test, the next to dev, the rest train."""
    ranked = sorted(speakers, key=lambda s: hashlib.sha256(f"{config.seed}:{s}".encode()).digest())
    n_test = round(config.test_frac * len(ranked))
    n_dev = round(config.dev_frac * len(ranked))
    names = ["test"] * n_test + ["dev"] * n_dev + ["train"] * (len(ranked) - n_test - n_dev)
    return dict(zip(ranked, names, strict=True))


def write_splits(
    splits: Mapping[str, Sequence[Utterance]], out_dir: Path, kinds: Kinds | None = None
) -> dict[str, Path]:
    """OUT_DIR/SPLIT.jsonl, and with `kinds` OUT_DIR/SPLIT_KIND.jsonl for each kind and "other"
    (empty ones too, so a recipe's file names never depend on the data). {name: path}."""
    kinds = kinds or {}
    written = {}
    for split, utterances in splits.items():
        parts = {split: list(utterances)}
        if kinds:
            for kind in [*kinds, OTHER]:
                parts[f"{split}_{kind}"] = [u for u in utterances if kind_of(u.text, kinds) == kind]
        for name, part in parts.items():
            written[name] = Path(out_dir) / f"{name}.jsonl"
            write_manifest(written[name], part)
        speakers = len({u.speaker for u in utterances})
        logger.info("%s: %d utterances of %d speakers", split, len(utterances), speakers)
    return written
