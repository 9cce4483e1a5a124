import librosa
import numpy as np
import pytest
import torch

from asr.errors import AsrError
from asr.features import FeatureConfig, SpecAugmentConfig, log_mel, spec_augment, upgrade_features


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
