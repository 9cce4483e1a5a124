"""`asr` command line: thin wrappers that parse arguments, call one library function, format.

Exit codes: 0 success; 1 bad input (a message per problem on stderr; for `transcribe`, at
least one file failed while the others were still transcribed); 2 wrong usage; 130 interrupted.
Heavy modules (torch) are imported inside the commands so `asr --help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from asr import __version__
from asr.cli_decode import add_decoder_options, add_lm, add_tune
from asr.cli_prepare import add_prepare
from asr.errors import AsrError
from asr.runtime import init_torch

logger = logging.getLogger("asr")

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.quiet)
    try:
        init_torch(getattr(args, "threads", None))
        return args.run(args)
    except AsrError as err:
        print(f"asr: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("asr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"  # tqdm reads this for every bar it creates


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr",
        description="CNN + BiLSTM + CTC speech recognition: train, transcribe, evaluate.",
        epilog="Exit codes: 0 ok, 1 bad input or a failed file, 2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"asr {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    common.add_argument("--threads", type=int, help="CPU threads for torch (default: all)")
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_train(sub, common)
    _add_transcribe(sub, common)
    _add_evaluate(sub, common)
    add_prepare(sub, common)
    _add_compare(sub, common)
    add_lm(sub, common)
    add_tune(sub, common)
    _add_export(sub, common)
    return parser


def _add_train(sub, common) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train a model on a JSONL manifest",
        description="Train a CNN + BiLSTM + CTC model. Rerun the same command to resume after an "
        "interruption (Ctrl-C saves first). For several processes: torchrun --nproc_per_node N "
        "-m asr.cli train ...",
    )
    p.add_argument("--config", type=Path, help="TOML with [features] [model] [train] sections")
    p.add_argument("--train", type=Path, dest="train_manifest", help="training manifest (JSONL)")
    p.add_argument("--dev", type=Path, dest="dev_manifest", help="validation manifest (JSONL)")
    p.add_argument("--out", type=Path, dest="out_dir", help="output folder (best.pt, last.pt)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-seconds", type=float, help="padded audio seconds per batch")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, dest="num_workers", help="data loader processes")
    p.add_argument("--init-from", type=Path, help="start from this checkpoint's weights")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    from asr.train import configs_from_toml, train

    keys = ["train_manifest", "dev_manifest", "out_dir", "epochs", "batch_seconds", "lr"]
    keys += ["seed", "num_workers", "init_from"]
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    train_config, model_config, features = configs_from_toml(args.config, **overrides)
    best = train(train_config, model_config, features)
    logger.info("best model: %s", best)
    return EXIT_OK


def _add_transcribe(sub, common) -> None:
    p = sub.add_parser(
        "transcribe",
        parents=[common],
        help="transcribe audio files, folders or manifests",
        description="Print `path<TAB>text` per file on stdout (--format json: one JSON object "
        "per file per line, with timed words), or write OUT_DIR/NAME.FORMAT with --output-dir; "
        "failures go to stderr as `path: reason`, the other files still being transcribed; exit "
        "1 if any failed. Recordings of any length: long ones are cut at pauses.",
    )
    p.add_argument(
        "inputs", nargs="+", type=Path, help="audio files, folders (recursive), .jsonl manifests"
    )
    p.add_argument("--model", type=Path, help="checkpoint (default: the model shipped with asr)")
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.add_argument("--format", choices=("txt", "json", "srt", "vtt"), default="txt")
    p.add_argument("--output-dir", type=Path, help="write one file per input here")
    p.add_argument(
        "--one-speaker", action="store_true",
        help="every input is the same speaker: a model trained with speaker_mean normalises "
        "them by their joint mean (a manifest's speaker field does so per speaker by itself)",
    )  # fmt: skip
    _add_precision(p)
    add_decoder_options(p)
    p.set_defaults(run=_run_transcribe)


def _add_precision(p) -> None:
    p.add_argument(
        "--precision", choices=["fp32", "int8"], default="fp32",
        help="CPU weights: int8 quantises the LSTM and head (faster); ignored for .onnx models",
    )  # fmt: skip


def _run_transcribe(args) -> int:
    from tqdm import tqdm

    from asr.cli_decode import decode_config_from, emit_transcript
    from asr.inference import Recognizer, resolve_model

    model_path = resolve_model(args.model)
    logger.info("model: %s", model_path)
    recognizer = Recognizer.load(model_path, precision=args.precision)
    recognizer.use_decoding(decode_config_from(args, recognizer))
    inputs = list(_expand_inputs(args.inputs))
    paths = [utt.audio_filepath for utt in inputs]
    if args.one_speaker:
        inputs = [replace(utt, speaker="--one-speaker") for utt in inputs]
    recognizer.use_speakers([utt for utt in inputs if utt.speaker is not None])
    results = recognizer.transcribe(paths, args.batch_seconds, words=args.format != "txt")
    failed, taken = 0, set()
    for result in tqdm(results, total=len(paths), desc="transcribe", unit="file", disable=None):
        if result.error:
            failed += 1
            print(result.error, file=sys.stderr, flush=True)
        else:
            emit_transcript(result, args.format, args.output_dir, taken)
    return EXIT_FAILED if failed else EXIT_OK


def _expand_inputs(inputs: list[Path]):
    """Utterances to transcribe: files as given; folders expanded to their audio files, sorted,
    recursively; .jsonl manifests to their entries (keeping their speakers). Only the path and
    the speaker are used."""
    from asr.manifest import Utterance, read_manifest

    for path in inputs:
        if path.suffix == ".jsonl" and path.is_file():
            yield from read_manifest(path, check_files=False)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                print(f"{path}: no audio files in folder", file=sys.stderr)
            yield from (Utterance(p, 0.0, "") for p in found)
        else:
            yield Utterance(path, 0.0, "")


def _add_evaluate(sub, common) -> None:
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a model on a manifest (WER, CER, results.json)",
    )
    p.add_argument("--model", type=Path, help="checkpoint (default: the model shipped with asr)")
    p.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with references")
    p.add_argument(
        "--out", type=Path, required=True, help="folder for results.json, report.md, report.html"
    )
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.add_argument("--posteriorgrams", type=int, default=3, help="worst utterances to plot")
    p.add_argument("--bootstrap", type=int, default=1000, help="resamples for confidence intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    _add_precision(p)
    add_decoder_options(p)
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from asr.cli_decode import decode_config_from
    from asr.evaluate import evaluate
    from asr.inference import Recognizer, resolve_model

    model_path = resolve_model(args.model)
    logger.info("model: %s", model_path)
    recognizer = Recognizer.load(model_path, precision=args.precision)
    recognizer.use_decoding(decode_config_from(args, recognizer))
    results = evaluate(
        recognizer, args.manifest, args.out, args.batch_seconds, model_path,
        args.posteriorgrams, args.bootstrap, args.seed,
    )  # fmt: skip
    low, high = results["ci"]["wer"]
    print(
        f"WER {100 * results['wer']:.2f}% (95% CI {100 * low:.2f}-{100 * high:.2f})  "
        f"CER {100 * results['cer']:.2f}%  {results['num_utterances']} utterances\n"
        f"report: {args.out / 'report.html'}  ({args.out / 'report.md'}, "
        f"{args.out / 'results.json'})"
    )
    return EXIT_OK


def _add_compare(sub, common) -> None:
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.05, help="significance level")
    p.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
    from asr.compare import compare, format_comparison

    print(format_comparison(compare(args.a, args.b, args.bootstrap, args.seed, args.alpha)))
    return EXIT_OK


def _add_export(sub, common) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="export a checkpoint to ONNX for onnxruntime",
        description="Write an ONNX graph (dynamic batch and time) carrying the checkpoint's "
        "configs and vocabulary; `asr transcribe --model model.onnx` runs it with onnxruntime.",
    )
    p.add_argument("--model", type=Path, help="checkpoint (default: the model shipped with asr)")
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from asr.checkpoint import load_checkpoint
    from asr.export import export_onnx
    from asr.inference import resolve_model

    print(export_onnx(load_checkpoint(resolve_model(args.model)), args.out))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
