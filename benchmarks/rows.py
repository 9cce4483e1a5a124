"""The benchmark's row type, timing helper and table formatting, shared by the asr.bench_* parts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

__all__ = ["Row", "best_time", "format_table", "rows_to_json", "wer_percent"]


@dataclass(frozen=True)
class Row:
    section: str  # e.g. "inference", "lstm", "peers", "memory", "start-up"
    name: str  # what was measured, with its setting (precision, threads, batching)
    value: float | None  # None when the measurement could not run (see note)
    unit: str  # "RTF", "x realtime", "GFLOP/s", "s", "MiB", "WER %"
    ratio: float | None = None  # against the section's reference row, same run
    note: str = ""  # the reference of `ratio`, or why value is missing


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: bool = True) -> float:
    """Fastest of `repeats` wall-clock runs of fn, in seconds (after a warm-up run if asked).

    The minimum is the least disturbed run: other processes only ever add time.
    """
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def wer_percent(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER in percent (references are normalised digit words, never empty)."""
    import jiwer

    return 100 * jiwer.wer(refs, hyps)


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def format_table(rows: list[Row]) -> str:
    """Rows as a Markdown table, grouped by section in order of first appearance."""
    lines = ["| section | measurement | value | unit | ratio | note |", "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            f"| {row.section} | {row.name} | {_number(row.value)} | {row.unit} | {ratio} "
            f"| {row.note} |"
        )
    return "\n".join(lines)


def rows_to_json(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]
