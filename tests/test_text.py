import pytest

from asr.text import BLANK, Vocabulary, normalize_text


@pytest.mark.parametrize(
    "raw, clean",
    [
        ('Don\u2019t  STOP, "Bob"!', "don't stop bob"),
        ("  hello\tworld\n", "hello world"),
        ("'quoted' words", "quoted words"),
        ("rock-and-roll", "rock and roll"),
        ("Caf\u00e9 o'clock.", "caf\u00e9 o'clock"),
    ],
)
def test_normalize(raw, clean):
    assert normalize_text(raw) == clean


def test_vocabulary_from_texts():
    vocab = Vocabulary.from_texts(["Hello, World!", "it's"])
    assert vocab.symbols[0] == BLANK and vocab.symbols[1] == " "
    assert set(vocab.symbols[2:]) == set("helowrdits'")
    assert len(vocab) == 2 + len(set("helowrdits'"))


def test_round_trip():
    vocab = Vocabulary.from_texts(["the quick brown fox jumps over the lazy dog's back"])
    text = "the lazy dog's quick fox"
    ids = vocab.encode(text)
    assert 0 not in ids and vocab.decode(ids) == text


def test_unknown_chars_and_encode_failure():
    vocab = Vocabulary.from_texts(["abc"])
    assert vocab.unknown_chars("abz!") == {"z"}
    with pytest.raises(KeyError):
        vocab.encode("z")


def test_decode_skips_blanks_and_collapses_spaces():
    vocab = Vocabulary.from_texts(["ab"])
    a, b = vocab.encode("a")[0], vocab.encode("b")[0]
    assert vocab.decode([1, a, 0, 1, 1, b, 1]) == "a b"
