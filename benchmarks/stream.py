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
- peak RSS and CPU time of the stream process (getrusage of the child); compute RTF is the CPU
  time of the long stream less that of a 30 s one (model loading), over the audio between;
- WER of the finals, and of `asr transcribe --model OFFLINE` on the same audio written as a WAV.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from asr.audio import load_audio, write_audio
from asr.manifest import read_manifest
from asr.text import normalize_text

GROUP_DIGITS = (1, 4)  # digits per group (an utterance between pauses)
INNER_GAP = (0.05, 0.15)  # seconds between the digits of a group
PAUSE = (0.8, 1.5)  # seconds of silence between groups: longer than the endpoint (0.3 s)
FLOOR_DB = 30.0  # a word ends at its clip's last 10 ms frame within this of the loudest
SHORT_SECONDS = 30.0  # the short stream whose CPU time is the start-up cost
# Pauses and gaps are white noise this loud (RMS, full scale 1), as a microphone's floor: digital
# zeros give log-mels far below anything in training (FSDD clips carry their own room noise).
NOISE_RMS = 1e-3


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
    parts.append((noise.standard_normal(round(seconds * rate)) * NOISE_RMS).astype(np.float32))
    return at + len(parts[-1]) / rate


def _speech_end(wave: np.ndarray, rate: int) -> float:
    """Seconds from the clip's start to the end of its last frame within FLOOR_DB of the peak."""
    hop = rate // 100
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop)
    energy = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    loud = np.nonzero(energy >= energy.max() - FLOOR_DB)[0]
    return (loud[-1] + 1) * hop / rate


def run_stream(command: list[str], wave: np.ndarray) -> tuple[list[dict], dict]:
    """Pipe `wave` as raw 16-bit PCM into `command`; its JSON events and its rusage."""
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, input=pcm, capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(command)}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # ru_maxrss of children is the largest child so far (KiB on Linux): streams run shortest first
    usage = {"cpu_seconds": cpu, "peak_rss_mb": after.ru_maxrss / 1024}
    return [json.loads(line) for line in done.stdout.decode().splitlines()], usage


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


def measure(args) -> dict:
    wave, words, refs = build_stream(args.manifest, args.minutes * 60, args.rate, args.seed)
    asr = [sys.executable, "-m", "asr.cli"]
    stream = [*asr, "stream", "-", "--rate", str(args.rate), "--threads", "1", "-q",
              "--model", args.model]  # fmt: skip
    short = wave[: round(SHORT_SECONDS * args.rate)]
    _, short_usage = run_stream(stream, short)
    started = time.monotonic()
    events, usage = run_stream(stream, wave)
    wall = time.monotonic() - started
    seconds = len(wave) / args.rate
    finals, partial = latencies(events, words)
    reference = " ".join(refs)
    hyp = " ".join(e["text"] for e in events if e["type"] == "final")
    offline = offline_hypothesis(asr, args.offline, wave, args.rate) if args.offline else None
    return {
        "audio_seconds": round(seconds, 1),
        "words": len(words),
        "recognised_words": len(finals),
        "median_word_latency_s": round(statistics.median(finals), 3) if finals else None,
        "p90_word_latency_s": round(np.percentile(finals, 90), 3) if finals else None,
        "median_first_partial_s": round(statistics.median(partial), 3) if partial else None,
        "first_partial_within_0.3s": round(float(np.mean(np.array(partial) <= 0.3)), 3)
        if partial else None,
        "peak_rss_mb": round(usage["peak_rss_mb"]),
        "cpu_seconds": round(usage["cpu_seconds"], 2),
        "wall_seconds": round(wall, 1),
        "compute_rtf": round((usage["cpu_seconds"] - short_usage["cpu_seconds"])
                             / (seconds - len(short) / args.rate), 4),  # fmt: skip
        "stream_wer": round(100 * jiwer.wer(reference, normalize_text(hyp)), 2),
        "offline_wer": round(100 * jiwer.wer(reference, normalize_text(offline)), 2)
        if offline is not None else None,
        "model": args.model, "offline_model": args.offline, "manifest": str(args.manifest),
    }  # fmt: skip


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
    figures = measure(args)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
