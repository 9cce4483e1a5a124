"""Kaldi data dir importer: wav.scp, text, and optional utt2spk and segments.

Our manifests have no offset field, so utterances defined by `segments` are cut out of their
recordings into wav files of their own. Piped wav.scp entries (`sph2pipe ... |`) are skipped and
reported, never run: executing commands from a data file is not an importer's business.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from asr.audio import audio_info, read_audio, write_audio
from asr.corpora.importers import (
    MISSING_AUDIO,
    MISSING_TRANSCRIPT,
    PIPED,
    UNREADABLE,
    Candidate,
    ImportStats,
    Skip,
    finish_import,
    read_table,
)
from asr.errors import AsrError

logger = logging.getLogger(__name__)

BAD_SEGMENT = "bad segment times"
MAX_OVERSHOOT = 0.5  # seconds a segment may end past its recording, as Kaldi's extract-segments


@dataclass(frozen=True)
class Segment:
    seg_id: str
    recording: Path
    start: float  # seconds
    end: float | None  # seconds; None runs to the end of the recording (Kaldi writes -1)


def import_kaldi(
    data_dir: Path,
    manifest: Path,
    segments_dir: Path | None = None,
    audio_root: Path | None = None,
    jobs: int = 8,
    progress: bool = True,
) -> ImportStats:
    """Import a Kaldi data dir; segments are cut to `segments_dir` (default: beside the manifest).

    Relative wav.scp paths resolve against `audio_root`, default the current folder, since Kaldi
    recipes run from their recipe folder.
    """
    data_dir = Path(data_dir)
    for required in ("wav.scp", "text"):
        if not (data_dir / required).is_file():
            raise AsrError(f"{data_dir}: not a Kaldi data dir (no {required})")
    root = Path(audio_root) if audio_root is not None else Path.cwd()
    wav_scp = read_table(data_dir / "wav.scp")
    texts = read_table(data_dir / "text")
    utt2spk = _optional_table(data_dir / "utt2spk")
    recordings = {rec: root / value for rec, value in wav_scp.items() if not value.endswith("|")}
    piped = wav_scp.keys() - recordings.keys()
    if (data_dir / "segments").is_file():
        out_dir = segments_dir or Path(manifest).parent / f"{Path(manifest).stem}_segments"
        segments = read_table(data_dir / "segments")
        audios, skipped = _cut_all(segments, recordings, piped, out_dir, jobs, progress)
    else:
        audios, skipped = recordings, [(PIPED, rec) for rec in sorted(piped)]
    # A piped or cut-failed entry is already counted; don't count its transcript as orphaned too.
    accounted = {utt for _, utt in skipped}
    candidates = [
        Candidate(audio, texts[utt], utt2spk.get(utt))
        for utt, audio in audios.items()
        if utt in texts
    ]
    skipped += [(MISSING_TRANSCRIPT, utt) for utt in audios if utt not in texts]
    skipped += [(MISSING_AUDIO, utt) for utt in texts if utt not in audios and utt not in accounted]
    return finish_import(f"kaldi {data_dir}", candidates, skipped, manifest, jobs, progress)


def _optional_table(path: Path) -> dict[str, str]:
    return read_table(path) if path.is_file() else {}


def _cut_all(
    segments: dict[str, str],
    recordings: dict[str, Path],
    piped: set[str],
    out_dir: Path,
    jobs: int,
    progress: bool,
) -> tuple[dict[str, Path], list[Skip]]:
    """Cut every segment to OUT_DIR/SEG_ID.wav; returns ({seg_id: wav}, [(reason, seg_id)])."""
    todo, skipped = [], []
    for seg_id, value in segments.items():
        segment, reason = _parse_segment(seg_id, value, recordings, piped)
        if segment is None:
            skipped.append((reason, seg_id))
        else:
            todo.append(segment)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        reasons = list(
            tqdm(
                pool.map(lambda seg: cut_segment(seg, out_dir / f"{seg.seg_id}.wav"), todo),
                total=len(todo),
                desc="cutting segments",
                unit="seg",
                disable=not progress,
            )
        )
    cut = {}
    for segment, reason in zip(todo, reasons, strict=True):
        if reason:
            skipped.append((reason, segment.seg_id))
        else:
            cut[segment.seg_id] = out_dir / f"{segment.seg_id}.wav"
    return cut, skipped


def _parse_segment(
    seg_id: str, value: str, recordings: dict[str, Path], piped: set[str]
) -> tuple[Segment | None, str]:
    """`REC_ID START END` -> (Segment, "") or (None, reason)."""
    fields = value.split()
    if len(fields) != 3:
        return None, BAD_SEGMENT
    rec_id, start, end = fields
    if rec_id not in recordings:
        return None, PIPED if rec_id in piped else MISSING_AUDIO
    try:
        start_s, end_s = float(start), float(end)
    except ValueError:
        return None, BAD_SEGMENT
    if start_s < 0 or (end_s >= 0 and end_s <= start_s):
        return None, BAD_SEGMENT
    return Segment(seg_id, recordings[rec_id], start_s, end_s if end_s >= 0 else None), ""


def cut_segment(segment: Segment, out: Path) -> str:
    """Write segment's samples to `out` as wav; returns a skip reason, or "" on success."""
    if not segment.recording.is_file():
        return MISSING_AUDIO
    try:
        info = audio_info(segment.recording)
        start = round(segment.start * info.sample_rate)
        stop = info.frames if segment.end is None else round(segment.end * info.sample_rate)
        if stop > info.frames + MAX_OVERSHOOT * info.sample_rate or start >= info.frames:
            return BAD_SEGMENT
        audio, rate = read_audio(segment.recording, start, min(stop, info.frames), mono=False)
    except AsrError as err:
        logger.debug("%s: %s", UNREADABLE, err)
        return UNREADABLE
    write_audio(out, audio, rate)  # (samples, channels), as the recording has
    return ""
