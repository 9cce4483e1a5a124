import json
import logging
from pathlib import Path

from asr.manifest import Utterance, read_manifest, write_manifest


def test_round_trip_with_relative_paths(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    utts = [
        Utterance(tmp_path / "a.wav", 1.5, "hello", "s1"),
        Utterance(tmp_path / "a.wav", 2, "hi"),
    ]
    manifest = tmp_path / "m.jsonl"
    assert write_manifest(manifest, utts) == 2
    first = json.loads(manifest.read_text().splitlines()[0])
    assert first == {"audio_filepath": "a.wav", "duration": 1.5, "text": "hello", "speaker": "s1"}
    assert read_manifest(manifest) == utts


def test_a_manifest_read_by_a_relative_path_is_rewritten_where_its_files_are(tmp_path, monkeypatch):
    # As a recipe does with DATA=../../data: the utterances' paths are relative to the working
    # directory, and the manifest written from them lies in another folder.
    data, work = tmp_path / "data", tmp_path / "recipe"
    (data / "audio").mkdir(parents=True)
    work.mkdir()
    (data / "audio" / "a.wav").write_bytes(b"x")
    (data / "m.jsonl").write_text(
        '{"audio_filepath": "audio/a.wav", "duration": 1, "text": "hi"}\n'
    )
    monkeypatch.chdir(work)
    utts = read_manifest(Path("../data/m.jsonl"))
    assert not utts[0].audio_filepath.is_absolute()
    write_manifest(Path("exp/split/train.jsonl"), utts)
    again = read_manifest(Path("exp/split/train.jsonl"))
    assert [u.audio_filepath.resolve() for u in again] == [(data / "audio" / "a.wav").resolve()]
    write_manifest(Path("../data/copy.jsonl"), utts)  # beside its files: relative again
    assert json.loads((data / "copy.jsonl").read_text())["audio_filepath"] == "audio/a.wav"


def test_bad_lines_are_skipped_with_line_numbers(tmp_path, caplog):
    (tmp_path / "ok.wav").write_bytes(b"x")
    lines = [
        '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "fine"}',
        "{not json",
        '{"audio_filepath": "missing.wav", "duration": 1.0, "text": "lost"}',
        '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "  "}',
        '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "zebra"}',
        '{"duration": 1.0, "text": "no path"}',
        '{"audio_filepath": null, "duration": 1.0, "text": "null path"}',
        '{"audio_filepath": 7, "duration": 1.0, "text": "number path"}',
        '{"audio_filepath": "", "duration": 1.0, "text": "empty path"}',
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        utts = read_manifest(manifest, check_text=lambda t: "bad char z" if "z" in t else None)
    assert [u.text for u in utts] == ["fine"]
    (record,) = caplog.records  # one warning for the whole manifest
    assert "m.jsonl: kept 1 utterances, skipped 8: " in record.message
    for reason in [
        "1 malformed JSON (line 2; e.g. ",
        "1 missing file (line 3; e.g. ",
        "1 empty text (line 4)",
        "1 bad char z (line 5)",
        "1 no audio_filepath (line 6)",
        "3 bad audio_filepath (lines 7, 8, 9; e.g. None",
    ]:
        assert reason in record.message


def test_thousands_of_bad_lines_are_one_warning_with_the_first_line_numbers(tmp_path, caplog):
    (tmp_path / "ok.wav").write_bytes(b"x")
    good = '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "fine"}'
    bad = '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "caf\u00e9"}'
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join([good] + [bad] * 2000) + "\n")
    with caplog.at_level(logging.WARNING):
        utts = read_manifest(
            manifest, check_text=lambda t: "not ascii: \u00e9" if "\u00e9" in t else None
        )
    assert len(utts) == 1
    (record,) = caplog.records
    assert (
        "2000 not ascii (lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 1990 more; e.g. \u00e9)"
        in record.message
    )


def test_missing_duration_is_read_from_the_audio_header(sine_wav, caplog):
    manifest = sine_wav.parent / "m.jsonl"
    (sine_wav.parent / "junk.wav").write_bytes(b"not audio at all")
    lines = [
        {"audio_filepath": "tone.wav", "text": "no duration"},
        {"audio_filepath": "tone.wav", "text": "null duration", "duration": None},
        {"audio_filepath": "tone.wav", "text": "given", "duration": 0.25},
        {"audio_filepath": "junk.wav", "text": "unreadable"},
        {"audio_filepath": "tone.wav", "text": "negative", "duration": -1},
    ]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with caplog.at_level(logging.WARNING):
        utts = read_manifest(manifest)
    assert [(u.text, u.duration) for u in utts] == [
        ("no duration", 1.0), ("null duration", 1.0), ("given", 0.25),
    ]  # fmt: skip
    assert "1 unreadable audio (line 4; e.g. " in caplog.text
    assert "1 bad duration (line 5; e.g. -1)" in caplog.text
