"""A tiny LibriSpeech-layout corpus from real FSDD recordings, for importer and recipe tests."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from asr.errors import AsrError
from asr.manifest import Utterance, read_manifest

LIBRISPEECH_RATE = 16000  # Hz, LibriSpeech's flac rate


def build_librispeech_fixture(
    fsdd_dir: Path,
    out_root: Path,
    speakers: int = 2,
    chapters: int = 2,
    utterances_per_chapter: int = 3,
) -> Path:
    """A tiny LibriSpeech-layout corpus from real FSDD recordings, for tests and recipe checks.

    The first `speakers` FSDD speakers (sorted by name) become speakers 1, 2, ...; chapters
    1, 2, ... of each hold `utterances_per_chapter` of the speaker's recordings, cycling through
    the digits, resampled to 16 kHz flac and transcribed in upper case as LibriSpeech is.
    Returns `out_root`.
    """
    fsdd = read_manifest(Path(fsdd_dir) / "manifest.jsonl")
    names = sorted({u.speaker for u in fsdd if u.speaker})[:speakers]
    if len(names) < speakers:
        raise AsrError(f"{fsdd_dir}: has only {len(names)} speakers, {speakers} asked for")
    per_chapter = utterances_per_chapter
    for spk_index, name in enumerate(names, 1):
        recordings = _cycle_texts([u for u in fsdd if u.speaker == name])
        for chapter in range(1, chapters + 1):
            chosen = recordings[(chapter - 1) * per_chapter : chapter * per_chapter]
            _write_chapter(Path(out_root) / str(spk_index) / str(chapter), chosen)
    return Path(out_root)


def _cycle_texts(utterances: list[Utterance]) -> list[Utterance]:
    """Reorder round-robin over transcripts, so that any prefix has varied words."""
    by_text: dict[str, list[Utterance]] = {}
    for utt in utterances:
        by_text.setdefault(utt.text, []).append(utt)
    rounds = zip_longest(*(by_text[text] for text in sorted(by_text)))
    return [utt for group in rounds for utt in group if utt is not None]


def _write_chapter(chapter_dir: Path, utterances: list[Utterance]) -> None:
    """CHAPTER_DIR/SPK-CHAP-NNNN.flac at 16 kHz plus SPK-CHAP.trans.txt."""
    chapter_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{chapter_dir.parent.name}-{chapter_dir.name}"
    lines = []
    for index, utt in enumerate(utterances):
        audio, rate = sf.read(str(utt.audio_filepath), dtype="float32")
        audio = librosa.resample(audio, orig_sr=rate, target_sr=LIBRISPEECH_RATE)
        audio = np.clip(audio, -1.0, 1.0)  # resampling can overshoot; 16-bit writes would wrap
        sf.write(str(chapter_dir / f"{prefix}-{index:04d}.flac"), audio, LIBRISPEECH_RATE)
        lines.append(f"{prefix}-{index:04d} {utt.text.upper()}\n")
    (chapter_dir / f"{prefix}.trans.txt").write_text("".join(lines), encoding="utf-8")
