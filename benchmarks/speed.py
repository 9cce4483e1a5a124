"""Inference speed of our model: real-time factors (fp32, int8, ONNX), the machine's matmul peak,
and the BiLSTM's achieved GFLOP/s step by step (batching, bucket size, threads, int8 kernels).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

from asr.data import DurationBatchSampler
from asr.inference.quantize import for_inference
from asr.inference.recognizer import Recognizer
from asr.model import CTCModel, ModelConfig
from benchmarks.rows import Row, best_time

logger = logging.getLogger(__name__)

__all__ = ["matmul_gflops", "int8_matmul_gflops", "lstm_flops", "rtf_rows", "long_file_rows"]
__all__ += ["lstm_rows", "load_rows", "onnx_lstm_rows"]

ONNX_BATCH = 32  # clips per onnxruntime run, as OnnxRecognizer.max_batch


def matmul_gflops(threads: int, size: int = 1024, repeats: int = 5) -> float:
    """fp32 torch.mm throughput on `threads` threads: the machine's practical peak."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / best_time(lambda: torch.mm(a, b), repeats) / 1e9


def int8_matmul_gflops(threads: int, size: int = 1024, repeats: int = 5) -> float:
    """The same product through the int8 dynamic-quantised linear kernel the LSTM uses."""
    torch.set_num_threads(threads)
    layer = torch.ao.nn.quantized.dynamic.Linear(size, size)
    x = torch.randn(size, size)
    return 2 * size**3 / best_time(lambda: layer(x), repeats) / 1e9


def load_rows(model: Path, precisions: Sequence[str]) -> list[Row]:
    """Seconds to load the checkpoint and build the model, per precision (torch already loaded)."""
    rows = []
    for precision in precisions:
        seconds = best_time(lambda p=precision: Recognizer.load(model, precision=p), repeats=3)
        rows.append(Row("start-up", f"load model ({precision}), in process", seconds, "s", None,
                        "read checkpoint, fold batch norm, quantise"))  # fmt: skip
    return rows


def lstm_flops(config: ModelConfig, frames: int) -> float:
    """Multiply-adds x 2 of the BiLSTM over `frames` output frames (gates' input and recurrent
    products; the element-wise gate maths is left out, as is usual)."""
    hidden, inputs, total = config.lstm_hidden, config.conv_out_features, 0
    for _ in range(config.lstm_layers):
        total += 2 * 2 * 4 * hidden * (inputs + hidden)  # 2 directions, 4 gates, 2 flop/MAC
        inputs = 2 * hidden
    return float(total * frames)


def _batches(waves: Sequence[Tensor], rate: int, batch_seconds: float) -> list[list[int]]:
    return list(DurationBatchSampler([len(w) / rate for w in waves], batch_seconds))


def _compute_seconds(
    recognizer: Recognizer, waves: Sequence[Tensor], batch_seconds: float
) -> float:
    """Best time of features + model + the checkpoint's decoder over all waves (already read)."""
    batches = _batches(waves, recognizer.features.sample_rate, batch_seconds)

    def run() -> None:
        for batch in batches:
            recognizer.decode(*recognizer.log_probs([waves[i] for i in batch]))

    return best_time(run, repeats=2, warmup=False)


def rtf_rows(
    recognizers: dict[str, Recognizer],
    waves: Sequence[Tensor],
    threads: Sequence[int],
    batch_seconds: float,
    label: str,
) -> list[Row]:
    """RTF (compute + decoding, audio in memory) per recognizer and thread count; ratios are
    speed-ups over the first recognizer on one thread."""
    rate = next(iter(recognizers.values())).features.sample_rate
    audio = sum(len(w) for w in waves) / rate
    rows, reference = [], None
    for n in threads:
        torch.set_num_threads(n)
        for name, recognizer in recognizers.items():
            seconds = _compute_seconds(recognizer, waves, batch_seconds)
            reference = reference or seconds
            rows.append(
                Row(
                    "inference",
                    f"{label}: {name}, {n} thread{'s' * (n > 1)}",
                    seconds / audio,
                    "RTF",
                    reference / seconds,
                    f"{audio:.0f} s audio; ratio = speed-up",
                )  # fmt: skip
            )
    return rows


def long_file_rows(
    recognizers: dict[str, Recognizer], path: Path, audio_seconds: float, threads: int
) -> list[Row]:
    """RTF of transcribing one long recording end to end (reading and segmenting included)."""
    torch.set_num_threads(threads)
    rows, reference = [], None
    for name, recognizer in recognizers.items():
        seconds = best_time(lambda r=recognizer: list(r.transcribe([path])), 1, warmup=False)
        reference = reference or seconds
        rows.append(
            Row(
                "inference",
                f"{audio_seconds / 60:.0f}-min recording: {name}, {threads} thread(s)",
                seconds / audio_seconds,
                "RTF",
                reference / seconds,
                "one file, reading included",
            )  # fmt: skip
        )
    return rows


