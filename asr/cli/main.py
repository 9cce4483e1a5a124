"""`asr` command line: thin wrappers that parse arguments, call one library function, format.

Exit codes: 0 success; 1 bad input (a message per problem on stderr; for `transcribe`, at
least one file failed while the others were still transcribed); 2 wrong usage; 130 interrupted.
Heavy modules (torch) are imported inside the commands so `asr --help` answers at once, and
not at all by `asr transcribe --model M.onnx` (asr.inference.onnx_recognizer).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from asr import __version__
from asr.cli.codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PIPE, EXIT_USAGE
from asr.cli.decode import add_lm
from asr.cli.evaluate import add_compare, add_evaluate
from asr.cli.export import add_export
from asr.cli.options import CommandParser
from asr.cli.prepare import add_prepare
from asr.cli.stream import add_stream
from asr.cli.train import add_train
from asr.cli.transcribe import add_transcribe
from asr.cli.tune import add_calibrate, add_tune
from asr.errors import AsrError, UsageError
from asr.runtime import init_torch

logger = logging.getLogger("asr")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.quiet)
    try:
        if not getattr(args, "torch_free", _never)(args):
            init_torch(getattr(args, "threads", None))
        return args.run(args)
    except UsageError as err:
        args.command_parser.print_usage(sys.stderr)
        print(f"{args.command_parser.prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except AsrError as err:
        print(f"asr: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("asr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`asr transcribe ... | head -1`): stop quietly, as cat does.
        # stdout is pointed at devnull so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as err:
        # A file the command writes (a report, a checkpoint) could not be: disk full, no
        # permission. Named in one line, as bad input is; the work already written stays.
        print(f"asr: {err.filename or 'output'}: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED


def _never(args: argparse.Namespace) -> bool:
    return False


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"  # tqdm reads this for every bar it creates


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="asr",
        description="CNN + BiLSTM + CTC speech recognition: train, transcribe, evaluate.",
        epilog="Exit codes: 0 ok, 1 bad input or a failed file, 2 usage error, 130 interrupted, "
        "141 stdout closed.",
    )
    parser.add_argument("--version", action="version", version=f"asr {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    # Only for the commands whose work is torch's: the others would silently ignore it.
    compute = argparse.ArgumentParser(add_help=False, parents=[common])
    compute.add_argument(
        "--threads", type=_positive, metavar="N", help="CPU cores to use: torch threads, or for "
        "many files (transcribe, evaluate) N one-thread worker processes (default: every core)",
    )  # fmt: skip
    sub = parser.add_subparsers(
        title="commands", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    add_train(sub, compute)
    add_transcribe(sub, compute)
    add_stream(sub, compute)
    add_evaluate(sub, compute)
    add_prepare(sub, common)
    add_compare(sub, common)
    add_lm(sub, common)
    add_tune(sub, compute)
    add_calibrate(sub, compute)
    add_export(sub, common)
    return parser
