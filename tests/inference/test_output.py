import json
import re
from pathlib import Path

import pytest

from asr.cli import main
from asr.decoding.align import WordTiming
from asr.decoding.beam import Hypothesis
from asr.inference.output import (
    CueConfig,
    common_folder,
    format_transcript,
    group_cues,
    output_path,
    to_json,
)
from asr.inference.transcriber import Transcript

from digit_model import concatenate, connected_model, recordings

WORDS = [
    WordTiming("one", 0.5, 0.9, 0.9),
    WordTiming("two", 1.0, 1.4, 0.8),
    WordTiming("three", 3.0, 3.5, 0.7),  # after a 1.6 s pause: a new cue
    WordTiming("four", 3.6, 4.0, 0.6),
    WordTiming("five", 3661.25, 3661.5, 0.5),  # past an hour
]
SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"
VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"


def _seconds(groups: tuple[str, ...]) -> float:
    h, m, s, ms = (int(g) for g in groups)
    return 3600 * h + 60 * m + s + ms / 1000


def _cues(text: str, time: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every cue, checking the cue timing line's syntax."""
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        match = next(re.fullmatch(f"{time} --> {time}", line) for line in lines if "-->" in line)
        assert match, block
        start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:])
        cues.append((start, end, lines[-1]))
    return cues


@pytest.fixture
def transcript() -> Transcript:
    nbest = [Hypothesis("one two three four five", (), -3.5), Hypothesis("one two", (), -7.25)]
    return Transcript(Path("a/b.wav"), "one two three four five", 3700.0, words=WORDS, nbest=nbest)


def test_srt_is_numbered_timed_and_ordered(transcript):
    text = format_transcript(transcript, "srt")
    blocks = text.strip().split("\n\n")
    assert [b.split("\n")[0] for b in blocks] == ["1", "2", "3"]
    cues = _cues(text, SRT_TIME)
    assert [c[2] for c in cues] == ["one two", "three four", "five"]
    assert cues[0][:2] == (0.5, 1.4) and cues[2][:2] == (3661.25, 3661.5)
    assert all(a[1] <= b[0] and a[0] < a[1] for a, b in zip(cues, cues[1:], strict=False))


def test_vtt_has_header_and_dotted_times(transcript):
    text = format_transcript(transcript, "vtt")
    assert text.startswith("WEBVTT\n\n")
    cues = _cues(text.removeprefix("WEBVTT\n\n"), VTT_TIME)
    assert cues[1] == (3.0, 4.0, "three four")
    assert "," not in text


def test_cues_respect_length_and_duration():
    words = [WordTiming(f"word{i}", 0.3 * i, 0.3 * i + 0.25, 1.0) for i in range(40)]
    for cue in group_cues(words, CueConfig(max_chars=20, max_seconds=2.0)):
        assert len(" ".join(w.word for w in cue)) <= 20
        assert cue[-1].end - cue[0].start <= 2.0
    assert sum(len(c) for c in group_cues(words)) == 40


def test_json_carries_words_times_confidence_and_nbest(transcript):
    data = json.loads(format_transcript(transcript, "json"))
    assert data["file"] == "a/b.wav" and data["text"] == transcript.text
    assert data["words"][2] == {"word": "three", "start": 3.0, "end": 3.5, "confidence": 0.7}
    assert data["nbest"] == [
        {"text": "one two three four five", "score": -3.5},
        {"text": "one two", "score": -7.25},
    ]
    assert to_json(Transcript(Path("x.wav")))["words"] == []


def test_output_paths_mirror_folders_and_never_collide(tmp_path, caplog):
    inputs = [tmp_path / "in" / "a" / "x.wav", tmp_path / "in" / "b" / "x.flac"]
    inputs.append(tmp_path / "in" / "b" / "x.wav")
    root = common_folder(inputs)
    assert root == tmp_path / "in"
    taken: set[Path] = set()
    out = tmp_path / "out"
    paths = [output_path(out, p, "srt", root, taken) for p in inputs]
    assert paths == [out / "a" / "x.srt", out / "b" / "x.srt", out / "b" / "x-2.srt"]
    assert "x.wav: another input already writes its name; writing" in caplog.text
    alone = tmp_path / "in" / "a" / "y.wav"
    assert output_path(out, alone, "txt", common_folder([alone]), set()) == out / "y.txt"


@pytest.fixture(scope="session")
def connected(trained, tiny_config, tmp_path_factory) -> Path:
    return connected_model(trained, tiny_config, tmp_path_factory.getbasetemp() / "connected")


def test_cli_json_lines_and_output_files(fsdd, trained, connected, tmp_path, capsys):
    clips = recordings(fsdd, "george")[:6]
    bounds = concatenate(clips[:3], tmp_path / "three.wav", 8000, (0.3, 0.5))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(c) + "\n" for c in clips[3:]))
    argv = ["transcribe", "-q", "--model", str(connected), str(tmp_path / "three.wav")]
    assert main([*argv, str(manifest), "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert first["file"] == str(tmp_path / "three.wav")
    assert len(first["words"]) == len(first["text"].split())
    for word in first["words"]:
        assert set(word) == {"word", "start", "end", "confidence"}
        assert 0 <= word["start"] < word["end"] <= bounds[-1][2] + 0.5
    out = tmp_path / "subs"
    assert main([*argv, "--format", "vtt", "--output-dir", str(out)]) == 0
    assert (out / "three.vtt").read_text().startswith("WEBVTT")


def test_rejected_transcript_has_empty_text_in_txt_and_its_fields_in_json():
    rejected = Transcript(Path("a.wav"), "six two", 1.0, confidence=0.12, rejected=True)
    assert format_transcript(rejected, "txt") == "\n"
    assert to_json(rejected)["confidence"] == 0.12 and to_json(rejected)["rejected"] is True
    assert to_json(rejected)["text"] == "six two"  # what was heard, for whoever wants it
    plain = Transcript(Path("b.wav"), "six", 1.0)
    assert "confidence" not in to_json(plain) and format_transcript(plain, "txt") == "six\n"
