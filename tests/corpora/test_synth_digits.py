"""Synthetic digits: prompt strings and a dozen real renders, band-limited like FSDD."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from asr.corpora.digits import DIGIT_WORDS
from asr.corpora.synth import SynthConfig
from asr.corpora.synth_digits import (
    FSDD_SYNTH,
    SynthDigitsConfig,
    digit_strings,
    synthesize_digits,
)
from asr.corpora.voices import ESPEAK, FLITE, Voice
from asr.manifest import read_manifest


def test_digit_strings_are_distinct_digit_words():
    strings = digit_strings(50, 2, 7, seed=0)
    assert len({p.transcript for p in strings}) == 50
    assert all(2 <= len(p.transcript.split()) <= 7 for p in strings)
    assert all(set(p.spoken.split()) <= set(DIGIT_WORDS) for p in strings)
    assert digit_strings(50, 2, 7, seed=0) == strings
    assert len(digit_strings(500, 2, 2, seed=0)) == 100  # only 100 two-digit strings exist


def high_band_share(path) -> float:
    """Share of spectral energy above 4.2 kHz."""
    audio, rate = sf.read(str(path), dtype="float32")
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / rate)
    return float(power[freqs > 4200].sum() / power.sum())


@pytest.mark.skipif(
    shutil.which(ESPEAK) is None or shutil.which(FLITE) is None, reason="espeak-ng/flite absent"
)
def test_synthesize_digits_band_limited(tmp_path):
    voices = [Voice(ESPEAK, "en-gb", "m3"), Voice(FLITE, "slt")]
    config = SynthDigitsConfig(singles_per_digit=1, strings=2)
    synth = SynthConfig(max_freq=FSDD_SYNTH.max_freq, renders_per_prompt=1, seed=2, jobs=2)

    utts = synthesize_digits(tmp_path / "wav", tmp_path / "s.jsonl", config, synth, voices, False)

    assert read_manifest(tmp_path / "s.jsonl")[0].audio_filepath == utts[0].audio_filepath
    assert sorted(u.text for u in utts[:10]) == sorted(DIGIT_WORDS)
    assert all(2 <= len(u.text.split()) <= 7 for u in utts[10:]) and len(utts) == 12
    assert {u.speaker for u in utts} <= {v.id for v in voices}
    assert all(sf.info(str(u.audio_filepath)).samplerate == 16_000 for u in utts)
    assert max(high_band_share(u.audio_filepath) for u in utts) < 1e-6
    # The same render without the band limit does have energy up there: the check can fail.
    full = synthesize_digits(
        tmp_path / "full",
        tmp_path / "f.jsonl",
        SynthDigitsConfig(singles_per_digit=1, strings=0),
        SynthConfig(renders_per_prompt=1),
        [Voice(ESPEAK, "en-gb", "m3")],
        False,
    )
    assert min(high_band_share(u.audio_filepath) for u in full) > 1e-5
