"""`make bench`: speed and accuracy of our model beside its peers, measured in one run.

`python -m benchmarks.bench -o build/bench.json [--model M] [--fsdd DIR] [--synth EXP]`
prints one Markdown table (every ratio in it comes from this run) and writes the rows, with the
machine, as JSON. Inputs: FSDD's test speaker (theo, 500 clips), a 10-minute recording made by
concatenating those clips, 400 training clips of the other speakers, and with --synth a synth
recipe run's test set (held-out voices reading held-out sentences), and with the shipped
streaming model a 10-minute stream of the test clips with pauses (benchmarks.stream); sized to
finish in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from asr.audio import load_audio, write_audio
from asr.checkpoint import Checkpoint, load_checkpoint
from asr.config import config_to_dict
from asr.corpora.digits import DEFAULT_TEST_SPEAKERS
from asr.errors import AsrError
from asr.inference.export import export_onnx
from asr.inference.onnx_recognizer import OnnxRecognizer
from asr.inference.recognizer import Recognizer
from asr.inference.shipped import SHIPPED, SHIPPED_DIR, STREAM_NAME, resolve_model
from asr.manifest import Utterance, read_manifest, write_manifest
from asr.text import normalize_text
from benchmarks import peers, process, speed, stream
from benchmarks.decode import decode_benchmark, lm_from_manifest
from benchmarks.rows import Row, format_table, rows_to_json, wer_percent

logger = logging.getLogger("benchmarks.bench")

DEFAULT_FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"
LONG_SECONDS = 600.0  # the long recording: 10 minutes
GAP_SECONDS = 0.3  # silence between concatenated clips
CACHE_BUCKET = 16.0  # seconds of audio per inference batch: activations stay in cache on CPU
TRAIN_BATCH = 30.0  # seconds of audio per training batch (the digits recipe's)
TRAIN_CLIPS = 600  # clips of the training-throughput rows: 9 batches; with DDP 8, 4 a process
STREAM_MINUTES = 10.0  # the streaming rows' stream (benchmarks.stream measures an hour too)

__all__ = ["run_bench", "machine"]


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
        "python": platform.python_version(), "os": platform.platform(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }  # fmt: skip


def _long_recording(waves: list[torch.Tensor], rate: int, path: Path) -> float:
    """Concatenate clips, GAP_SECONDS apart, cycling until LONG_SECONDS; returns its length."""
    gap = np.zeros(int(GAP_SECONDS * rate), dtype=np.float32)
    parts, total, i = [], 0, 0
    while total < LONG_SECONDS * rate:
        parts += [waves[i % len(waves)].numpy(), gap]
        total += len(parts[-2]) + len(gap)
        i += 1
    write_audio(path, np.concatenate(parts), rate)
    return total / rate


def _folder(utterances: list[Utterance], path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for utt in utterances:
        (path / Path(utt.audio_filepath).name).symlink_to(Path(utt.audio_filepath).resolve())
    return path


def _train_config(ckpt: Checkpoint, path: Path) -> Path:
    """A TOML with the model's own features and architecture and a short training section."""

    def toml(value) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(toml(v) for v in value) + "]"
        return repr(value)

    sections = {
        "features": config_to_dict(ckpt.feature_config),
        "model": {k: v for k, v in config_to_dict(ckpt.model_config).items()
                  if k not in ("n_mels", "vocab_size")},
        "train": {"batch_seconds": TRAIN_BATCH, "epochs": 1},
    }  # fmt: skip
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml(v)}" for k, v in values.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


def _accuracy_rows(recognizers: dict[str, Recognizer], waves, refs: list[str]) -> list[Row]:
    rows = []
    for name, recognizer in recognizers.items():
        hyps = []
        for start in range(0, len(waves), 64):
            hyps += recognizer.decode(*recognizer.log_probs(waves[start : start + 64]))
        wer = wer_percent(refs, hyps)
        method = recognizer.decoding.method  # the checkpoint's tuned decoder
        rows.append(Row("accuracy", f"WER on FSDD test ({name}, {method})", wer, "WER %", None,
                        f"{len(refs)} clips of {', '.join(DEFAULT_TEST_SPEAKERS)}"))  # fmt: skip
    return rows


