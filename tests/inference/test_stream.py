"""Streaming: chunked features and log-probs equal the offline ones; endpointing; events."""

from dataclasses import replace

import pytest
import torch

from asr.audio import load_audio
from asr.checkpoint import Checkpoint
from asr.decode_config import DecodeConfig
from asr.errors import AsrError
from asr.features import FeatureConfig, log_mel
from asr.inference.recognizer import Recognizer
from asr.inference.segment import SegmentConfig
from asr.inference.stream import FeatureStream, QuietStream, Stream, StreamConfig, utterance_end
from asr.inference.stream_model import ModelStream
from asr.model import CTCModel, ModelConfig
from asr.text import Vocabulary
from tests.conftest import ROOT

FEATURES = FeatureConfig(sample_rate=8000, n_mels=40)
VOCAB = Vocabulary(("<b>", " ", "a", "b", "c"))
UNI = ModelConfig(
    n_mels=40, vocab_size=5, conv_channels=(4, 4), conv_kernels=((5, 11), (5, 11)),
    lstm_hidden=16, lstm_layers=2, dropout=0.0, bidirectional=False,
)  # fmt: skip
SPEECH = ROOT / "data" / "samples" / "synth_espeak_en-gb_m7_two-zero-six-nine-six-eight.wav"
CELLS = [("lstm", 0), ("gru", 0), ("rnn", 0), ("gru", 2), ("lstm", 1)]


def random_recognizer(config: ModelConfig, head_scale: float = 1.0, **kw) -> Recognizer:
    """A random model of `config`; `head_scale` 10 (with the seed and SPEECH) makes its best
    path follow the audio: mostly blank, with characters between, so that endpoints occur."""
    torch.manual_seed(0)
    model = CTCModel(config).eval()
    for layer in model.frontend.layers:  # batch norm statistics as a trained model has them
        layer[1].running_mean.uniform_(-1, 1)
        layer[1].running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        model.head.weight *= head_scale
    features = replace(FEATURES, **kw)
    prior = torch.linspace(-9.0, -5.0, 40) if features.prior_ms else None
    ckpt = Checkpoint(
        config, features, VOCAB, torch.full((40,), -8.0), torch.full((40,), 3.0),
        model.state_dict(), prior=prior,
    )  # fmt: skip
    return Recognizer(ckpt)


def _chunks(wave: torch.Tensor, seed: int, most: int):
    """wave cut into random-sized chunks, empty ones included."""
    g, i = torch.Generator().manual_seed(seed), 0
    while i < len(wave):
        n = int(torch.randint(0, most, (1,), generator=g))
        yield wave[i : i + n]
        i += n


@pytest.mark.parametrize("samples", [8000, 7999, 300, 130])
def test_feature_stream_equals_log_mel_of_the_whole(samples):
    wave = torch.randn(samples, generator=torch.Generator().manual_seed(samples))
    stream = FeatureStream(FEATURES)
    frames = [stream.feed(chunk) for chunk in _chunks(wave, samples, 700)] + [stream.finish()]
    torch.testing.assert_close(torch.cat(frames), log_mel(wave, FEATURES), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "normalisation,prior_ms", [("global", 0), ("running", 0), ("running", 300)]
)
@pytest.mark.parametrize("cell,lookahead", CELLS)
def test_streamed_log_probs_equal_the_offline_forward(cell, lookahead, normalisation, prior_ms):
    """Features, normalisation (a running prior too) and model state carried across random
    chunks: the log-probs of each cell type equal `Recognizer.log_probs` of the whole file (its
    fp32 inference model)."""
    config = replace(UNI, cell=cell, lookahead=lookahead)
    recognizer = random_recognizer(config, normalisation=normalisation, prior_ms=prior_ms)
    wave = load_audio(SPEECH, 8000)
    offline, lengths = recognizer.log_probs([wave])
    features, model = FeatureStream(FEATURES), ModelStream(recognizer.model)
    normalise = recognizer.normaliser.streaming()
    out = []
    for chunk in _chunks(wave, 1, 1200):
        out.append(model.feed(normalise(features.feed(chunk))))
    out.append(model.feed(normalise(features.finish()), final=True))
    streamed = torch.cat(out)
    assert len(streamed) == int(lengths[0])
    torch.testing.assert_close(streamed, offline[0], atol=1e-4, rtol=1e-4)


