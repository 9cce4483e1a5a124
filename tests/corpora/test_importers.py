"""Importers on tiny corpora built in tmp_path from real FSDD recordings."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.corpora.importers import (
    DIGITS,
    EMPTY_TEXT,
    MISSING_AUDIO,
    MISSING_TRANSCRIPT,
    PIPED,
    UNREADABLE,
    import_common_voice,
    import_folder,
    import_librispeech,
    normalize_transcript,
)
from asr.corpora.kaldi import BAD_SEGMENT, import_kaldi
from asr.errors import AsrError
from asr.manifest import read_manifest

from conftest import FSDD
from librispeech_fixture import build_librispeech_fixture


def fsdd_wav(name: str) -> Path:
    return FSDD / "recordings" / f"{name}.wav"


def test_normalize_transcript():
    assert normalize_transcript("HELLO,  World!") == "hello world"
    assert normalize_transcript("Don\u2019t 'quote' me") == "don't quote me"
    assert normalize_transcript("A hot-cross bun, café & tea.") == "a hot cross bun cafe tea"
    assert normalize_transcript(" ?! ") == ""


def test_librispeech_fixture_imports(tmp_path):
    root = build_librispeech_fixture(
        FSDD, tmp_path / "LibriSpeech", speakers=2, chapters=2, utterances_per_chapter=2
    )
    flacs = sorted(root.glob("*/*/*.flac"))
    assert len(flacs) == 8
    assert sf.info(str(flacs[0])).samplerate == 16_000
    # An orphan flac and a transcript line whose audio is gone must both be reported.
    (root / "1" / "1" / "1-1-0099.flac").write_bytes(flacs[0].read_bytes())
    trans = root / "2" / "2" / "2-2.trans.txt"
    trans.write_text(trans.read_text() + "2-2-0042 GHOST LINE\n")

    stats = import_librispeech(root, tmp_path / "ls.jsonl", jobs=2, progress=False)

    assert stats.kept == 8
    assert stats.skipped == {MISSING_AUDIO: 1, MISSING_TRANSCRIPT: 1}
    utts = read_manifest(tmp_path / "ls.jsonl")
    assert {u.speaker for u in utts} == {"1", "2"}
    assert len({u.text for u in utts}) == 4  # chapters cycle through different digits
    assert all(u.text == u.text.lower() and u.text.isalpha() for u in utts)
    assert all(0.1 < u.duration < 2.0 for u in utts)


def test_common_voice(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("3_theo_0", "7_george_1"):
        audio, rate = sf.read(str(fsdd_wav(name)))
        sf.write(str(clips / f"{name}.mp3"), audio, rate, format="MP3")
    rows = [
        ("client_id", "path", "sentence", "up_votes"),
        ("aa11", "3_theo_0.mp3", 'He said "Three!"', "2"),
        ("bb22", "7_george_1.mp3", "Seven, café-style.", "1"),
        ("bb22", "7_george_1.mp3", "Room 101", "1"),
        ("cc33", "gone.mp3", "Nothing here", "0"),
    ]
    tsv = tmp_path / "validated.tsv"
    tsv.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")

    stats = import_common_voice(tsv, tmp_path / "cv.jsonl", jobs=2, progress=False)

    assert stats.kept == 2
    assert stats.skipped == {DIGITS: 1, MISSING_AUDIO: 1}
    utts = read_manifest(tmp_path / "cv.jsonl")
    assert [(u.text, u.speaker) for u in utts] == [
        ("he said three", "aa11"),
        ("seven cafe style", "bb22"),
    ]
    assert utts[0].duration == pytest.approx(sf.info(str(fsdd_wav("3_theo_0"))).duration, abs=0.1)


def test_common_voice_needs_columns(tmp_path):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("file\ttext\na.mp3\thello\n")
    with pytest.raises(AsrError, match="bad.tsv"):
        import_common_voice(tsv, tmp_path / "cv.jsonl", progress=False)


def make_recording(path: Path, names: list[str]) -> list[np.ndarray]:
    """Concatenate FSDD recordings into one wav; returns the pieces."""
    pieces = [sf.read(str(fsdd_wav(name)), dtype="int16")[0] for name in names]
    sf.write(str(path), np.concatenate(pieces), 8000, subtype="PCM_16")
    return pieces


def test_kaldi_segments(tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    pieces = make_recording(tmp_path / "rec1.wav", ["1_jackson_0", "2_jackson_0", "5_jackson_0"])
    bounds = np.cumsum([0] + [len(p) for p in pieces]) / 8000
    (data / "wav.scp").write_text("rec1 rec1.wav\nrec2 sox rec1.wav -t wav - |\n")
    (data / "segments").write_text(
        f"s1 rec1 {bounds[0]} {bounds[1]}\n"
        f"s2 rec1 {bounds[1]} {bounds[2]}\n"
        f"s3 rec1 {bounds[2]} -1\n"
        "s4 rec2 0.0 0.5\n"
        "s5 rec1 0.4 0.2\n"
        f"s6 rec1 {bounds[2]} {bounds[3] + 0.2}\n"  # a small overshoot is clamped, as in Kaldi
        f"s7 rec1 0.0 {bounds[3] + 2.0}\n"
    )
    (data / "text").write_text(
        "s1 ONE\ns2 TWO\ns3 FIVE\ns4 PIPED\ns5 BACKWARDS\ns6 FIVE AGAIN\ns7 TOO LONG\n"
    )
    (data / "utt2spk").write_text("".join(f"s{i} jackson\n" for i in range(1, 8)))

    stats = import_kaldi(
        data, tmp_path / "out" / "train.jsonl", audio_root=tmp_path, jobs=2, progress=False
    )

    assert stats.kept == 4
    assert stats.skipped == {PIPED: 1, BAD_SEGMENT: 2}
    utts = read_manifest(tmp_path / "out" / "train.jsonl")
    assert [u.text for u in utts] == ["one", "two", "five", "five again"]
    assert {u.speaker for u in utts} == {"jackson"}
    for utt, piece in zip(utts, [*pieces, pieces[2]], strict=True):
        assert utt.audio_filepath.parent == tmp_path / "out" / "train_segments"
        cut, rate = sf.read(str(utt.audio_filepath), dtype="int16")
        assert rate == 8000
        np.testing.assert_array_equal(cut, piece)


def test_kaldi_without_segments(tmp_path):
    data = tmp_path / "kaldi"
    data.mkdir()
    wav = fsdd_wav("9_nicolas_3")
    (data / "wav.scp").write_text(f"u1 {wav}\nu2 flac -dc x.flac |\nu3 {wav}\n")
    (data / "text").write_text("u1 NINE\nu2 PIPED\nu4 ORPHAN\n")

    stats = import_kaldi(data, tmp_path / "k.jsonl", progress=False)

    assert stats.kept == 1
    assert stats.skipped == {PIPED: 1, MISSING_TRANSCRIPT: 1, MISSING_AUDIO: 1}
    [utt] = read_manifest(tmp_path / "k.jsonl")
    assert (utt.text, utt.speaker, utt.audio_filepath) == ("nine", None, wav)


def test_kaldi_needs_wav_scp(tmp_path):
    with pytest.raises(AsrError, match="wav.scp"):
        import_kaldi(tmp_path, tmp_path / "k.jsonl", progress=False)


def test_plain_folder(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    for name, text in [("0_yweweler_1", "zero\n"), ("8_theo_2", "Eight.")]:
        audio, rate = sf.read(str(fsdd_wav(name)))
        sf.write(str(folder / "sub" / f"{name}.flac"), audio, rate)
        (folder / "sub" / f"{name}.txt").write_text(text)
    (folder / "lonely.wav").write_bytes(fsdd_wav("4_george_4").read_bytes())
    (folder / "corrupt.ogg").write_bytes(b"OggS" + bytes(range(256)) * 4)
    (folder / "corrupt.txt").write_text("broken")
    (folder / "blank.wav").write_bytes(fsdd_wav("6_george_6").read_bytes())
    (folder / "blank.txt").write_text(" ... ")

    stats = import_folder(folder, tmp_path / "plain.jsonl", jobs=2, progress=False)

    assert stats.kept == 2
    assert stats.skipped == {MISSING_TRANSCRIPT: 1, UNREADABLE: 1, EMPTY_TEXT: 1}
    utts = read_manifest(tmp_path / "plain.jsonl")
    assert sorted(u.text for u in utts) == ["eight", "zero"]
    # Relative paths in the manifest resolve back to the imported files.
    assert all(u.audio_filepath.is_file() for u in utts)
