import librosa
import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from asr.audio import load_audio
from asr.errors import AsrError
from asr.features import (
    FeatureConfig,
    SpecAugmentConfig,
    log_mel,
    log_mel_batch,
    spec_augment,
    upgrade_features,
)


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


def test_legacy_normalisation_booleans_upgrade():
    assert upgrade_features({"n_mels": 40, "utterance_mean": True}) == {
        "n_mels": 40, "normalisation": "utterance",
    }  # fmt: skip
    assert upgrade_features({"speaker_mean": True})["normalisation"] == "speaker"
    assert upgrade_features({})["normalisation"] == "global"
    assert upgrade_features({"normalisation": "speaker"}) == {"normalisation": "speaker"}


def test_unknown_normalisation_is_refused():
    with pytest.raises(AsrError, match="normalisation"):
        FeatureConfig(normalisation="cepstral")


def test_batch_gives_each_file_its_own_frames(fsdd):
    """One STFT over a padded batch: each file's frames as log_mel of it alone (its own end is
    reflected, not the batch's), zero past them; lengths of every parity of hop."""
    config = FeatureConfig(sample_rate=8000, n_mels=40)
    real = load_audio(fsdd / "recordings" / "7_jackson_3.wav", 8000)
    waves = [real, real[:1001], torch.randn(config.n_fft + 1), torch.randn(4321)]
    samples = torch.tensor([len(w) for w in waves])
    feats, frames = log_mel_batch(pad_sequence(waves, batch_first=True), samples, config)
    assert feats.shape == (4, config.num_frames(int(samples.max())), 40)
    for wave, batched, n in zip(waves, feats, frames, strict=True):
        alone = log_mel(wave, config)  # (time, n_mels)
        assert n == len(alone)
        torch.testing.assert_close(batched[:n], alone, atol=1e-4, rtol=1e-5)
        assert torch.all(batched[n:] == 0)


def test_batch_rejects_a_wave_too_short_to_reflect():
    config = FeatureConfig(sample_rate=8000, n_mels=40)
    with pytest.raises(AsrError, match="too short"):
        log_mel_batch(torch.zeros(2, 1000), torch.tensor([1000, 100]), config)


@pytest.mark.parametrize("center", [True, False])
def test_traced_features_are_the_stft_ones(fsdd, center):
    """Traced (as `asr export` traces them), the features come from a convolution with the DFT
    basis, not torch.stft: the same log-mels for one wave and for a batch of other lengths than
    the traced one, at both corpus rates (their windows are shorter than n_fft)."""
    real = load_audio(fsdd / "recordings" / "7_jackson_3.wav", 8000)
    for config in (FeatureConfig(sample_rate=8000, n_mels=40), FeatureConfig()):

        def features(wave, c=config):
            return log_mel(wave, c, center)

        # Not checked against eager: eager is torch.stft, equal only to within float rounding.
        traced = torch.jit.trace(features, torch.randn(2, 2500), check_trace=False)
        waves = torch.stack([real[:3000], torch.randn(3000)])  # (batch, samples)
        torch.testing.assert_close(traced(waves), log_mel(waves, config, center), atol=1e-4, rtol=0)
        one = torch.jit.trace(features, real[:2000], check_trace=False)
        torch.testing.assert_close(one(real), log_mel(real, config, center), atol=1e-4, rtol=0)
