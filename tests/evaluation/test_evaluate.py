"""evaluate's posteriorgrams: what is read for them."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.evaluation.evaluate import POSTERIORGRAM_SECONDS, _worst_posteriorgrams
from asr.inference.recognizer import Recognizer
from asr.inference.shipped import DEFAULT_MODEL
from asr.manifest import Utterance

from conftest import FSDD


def test_posteriorgram_of_a_long_file_reads_only_the_plotted_window(tmp_path):
    recognizer = Recognizer.load(DEFAULT_MODEL)
    clip, rate = sf.read(FSDD / "recordings" / "3_theo_0.wav", dtype="float32")
    gap = np.zeros(rate // 2, dtype=np.float32)
    long = tmp_path / "long.wav"
    sf.write(long, np.tile(np.concatenate([clip, gap]), 60), rate)  # about 50 s of "three"
    short = FSDD / "recordings" / "7_theo_2.wav"
    rows = [
        {"audio_filepath": str(long), "ref": "three " * 60, "hyp": "three", "duration": 50.0,
         "speaker": None},
        {"audio_filepath": str(short), "ref": "seven", "hyp": "one", "duration": 0.5,
         "speaker": None},
    ]  # fmt: skip
    utterances = [Utterance(Path(r["audio_filepath"]), r["duration"], r["ref"]) for r in rows]
    posts = _worst_posteriorgrams(recognizer, rows, 2, recognizer.normaliser_for(utterances))
    seconds = {Path(p.audio_filepath).name: len(p.log_probs) * p.frame_shift for p in posts}
    assert sf.info(long).duration > 4 * POSTERIORGRAM_SECONDS
    assert seconds["long.wav"] == pytest.approx(POSTERIORGRAM_SECONDS, abs=0.1)
    assert seconds["7_theo_2.wav"] == pytest.approx(sf.info(short).duration, abs=0.1)
