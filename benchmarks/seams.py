"""Long recordings against their clips: does the long path lose words at its seams?

Clips of a corpus (speechocean762's digit strings by default) are joined into one file with
`gap` seconds of digital silence (or of a room's noise, `noise_db` dBFS) between them and
transcribed twice with the same model and
decoding: clip by clip, and as one long file (segments, `asr.inference.segment`). Each long-path
word is given back to the clip whose span holds its midpoint, so the per-clip errors show where
words were lost: at a segment's edge, in a clip that speech regions cut, or everywhere.

    python -m benchmarks.seams DATA/speechocean762/manifest.jsonl --clips 30 --gap 2 --noise-db -60
"""

from __future__ import annotations

import argparse
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asr.audio import load_audio, write_audio
from asr.corpora.digits import DIGIT_WORDS
from asr.evaluation.scoring import score_utterances, total
from asr.inference.recognizer import Recognizer
from asr.inference.segment import plan_segments
from asr.inference.shipped import resolve_model
from asr.manifest import Utterance, read_manifest

logger = logging.getLogger(__name__)

__all__ = ["SeamReport", "digit_clips", "join_clips", "measure_seams"]


@dataclass(frozen=True)
class SeamReport:
    clips_wer: float  # corpus WER of the clips transcribed one by one
    long_wer: float  # corpus WER of the long file, against the clips' joined references
    clips_deletions: int
    long_deletions: int
    duration: float  # seconds of the joined file
    segments: int  # segments the long path decoded
    split_clips: int  # clips decoded in more than one segment (a pause inside, or a cut)
    worse: list[tuple[str, str, str]]  # (ref, clip hyp, long hyp) where the long path is worse


def digit_clips(manifest: Path, count: int, seed: int = 0) -> list[Utterance]:
    """`count` utterances of `manifest` whose transcripts are digit words only, drawn at random."""
    digits = [
        u for u in read_manifest(manifest) if u.text and set(u.text.split()) <= set(DIGIT_WORDS)
    ]
    random.Random(seed).shuffle(digits)
    return digits[:count]


def join_clips(
    clips: Sequence[Utterance],
    out: Path,
    sample_rate: int,
    gap: float,
    noise_db: float | None = None,
) -> list[tuple[float, float]]:
    """Write the clips to `out`, `gap` seconds of silence before each and at the end (white
    noise at `noise_db` dBFS RMS, seeded, when given; else zeros); returns each clip's
    (start, end) in seconds."""
    rms = 0.0 if noise_db is None else 10 ** (noise_db / 20)
    noise = np.random.default_rng(0)

    def silence() -> np.ndarray:
        return (noise.standard_normal(round(gap * sample_rate)) * rms).astype(np.float32)

    parts, spans, t = [], [], 0.0
    for clip in clips:
        wave = load_audio(Path(clip.audio_filepath), sample_rate).numpy()
        parts += [silence(), wave]
        spans.append((t + gap, t + gap + len(wave) / sample_rate))
        t = spans[-1][1]
    parts.append(silence())
    write_audio(out, np.concatenate(parts), sample_rate)
    return spans


def measure_seams(
    recognizer: Recognizer,
    clips: Sequence[Utterance],
    out: Path,
    gap: float,
    noise_db: float | None = None,
) -> SeamReport:
    """Transcribe `clips` one by one and joined into `out`; compare the two."""
    spans = join_clips(clips, out, recognizer.features.sample_rate, gap, noise_db)
    singles = [t.text for t in recognizer.transcribe(list(clips))]
    long = next(recognizer.transcribe([out]))
    if long.error:
        raise RuntimeError(long.error)
    per_clip = [
        " ".join(w.word for w in long.words if a <= (w.start + w.end) / 2 < b) for a, b in spans
    ]
    segments, _ = plan_segments(out, recognizer.segments)
    refs = [c.text for c in clips]
    clip_scores = _scores(refs, singles)
    long_scores = _scores(refs, per_clip)
    whole = _scores([" ".join(refs)], [long.text])  # words outside every clip count too
    worse = [
        (r, s, h)
        for r, s, h, cs, ls in zip(refs, singles, per_clip, clip_scores, long_scores, strict=True)
        if ls.errors > cs.errors
    ]
    return SeamReport(
        clips_wer=total(clip_scores).rate,
        long_wer=total(whole).rate,
        clips_deletions=total(clip_scores).deletions,
        long_deletions=total(whole).deletions,
        duration=long.duration,
        segments=len(segments),
        split_clips=sum(sum(s.start < b and s.end > a for s in segments) > 1 for a, b in spans),
        worse=worse,
    )


def _scores(refs: Sequence[str], hyps: Sequence[str]):
    rows = [
        {"audio_filepath": str(i), "ref": r, "hyp": h, "duration": 0.0}
        for i, (r, h) in enumerate(zip(refs, hyps, strict=True))
    ]
    return [s.words for s in score_utterances(rows)]


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="corpus manifest with digit-string utterances")
    parser.add_argument("--model", default=None, help="checkpoint or shipped name (default)")
    parser.add_argument("--clips", type=int, default=30, help="digit strings joined")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds of silence between")
    parser.add_argument(
        "--noise-db", type=float, default=None, help="noise in the gaps, dBFS (default: zeros)"
    )
    parser.add_argument("--seed", type=int, default=0, help="which clips are drawn")
    parser.add_argument("--out", type=Path, default=Path("build/seams.wav"), help="joined file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(1)
    recognizer = Recognizer.load(resolve_model(args.model))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = measure_seams(
        recognizer,
        digit_clips(args.manifest, args.clips, args.seed),
        args.out,
        args.gap,
        args.noise_db,
    )
    print(
        f"clips {report.clips_wer:.1%} (del {report.clips_deletions})  "
        f"long {report.long_wer:.1%} (del {report.long_deletions})  "
        f"{report.duration:.0f} s, {report.segments} segments, {report.split_clips} clips split"
    )
    for ref, single, long in report.worse:
        print(f"  ref: {ref}\n    clip: {single}\n    long: {long}")


if __name__ == "__main__":
    _main()
