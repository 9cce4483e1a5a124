"""Transcript normalisation and the character vocabulary (CTC blank, space, letters, apostrophe)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

BLANK = "<b>"  # CTC blank, always id 0
SPACE = " "

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_NOT_WORD = re.compile(r"[^\w']+")  # punctuation and symbols become word breaks
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")  # quotes, not contractions

__all__ = ["BLANK", "Vocabulary", "normalize_text"]


def normalize_text(text: str) -> str:
    """Lowercase, unify apostrophes, punctuation to spaces, collapse whitespace.

    "Don't  STOP, "Bob"!" -> "don't stop bob"
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = _NOT_WORD.sub(" ", text).replace("_", " ")
    text = _LOOSE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Vocabulary:
    """Output symbols of the model; index 0 is the CTC blank."""

    symbols: tuple[str, ...]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """Blank, space, then every character of the normalised texts, sorted."""
        chars = set()
        for text in texts:
            chars.update(normalize_text(text))
        chars.discard(SPACE)
        return cls((BLANK, SPACE, *sorted(chars)))

    def __len__(self) -> int:
        return len(self.symbols)

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of the normalised text that the vocabulary cannot encode."""
        return set(normalize_text(text)) - set(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Normalised text -> ids (no blanks). Raises KeyError on an unknown character."""
        return [self._index[c] for c in normalize_text(text)]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.symbols)}

    def decode(self, ids: Iterable[int]) -> str:
        """ids (blanks already removed) -> text, whitespace collapsed."""
        return " ".join("".join(self.symbols[i] for i in ids if i != 0).split())
