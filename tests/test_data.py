import torch

from asr.data import DurationBatchSampler, Example, SpeechDataset, collate
from asr.features import FeatureConfig
from asr.manifest import Utterance, read_manifest
from asr.normalise import Normaliser
from asr.text import Vocabulary

from conftest import fsdd_sample


def test_sampler_caps_padded_seconds_and_covers_everything():
    durations = torch.rand(500, generator=torch.Generator().manual_seed(0)).mul(10).add(0.5)
    sampler = DurationBatchSampler(durations.tolist(), max_seconds=40, shuffle=True, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        longest = max(float(durations[i]) for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= 40
    # Bucketing: padding is a small share of the padded total.
    padded = sum(max(float(durations[i]) for i in b) * len(b) for b in batches)
    assert float(durations.sum()) / padded > 0.85


def test_sampler_is_seeded_per_epoch_and_skips_for_resume():
    sampler = DurationBatchSampler([1.0 + i % 7 for i in range(100)], 20, shuffle=True, seed=1)
    sampler.set_epoch(0)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    sampler.skip = 3
    assert list(sampler) == first[3:]
    assert list(sampler) == first  # skip applies once


def test_sampler_shards_ranks_evenly():
    durations = [1.0] * 45
    shards = [list(DurationBatchSampler(durations, 4, True, 0, r, 2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1])
    assert not {i for b in shards[0] for i in b} & {i for b in shards[1] for i in b}


def test_dataset_and_collate_on_real_audio(fsdd, tmp_path):
    utts = read_manifest(fsdd_sample(fsdd, tmp_path / "m.jsonl", 6, {"george"}))
    utts.append(Utterance(tmp_path / "gone.wav", 1.0, "one"))  # fails to load: skipped
    vocab = Vocabulary.from_texts(u.text for u in utts)
    features = FeatureConfig(sample_rate=8000, n_mels=40)
    data = SpeechDataset(
        utts, vocab, features, Normaliser("global", torch.zeros(40), torch.ones(40))
    )
    examples = [data[i] for i in range(len(data))]
    assert examples[-1] is None
    batch = collate(examples)
    assert batch.feats.shape[0] == 6 and batch.feats.shape[2] == 40
    assert batch.lengths.max() == batch.feats.shape[1]
    assert batch.targets.numel() == batch.target_lengths.sum()
    first = examples[0]
    assert vocab.decode(first.target.tolist()) == utts[0].text
    assert (batch.feats[0, first.feats.shape[0] :] == 0).all()


def test_augmentation_is_deterministic_per_epoch(fsdd, tmp_path):
    from asr.augment import AugmentConfig
    from asr.features import SpecAugmentConfig

    utts = read_manifest(fsdd_sample(fsdd, tmp_path / "m.jsonl", 2, {"theo"}))
    vocab = Vocabulary.from_texts(u.text for u in utts)
    data = SpeechDataset(
        utts, vocab, FeatureConfig(), Normaliser("global", torch.zeros(80), torch.ones(80)),
        AugmentConfig(), SpecAugmentConfig(), seed=5,
    )  # fmt: skip
    a, b = data[0].feats, data[0].feats
    torch.testing.assert_close(a, b)
    data.set_epoch(1)
    c = data[0].feats
    assert c.shape != a.shape or not torch.equal(a, c)


def test_collate_all_failed():
    batch = collate([None, None])
    assert batch.feats.shape[0] == 0 and batch.indices == []


def test_collate_pads():
    examples = [Example(0, torch.ones(3, 2), torch.tensor([1])), Example(1, torch.ones(5, 2),
                torch.tensor([2, 3]))]  # fmt: skip
    batch = collate(examples)
    assert batch.feats.shape == (2, 5, 2) and batch.lengths.tolist() == [3, 5]
    assert batch.targets.tolist() == [1, 2, 3] and batch.target_lengths.tolist() == [1, 2]
