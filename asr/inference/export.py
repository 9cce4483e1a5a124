"""ONNX export of a checkpoint and an onnxruntime model that drops into `Recognizer`.

Packed sequences do not export, so the exported graph runs each LSTM layer on the padded batch
and passes the per-utterance frame counts as the ONNX LSTM's `sequence_lens` input (wired in
after tracing: torch leaves it empty). onnxruntime then stops each utterance at its own length
in both directions, which is what packing does, so batches of mixed lengths decode as in
PyTorch. The file carries the checkpoint's configs, vocabulary and normalisation statistics as
metadata, so `asr transcribe --model model.onnx` needs nothing else.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from asr.checkpoint import Checkpoint
from asr.config import config_from_dict, config_to_dict
from asr.decode_config import DecodeConfig
from asr.errors import AsrError
from asr.features import FeatureConfig, upgrade_features
from asr.inference.quantize import fold_batchnorm
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary

logger = logging.getLogger(__name__)

OPSET = 17
METADATA_KEY = "asr_checkpoint"  # JSON: everything of the checkpoint but its weights
SEQUENCE_LENS = "sequence_lens_int32"  # graph value fed to every LSTM node

__all__ = ["export_onnx", "OnnxModel", "load_onnx"]


class _PaddedModel(nn.Module):
    """CTCModel.forward without packing: the LSTM sees the padded batch (lengths added later)."""

    def __init__(self, model: CTCModel):
        super().__init__()
        self.model = model

    def forward(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """feats (batch, time, n_mels), lengths (batch,) -> (batch, time', vocab), (batch,)."""
        x, lengths = self.model.frontend(feats.unsqueeze(1), lengths)  # (batch, ch, time', f')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (batch, time', ch * f')
        x, _ = self.model.lstm(x)  # (batch, time', directions * hidden)
        return self.model.output(x), lengths


def export_onnx(ckpt: Checkpoint, out: Path) -> Path:
    """Write `ckpt` as an ONNX graph with dynamic batch and time axes; returns `out`."""
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = _PaddedModel(fold_batchnorm(ckpt.build_model()))
    example = (torch.zeros(2, 64, ckpt.feature_config.n_mels), torch.tensor([64, 40]))
    with warnings.catch_warnings():
        # The TorchScript exporter warns that LSTM batch_first export is padded; that is the point.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, example, str(out), input_names=["feats", "lengths"],
            output_names=["log_probs", "out_lengths"], opset_version=OPSET, dynamo=False,
            dynamic_axes={
                "feats": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"},
            },
        )  # fmt: skip
    graph = onnx.load(str(out))
    _wire_sequence_lengths(graph)
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(_metadata(ckpt))
    onnx.checker.check_model(graph)
    onnx.save(graph, str(out))
    return out


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


def _metadata(ckpt: Checkpoint) -> dict:
    return {
        "model_config": config_to_dict(ckpt.model_config),
        "feature_config": config_to_dict(ckpt.feature_config),
        "vocab": list(ckpt.vocab.symbols),
        "mean": ckpt.mean.tolist(),
        "std": ckpt.std.tolist(),
        "prior": None if ckpt.prior is None else ckpt.prior.tolist(),
        "decoding": config_to_dict(ckpt.decoding) if ckpt.decoding else {},
        "metadata": ckpt.metadata,
    }


class OnnxModel:
    """An onnxruntime session called like CTCModel: (feats, lengths) -> (log_probs, lengths)."""

    def __init__(self, path: Path, config: ModelConfig, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.config = config

    def __call__(self, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """feats (batch, time, n_mels), lengths (batch,) -> (batch, time', vocab), (batch,)."""
        log_probs, out_lengths = self.session.run(
            None, {"feats": feats.float().numpy(), "lengths": lengths.long().numpy()}
        )
        return torch.from_numpy(log_probs), torch.from_numpy(out_lengths)

    def to(self, device: str) -> OnnxModel:
        if device != "cpu":
            raise AsrError(f"the ONNX runtime path runs on the CPU only, not on {device}")
        return self


def load_onnx(path: Path, threads: int | None = None) -> tuple[Checkpoint, OnnxModel]:
    """The checkpoint (without weights) stored in an exported file, and its runtime model."""
    path = Path(path)
    if not path.is_file():
        raise AsrError(f"{path}: no such ONNX file")
    try:  # optional dependencies (the `bench` extra): name them rather than a traceback
        import onnx
        import onnxruntime  # noqa: F401  (OnnxModel runs it)
        from google.protobuf.message import DecodeError
    except ImportError as err:
        raise AsrError(
            f"{path}: an .onnx model needs {err.name or 'onnx'}, which is not installed "
            "(pip install onnx onnxruntime; or give a .pt checkpoint)"
        ) from err
    try:
        graph = onnx.load(str(path), load_external_data=False)
    except (DecodeError, OSError, ValueError) as err:
        raise AsrError(f"{path}: cannot read ONNX model ({str(err)[:160]})") from err
    props = {p.key: p.value for p in graph.metadata_props}
    if METADATA_KEY not in props:
        raise AsrError(f"{path}: not exported by `asr export` (no {METADATA_KEY} metadata)")
    meta = json.loads(props[METADATA_KEY])
    ckpt = Checkpoint(
        model_config=config_from_dict(ModelConfig, meta["model_config"]),
        feature_config=config_from_dict(FeatureConfig, upgrade_features(meta["feature_config"])),
        vocab=Vocabulary(tuple(meta["vocab"])),
        mean=torch.tensor(meta["mean"]),
        std=torch.tensor(meta["std"]),
        prior=None if meta.get("prior") is None else torch.tensor(meta["prior"]),
        state_dict={},
        metadata=meta.get("metadata", {}),
        decoding=config_from_dict(DecodeConfig, meta["decoding"]) if meta.get("decoding") else None,
    )
    return ckpt, OnnxModel(path, ckpt.model_config, threads)
