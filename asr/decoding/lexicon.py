"""flashlight lexicons for CTC beam search: the words the decoder may output, each spelled in the
model's characters and closed by the word boundary token."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from asr.decoding.lm import BOS, EOS, UNK, write_atomic
from asr.errors import AsrError

logger = logging.getLogger(__name__)

WORD_BOUNDARY = "|"  # flashlight's token ending every lexicon spelling (ctc_decoder's sil_token)

__all__ = ["WORD_BOUNDARY", "read_lexicon_words", "write_lexicon"]


def write_lexicon(words: Iterable[str], path: Path, alphabet: Iterable[str] | None = None) -> int:
    """flashlight lexicon for ctc_decoder: `word<TAB>c h a r s |` per line. Returns the count.

    Words with a character outside `alphabet` (when given) are skipped: the decoder cannot
    spell them and refuses to load such a lexicon.
    """
    path = Path(path)
    allowed = set(alphabet) if alphabet is not None else None
    unique = [w for w in dict.fromkeys(words) if w not in (BOS, EOS, UNK)]
    kept = [w for w in unique if allowed is None or set(w) <= allowed]
    if len(kept) < len(unique):
        logger.warning("%s: skipped %d words outside the alphabet", path, len(unique) - len(kept))
    if not kept:
        raise AsrError(f"{path}: no words to write")
    write_atomic(path, (f"{w}\t{' '.join(w)} {WORD_BOUNDARY}\n" for w in kept))
    return len(kept)


def read_lexicon_words(path: Path) -> list[str]:
    """The words of a lexicon file, in order (its first column)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AsrError(f"{path}: cannot read lexicon ({err})") from err
    return [line.split()[0] for line in lines if line.strip()]
