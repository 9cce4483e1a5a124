"""Inference-only rewrites of a trained CTCModel: batch norm folded into the convolutions, and
int8 dynamic quantisation of the LSTM and linear head.

Dynamic quantisation stores weights as int8 and quantises activations per
call from their observed range, so it needs no calibration data; fbgemm's int8 kernels then do
the LSTM's and head's matrix products. The conv front end stays fp32: it is a small share of
the weights, and int8 convolutions would need static calibration.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Literal

import torch
from torch import nn

from asr.errors import AsrError
from asr.model import CTCModel

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "int8")

__all__ = ["PRECISIONS", "Precision", "fold_batchnorm", "quantize_int8", "for_inference"]


def fold_batchnorm(model: CTCModel) -> CTCModel:
    """A copy in eval mode whose conv weights absorb their batch norms (one pass fewer)."""
    model = copy.deepcopy(model).eval()
    for layer in model.frontend.layers:
        conv, norm = layer[0], layer[1]
        if isinstance(norm, nn.BatchNorm2d):
            layer[0] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, norm)
            layer[1] = nn.Identity()
    return model


def quantize_int8(model: CTCModel) -> CTCModel:
    """A copy with int8 dynamically quantised LSTM and linear layers (CPU only)."""
    if torch.backends.quantized.engine == "none":
        raise AsrError("int8 inference needs a quantized engine (fbgemm, x86 or qnnpack)")
    with warnings.catch_warnings():
        # torch.ao's eager API warns that it will move to torchao; it still works and ships.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        # nn.RNN (tanh) has no dynamic int8 kernel and stays fp32.
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).eval(), {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8
        )
    return quantized


def for_inference(model: CTCModel, precision: str) -> CTCModel:
    """The model rewritten for fast inference at `precision` ("fp32" or "int8")."""
    if precision not in PRECISIONS:
        raise AsrError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    model = fold_batchnorm(model)
    return quantize_int8(model) if precision == "int8" else model
