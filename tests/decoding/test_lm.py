import string
from pathlib import Path

import pytest
import torch

from asr.decoding.lexicon import write_lexicon
from asr.decoding.lm import (
    LMConfig,
    build_arpa,
    kn_discounts,
    read_words,
)
from asr.errors import AsrError

from conftest import PROMPTS

TOKENS = ["-", "|", *string.ascii_lowercase, "'"]  # CTC blank, word boundary, letters

Ngram = tuple[str, ...]


def _read_arpa(path: Path) -> tuple[dict[int, int], dict[Ngram, tuple[float, float]]]:
    """Header counts and {ngram: (log10 p, log10 backoff)}, parsed apart from asr.decoding.lm."""
    header: dict[int, int] = {}
    entries: dict[Ngram, tuple[float, float]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "\\data\\" and lines[-1] == "\\end\\"
    for line in lines:
        if line.startswith("ngram "):
            n, size = line[len("ngram ") :].split("=")
            header[int(n)] = int(size)
        elif line and line[0] in "-0123456789":
            fields = line.split("\t")
            assert len(fields) in (2, 3), line
            bow = float(fields[2]) if len(fields) == 3 else 0.0
            entries[tuple(fields[1].split(" "))] = (float(fields[0]), bow)
    return header, entries


def _prob(entries: dict[Ngram, tuple[float, float]], gram: Ngram) -> float:
    """p(w | h) by ARPA backoff: stored if seen, else 10^bow(h) * p(w | h minus first word)."""
    if gram in entries:
        return 10 ** entries[gram][0]
    return 10 ** entries.get(gram[:-1], (0.0, 0.0))[1] * _prob(entries, gram[1:])


def _lm(tmp_path: Path, lines: list[str], config: LMConfig, name: str = "lm") -> Path:
    text = tmp_path / f"{name}.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_arpa(text, tmp_path / f"{name}.arpa", config)
    return tmp_path / f"{name}.arpa"


HAND_CORPUS = ["A b.", "", "b, A b!", "a c"]  # case, punctuation and the blank line normalise away


def test_bigram_matches_hand_computation(tmp_path):
    # Sentences <s> a b </s> | <s> b a b </s> | <s> a c </s>.
    # Unigram KN counts = distinct left neighbours: a {<s>, b} 2, b {a, <s>} 2, c {a} 1,
    # </s> {b, c} 2, <unk> 0; total 7; predicted vocabulary a b c </s> <unk> = 5 words.
    # n1=1, n2=3, n3=0: too sparse, so D = (0.5, 1, 1.5).
    # gamma() = (0.5*1 + 1*3) / 7 = 1/2; p(w) = (c - D(c)) / 7 + gamma() / 5:
    #   p(a) = p(b) = p(</s>) = 1/7 + 1/10 = 17/70, p(c) = 0.5/7 + 1/10 = 6/35, p(<unk>) = 1/10.
    # Bigram raw counts: <s> a 2, <s> b 1, a b 2, a c 1, b </s> 2, b a 1, c </s> 1 (n3=0: fallback).
    # History a: total 3, gamma(a) = (0.5*1 + 1*1) / 3 = 1/2;
    #   p(b|a) = (2-1)/3 + 1/2 * 17/70 = 191/420, p(c|a) = 0.5/3 + 1/2 * 6/35 = 53/210.
    # History <s>: same counts; p(b|<s>) = 0.5/3 + 1/2 * 17/70 = 121/420;
    #   unseen c backs off: p(c|<s>) = 1/2 * 6/35 = 3/35.
    # History c: c </s> 1, gamma(c) = 0.5/1 = 1/2, so p(<unk>|c) = 1/2 * 1/10.
    arpa = _lm(tmp_path, HAND_CORPUS, LMConfig(order=2))
    _, entries = _read_arpa(arpa)
    expected = {
        ("a",): 17 / 70,
        ("c",): 6 / 35,
        ("<unk>",): 1 / 10,
        ("a", "b"): 191 / 420,
        ("a", "c"): 53 / 210,
        ("<s>", "b"): 121 / 420,
        ("<s>", "c"): 3 / 35,
        ("c", "<unk>"): 1 / 2 * 1 / 10,
    }
    assert entries[("<s>",)][0] == -99  # never predicted
    for gram, p in expected.items():
        assert _prob(entries, gram) == pytest.approx(p, abs=1e-6), gram
    assert 10 ** entries[("a",)][1] == pytest.approx(0.5, abs=1e-6)


def test_trigram_uses_continuation_counts_in_the_middle(tmp_path):
    # Same corpus, order 3. Bigram KN counts: <s>-initial keep raw counts (<s> a 2, <s> b 1);
    # others count distinct left words in trigrams: a b {<s>, b} 2, b </s> {a} 1, b a {<s>} 1,
    # a c {<s>} 1, c </s> {a} 1. Unigrams as in the bigram test; all orders use the fallback D.
    # History b: b </s> 1, b a 1, total 2, gamma(b) = 0.5*2/2 = 1/2;
    #   p(</s>|b) = 0.5/2 + 1/2 * 17/70 = 13/35 (the bigram model gave 191/420).
    # Trigram history a b: a b </s> 2, gamma = 1/2; p(</s>|a b) = 1/2 + 1/2 * 13/35 = 24/35.
    # History <s> a: <s> a b 1, <s> a c 1, gamma = 1/2; p(b|<s> a) = 1/4 + 1/2 * 191/420 = 401/840.
    arpa = _lm(tmp_path, HAND_CORPUS, LMConfig(order=3))
    _, entries = _read_arpa(arpa)
    assert _prob(entries, ("b", "</s>")) == pytest.approx(13 / 35, abs=1e-6)
    assert _prob(entries, ("a", "b", "</s>")) == pytest.approx(24 / 35, abs=1e-6)
    assert _prob(entries, ("<s>", "a", "b")) == pytest.approx(401 / 840, abs=1e-6)
    assert _prob(entries, ("a", "b", "a")) == pytest.approx(1 / 2 * 13 / 35, abs=1e-6)


def test_discounts_from_counts_of_counts():
    # n1..n4 = 10, 5, 3, 2: Y = 10 / (10 + 2*5) = 1/2; D1 = 1 - 2 * 1/2 * 5/10 = 0.5,
    # D2 = 2 - 3 * 1/2 * 3/5 = 1.1, D3+ = 3 - 4 * 1/2 * 2/3 = 5/3.
    assert kn_discounts({1: 10, 2: 5, 3: 3, 4: 2}) == pytest.approx((0.5, 1.1, 5 / 3))
    assert kn_discounts({1: 10, 2: 5, 3: 0, 4: 2}) is None  # n3 = 0: no D2
    assert kn_discounts({1: 1, 2: 1, 3: 50, 4: 1}) is None  # D2 < 0


def _histories(entries: dict[Ngram, tuple[float, float]], order: int) -> list[Ngram]:
    return [(), *(g for g in entries if len(g) < order and g[-1] != "</s>")]


@pytest.mark.parametrize("order", [2, 3])
def test_every_history_sums_to_one(tmp_path, order):
    # min_count=2 turns rare words into <unk>, so <unk> is seen in contexts as well
    lines = PROMPTS.read_text(encoding="utf-8").splitlines()[:360]
    arpa = _lm(tmp_path, lines, LMConfig(order=order, min_count=2))
    header, entries = _read_arpa(arpa)
    vocab = [g for g in entries if len(g) == 1 and g != ("<s>",)]
    assert ("<unk>",) in vocab and ("</s>",) in vocab
    for history in _histories(entries, order):
        total = sum(_prob(entries, history + w) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4), history


def test_header_counts_match_sections(tmp_path):
    arpa = _lm(tmp_path, PROMPTS.read_text(encoding="utf-8").splitlines(), LMConfig(order=3))
    header, entries = _read_arpa(arpa)
    sizes = {n: sum(len(g) == n for g in entries) for n in (1, 2, 3)}
    assert header == sizes
    stats = build_arpa(PROMPTS, tmp_path / "again.arpa", LMConfig(order=3))
    assert stats.ngrams == (sizes[1], sizes[2], sizes[3])
    assert stats.vocab_size == sizes[1] - 1  # all but <s>
    # every n-gram's prefix and suffix are entries too: KenLM needs them to back off
    for gram in entries:
        if len(gram) > 1:
            assert gram[:-1] in entries and gram[1:] in entries, gram


def test_lexicon_format(tmp_path):
    path = tmp_path / "lexicon.txt"
    words = ["don't", "a", "<unk>", "a", "caf\u00e9", "42"]
    assert write_lexicon(words, path, alphabet=TOKENS) == 2
    assert path.read_text(encoding="utf-8") == "don't\td o n ' t |\na\ta |\n"
    assert write_lexicon(words, path) == 4  # no alphabet: every word but the special one


def test_read_words_returns_vocabulary_without_specials(tmp_path):
    arpa = _lm(tmp_path, HAND_CORPUS, LMConfig(order=3))
    assert sorted(read_words(arpa)) == ["a", "b", "c"]


def _emission(frames: list[dict[str, float]]) -> torch.Tensor:
    """Per frame {token: probability}, the rest spread evenly -> log-probs (1, time, vocab)."""
    probs = torch.zeros(len(frames), len(TOKENS))
    for t, frame in enumerate(frames):
        rest = (1 - sum(frame.values())) / (len(TOKENS) - len(frame))
        probs[t] = rest
        for token, p in frame.items():
            probs[t, TOKENS.index(token)] = p
    return probs.log().unsqueeze(0)  # (1, time, vocab)


def _spell(text: str, ambiguous: dict[str, float]) -> list[dict[str, float]]:
    """One confident frame per character, "|" between words; "?" is the ambiguous frame."""
    return [ambiguous if c == "?" else {c: 0.9} for c in "|" + text.replace(" ", "|") + "|"]


def test_ctc_decoder_follows_the_language_model(tmp_path):
    decoder_module = pytest.importorskip("torchaudio.models.decoder")
    # "cot" sounds slightly likelier; only the LM can turn it into "cat", and it must follow
    # whichever word its corpus puts between "the" and "sat"
    emission = _emission(_spell("the c?t sat", {"o": 0.48, "a": 0.44}))
    common = ["a dog sat on the mat", "he sat on the cot", "she saw a cat"]
    corpora = {"cat": ["the cat sat"] * 3 + common, "cot": ["the cot sat"] * 3 + common}
    lexicon = tmp_path / "lexicon.txt"
    write_lexicon([w for lines in corpora.values() for s in lines for w in s.split()], lexicon)
    acoustic_only = decoder_module.ctc_decoder(lexicon=str(lexicon), tokens=TOKENS, lm=None)
    assert acoustic_only(emission)[0][0].words == ["the", "cot", "sat"]
    for word, lines in corpora.items():
        arpa = _lm(tmp_path, lines, LMConfig(order=3), name=word)
        decoder = decoder_module.ctc_decoder(
            lexicon=str(lexicon), tokens=TOKENS, lm=str(arpa), beam_size=20, lm_weight=2.0
        )
        best = decoder(emission)[0][0]
        assert best.words == ["the", word, "sat"]


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(AsrError, match="nope.txt"):
        build_arpa(missing, tmp_path / "lm.arpa", LMConfig())
    with pytest.raises(AsrError, match="nope.txt"):
        read_words(missing)


def test_text_without_words_names_the_path(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  ...!? --\n\n", encoding="utf-8")
    with pytest.raises(AsrError, match="empty.txt: no words"):
        build_arpa(empty, tmp_path / "lm.arpa", LMConfig())
    assert not (tmp_path / "lm.arpa").exists()


def test_bad_config_is_rejected():
    with pytest.raises(AsrError, match="order"):
        LMConfig(order=0)
    with pytest.raises(AsrError, match="0 < Dk < k"):
        LMConfig(discount_fallback=(1.0, 1.0, 1.5))
