import json
import logging

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


def test_bad_lines_are_skipped_with_line_numbers(tmp_path, caplog):
    (tmp_path / "ok.wav").write_bytes(b"x")
    lines = [
        '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "fine"}',
        "{not json",
        '{"audio_filepath": "missing.wav", "duration": 1.0, "text": "lost"}',
        '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "  "}',
        '{"audio_filepath": "ok.wav", "duration": 1.0, "text": "zebra"}',
        '{"duration": 1.0, "text": "no path"}',
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        utts = read_manifest(manifest, check_text=lambda t: "bad char z" if "z" in t else None)
    assert [u.text for u in utts] == ["fine"]
    log = caplog.text
    for lineno, reason in [(2, "malformed JSON"), (3, "missing file"), (4, "empty text"),
                           (5, "bad char z"), (6, "no audio_filepath")]:  # fmt: skip
        assert f"m.jsonl:{lineno}: skipped: {reason}" in log
    assert "kept 1 utterances, skipped 5" in log
