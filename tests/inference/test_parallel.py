"""Worker processes per core: the same transcripts, in input order, as one process gives."""

import dataclasses

import pytest

from asr.checkpoint import load_checkpoint
from asr.inference import parallel
from asr.inference.parallel import transcribe_parallel
from asr.inference.recognizer import Recognizer
from asr.inference.shipped import resolve_model
from asr.manifest import Utterance


@pytest.fixture(scope="module")
def clips(fsdd) -> list[Utterance]:
    # Every real test clip, listed twice with a missing file between: more chunks than workers,
    # and a failure that must stay in its place.
    paths = sorted((fsdd / "recordings").glob("*.wav"))
    paths = paths + [fsdd / "missing_speaker_0.wav"] + paths
    return [Utterance(p, 0.0, "", speaker=p.stem.split("_")[1]) for p in paths]


def _fields(transcripts) -> list[tuple]:
    """What a transcript says (confidence apart: other batch-mates, other float rounding)."""
    return [(t.path, t.text, t.error, t.words) for t in transcripts]


def test_workers_give_the_single_process_transcripts_in_order(clips, monkeypatch):
    recognizer = Recognizer.load(resolve_model(None))
    monkeypatch.setattr(parallel, "MIN_CHUNK", 4)  # small chunks: many tasks, interleaved
    alone = list(recognizer.transcribe(clips, words=True))
    shared_transcripts = list(transcribe_parallel(recognizer, clips, 2, words=True))
    shared = _fields(shared_transcripts)
    assert shared == _fields(alone)
    for a, b in zip(alone, shared_transcripts, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)
    assert [t[0] for t in shared] == [u.audio_filepath for u in clips]
    assert sum(t[2] is not None for t in shared) == 1  # the missing file, in its place
    assert sum(bool(t[1]) for t in shared) > len(clips) // 2  # a real model, real words


def test_speaker_means_come_from_all_files_not_each_chunk(clips, monkeypatch):
    """A model normalising by speaker: every worker uses the means over every file, as one
    process does, not those of its own chunk."""
    ckpt = load_checkpoint(resolve_model(None))
    ckpt.feature_config = dataclasses.replace(ckpt.feature_config, normalisation="speaker")
    recognizer = Recognizer(ckpt)
    readable = [u for u in clips if u.audio_filepath.exists()]
    monkeypatch.setattr(parallel, "MIN_CHUNK", 4)
    alone = [t.text for t in recognizer.transcribe(readable)]
    assert [t.text for t in transcribe_parallel(recognizer, readable, 3)] == alone


def test_few_files_stay_in_this_process(clips, monkeypatch):
    recognizer = Recognizer.load(resolve_model(None))
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", None)  # would fail if used
    few = clips[: parallel.MIN_CHUNK + 1]
    assert len(list(transcribe_parallel(recognizer, few, 2))) == len(few)


def test_chunks_hold_files_of_like_size_within_windows(tmp_path):
    """Every file in exactly one chunk; in each window of chunks, smaller files first, so that
    a worker's batches pad little; a missing file (size unknown) is kept, first."""
    sizes = [5, 1, 4, 9, 2, 8, 7, 3, 6]
    utterances = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"{i}.wav"
        path.write_bytes(b"x" * size)
        utterances.append(Utterance(path, 0.0, ""))
    utterances.append(Utterance(tmp_path / "missing.wav", 0.0, ""))
    chunks = parallel._chunks_by_size(utterances, 2, 3)  # windows of 6 files
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(utterances)))
    assert [len(chunk) for chunk in chunks] == [2, 2, 2, 2, 2]
    first, second = sum(chunks[:3], []), sum(chunks[3:], [])
    assert first == [1, 4, 2, 0, 5, 3]  # sizes 1 2 4 5 8 9: the first six inputs, sorted
    assert second == [9, 7, 8, 6]  # missing (0), then sizes 3, 6, 7
