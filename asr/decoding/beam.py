"""CTC decoding strategies behind one interface: greedy best path, and flashlight beam search.

Beam search runs flashlight-text's CTC decoder, as torchaudio's `ctc_decoder` wraps it, called
directly on numpy arrays so that decoding needs no torch: either lexicon-free (any string of
characters) or constrained by a lexicon, optionally scored by a KenLM word n-gram model (ARPA or
KenLM binary; `asr lm` writes both the ARPA and the lexicon). The model's space symbol plays
flashlight's word boundary token "|", which ends every lexicon spelling. Decoders take
log-probs as numpy arrays or CPU tensors.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

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
    def __call__(self, log_probs, lengths) -> list[list[Hypothesis]]:
        """log_probs (batch, time, vocab), lengths (batch,) -> N-best hypotheses per utterance."""
        ...


class GreedyDecoder:
    """Best symbol per frame, repeats merged, blanks dropped; one hypothesis per utterance."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab

    def __call__(self, log_probs, lengths) -> list[list[Hypothesis]]:
        log_probs, lengths = np.asarray(log_probs), np.asarray(lengths)
        best = log_probs.max(-1)  # (batch, time)
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
        for path in (config.lexicon, config.lm):
            if path is not None and not Path(path).is_file():
                raise AsrError(f"{path}: no such file")
        if config.lexicon is not None:
            _check_lexicon_text(Path(config.lexicon))
        if SPACE not in vocab.symbols:
            raise AsrError("beam search needs a vocabulary with a space symbol")
        self.vocab = vocab
        self.config = config
        # KenLM reports loading progress on the process's stderr, not Python's: log it instead.
        quiet = _native_stderr_to_debug_log() if config.lm else contextlib.nullcontext()
        try:
            with quiet:
                self._decoder, self._words = _flashlight_decoder(config, vocab)
        except ValueError as err:  # a lexicon spelling with a symbol the model lacks
            hint = "; asr lm --model M writes a lexicon the model can spell"
            raise AsrError(f"{config.lexicon}: cannot load lexicon ({err}{hint})") from err
        except RuntimeError as err:  # KenLM refusing the file, or flashlight a lexicon line
            culprit = config.lexicon if "loadWords" in str(err) else config.lm or config.lexicon
            raise AsrError(f"{culprit}: cannot load ({err})") from err

    def __call__(self, log_probs, lengths) -> list[list[Hypothesis]]:
        emissions = np.ascontiguousarray(log_probs, dtype=np.float32)  # (batch, time, vocab)
        batch, _, symbols = emissions.shape
        hyps = []
        for b, frames in zip(range(batch), np.asarray(lengths).tolist(), strict=True):
            # flashlight reads the frames in place: the array outlives the call
            address = emissions.ctypes.data + b * emissions.strides[0]
            results = self._decoder.decode(address, int(frames), symbols)
            hyps.append([self._hypothesis(r) for r in results[: self.config.nbest]])
        return hyps

    def _hypothesis(self, result) -> Hypothesis:
        # flashlight's path has a token per frame, padded with boundary tokens; the words are
        # the lexicon's own
        ids = [t for t, _ in itertools.groupby(result.tokens) if t > 0]
        if self.config.lexicon:
            text = " ".join(self._words.get_entry(w) for w in result.words if w >= 0)
        else:
            text = self.vocab.decode(ids)
        ids = self.vocab.encode(text) if text else []
        return Hypothesis(text, tuple(ids), float(result.score))


def _flashlight_decoder(config: DecodeConfig, vocab: Vocabulary):
    """flashlight's lexicon or lexicon-free CTC decoder for `config`, and its word dictionary
    (None without lexicon or LM), set up as torchaudio's `ctc_decoder` sets them up."""
    from flashlight.lib.text import decoder as fl
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary, create_word_dict, load_words

    tokens = Dictionary([WORD_BOUNDARY if s == SPACE else s for s in vocab.symbols])
    boundary, blank = tokens.get_index(WORD_BOUNDARY), 0
    lexicon = load_words(str(config.lexicon)) if config.lexicon else None
    words = None
    if lexicon:
        words = create_word_dict(lexicon)
    elif config.lm:  # lexicon-free with a word LM: every token is a word
        symbols = [*map(tokens.get_entry, range(tokens.index_size())), UNK]
        words = create_word_dict({s: [[s]] for s in symbols})
    lm = KenLM(str(config.lm), words) if config.lm else fl.ZeroLM()
    common = dict(
        beam_size=config.beam_size,
        beam_size_token=config.beam_size_token or tokens.index_size(),
        beam_threshold=config.beam_threshold,
        lm_weight=config.lm_weight,
        sil_score=0.0,
        log_add=False,
        criterion_type=fl.CriterionType.CTC,
    )
    if not lexicon:
        options = fl.LexiconFreeDecoderOptions(**common)
        return _Kept(fl.LexiconFreeDecoder(options, lm, boundary, blank, []), lm), words
    options = fl.LexiconDecoderOptions(
        **common, word_score=config.word_score, unk_score=float("-inf")
    )
    trie = fl.Trie(tokens.index_size(), boundary)
    start = lm.start(False)
    for word, spellings in lexicon.items():
        index = words.get_index(word)
        _, score = lm.score(start, index)
        for spelling in spellings:
            trie.insert([tokens.get_index(t) for t in spelling], index, score)
    trie.smear(fl.SmearingMode.MAX)
    unk = words.get_index(UNK)
    decoder = fl.LexiconDecoder(options, trie, lm, boundary, blank, unk, [], False)
    return _Kept(decoder, lm), words


class _Kept:
    """A flashlight decoder that holds its LM: pybind11 does not keep an argument alive, and a
    collected LM crashes the next decode (pytorch/audio#3218)."""

    def __init__(self, decoder, lm):
        self.decoder, self.lm = decoder, lm

    def decode(self, address: int, frames: int, symbols: int):
        return self.decoder.decode(address, frames, symbols)


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
