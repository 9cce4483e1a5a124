"""Streaming figures: word latency, peak memory, compute RTF and WER of `asr stream` on a long
stream of held-out digits with pauses, beside an offline model on the same audio.

`python -m benchmarks.stream --manifest exp/fsdd/test.jsonl --minutes 10 -o build/stream.json`
joins the manifest's clips (one digit word each, e.g. FSDD's held-out speaker) into groups of
1-4 digits (50-150 ms apart) separated by 0.8-1.5 s pauses (both white noise at -60 dBFS),
pipes it as raw PCM into `asr stream - --rate R --threads 1` and reads its JSON lines.
Figures, all in audio time:

- word latency: audio_end of the final holding a word minus the word's end (last 10 ms frame
  within 30 dB of its clip's loudest); a reference word holds the hypothesis word whose centre
  lies inside it (the same spelling: only recognised words have a latency);
- first partial: audio_end of the first partial of that utterance with as many words as the
  word's position in its final, minus the word's end;
- peak RSS and CPU time of the stream process, its own (`benchmarks.process.run_measured`: a
  child spawned by this large process would start from its high-water mark); compute RTF is
  the CPU time of the long stream less that of a 30 s one (model loading), over the audio
  between;
- WER of the finals, and of `asr transcribe --model OFFLINE` on the same audio written as a WAV.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from asr.audio import load_audio, write_audio
from asr.errors import AsrError
from asr.evaluation.tune import PAUSE_NOISE_RMS  # pauses and gaps: a microphone's floor
from asr.manifest import read_manifest
from asr.text import normalize_text
from benchmarks.process import Measured, run_measured
from benchmarks.rows import Row

GROUP_DIGITS = (1, 4)  # digits per group (an utterance between pauses)
INNER_GAP = (0.05, 0.15)  # seconds between the digits of a group
PAUSE = (0.8, 1.5)  # seconds of silence between groups: longer than the endpoint (0.3 s)
FLOOR_DB = 30.0  # a word ends at its clip's last 10 ms frame within this of the loudest
SHORT_SECONDS = 30.0  # the short stream whose CPU time is the start-up cost


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds in the stream
    end: float


def build_stream(manifest: Path, seconds: float, rate: int, seed: int = 0):
    """The manifest's one-word clips joined into groups with pauses, cycling until `seconds`.

    Returns (wave (samples,) float32, words: list[Word], references: list[str] one per group).
    """
    clips = [(load_audio(u.audio_filepath, rate).numpy(), normalize_text(u.text))
             for u in read_manifest(manifest)]  # fmt: skip
    rng = random.Random(seed)
    parts, words, refs, at = [], [], [], 0.0
    noise = np.random.default_rng(seed)
    while at < seconds:
        group = []
        for i in range(rng.randint(*GROUP_DIGITS)):
            wave, text = clips[rng.randrange(len(clips))]
            if i:
                at = _silence(parts, rng.uniform(*INNER_GAP), rate, at, noise)
            words.append(Word(text, at, at + _speech_end(wave, rate)))
            parts.append(wave)
            at += len(wave) / rate
            group.append(text)
        refs.append(" ".join(group))
        at = _silence(parts, rng.uniform(*PAUSE), rate, at, noise)
    return np.concatenate(parts).astype(np.float32), words, refs


def _silence(parts: list, seconds: float, rate: int, at: float, noise) -> float:
    pause = noise.standard_normal(round(seconds * rate)) * PAUSE_NOISE_RMS
    parts.append(pause.astype(np.float32))
    return at + len(parts[-1]) / rate


def _speech_end(wave: np.ndarray, rate: int) -> float:
    """Seconds from the clip's start to the end of its last frame within FLOOR_DB of the peak."""
    hop = rate // 100
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop)
    energy = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    loud = np.nonzero(energy >= energy.max() - FLOOR_DB)[0]
    return (loud[-1] + 1) * hop / rate


def run_stream(command: list[str], wave: np.ndarray) -> tuple[list[dict], Measured]:
    """Pipe `wave` as raw 16-bit PCM into `command`: its JSON events, its time and memory."""
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    try:
        run = run_measured(command, stdin=pcm)
    except AsrError as err:
        sys.exit(str(err))
    return [json.loads(line) for line in run.stdout.splitlines()], run


