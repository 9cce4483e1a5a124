"""Peers on the same clips: torchaudio's DeepSpeech of about our parameter count (inference and
training throughput against ours) and pocketsphinx with a digits grammar (WER and RTF).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asr.audio import resample
from asr.corpora.digits import DIGIT_WORDS
from asr.data import DurationBatchSampler
from asr.inference.recognizer import Recognizer
from asr.text import normalize_text
from benchmarks.ddp import ddp_train_seconds
from benchmarks.rows import Row, best_time, wer_percent

logger = logging.getLogger(__name__)

SPHINX_RATE = 16000  # Hz: pocketsphinx's bundled en-us model is wide-band

__all__ = [
    "deepspeech_like",
    "parameter_count",
    "throughput_rows",
    "training_rows",
    "pocketsphinx_rows",
]


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def deepspeech_like(n_feature: int, n_class: int, parameters: int) -> nn.Module:
    """torchaudio's DeepSpeech, its hidden size chosen for the parameter count nearest ours."""
    from torchaudio.models import DeepSpeech

    def size(hidden: int) -> int:
        with torch.device("meta"):  # counts shapes without allocating or initialising weights
            return parameter_count(DeepSpeech(n_feature, hidden, n_class))

    hidden = min(range(32, 2049, 8), key=lambda h: abs(size(h) - parameters))
    return DeepSpeech(n_feature, hidden, n_class, dropout=0.0).eval()


def _feature_batches(
    recognizer: Recognizer, waves: Sequence[Tensor], batch_seconds: float
) -> list[tuple[Tensor, Tensor]]:
    rate = recognizer.features.sample_rate
    sampler = DurationBatchSampler([len(w) / rate for w in waves], batch_seconds)
    return [recognizer.features_of([waves[i] for i in b]) for b in sampler]


def throughput_rows(
    recognizer: Recognizer, waves: Sequence[Tensor], batch_seconds: float, threads: int
) -> list[Row]:
    """Model forward throughput (x real time) of ours (fp32, int8) and DeepSpeech, same batches."""
    torch.set_num_threads(threads)
    audio = sum(len(w) for w in waves) / recognizer.features.sample_rate
    batches = _feature_batches(recognizer, waves, batch_seconds)
    ours = recognizer.checkpoint.build_model()
    peer = deepspeech_like(ours.config.n_mels, ours.config.vocab_size, parameter_count(ours))
    int8 = Recognizer(recognizer.checkpoint, precision="int8").model

    def forward(net) -> float:
        def run() -> None:
            with torch.inference_mode():
                for feats, lengths in batches:
                    net(feats, lengths)

        return audio / best_time(run, repeats=2)

    def deepspeech(feats: Tensor, lengths: Tensor) -> Tensor:
        return peer(feats.unsqueeze(1))  # (batch, 1, time, n_mels) -> (batch, time, vocab)

    speeds = {
        f"DeepSpeech (torchaudio, {parameter_count(peer) / 1e6:.2f} M params)": forward(deepspeech),
        f"ours fp32 ({parameter_count(ours) / 1e6:.2f} M params)": forward(ours),
        "ours int8": forward(int8),
    }
    reference = next(iter(speeds.values()))
    return [
        Row(
            "peers",
            f"inference throughput: {name}, {threads} threads",
            speed,
            "x realtime",
            speed / reference,
            "ratio against DeepSpeech",
        )  # fmt: skip
        for name, speed in speeds.items()
    ]


