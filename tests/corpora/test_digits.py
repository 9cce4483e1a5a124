"""FSDD speaker splits and connected-digit utterances, on real recordings (tests/data/fsdd)."""

import random

import numpy as np
import pytest
import soundfile as sf

from asr.corpora.digits import (
    ConnectedConfig,
    chunk_sizes,
    make_connected,
    plan_connected,
    prepare_fsdd,
    split_by_speaker,
)
from asr.errors import AsrError
from asr.manifest import read_manifest

from conftest import FSDD


@pytest.fixture(scope="module")
def fsdd():
    return read_manifest(FSDD / "manifest.jsonl")


def test_split_by_speaker_holds_out_speakers(fsdd):
    splits = split_by_speaker(fsdd)
    speakers = {name: {u.speaker for u in split} for name, split in splits.items()}
    assert speakers == {
        "train": {"george", "jackson", "nicolas"},
        "dev": {"yweweler"},
        "test": {"theo"},
    }
    assert sum(len(split) for split in splits.values()) == len(fsdd)
    with pytest.raises(AsrError, match="lucas"):
        split_by_speaker(fsdd, dev_speakers=["lucas"])
    with pytest.raises(AsrError, match="in dev and test"):
        split_by_speaker(fsdd, dev_speakers=["theo"], test_speakers=["theo"])


def test_prepare_fsdd_writes_split_manifests(fsdd, tmp_path):
    manifests = prepare_fsdd(FSDD, tmp_path, ["george"], ["jackson"], connected=None)
    assert sorted(manifests) == ["dev", "test", "train"]
    assert {u.speaker for u in read_manifest(manifests["test"])} == {"jackson"}
    assert len(read_manifest(manifests["train"])) == sum(
        u.speaker not in ("george", "jackson") for u in fsdd
    )


def test_chunk_sizes_use_every_item_once():
    rng = random.Random(0)
    for total in range(2, 60):
        sizes = chunk_sizes(total, 2, 7, rng)
        assert sum(sizes) == total
        assert all(2 <= s <= 7 for s in sizes)
    assert chunk_sizes(1, 2, 7, rng) == []
    assert sum(chunk_sizes(10, 3, 5, rng)) == 10
    with pytest.raises(AsrError, match="digits per utterance"):
        chunk_sizes(10, 4, 6, rng)


def test_plan_connected_uses_each_recording_once(fsdd):
    train = split_by_speaker(fsdd)["train"]
    config = ConnectedConfig(seed=5)
    plans = plan_connected(train, config, "train")

    sources = [src for plan in plans for src in plan.sources]
    assert sorted(map(str, (s.audio_filepath for s in sources))) == sorted(
        str(u.audio_filepath) for u in train
    )
    assert all(len({s.speaker for s in plan.sources}) == 1 for plan in plans)
    assert {len(plan.sources) for plan in plans} == set(range(2, 8))
    assert all(len(plan.pauses) == len(plan.sources) + 1 for plan in plans)
    assert all(0.05 <= p <= 0.3 for plan in plans for p in plan.pauses)
    assert plan_connected(list(reversed(train)), config, "train") == plans
    assert plan_connected(train, config, "dev") != plans


def test_make_connected_renders_transcripts_and_noise(fsdd, tmp_path):
    chosen = [u for u in fsdd if u.speaker in ("nicolas", "george")][::5]  # 19 recordings
    config = ConnectedConfig(seed=1, jobs=2)
    plans = plan_connected(chosen, config)

    utts = make_connected(chosen, tmp_path / "wav", tmp_path / "c.jsonl", config, progress=False)

    written = read_manifest(tmp_path / "c.jsonl")
    assert [(u.audio_filepath, u.text) for u in written] == [
        (u.audio_filepath, u.text) for u in utts
    ]
    assert len(utts) == len(plans)
    for utt, plan in zip(utts, plans, strict=True):
        assert utt.text == " ".join(s.text for s in plan.sources)
        assert len(utt.text.split()) == len(plan.sources)
        assert utt.speaker == plan.sources[0].speaker
        audio, rate = sf.read(str(utt.audio_filepath), dtype="float32")
        assert rate == 16_000
        expected = sum(s.duration for s in plan.sources) + sum(plan.pauses)
        assert len(audio) / rate == pytest.approx(expected, abs=0.01)
        # Pauses hold only the added noise; speech power over its level is the planned SNR.
        speech, noise, start = [], [], 0
        for pause, src in zip(plan.pauses[:-1], plan.sources, strict=True):
            noise.append(audio[start : start + round(pause * rate)])
            start += len(noise[-1])
            speech.append(audio[start : start + 2 * sf.info(str(src.audio_filepath)).frames])
            start += len(speech[-1])
        power = [np.mean(np.concatenate(x) ** 2) for x in (speech, noise)]
        assert 10 * np.log10(power[0] / power[1]) == pytest.approx(plan.snr_db, abs=1.0)