def _decoding_rows(label: str, model: Path, manifest: Path, lm: Path, lexicon: Path) -> list[Row]:
    """Greedy, beam and beam+LM rows (benchmarks.decode) of `model` on `manifest`."""
    rows = []
    for row in decode_benchmark(model, manifest, lm, lexicon):
        name = f"{row['decoder']} on {label}"
        rows.append(Row("decoding", f"{name}: WER", 100 * row["wer"], "WER %", None,
                        f"{row['utterances']} utterances"))  # fmt: skip
        rows.append(Row("decoding", f"{name}: decoding speed", row["utt_per_s"], "utt/s", None,
                        f"{row['e2e_utt_per_s']:.0f} utt/s with the acoustic model"))  # fmt: skip
    return rows


def synth_decoding_rows(exp: Path) -> list[Row]:
    """Decoding rows of a synth recipe run (`make -C recipes/synth EXP=EXP lm`): its model on
    held-out voices reading held-out sentences, with its word LM at the weights tuned on dev."""
    paths = [exp / "model" / "tuned.pt", exp / "data" / "test.jsonl"]
    paths += [exp / "lm" / "words.arpa", exp / "lm" / "words.lex"]
    for path in paths:
        if not path.is_file():
            raise AsrError(f"{path}: missing; run `make -C recipes/synth EXP={exp} lm` first")
    return _decoding_rows("synth test", *paths)