def test_state_stays_the_same_size_however_long_the_stream():
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=2))
    features, model = FeatureStream(FEATURES), ModelStream(recognizer.model)
    sizes = []
    for step in range(300):  # 30 s of audio, 0.1 s at a time
        chunk = torch.randn(800, generator=torch.Generator().manual_seed(step))
        model.feed(recognizer.normaliser(features.feed(chunk)))
        held = [len(features.buffer)] + [t.shape[2] for t in model.conv_inputs]
        sizes.append(held + [model.pending.shape[1]])
    assert sizes[10] == sizes[-1]


def test_bidirectional_or_utterance_mean_models_are_refused():
    with pytest.raises(AsrError, match="bidirectional model .* cannot stream"):
        Stream(random_recognizer(replace(UNI, bidirectional=True), normalisation="utterance"))
    with pytest.raises(AsrError, match="utterance mean"):
        Stream(random_recognizer(UNI, normalisation="utterance"))


def test_utterance_end_waits_for_enough_silence_after_a_character():
    silent = (0, 1)
    ids = torch.tensor
    assert utterance_end(ids([0, 0, 0, 0, 0]), silent, 3, 100) is None  # silence alone
    assert utterance_end(ids([0, 2, 0, 1]), silent, 3, 100) is None  # pause too short
    assert utterance_end(ids([0, 2, 0, 1, 0]), silent, 3, 100) == 5  # space counts as silence
    assert utterance_end(ids([2, 3, 4, 2]), silent, 3, 4) == 4  # forced at max_frames
    assert utterance_end(ids([2, 3, 4, 2, 3]), silent, 3, 4) == 4  # ... not past them
    # the first pause ends it, whatever frames came after it in the same chunk
    assert utterance_end(ids([2, 0, 0, 0, 0, 3, 0]), silent, 3, 100) == 4


def test_utterance_end_waits_for_quiet_audio_where_it_is_told():
    """Blank output over loud audio (a long vowel) is no pause: the last quiet_frames of the
    blank run must be quiet too."""
    silent, ids, flags = (0, 1), torch.tensor, torch.tensor
    best = ids([2, 0, 0, 0, 0, 0, 0])
    loud_then_quiet = flags([False, False, False, False, True, True, True])
    assert utterance_end(best, silent, 3, 100) == 4
    assert utterance_end(best, silent, 3, 100, loud_then_quiet, quiet_frames=1) == 5
    assert utterance_end(best, silent, 3, 100, loud_then_quiet, quiet_frames=3) == 7
    assert utterance_end(best, silent, 3, 100, torch.zeros(7, dtype=torch.bool), 1) is None
    assert utterance_end(best, silent, 3, 6, torch.zeros(7, dtype=torch.bool), 1) == 6