def latencies(events: list[dict], words: list[Word]) -> tuple[list[float], list[float]]:
    """(final latency, first-partial latency) in seconds of each recognised reference word."""
    finals, first_partial = [], []
    partials: list[dict] = []
    ref_index = 0
    for event in events:
        if event["type"] == "partial":
            partials.append(event)
            continue
        for position, hyp in enumerate(event["words"]):
            centre = (hyp["start"] + hyp["end"]) / 2
            while ref_index < len(words) and words[ref_index].end < centre:
                ref_index += 1
            if ref_index == len(words):
                break
            ref = words[ref_index]
            if not ref.start <= centre <= ref.end or ref.text != hyp["word"]:
                continue
            finals.append(event["audio_end"] - ref.end)
            seen = [p["audio_end"] for p in partials if len(p["text"].split()) > position]
            first_partial.append((seen[0] if seen else event["audio_end"]) - ref.end)
        partials = []
    return finals, first_partial


def offline_hypothesis(asr: list[str], model: str, wave: np.ndarray, rate: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.wav"
        write_audio(path, wave, rate)
        done = subprocess.run([*asr, "transcribe", "-q", "--threads", "1", "--model", model,
                               str(path)], capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        sys.exit(f"asr transcribe: exit {done.returncode}: {done.stderr[-500:]}")
    return done.stdout


def measure(
    manifest: Path, model: str, offline: str | None, minutes: float, rate: int, seed: int = 0
) -> dict:
    """The figures of one stream of `minutes` built from `manifest`'s clips through `model`,
    with `offline`'s WER on the same audio (None: not run)."""
    wave, words, refs = build_stream(manifest, minutes * 60, rate, seed)
    asr = [sys.executable, "-m", "asr.cli"]
    stream = [*asr, "stream", "-", "--rate", str(rate), "--threads", "1", "-q", "--model", model]
    short = wave[: round(SHORT_SECONDS * rate)]
    _, short_run = run_stream(stream, short)
    events, run = run_stream(stream, wave)
    seconds = len(wave) / rate
    finals, partial = latencies(events, words)
    reference = " ".join(refs)
    hyp = " ".join(e["text"] for e in events if e["type"] == "final")
    offline_hyp = offline_hypothesis(asr, offline, wave, rate) if offline else None
    return {
        "audio_seconds": round(seconds, 1),
        "words": len(words),
        "recognised_words": len(finals),
        "median_word_latency_s": round(statistics.median(finals), 3) if finals else None,
        "p90_word_latency_s": round(np.percentile(finals, 90), 3) if finals else None,
        "median_first_partial_s": round(statistics.median(partial), 3) if partial else None,
        "first_partial_within_0.3s": round(float(np.mean(np.array(partial) <= 0.3)), 3)
        if partial else None,
        "peak_rss_mb": round(run.peak_rss_mib),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "wall_seconds": round(run.seconds, 1),
        "compute_rtf": round((run.cpu_seconds - short_run.cpu_seconds)
                             / (seconds - len(short) / rate), 4),  # fmt: skip
        "stream_wer": round(100 * jiwer.wer(reference, normalize_text(hyp)), 2),
        "offline_wer": round(100 * jiwer.wer(reference, normalize_text(offline_hyp)), 2)
        if offline_hyp is not None else None,
        "model": model, "offline_model": offline, "manifest": str(manifest),
    }  # fmt: skip


def stream_rows(figures: dict) -> list[Row]:
    """The bench's rows of one `measure`: latency, memory, compute and WER against offline."""
    what = f"{figures['audio_seconds'] / 60:.0f} min stream of {figures['words']} digits"
    offline = figures["offline_wer"]
    return [
        Row("streaming", f"median word latency, {what}", figures["median_word_latency_s"], "s",
            None, f"p90 {figures['p90_word_latency_s']} s; target <= 0.5"),
        Row("streaming", "first partial within 0.3 s of the word's end",
            figures["first_partial_within_0.3s"], "share", None,
            f"median {figures['median_first_partial_s']} s"),
        Row("streaming", "peak RSS of asr stream -", figures["peak_rss_mb"], "MiB", None,
            "target < 1024 for an hour"),
        Row("streaming", "compute RTF, 1 thread", figures["compute_rtf"], "RTF", None,
            "CPU time less a 30 s stream's (start-up); target <= 0.05"),
        Row("streaming", f"WER of the finals ({figures['model']})", figures["stream_wer"],
            "WER %", figures["stream_wer"] / offline if offline else None,
            f"ratio against offline {figures['offline_model']}: {offline} %; "
            "target <= 1.5x (+1 point)"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="one-digit clips, held out")
    parser.add_argument("--model", default="digits-stream", help="the streaming model")
    parser.add_argument("--offline", default="digits", help="offline model ('' to skip)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the stream")
    parser.add_argument("--rate", type=int, default=8000, help="sample rate of the stream, Hz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    figures = measure(
        args.manifest, args.model, args.offline or None, args.minutes, args.rate, args.seed
    )
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
