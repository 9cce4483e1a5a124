"""Speech Commands (Warden 2018) as a manifest: ROOT/WORD/SPEAKER_nohash_N.wav.

The dataset's folders are its labels and each file name starts with the speaker's hash, which
is all an importer needs; `words` keeps only some classes (digits, yes/no), since the others
(`_background_noise_`, "marvin", "sheila") are not speech we transcribe. Speakers become
`sc-HASH`. Clips keep the dataset's known label noise: nobody has listened to them all.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from asr.corpora.importers import AUDIO_EXTENSIONS, Candidate, ImportStats, finish_import
from asr.errors import AsrError

_NAME = re.compile(r"([0-9a-f]{8})_nohash_\d+")  # e.g. 0a7c2a8d_nohash_1

__all__ = ["import_speech_commands"]


def import_speech_commands(
    root: Path,
    manifest: Path,
    words: Collection[str] | None = None,
    jobs: int = 8,
    progress: bool = True,
) -> ImportStats:
    """Write a manifest of ROOT/WORD/*.{wav,flac}; `words`: the classes kept (None: all)."""
    root = Path(root)
    if not root.is_dir():
        raise AsrError(f"{root}: not a Speech Commands folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if words is not None:
        folders = [p for p in folders if p.name in words]
    if not folders:
        raise AsrError(f"{root}: no word folders" + (f" among {sorted(words)}" if words else ""))
    candidates, skipped = [], []
    for folder in folders:
        for audio in sorted(folder.iterdir()):
            if audio.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            match = _NAME.match(audio.name)
            if match is None:
                skipped.append(("name not HASH_nohash_N", str(audio)))
            else:
                candidates.append(Candidate(audio, folder.name, f"sc-{match[1]}"))
    return finish_import(f"speech commands {root}", candidates, skipped, manifest, jobs, progress)
