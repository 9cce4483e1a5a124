import logging
from pathlib import Path

import pytest

from asr.checkpoint import load_checkpoint
from asr.cli import main
from asr.inference.recognizer import Recognizer
from benchmarks.decode import decode_benchmark

from digit_model import digit_text, unheard_set


@pytest.fixture(scope="module")
def lm_files(connected, tmp_path_factory) -> tuple[Path, Path]:
    """`asr lm` on random digit strings: (ARPA, lexicon)."""
    root = tmp_path_factory.mktemp("lm")
    arpa, lexicon = root / "d.arpa", root / "d.lex"
    text = digit_text(root / "d.txt")
    argv = ["lm", "-q", str(text), "--arpa", str(arpa), "--lexicon", str(lexicon)]
    assert main([*argv, "--order", "2", "--model", str(connected)]) == 0
    assert "\\data\\" in arpa.read_text()
    assert len(lexicon.read_text().splitlines()) == 10
    return arpa, lexicon


@pytest.fixture(scope="module")
def dev(fsdd, trained, tmp_path_factory) -> Path:
    return unheard_set(fsdd, trained[1], tmp_path_factory.mktemp("dev"), 4, seed=7)


def test_tune_stores_the_best_grid_point_in_the_checkpoint(
    connected, lm_files, dev, tmp_path, capsys, caplog
):
    arpa, lexicon = lm_files
    out = tmp_path / "tuned.pt"
    argv = ["tune", "--model", str(connected), "--manifest", str(dev), "--lm", str(arpa)]
    argv += ["--lexicon", str(lexicon), "--output", str(out)]
    with caplog.at_level(logging.INFO, logger="asr"):
        grid = ["--lm-weights=0,2", "--word-scores=-1,1", "--tails=0,0.1", "--beam-size", "20"]
        assert main([*argv, *grid]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "WER" in line]
    assert len(rows) == 8 and sum(row.startswith("tail 0.1\t") for row in rows) == 4
    grid_logs = [r for r in caplog.records if r.getMessage().startswith("tail")]
    assert grid_logs == []  # the grid is printed once, on stdout
    wers = [float(row.split("WER ")[1].rstrip("%")) for row in rows]
    tuned = load_checkpoint(out)
    decoding = tuned.decoding
    assert decoding.method == "beam" and decoding.beam_size == 20
    assert decoding.lm == arpa.resolve()
    assert 100 * tuned.metadata["tuned"]["wer"] == pytest.approx(min(wers), abs=0.01)
    assert (decoding.lm_weight, decoding.word_score) in {(0, -1), (0, 1), (2, -1), (2, 1)}
    assert decoding.tail_seconds in {0.0, 0.1}
    assert load_checkpoint(connected).decoding is None  # --output leaves the original alone
    recognizer = Recognizer.load(out)
    assert recognizer.decoding_settings()["decoder"] == "beam"  # the tuned setting is the default
    greedy = Recognizer.load(out, method="greedy").decoding
    assert greedy.lm is None and greedy.tail_seconds == decoding.tail_seconds  # the model's


def test_a_tail_of_silence_is_appended_to_every_input_and_only_when_asked(connected, dev):
    from asr.audio import load_audio
    from asr.decode_config import DecodeConfig
    from asr.manifest import read_manifest

    plain = Recognizer.load(connected)
    tailed = plain.with_decoding(DecodeConfig(tail_seconds=0.1))
    wave = load_audio(read_manifest(dev)[0].audio_filepath, plain.features.sample_rate)
    _, frames = plain.features_of([wave])
    feats, tailed_frames = tailed.features_of([wave])
    assert int(tailed_frames[0] - frames[0]) == 10  # 0.1 s at the 10 ms hop
    assert feats.shape[1] == int(tailed_frames[0])
    transcript = next(tailed.transcribe([read_manifest(dev)[0]]))
    assert transcript.duration == pytest.approx(len(wave) / plain.features.sample_rate)


def test_decode_benchmark_rows(connected, lm_files, dev):
    arpa, lexicon = lm_files
    rows = decode_benchmark(connected, dev, arpa, lexicon, beam_size=20)
    by_name = {row["decoder"]: row for row in rows}
    assert list(by_name) == ["greedy", "beam", "beam+lm"]
    for row in rows:
        assert row["utterances"] == 4 and row["utt_per_s"] > 0
        assert row["e2e_utt_per_s"] < row["utt_per_s"]
    assert by_name["beam+lm"]["wer"] < by_name["greedy"]["wer"]
    assert by_name["beam+lm"]["lm_weight"] == 2.0


def test_tuning_a_shipped_model_in_place_is_a_usage_error(capsys):
    argv = ["tune", "--model", "digits", "--manifest", "d.jsonl", "--lm", "x", "--lexicon", "y"]
    assert main(argv) == 2
    assert "needs -o/--output" in capsys.readouterr().err


def test_a_streaming_model_is_tuned_on_the_finals_of_its_dev_stream(capsys):
    """The shipped digits-stream on data/samples streamed with 1 s pauses: every grid point is
    scored on the same finals, joined against the joined references."""
    from asr.decode_config import DecodeConfig
    from asr.errors import AsrError
    from asr.evaluation.tune import stream_log_probs, tune
    from asr.inference.shipped import SHIPPED_DIR, STREAM_NAME, resolve_model
    from asr.manifest import read_manifest
    from tests.conftest import ROOT

    manifest = ROOT / "data" / "samples" / "manifest.jsonl"
    recognizer = Recognizer.load(resolve_model(STREAM_NAME), method="greedy")
    finals, ref = stream_log_probs(recognizer, manifest, 1.0)
    assert ref == " ".join(u.text for u in read_manifest(manifest))
    assert len(finals) >= len(read_manifest(manifest)) // 2  # cut at the pauses
    base = DecodeConfig(
        method="beam",
        beam_size=20,
        lm=SHIPPED_DIR / "stream.arpa",
        lexicon=SHIPPED_DIR / "stream.lex",
    )
    result = tune(recognizer, manifest, base, (0.0, 3.0), (-4.0, 4.0), stream_pause=1.0)
    wers = [row["wer"] for row in result.grid]
    assert len(wers) == 4 and result.wer == min(wers) < 1.0 and len(set(wers)) > 1
    assert (result.best.lm_weight, result.best.word_score, result.best.tail_seconds) in {
        (w, s, 0.0) for w in (0.0, 3.0) for s in (-4.0, 4.0)
    }
    offline = Recognizer.load(resolve_model(None), method="greedy")  # bidirectional
    with pytest.raises(AsrError, match="cannot stream"):
        tune(offline, manifest, base, (1.0,), (0.0,), stream_pause=1.0)
    with pytest.raises(AsrError, match="pause must be >= 0"):
        tune(recognizer, manifest, base, (1.0,), (0.0,), stream_pause=-1.0)
