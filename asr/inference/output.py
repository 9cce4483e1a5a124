"""Transcripts as files: plain text, JSON (words, times, confidence, N-best), SRT and WebVTT.

Pure formatting: every writer returns a string, and `output_path` picks where it goes.
Subtitle cues group consecutive words, starting a new cue at a pause or when a cue grows too long
to read, as subtitle guidelines advise (about 42 characters a line, a few seconds on screen).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asr.decoding.align import WordTiming
from asr.inference.transcriber import Transcript

logger = logging.getLogger(__name__)

FORMATS = ("txt", "json", "srt", "vtt")

__all__ = [
    "FORMATS",
    "CueConfig",
    "common_folder",
    "format_transcript",
    "group_cues",
    "output_path",
    "to_json",
    "to_srt",
    "to_vtt",
]


@dataclass(frozen=True)
class CueConfig:
    max_chars: int = 42  # characters per cue, spaces included
    max_seconds: float = 5.0  # longest cue on screen
    pause_seconds: float = 1.0  # a silence this long starts a new cue


def to_json(t: Transcript) -> dict:
    """`file`, `text`, `duration`, `words` [{word, start, end, confidence}] and `nbest`; with a
    calibrated model also `confidence` (0-1) and `rejected` (then `text` is what was heard)."""
    out: dict = {"file": str(t.path), "text": t.text, "duration": round(t.duration, 3)}
    if t.confidence is not None:
        out["confidence"] = round(t.confidence, 4)
        out["rejected"] = bool(t.rejected)
    out["words"] = [
        {"word": w.word, "start": w.start, "end": w.end, "confidence": w.confidence}
        for w in t.words or []
    ]
    out["nbest"] = [{"text": h.text, "score": round(h.score, 4)} for h in t.nbest]
    if t.error:
        out["error"] = t.error
    return out


Cue = list[WordTiming]


def group_cues(words: Sequence[WordTiming], config: CueConfig = CueConfig()) -> list[Cue]:
    """Consecutive words in cues within the config's length, duration and pause limits."""
    cues: list[Cue] = []
    for word in words:
        cue = cues[-1] if cues else None
        if (
            cue is None
            or word.start - cue[-1].end >= config.pause_seconds
            or word.end - cue[0].start > config.max_seconds
            or len(" ".join(w.word for w in cue)) + 1 + len(word.word) > config.max_chars
        ):
            cues.append([word])
        else:
            cue.append(word)
    return cues


def to_srt(words: Sequence[WordTiming], config: CueConfig = CueConfig()) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, blank line after each."""
    blocks = [
        f"{i}\n{_clock(c[0].start, ',')} --> {_clock(c[-1].end, ',')}\n{_line(c)}\n"
        for i, c in enumerate(group_cues(words, config), 1)
    ]
    return "\n".join(blocks)


def to_vtt(words: Sequence[WordTiming], config: CueConfig = CueConfig()) -> str:
    """WebVTT: the `WEBVTT` header, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`."""
    blocks = [
        f"{_clock(c[0].start, '.')} --> {_clock(c[-1].end, '.')}\n{_line(c)}\n"
        for c in group_cues(words, config)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def format_transcript(t: Transcript, fmt: str) -> str:
    """The whole file content for one transcript in `fmt` (one of FORMATS)."""
    if fmt == "txt":
        return ("" if t.rejected else t.text) + "\n"
    if fmt == "json":
        return json.dumps(to_json(t), ensure_ascii=False) + "\n"
    if fmt == "srt":
        return to_srt(t.words or [])
    if fmt == "vtt":
        return to_vtt(t.words or [])
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def common_folder(audio: Sequence[Path]) -> Path:
    """The deepest folder holding every one of these files (absolute; not resolving links)."""
    return Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in audio]))


def output_path(out_dir: Path, audio: Path, fmt: str, root: Path, taken: set[Path]) -> Path:
    """OUT_DIR/REL/STEM.FMT, where REL/ is the audio's folder below `root` (common_folder of all
    inputs), so inputs of several folders keep them apart. Two inputs of one folder and stem
    (x.wav, x.flac) get STEM-2.FMT and on, which is logged."""
    rel = Path(os.path.abspath(audio)).relative_to(root)
    path = Path(out_dir) / rel.with_suffix(f".{fmt}")
    n = 2
    while path in taken:
        path = Path(out_dir) / rel.with_name(f"{rel.stem}-{n}.{fmt}")
        n += 1
    if n > 2:
        logger.warning("%s: another input already writes its name; writing %s", audio, path)
    taken.add(path)
    return path


def _line(cue: Cue) -> str:
    return " ".join(w.word for w in cue)


def _clock(seconds: float, decimal: str) -> str:
    """Seconds -> HH:MM:SS<decimal>mmm."""
    millis = round(max(0.0, seconds) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"
