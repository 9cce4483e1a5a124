"""Synthetic speech corpora: text prompts read by many espeak-ng and flite voices.

Dev and test hold out whole voices (whole voice families, see `Voice.family`) and whole
sentences, so their scores measure generalisation to new speakers and new text, not recall.
Rendering is resumable: each wav's name hashes everything that determines its samples, so a rerun
skips files already rendered and valid, and a changed prompt or setting renders afresh.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from asr.audio import audio_info, read_audio, resample, write_audio
from asr.corpora.importers import normalize_transcript
from asr.corpora.voices import Voice, list_voices, tts_command
from asr.errors import AsrError
from asr.manifest import Utterance, write_manifest

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class SynthConfig:
    sample_rate: int = 16_000  # Hz, output wav rate (the model's default)
    max_freq: int | None = (
        None  # Hz; band-limit to match narrow-band data (FSDD: 4000); None keeps all
    )
    rate_range: tuple[float, float] = (0.8, 1.25)  # speaking-rate factor, 1 = the engine's own
    pitch_range: tuple[int, int] = (25, 75)  # espeak-ng pitch, 0-99 (50 = its own)
    renders_per_prompt: int = 3  # different voices reading each sentence of a split
    max_voices: int | None = None  # random subset of the installed voices; None uses all
    dev_voices: int = 2  # voice families held out for dev
    test_voices: int = 2  # voice families held out for test
    dev_frac: float = 0.05  # share of sentences held out for dev
    test_frac: float = 0.05  # share of sentences held out for test
    seed: int = 0
    jobs: int = 4  # TTS processes at once
    timeout: float = 60.0  # seconds one TTS call may take


@dataclass(frozen=True)
class Prompt:
    spoken: str  # what the engine reads: punctuation kept for its prosody
    transcript: str  # normalised: lowercase letters, apostrophes, spaces


@dataclass(frozen=True)
class Split:
    voices: tuple[Voice, ...]
    prompts: tuple[Prompt, ...]


@dataclass(frozen=True)
class RenderJob:
    voice: Voice
    prompt: Prompt
    rate: float  # speaking-rate factor
    pitch: int  # espeak-ng pitch

    def file_name(self, config: SynthConfig) -> str:
        """VOICE_ID/HASH.wav, the hash covering every input of the rendered samples."""
        inputs = (self.voice.id, self.prompt.spoken, self.rate, self.pitch)
        key = "|".join(map(str, (*inputs, config.sample_rate, config.max_freq)))
        return f"{self.voice.id}/{hashlib.sha1(key.encode()).hexdigest()[:16]}.wav"


def make_prompt(line: str) -> Prompt | None:
    """A prompt line -> Prompt, or None for lines with digits or nothing to say.

    Lines with digits are dropped rather than spelled out: engines read "1969" as a year and
    "10:30" as a time, and our transcript would have to guess which. Symbols the engines read
    aloud ("&" as "and") are removed from what they read, so audio and transcript agree.
    """
    if re.search(r"\d", line):
        return None
    spoken = line.replace("\u2019", "'").replace("-", " ")
    spoken = re.sub(r"[^A-Za-z'.,;:!? ]+", " ", spoken)
    spoken = " ".join(spoken.split())
    transcript = normalize_transcript(spoken)
    return Prompt(spoken, transcript) if transcript else None


def load_prompts(path: Path) -> list[Prompt]:
    """One prompt per line; digit lines and duplicate sentences are dropped and counted."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AsrError(f"{path}: cannot read prompts ({err})") from err
    prompts: dict[str, Prompt] = {}
    for line in lines:
        if line.strip() and (prompt := make_prompt(line)):
            prompts.setdefault(prompt.transcript, prompt)
    dropped = sum(1 for line in lines if line.strip()) - len(prompts)
    if dropped:
        logger.info("%s: dropped %d prompts with digits or repeated sentences", path, dropped)
    return list(prompts.values())


def make_splits(
    prompts: Sequence[Prompt],
    voices: Sequence[Voice],
    dev_voices: int = 2,
    test_voices: int = 2,
    dev_frac: float = 0.05,
    test_frac: float = 0.05,
    seed: int = 0,
) -> dict[str, Split]:
    """Split voices by family and sentences by transcript into disjoint train, dev and test.

    `dev_voices` and `test_voices` count voice families; every voice of a held-out family
    belongs to that split.
    """
    rng = random.Random(seed)
    families = sorted({v.family for v in voices})
    if dev_voices + test_voices >= len(families):
        raise AsrError(
            f"{len(families)} voice families cannot hold out {dev_voices} + {test_voices} "
            "and still train"
        )
    rng.shuffle(families)
    held = {"test": set(families[:test_voices]), "dev": set(families[test_voices:][:dev_voices])}
    sentences = sorted(set(prompts), key=lambda p: p.transcript)
    rng.shuffle(sentences)
    n_test, n_dev = _share(test_frac, len(sentences)), _share(dev_frac, len(sentences))
    if n_test + n_dev >= len(sentences):
        raise AsrError(f"{len(sentences)} sentences are too few to hold out {n_test} + {n_dev}")
    chosen = {
        "test": sentences[:n_test],
        "dev": sentences[n_test : n_test + n_dev],
        "train": sentences[n_test + n_dev :],
    }
    split_voices = {
        "test": [v for v in voices if v.family in held["test"]],
        "dev": [v for v in voices if v.family in held["dev"]],
        "train": [v for v in voices if v.family not in held["test"] | held["dev"]],
    }
    return {name: Split(tuple(split_voices[name]), tuple(chosen[name])) for name in SPLITS}


