"""The recurrent cell as a choice: RNN / GRU / LSTM x uni / bi at comparable parameter counts.

`python -m benchmarks.cells --manifest exp/fsdd/connected_train.jsonl -o build/cells.json`
measures, on one thread, what does not need a trained model (WER does: the digits recipe's
RESULTS.md):

- parameters, with each model's hidden size chosen to come closest to the uni LSTM's (160);
- CPU seconds of one training step (forward + backward, a batch of 16 one-second inputs) and of
  inference on 60 s, as RTF;
- gradient flow: the norm of d(log-prob at the last frame)/d(input frame t), at initialisation,
  over a 10 s input, as the ratio of the first second's to the last second's (how far back a
  loss reaches);
- with `--trained DIR` (the digits recipe's `$(EXP)/cells`), the same gradient reach of each
  trained model there (DIR/CELL-DIRECTION/model/best.pt), in eval mode;
- clipping: a plain uni RNN trained for `--steps` steps on ~10 s inputs (connected digits of the
  manifest joined), with and without clipping at 5: gradient-norm median, max, steps clipped,
  non-finite steps, mean loss of the last 10 steps.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from asr.audio import load_audio
from asr.checkpoint import load_checkpoint
from asr.features import FeatureConfig, log_mel
from asr.manifest import read_manifest
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary, normalize_text
from benchmarks.peers import parameter_count

BASE = ModelConfig(
    n_mels=40, conv_channels=(16, 16), conv_kernels=((5, 11), (5, 11)),
    conv_strides=((2, 2), (1, 2)), lstm_hidden=160, lstm_layers=2, cell="lstm",
    bidirectional=False, lookahead=2,
)  # fmt: skip
FEATURES = FeatureConfig(sample_rate=8000, n_mels=40)
FRAMES_PER_SECOND = 100  # 10 ms hop


def params(config: ModelConfig) -> int:
    return parameter_count(CTCModel(config))


def comparable(cell: str, bidirectional: bool, target: int) -> ModelConfig:
    """The config of this cell and direction whose parameter count is closest to `target`."""
    shaped = replace(BASE, cell=cell, bidirectional=bidirectional,
                     lookahead=0 if bidirectional else BASE.lookahead)  # fmt: skip
    sizes = range(32, 512, 8)
    candidates = (replace(shaped, lstm_hidden=h) for h in sizes)
    return min(candidates, key=lambda c: abs(params(c) - target))


def cpu_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    started = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - started) / repeats


def training_step_seconds(model: CTCModel) -> float:
    feats = torch.randn(16, FRAMES_PER_SECOND, 40)  # (batch, time, n_mels)
    lengths = torch.full((16,), FRAMES_PER_SECOND)
    targets = torch.randint(1, 29, (16, 5))

    def step():
        log_probs, out_lengths = model(feats, lengths)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, torch.full((16,), 5))
        loss.backward()

    return cpu_seconds(step, 5)


@torch.inference_mode()
def inference_rtf(model: CTCModel) -> float:
    seconds = 60
    feats = torch.randn(1, seconds * FRAMES_PER_SECOND, 40)  # (batch, time, n_mels)
    lengths = torch.tensor([feats.shape[1]])
    return cpu_seconds(lambda: model(feats, lengths), 2) / seconds


def gradient_reach(model: CTCModel, seconds: int = 10) -> float:
    """||d log-prob(last frame) / d input|| over the first second / over the last second."""
    noise = torch.Generator().manual_seed(0)  # the same input for every model
    feats = torch.randn(1, seconds * FRAMES_PER_SECOND, 40, generator=noise, requires_grad=True)
    log_probs, _ = model(feats, torch.tensor([feats.shape[1]]))  # (1, time', vocab)
    log_probs[0, -1, 1:].logsumexp(-1).backward()  # any character at the last frame
    per_frame = feats.grad[0].norm(dim=-1)  # (time,)
    first, last = per_frame[:FRAMES_PER_SECOND].sum(), per_frame[-FRAMES_PER_SECOND:].sum()
    return float(first / last)


def trained_reach(folder: Path) -> dict[str, float]:
    """Gradient reach of each trained checkpoint under `folder`, by its folder's name."""
    reach = {}
    for path in sorted(folder.glob("*/model/best.pt")):
        ckpt = load_checkpoint(path)
        model = ckpt.build_model()  # eval mode, no dropout: the model as it decodes
        reach[path.parts[-3]] = float(f"{gradient_reach(model):.2e}")
    return reach


