"""JSONL manifests (the NeMo convention): one utterance per line.

`{"audio_filepath": "a.wav", "duration": 1.23, "text": "hello", "speaker": "s1"}`; relative paths
resolve against the manifest's folder. Bad lines are reported with their line numbers and skipped,
never fatal: one broken entry must not stop a training run over thousands.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from asr.errors import AsrError

logger = logging.getLogger(__name__)


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
    """Read a JSONL manifest, skipping bad lines with one warning each.

    `check_text(text)` returns a reason to reject a transcript (e.g. characters outside the
    vocabulary) or None. Raises AsrError only when the manifest itself cannot be read.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AsrError(f"{path}: cannot read manifest ({err})") from err
    utterances, skipped = [], Counter()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        reason, utt = _parse_line(line, path.parent, check_text, check_files)
        if reason:
            logger.warning("%s:%d: skipped: %s", path, lineno, reason)
            skipped[reason.split(":")[0]] += 1
        else:
            utterances.append(utt)
    if skipped:
        logger.warning(
            "%s: kept %d utterances, skipped %d (%s)",
            path,
            len(utterances),
            sum(skipped.values()),
            ", ".join(f"{n} {why}" for why, n in skipped.most_common()),
        )
    return utterances


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
    text = entry.get("text")
    if not isinstance(text, str) or not text.strip():
        return "empty text", None
    try:
        duration = float(entry.get("duration", 0.0))
    except (TypeError, ValueError):
        return f"bad duration: {entry.get('duration')!r}", None
    audio = Path(entry["audio_filepath"])
    if not audio.is_absolute():
        audio = root / audio
    if check_files and not audio.is_file():
        return f"missing file: {audio}", None
    if check_text is not None and (why := check_text(text)):
        return why, None
    speaker = entry.get("speaker")
    return None, Utterance(audio, duration, text, None if speaker is None else str(speaker))


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
            if relative and audio.is_absolute():
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
