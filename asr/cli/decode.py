"""Decoding options and the `asr lm` command; transcript output for `transcribe`.

Kept apart from `cli.py` only for length; the same rules hold: lazy imports of heavy modules,
no logic beyond argument handling and formatting.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.decode_config import DecodeConfig
from asr.errors import AsrError

logger = logging.getLogger("asr")

DEFAULTS = DecodeConfig()  # option defaults come from the dataclass, never retyped

__all__ = [
    "DEFAULTS", "add_decoder_options", "add_lm", "decoding_overrides", "load_recognizer",
    "emit_transcript",
]  # fmt: skip


def add_decoder_options(p: argparse.ArgumentParser) -> None:
    """--decoder, --beam-size, --lm, ... ; unset ones fall back to the checkpoint's tuned values."""
    g = p.add_argument_group(
        "decoding", "defaults: the model's tuned settings (asr tune), else greedy"
    )
    g.add_argument(
        "--decoder", choices=("greedy", "beam"),
        help="search; --lm, --lexicon or --nbest imply beam (default: the model's tuned one, "
        "else greedy)",
    )  # fmt: skip
    g.add_argument(
        "--beam-size", type=int, help=f"hypotheses kept per frame (default {DEFAULTS.beam_size})"
    )
    g.add_argument(
        "--lm", type=Path,
        help="KenLM word model, ARPA or binary, as asr lm writes (default: the model's tuned "
        "one, else none)",
    )  # fmt: skip
    g.add_argument(
        "--lexicon", type=Path,
        help="words the beam may output, as asr lm --lexicon writes (default: the model's "
        "tuned one, else any spelling)",
    )  # fmt: skip
    g.add_argument(
        "--lm-weight", type=float, help=f"LM score scale (default {DEFAULTS.lm_weight:g})"
    )
    g.add_argument(
        "--word-score", type=float, help=f"bonus per word (default {DEFAULTS.word_score:g})"
    )
    g.add_argument(
        "--beam-threshold", type=float,
        help=f"prune beams this far below the best (default {DEFAULTS.beam_threshold:g})",
    )  # fmt: skip
    g.add_argument(
        "--nbest", type=int,
        help=f"hypotheses per file in JSON output, beam only (default {DEFAULTS.nbest})",
    )  # fmt: skip


def load_recognizer(args: argparse.Namespace):
    """The recognizer that --model (a shipped name, a checkpoint or an exported .onnx file),
    --precision and the decoding options ask for, and the model's path; logs which is used."""
    from asr.inference.onnx_recognizer import OnnxRecognizer, is_export
    from asr.inference.shipped import resolve_model

    model_path = resolve_model(args.model)
    logger.info("model: %s", model_path)
    if is_export(model_path):  # without torch: one-thread sessions, one per worker
        return OnnxRecognizer.load(model_path, **decoding_overrides(args)), model_path
    from asr.inference.recognizer import Recognizer

    recognizer = Recognizer.load(model_path, precision=args.precision, **decoding_overrides(args))
    return recognizer, model_path


def decoding_overrides(args: argparse.Namespace) -> dict:
    """DecodeConfig fields the options set (None: the checkpoint's tuned value); a lexicon, an
    LM or N-best imply beam search."""
    method = args.decoder
    if method is None and (args.lm or args.lexicon or (args.nbest or 1) > 1):
        method = "beam"
    return dict(
        method=method,
        beam_size=args.beam_size,
        lm=args.lm,
        lexicon=args.lexicon,
        lm_weight=args.lm_weight,
        word_score=args.word_score,
        beam_threshold=args.beam_threshold,
        nbest=args.nbest,
    )


def emit_transcript(
    result, fmt: str, out_dir: Path | None, root: Path | None, taken: set[Path]
) -> None:
    """Write one transcript to OUT_DIR/REL/STEM.FMT (REL: its folder below `root`), or print
    it: txt as `path<TAB>text`, json as one object per line, srt/vtt as the whole file. A
    rejected file's text is empty in txt, with a note on stderr. AsrError when the file cannot
    be written."""
    from asr.inference.output import format_transcript, output_path

    if result.rejected and fmt == "txt":
        print(
            f"{result.path}: rejected: not speech in the model's vocabulary "
            f"(confidence {result.confidence:.2f})",
            file=sys.stderr,
            flush=True,
        )
    if out_dir is not None:
        path = output_path(out_dir, result.path, fmt, root, taken)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(format_transcript(result, fmt))
        except OSError as err:  # a folder in the way, no space: this file's problem, named
            raise AsrError(f"{result.path}: cannot write {path}: {err.strerror}") from err
    elif fmt == "txt":
        print(f"{result.path}\t{'' if result.rejected else result.text}", flush=True)
    else:
        print(format_transcript(result, fmt), end="", flush=True)


def add_lm(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "lm",
        parents=[common],
        help="build a word n-gram LM (ARPA, Kneser-Ney) and lexicon from text",
        description="Estimate an interpolated modified Kneser-Ney n-gram model from TEXT (one "
        "sentence per line, normalised like transcripts) in pure Python, about 3 s per million "
        "words; write it as ARPA and, with --lexicon, the word list spelled for beam search.",
    )
    p.add_argument("text", type=Path, help="training text, one sentence per line")
    p.add_argument("--arpa", type=Path, required=True, help="ARPA file to write")
    p.add_argument(
        "--lexicon", type=Path, help="lexicon file to write, the LM's words (default: none)"
    )
    p.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    p.add_argument("--min-count", type=int, default=1, help="rarer words become <unk>")
    p.add_argument(
        "--model",
        help="keep only words this checkpoint's alphabet can spell; a file or a shipped model's "
        "name (default: keep every word)",
    )
    p.set_defaults(run=_run_lm)


def _run_lm(args) -> int:
    from asr.decoding.lexicon import write_lexicon
    from asr.decoding.lm import LMConfig, build_arpa, read_words

    stats = build_arpa(args.text, args.arpa, LMConfig(order=args.order, min_count=args.min_count))
    print(
        f"{args.arpa}: {stats.words} words, vocabulary {stats.vocab_size}, "
        f"n-grams {list(stats.ngrams)}, {stats.seconds:.1f} s"
    )
    if args.lexicon:
        alphabet = None
        if args.model:
            from asr.checkpoint import load_checkpoint
            from asr.inference.shipped import resolve_model

            alphabet = load_checkpoint(resolve_model(args.model)).vocab.symbols
        count = write_lexicon(read_words(args.arpa), args.lexicon, alphabet)
        print(f"{args.lexicon}: {count} words")
    return EXIT_OK


def add_precision(p) -> None:
    p.add_argument(
        "--precision", choices=["fp32", "int8"], default="fp32",
        help="CPU weights: int8 quantises the LSTM and head (faster); ignored for .onnx models",
    )  # fmt: skip
