import numpy as np
import pytest

from asr.evaluation.plots import (
    DPI,
    Posteriorgram,
    error_types_plot,
    greedy_runs,
    posteriorgram_plot,
)

TOKENS = ["<blank>", " ", "a", "c", "t"]


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG header."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_greedy_runs_are_what_greedy_ctc_emits():
    path = np.array([0, 3, 3, 0, 2, 2, 2, 4, 0, 4, 4])  # "c a t t" once blanks split the t's
    assert greedy_runs(path) == [(1, 3), (4, 2), (7, 4), (9, 4)]
    assert greedy_runs(np.zeros(5, dtype=int)) == []


def test_posteriorgram_plot_is_a_png_named_after_the_audio():
    log_probs = np.log(np.full((40, len(TOKENS)), 1 / len(TOKENS)))  # (time, vocab)
    plot = posteriorgram_plot("posteriorgram_0", Posteriorgram("/d/x.wav", log_probs, TOKENS, 0.04))
    width, height = png_size(plot.png)
    assert width > 4 * DPI and height > DPI
    assert plot.title == "CTC posteriorgram: x.wav"


def test_posteriorgram_plot_refuses_mismatched_tokens():
    log_probs = np.zeros((10, 3))  # (time, vocab) with one token too few
    with pytest.raises(ValueError, match="3 log-prob columns, 5 tokens"):
        posteriorgram_plot("p", Posteriorgram("/d/x.wav", log_probs, TOKENS, 0.04))


def test_error_types_plot_is_deterministic():
    assert error_types_plot(3, 2, 1).png == error_types_plot(3, 2, 1).png
    assert error_types_plot(3, 2, 1).png != error_types_plot(3, 2, 5).png
