"""Batched inference gives each file exactly what it gets alone, whatever its batch-mates."""

import dataclasses
import json

import torch
from torch.nn.utils.rnn import pad_sequence

from asr.audio import load_audio
from asr.checkpoint import load_checkpoint
from asr.features import log_mel
from asr.inference.recognizer import Recognizer
from asr.inference.shipped import resolve_model
from asr.manifest import read_manifest


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


def test_files_are_normalised_by_their_speakers_mean(trained):
    """A model that normalises by speaker: transcribe feeds each utterance its speaker's mean
    over the given utterances, as log_probs does when handed that normaliser; bare paths (no
    speaker) fall back to their own means."""
    exp, manifest = trained
    ckpt = load_checkpoint(exp / "best.pt")
    ckpt.feature_config = dataclasses.replace(ckpt.feature_config, normalisation="speaker")
    recognizer = Recognizer(ckpt)
    utterances = read_manifest(manifest)[:4]
    paths = [u.audio_filepath for u in utterances]
    alone = [t.log_probs for t in recognizer.transcribe(paths, keep_log_probs=True)]
    normaliser = recognizer.normaliser_for(utterances)
    assert set(normaliser.speaker_means) == {u.speaker for u in utterances}
    by_speaker = [t.log_probs for t in recognizer.transcribe(utterances, keep_log_probs=True)]
    wave = load_audio(paths[0], recognizer.features.sample_rate)
    expected, n = recognizer.log_probs([wave], [utterances[0].speaker], normaliser)
    torch.testing.assert_close(by_speaker[0], expected[0, : n[0]], atol=1e-4, rtol=0)
    assert not torch.allclose(by_speaker[0], alone[0], atol=1e-2)


def test_batched_features_leave_transcripts_unchanged(fsdd):
    """The shipped model on every test clip: features of a whole batch at once (one STFT) equal
    the file-by-file log-mels, normalised alone and zero-padded, and so do the transcripts."""
    recognizer = Recognizer.load(resolve_model(None))
    paths = sorted((fsdd / "recordings").glob("*.wav"))
    config = recognizer.features
    waves = [load_audio(p, config.sample_rate, config.min_samples) for p in paths]
    tail = torch.zeros(round(recognizer.decoding.tail_seconds * config.sample_rate))
    alone = [recognizer.normaliser(log_mel(torch.cat([w, tail]), config)) for w in waves]
    feats, lengths = recognizer.features_of(waves)
    assert lengths.tolist() == [len(f) for f in alone]
    torch.testing.assert_close(feats, pad_sequence(alone, batch_first=True), atol=1e-4, rtol=0)
    with torch.inference_mode():
        reference = recognizer.decode(*recognizer.model(pad_sequence(alone, batch_first=True),
                                                        lengths))  # fmt: skip
    texts = [t.text for t in recognizer.transcribe(paths)]
    assert texts == reference
    assert sum(t != "" for t in texts) > len(texts) // 2  # a real model, real words
