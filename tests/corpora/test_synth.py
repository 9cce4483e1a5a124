"""Prompt cleaning, voice/sentence hold-out, and a handful of real espeak-ng/flite renders."""

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from asr.corpora.synth import (
    RenderJob,
    SynthConfig,
    load_prompts,
    make_prompt,
    make_splits,
    render_all,
    synthesize_corpus,
)
from asr.corpora.voices import ESPEAK, FLITE, Voice, list_voices, parse_espeak_listing, tts_command
from asr.errors import AsrError
from asr.manifest import read_manifest

from conftest import PROMPTS

needs_engines = pytest.mark.skipif(
    shutil.which(ESPEAK) is None or shutil.which(FLITE) is None, reason="espeak-ng/flite absent"
)


def test_make_prompt():
    fake = make_prompt("Fake &ones shine but cost little.")
    assert (fake.spoken, fake.transcript) == (
        "Fake ones shine but cost little.",
        "fake ones shine but cost little",
    )
    assert make_prompt("The fruit is apple-shaped.").transcript == "the fruit is apple shaped"
    assert make_prompt("Cheap clothes don\u2019t last.").transcript == "cheap clothes don't last"
    assert make_prompt("Meet me at 10 o'clock.") is None
    assert make_prompt(" -- ") is None


def test_load_prompts_drops_digits_and_repeats(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("A small cat.\n\nIn 1969 it rained.\na SMALL cat!\nThe end.\n")
    assert [p.transcript for p in load_prompts(path)] == ["a small cat", "the end"]


def toy_voices() -> list[Voice]:
    espeak = [
        Voice(ESPEAK, accent, variant)
        for accent in ("en-us", "en-gb")
        for variant in ("", "f1", "f2", "m3", "klatt")
    ]
    return espeak + [Voice(FLITE, name) for name in ("kal", "kal16", "slt", "awb")]


def test_make_splits_hold_out_voices_and_sentences():
    prompts = load_prompts(PROMPTS)[:60]
    splits = make_splits(prompts, toy_voices(), 2, 2, dev_frac=0.1, test_frac=0.1, seed=3)

    sentences = {name: {p.transcript for p in s.prompts} for name, s in splits.items()}
    families = {name: {v.family for v in s.voices} for name, s in splits.items()}
    assert [len(sentences[n]) for n in ("train", "dev", "test")] == [48, 6, 6]
    assert [len(families[n]) for n in ("dev", "test")] == [2, 2]
    for a, b in [("train", "dev"), ("train", "test"), ("dev", "test")]:
        assert not sentences[a] & sentences[b]
        assert not families[a] & families[b]
    # kal and kal16 are one speaker: they are never split apart.
    kal = [name for name, s in splits.items() for v in s.voices if v.name.startswith("kal")]
    assert len(kal) == 2 and kal[0] == kal[1]
    assert sum(len(s.voices) for s in splits.values()) == len(toy_voices())
    assert make_splits(prompts, toy_voices(), 2, 2, 0.1, 0.1, seed=3) == splits
    assert make_splits(prompts, toy_voices(), 2, 2, 0.1, 0.1, seed=4) != splits


def test_make_splits_needs_training_voices():
    prompts = [make_prompt(f"word {w}") for w in "abcdefghij"]
    with pytest.raises(AsrError, match="voice families"):
        make_splits(prompts, [Voice(FLITE, "slt"), Voice(FLITE, "awb")], 1, 1)


def test_parse_espeak_listing():
    listing = (
        "Pty Language       Age/Gender VoiceName          File                 Other Languages\n"
        " 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)\n"
        " 5  variant         --/M      Mr_Serious         !v/Mr serious        \n"
        " 5  variant         --/M      Storm              !v/Storm             (en-us 5)\n"
    )
    assert parse_espeak_listing(listing) == [
        ("en-us", "gmw/en-US"),
        ("variant", "!v/Mr serious"),
        ("variant", "!v/Storm"),
    ]


@needs_engines
def test_list_voices_finds_usable_english_voices():
    voices = list_voices()
    assert {Voice(ESPEAK, "en-us"), Voice(ESPEAK, "en-gb", "f2"), Voice(FLITE, "slt")} <= set(
        voices
    )
    names = {v.name for v in voices} | {v.variant for v in voices}
    assert not names & {"awb_time", "whisper", "variant", "en-uk", "Mr serious"}
    assert len({v.id for v in voices}) == len(voices)


def test_tts_command_scales_rate():
    cmd = tts_command(Voice(ESPEAK, "en-us", "f2"), "hi", 1.2, 40, Path("o.wav"))
    assert cmd[:7] == [ESPEAK, "-v", "en-us+f2", "-s", "210", "-p", "40"]
    assert "duration_stretch=0.500" in tts_command(Voice(FLITE, "slt"), "hi", 2.0, 50, Path("o"))


@needs_engines
def test_synthesize_corpus_renders_and_resumes(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS.read_text().splitlines()[:4]) + "\n")
    voices = [Voice(ESPEAK, "en-us", "f2"), Voice(FLITE, "kal")]  # 22.05 kHz and 8 kHz outputs
    config = SynthConfig(
        renders_per_prompt=1, dev_voices=0, test_voices=1, dev_frac=0, test_frac=0.25, jobs=2
    )

    manifests = synthesize_corpus(prompts, tmp_path / "out", config, voices, progress=False)

    train, dev, test = (read_manifest(manifests[n]) for n in ("train", "dev", "test"))
    assert (len(train), len(dev), len(test)) == (3, 0, 1)
    assert len({u.speaker for u in train} | {u.speaker for u in test}) == 2
    assert not {u.text for u in train} & {u.text for u in test}
    wanted = {p.transcript for p in load_prompts(prompts)}
    for utt in train + test:
        info = sf.info(str(utt.audio_filepath))
        assert (info.samplerate, info.channels) == (16_000, 1)
        assert info.duration == pytest.approx(utt.duration, abs=1e-3)
        assert 1.0 < utt.duration < 6.0
        assert utt.text in wanted
    mtimes = {u.audio_filepath: u.audio_filepath.stat().st_mtime_ns for u in train + test}
    broken = train[0].audio_filepath
    broken.write_bytes(b"RIFF0000WAVE")  # an interrupted write from an earlier run

    again = synthesize_corpus(prompts, tmp_path / "out", config, voices, progress=False)

    assert read_manifest(again["train"]) == train
    assert sf.info(str(broken)).duration == pytest.approx(train[0].duration, abs=1e-3)
    for path, mtime in mtimes.items():
        assert (path.stat().st_mtime_ns == mtime) == (path != broken)


@needs_engines
def test_render_failure_is_skipped(tmp_path):
    prompt = make_prompt("Hello there.")
    jobs = [
        RenderJob(Voice(ESPEAK, "xx-no-such-voice"), prompt, 1.0, 50),
        RenderJob(Voice(ESPEAK, "en-gb"), prompt, 1.0, 50),
    ]
    utts = render_all(jobs, tmp_path, SynthConfig(jobs=2), progress=False)
    assert [u.speaker for u in utts] == ["espeak-en-gb"]
    assert not (tmp_path / "espeak-xx-no-such-voice").exists()
