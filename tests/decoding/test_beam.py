import json
import logging
from pathlib import Path

import pytest
import torch

from asr.checkpoint import load_checkpoint
from asr.config import config_from_dict, config_to_dict
from asr.decode_config import DecodeConfig
from asr.decoding.beam import BeamDecoder, GreedyDecoder
from asr.decoding.greedy import greedy_decode
from asr.decoding.lexicon import write_lexicon
from asr.decoding.lm import LMConfig, build_arpa, read_words
from asr.errors import AsrError
from asr.evaluation.tune import corpus_rates
from asr.inference.recognizer import Recognizer
from asr.text import Vocabulary

from digit_model import digit_text, unheard_set

VOCAB = Vocabulary(("<b>", " ", "a", "b", "c"))


@pytest.fixture(scope="session")
def digit_lm(tmp_path_factory, connected) -> tuple[Path, Path]:
    """(ARPA, lexicon) of a bigram over random digit strings."""
    root = tmp_path_factory.mktemp("digit_lm")
    arpa, lexicon = root / "digits.arpa", root / "digits.lex"
    build_arpa(digit_text(root / "digits.txt"), arpa, LMConfig(order=2))
    write_lexicon(read_words(arpa), lexicon, Recognizer.load(connected).vocab.symbols)
    return arpa, lexicon


@pytest.fixture(scope="session")
def held_out(fsdd, trained, tmp_path_factory) -> tuple[list[Path], list[str]]:
    """Six files of five george digits the model never heard, with pauses; and references."""
    manifest = unheard_set(fsdd, trained[1], tmp_path_factory.mktemp("held_out"), 6)
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    return [Path(e["audio_filepath"]) for e in entries], [e["text"] for e in entries]


def _random_log_probs(batch: int, time: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(batch, time, len(VOCAB), generator=generator)
    return logits.log_softmax(dim=-1)  # (batch, time, vocab)


def test_config_rejects_inconsistent_settings():
    with pytest.raises(AsrError, match="lexicon"):
        DecodeConfig(method="beam", lm=Path("x.arpa"))
    with pytest.raises(AsrError, match="beam"):
        DecodeConfig(nbest=3)
    with pytest.raises(AsrError, match="method"):
        DecodeConfig(method="viterbi")
    with pytest.raises(AsrError, match="nbest"):
        DecodeConfig(method="beam", beam_size=2, nbest=3)


def test_config_round_trips_through_plain_dict():
    config = DecodeConfig(
        method="beam", lexicon=Path("a.lex"), lm=Path("a.arpa"), lm_weight=0.5, nbest=2
    )
    values = config_to_dict(config)
    assert values["lm"] == "a.arpa" and isinstance(values["lexicon"], str)
    assert config_from_dict(DecodeConfig, {**values, "tuned_wer": 0.1}) == config


def test_greedy_decoder_matches_best_path():
    log_probs = _random_log_probs(3, 40)
    lengths = torch.tensor([40, 31, 7])
    hyps = GreedyDecoder(VOCAB)(log_probs, lengths)
    for i, ids in enumerate(greedy_decode(log_probs, lengths)):
        assert hyps[i][0].tokens == tuple(ids)
        assert hyps[i][0].text == VOCAB.decode(ids)
        best = log_probs[i, : lengths[i]].max(dim=-1).values.sum()
        assert hyps[i][0].score == pytest.approx(float(best), abs=1e-4)


def test_lexicon_free_beam_finds_the_best_path_on_peaky_input():
    # One symbol dominates each frame, so the best path is also the most probable labelling.
    ids = [2, 0, 3, 3, 0, 1, 4, 0, 2]
    log_probs = torch.full((1, len(ids), len(VOCAB)), -12.0)
    log_probs[0, torch.arange(len(ids)), ids] = -0.001
    hyps = BeamDecoder(DecodeConfig(method="beam", beam_size=8), VOCAB)(
        log_probs, torch.tensor([len(ids)])
    )
    assert hyps[0][0].text == "ab ca"


def test_nbest_is_distinct_and_sorted():
    config = DecodeConfig(method="beam", beam_size=20, nbest=4)
    hyps = BeamDecoder(config, VOCAB)(_random_log_probs(2, 30), torch.tensor([30, 25]))
    for nbest in hyps:
        assert 1 < len(nbest) <= 4
        scores = [h.score for h in nbest]
        assert scores == sorted(scores, reverse=True)
        assert len({h.text for h in nbest}) == len(nbest)


def test_missing_or_bad_files_are_asr_errors(tmp_path):
    with pytest.raises(AsrError, match="no such file"):
        BeamDecoder(DecodeConfig(method="beam", lexicon=tmp_path / "none.lex"), VOCAB)
    bad = tmp_path / "bad.lex"
    bad.write_text("abc\ta b q |\n")  # "q" is not a token
    with pytest.raises(AsrError, match="bad.lex"):
        BeamDecoder(DecodeConfig(method="beam", lexicon=bad), VOCAB)


def test_kenlm_loading_chatter_goes_to_the_debug_log_not_stderr(tmp_path, capfd, caplog):
    text = tmp_path / "words.txt"
    text.write_text("ab ca\nbc ab ca\nca bc\n")
    arpa, lexicon = tmp_path / "words.arpa", tmp_path / "words.lex"
    build_arpa(text, arpa, LMConfig(order=2))
    write_lexicon(read_words(arpa), lexicon, VOCAB.symbols)
    with caplog.at_level(logging.DEBUG, logger="asr.decoding.beam"):
        decoder = BeamDecoder(DecodeConfig(method="beam", lexicon=lexicon, lm=arpa), VOCAB)
    assert "Loading the LM" not in capfd.readouterr().err
    assert "Loading the LM" in caplog.text  # KenLM did speak; it was kept, not lost
    hyps = decoder(_random_log_probs(1, 20), torch.tensor([20]))
    assert set(hyps[0][0].text.split()) <= {"ab", "bc", "ca"}


def test_beam_with_digit_lm_beats_greedy_on_unheard_recordings(connected, digit_lm, held_out):
    files, refs = held_out
    arpa, lexicon = digit_lm
    ckpt = load_checkpoint(connected)
    wers = {}
    for name, config in {
        "greedy": DecodeConfig(),
        "beam+lm": DecodeConfig(method="beam", lexicon=lexicon, lm=arpa, lm_weight=1.0),
    }.items():
        recognizer = Recognizer(ckpt, config)
        wers[name] = corpus_rates(refs, [t.text for t in recognizer.transcribe(files)])[0]
    assert wers["greedy"] > 0.1  # the tiny model runs words together and misspells them
    assert wers["beam+lm"] < wers["greedy"] / 2
    assert recognizer.decoding_settings()["lm"] == str(arpa)


def test_nbest_on_real_audio_starts_with_the_transcript(connected, digit_lm, held_out):
    arpa, lexicon = digit_lm
    recognizer = Recognizer.load(connected, method="beam", lexicon=lexicon, lm=arpa, nbest=3)
    result = next(recognizer.transcribe(held_out[0][:1]))
    # Up to 3, best first: the beam may hold fewer distinct word strings (the tiny model's
    # weights, hence the count, move with the thread count the suite trained it under).
    assert 2 <= len(result.nbest) <= 3
    assert [h.score for h in result.nbest] == sorted((h.score for h in result.nbest), reverse=True)
    assert result.nbest[0].text == result.text
    assert all(set(h.text.split()) <= set(read_words(arpa)) for h in result.nbest)
