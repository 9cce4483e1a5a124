"""Batched inference gives each file exactly what it gets alone, whatever its batch-mates."""

import json

import torch

from asr.audio import load_audio
from asr.inference import Recognizer


def test_log_probs_do_not_depend_on_batch_mates(trained):
    exp, manifest = trained
    paths = [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()]
    recognizer = Recognizer.load(exp / "best.pt")
    waves = [load_audio(p, recognizer.features.sample_rate) for p in paths[:6]]
    assert len({len(w) for w in waves}) > 1  # padding happens
    batch, lengths = recognizer.log_probs(waves)
    for wave, log_probs, n in zip(waves, batch, lengths, strict=True):
        alone, _ = recognizer.log_probs([wave])
        assert torch.allclose(log_probs[:n], alone[0], atol=1e-4)


def test_padding_frames_of_features_are_zero(trained):
    exp, _ = trained
    recognizer = Recognizer.load(exp / "best.pt")
    feats, lengths = recognizer.features_of([torch.zeros(800), 0.1 * torch.randn(4000)])
    assert lengths[0] < lengths[1]
    assert torch.all(feats[0, lengths[0] :] == 0)
