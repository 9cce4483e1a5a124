"""`asr prepare ...`: every importer and generator through the command line, on real FSDD audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from asr.corpora.voices import FLITE
from asr.manifest import read_manifest

from librispeech_fixture import build_librispeech_fixture

FLITE_MISSING = shutil.which(FLITE) is None


def _recordings(fsdd: Path, names: list[str]) -> list[Path]:
    return [fsdd / "recordings" / name for name in names]


def _run(capsys, *argv: str) -> list[str]:
    """Run `asr ARGV`; returns the lines it printed on stdout (the manifests written)."""
    assert main(["prepare", *argv]) == 0
    return capsys.readouterr().out.split()


def test_librispeech(fsdd, tmp_path, capsys):
    root = build_librispeech_fixture(fsdd, tmp_path / "train-clean-100", 2, 1, 2)
    out = tmp_path / "ls.jsonl"
    assert _run(capsys, "librispeech", str(root), "--output", str(out), "-q") == [str(out)]
    utterances = read_manifest(out)
    assert len(utterances) == 4
    assert {u.speaker for u in utterances} == {"1", "2"}
    assert all(u.text.islower() and u.duration > 0.1 for u in utterances)


def test_commonvoice_counts_missing_clips(fsdd, tmp_path, capsys, caplog):
    clips = tmp_path / "cv" / "clips"
    clips.mkdir(parents=True)
    for wav in _recordings(fsdd, ["3_theo_0.wav", "8_george_1.wav"]):
        shutil.copy(wav, clips)
    rows = ["client_id\tpath\tsentence", "a\t3_theo_0.wav\tThree!", "b\t8_george_1.wav\tEight."]
    rows.append("c\tgone.mp3\tNine")
    (tmp_path / "cv" / "train.tsv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "cv.jsonl"
    _run(capsys, "commonvoice", str(tmp_path / "cv" / "train.tsv"), "--output", str(out))
    assert [u.text for u in read_manifest(out)] == ["three", "eight"]
    assert "missing audio" in caplog.text


def test_kaldi_with_segments(fsdd, tmp_path, capsys):
    data = tmp_path / "kaldi"
    data.mkdir()
    wav = _recordings(fsdd, ["5_jackson_0.wav"])[0]
    (data / "wav.scp").write_text(f"rec1 {wav}\n")
    (data / "segments").write_text("utt1 rec1 0.0 0.2\nutt2 rec1 0.1 -1\n")
    (data / "text").write_text("utt1 FIVE\nutt2 five\n")
    (data / "utt2spk").write_text("utt1 jackson\nutt2 jackson\n")
    out = tmp_path / "kaldi.jsonl"
    _run(capsys, "kaldi", str(data), "--output", str(out), "-q")
    utterances = read_manifest(out)
    assert [u.text for u in utterances] == ["five", "five"]
    assert utterances[0].duration == pytest.approx(0.2, abs=1e-3)
    assert {u.speaker for u in utterances} == {"jackson"}


def test_folder_skips_audio_without_transcript(fsdd, tmp_path, capsys, caplog):
    folder = tmp_path / "folder"
    folder.mkdir()
    for wav in _recordings(fsdd, ["1_nicolas_0.wav", "2_nicolas_0.wav"]):
        shutil.copy(wav, folder)
    (folder / "1_nicolas_0.txt").write_text("One.\n")
    out = tmp_path / "folder.jsonl"
    _run(capsys, "folder", str(folder), "--output", str(out))
    assert [u.text for u in read_manifest(out)] == ["one"]
    assert "missing transcript" in caplog.text


def test_fsdd_speaker_splits_and_connected(fsdd, tmp_path, capsys):
    out = tmp_path / "fsdd"
    printed = _run(
        capsys, "fsdd", str(fsdd), "--output-dir", str(out), "--sample-rate", "8000", "-q"
    )
    assert len(printed) == 6
    splits = {name: read_manifest(out / f"{name}.jsonl") for name in ("train", "dev", "test")}
    assert {u.speaker for u in splits["test"]} == {"theo"}
    assert {u.speaker for u in splits["dev"]} == {"yweweler"}
    assert {"theo", "yweweler"}.isdisjoint({u.speaker for u in splits["train"]})
    connected = read_manifest(out / "connected_test.jsonl")
    assert all(2 <= len(u.text.split()) <= 7 for u in connected)
    assert sum(len(u.text.split()) for u in connected) == len(splits["test"])


def test_connected_joins_each_speakers_clips_with_pauses(fsdd, tmp_path, capsys):
    out = tmp_path / "long"
    args = ["prepare", "connected", str(fsdd / "manifest.jsonl"), "--output-dir", str(out)]
    args += ["--words", "8-15", "--pauses", "0.5-1.0", "--sample-rate", "8000", "-q"]
    assert main(args) == 0
    joined = read_manifest(Path(capsys.readouterr().out.strip()))
    clips = read_manifest(fsdd / "manifest.jsonl")
    assert joined and all(8 <= len(u.text.split()) <= 15 for u in joined)
    for utt in joined:  # one speaker's words, each clip's audio plus at least its pauses
        sources = [c for c in clips if c.speaker == utt.speaker]
        assert utt.audio_filepath.name.startswith(f"{utt.speaker}_")
        assert sf.info(utt.audio_filepath).samplerate == 8000
        words = len(utt.text.split())
        assert utt.duration >= 0.5 * (words + 1) + words * min(c.duration for c in sources)
    assert sum(len(u.text.split()) for u in joined) <= len(clips)  # each clip once at most


def test_connected_bad_range_is_a_usage_error(fsdd, tmp_path, capsys):
    args = ["prepare", "connected", str(fsdd / "manifest.jsonl"), "--output-dir", str(tmp_path)]
    assert main([*args, "--words", "9-3"]) == 2
    assert "--words 9-3" in capsys.readouterr().err


def test_fsdd_clone_without_manifest_all_speakers_train(fsdd, tmp_path, capsys):
    """A fresh clone has recordings/ only; no held-out speakers puts everything in train."""
    clone = tmp_path / "clone" / "recordings"
    clone.mkdir(parents=True)
    for wav in _recordings(fsdd, ["0_theo_0.wav", "9_george_3.wav", "4_yweweler_7.wav"]):
        shutil.copy(wav, clone)
    (clone / "notes.wav").write_bytes(b"")
    out = tmp_path / "fsdd"
    argv = ["fsdd", str(clone.parent), "--output-dir", str(out), "--no-connected"]
    _run(capsys, *argv, "--dev-speakers", "--test-speakers", "-q")
    train = read_manifest(out / "train.jsonl")
    assert sorted((u.speaker, u.text) for u in train) == [
        ("george", "nine"), ("theo", "zero"), ("yweweler", "four"),
    ]  # fmt: skip
    assert read_manifest(out / "test.jsonl") == []


def test_combine_rewrites_paths(fsdd, tmp_path, capsys):
    """Relative paths in each input are relative to its own folder; the output's to its own."""
    manifests = []
    for name, wav, text in (("a", "6_theo_2.wav", "six"), ("b/deeper", "7_theo_2.wav", "seven")):
        clips = tmp_path / name / "clips"
        clips.mkdir(parents=True)
        shutil.copy(_recordings(fsdd, [wav])[0], clips / "x.wav")
        (clips / "x.txt").write_text(text)
        manifests.append(str(tmp_path / name / "m.jsonl"))
        _run(capsys, "folder", str(clips), "--output", manifests[-1], "-q")
    out = tmp_path / "combined" / "all.jsonl"
    _run(capsys, "combine", *manifests, "--output", str(out), "-q")
    assert [u.audio_filepath for u in read_manifest(out)] == [
        (tmp_path / "a" / "clips" / "x.wav").resolve(),
        (tmp_path / "b" / "deeper" / "clips" / "x.wav").resolve(),
    ]


