"""Corpus importers: LibriSpeech, Common Voice and plain folders to JSONL manifests.

Every importer gathers (audio, transcript, speaker) candidates, normalises the transcripts, probes
each audio file's duration in a thread pool (header reads are I/O bound), writes the manifest and
returns `ImportStats`. Entries that cannot be used are skipped with a reason and summarised in the
log, never fatal: one bad file must not stop the import of a thousand-hour corpus. Kaldi data dirs
are imported by `asr.corpora.kaldi`.
"""

from __future__ import annotations

import csv
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from asr.audio import audio_info
from asr.errors import AsrError
from asr.manifest import Utterance, write_manifest

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
LIBRISPEECH_RATE = 16_000  # Hz, LibriSpeech's flac rate

# Skip reasons, counted in ImportStats.skipped.
UNREADABLE = "unreadable audio"
MISSING_AUDIO = "missing audio"
MISSING_TRANSCRIPT = "missing transcript"
EMPTY_TEXT = "empty text"
DIGITS = "digits in text"
PIPED = "piped command"


@dataclass(frozen=True)
class ImportStats:
    kept: int
    skipped: Mapping[str, int]  # reason -> number of entries skipped for it

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())


@dataclass(frozen=True)
class Candidate:
    """An entry found by an importer, before its transcript and audio are checked."""

    audio: Path
    text: str
    speaker: str | None = None


Skip = tuple[str, str]  # (reason, what was skipped)


def normalize_transcript(text: str) -> str:
    """Lowercase ASCII letters, apostrophes and single spaces; accents are stripped.

    Hyphens and other punctuation become word breaks; apostrophes survive only inside words
    ("don't"), so quoting apostrophes vanish. Digits are left for the caller to reject, since
    spelling them out needs context ("1969" is a year, "1,969" a count).
    """
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9']+", " ", text.lower())
    words = (word.strip("'") for word in text.split())
    return " ".join(word for word in words if word)


def check_transcript(text: str) -> tuple[str | None, str]:
    """Returns (skip reason or None, normalised transcript)."""
    if re.search(r"\d", text):
        return DIGITS, ""
    normalized = normalize_transcript(text)
    return (None if normalized else EMPTY_TEXT), normalized


def probe_duration(path: Path) -> float | None:
    """Duration in seconds from the audio header, or None if the file cannot be decoded."""
    try:
        info = audio_info(path)
    except AsrError as err:
        logger.debug("%s: %s", UNREADABLE, err)
        return None
    return info.duration if info.frames > 0 else None


def finish_import(
    name: str,
    candidates: list[Candidate],
    skipped: list[Skip],
    manifest: Path,
    jobs: int = 8,
    progress: bool = True,
) -> ImportStats:
    """Check transcripts and audio of `candidates`, write the manifest, log what was skipped."""
    skipped = list(skipped)
    checked = []
    for cand in candidates:
        reason, text = check_transcript(cand.text)
        if reason:
            skipped.append((reason, str(cand.audio)))
        else:
            checked.append(Candidate(cand.audio, text, cand.speaker))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        durations = list(
            tqdm(
                pool.map(probe_duration, [c.audio for c in checked]),
                total=len(checked),
                desc=f"probing {name}",
                unit="file",
                disable=not progress,
            )
        )
    kept = []
    for cand, duration in zip(checked, durations, strict=True):
        if duration is None:
            skipped.append((UNREADABLE, str(cand.audio)))
        else:
            kept.append(Utterance(cand.audio.resolve(), duration, cand.text, cand.speaker))
    write_manifest(manifest, kept)
    stats = ImportStats(len(kept), dict(Counter(reason for reason, _ in skipped)))
    hours = sum(u.duration for u in kept) / 3600
    logger.info("%s: wrote %d utterances (%.2f h) to %s", name, stats.kept, hours, manifest)
    _log_skipped(name, stats, skipped)
    return stats