def test_quiet_frames_follow_the_noise_floor_whatever_the_chunks():
    """-60 dBFS noise around a -20 dBFS tone: the noise and digital silence are quiet, the tone
    is not (once 30 % of a window has been heard: before, there is no floor and all is quiet)."""
    g = torch.Generator().manual_seed(0)
    rate = 8000
    noise = lambda seconds: 1e-3 * torch.randn(int(seconds * rate), generator=g)  # noqa: E731
    tone = 0.14 * torch.sin(torch.arange(rate // 2) * 2 * torch.pi * 300 / rate)
    wave = torch.cat([noise(2.0), tone, noise(2.0), torch.zeros(rate // 2)]).numpy()
    config = SegmentConfig()
    whole = QuietStream(rate, 0.02, 5.0, config).feed(wave)  # (250,) frames of 20 ms
    assert len(whole) == 250 and whole[:100].all() and whole[125:].all()
    assert not whole[100:125].any()
    chunked = QuietStream(rate, 0.02, 5.0, config)
    pieces = [chunked.feed(wave[i : i + 333]) for i in range(0, len(wave), 333)]
    assert torch.equal(torch.cat(pieces), whole)


def _stream(recognizer: Recognizer, wave: torch.Tensor, config: StreamConfig, chunk: int = 800):
    stream = Stream(recognizer, config)
    events = []
    for i in range(0, len(wave), chunk):
        events += stream.feed(wave[i : i + chunk])
    return events + stream.finish()


def test_finals_at_pauses_spell_what_offline_greedy_decoding_spells():
    """Finals cut only where the best path is silent, so together they hold the offline best
    path's characters (a cut may add a word break), and their words are timed in order."""
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    wave = load_audio(SPEECH, 8000)
    events = _stream(recognizer, wave, StreamConfig(endpoint_seconds=0.1))
    finals = [e for e in events if e.type == "final"]
    offline = recognizer.decode(*recognizer.log_probs([wave]))[0]
    assert len(finals) > 1 and "".join(e.text for e in finals).replace(" ", "") == offline.replace(
        " ", ""
    )
    times = [t for e in finals for w in e.words for t in (w.start, w.end)]
    assert times == sorted(times) and times[-1] <= len(wave) / 8000 + 0.05
    assert [e.audio_end for e in events] == sorted(e.audio_end for e in events)


def test_finals_do_not_depend_on_how_the_audio_is_chunked():
    """A pipe delivers reads of any size: a chunk that holds a pause and the next word, or the
    whole file, ends each utterance where small chunks do, with the same words and times."""
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    wave = load_audio(SPEECH, 8000)
    config = StreamConfig(endpoint_seconds=0.1)

    def finals(chunks) -> list:
        stream = Stream(recognizer, config)
        events = [e for chunk in chunks for e in stream.feed(chunk)] + stream.finish()
        return [(e.text, e.words) for e in events if e.type == "final"]

    small = finals(wave[i : i + 80] for i in range(0, len(wave), 80))
    assert len(small) > 1
    assert finals([wave]) == small
    assert finals(_chunks(wave, seed=1, most=8000)) == small


def test_kept_finals_decode_to_the_finals_the_stream_wrote():
    """Tuning re-decodes each final's kept log-probs; they are the frames the final was."""
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    stream = Stream(recognizer, StreamConfig(endpoint_seconds=0.1))
    stream.kept_finals = []
    wave = load_audio(SPEECH, 8000)
    events = [e for i in range(0, len(wave), 800) for e in stream.feed(wave[i : i + 800])]
    finals = [e.text for e in events + stream.finish() if e.type == "final"]
    again = [recognizer.decode(lp[None], torch.tensor([len(lp)]))[0] for lp in stream.kept_finals]
    assert len(finals) > 1 and [t.strip() for t in again if t.strip()] == finals


def test_partials_come_at_least_every_half_second_inside_an_utterance():
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    wave = load_audio(SPEECH, 8000)
    events = _stream(recognizer, wave, StreamConfig(endpoint_seconds=100.0), chunk=400)
    partials = [e.audio_end for e in events if e.type == "partial"]
    assert partials and partials[0] < 0.5
    assert max(b - a for a, b in zip(partials, partials[1:], strict=False)) <= 0.5 + 0.05
    assert [e.type for e in events][-1] == "final"


def test_event_json_lines_carry_the_protocol_fields():
    recognizer = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    events = _stream(recognizer, load_audio(SPEECH, 8000), StreamConfig(endpoint_seconds=0.1))
    for event in events:
        line = event.to_dict()
        assert set(line) == {"type", "text", "audio_end", "words"} and line["text"]
        assert line["type"] in ("partial", "final")
        if line["type"] == "final":
            assert line["words"] and " ".join(w["word"] for w in line["words"]) == line["text"]
            for word in line["words"]:
                assert set(word) == {"word", "start", "end", "confidence"}
                assert word["start"] <= word["end"] and 0 <= word["confidence"] <= 1
        else:
            assert line["words"] == []


def test_a_partial_the_decoder_finds_no_word_in_is_withdrawn_by_an_empty_final(tmp_path):
    """A lexicon beam whose word costs more than any path gains outputs nothing: each utterance
    that showed a partial still ends in a final, with empty text and no words."""
    lexicon = tmp_path / "one.lex"
    lexicon.write_text("cab\tc a b |\n")
    greedy = random_recognizer(replace(UNI, cell="gru", lookahead=1), head_scale=10.0)
    beam = Recognizer(
        greedy.checkpoint, DecodeConfig(method="beam", lexicon=lexicon, word_score=-1e4)
    )
    wave = load_audio(SPEECH, 8000)
    config = StreamConfig(endpoint_seconds=0.1)
    shown = [e for e in _stream(greedy, wave, config) if e.type == "final"]
    events = _stream(beam, wave, config)
    finals = [e for e in events if e.type == "final"]
    assert len(finals) == len(shown) > 1
    assert all(e.text == "" and e.words == [] for e in finals)
    assert events[-1].type == "final"
