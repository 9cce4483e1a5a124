import random
from pathlib import Path

import pytest
import torch

from asr.audio import load_audio
from asr.corpora.digits import DIGIT_WORDS
from asr.decoding.align import align_words
from asr.inference.recognizer import Recognizer
from asr.text import Vocabulary

from digit_model import concatenate, recordings

VOCAB = Vocabulary(("<b>", " ", "a", "b", "c"))


@pytest.fixture(scope="module")
def joined(fsdd, trained, tmp_path_factory) -> tuple[Path, list[tuple[str, float, float]]]:
    """Eight of the model's training clips with 0.3-0.6 s of silence between them."""
    unheard = {c["audio_filepath"] for c in recordings(fsdd, "george", exclude=trained[1])}
    clips = [c for c in recordings(fsdd, "george") if c["audio_filepath"] not in unheard]
    random.Random(3).shuffle(clips)
    path = tmp_path_factory.mktemp("align") / "joined.wav"
    return path, concatenate(clips[:8], path, 8000, (0.3, 0.6), seed=3)


def _log_probs(recognizer: Recognizer, path: Path) -> torch.Tensor:
    log_probs, lengths = recognizer.log_probs([load_audio(path, recognizer.features.sample_rate)])
    return log_probs[0, : lengths[0]]  # (time', vocab)


def _check_boundaries(words, bounds) -> None:
    assert [w.word for w in words] == [b[0] for b in bounds]
    for w, (_, start, end) in zip(words, bounds, strict=True):
        # CTC fires a word's letters inside the word: its span starts at the clip's onset, and
        # may end before the clip does (a trailing fricative or fading vowel emits nothing)
        assert abs(w.start - start) <= 0.15, (w, start, end)
        assert end - 0.25 <= w.end <= end + 0.1, (w, start, end)
        assert start <= (w.start + w.end) / 2 <= end
        assert 0.0 <= w.confidence <= 1.0


def test_word_boundaries_of_the_reference_match_the_clips(connected, joined):
    path, bounds = joined
    recognizer = Recognizer.load(connected)
    reference = " ".join(word for word, _, _ in bounds)
    words = align_words(
        _log_probs(recognizer, path), recognizer.vocab.encode(reference), recognizer.vocab,
        recognizer.frame_shift,
    )  # fmt: skip
    _check_boundaries(words, bounds)
    assert sum(w.confidence for w in words) / len(words) > 0.4


def test_transcribe_times_the_decoded_words(connected, joined, tmp_path):
    path, bounds = joined
    lexicon = tmp_path / "digits.lex"
    lexicon.write_text("".join(f"{w}\t{' '.join(w)} |\n" for w in DIGIT_WORDS))
    recognizer = Recognizer.load(connected, method="beam", lexicon=lexicon)
    result = next(recognizer.transcribe([path], words=True))
    assert result.text == " ".join(w.word for w in result.words)
    # the tiny model may miss a word; every word it gets right must sit on its clip
    right = []
    for word in result.words:
        clip = [b for b in bounds if b[1] <= (word.start + word.end) / 2 <= b[2]]
        if clip and clip[0][0] == word.word:
            right.append((word, clip[0]))
    assert len(right) >= len(bounds) // 2
    _check_boundaries([w for w, _ in right], [b for _, b in right])


def test_a_wrong_word_gets_a_lower_confidence(connected, joined):
    path, bounds = joined
    recognizer = Recognizer.load(connected)
    words = [word for word, _, _ in bounds]
    wrong = "seven" if words[3] != "seven" else "two"
    log_probs = _log_probs(recognizer, path)
    right = align_words(log_probs, recognizer.vocab.encode(" ".join(words)), recognizer.vocab, 0.02)
    words[3] = wrong
    forced = align_words(
        log_probs, recognizer.vocab.encode(" ".join(words)), recognizer.vocab, 0.02
    )
    assert forced[3].word == wrong
    assert forced[3].confidence < right[3].confidence / 2


def test_alignment_offsets_and_frame_shift():
    # "ab c": a on frames 1-2, b on 4, space on 6, c on 8
    frames = [0, 2, 2, 0, 3, 0, 1, 0, 4, 0]
    log_probs = torch.full((len(frames), len(VOCAB)), -9.0)
    log_probs[torch.arange(len(frames)), frames] = -0.01
    words = align_words(log_probs, VOCAB.encode("ab c"), VOCAB, frame_shift=0.5, offset=10.0)
    assert [(w.word, w.start, w.end) for w in words] == [("ab", 10.5, 12.5), ("c", 14.0, 14.5)]
    assert all(w.confidence > 0.95 for w in words)


def test_too_few_frames_still_gives_every_word():
    log_probs = torch.zeros(3, len(VOCAB)).log_softmax(dim=-1)  # 3 frames, 5 letters + 2 spaces
    words = align_words(log_probs, VOCAB.encode("aa b cc"), VOCAB, frame_shift=0.1)
    assert [w.word for w in words] == ["aa", "b", "cc"]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))
    assert align_words(log_probs, [], VOCAB, 0.1) == []
