"""report.html: the evaluation report as one self-contained page.

CSS is inline and figures are base64 PNGs, so the file opens offline and can be mailed
or archived on its own; the only links are to the audio, relative to the report's folder.
Run details (model config, data, decoding, versions) are folded away until opened.
"""

import base64
from collections.abc import Mapping
from html import escape
from pathlib import Path

from asr.evaluation.plots import Plot, ReportPlots
from asr.evaluation.report_tables import (
    Table,
    audio_href,
    error_types_table,
    groups_table,
    percent,
    run_details,
    substitutions_table,
    summary_table,
    utterance_summary,
    words_table,
)

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1, h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
.columns { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
figure { margin: .8em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figure.wide { overflow-x: auto; }  /* posteriorgrams: scroll rather than shrink the labels */
figure.wide img { max-width: none; }
details > summary { cursor: pointer; font-weight: 600; margin: .4em 0; }
pre { background: #f7f7f7; padding: .5em; overflow-x: auto; }
.utt h3 { font-size: 1em; margin: 1.2em 0 .2em; }
.utt p { margin: .2em 0; color: #555; }
"""


def render_html(results: Mapping, plots: ReportPlots, report_dir: Path) -> str:
    """The whole report as an HTML document string, to be written in `report_dir`."""
    wer = escape(percent(results["wer"]))
    sections = [
        f"<h1>ASR evaluation report: WER {wer}</h1>",
        _section("summary", "Summary", _table(summary_table(results))),
        _section(
            "error-types",
            "Error types",
            _table(error_types_table(results)) + _figure(plots.error_types),
        ),
        _section(
            "by-speaker",
            "By speaker",
            _table(groups_table(results["by_speaker"], "speaker")) + _figure(plots.by_speaker),
        ),
        _section(
            "by-length",
            "By utterance duration",
            _table(groups_table(results["by_length"], "duration")) + _figure(plots.by_length),
        ),
        _section("confusions", "Most frequent errors", _confusions(results)),
    ]
    if plots.posteriorgrams:
        figures = "".join(_figure(p, wide=True) for p in plots.posteriorgrams)
        sections.append(_section("posteriorgrams", "CTC posteriorgrams", figures))
    sections += [
        _section("run", "Run details", _run_details(results)),
        _section("utterances", "Utterances, worst first", _utterances(results, report_dir)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>ASR evaluation report: WER {wer}</title>\n<style>{CSS}</style>\n</head>\n"
        "<body>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def _table(table: Table, caption: str = "") -> str:
    if not table.rows:
        return f"<p>{escape(caption)}: none</p>" if caption else "<p>(none)</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>\n" for row in table.rows)
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def _cell(text: str) -> str:
    """Numbers right-aligned so columns of them can be compared by eye."""
    numeric = text.rstrip("%").replace(".", "", 1).isdigit()
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _figure(plot: Plot, wide: bool = False) -> str:
    """`wide`: shown at its own size, scrolling sideways, so its labels stay legible."""
    data = base64.b64encode(plot.png).decode("ascii")
    title = escape(plot.title)
    css_class = ' class="wide"' if wide else ""
    return (
        f"<figure{css_class}>"
        f'<img src="data:image/png;base64,{data}" alt="{title}">'
        f"<figcaption>{title}</figcaption></figure>"
    )


def _confusions(results: Mapping) -> str:
    tables = [
        _table(substitutions_table(results), "Substitutions"),
        _table(words_table(results, "insertions"), "Insertions"),
        _table(words_table(results, "deletions"), "Deletions"),
    ]
    return '<div class="columns">' + "".join(f"<div>{t}</div>" for t in tables) + "</div>"


def _run_details(results: Mapping) -> str:
    return "".join(
        f"<details><summary>{escape(name)}</summary><pre>{escape(text)}</pre></details>"
        for name, text in run_details(results)
    )


def _utterances(results: Mapping, report_dir: Path) -> str:
    utterances = enumerate(results["utterances"], 1)
    return "\n".join(_utterance(rank, u, report_dir) for rank, u in utterances)


def _utterance(rank: int, u: Mapping, report_dir: Path) -> str:
    uri = escape(audio_href(u["audio_filepath"], report_dir))
    alignment = escape("\n".join(u["alignment"]))
    return (
        f'<div class="utt"><h3>{rank}. <a href="{uri}">{escape(u["audio_filepath"])}</a></h3>'
        f"<p>{escape(utterance_summary(u))}</p>"
        f'<audio controls preload="none" src="{uri}"></audio>'
        f"<pre>{alignment}</pre></div>"
    )