def _log_skipped(name: str, stats: ImportStats, skipped: list[Skip]) -> None:
    """One warning line: count and first example per reason."""
    if not skipped:
        return
    examples = {}
    for reason, what in skipped:
        examples.setdefault(reason, what)
    logger.warning(
        "%s: skipped %d entries: %s",
        name,
        stats.total_skipped,
        "; ".join(f"{n} {why} (e.g. {examples[why]})" for why, n in stats.skipped.items()),
    )


def read_table(path: Path) -> dict[str, str]:
    """`KEY VALUE...` lines (Kaldi tables, LibriSpeech transcripts) -> {key: value}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AsrError(f"{path}: cannot read ({err})") from err
    table = {}
    for line in lines:
        key, _, value = line.strip().partition(" ")
        if key:
            table[key] = value.strip()
    return table


def import_librispeech(
    root: Path, manifest: Path, jobs: int = 8, progress: bool = True
) -> ImportStats:
    """ROOT/SPEAKER/CHAPTER/SPEAKER-CHAPTER-UTT.flac with SPEAKER-CHAPTER.trans.txt per chapter."""
    root = Path(root)
    if not root.is_dir():
        raise AsrError(f"{root}: not a LibriSpeech folder")
    transcripts: dict[Path, str] = {}
    for trans in sorted(root.glob("*/*/*.trans.txt")):
        for utt_id, text in read_table(trans).items():
            transcripts[trans.parent / f"{utt_id}.flac"] = text
    flacs = set(root.glob("*/*/*.flac"))
    candidates = [
        Candidate(audio, text, audio.parent.parent.name)
        for audio, text in sorted(transcripts.items())
        if audio in flacs
    ]
    skipped = [(MISSING_AUDIO, str(a)) for a in sorted(transcripts.keys() - flacs)]
    skipped += [(MISSING_TRANSCRIPT, str(a)) for a in sorted(flacs - transcripts.keys())]
    return finish_import(f"librispeech {root}", candidates, skipped, manifest, jobs, progress)


def import_common_voice(
    tsv: Path,
    manifest: Path,
    clips_dir: Path | None = None,
    jobs: int = 8,
    progress: bool = True,
) -> ImportStats:
    """A Common Voice split (.tsv with path, sentence, client_id); clips default to TSV/../clips."""
    tsv = Path(tsv)
    clips_dir = Path(clips_dir) if clips_dir is not None else tsv.parent / "clips"
    try:
        with tsv.open(encoding="utf-8", newline="") as f:
            # Sentences contain quote characters, which are text here, not CSV quoting.
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise AsrError(f"{tsv}: cannot read Common Voice table ({err})") from err
    if rows and not {"path", "sentence", "client_id"} <= rows[0].keys():
        raise AsrError(f"{tsv}: needs columns path, sentence and client_id")
    candidates, skipped = [], []
    for row in rows:
        audio = clips_dir / (row["path"] or "")
        if not row["path"] or not audio.is_file():
            skipped.append((MISSING_AUDIO, str(audio)))
        else:
            candidates.append(Candidate(audio, row["sentence"] or "", row["client_id"]))
    return finish_import(f"common voice {tsv}", candidates, skipped, manifest, jobs, progress)


def import_folder(
    folder: Path, manifest: Path, jobs: int = 8, progress: bool = True
) -> ImportStats:
    """Audio files (wav/flac/ogg/mp3) anywhere under FOLDER, each with a same-named .txt."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AsrError(f"{folder}: not a folder")
    audios = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    candidates, skipped = [], []
    for audio in audios:
        transcript = audio.with_suffix(".txt")
        if transcript.is_file():
            candidates.append(Candidate(audio, transcript.read_text(encoding="utf-8")))
        else:
            skipped.append((MISSING_TRANSCRIPT, str(audio)))
    return finish_import(f"folder {folder}", candidates, skipped, manifest, jobs, progress)