def long_batches(manifest: Path, vocab: Vocabulary, seconds: float, batch: int):
    """Connected-digit clips joined into ~`seconds` inputs: (feats, lengths, targets, tlens)."""
    utts = list(read_manifest(manifest))
    feats, texts, joined, text = [], [], [], []
    for utt in utts:
        joined.append(load_audio(utt.audio_filepath, FEATURES.sample_rate))
        text.append(normalize_text(utt.text))
        if sum(len(w) for w in joined) >= seconds * FEATURES.sample_rate:
            feats.append(log_mel(torch.cat(joined), FEATURES))
            texts.append(" ".join(text))
            joined, text = [], []
    for i in range(0, len(feats) - batch + 1, batch):
        chunk = feats[i : i + batch]
        mean = torch.cat(chunk).mean(0)
        std = torch.cat(chunk).std(0)
        lengths = torch.tensor([len(f) for f in chunk])
        padded = torch.nn.utils.rnn.pad_sequence([(f - mean) / std for f in chunk], True)
        ids = [torch.tensor(vocab.encode(t)) for t in texts[i : i + batch]]
        yield padded, lengths, torch.cat(ids), torch.tensor([len(t) for t in ids])


def clipping_run(manifest: Path, clip: float, steps: int) -> dict:
    torch.manual_seed(0)
    vocab = Vocabulary.from_texts(normalize_text(u.text) for u in read_manifest(manifest))
    model = CTCModel(comparable("rnn", False, params(BASE)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3)
    norms, losses, bad = [], [], 0
    batches = list(long_batches(manifest, vocab, 10.0, 4))
    for step in range(steps):
        feats, lengths, targets, tlens = batches[step % len(batches)]
        optimizer.zero_grad()
        log_probs, out = model(feats, lengths)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out, tlens, zero_infinity=True)
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        if not math.isfinite(norm) or not math.isfinite(loss.item()):
            bad += 1
            continue
        optimizer.step()
        norms.append(norm)
        losses.append(loss.item())
    ordered = sorted(norms)
    return {
        "clip": clip, "steps": steps, "non_finite_steps": bad,
        "grad_norm_median": round(ordered[len(ordered) // 2], 2) if ordered else None,
        "grad_norm_max": round(ordered[-1], 2) if ordered else None,
        "steps_over_5": sum(n > 5 for n in norms),
        "loss_last_10": round(sum(losses[-10:]) / max(1, len(losses[-10:])), 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="connected digits")
    parser.add_argument("--steps", type=int, default=60, help="training steps per clipping run")
    parser.add_argument("--trained", type=Path, help="folder of the trained cells (cells.mk)")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = trained_reach(args.trained) if args.trained else {}
    if trained:
        print(json.dumps({"trained_gradient_reach_10s": trained}), flush=True)
    target, rows = params(BASE), []
    for cell in ("rnn", "gru", "lstm"):
        for bidirectional in (False, True):
            config = comparable(cell, bidirectional, target)
            torch.manual_seed(0)
            model = CTCModel(config)
            rows.append({
                "cell": cell, "bidirectional": bidirectional, "hidden": config.lstm_hidden,
                "params": params(config),
                "train_step_cpu_s": round(training_step_seconds(model), 3),
                "inference_rtf": round(inference_rtf(model.eval()), 4),
                "gradient_reach_10s": float(f"{gradient_reach(model.train()):.2e}"),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    clipping = [clipping_run(args.manifest, clip, args.steps) for clip in (5.0, math.inf)]
    for row in clipping:
        print(json.dumps(row), flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        result = {"cells": rows, "clipping": clipping, "trained_gradient_reach_10s": trained}
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
