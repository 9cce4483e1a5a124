"""What the report tables say, as plain strings; report_md and report_html only add syntax."""

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


def percent(rate: float) -> str:
    return f"{100 * rate:.2f}%"


def audio_href(audio_filepath: str, report_dir: Path) -> str:
    """A link from a report in `report_dir` to an audio file, relative to the report, so that
    a report moved together with its audio (a copied experiment folder) still plays it.
    Relative audio paths are taken from the current directory, as the manifest reader leaves
    them; a file on another drive gets a file:// URI."""
    audio = Path(audio_filepath).absolute()
    try:
        relative = os.path.relpath(audio, Path(report_dir).absolute())
    except ValueError:  # Windows: no relative path across drives
        return audio.as_uri()
    return quote(Path(relative).as_posix())


def run_details(results: Mapping) -> list[tuple[str, str]]:
    """(section, pretty JSON) for the metadata that identifies the run."""
    return [
        (key, json.dumps(results[key], indent=2))
        for key in ("model", "data", "decoding", "versions")
    ]


def summary_table(results: Mapping) -> Table:
    ci = results["ci"]
    level = f"{100 * ci['level']:g}% CI"
    words, chars = results["counts"]["words"], results["counts"]["chars"]
    rows = [
        ["WER", f"{percent(results['wer'])} ({level} {_range(ci['wer'])})"],
        ["CER", f"{percent(results['cer'])} ({level} {_range(ci['cer'])})"],
        ["utterances", str(results["num_utterances"])],
        ["reference words", str(words["ref_len"])],
        ["word errors", str(words["errors"])],
        ["reference characters", str(chars["ref_len"])],
        ["character errors", str(chars["errors"])],
        ["date", str(results["date"])],
    ]
    rejection = results.get("rejection")
    if rejection:
        rows.insert(
            3, ["rejected", f"{rejection['rejected']} ({percent(rejection['rejected_rate'])})"]
        )
        if "auroc" in rejection:
            oov = f"{percent(rejection['oov_rejected'])} of {rejection['oov']}"
            rows[4:4] = [["rejection AUROC", f"{rejection['auroc']:.4f}"], ["OOV rejected", oov]]
    return Table(["", "value"], rows)


def error_types_table(results: Mapping) -> Table:
    words = results["counts"]["words"]
    ref_len = max(words["ref_len"], 1)  # same guard as the error rates themselves
    rows = [
        [kind, str(words[kind]), percent(words[kind] / ref_len)]
        for kind in ("substitutions", "deletions", "insertions", "hits")
    ]
    return Table(["type", "words", "% of reference words"], rows)


def groups_table(groups: Sequence[Mapping], name_header: str) -> Table:
    rows = [
        [
            g["name"],
            str(g["num_utterances"]),
            str(g["ref_words"]),
            percent(g["wer"]),
            percent(g["cer"]),
            str(g["substitutions"]),
            str(g["deletions"]),
            str(g["insertions"]),
        ]
        for g in groups
    ]
    headers = [name_header, "utterances", "ref words", "WER", "CER", "sub", "del", "ins"]
    return Table(headers, rows)


def substitutions_table(results: Mapping) -> Table:
    pairs = results["confusions"]["substitutions"]
    return Table(
        ["reference", "hypothesis", "count"], [[p["ref"], p["hyp"], str(p["count"])] for p in pairs]
    )


def words_table(results: Mapping, kind: str) -> Table:
    """Most frequent inserted or deleted words; kind is "insertions" or "deletions"."""
    words = results["confusions"][kind]
    return Table(["word", "count"], [[w["word"], str(w["count"])] for w in words])


def utterance_summary(u: Mapping) -> str:
    """One line on an utterance's errors, speaker and duration."""
    speaker = u["speaker"] if u["speaker"] is not None else "unknown"
    summary = (
        f"WER {percent(u['wer'])} ({u['substitutions']} sub, {u['deletions']} del, "
        f"{u['insertions']} ins of {u['ref_words']} words) · speaker {speaker} · "
        f"{u['duration']:.2f} s"
    )
    # evaluate scores unreadable audio as an empty hypothesis and says why in `error`
    return f"{summary} · error: {u['error']}" if u.get("error") else summary


def _range(interval: Sequence[float]) -> str:
    return f"{percent(interval[0])}–{percent(interval[1])}"
