"""The benchmark's parts on tiny inputs: well-formed rows, nothing about how fast."""

import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import load_audio
from asr.checkpoint import Checkpoint
from asr.corpora.digits import DIGIT_WORDS
from asr.features import FeatureConfig
from asr.inference.recognizer import Recognizer
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary
from asr.train import configs_from_toml
from benchmarks.bench import LONG_SECONDS, _long_recording, _train_config, machine
from benchmarks.peers import deepspeech_like, pocketsphinx_rows, throughput_rows, training_rows
from benchmarks.process import run_measured
from benchmarks.rows import Row, best_time, format_table, rows_to_json
from benchmarks.speed import (
    int8_matmul_gflops,
    load_rows,
    lstm_flops,
    lstm_rows,
    matmul_gflops,
    rtf_rows,
)
from benchmarks.stream import Word, latencies, stream_rows


@pytest.fixture(scope="module")
def checkpoint() -> Checkpoint:
    """An untrained 8 kHz digits-sized model: speed does not depend on the weights."""
    torch.manual_seed(0)
    vocab = Vocabulary.from_texts([" ".join(DIGIT_WORDS)])
    config = ModelConfig(
        n_mels=20, vocab_size=len(vocab), conv_channels=(4, 4),
        conv_kernels=((3, 5), (3, 5)), lstm_hidden=16, lstm_layers=2, dropout=0.0,
    )  # fmt: skip
    features = FeatureConfig(sample_rate=8000, n_mels=20)
    state = CTCModel(config).state_dict()
    return Checkpoint(config, features, vocab, torch.zeros(20), torch.ones(20), state)


@pytest.fixture(scope="module")
def waves() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [0.1 * torch.randn(n, generator=generator) for n in (2400, 4000, 3100, 5600)]


def _well_formed(rows: list[Row], count: int) -> None:
    assert len(rows) == count
    for row in rows:
        assert row.value is not None and np.isfinite(row.value) and row.value >= 0
        assert row.section and row.name and row.unit


def test_lstm_flops_counts_both_directions_and_all_layers():
    config = ModelConfig(
        n_mels=8, conv_channels=(2,), conv_kernels=((3, 3),), conv_strides=((1, 2),),
        lstm_hidden=4, lstm_layers=2,
    )  # fmt: skip
    assert config.conv_out_features == 8
    first = 2 * 2 * 4 * 4 * (8 + 4)  # directions x flop/MAC x gates x hidden x (in + hidden)
    second = 2 * 2 * 4 * 4 * (8 + 4)  # input is 2 x hidden = 8 again
    assert lstm_flops(config, frames=10) == 10 * (first + second)


def test_best_time_takes_the_fastest_run():
    calls = []
    seconds = best_time(lambda: calls.append(1), repeats=3)
    assert len(calls) == 4 and seconds >= 0  # one warm-up, three timed


def test_speed_rows(checkpoint, waves):
    recognizers = {"fp32": Recognizer(checkpoint), "int8": Recognizer(checkpoint, precision="int8")}
    _well_formed(rtf_rows(recognizers, waves, (1,), 1.0, "tiny"), 2)
    peaks = {f"fp32 {n}": matmul_gflops(n, size=64, repeats=1) for n in (1, 2)}
    peaks |= {f"int8 {n}": int8_matmul_gflops(n, size=64, repeats=1) for n in (1, 2)}
    assert all(p > 0 for p in peaks.values())
    rows = lstm_rows(recognizers["fp32"], waves, peaks, bucket=1.0)
    _well_formed(rows, 6)
    assert rows[0].ratio == 1.0 and "% of" in rows[0].note


def test_peer_rows(checkpoint, waves):
    recognizer = Recognizer(checkpoint)
    model = checkpoint.build_model()
    size = sum(p.numel() for p in model.parameters())
    peer = deepspeech_like(20, len(checkpoint.vocab), size)
    assert 0.5 < sum(p.numel() for p in peer.parameters()) / size < 2
    _well_formed(throughput_rows(recognizer, waves, 1.0, threads=1), 3)
    texts = ["one two", "three", "four five six", "seven"]
    rows = training_rows(recognizer, waves, texts, 1.0, threads=1)
    _well_formed(rows, 2)
    assert rows[0].ratio == 1.0


