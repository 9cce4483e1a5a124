"""Speaker-disjoint splits on small made-up manifests (no audio is read)."""

import json
from pathlib import Path

import pytest

from asr.corpora.speakers import SplitConfig, kind_of, split_speakers, write_splits
from asr.errors import AsrError
from asr.manifest import Utterance, read_manifest

KINDS = {"digits": {"one", "two"}}


def _corpus(n_speakers: int, digit_speakers: int = 0) -> list[Utterance]:
    """Each speaker reads two sentences; the first `digit_speakers` also a digit string."""
    utts = []
    for s in range(n_speakers):
        texts = ["we call it bear", "mark is here"] + (["one two"] if s < digit_speakers else [])
        utts += [Utterance(Path(f"/c/{s}_{i}.wav"), 1.0, t, f"spk{s}") for i, t in enumerate(texts)]
    return utts


def _speakers(utts) -> set:
    return {u.speaker for u in utts}


def test_splits_are_speaker_disjoint_and_cover_everything():
    utts = _corpus(100, 20)
    splits = split_speakers(utts, SplitConfig(seed=3), KINDS)
    train, dev, test = (_speakers(splits[s]) for s in ("train", "dev", "test"))
    assert not (train & dev or train & test or dev & test)
    assert sum(len(v) for v in splits.values()) == len(utts)
    assert (len(train), len(dev), len(test)) == (60, 20, 20)


def test_each_split_gets_its_share_of_the_digit_speakers():
    splits = split_speakers(_corpus(100, 20), SplitConfig(seed=3), KINDS)
    readers = {k: len(_speakers(u for u in v if u.text == "one two")) for k, v in splits.items()}
    assert readers == {"train": 12, "dev": 4, "test": 4}


def test_seeded_independent_of_order_and_stable_when_a_speaker_joins():
    utts = _corpus(50)
    first = split_speakers(utts, SplitConfig(seed=1))
    shuffled = split_speakers(list(reversed(utts)), SplitConfig(seed=1))
    assert all(_speakers(first[k]) == _speakers(shuffled[k]) for k in first)
    assert _speakers(first["test"]) != _speakers(split_speakers(utts, SplitConfig(seed=2))["test"])
    grown = split_speakers(_corpus(51), SplitConfig(seed=1))
    # the newcomer shifts at most one speaker across each boundary
    assert len(_speakers(first["test"]) ^ _speakers(grown["test"])) <= 2


def test_named_speakers_go_where_they_are_told():
    config = SplitConfig(0.0, 0.0, dev_speakers=("spk1",), test_speakers=("spk4",))
    splits = split_speakers(_corpus(5), config)
    assert _speakers(splits["dev"]) == {"spk1"} and _speakers(splits["test"]) == {"spk4"}
    assert _speakers(splits["train"]) == {"spk0", "spk2", "spk3"}


@pytest.mark.parametrize(
    ("utts", "config", "message"),
    [
        ([Utterance(Path("/a.wav"), 1.0, "one")], SplitConfig(), "1 utterances have no speaker"),
        (_corpus(3), SplitConfig(test_speakers=("nobody",)), "nobody not among the speakers"),
    ],
)
def test_bad_splits_are_one_line_errors(utts, config, message):
    with pytest.raises(AsrError, match=message):
        split_speakers(utts, config)


def test_fractions_and_overlapping_names_are_refused():
    with pytest.raises(AsrError, match="summing below 1"):
        SplitConfig(dev_frac=0.5, test_frac=0.5)
    with pytest.raises(AsrError, match="spk1 named for dev and test"):
        SplitConfig(dev_speakers=("spk1",), test_speakers=("spk1",))


def test_kinds_and_written_manifests(tmp_path):
    assert kind_of("one two", KINDS) == "digits"
    assert kind_of("one bear", KINDS) == "other" and kind_of("", KINDS) == "other"
    splits = split_speakers(_corpus(10, 5), SplitConfig(seed=0), KINDS)
    written = write_splits(splits, tmp_path, KINDS)
    assert sorted(p.name for p in written.values()) == sorted(
        f"{s}{k}.jsonl" for s in ("train", "dev", "test") for k in ("", "_digits", "_other")
    )
    test_digits = read_manifest(tmp_path / "test_digits.jsonl", check_files=False)
    assert {u.text for u in test_digits} == {"one two"}
    lines = (tmp_path / "test.jsonl").read_text().splitlines()
    assert {json.loads(line)["speaker"] for line in lines} == _speakers(splits["test"])
