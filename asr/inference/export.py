"""ONNX export of a checkpoint: one graph from waveforms to log-probs, features and
normalisation included, that `asr.inference.onnx_recognizer` runs without torch.

The features are traced from `asr.features` itself (traced, its STFT is a convolution with the
DFT basis: ONNX's STFT has no complex output, and ran slower), so they are written once. Packed
sequences do not export, so the graph runs each LSTM layer on the padded batch and passes the
per-utterance frame counts as the ONNX LSTM's `sequence_lens` input (wired in after tracing:
torch leaves it empty). onnxruntime then stops each utterance at its own length in both
directions, which is what packing does, so batches of mixed lengths decode as in PyTorch. The
file carries the checkpoint's configs, vocabulary, decoding and rejection settings as metadata,
with copies of its LM and lexicon beside it, so `asr transcribe --model model.onnx` needs
nothing else, wherever the folder moves.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from asr.checkpoint import Checkpoint
from asr.config import config_to_dict
from asr.errors import AsrError
from asr.features import log_mel_batch
from asr.inference.onnx_recognizer import INPUTS, METADATA_KEY
from asr.inference.quantize import PRECISIONS, Precision, fold_batchnorm

logger = logging.getLogger(__name__)

OPSET = 17  # the graph's ONNX operator set
SEQUENCE_LENS = "sequence_lens_int32"  # graph value fed to every LSTM node

__all__ = ["export_onnx"]


class _WaveformModel(nn.Module):
    """The checkpoint from waves: log-mels, normalisation, then CTCModel.forward without packing
    (the LSTM sees the padded batch; lengths are added later)."""

    def __init__(self, ckpt: Checkpoint):
        super().__init__()
        self.model = fold_batchnorm(ckpt.build_model())
        self.features, self.normaliser = ckpt.feature_config, ckpt.normaliser

    def forward(self, waves: Tensor, samples: Tensor) -> tuple[Tensor, Tensor]:
        """waves (batch, samples) zero-padded, samples (batch,) -> log-probs (batch, time',
        vocab), lengths (batch,)."""
        feats, frames = log_mel_batch(waves, samples, self.features)  # (batch, time, n_mels)
        feats = self.normaliser.batch(feats, frames)
        x, lengths = self.model.frontend(feats.unsqueeze(1), frames)  # (batch, ch, time', f')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (batch, time', ch * f')
        x, _ = self.model.lstm(x)  # (batch, time', directions * hidden)
        return self.model.output(x), lengths


def export_onnx(ckpt: Checkpoint, out: Path, precision: Precision = "fp32") -> Path:
    """Write `ckpt` as an ONNX graph with dynamic batch and time axes; returns `out`.

    precision "int8": the LSTM layers' weights in int8, their activations quantised per call by
    onnxruntime (its DynamicQuantizeLSTM); the features and the rest stay fp32."""
    try:  # optional dependencies (the `bench` extra): named rather than a traceback
        import onnx
        import onnxruntime.quantization  # noqa: F401  (int8; and what runs the export)
    except ImportError as err:
        missing = str(err.name).split(".")[0]
        raise AsrError(
            f"ONNX export needs onnx and onnxruntime ({missing} is not installed: "
            "pip install onnx onnxruntime)"
        ) from err
    if precision not in PRECISIONS:
        raise AsrError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "int8" and ckpt.model_config.cell != "lstm":
        raise AsrError(
            f"ONNX export: int8 quantises LSTM layers, and this model's cell is "
            f"{ckpt.model_config.cell}; export it as fp32"
        )
    if ckpt.feature_config.normalisation == "speaker":
        raise AsrError(
            "ONNX export: the model normalises by speaker means, which only the PyTorch path "
            "computes (from all of a speaker's files); transcribe with the .pt checkpoint"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = _WaveformModel(ckpt).eval()
    rate = ckpt.feature_config.sample_rate
    example = (torch.randn(2, rate), torch.tensor([rate, rate // 2]))
    with warnings.catch_warnings():
        # The TorchScript exporter warns that LSTM batch_first export is padded (the point), and
        # that the features' length check is traced as a constant (the runtime pads short files).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, example, str(out), input_names=list(INPUTS),
            output_names=["log_probs", "out_lengths"], opset_version=OPSET, dynamo=False,
            dynamic_axes={
                "waves": {0: "batch", 1: "samples"}, "samples": {0: "batch"},
                "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"},
            },
        )  # fmt: skip
    graph = onnx.load(str(out))
    _wire_sequence_lengths(graph)
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(_metadata(ckpt, precision, out))
    onnx.checker.check_model(graph)
    onnx.save(graph, str(out))
    if precision == "int8":
        _quantize_lstm(out)
    return out


def _quantize_lstm(path: Path) -> None:
    """Rewrite the graph at `path` with int8 LSTM weights (onnxruntime's dynamic quantisation).

    Only the LSTM nodes: quantising MatMul too would reach the mel filterbank's, i.e. change
    the features. On theo's 500 clips the LSTM nodes ran 2.2x faster than fp32's (one thread)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = path.with_name(path.name + ".fp32")
    path.replace(fp32)
    logging.disable(logging.WARNING)  # its advice to pre-process, meant for image models
    try:
        quantize_dynamic(fp32, path, op_types_to_quantize=["LSTM"], weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
        fp32.unlink()


def _wire_sequence_lengths(graph) -> None:
    """Feed `out_lengths` (as int32) to every recurrent node's sequence_lens input (index 4)."""
    from onnx import TensorProto, helper

    nodes = list(graph.graph.node)
    lstm_at = [i for i, n in enumerate(nodes) if n.op_type in ("LSTM", "GRU", "RNN")]
    if not lstm_at:
        raise AsrError("ONNX export: the traced graph has no recurrent node")
    for i in lstm_at:
        nodes[i].input[4] = SEQUENCE_LENS
    cast = helper.make_node("Cast", ["out_lengths"], [SEQUENCE_LENS], to=TensorProto.INT32)
    nodes.insert(lstm_at[0], cast)  # nodes stay in topological order
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)


def _decoding(ckpt: Checkpoint, out: Path) -> dict:
    """The tuned decoding, its LM and lexicon copied beside `out` (as OUT-STEM.NAME) and named
    relative to it, so that the export's folder moves to another machine whole."""
    if ckpt.decoding is None:
        return {}
    decoding = config_to_dict(ckpt.decoding)
    for key in ("lm", "lexicon"):
        if decoding.get(key):
            source = Path(decoding[key])
            copy = out.with_name(f"{out.stem}.{source.name}")
            try:
                shutil.copyfile(source, copy)
            except OSError as err:
                raise AsrError(f"{source}: cannot copy the model's {key} ({err.strerror})") from err
            decoding[key] = copy.name
    return decoding


def _metadata(ckpt: Checkpoint, precision: Precision, out: Path) -> dict:
    return {
        "precision": precision,
        "feature_config": config_to_dict(ckpt.feature_config),
        "model_config": config_to_dict(ckpt.model_config),
        "frame_shift": ckpt.feature_config.hop_ms / 1000 * ckpt.model_config.time_stride,
        "parameters": sum(p.numel() for p in ckpt.build_model().parameters()),
        "vocab": list(ckpt.vocab.symbols),
        "decoding": _decoding(ckpt, out),
        "rejection": ckpt.rejection,
        "metadata": ckpt.metadata,
    }
