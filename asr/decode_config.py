"""DecodeConfig: how a trained model is run and its CTC outputs become words. In the core because
a checkpoint carries its tuned settings (`asr tune`); the decoders that read it live in
`asr.decoding`, the recogniser that pads its inputs in `asr.inference`."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from asr.config import config_from_dict
from asr.errors import AsrError

METHODS = ("greedy", "beam")

__all__ = ["METHODS", "DecodeConfig", "decoding_beside", "with_overrides"]


@dataclass(frozen=True)
class DecodeConfig:
    method: str = "greedy"  # "greedy" (best path) or "beam"
    beam_size: int = 50  # hypotheses kept after each frame
    beam_size_token: int | None = None  # tokens tried per frame; None: the whole vocabulary
    beam_threshold: float = 50.0  # prune hypotheses scoring this far below the frame's best
    lexicon: Path | None = None  # flashlight lexicon; words outside it cannot be output
    lm: Path | None = None  # KenLM word model (ARPA or binary); needs a lexicon
    lm_weight: float = 2.0  # LM log-prob scale against the acoustic score
    word_score: float = 0.0  # added per word; > 0 favours more, shorter words
    nbest: int = 1  # hypotheses returned per utterance, best first
    # Seconds of digital silence appended to each file, offline (greedy too; not to the segments
    # of a long file, which keep the pauses around their speech). It works through the utterance
    # mean: a clip cut tight around its word has a higher mean than the training clips, with
    # pauses around theirs, and the silence lowers it (2026-12 default, dev WER: 15.3 % with
    # none, 10.7 % with 0.1 s; 17.3 % with its frames left out of the mean). Tuned on dev
    # (`asr tune --tails`).
    tail_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise AsrError(f"decoding: method must be one of {METHODS}, got {self.method!r}")
        if self.tail_seconds < 0:
            raise AsrError(f"decoding: tail_seconds must be >= 0, got {self.tail_seconds}")
        if self.beam_size < 1 or self.nbest < 1:
            raise AsrError("decoding: beam_size and nbest must be >= 1")
        if self.nbest > self.beam_size:
            raise AsrError(f"decoding: nbest {self.nbest} exceeds beam_size {self.beam_size}")
        if self.method == "greedy" and (self.nbest > 1 or self.lm or self.lexicon):
            raise AsrError("decoding: N-best, a lexicon and an LM need --decoder beam")
        if self.lm is not None and self.lexicon is None:
            raise AsrError(f"{self.lm}: a word LM needs a lexicon (asr lm --lexicon writes one)")


def with_overrides(tuned: DecodeConfig | None, **overrides) -> DecodeConfig:
    """A checkpoint's tuned settings (greedy when it has none) with the non-None `overrides`.

    Asking for greedy drops the tuned beam's LM and lexicon rather than refusing them; the tuned
    tail stays, as it is the model's, not the search's.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(given) - {f.name for f in fields(DecodeConfig)}
    if unknown:
        raise AsrError(f"decoding: unknown settings {', '.join(sorted(unknown))}")
    values = {**asdict(tuned or DecodeConfig()), **given}
    if values["method"] == "greedy":
        return DecodeConfig(tail_seconds=values["tail_seconds"])
    return DecodeConfig(**values)


def decoding_beside(decoding: dict, folder: Path) -> DecodeConfig | None:
    """Stored settings (a checkpoint's, an export's), whose relative LM and lexicon paths name
    files beside the model in `folder` (a shipped model's, an export's copies).

    Made absolute: a checkpoint loaded by a relative path and saved elsewhere (a fine-tune of
    it) would otherwise store a path relative to the working directory, read back against its
    own folder."""
    if not decoding:
        return None
    resolved = dict(decoding)
    for key in ("lm", "lexicon"):
        if resolved.get(key) and not Path(resolved[key]).is_absolute():
            resolved[key] = os.path.abspath(folder / resolved[key])
    return config_from_dict(DecodeConfig, resolved)
