"""report.md: the evaluation report as Markdown, with plots linked from plots/."""

from collections.abc import Mapping
from pathlib import Path

from asr.evaluation.plots import Plot, ReportPlots
from asr.evaluation.report_tables import (
    Table,
    audio_href,
    error_types_table,
    groups_table,
    run_details,
    substitutions_table,
    summary_table,
    utterance_summary,
    words_table,
)


def render_markdown(results: Mapping, plots: ReportPlots, report_dir: Path) -> str:
    """The whole report, to be written in `report_dir`; figures are expected in plots/ there."""
    parts = [
        "# ASR evaluation report",
        _table(summary_table(results)),
        "## Error types",
        _table(error_types_table(results)),
        _image(plots.error_types),
        "## By speaker",
        _table(groups_table(results["by_speaker"], "speaker")),
        _image(plots.by_speaker),
        "## By utterance duration",
        _table(groups_table(results["by_length"], "duration")),
        _image(plots.by_length),
        "## Most frequent substitutions",
        _table(substitutions_table(results)),
        "## Most frequent insertions",
        _table(words_table(results, "insertions")),
        "## Most frequent deletions",
        _table(words_table(results, "deletions")),
    ]
    if plots.posteriorgrams:
        parts += ["## CTC posteriorgrams", *(_image(p) for p in plots.posteriorgrams)]
    parts.append("## Run details")
    for name, text in run_details(results):
        parts += [f"### {name}", f"```json\n{text}\n```"]
    parts.append("## Utterances, worst first")
    for rank, u in enumerate(results["utterances"], start=1):
        href = audio_href(u["audio_filepath"], report_dir)
        parts += [
            f"### {rank}. [{_cell(u['audio_filepath'])}](<{href}>)",
            utterance_summary(u),
            "```text\n" + "\n".join(u["alignment"]) + "\n```",
        ]
    return "\n\n".join(parts) + "\n"


def _table(table: Table) -> str:
    if not table.rows:
        return "(none)"
    lines = [_row(table.headers), _row(["---"] * len(table.headers))]
    lines += [_row(row) for row in table.rows]
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    """Escape what would break a table cell or a link label."""
    for char in "\\|[]*_`<>":
        text = text.replace(char, "\\" + char)
    return text


def _image(plot: Plot) -> str:
    return f"![{_cell(plot.title)}](plots/{plot.name}.png)"
