"""CTC decoding strategies behind one interface: greedy best path, and flashlight beam search.

Beam search runs torchaudio's `ctc_decoder` (flashlight-text) either lexicon-free (any string
of characters) or constrained by a lexicon, optionally scored by a KenLM word n-gram model (ARPA
or KenLM binary; `asr lm` writes both the ARPA and the lexicon). The model's space symbol plays
flashlight's word boundary token "|", which ends every lexicon spelling.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from torch import Tensor

from asr.decode_config import DecodeConfig
from asr.decoding.greedy import greedy_decode
from asr.decoding.lexicon import WORD_BOUNDARY
from asr.decoding.lm import UNK
from asr.errors import AsrError
from asr.text import SPACE, Vocabulary

logger = logging.getLogger(__name__)

__all__ = [
    "BeamDecoder",
    "Decoder",
    "GreedyDecoder",
    "Hypothesis",
    "build_decoder",
]


@dataclass(frozen=True)
class Hypothesis:
    text: str
    tokens: tuple[int, ...]  # vocabulary ids: no blanks, repeats merged
    score: float  # greedy: best-path acoustic log-prob; beam: acoustic + weighted LM + words


class Decoder(Protocol):
    def __call__(self, log_probs: Tensor, lengths: Tensor) -> list[list[Hypothesis]]:
        """log_probs (batch, time, vocab), lengths (batch,) -> N-best hypotheses per utterance."""
        ...


class GreedyDecoder:
    """Best symbol per frame, repeats merged, blanks dropped; one hypothesis per utterance."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab

    def __call__(self, log_probs: Tensor, lengths: Tensor) -> list[list[Hypothesis]]:
        best = log_probs.max(dim=-1).values  # (batch, time)
        hyps = []
        for i, ids in enumerate(greedy_decode(log_probs, lengths)):
            score = float(best[i, : int(lengths[i])].sum())
            hyps.append([Hypothesis(self.vocab.decode(ids), tuple(ids), score)])
        return hyps


KENLM_MAGIC = b"mmap lm http://kheafield.com/code"  # how every KenLM binary file begins
LEXICON_HINT = "a lexicon is text, `word<TAB>s p e l l i n g |` a line, as asr lm --lexicon writes"


def _check_lexicon_text(path: Path) -> None:
    """Refuse a language model, or any binary file, given in place of a lexicon."""
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(KENLM_MAGIC):
        raise AsrError(f"{path}: a KenLM binary language model, not a lexicon: give it as --lm")
    if head.lstrip().startswith(b"\\data\\"):
        raise AsrError(f"{path}: an ARPA language model, not a lexicon: give it as --lm")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a split last character is fine
    except UnicodeDecodeError:
        raise AsrError(f"{path}: binary data, not a lexicon ({LEXICON_HINT})") from None
    if b"\0" in head:
        raise AsrError(f"{path}: binary data, not a lexicon ({LEXICON_HINT})")


class BeamDecoder:
    """flashlight beam search over CPU log-probs, built once per configuration."""

    def __init__(self, config: DecodeConfig, vocab: Vocabulary):
        from torchaudio.models.decoder import ctc_decoder

        for path in (config.lexicon, config.lm):
            if path is not None and not Path(path).is_file():
                raise AsrError(f"{path}: no such file")
        if config.lexicon is not None:
            _check_lexicon_text(Path(config.lexicon))
        if SPACE not in vocab.symbols:
            raise AsrError("beam search needs a vocabulary with a space symbol")
        self.vocab = vocab
        self.config = config
        tokens = [WORD_BOUNDARY if s == SPACE else s for s in vocab.symbols]
        # KenLM reports loading progress on the process's stderr, not Python's: log it instead.
        quiet = _native_stderr_to_debug_log() if config.lm else contextlib.nullcontext()
        try:
            with quiet:
                self._decode = ctc_decoder(
                    lexicon=None if config.lexicon is None else str(config.lexicon),
                    tokens=tokens,
                    lm=None if config.lm is None else str(config.lm),
                    nbest=config.nbest,
                    beam_size=config.beam_size,
                    beam_size_token=config.beam_size_token,
                    beam_threshold=config.beam_threshold,
                    lm_weight=config.lm_weight,
                    word_score=config.word_score,
                    blank_token=vocab.symbols[0],
                    sil_token=WORD_BOUNDARY,
                    unk_word=UNK,
                )
        except ValueError as err:  # a lexicon spelling with a symbol the model lacks
            hint = "; asr lm --model M writes a lexicon the model can spell"
            raise AsrError(f"{config.lexicon}: cannot load lexicon ({err}{hint})") from err
        except RuntimeError as err:  # KenLM refusing the file, or flashlight a lexicon line
            culprit = config.lexicon if "loadWords" in str(err) else config.lm or config.lexicon
            raise AsrError(f"{culprit}: cannot load ({err})") from err

    def __call__(self, log_probs: Tensor, lengths: Tensor) -> list[list[Hypothesis]]:
        emissions = log_probs.detach().float().cpu().contiguous()  # (batch, time, vocab)
        results = self._decode(emissions, lengths.cpu().int())
        return [[self._hypothesis(h) for h in nbest] for nbest in results]

    def _hypothesis(self, hyp) -> Hypothesis:
        # flashlight pads a hypothesis with boundary tokens; the words are the lexicon's own
        ids = [int(t) for t in hyp.tokens if int(t) != 0]
        text = " ".join(hyp.words) if self.config.lexicon else self.vocab.decode(ids)
        ids = self.vocab.encode(text) if text else []
        return Hypothesis(text, tuple(ids), float(hyp.score))


@contextlib.contextmanager
def _native_stderr_to_debug_log() -> Iterator[None]:
    """File descriptor 2 goes to a temporary file while the block runs; what native code wrote
    there (KenLM: "Loading the LM will be faster if you build a binary file", a progress bar) is
    logged at debug level, so stderr carries only asr's own messages."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace").strip()
            if text:
                logger.debug("native stderr: %s", text)


def build_decoder(config: DecodeConfig, vocab: Vocabulary) -> Decoder:
    if config.method == "greedy":
        return GreedyDecoder(vocab)
    return BeamDecoder(config, vocab)
