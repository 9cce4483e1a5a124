import torch

from asr.augment import AugmentConfig, augment_wave


def test_speed_changes_length_and_noise_sets_snr():
    wave = torch.sin(torch.arange(16000) * 0.05)
    config = AugmentConfig(speeds=(1.1,), gain_db=0.0, noise_prob=1.0, snr_db=(20.0, 20.0))
    out = augment_wave(wave, 16000, config, torch.Generator().manual_seed(0))
    assert abs(len(out) - 16000 / 1.1) < 5
    clean = augment_wave(wave, 16000, AugmentConfig(speeds=(1.1,), gain_db=0.0, noise_prob=0.0),
                         torch.Generator().manual_seed(0))  # fmt: skip
    snr = 10 * torch.log10(clean.square().mean() / (out - clean).square().mean())
    assert abs(float(snr) - 20) < 1


def test_gain_range_and_seed():
    wave = torch.randn(8000) * 0.1
    config = AugmentConfig(speeds=(1.0,), gain_db=6.0, noise_prob=0.0)
    outs = [augment_wave(wave, 16000, config, torch.Generator().manual_seed(s)) for s in range(20)]
    ratios = torch.tensor([float(o.std() / wave.std()) for o in outs])
    assert (ratios >= 10 ** (-6 / 20) - 1e-4).all() and (ratios <= 10 ** (6 / 20) + 1e-4).all()
    again = augment_wave(wave, 16000, config, torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, outs[3])


def test_padding_adds_silence_at_each_end_and_noise_keeps_the_speech_snr():
    wave = torch.sin(torch.arange(8000) * 0.05 + 0.3)  # no zero sample: the start is found
    config = AugmentConfig(speeds=(1.0,), gain_db=0.0, noise_prob=0.0, pad_seconds=(0.1, 0.3))
    lengths = set()
    for seed in range(10):
        out = augment_wave(wave, 8000, config, torch.Generator().manual_seed(seed))
        start = int(out.nonzero()[0])
        assert 800 <= start <= 2400 and 1600 <= len(out) - 8000 <= 4800
        torch.testing.assert_close(out[start : start + 8000], wave)
        lengths.add(len(out))
    assert len(lengths) > 5  # drawn, not fixed
    noisy = AugmentConfig(speeds=(1.0,), gain_db=0.0, noise_prob=1.0, snr_db=(20.0, 20.0),
                          pad_seconds=(0.5, 0.5))  # fmt: skip
    out = augment_wave(wave, 8000, noisy, torch.Generator().manual_seed(0))
    noise = out[:4000]  # the padding before the speech holds the noise alone
    snr = 10 * torch.log10(wave.square().mean() / noise.square().mean())
    assert abs(float(snr) - 20) < 1


def _band_power(wave: torch.Tensor, rate: int, low: float, high: float) -> float:
    spectrum = torch.fft.rfft(wave).abs().square()
    freqs = torch.fft.rfftfreq(len(wave), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_narrowband_removes_what_lies_above_its_band_and_is_drawn_per_utterance():
    t = torch.arange(16000) / 16000
    wave = torch.sin(2 * torch.pi * 1000 * t) + torch.sin(2 * torch.pi * 6000 * t)  # 1 + 6 kHz
    plain = dict(speeds=(1.0,), gain_db=0.0, noise_prob=0.0)
    always = AugmentConfig(**plain, narrowband_prob=1.0, narrowband_hz=4000)
    out = augment_wave(wave, 16000, always, torch.Generator().manual_seed(0))
    assert len(out) == len(wave)
    low, high = _band_power(out, 16000, 900, 1100), _band_power(out, 16000, 4000, 8000)
    assert high < 1e-4 * low  # the 6 kHz tone is gone, as from an 8 kHz recording
    assert abs(low / _band_power(wave, 16000, 900, 1100) - 1) < 0.01  # the 1 kHz tone is kept
    half = AugmentConfig(**plain, narrowband_prob=0.5)

    def narrowed(seed: int) -> bool:
        out = augment_wave(wave, 16000, half, torch.Generator().manual_seed(seed))
        return _band_power(out, 16000, 4000, 8000) < 1e-4 * low

    assert 3 < sum(narrowed(s) for s in range(20)) < 17
    at_8k = torch.sin(2 * torch.pi * 1000 * torch.arange(8000) / 8000)  # nothing to remove
    torch.testing.assert_close(augment_wave(at_8k, 8000, always, torch.Generator()), at_8k)