def _share(frac: float, total: int) -> int:
    """round(frac * total), but at least one whenever frac asks for any."""
    return max(1, round(frac * total)) if frac > 0 else 0


def plan_renders(split: Split, config: SynthConfig, salt: str = "") -> list[RenderJob]:
    """Each prompt read by `renders_per_prompt` different voices at random rate and pitch.

    Deterministic in (config.seed, salt); pass the split name as salt so splits differ.
    """
    rng = random.Random(f"{config.seed}-{salt}")
    jobs = []
    for prompt in split.prompts:
        count = min(config.renders_per_prompt, len(split.voices))
        for voice in rng.sample(split.voices, count):
            rate = round(rng.uniform(*config.rate_range), 2)
            jobs.append(RenderJob(voice, prompt, rate, rng.randint(*config.pitch_range)))
    return jobs


def render(job: RenderJob, out: Path, config: SynthConfig) -> Utterance | str:
    """Render one job to `out` (mono wav at config.sample_rate) unless already there.

    Returns the utterance, or a one-line reason why rendering failed.
    """
    if (duration := _valid_duration(out, config.sample_rate)) is not None:
        return Utterance(out, duration, job.prompt.transcript, job.voice.id)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "tts.wav"
        command = tts_command(job.voice, job.prompt.spoken, job.rate, job.pitch, raw)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=config.timeout)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"{job.voice.engine} failed: {err}"
        if done.returncode != 0:
            return f"{job.voice.engine} exited {done.returncode}: {done.stderr.strip()[:200]}"
        try:
            wave, rate = read_audio(raw)  # (samples,)
        except AsrError as err:
            return f"{job.voice.engine} wrote no readable wav: {err}"
    if not bool((wave.abs() > 1e-3).any()):
        return f"{job.voice.engine} produced silence"
    if config.max_freq is not None and rate > 2 * config.max_freq:
        # Through the Nyquist rate of max_freq: resampling's anti-alias filter is the low-pass.
        wave, rate = resample(wave, rate, 2 * config.max_freq, sharp=True), 2 * config.max_freq
    wave = resample(wave, rate, config.sample_rate, sharp=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.wav")
    write_audio(partial, wave, config.sample_rate)  # clipped: resampling can overshoot
    partial.replace(out)  # only complete files carry the final name, so resuming can trust them
    return Utterance(out, len(wave) / config.sample_rate, job.prompt.transcript, job.voice.id)


def _valid_duration(path: Path, sample_rate: int) -> float | None:
    """Duration of an already rendered file, None if absent, unreadable or at another rate."""
    try:
        info = audio_info(path)
    except AsrError:
        return None
    if info.sample_rate != sample_rate or info.frames == 0:
        return None
    return info.duration


def render_all(
    jobs: Sequence[RenderJob], out_dir: Path, config: SynthConfig, progress: bool = True
) -> list[Utterance]:
    """Render jobs in parallel under out_dir; failures are counted and logged, not fatal."""
    outs = [Path(out_dir).resolve() / job.file_name(config) for job in jobs]
    with ThreadPoolExecutor(max_workers=config.jobs) as pool:
        results = list(
            tqdm(
                pool.map(lambda job, out: render(job, out, config), jobs, outs),
                total=len(jobs),
                desc=f"rendering {out_dir}",
                unit="utt",
                disable=not progress,
            )
        )
    failures = Counter()
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, str):
            logger.debug("%s: %r: %s", job.voice.id, job.prompt.spoken, result)
            failures[f"{job.voice.id}: {result}"] += 1
    if failures:
        logger.warning(
            "%s: %d of %d renders failed: %s",
            out_dir,
            sum(failures.values()),
            len(jobs),
            "; ".join(f"{n}x {why}" for why, n in failures.most_common(5)),
        )
    return [r for r in results if isinstance(r, Utterance)]


def pick_voices(voices: Sequence[Voice] | None, config: SynthConfig) -> list[Voice]:
    """`voices`, or every installed voice if None, cut to `config.max_voices` by the seed."""
    voices = sorted(voices if voices is not None else list_voices())
    if config.max_voices is not None and config.max_voices < len(voices):
        voices = sorted(random.Random(config.seed).sample(voices, config.max_voices))
    return voices


def synthesize_corpus(
    prompts_file: Path,
    out_dir: Path,
    config: SynthConfig = SynthConfig(),
    voices: Sequence[Voice] | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Render train/dev/test from a prompts file; writes OUT_DIR/{train,dev,test}.jsonl.

    `voices` defaults to every installed voice, cut to `config.max_voices` by the seed.
    Returns {split: manifest path}.
    """
    splits = make_splits(
        load_prompts(prompts_file),
        pick_voices(voices, config),
        config.dev_voices,
        config.test_voices,
        config.dev_frac,
        config.test_frac,
        config.seed,
    )
    manifests = {}
    for name, split in splits.items():
        utterances = render_all(
            plan_renders(split, config, name), Path(out_dir) / name, config, progress
        )
        manifests[name] = Path(out_dir) / f"{name}.jsonl"
        write_manifest(manifests[name], utterances)
        logger.info(
            "%s: %d utterances, %d voices, %d sentences",
            name,
            len(utterances),
            len(split.voices),
            len(split.prompts),
        )
    return manifests
