"""The model shipped inside the package: small, used when --model is not given, and it
recognises the sample recordings, voices it never heard included."""

from __future__ import annotations

import json
import logging

import jiwer

from asr.checkpoint import load_checkpoint
from asr.cli import main
from asr.corpora.digits import DIGIT_WORDS
from asr.inference.shipped import DEFAULT_MODEL, SHIPPED, SHIPPED_DIR, STREAM_NAME
from asr.manifest import read_manifest

from conftest import ROOT

SAMPLES = ROOT / "data" / "samples"


def test_default_model_is_small_narrow_band_digits():
    assert DEFAULT_MODEL.stat().st_size < 5_000_000  # bytes: it ships in git and in the wheel
    ckpt = load_checkpoint(DEFAULT_MODEL)
    assert ckpt.feature_config.sample_rate == 8000
    assert not ckpt.vocab.unknown_chars(" ".join(DIGIT_WORDS))


def test_samples_manifest_lists_every_sample():
    listed = {u.audio_filepath.name for u in read_manifest(SAMPLES / "manifest.jsonl")}
    assert listed == {p.name for p in SAMPLES.glob("*.wav")}
    assert (SAMPLES / "LICENSE.md").is_file()


def test_transcribe_without_model_uses_default_and_says_so(capsys, caplog):
    sample = SAMPLES / "7_jackson_45.wav"
    with caplog.at_level(logging.INFO, logger="asr"):
        assert main(["transcribe", str(sample)]) == 0
    assert str(DEFAULT_MODEL) in caplog.text
    assert capsys.readouterr().out == f"{sample}\tseven\n"


def test_default_model_recognises_samples_and_unseen_voices(tmp_path, capsys):
    manifest = SAMPLES / "manifest.jsonl"
    assert main(["evaluate", "--manifest", str(manifest), "--output-dir", str(tmp_path), "-q"]) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["utterances"]
    unseen = [r for r in rows if r["speaker"].startswith(("espeak", "flite"))]
    assert len(unseen) == 4  # digit strings read by voice families held out of training
    words = sum(r["ref_words"] for r in rows)
    assert sum(r["errors"] for r in rows) <= 0.1 * words
    assert sum(r["errors"] for r in unseen) <= 0.15 * sum(r["ref_words"] for r in unseen)


def test_the_shipped_streaming_model_is_small_causal_and_asr_streams_default(capsys, caplog):
    path = SHIPPED_DIR / SHIPPED[STREAM_NAME]
    assert path.stat().st_size < 2_000_000  # bytes
    ckpt = load_checkpoint(path)
    assert not ckpt.model_config.bidirectional and ckpt.feature_config.normalisation == "running"
    # A digit string, as streams hold speech; a clip cut tight around one word is what this
    # model gets wrong (asr/default_model/README.md), FSDD's own clips included.
    sample = SAMPLES / "synth_espeak_en-gb_m7_two-zero-six-nine-six-eight.wav"
    with caplog.at_level(logging.INFO, logger="asr"):
        assert main(["stream", str(sample), "--format", "txt"]) == 0
    assert str(path) in caplog.text
    assert capsys.readouterr().out == "two zero six nine six eight\n"


def test_the_streaming_models_finals_are_its_offline_transcripts(capsys):
    """On the samples' synthetic digit strings (voice families the streaming model heard in
    training, unlike the default model), the stream's finals (one per pause) are what
    `asr transcribe` gives with the same model, and mostly right."""
    rows = [u for u in read_manifest(SAMPLES / "manifest.jsonl") if " " in u.text]
    errors = 0
    for u in rows:
        assert main(["stream", str(u.audio_filepath), "--format", "txt", "-q"]) == 0
        streamed = " ".join(capsys.readouterr().out.split())  # its finals, one line each
        assert main(["transcribe", "--model", STREAM_NAME, str(u.audio_filepath), "-q"]) == 0
        assert capsys.readouterr().out.split("\t")[1].strip() == streamed
        errors += jiwer.process_words(u.text, streamed).wer * len(u.text.split())
    assert errors <= 0.15 * sum(len(u.text.split()) for u in rows)
