"""`asr export`: a checkpoint to ONNX."""

from __future__ import annotations

import logging

from asr.cli.codes import EXIT_OK
from asr.cli.options import add_model, add_output

logger = logging.getLogger("asr")


def add_export(sub, common) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="export a checkpoint to ONNX for onnxruntime",
        description="Write an ONNX graph (dynamic batch and time) carrying the checkpoint's "
        "configs and vocabulary; `asr transcribe --model model.onnx` runs it with onnxruntime.",
    )
    add_model(p, "checkpoint (.pt)")
    add_output(p, "ONNX file to write", ("--out",), required=True)
    p.add_argument(
        "--precision", choices=["fp32", "int8"], default="fp32",
        help="int8: the LSTM layers' weights as int8 (onnxruntime's dynamic quantisation; "
        "faster), the features and the rest fp32",
    )  # fmt: skip
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from asr.checkpoint import load_checkpoint
    from asr.inference.export import export_onnx
    from asr.inference.shipped import resolve_model

    ckpt = load_checkpoint(resolve_model(args.model))
    print(export_onnx(ckpt, args.output, args.precision))
    return EXIT_OK
