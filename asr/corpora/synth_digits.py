"""Synthetic spoken digits for training augmentation of the FSDD digits recipe.

Single digits and random digit strings read by many espeak-ng and flite voices, band-limited to
4 kHz like FSDD's 8 kHz recordings, so the model cannot learn to tell synthetic from real speech
by the top half of the spectrum. Only for training: the recipe's dev and test stay real speech.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from asr.corpora.digits import DIGIT_WORDS
from asr.corpora.synth import Prompt, Split, SynthConfig, pick_voices, plan_renders, render_all
from asr.corpora.voices import Voice
from asr.manifest import Utterance, write_manifest

logger = logging.getLogger(__name__)

FSDD_SYNTH = SynthConfig(max_freq=4_000)  # FSDD is sampled at 8 kHz: nothing above 4 kHz


@dataclass(frozen=True)
class SynthDigitsConfig:
    singles_per_digit: int = 40  # voices reading each digit alone
    strings: int = 400  # random digit strings, each read by SynthConfig.renders_per_prompt voices
    min_digits: int = 2  # digits per string
    max_digits: int = 7


def digit_strings(count: int, min_digits: int, max_digits: int, seed: int) -> list[Prompt]:
    """`count` distinct random digit strings, e.g. "one four four nine"; fewer if the lengths
    allow fewer distinct strings."""
    rng = random.Random(seed)
    possible = sum(10**n for n in range(min_digits, max_digits + 1))
    strings: dict[str, Prompt] = {}
    while len(strings) < min(count, possible):
        words = " ".join(rng.choices(DIGIT_WORDS, k=rng.randint(min_digits, max_digits)))
        strings.setdefault(words, Prompt(words, words))
    return list(strings.values())


def synthesize_digits(
    out_dir: Path,
    manifest: Path,
    config: SynthDigitsConfig = SynthDigitsConfig(),
    synth: SynthConfig = FSDD_SYNTH,
    voices: Sequence[Voice] | None = None,
    progress: bool = True,
) -> list[Utterance]:
    """Render single digits and digit strings under OUT_DIR (resumable) and write the manifest.

    `voices` defaults to every installed voice, cut to `synth.max_voices` by the seed.
    """
    voices = pick_voices(voices, synth)
    singles = Split(tuple(voices), tuple(Prompt(w, w) for w in DIGIT_WORDS))
    strings = digit_strings(config.strings, config.min_digits, config.max_digits, synth.seed)
    jobs = plan_renders(singles, replace(synth, renders_per_prompt=config.singles_per_digit), "1")
    jobs += plan_renders(Split(tuple(voices), tuple(strings)), synth, "strings")
    utterances = render_all(jobs, out_dir, synth, progress)
    write_manifest(manifest, utterances)
    logger.info(
        "%s: %d synthetic digit utterances from %d voices (%.1f min)",
        manifest,
        len(utterances),
        len({u.speaker for u in utterances}),
        sum(u.duration for u in utterances) / 60,
    )
    return utterances
