"""`asr transcribe`: files, folders and manifests to transcripts (txt/JSON/SRT/VTT)."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path

from asr.cli.codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from asr.cli.decode import add_decoder_options, add_precision
from asr.cli.options import add_model, add_output_dir
from asr.errors import AsrError

logger = logging.getLogger("asr")

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif"}


def add_transcribe(sub, common) -> None:
    p = sub.add_parser(
        "transcribe",
        parents=[common],
        help="transcribe audio files, folders or manifests",
        description="Print `path<TAB>text` per file on stdout (--format json: one JSON object "
        "per file per line, with timed words), or write OUT_DIR/NAME.FORMAT with --output-dir "
        "(inputs of several folders keep their folders below the one they share); failures go "
        "to stderr as `path: reason`, the other files still being transcribed; exit 1 if any "
        "failed or a folder holds no audio, 2 if --output-dir is a file. Recordings of any "
        "length: long ones are cut at pauses.",
    )
    p.add_argument(
        "inputs", nargs="+", type=Path, help="audio files, folders (recursive), .jsonl manifests"
    )
    add_model(p)
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.add_argument(
        "--format", choices=("txt", "json", "srt", "vtt"), default="txt",
        help="txt: path<TAB>text; json: one object per file with timed words; srt/vtt: subtitles",
    )  # fmt: skip
    add_output_dir(p, "write one file per input here (default: print to stdout)")
    p.add_argument(
        "--one-speaker", action="store_true",
        help="every input is the same speaker: a model trained with speaker_mean normalises "
        "them by their joint mean (a manifest's speaker field does so per speaker by itself)",
    )  # fmt: skip
    add_precision(p)
    add_decoder_options(p)
    p.set_defaults(run=_run_transcribe, torch_free=_onnx_model)


def _onnx_model(args) -> bool:
    """An exported model transcribes without torch (asr.inference.onnx_recognizer)."""
    from asr.inference.onnx_recognizer import is_export

    return args.model is not None and is_export(args.model)


def _run_transcribe(args) -> int:
    from tqdm import tqdm

    from asr.cli.decode import emit_transcript, load_recognizer
    from asr.inference.output import common_folder
    from asr.inference.parallel import transcribe_parallel

    out_dir = args.output_dir
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        print(f"asr transcribe: --output-dir {out_dir}: is a file, not a folder", file=sys.stderr)
        return EXIT_USAGE
    recognizer, model_path = load_recognizer(args)
    inputs, problems = _expand_inputs(args.inputs)
    for problem in problems:
        print(problem, file=sys.stderr)
    paths = [utt.audio_filepath for utt in inputs]
    root = common_folder(paths) if paths and out_dir is not None else None
    if args.one_speaker:
        inputs = [replace(utt, speaker="--one-speaker") for utt in inputs]
    results = transcribe_parallel(
        recognizer, inputs, args.threads, args.batch_seconds, words=args.format != "txt"
    )
    failed, taken = len(problems), set()
    for result in tqdm(results, total=len(inputs), desc="transcribe", unit="file", disable=None):
        if result.error:
            failed += 1
            print(result.error, file=sys.stderr, flush=True)
            continue
        try:
            emit_transcript(result, args.format, out_dir, root, taken)
        except AsrError as err:  # one unwritable output must not stop the other files
            failed += 1
            print(err, file=sys.stderr, flush=True)
    return EXIT_FAILED if failed else EXIT_OK


def _expand_inputs(inputs: list[Path]) -> tuple[list, list[str]]:
    """(utterances to transcribe, one line per input that gave none). Files as given; folders
    expanded to their audio files, sorted, recursively; .jsonl manifests to their entries
    (keeping their speakers). Only the path and the speaker are used."""
    from asr.manifest import Utterance, read_manifest

    utterances, problems = [], []
    for path in inputs:
        if path.suffix == ".jsonl" and path.is_file():
            entries = read_manifest(path, check_files=False)
            if not entries:
                problems.append(f"{path}: no usable entries in manifest")
            utterances += entries
        elif path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
            )
            if not found:
                kinds = ", ".join(sorted(AUDIO_SUFFIXES))
                problems.append(f"{path}: a folder with no audio files ({kinds})")
            utterances += [Utterance(p, 0.0, "") for p in found]
        else:
            utterances.append(Utterance(path, 0.0, ""))
    return utterances, problems
