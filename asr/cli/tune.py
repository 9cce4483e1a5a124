"""The `asr tune` and `asr calibrate` commands: decoding settings and rejection fitted on dev.

Kept apart from `cli.py` only for length; the same rules hold: lazy imports of heavy modules,
no logic beyond argument handling and formatting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.decode import DEFAULTS
from asr.cli.options import add_model, add_output
from asr.decode_config import DecodeConfig

__all__ = ["add_calibrate", "add_tune"]


def add_tune(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tune",
        parents=[common],
        help="grid-search tail, LM weight and word score on a dev manifest",
        description="Decode a dev manifest with beam search and an LM at every tail, LM weight "
        "and word score of the grid; store the lowest-WER setting in the checkpoint's decoding "
        "config, which transcribe and evaluate then use by default.",
    )
    add_model(p, "checkpoint (.pt) to tune", required=True)
    p.add_argument("--manifest", type=Path, required=True, help="dev manifest with references")
    p.add_argument("--lm", type=Path, required=True, help="KenLM word model (ARPA or binary)")
    p.add_argument("--lexicon", type=Path, required=True, help="lexicon of the LM's words")
    add_output(p, "tuned checkpoint to write (default: update --model)", ("--out",))
    p.add_argument(
        "--lm-weights", type=_floats, default=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
        help="comma-separated grid (default 0,0.5,1,1.5,2,3)",
    )  # fmt: skip
    p.add_argument(
        "--word-scores", type=_floats, default=(-2.0, -1.0, 0.0, 1.0, 2.0),
        help="comma-separated grid (default -2,-1,0,1,2); write --word-scores=-1,0,1 when it "
        "starts with a minus",
    )  # fmt: skip
    p.add_argument(
        "--tails", type=_floats, default=(0.0, 0.05, 0.1, 0.2),
        help="comma-separated seconds of silence appended to each input (default 0,0.05,0.1,0.2; "
        "a uni-directional model keeps 0)",
    )  # fmt: skip
    p.add_argument(
        "--beam-size", type=int, default=DEFAULTS.beam_size, help="hypotheses kept per frame"
    )
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.add_argument(
        "--stream-pause", type=float, metavar="SECONDS",
        help="tune a streaming model on its finals: the dev utterances streamed in order, each "
        "after this much noise at -60 dBFS, scored as one text (default: utterance by utterance)",
    )  # fmt: skip
    p.set_defaults(run=_run_tune)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def _run_tune(args) -> int:
    from asr.errors import UsageError
    from asr.evaluation.tune import save_tuned, tune
    from asr.inference.recognizer import Recognizer
    from asr.inference.shipped import SHIPPED, resolve_model

    if args.model in SHIPPED and args.output is None:
        raise UsageError(f"tuning the shipped model {args.model!r} needs -o/--output FILE")
    model = resolve_model(args.model)
    base = DecodeConfig(method="beam", beam_size=args.beam_size, lm=args.lm, lexicon=args.lexicon)
    # Greedy: the grid builds its own beams, and the checkpoint's LM and lexicon (a fine-tune's
    # are its parent's) need not be there.
    result = tune(
        Recognizer.load(model, method="greedy"), args.manifest, base, args.lm_weights,
        args.word_scores, args.batch_seconds, args.tails, args.stream_pause,
    )  # fmt: skip
    for row in result.grid:
        print(f"tail {row['tail_seconds']:g}\tlm_weight {row['lm_weight']:g}\t"
              f"word_score {row['word_score']:g}\tWER {100 * row['wer']:.2f}%")  # fmt: skip
    out = args.output or model
    save_tuned(model, out, result, args.manifest)
    print(
        f"best: tail {result.best.tail_seconds:g} lm_weight {result.best.lm_weight:g} "
        f"word_score {result.best.word_score:g} WER {100 * result.wer:.2f}% -> {out}",
        file=sys.stderr,
    )
    return EXIT_OK


def add_calibrate(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "calibrate",
        parents=[common],
        help="fit confidence and a rejection threshold on dev (in- and out-of-vocabulary speech)",
        description="Decode dev speech in the model's vocabulary (--manifest) and other speech "
        "(--oov) with the model's decoding; fit the confidence curve and keep the threshold that "
        "rejects at most --max-false-rejection of the in-vocabulary utterances, in the checkpoint.",
    )
    p.add_argument("--model", type=Path, required=True, help="checkpoint to calibrate")
    p.add_argument("--manifest", type=Path, required=True, help="dev speech in the vocabulary")
    p.add_argument("--oov", type=Path, nargs="+", required=True, help="dev speech outside it")
    add_output(p, "calibrated checkpoint to write (default: update --model)")
    p.add_argument(
        "--max-false-rejection",
        type=float,
        default=0.01,
        help="share of in-vocabulary dev utterances the threshold may reject",
    )
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.set_defaults(run=_run_calibrate)  # fmt: skip


def _run_calibrate(args) -> int:
    from asr.decoding.lexicon import read_lexicon_words
    from asr.evaluation.calibrate import calibrate, save_calibrated
    from asr.inference.recognizer import Recognizer
    from asr.manifest import read_manifest

    recognizer = Recognizer.load(args.model)
    lexicon = recognizer.decoding.lexicon
    if lexicon is not None:
        words = read_lexicon_words(lexicon)
    else:  # greedy: the vocabulary is what the dev speech says
        words = sorted({w for u in read_manifest(args.manifest) for w in u.text.split()})
    config, rates = calibrate(
        recognizer, args.manifest, args.oov, words, args.max_false_rejection, args.batch_seconds
    )
    out = args.output or args.model
    save_calibrated(args.model, out, config, rates)
    print(
        f"dev: AUROC {rates.auroc:.4f}, rejected {100 * rates.in_vocab_rejected:.1f}% of "
        f"{rates.in_vocab} in-vocabulary and {100 * rates.oov_rejected:.1f}% of {rates.oov} "
        f"other utterances at confidence < {config.threshold:.3f} -> {out}"
    )
    return EXIT_OK
