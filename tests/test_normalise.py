"""Normalisation: what each utterance loses, the training statistics, speaker means."""

import numpy as np
import pytest
import torch

from asr.audio import load_audio
from asr.errors import AsrError
from asr.features import LOG_FLOOR, FeatureConfig, log_mel
from asr.manifest import Utterance, read_manifest
from asr.normalise import Normaliser, StatsAccumulator, fit_normaliser

from conftest import fsdd_sample


def test_stats_and_normalize():
    acc = StatsAccumulator(3)
    a, b = torch.randn(50, 3) * 2 + 1, torch.randn(70, 3) * 2 + 1
    acc.add(a)
    acc.add(b)
    mean, std = acc.result()
    both = torch.cat([a, b])
    torch.testing.assert_close(mean, both.mean(0), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, both.std(0, unbiased=False), atol=1e-5, rtol=0)
    normed = Normaliser("global", mean, std)(both)
    torch.testing.assert_close(normed.mean(0), torch.zeros(3), atol=1e-5, rtol=0)


def test_stats_need_frames():
    with pytest.raises(ValueError):
        StatsAccumulator(3).result()


@pytest.mark.parametrize("utterance_mean", [True, False])
def test_utterance_mean_makes_features_gain_invariant(fsdd, utterance_mean):
    """-20 dB (theo is 17-20 dB quieter than the training speakers) is a constant -4.6 nats in
    every log-mel bin: removed by the per-utterance mean, untouched by global CMVN alone."""
    config = FeatureConfig(sample_rate=8000, n_mels=40)
    wave = load_audio(fsdd / "recordings" / "7_jackson_3.wav", config.sample_rate)
    mode = "utterance" if utterance_mean else "global"
    normaliser = Normaliser(mode, torch.full((40,), -8.0), torch.full((40,), 3.0))
    loud = normaliser(log_mel(wave, config))  # (time, n_mels)
    quiet = normaliser(log_mel(0.1 * wave, config))
    # Bins whose power stays above the log floor in every frame of the quiet copy: the floor
    # is not a gain, so a bin touching it shifts by less.
    above = (log_mel(0.1 * wave, config) > np.log(LOG_FLOOR) + 1).all(0)  # (n_mels,)
    assert above.float().mean() > 0.9
    shift = (quiet - loud)[:, above]
    if utterance_mean:
        assert shift.abs().max() < 1e-3
    else:
        expected = torch.full_like(shift, np.log(0.01) / 3)  # -20 dB in nats, over std
        torch.testing.assert_close(shift, expected, atol=1e-3, rtol=0)


def test_stats_are_taken_after_the_utterance_mean(fsdd, tmp_path):
    """Training statistics come from the same features the model sees: with the utterance mean
    removed, every utterance sums to zero per bin, so the global mean is zero."""
    utterances = read_manifest(fsdd_sample(fsdd, tmp_path / "m.jsonl", 6, {"theo", "george"}))
    config = FeatureConfig(sample_rate=8000, n_mels=40, normalisation="utterance")
    fitted = fit_normaliser(utterances, config)
    mean, std = fitted.mean, fitted.std
    torch.testing.assert_close(mean, torch.zeros(40), atol=1e-4, rtol=0)
    plain = fit_normaliser(utterances, FeatureConfig(sample_rate=8000, n_mels=40))
    plain_mean, plain_std = plain.mean, plain.std
    assert plain_mean.max() < -2  # log-mels of audio in [-1, 1]: not centred by themselves
    assert (std < plain_std).all()  # the level spread between utterances is gone