def _lstm_inputs(model: CTCModel, feats: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM's input for a batch: (batch, time', features), lengths (batch,)."""
    with torch.inference_mode():
        x, lengths = model.frontend(feats.unsqueeze(1), lengths)
        return x.permute(0, 2, 1, 3).flatten(2).contiguous(), lengths  # (batch, time', feat)


def _lstm_seconds(lstm: torch.nn.Module, inputs: list[tuple[Tensor, Tensor]]) -> float:
    def run() -> None:
        with torch.inference_mode():
            for x, lengths in inputs:
                lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))

    return best_time(run, repeats=2, warmup=False)


def lstm_rows(
    recognizer: Recognizer, waves: Sequence[Tensor], peaks: dict[str, float], bucket: float
) -> list[Row]:
    """The BiLSTM alone, GFLOP/s and fraction of matmul peak, one optimisation step per row."""
    rate = recognizer.features.sample_rate
    model = for_inference(recognizer.checkpoint.build_model(), "fp32")
    int8 = for_inference(recognizer.checkpoint.build_model(), "int8")

    def inputs(batch_seconds: float | None) -> list[tuple[Tensor, Tensor]]:
        groups = [[i] for i in range(len(waves))] if batch_seconds is None else None
        groups = groups or _batches(waves, rate, batch_seconds)
        return [_lstm_inputs(model, *recognizer.features_of([waves[i] for i in g])) for g in groups]

    single, default, tuned = inputs(None), inputs(120.0), inputs(bucket)
    frames = sum(int(n.sum()) for _, n in single)
    flops = lstm_flops(model.config, frames)
    steps = [
        ("fp32, one utterance at a time", model, single, 1, "fp32"),
        ("fp32, length-bucketed batches of 120 s", model, default, 1, "fp32"),
        (f"fp32, buckets of {bucket:.0f} s", model, tuned, 1, "fp32"),
        (f"fp32, buckets of {bucket:.0f} s, 2 threads", model, tuned, 2, "fp32"),
        (f"int8 dynamic, buckets of {bucket:.0f} s", int8, tuned, 1, "int8"),
        (f"int8 dynamic, buckets of {bucket:.0f} s, 2 threads", int8, tuned, 2, "int8"),
    ]
    rows, reference = [], None
    for name, net, data, threads, kind in steps:
        torch.set_num_threads(threads)
        gflops = flops / _lstm_seconds(net.lstm, data) / 1e9
        reference = reference or gflops
        note = f"{100 * gflops / peaks[f'{kind} {threads}']:.0f}% of {kind} matmul peak"
        rows.append(Row("lstm", f"BiLSTM {name}", gflops, "GFLOP/s", gflops / reference, note))
    return rows


def onnx_lstm_rows(
    models: dict[str, Path], waves: Sequence[Tensor], config: ModelConfig, work: Path
) -> list[Row]:
    """The LSTM nodes of exported graphs, GFLOP/s from onnxruntime's profile (one thread; two
    passes over the clips sorted by length, in batches of 32 as OnnxRecognizer runs them);
    ratio against the first model."""
    import onnxruntime as ort

    ordered = sorted((w.numpy() for w in waves), key=len)
    batches = [ordered[i : i + ONNX_BATCH] for i in range(0, len(ordered), ONNX_BATCH)]
    rows, reference = [], None
    for name, path in models.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = str(work / f"onnx-profile-{name}")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        frames = 0
        for batch in batches * 2:
            samples = np.array([len(w) for w in batch], dtype=np.int64)  # (batch,)
            padded = np.zeros((len(batch), int(samples.max())), dtype=np.float32)
            for row, wave in zip(padded, batch, strict=True):
                row[: len(wave)] = wave
            _, lengths = session.run(None, {"waves": padded, "samples": samples})
            frames += int(lengths.sum())
        events = json.loads(Path(session.end_profiling()).read_text())
        micros = sum(
            e["dur"] for e in events
            if e.get("cat") == "Node" and "LSTM" in e.get("args", {}).get("op_name", "")
        )  # fmt: skip
        gflops = lstm_flops(config, frames) / (micros / 1e6) / 1e9
        reference = reference or gflops
        rows.append(
            Row("lstm", f"BiLSTM in onnxruntime, {name} (LSTM nodes), 1 thread", gflops,
                "GFLOP/s", gflops / reference, f"{micros / 1e6:.3f} s in onnxruntime's profile")
        )  # fmt: skip
    return rows
