"""Text-to-speech voices of espeak-ng and flite: discovery and command lines.

An espeak-ng voice is an English accent (`en-us`, `en-gb-scotland`) plus a variant that sets the
timbre (`+f2`, `+klatt3`): about a hundred variants times eight accents. flite adds a handful of
recorded speakers. Each voice is one synthetic speaker in our manifests.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asr.errors import AsrError

logger = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
FLITE = "flite"
ESPEAK_DEFAULT_WPM = 175  # words per minute, espeak-ng's own speaking rate
# Whispered variants have no voicing, unlike any speech we evaluate on.
EXCLUDED_VARIANTS = frozenset({"whisper", "whisperf"})
# flite's awb_time is a limited-domain voice: it can only say clock times.
EXCLUDED_FLITE = frozenset({"awb_time"})
_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # names safe as file names; "Mr serious" is left out


@dataclass(frozen=True, order=True)
class Voice:
    engine: str  # ESPEAK or FLITE
    name: str  # the engine's voice: "en-us", "slt"
    variant: str = ""  # espeak-ng variant ("f2", "klatt3"); "" for the voice's own timbre

    @property
    def id(self) -> str:
        """Speaker id and folder name: "espeak-en-us+f2", "flite-slt"."""
        engine = "espeak" if self.engine == ESPEAK else self.engine
        return f"{engine}-{self.name}" + (f"+{self.variant}" if self.variant else "")

    @property
    def family(self) -> str:
        """Voices sharing a family sound alike, so held-out splits keep families apart.

        An espeak-ng variant gives the same formants and pitch to every accent; flite's kal and
        kal16 are one recorded speaker at two sample rates.
        """
        if self.engine == ESPEAK:
            return f"espeak+{self.variant or 'default'}"
        return f"flite-{self.name.removesuffix('16')}"


def parse_espeak_listing(listing: str) -> list[tuple[str, str]]:
    """`espeak-ng --voices=...` table -> [(language, file)], e.g. ("en-us", "gmw/en-US")."""
    entries = []
    for line in listing.splitlines()[1:]:
        fields = line.split(maxsplit=4)
        if len(fields) == 5:
            # The file column may hold a space ("!v/Mr serious"); other languages follow in ().
            entries.append((fields[1], re.sub(r"(\s*\([^)]*\))*\s*$", "", fields[4])))
    return entries


def espeak_voices(voice_listing: str, variant_listing: str) -> list[Voice]:
    """English espeak-ng accents times variants (plus each accent's own timbre).

    MBROLA voices (`mb/...`) are left out: they need the separate mbrola program and databases.
    The English listing also shows variants (`!v/Storm`); those are not accents.
    """
    listing = parse_espeak_listing(voice_listing)
    accents = sorted(
        {
            lang
            for lang, file in listing
            if lang.startswith("en") and not file.startswith(("mb/", "!v/"))
        }
    )
    variants = sorted(
        {
            file.removeprefix("!v/")
            for _, file in parse_espeak_listing(variant_listing)
            if _NAME.fullmatch(file.removeprefix("!v/"))
        }
        - EXCLUDED_VARIANTS
    )
    return [Voice(ESPEAK, accent, variant) for accent in accents for variant in ["", *variants]]


def flite_voices(listing: str) -> list[Voice]:
    """`flite -lv` ("Voices available: kal awb ...") -> voices, limited-domain ones left out."""
    names = listing.partition(":")[2].split()
    return [
        Voice(FLITE, name) for name in sorted(set(names) - EXCLUDED_FLITE) if _NAME.fullmatch(name)
    ]


def list_voices(engines: Iterable[str] = (ESPEAK, FLITE)) -> list[Voice]:
    """All usable English voices of the installed engines; a missing engine is logged, not fatal."""
    voices = []
    for engine in engines:
        if shutil.which(engine) is None:
            logger.warning("%s: not installed, its voices are left out", engine)
        elif engine == ESPEAK:
            voices += espeak_voices(
                _run([ESPEAK, "--voices=en"]), _run([ESPEAK, "--voices=variant"])
            )
        elif engine == FLITE:
            voices += flite_voices(_run([FLITE, "-lv"]))
        else:
            raise AsrError(f"{engine}: unknown speech engine (use {ESPEAK} or {FLITE})")
    logger.info("found %d voices", len(voices))
    return voices


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        raise AsrError(f"{command[0]}: cannot list voices ({err})") from err
    return done.stdout


def tts_command(voice: Voice, text: str, rate: float, pitch: int, out: Path) -> list[str]:
    """Command line that speaks `text` into wav file `out`.

    `rate` scales the engine's speaking rate (1 = its own); `pitch` is espeak-ng's 0-99 scale
    (50 = its own). flite's only pitch control is an absolute mean in Hz whose default differs
    per voice and cannot be queried, so flite voices vary in rate only.
    """
    if voice.engine == ESPEAK:
        name = voice.name + (f"+{voice.variant}" if voice.variant else "")
        wpm = round(ESPEAK_DEFAULT_WPM * rate)
        return [ESPEAK, "-v", name, "-s", str(wpm), "-p", str(pitch), "-w", str(out), text]
    if voice.engine == FLITE:
        stretch = f"{1 / rate:.3f}"  # flite stretches durations: the inverse of a rate
        return [
            FLITE,
            "-voice",
            voice.name,
            "--setf",
            f"duration_stretch={stretch}",
            "-t",
            text,
            "-o",
            str(out),
        ]
    raise AsrError(f"{voice.engine}: unknown speech engine (use {ESPEAK} or {FLITE})")