def test_pocketsphinx_recognises_real_digits(fsdd):
    pytest.importorskip("pocketsphinx")
    clips = [fsdd / "recordings" / f"{d}_theo_0.wav" for d in (1, 4, 7)]
    waves = [load_audio(c, 8000) for c in clips]
    rows = pocketsphinx_rows(waves, 8000, ["one", "four", "seven"])
    _well_formed(rows, 2)
    assert rows[0].unit == "WER %" and rows[0].value <= 100


def test_run_measured_reports_the_child_own_peak_memory():
    grow = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096]); print('done')"
    big = run_measured([sys.executable, "-c", grow])
    small = run_measured([sys.executable, "-c", "print('done')"])
    assert big.stdout.strip() == "done"
    assert big.peak_rss_mib > small.peak_rss_mib + 150  # not the maximum over all children


def test_long_recording_and_train_config(checkpoint, waves, tmp_path):
    seconds = _long_recording(waves, 8000, tmp_path / "long.wav")
    assert LONG_SECONDS <= seconds < LONG_SECONDS + 1
    assert sf.info(tmp_path / "long.wav").duration == pytest.approx(seconds, abs=1e-3)
    path = _train_config(checkpoint, tmp_path / "train.toml")
    _, model, features = configs_from_toml(path, train_manifest=tmp_path / "t.jsonl",
                                           dev_manifest=None, out_dir=tmp_path)  # fmt: skip
    assert features == checkpoint.feature_config
    assert model.lstm_hidden == checkpoint.model_config.lstm_hidden
    assert model.conv_kernels == checkpoint.model_config.conv_kernels


def test_table_and_json_carry_every_row():
    rows = [Row("a", "x", 0.00123, "RTF", 2.0, "n"), Row("b", "y", None, "s", None, "missing")]
    table = format_table(rows)
    assert table.count("\n") == 3 and "| 0.0012 | RTF | 2.00x |" in table and "n/a" in table
    assert rows_to_json(rows)[1] == {
        "section": "b", "name": "y", "value": None, "unit": "s", "ratio": None, "note": "missing",
    }  # fmt: skip
    assert machine()["cores"] >= 1


def test_load_rows_time_each_precision(checkpoint, tmp_path):
    from asr.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", checkpoint)
    rows = load_rows(tmp_path / "model.pt", ("fp32", "int8"))
    _well_formed(rows, 2)
    assert "int8" in rows[1].name


def test_stream_latency_counts_recognised_words_from_their_end():
    words = [Word("one", 1.0, 1.4), Word("two", 1.5, 1.9), Word("six", 3.0, 3.3)]
    events = [
        {"type": "partial", "text": "one", "audio_end": 1.5},
        {"type": "partial", "text": "one two", "audio_end": 2.0},
        {
            "type": "final",
            "text": "one two",
            "audio_end": 2.3,
            "words": [
                {"word": "one", "start": 1.1, "end": 1.3},
                {"word": "two", "start": 1.6, "end": 1.8},
            ],
        },  # fmt: skip
        {
            "type": "final",
            "text": "five",
            "audio_end": 3.7,
            "words": [
                {"word": "five", "start": 3.1, "end": 3.2},  # misrecognised: no latency
            ],
        },  # fmt: skip
    ]
    finals, first_partial = latencies(events, words)
    assert finals == pytest.approx([0.9, 0.4]) and first_partial == pytest.approx([0.1, 0.1])


def test_stream_rows_give_the_finals_wer_against_offline():
    figures = {
        "audio_seconds": 600.0, "words": 10, "median_word_latency_s": 0.35,
        "p90_word_latency_s": 1.0, "first_partial_within_0.3s": 1.0,
        "median_first_partial_s": -0.3, "peak_rss_mb": 650, "compute_rtf": 0.025,
        "stream_wer": 30.0, "offline_wer": 20.0, "model": "s.pt", "offline_model": "digits",
    }  # fmt: skip
    rows = stream_rows(figures)
    assert [r.section for r in rows] == ["streaming"] * 5
    assert rows[-1].value == 30.0 and rows[-1].ratio == pytest.approx(1.5)
    assert stream_rows({**figures, "offline_wer": None})[-1].ratio is None
