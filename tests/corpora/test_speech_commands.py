"""The Speech Commands importer on a made-up corpus in the dataset's own layout."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.corpora.speech_commands import import_speech_commands
from asr.errors import AsrError
from asr.manifest import read_manifest

from conftest import TEST_DATA


def _clip(path: Path, seconds: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16_000 * seconds)) / 16_000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16_000)


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "speech_commands"
    _clip(root / "yes" / "0a7c2a8d_nohash_0.wav")
    _clip(root / "seven" / "0a7c2a8d_nohash_1.wav", 0.5)
    _clip(root / "seven" / "1b2c3d4e_nohash_0.wav")
    _clip(root / "marvin" / "1b2c3d4e_nohash_0.wav")
    _clip(root / "seven" / "notes.wav")  # not a dataset file name
    _clip(root / "_background_noise_" / "white_noise.wav", 3.0)
    return root


def test_word_folders_become_transcripts_and_speakers(corpus, tmp_path):
    stats = import_speech_commands(corpus, tmp_path / "m.jsonl", {"yes", "seven"}, progress=False)
    utts = read_manifest(tmp_path / "m.jsonl")
    assert stats.kept == 3 and stats.skipped == {"name not HASH_nohash_N": 1}
    assert sorted((u.text, u.speaker, round(u.duration, 2)) for u in utts) == [
        ("seven", "sc-0a7c2a8d", 0.5),
        ("seven", "sc-1b2c3d4e", 1.0),
        ("yes", "sc-0a7c2a8d", 1.0),
    ]


def test_all_words_but_the_noise_folder_by_default(corpus, tmp_path):
    import_speech_commands(corpus, tmp_path / "m.jsonl", progress=False)
    texts = sorted(u.text for u in read_manifest(tmp_path / "m.jsonl"))
    assert texts == ["marvin", "seven", "seven", "yes"]


def test_not_a_corpus_is_one_line(tmp_path):
    with pytest.raises(AsrError, match="not a Speech Commands folder"):
        import_speech_commands(tmp_path / "missing", tmp_path / "m.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AsrError, match="no word folders among"):
        import_speech_commands(tmp_path / "empty", tmp_path / "m.jsonl", {"yes"})


def test_real_clips_import_as_their_manifest(tmp_path):
    corpus = TEST_DATA / "speech_commands"
    import_speech_commands(corpus / "audio", tmp_path / "m.jsonl", jobs=1, progress=False)
    imported = read_manifest(tmp_path / "m.jsonl")
    shipped = read_manifest(corpus / "manifest.jsonl")
    assert sorted((u.audio_filepath, u.text, u.speaker) for u in imported) == sorted(
        (u.audio_filepath, u.text, u.speaker) for u in shipped
    )
    by_path = {u.audio_filepath: u.duration for u in shipped}
    assert all(u.duration == pytest.approx(by_path[u.audio_filepath], abs=1e-3) for u in imported)
