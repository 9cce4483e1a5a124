"""JSONL manifests (the NeMo convention): one utterance per line.

`{"audio_filepath": "a.wav", "duration": 1.23, "text": "hello", "speaker": "s1"}`; relative paths
resolve against the manifest's folder, and a missing duration is read from the audio file's header.
Bad lines are skipped, never fatal: one broken entry must not stop a training run over thousands.
They are reported in one warning, by reason with a count and the first line numbers.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from asr.audio import audio_duration
from asr.errors import AsrError

logger = logging.getLogger(__name__)

SHOWN_LINES = 10  # line numbers listed per skip reason; the count covers the rest


@dataclass(frozen=True)
class Utterance:
    audio_filepath: Path  # absolute, or as given when relative paths were kept
    duration: float  # seconds
    text: str
    speaker: str | None = None


def read_manifest(
    path: Path,
    check_text: Callable[[str], str | None] | None = None,
    check_files: bool = True,
) -> list[Utterance]:
    """Read a JSONL manifest, skipping bad lines (one warning sums them up; each is a debug line).

    `check_text(text)` returns a reason to reject a transcript (e.g. characters outside the
    vocabulary) or None. `check_files`: skip lines whose audio file is missing, and read a
    missing duration from the file's header. Raises AsrError only when the manifest itself
    cannot be read.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AsrError(f"{path}: cannot read manifest ({err})") from err
    utterances, skipped = [], {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        reason, utt = _parse_line(line, path.parent, check_text, check_files)
        if reason:
            logger.debug("%s:%d: skipped: %s", path, lineno, reason)
            why, _, detail = reason.partition(": ")
            skipped.setdefault(why, []).append((lineno, detail))
        else:
            utterances.append(utt)
    if skipped:
        total = sum(map(len, skipped.values()))
        summary = "; ".join(_skip_summary(why, hits) for why, hits in skipped.items())
        logger.warning(
            "%s: kept %d utterances, skipped %d: %s", path, len(utterances), total, summary
        )
    return utterances


def _skip_summary(why: str, skipped: list[tuple[int, str]]) -> str:
    """'3 missing file (lines 4, 9, 12; e.g. a.wav)' for one reason's (line number, detail)s."""
    numbers = ", ".join(str(lineno) for lineno, _ in skipped[:SHOWN_LINES])
    more = f" and {len(skipped) - SHOWN_LINES} more" if len(skipped) > SHOWN_LINES else ""
    example = next((f"; e.g. {detail}" for _, detail in skipped if detail), "")
    line_word = "line" if len(skipped) == 1 else "lines"
    return f"{len(skipped)} {why} ({line_word} {numbers}{more}{example})"


def _parse_line(
    line: str,
    root: Path,
    check_text: Callable[[str], str | None] | None,
    check_files: bool,
) -> tuple[str | None, Utterance | None]:
    """Returns (reason, None) for a bad line, (None, utterance) for a good one."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as err:
        return f"malformed JSON: {err.msg}", None
    if not isinstance(entry, dict) or "audio_filepath" not in entry:
        return "no audio_filepath", None
    if not isinstance(entry["audio_filepath"], str) or not entry["audio_filepath"].strip():
        return f"bad audio_filepath: {entry['audio_filepath']!r} (a path is needed)", None
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        return "empty text", None
    audio = Path(entry["audio_filepath"])
    if not audio.is_absolute():
        audio = root / audio
    if check_files and not audio.is_file():
        return f"missing file: {audio}", None
    if check_text is not None and (why := check_text(text)):
        return why, None
    reason, duration = _duration(entry.get("duration"), audio, check_files)
    if reason:
        return reason, None
    speaker = entry.get("speaker")
    return None, Utterance(audio, duration, text, None if speaker is None else str(speaker))


def _duration(value, audio: Path, check_files: bool) -> tuple[str | None, float]:
    """(reason, seconds) of a line's duration; a missing one is read from the audio's header, as
    unknown durations would all count as 0 s and land in one batch."""
    if value is None:
        try:
            return None, audio_duration(audio) if check_files else 0.0
        except AsrError as err:
            return f"unreadable audio: {err}", 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        return f"bad duration: {value!r}", 0.0
    return None, seconds


def write_manifest(path: Path, utterances: Iterable[Utterance], relative: bool = True) -> int:
    """Write utterances as JSONL, atomically; paths relative to the manifest's folder if possible.

    Returns the number of lines written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as f:
        for utt in utterances:
            entry = asdict(utt)
            audio = Path(utt.audio_filepath)
            if not audio.is_absolute():
                # It reaches its file from the working directory, not from this manifest's
                # folder: written as it is, it would name a file that is not there.
                audio = Path(os.path.abspath(audio))
            if relative:
                try:
                    audio = audio.relative_to(path.parent.resolve())
                except ValueError:
                    pass
            entry["audio_filepath"] = str(audio)
            entry["duration"] = round(utt.duration, 4)
            if entry["speaker"] is None:
                del entry["speaker"]
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count