def run_bench(
    model: Path, fsdd: Path, work: Path, threads: int = 2, synth: Path | None = None
) -> list[Row]:
    """Every benchmark row, in table order; `work` receives the generated inputs. `synth`: a
    synth recipe run whose model adds decoding rows on its test set."""
    entries = read_manifest(fsdd / "manifest.jsonl")
    test = [u for u in entries if u.speaker in DEFAULT_TEST_SPEAKERS]
    train = [u for u in entries if u.speaker not in DEFAULT_TEST_SPEAKERS]
    random.Random(0).shuffle(train)
    if not test or not train:
        raise AsrError(f"{fsdd}: needs clips of the test speakers and of others")
    ckpt = load_checkpoint(model)
    rate = ckpt.feature_config.sample_rate
    waves = [load_audio(u.audio_filepath, rate) for u in test]
    refs = [normalize_text(u.text) for u in test]
    onnx = export_onnx(ckpt, work / "model.onnx")
    onnx_int8 = export_onnx(ckpt, work / "model-int8.onnx", "int8")
    recognizers = {
        "fp32": Recognizer(ckpt), "int8": Recognizer(ckpt, precision="int8"),
        "onnx": OnnxRecognizer.load(onnx), "onnx int8": OnnxRecognizer.load(onnx_int8),
    }  # fmt: skip
    long_file = work / "long_10min.wav"
    long_seconds = _long_recording(waves, rate, long_file)
    test_manifest = work / "test.jsonl"
    write_manifest(test_manifest, test, relative=False)
    log = _StageLog()
    rows = _accuracy_rows(recognizers, waves, refs)
    wer = {name: row.value for name, row in zip(recognizers, rows, strict=True)}
    best = "int8" if wer["int8"] <= wer["fp32"] else "fp32"  # int8 when it costs no accuracy
    log("accuracy")
    rows += speed.rtf_rows(recognizers, waves, (1, threads), CACHE_BUCKET, "FSDD test")
    log("test-set RTF")
    for n in (1, threads):
        rows += speed.long_file_rows(recognizers, long_file, long_seconds, n)
    log("long-file RTF")
    peaks = {f"fp32 {n}": speed.matmul_gflops(n) for n in (1, threads)}
    peaks |= {f"int8 {n}": speed.int8_matmul_gflops(n) for n in (1, threads)}
    rows += [Row("lstm", f"matmul peak, {key} thread(s), 1024x1024", g, "GFLOP/s",
                 g / peaks["fp32 1"], "fp32: torch.mm; int8: quantized dynamic Linear")
             for key, g in peaks.items()]  # fmt: skip
    rows += speed.lstm_rows(recognizers["fp32"], waves, peaks, CACHE_BUCKET)
    onnx_models = {"fp32": onnx, "int8": onnx_int8}
    rows += speed.onnx_lstm_rows(onnx_models, waves, ckpt.model_config, work)
    log("matmul and LSTM GFLOP/s")
    rows += peers.throughput_rows(recognizers["fp32"], waves, CACHE_BUCKET, threads)
    log("DeepSpeech inference")
    train_waves = [load_audio(u.audio_filepath, rate) for u in train[:TRAIN_CLIPS]]
    for n in (1, threads):  # per core, then on all: a recurrence splits over threads less well
        rows += peers.training_rows(
            recognizers["fp32"], train_waves, [u.text for u in train[:TRAIN_CLIPS]], TRAIN_BATCH, n
        )
    log("training throughput")
    rows += peers.pocketsphinx_rows(waves, rate, refs)
    log("pocketsphinx")
    rows += speed.load_rows(model, ("fp32", "int8"))
    parameters = peers.parameter_count(recognizers["fp32"].model)
    clips, seconds = _folder(test, work / "clips500"), sum(u.duration for u in test)
    # The checkpoint through torch, and its exports without torch (their precision is built in).
    for path, precision in ((model, best), (onnx, "fp32"), (onnx_int8, "int8")):
        rows += process.startup_rows(path, Path(test[0].audio_filepath), precision)
        rows += process.folder_rows(path, clips, seconds, precision, threads, parameters, rate)
    log("start-up and folder")
    manifests = {n: work / f"train{n}.jsonl" for n in (100, 400)}
    for n, path in manifests.items():
        write_manifest(path, train[:n], relative=False)
    rows += process.memory_rows(
        model, {100: _folder(test[:100], work / "clips100"), 500: work / "clips500"},
        long_file, manifests, _train_config(ckpt, work / "train.toml"), test_manifest,
    )  # fmt: skip
    log("memory and training epochs")
    write_manifest(work / "dev20.jsonl", test[:20], relative=False)  # validation: a small share
    rows += process.training_rows(
        work / "train.toml", manifests[400], work / "dev20.jsonl",
        sum(u.duration for u in train[:400]), threads,
    )  # fmt: skip
    log("training: threads against processes")
    arpa, lexicon = lm_from_manifest(manifests[400], work / "lm", model)
    rows += _decoding_rows("FSDD test", model, test_manifest, arpa, lexicon)
    if synth is not None:
        rows += synth_decoding_rows(synth)
    log("decoding")
    if (SHIPPED_DIR / SHIPPED[STREAM_NAME]).is_file():
        figures = stream.measure(test_manifest, STREAM_NAME, str(model), STREAM_MINUTES, rate)
        rows += stream.stream_rows(figures)
        log("streaming")
    return rows


class _StageLog:
    """Logs each stage's duration, so a slow part of the bench is visible as it runs."""

    def __init__(self):
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        logger.info("%s: %.1f s", stage, now - self.last)
        self.last = now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("-o", "--output", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--model", type=Path, help="checkpoint (default: the shipped model)")
    parser.add_argument("--fsdd", type=Path, default=DEFAULT_FSDD, help="FSDD folder")
    parser.add_argument("--threads", type=int, default=2, help="threads for multi-thread rows")
    parser.add_argument("--synth", type=Path, help="synth recipe run (EXP folder) to decode too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    os.environ["TQDM_DISABLE"] = "1"
    started = time.perf_counter()
    try:
        model = resolve_model(args.model)
        with tempfile.TemporaryDirectory() as tmp:
            rows = run_bench(model, args.fsdd, Path(tmp), args.threads, args.synth)
    except AsrError as err:
        print(f"benchmarks.bench: {err}", file=sys.stderr)
        return 1
    info = {**machine(), "model": str(model), "bench_seconds": time.perf_counter() - started}
    print(format_table(rows))
    print(
        f"\nmachine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}; load average "
        f"at the end {info['load_average']}; bench took {info['bench_seconds']:.0f} s"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": info, "rows": rows_to_json(rows)}
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
