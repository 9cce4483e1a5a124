"""PNG figures for evaluation reports: WER per group, error types, CTC posteriorgrams.

matplotlib is imported inside each function: it is slow to import and only reports need it.
Figures are drawn on the Agg canvas directly, never through pyplot, so no global figure
state or GUI backend is involved.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DPI = 100  # pixels per inch of the PNGs; the HTML report shows posteriorgrams at this size
LABEL_POINTS = 10  # posteriorgram token labels: 14 px at DPI 100, the report's body text size
BLANK_LABEL = "<b>"  # how the CTC blank (token 0) is shown on axes
SPACE_LABEL = "␣"  # a bare space would be an invisible tick label


@dataclass(frozen=True)
class Posteriorgram:
    """CTC output of one utterance, for plotting."""

    audio_filepath: str
    log_probs: np.ndarray  # (time, vocab), log-softmax over tokens
    tokens: list[str]  # vocab labels; index 0 is the CTC blank
    frame_shift: float  # seconds per output frame


@dataclass(frozen=True)
class Plot:
    """One rendered figure: `name` is its file stem, `title` its caption and alt text."""

    name: str
    title: str
    png: bytes


@dataclass(frozen=True)
class ReportPlots:
    """Every figure of one report, by the section that shows it."""

    error_types: Plot
    by_speaker: Plot
    by_length: Plot
    posteriorgrams: tuple[Plot, ...]

    def all(self) -> tuple[Plot, ...]:
        return (self.error_types, self.by_speaker, self.by_length, *self.posteriorgrams)


def group_wer_plot(name: str, title: str, groups: Sequence[str], wers: Sequence[float]) -> Plot:
    """Horizontal bars of WER (percent) per group, top to bottom in the given order."""
    fig, ax = _figure(width=7.0, height=1.2 + 0.3 * len(groups))
    y = np.arange(len(groups))
    ax.barh(y, [100 * w for w in wers], color="#4878a8")
    ax.set_yticks(y, labels=list(groups))
    ax.invert_yaxis()  # first group on top, as in the tables
    ax.set_xlabel("WER (%)")
    ax.set_title(title)
    return Plot(name, title, _png(fig))


def error_types_plot(substitutions: int, deletions: int, insertions: int) -> Plot:
    """Bar chart of word substitutions, deletions and insertions."""
    title = "Word errors by type"
    fig, ax = _figure(width=5.0, height=3.0)
    counts = [substitutions, deletions, insertions]
    bars = ax.bar(["substitutions", "deletions", "insertions"], counts, color="#c05048")
    ax.bar_label(bars, labels=[str(c) for c in counts])
    ax.margins(y=0.15)  # headroom so the count labels stay inside the axes
    ax.set_ylabel("words")
    ax.set_title(title)
    return Plot("error_types", title, _png(fig))


def posteriorgram_plot(name: str, post: Posteriorgram) -> Plot:
    """Token posteriors over time with the greedy (argmax) path drawn on top.

    Each non-blank run of the greedy path is labelled with its token, so the figure shows
    both what the model is sure of and what greedy decoding makes of it.
    """
    time, vocab = post.log_probs.shape
    if vocab != len(post.tokens):
        raise ValueError(
            f"{post.audio_filepath}: {vocab} log-prob columns, {len(post.tokens)} tokens"
        )
    title = f"CTC posteriorgram: {Path(post.audio_filepath).name}"
    # Inches: a row per token tall enough for its label; 0.03 per frame (40 ms frames: 0.75
    # in/s), shown unscaled in the report, which scrolls a long one sideways.
    fig, ax = _figure(width=min(4.0 + time * 0.03, 30.0), height=1.5 + 0.2 * vocab)
    seconds = time * post.frame_shift
    ax.imshow(
        np.exp(post.log_probs).T,  # (vocab, time): tokens down, time across
        aspect="auto",
        origin="lower",
        cmap="Greys",
        vmin=0.0,
        vmax=1.0,
        extent=(0.0, seconds, -0.5, vocab - 0.5),
        interpolation="nearest",
    )
    path = post.log_probs.argmax(axis=1)  # (time,)
    centres = (np.arange(time) + 0.5) * post.frame_shift
    ax.plot(centres, path, color="#d03030", linewidth=0.8, marker=".", markersize=2)
    for start, token in greedy_runs(path):
        ax.annotate(
            _label(post.tokens, token),
            (centres[start], token),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=LABEL_POINTS,
            color="#1060c0",
        )
    ax.set_yticks(np.arange(vocab), labels=[_label(post.tokens, i) for i in range(vocab)])
    ax.tick_params(axis="both", labelsize=LABEL_POINTS)
    ax.set_xlabel("time (s)")
    ax.set_title(title, loc="left")  # in view before the report scrolls a wide figure
    return Plot(name, title, _png(fig))


def greedy_runs(path: np.ndarray) -> list[tuple[int, int]]:
    """(first frame, token) of every run of one non-blank token: what greedy CTC emits."""
    starts = np.flatnonzero(np.diff(path, prepend=-1))  # frames where the argmax changes
    return [(int(i), int(path[i])) for i in starts if path[i] != 0]


def _label(tokens: Sequence[str], index: int) -> str:
    if index == 0:
        return BLANK_LABEL
    return SPACE_LABEL if tokens[index] == " " else tokens[index]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})  # no version: stable bytes
    return buffer.getvalue()
