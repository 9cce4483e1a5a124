import librosa
import numpy as np
import pytest
import torch

from asr.audio import load_audio
from asr.data import feature_stats
from asr.features import (
    LOG_FLOOR,
    FeatureConfig,
    SpecAugmentConfig,
    StatsAccumulator,
    log_mel,
    model_features,
    normalize,
    spec_augment,
    unnormalized_features,
)
from asr.manifest import read_manifest

from conftest import fsdd_sample


def test_defaults_are_the_usual_asr_front_end():
    config = FeatureConfig()
    assert (config.sample_rate, config.n_mels) == (16000, 80)
    assert (config.win_length, config.hop_length, config.n_fft) == (400, 160, 512)


def test_shape_and_frame_count():
    config = FeatureConfig()
    for samples in (16000, 16001, 12345):
        feats = log_mel(torch.randn(samples), config)
        assert feats.shape == (config.num_frames(samples), 80)


def test_agrees_with_librosa(fsdd):
    """Same signal, same STFT and slaney mel filters: log-mels agree to 1e-3 nats where the
    mel power is above the floor (float32 STFT vs librosa's float64)."""
    wave, _ = librosa.load(fsdd / "recordings" / "7_jackson_3.wav", sr=16000)
    config = FeatureConfig()
    ours = log_mel(torch.from_numpy(wave), config).numpy()  # (time, n_mels)
    mel = librosa.feature.melspectrogram(
        y=wave.astype(np.float64), sr=16000, n_fft=config.n_fft, hop_length=config.hop_length,
        win_length=config.win_length, window="hann", center=True, pad_mode="reflect",
        power=2.0, n_mels=80, htk=False, norm="slaney",
    )  # fmt: skip
    reference = np.log(np.maximum(mel, 1e-10)).T
    assert ours.shape == reference.shape
    loud = mel.T > 1e-6
    assert loud.mean() > 0.5
    np.testing.assert_allclose(ours[loud], reference[loud], atol=1e-3)


def test_stats_and_normalize():
    acc = StatsAccumulator(3)
    a, b = torch.randn(50, 3) * 2 + 1, torch.randn(70, 3) * 2 + 1
    acc.add(a)
    acc.add(b)
    mean, std = acc.result()
    both = torch.cat([a, b])
    torch.testing.assert_close(mean, both.mean(0), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, both.std(0, unbiased=False), atol=1e-5, rtol=0)
    normed = normalize(both, mean, std)
    torch.testing.assert_close(normed.mean(0), torch.zeros(3), atol=1e-5, rtol=0)


def test_stats_need_frames():
    with pytest.raises(ValueError):
        StatsAccumulator(3).result()


def test_spec_augment_masks_and_is_seeded():
    feats = torch.randn(200, 80) + 5
    config = SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_width=0.1)
    one = spec_augment(feats, config, torch.Generator().manual_seed(1))
    two = spec_augment(feats, config, torch.Generator().manual_seed(1))
    torch.testing.assert_close(one, two)
    zero_cols = (one == 0).all(dim=0).sum()
    zero_rows = (one == 0).all(dim=1).sum()
    assert 0 < zero_cols <= 20 and zero_rows <= 40
    assert (feats != 0).all()  # input untouched


@pytest.mark.parametrize("utterance_mean", [True, False])
def test_utterance_mean_makes_features_gain_invariant(fsdd, utterance_mean):
    """-20 dB (theo is 17-20 dB quieter than the training speakers) is a constant -4.6 nats in
    every log-mel bin: removed by the per-utterance mean, untouched by global CMVN alone."""
    config = FeatureConfig(sample_rate=8000, n_mels=40, utterance_mean=utterance_mean)
    wave = load_audio(fsdd / "recordings" / "7_jackson_3.wav", config.sample_rate)
    mean, std = torch.full((40,), -8.0), torch.full((40,), 3.0)
    loud = model_features(wave, config, mean, std)  # (time, n_mels)
    quiet = model_features(0.1 * wave, config, mean, std)
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
    config = FeatureConfig(sample_rate=8000, n_mels=40, utterance_mean=True)
    mean, std = feature_stats(utterances, config)
    torch.testing.assert_close(mean, torch.zeros(40), atol=1e-4, rtol=0)
    plain_mean, plain_std = feature_stats(utterances, FeatureConfig(sample_rate=8000, n_mels=40))
    assert plain_mean.max() < -2  # log-mels of audio in [-1, 1]: not centred by themselves
    assert (std < plain_std).all()  # the level spread between utterances is gone


def test_speaker_mean_replaces_the_utterance_mean(fsdd):
    """With speaker_mean, a given speaker mean is what is subtracted; an utterance without one
    (a file transcribed alone) falls back to its own mean."""
    config = FeatureConfig(sample_rate=8000, n_mels=40, speaker_mean=True)
    wave = load_audio(fsdd / "recordings" / "8_theo_3.wav", config.sample_rate)
    raw = log_mel(wave, config)  # (time, n_mels)
    speaker = torch.linspace(-9.0, -5.0, 40)
    torch.testing.assert_close(unnormalized_features(wave, config, speaker), raw - speaker)
    torch.testing.assert_close(unnormalized_features(wave, config), raw - raw.mean(0))
