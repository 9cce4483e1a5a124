"""`asr evaluate` and `asr compare`: score a model on a manifest; compare two scorings."""

from __future__ import annotations

import logging
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.decode import add_decoder_options, add_precision
from asr.cli.options import add_model, add_output_dir

logger = logging.getLogger("asr")


def add_evaluate(sub, common) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a model on a manifest (WER, CER, results.json)",
        description="Transcribe a manifest's audio and score it against its transcripts: WER "
        "and CER with 95% bootstrap intervals, breakdowns by speaker and by length, confusion "
        "pairs and the worst utterances' posteriorgrams. Writes results.json, report.md and "
        "report.html to --output-dir and prints the summary.",
    )
    add_model(p)
    p.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with references")
    add_output_dir(p, "folder for results.json, report.md, report.html", ("--out",), required=True)
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.add_argument("--posteriorgrams", type=int, default=3, help="worst utterances to plot")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for confidence intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument(
        "--oov",
        type=Path,
        help="speech outside the vocabulary: its rejections and the AUROC (default: none)",
    )
    add_precision(p)
    add_decoder_options(p)
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from asr.cli.decode import load_recognizer
    from asr.evaluation.evaluate import evaluate

    recognizer, model_path = load_recognizer(args)
    results = evaluate(
        recognizer, args.manifest, args.output_dir, args.batch_seconds, model_path,
        args.posteriorgrams, args.bootstrap, args.seed, args.oov, args.threads,
    )  # fmt: skip
    low, high = results["ci"]["wer"]
    out = args.output_dir
    print(
        f"WER {100 * results['wer']:.2f}% (95% CI {100 * low:.2f}-{100 * high:.2f})  "
        f"CER {100 * results['cer']:.2f}%  {results['num_utterances']} utterances"
        f"{_rejection_line(results.get('rejection'))}\n"
        f"report: {out / 'report.html'}  ({out / 'report.md'}, {out / 'results.json'})"
    )
    return EXIT_OK


def _rejection_line(rejection: dict | None) -> str:
    if not rejection:
        return ""
    line = f"  rejected {100 * rejection['rejected_rate']:.1f}%"
    if "auroc" in rejection:
        line += (
            f"  OOV rejected {100 * rejection['oov_rejected']:.1f}%  AUROC {rejection['auroc']:.4f}"
        )
    return line


def add_compare(sub, common) -> None:
    p = sub.add_parser(
        "compare",
        parents=[common],
        help="is B's WER really different from A's? (paired bootstrap)",
        description="Match utterances of two results.json files by audio path and test the WER "
        "difference with a paired bootstrap, utterance by utterance.",
    )
    p.add_argument("a", type=Path, help="results.json of system A")
    p.add_argument("b", type=Path, help="results.json of system B")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level")
    p.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
    from asr.evaluation.compare import compare, format_comparison

    print(format_comparison(compare(args.a, args.b, args.bootstrap, args.seed, args.alpha)))
    return EXIT_OK