def test_combine_max_duration_leaves_out_longer_utterances(tmp_path, capsys, caplog):
    """Filler sentences capped in length: longer ones are left out and counted."""
    wav = tmp_path / "x.wav"
    sf.write(wav, np.zeros(800, dtype=np.float32), 8000)
    source = tmp_path / "m.jsonl"
    source.write_text(
        '{"audio_filepath": "x.wav", "duration": 2.0, "text": "we call it bear"}\n'
        '{"audio_filepath": "x.wav", "duration": 5.5, "text": "a longer sentence"}\n'
    )
    out = tmp_path / "short.jsonl"
    _run(capsys, "combine", str(source), "--output", str(out), "--max-duration", "4", "-q")
    assert [u.text for u in read_manifest(out)] == ["we call it bear"]
    assert "left out 1 utterances longer than 4 s" in caplog.text


def test_text_prints_transcripts_without_the_audio(tmp_path, capsys, caplog):
    """LM text: every transcript in order, even of a clip not on disk; a line without one is
    skipped with a warning naming it."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(
        '{"audio_filepath": "gone.wav", "duration": 1.0, "text": "one two"}\n'
        '{"audio_filepath": "x.wav", "duration": 1.0, "text": ""}\n'
        '{"audio_filepath": "y.wav", "duration": 1.0, "text": "say \\"nine\\""}\n'
    )
    second.write_text('{"audio_filepath": "z.wav", "duration": 2.0, "text": "one two"}\n')
    assert main(["prepare", "text", str(first), str(second)]) == 0
    assert capsys.readouterr().out == 'one two\nsay "nine"\none two\n'
    assert f"{first}: kept 2 utterances, skipped 1: 1 empty text (line 2)" in caplog.text


def test_text_of_a_missing_manifest_is_one_line(tmp_path, capsys):
    assert main(["prepare", "text", str(tmp_path / "none.jsonl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.jsonl: cannot read manifest" in err[0]


def test_synth_holds_out_voices_and_sentences(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The birch canoe slid.\nGlue the sheet.\nA rod is used.\nThe box lay.\n")
    out = tmp_path / "synth"
    argv = ["synth", str(prompts), "--output-dir", str(out), "--max-voices", "8", "--renders", "1"]
    argv += ["--dev-voices", "1", "--test-voices", "1", "--sample-rate", "8000", "-q"]
    argv += ["--families", "espeak+f2,espeak+f5,espeak+m7,espeak+default"]
    argv += ["--exclude-families", "espeak+f5"]
    assert len(_run(capsys, *argv)) == 3
    splits = {name: read_manifest(out / f"{name}.jsonl") for name in ("train", "dev", "test")}
    assert all(splits.values())
    speakers = {u.speaker for split in splits.values() for u in split}
    assert not any(s.endswith("+f5") for s in speakers)
    assert all(s.endswith(("+f2", "+m7")) or "+" not in s for s in speakers)
    assert not {u.speaker for u in splits["test"]} & {u.speaker for u in splits["train"]}
    assert not {u.text for u in splits["test"]} & {u.text for u in splits["train"]}


@pytest.mark.skipif(FLITE_MISSING, reason="flite not installed")
def test_synth_digits_only_chosen_families(tmp_path, capsys):
    out = tmp_path / "digits"
    argv = ["synth-digits", "--output-dir", str(out), "--families", "flite-slt", "--strings", "2"]
    argv += ["--singles-per-digit", "1", "--renders", "1", "--sample-rate", "8000", "-q"]
    assert _run(capsys, *argv) == [str(out / "synth_digits.jsonl")]
    utterances = read_manifest(out / "synth_digits.jsonl")
    assert len(utterances) == 12
    assert {u.speaker for u in utterances} == {"flite-slt"}


def test_split_writes_speaker_disjoint_kinds(fsdd, tmp_path, capsys):
    out = tmp_path / "split"
    written = _run(
        capsys, "split", str(fsdd / "manifest.jsonl"), "--output-dir", str(out), "--kind",
        "low=zero,one,two,three,four", "--dev-speakers", "yweweler", "--test-speakers", "theo",
        "--dev-frac", "0", "--test-frac", "0", "-q",
    )  # fmt: skip
    assert len(written) == 9
    test = read_manifest(out / "test.jsonl")
    assert {u.speaker for u in test} == {"theo"}
    train = read_manifest(out / "train.jsonl")
    assert {u.speaker for u in train} == {"george", "jackson", "nicolas"}
    low = read_manifest(out / "test_low.jsonl")
    assert len(low) + len(read_manifest(out / "test_other.jsonl")) == len(test)
    assert {u.text for u in low} == {"zero", "one", "two", "three", "four"}


def test_split_bad_kind_is_one_line(fsdd, tmp_path, capsys):
    argv = [
        "prepare",
        "split",
        str(fsdd / "manifest.jsonl"),
        "--output-dir",
        str(tmp_path),
        "--kind",
        "x",
    ]
    assert main(argv) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