def _train_speed(net, batches, targets, step_fn) -> float:
    """Seconds for one training step (forward, CTC, backward, AdamW) on every batch, after one
    warm-up step."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    net.train()
    step_fn(net, *batches[0], targets[0], optimizer)  # warm-up: allocator, kernels
    start = time.perf_counter()
    for (feats, lengths), target in zip(batches, targets, strict=True):
        step_fn(net, feats, lengths, target, optimizer)
    return time.perf_counter() - start


def _step(net, feats, lengths, target, optimizer, deepspeech: bool) -> None:
    optimizer.zero_grad(set_to_none=True)
    if deepspeech:
        log_probs, lengths = net(feats.unsqueeze(1)), lengths  # (batch, time, vocab)
    else:
        log_probs, lengths = net(feats, lengths)
    ids, target_lengths = target
    loss = F.ctc_loss(log_probs.transpose(0, 1), ids, lengths, target_lengths, zero_infinity=True)
    loss.backward()
    optimizer.step()


def training_rows(
    recognizer: Recognizer, waves: Sequence[Tensor], texts: Sequence[str], batch_seconds: float,
    threads: int,
) -> list[Row]:  # fmt: skip
    """Training throughput on precomputed features, ours against DeepSpeech, same batches, on
    `threads` intra-op threads; with more than one, also as that many one-thread processes
    (benchmarks.ddp), against DeepSpeech on the threads."""
    torch.set_num_threads(threads)
    rate = recognizer.features.sample_rate
    groups = list(DurationBatchSampler([len(w) / rate for w in waves], batch_seconds))
    batches = [recognizer.features_of([waves[i] for i in g]) for g in groups]
    vocab = recognizer.vocab
    targets = [
        (torch.tensor([c for i in g for c in vocab.encode(texts[i])]),
         torch.tensor([len(vocab.encode(texts[i])) for i in g]))
        for g in groups
    ]  # fmt: skip
    ours = recognizer.checkpoint.build_model()
    peer = deepspeech_like(ours.config.n_mels, ours.config.vocab_size, parameter_count(ours))
    steps = {
        "DeepSpeech": partial(_step, deepspeech=True),
        "ours": partial(_step, deepspeech=False),
    }
    nets = {"DeepSpeech": peer, "ours": ours}
    audio = sum(len(w) for w in waves) / rate
    speeds = {
        f"{name}, {threads} threads": audio / _train_speed(nets[name], batches, targets, step)
        for name, step in steps.items()
    }  # x realtime
    if threads > 1:
        shared = len(groups) - len(groups) % threads  # batches that divide among the processes
        audio = sum(len(waves[i]) for g in groups[:shared] for i in g) / rate
        for name, step in steps.items():
            seconds = ddp_train_seconds(
                nets[name], batches[:shared], targets[:shared], step, threads
            )
            speeds[f"{name}, {threads} processes x 1 thread (DDP)"] = audio / seconds
    reference = speeds[f"DeepSpeech, {threads} threads"]
    return [
        Row("training", f"training throughput: {name}", speed, "x realtime", speed / reference,
            f"{len(waves)} clips, batches of {batch_seconds:.0f} s; ratio against DeepSpeech "
            f"on {threads} thread(s)")
        for name, speed in speeds.items()
    ]  # fmt: skip


def _grammar(path: Path) -> Path:
    """JSGF: one or more digit words; 'oh', the usual alias of zero, is allowed and mapped."""
    words = " | ".join((*DIGIT_WORDS, "oh"))
    path.write_text(
        f"#JSGF V1.0;\ngrammar digits;\npublic <utterance> = <digit>+;\n<digit> = {words};\n"
    )
    return path


def pocketsphinx_rows(waves: Sequence[Tensor], rate: int, refs: Sequence[str]) -> list[Row]:
    """pocketsphinx (bundled en-us model, digits grammar): WER and RTF of decoding alone.

    FSDD is 8 kHz and the model 16 kHz, so the audio is resampled up first (not timed).
    """
    from pocketsphinx import Decoder

    with tempfile.TemporaryDirectory() as tmp:
        decoder = Decoder(jsgf=str(_grammar(Path(tmp) / "digits.gram")), loglevel="ERROR")
    pcm = [
        (resample(w, rate, SPHINX_RATE).clamp(-1, 1) * 32767).to(torch.int16).numpy().tobytes()
        for w in waves
    ]
    hyps = []
    start = time.perf_counter()
    for raw in pcm:
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        words = hyp.hypstr.split() if hyp else []
        hyps.append(" ".join("zero" if w == "oh" else w for w in words))
    seconds = time.perf_counter() - start
    audio = sum(len(w) for w in waves) / rate
    wer = wer_percent([normalize_text(r) for r in refs], hyps)
    return [
        Row("peers", "pocketsphinx en-us + digits JSGF: WER", wer, "WER %", None,
            f"{len(refs)} test clips"),
        Row("peers", "pocketsphinx en-us + digits JSGF: decoding", seconds / audio, "RTF", None,
            "1 thread (its decoder is single-threaded)"),
    ]  # fmt: skip