def test_speaker_mean_replaces_the_utterance_mean(fsdd):
    """By speaker, a known speaker's mean is what is subtracted; an utterance without one
    (a file transcribed alone) falls back to its own mean."""
    config = FeatureConfig(sample_rate=8000, n_mels=40, normalisation="speaker")
    wave = load_audio(fsdd / "recordings" / "8_theo_3.wav", config.sample_rate)
    raw = log_mel(wave, config)  # (time, n_mels)
    speaker = torch.linspace(-9.0, -5.0, 40)
    normaliser = Normaliser("speaker", torch.zeros(40), torch.ones(40), {"theo": speaker})
    torch.testing.assert_close(normaliser.centre(raw, "theo"), raw - speaker)
    torch.testing.assert_close(normaliser.centre(raw), raw - raw.mean(0))
    torch.testing.assert_close(normaliser.centre(raw, "george"), raw - raw.mean(0))


def test_speaker_means_are_frame_weighted_per_speaker(fsdd, tmp_path):
    """Each speaker's mean log-mel over all frames of their files; nothing unless the model
    normalises by speaker; an unreadable file is skipped."""
    manifest = fsdd_sample(fsdd, tmp_path / "m.jsonl", 10, {"theo", "george"})
    utterances = read_manifest(manifest)
    assert {u.speaker for u in utterances} == {"theo", "george"}
    config = FeatureConfig(sample_rate=8000, n_mels=40, normalisation="speaker")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    base = Normaliser("speaker", torch.zeros(40), torch.ones(40))
    means = base.for_speakers([*utterances, Utterance(broken, 1.0, "one", "theo")], config)
    means = means.speaker_means
    assert set(means) == {"theo", "george"}
    for speaker, mean in means.items():
        frames = torch.cat(
            [log_mel(load_audio(u.audio_filepath, 8000), config) for u in utterances
             if u.speaker == speaker]
        )  # fmt: skip
        torch.testing.assert_close(mean, frames.mean(0), atol=1e-4, rtol=0)
    utterance = Normaliser("utterance", torch.zeros(40), torch.ones(40))
    assert utterance.for_speakers(utterances, config) is utterance  # no pass over the audio


@pytest.mark.parametrize(
    "mode,prior_ms",
    [("global", 0), ("utterance", 0), ("speaker", 0), ("running", 0), ("running", 500)],
)
def test_one_pass_statistics_equal_the_features_the_model_sees(fsdd, tmp_path, mode, prior_ms):
    """fit_normaliser's sums-per-group statistics equal the mean and std of the centred
    features computed directly, its speaker means are the ones for_speakers finds, and a
    running prior is the raw log-mels' mean."""
    manifest = fsdd_sample(fsdd, tmp_path / "m.jsonl", 8, {"theo", "george"})
    utterances = read_manifest(manifest)
    config = FeatureConfig(sample_rate=8000, n_mels=40, normalisation=mode, prior_ms=prior_ms)
    fitted = fit_normaliser(utterances, config)
    raw = torch.cat([log_mel(load_audio(u.audio_filepath, 8000), config) for u in utterances])
    if prior_ms:
        assert fitted.prior_frames == 50
        torch.testing.assert_close(fitted.prior, raw.mean(0), atol=1e-4, rtol=0)
    else:
        assert fitted.prior is None
    base = Normaliser(
        mode, torch.zeros(40), torch.ones(40), prior=fitted.prior, prior_frames=fitted.prior_frames
    ).for_speakers(utterances, config)
    for speaker, mean in base.speaker_means.items():
        torch.testing.assert_close(fitted.speaker_means[speaker], mean, atol=1e-4, rtol=0)
    centred = torch.cat(
        [base.centre(log_mel(load_audio(u.audio_filepath, 8000), config), u.speaker)
         for u in utterances]
    )  # fmt: skip
    torch.testing.assert_close(fitted.mean, centred.mean(0), atol=1e-4, rtol=0)
    torch.testing.assert_close(fitted.std, centred.std(0, unbiased=False), atol=1e-4, rtol=0)


