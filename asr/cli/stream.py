"""`asr stream`: a file or stdin through a streaming model, partial and final transcripts as
JSON lines (or finals as text) while the audio is read."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.options import add_model
from asr.inference.shipped import STREAM_NAME

logger = logging.getLogger("asr")

CHUNK_SECONDS = 0.1  # audio read per step: partials and finals lag the input by about this


def add_stream(sub, common) -> None:
    p = sub.add_parser(
        "stream",
        parents=[common],
        help="recognise a file or stdin as it arrives (uni-directional models)",
        description="Write one JSON line per event on stdout: {type: partial|final, text, "
        "audio_end, words: [{word, start, end, confidence}]} (finals carry words); a final at "
        "each pause and at the end (empty when a partial held no word). FILE is audio, or - "
        "for stdin: a WAV stream, or raw 16-bit little-endian mono PCM with --rate "
        "(`arecord -f S16_LE -r 16000 | asr stream - --rate 16000`). Needs a uni-directional "
        "model (running or global normalisation); others are refused.",
    )
    p.add_argument("input", help="audio file, or - for stdin")
    add_model(p, default_name=STREAM_NAME)
    p.add_argument(
        "--rate",
        type=int,
        help="stdin is raw 16-bit PCM at this rate, Hz (default: stdin is a WAV)",
    )
    p.add_argument("--format", choices=("json", "txt"), default="json", help="txt: finals only")
    p.add_argument("--realtime", action="store_true", help="pace a file at real time (demos)")
    p.add_argument(
        "--endpoint-seconds", type=float, default=0.3,
        help="blank output after a word that ends an utterance (a final)",
    )  # fmt: skip
    p.set_defaults(run=_run_stream)


def _run_stream(args) -> int:
    from asr.errors import UsageError
    from asr.inference.recognizer import Recognizer
    from asr.inference.shipped import resolve_model
    from asr.inference.stream import Stream, StreamConfig

    if args.rate is not None and args.input != "-":
        raise UsageError("--rate describes raw PCM on stdin; give - as the input")
    model_path = resolve_model(args.model, STREAM_NAME)
    logger.info("model: %s", model_path)
    recognizer = Recognizer.load(model_path)
    stream = Stream(recognizer, StreamConfig(endpoint_seconds=args.endpoint_seconds))
    rate = recognizer.features.sample_rate
    started = time.monotonic()
    for block in _blocks(args, rate):
        if args.realtime:  # wait until this block's audio would have been heard
            heard = stream.audio_end + len(block) / rate
            time.sleep(max(0.0, started + heard - time.monotonic()))
        _emit(stream.feed(block), args.format)
    _emit(stream.finish(), args.format)
    return EXIT_OK


def _blocks(args, rate: int):
    from asr.audio_stream import read_blocks, read_pcm, read_wav_stream

    if args.input != "-":
        return read_blocks(Path(args.input), rate, CHUNK_SECONDS)
    stdin = sys.stdin.buffer
    if args.rate is not None:
        return read_pcm(stdin, args.rate, rate, CHUNK_SECONDS)
    return read_wav_stream(stdin, rate, CHUNK_SECONDS)


def _emit(events, fmt: str) -> None:
    for event in events:
        if fmt == "json":
            print(json.dumps(event.to_dict()), flush=True)
        elif event.type == "final" and event.text:
            print(event.text, flush=True)
