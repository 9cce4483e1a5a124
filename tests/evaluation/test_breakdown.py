from asr.evaluation.breakdown import UNKNOWN_SPEAKER, by_length, by_speaker, confusions, worst_first
from asr.evaluation.scoring import EditCounts, score_utterances


def utt(ref: str, hyp: str, speaker: str | None = None, duration: float = 1.0) -> dict:
    return {
        "audio_filepath": f"{ref}|{hyp}.wav",
        "ref": ref,
        "hyp": hyp,
        "speaker": speaker,
        "duration": duration,
    }


def test_by_speaker_sums_counts_and_names_missing_speakers():
    scores = score_utterances(
        [utt("a b", "a x", "s1"), utt("c d", "c d", "s1"), utt("e", "", None), utt("f", "f", "s0")]
    )
    groups = {g.name: g for g in by_speaker(scores)}
    assert list(groups) == sorted(groups)
    assert groups["s1"].num_utterances == 2
    assert groups["s1"].words == EditCounts(hits=3, substitutions=1)
    assert groups["s1"].wer == 0.25
    assert groups[UNKNOWN_SPEAKER].wer == 1.0
    assert groups["s0"].wer == 0.0


def test_by_length_bins_by_duration_and_skips_empty_bins():
    scores = score_utterances(
        [utt("a", "a", duration=1.0), utt("b", "x", duration=1.9), utt("c", "c", duration=45.0)]
    )
    groups = by_length(scores, edges=(0.0, 2.0, 5.0, 30.0))
    assert [g.name for g in groups] == ["0-2 s", "30+ s"]
    assert [g.num_utterances for g in groups] == [2, 1]
    assert [g.wer for g in groups] == [0.5, 0.0]


def test_confusions_rank_by_count_then_word():
    scores = score_utterances(
        [utt("a b c", "a x c"), utt("b d", "x d"), utt("c e", "y e"), utt("z", "z q"), utt("k", "")]
    )
    top = confusions(scores, top_k=2)
    assert top.substitutions == [("b", "x", 2), ("c", "y", 1)]
    assert top.insertions == [("q", 1)]
    assert top.deletions == [("k", 1)]


def test_worst_first_orders_by_wer_then_errors_then_input():
    scores = score_utterances(
        [utt("a b", "a b"), utt("a b c d", "x y c d"), utt("a b", "x b"), utt("a", "x")]
    )
    assert worst_first(scores) == [3, 1, 2, 0]