@pytest.mark.parametrize("mode,prior_frames", [
    ("global", 0), ("utterance", 0), ("speaker", 0), ("running", 0), ("running", 6),
])  # fmt: skip
def test_batch_normalises_each_file_as_alone(mode, prior_frames):
    """Normaliser.batch over a padded batch: each file as the Normaliser alone would give it
    (own or speaker mean over its own frames only), padding left at zero."""
    generator = torch.Generator().manual_seed(0)
    files = [torch.randn(n, 4, generator=generator) * 3 - 5 for n in (7, 3, 5)]
    speakers = ["a", "b", None]  # "b" has no mean: falls back to its own
    normaliser = Normaliser(
        mode, torch.full((4,), -5.0), torch.full((4,), 2.0), {"a": torch.ones(4)},
        torch.full((4,), -4.0), prior_frames,
    )  # fmt: skip
    frames = torch.tensor([len(f) for f in files])
    batch = torch.nn.utils.rnn.pad_sequence(files, batch_first=True)  # (batch, time, n_mels)
    out = normaliser.batch(batch, frames, speakers)
    for feats, speaker, got, n in zip(files, speakers, out, frames, strict=True):
        torch.testing.assert_close(got[:n], normaliser(feats, speaker), atol=1e-5, rtol=1e-5)
        assert torch.all(got[n:] == 0)


def test_running_mean_is_causal_and_streams_in_chunks():
    """ "running": frame t less the mean of frames 0..t (a later frame changes nothing before
    it), gain invariant like the utterance mean once frames have come, and chunks through
    `streaming` give exactly the whole file's features."""
    generator = torch.Generator().manual_seed(1)
    feats = torch.randn(50, 4, generator=generator) * 3 - 5
    normaliser = Normaliser("running", torch.full((4,), 0.5), torch.full((4,), 2.0))
    whole = normaliser(feats)
    expected = (feats - feats.cumsum(0) / torch.arange(1, 51)[:, None] - 0.5) / 2.0
    torch.testing.assert_close(whole, expected, atol=1e-5, rtol=0)
    changed = feats.clone()
    changed[30:] += 10.0
    torch.testing.assert_close(normaliser(changed)[:30], whole[:30], atol=0, rtol=0)
    torch.testing.assert_close(normaliser(feats + 7.0), whole, atol=1e-4, rtol=0)
    stream = normaliser.streaming()
    pieces = [stream(feats[a:b]) for a, b in ((0, 0), (0, 1), (1, 17), (17, 17), (17, 50))]
    torch.testing.assert_close(torch.cat(pieces), whole, atol=1e-5, rtol=0)
    with pytest.raises(AsrError, match="utterance mean"):
        Normaliser("utterance", torch.zeros(4), torch.ones(4)).streaming()


def test_a_running_prior_counts_as_frames_before_the_first_and_streams_in_chunks():
    """With a prior p of k frames, frame t loses (k p + sum of frames 0..t) / (k + t + 1): a
    file's first frame keeps its distance from the training mean, where without a prior it
    is centred to zero; chunks through `streaming` still give exactly the whole file's."""
    generator = torch.Generator().manual_seed(2)
    feats = torch.randn(40, 4, generator=generator) * 3 - 5
    prior = torch.tensor([-6.0, -5.0, -4.0, -3.0])
    normaliser = Normaliser("running", torch.zeros(4), torch.ones(4), prior=prior, prior_frames=20)
    seen = torch.arange(1, 41)[:, None] + 20
    expected = feats - (20 * prior + feats.cumsum(0)) / seen
    torch.testing.assert_close(normaliser(feats), expected, atol=1e-5, rtol=0)
    assert normaliser(feats)[0].abs().sum() > 1.0  # not zero: the prior, not the frame itself
    assert Normaliser("running", torch.zeros(4), torch.ones(4))(feats)[0].abs().sum() < 1e-5
    stream = normaliser.streaming()
    pieces = [stream(feats[a:b]) for a, b in ((0, 3), (3, 3), (3, 40))]
    torch.testing.assert_close(torch.cat(pieces), expected, atol=1e-5, rtol=0)
    with pytest.raises(AsrError, match="prior_ms"):
        FeatureConfig(normalisation="utterance", prior_ms=500)
