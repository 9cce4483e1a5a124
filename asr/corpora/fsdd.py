"""The public FSDD checkout as a manifest: recordings/{digit}_{speaker}_{index}.wav.

The dataset's git repository ships wavs only; their names carry digit and speaker. The local
copy in ../shared/data/fsdd adds a manifest.jsonl, so this index is needed only for a fresh clone.
"""

from __future__ import annotations

import re
from pathlib import Path

from asr.corpora.digits import DIGIT_WORDS
from asr.corpora.importers import Candidate, ImportStats, finish_import
from asr.errors import AsrError

_NAME = re.compile(r"(\d)_([A-Za-z]+)_(\d+)")  # e.g. 7_theo_42


def index_recordings(
    fsdd_dir: Path, manifest: Path, jobs: int = 8, progress: bool = True
) -> ImportStats:
    """Write a manifest of FSDD_DIR/recordings/*.wav; files named otherwise are skipped."""
    recordings = Path(fsdd_dir) / "recordings"
    if not recordings.is_dir():
        raise AsrError(f"{fsdd_dir}: no recordings/ folder and no manifest.jsonl: not FSDD")
    candidates, skipped = [], []
    for wav in sorted(recordings.glob("*.wav")):
        match = _NAME.fullmatch(wav.stem)
        if match is None:
            skipped.append(("name not DIGIT_SPEAKER_INDEX", str(wav)))
        else:
            candidates.append(Candidate(wav, DIGIT_WORDS[int(match[1])], match[2]))
    return finish_import(f"fsdd {fsdd_dir}", candidates, skipped, manifest, jobs, progress)
