import io

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import (
    audio_blocks,
    audio_duration,
    audio_info,
    load_audio,
    read_audio,
    resample,
    write_audio,
)
from asr.audio_stream import StreamResampler, read_blocks, read_pcm, read_wav_stream
from asr.errors import AsrError
from asr.manifest import read_manifest

from conftest import TEST_DATA


def test_load_mixes_to_mono_and_keeps_rate(sine_wav):
    wave = load_audio(sine_wav, 16000)
    assert wave.dtype == torch.float32 and wave.ndim == 1 and len(wave) == 16000
    assert 0.45 < float(wave.abs().max()) <= 0.5


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_reads_compressed_formats_and_resamples(tmp_path, fmt):
    t = np.arange(22050) / 22050
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 300 * t), 22050, format=fmt)
    wave = load_audio(path, 16000)
    assert abs(len(wave) - 16000) < 1200  # mp3 pads with encoder delay
    spectrum = torch.fft.rfft(wave[:16000]).abs()
    assert abs(int(spectrum.argmax()) - 300) <= 2  # the tone survives resampling, at 300 Hz


def test_fsdd_recording_upsampled(fsdd):
    path = fsdd / "recordings" / "3_theo_7.wav"
    wave = load_audio(path, 16000)
    assert len(wave) == pytest.approx(2 * sf.info(path).frames, abs=2)


def test_flac_sentences_read_at_the_model_rate():
    corpus = TEST_DATA / "speechocean762"
    for utt in read_manifest(corpus / "manifest.jsonl"):
        wave = load_audio(utt.audio_filepath, 8000)  # 16 kHz FLAC, downsampled
        assert wave.dtype == torch.float32 and wave.dim() == 1
        assert len(wave) / 8000 == pytest.approx(utt.duration, abs=0.01)
        assert audio_duration(utt.audio_filepath) == pytest.approx(utt.duration, abs=0.01)
        assert 0.01 < float(wave.abs().max()) <= 1.0


def test_resample_identity():
    wave = torch.randn(100)
    assert resample(wave, 8000, 8000) is wave


def _header_only(path):
    sf.write(path, np.zeros(0), 16000)


def _garbage(path):
    path.write_bytes(b"this is not audio at all" * 50)


def _nan(path):
    sf.write(path, np.array([0.1, np.nan, 0.2] * 100), 16000, subtype="FLOAT")


def _empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "make, reason",
    [
        (_header_only, "no audio samples"),
        (_garbage, "cannot decode audio"),
        (_nan, "NaN or infinite"),
        (_empty, "empty file"),
    ],
)
def test_bad_files_rejected_with_path_and_reason(tmp_path, make, reason):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AsrError) as err:
        load_audio(path)
    message = str(err.value)
    assert message.startswith(str(path)) and reason in message and "\n" not in message


def test_missing_and_directory(tmp_path):
    with pytest.raises(AsrError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AsrError, match="is a directory"):
        load_audio(tmp_path)


def test_info_from_the_header(sine_wav):
    info = audio_info(sine_wav)
    assert (info.frames, info.sample_rate, info.channels, info.duration) == (16000, 16000, 2, 1.0)
    with pytest.raises(AsrError, match="nope.wav: no such file"):
        audio_info(sine_wav.with_name("nope.wav"))
    junk = sine_wav.with_name("junk.wav")
    junk.write_bytes(b"not audio at all")
    with pytest.raises(AsrError, match="cannot read audio header"):
        audio_info(junk)


def test_read_a_span_mono_or_with_its_channels(sine_wav):
    whole = load_audio(sine_wav, 16000)
    span, rate = read_audio(sine_wav, 4000, 4100)
    assert rate == 16000 and torch.equal(span, whole[4000:4100])
    both, _ = read_audio(sine_wav, 4000, 4100, mono=False)
    assert both.shape == (100, 2) and torch.equal(both[:, 0], span)


def test_blocks_cover_the_file_in_order(sine_wav):
    blocks = list(audio_blocks(sine_wav, 6000))
    assert [len(b) for b in blocks] == [6000, 6000, 4000]
    assert np.array_equal(np.concatenate(blocks), load_audio(sine_wav, 16000).numpy())


def test_write_is_16_bit_and_clips_instead_of_wrapping(tmp_path):
    path = tmp_path / "loud.wav"
    write_audio(path, torch.tensor([0.5, 1.5, -2.0, 0.25]), 8000)
    assert sf.info(path).subtype == "PCM_16" and audio_info(path).sample_rate == 8000
    assert load_audio(path, 8000).tolist() == pytest.approx([0.5, 1.0, -1.0, 0.25], abs=1e-4)
    with pytest.raises(AsrError, match="cannot write audio"):
        write_audio(tmp_path / "no" / "such" / "folder.wav", np.zeros(10), 8000)


@pytest.mark.parametrize("rates", [(16000, 8000), (44100, 8000), (8000, 16000), (8000, 8000)])
def test_stream_resampler_equals_resampling_the_whole(rates):
    wave = torch.randn(12345, generator=torch.Generator().manual_seed(0))
    resampler, out, i = StreamResampler(*rates), [], 0
    for size in [0, 1, 700, 2999, 13, 441, 5000, 10000]:
        out.append(resampler.feed(wave[i : i + size]))
        i += size
    out.append(resampler.feed(torch.zeros(0), final=True))
    torch.testing.assert_close(torch.cat(out), resample(wave, *rates), atol=1e-5, rtol=1e-5)


def test_wav_and_raw_pcm_streams_read_as_the_file(tmp_path):
    wave = (np.random.default_rng(0).normal(0, 3000, (8000, 2))).astype(np.int16)
    sf.write(tmp_path / "a.wav", wave, 16000, subtype="PCM_16")
    whole = load_audio(tmp_path / "a.wav", 8000)
    wav_bytes = io.BytesIO((tmp_path / "a.wav").read_bytes())
    from_wav = torch.cat(list(read_wav_stream(wav_bytes, 8000, 0.1)))
    raw = io.BytesIO(wave.astype("<i2").tobytes())
    from_pcm = torch.cat(list(read_pcm(raw, 16000, 8000, 0.03, channels=2)))
    from_file = torch.cat(list(read_blocks(tmp_path / "a.wav", 8000, 0.1)))
    for streamed in (from_wav, from_pcm, from_file):
        torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-4)
    with pytest.raises(AsrError, match="not a WAV stream"):
        list(read_wav_stream(io.BytesIO(b"x" * 100), 8000, 0.1))
