"""Whole-process measurements through the `asr` command: start-up, time to first transcript,
a folder of clips end to end, and peak resident memory (transcribing, training) at two input
sizes, so growth with the number of files would show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asr.errors import AsrError
from benchmarks.rows import Row

__all__ = ["Measured", "run_measured", "asr_command", "startup_rows", "folder_rows", "memory_rows"]


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall clock, process start to exit
    peak_rss_mib: float  # the child's own maximum resident set
    stdout: str


def asr_command() -> list[str]:
    """The installed `asr` script beside this interpreter, else `python -m asr.cli`."""
    script = Path(sys.executable).parent / "asr"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "asr.cli"]


# Spawns the command, waits, writes "peak_rss_kib wall_seconds" to argv[1], exits as it did.
# A child's peak RSS starts from what its spawner had mapped (exec copies the old high-water
# mark), so the spawner must be this small process, not the large benchmark.
_LAUNCHER = """import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {time.perf_counter() - start}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(args: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run a command: its wall time and its own peak RSS (at most a bare Python's ~10 MiB high,
    the launcher's share), its stdout; AsrError with the last stderr line if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *args],
            capture_output=True, text=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
        if done.returncode != 0:
            message = done.stderr.strip().splitlines()[-1:]
            raise AsrError(f"{' '.join(args[:3])}...: exit {done.returncode}: {message}")
        peak_kib, seconds = report.read_text().split()
    return Measured(float(seconds), int(peak_kib) / 1024, done.stdout)


def startup_rows(model: Path, clip: Path, precision: str) -> list[Row]:
    """`asr --help` and one short file transcribed, process start to exit (best of 3)."""
    asr = asr_command()
    help_s = min(run_measured([*asr, "--help"]).seconds for _ in range(3))
    first = [*asr, "transcribe", str(clip), "--model", str(model), "--precision", precision, "-q"]
    first_s = min(run_measured(first).seconds for _ in range(3))
    return [
        Row("start-up", "asr --help", help_s, "s", None, "wall time, best of 3"),
        Row("start-up", f"asr transcribe one {clip.name} ({precision})", first_s, "s", None,
            "time to first transcript: process start to exit, model load included"),
    ]  # fmt: skip


def folder_rows(
    model: Path, folder: Path, audio_seconds: float, precision: str, threads: int
) -> list[Row]:
    """`asr transcribe FOLDER` end to end; RTF includes start-up, reading and model load."""
    args = [*asr_command(), "transcribe", str(folder), "--model", str(model), "-q"]
    run = run_measured([*args, "--precision", precision, "--threads", str(threads)])
    count = len(run.stdout.splitlines())
    return [
        Row("end-to-end", f"asr transcribe folder of {count} clips ({precision}, {threads} "
            f"threads)", run.seconds / audio_seconds, "RTF", None,
            f"{audio_seconds:.0f} s audio in {run.seconds:.1f} s, start-up included"),
    ]  # fmt: skip


def memory_rows(
    model: Path, folders: dict[int, Path], long_file: Path, manifests: dict[int, Path],
    config: Path, dev: Path,
) -> list[Row]:  # fmt: skip
    """Peak RSS: transcribing folders of two sizes and one long file; a training epoch over two
    manifest sizes (ratio: larger against smaller input)."""
    asr = asr_command()
    rows = []
    sizes = sorted(folders)
    peaks = {
        n: run_measured([*asr, "transcribe", str(folders[n]), "--model", str(model), "-q"])
        for n in sizes
    }
    for n in sizes:
        rows.append(Row("memory", f"peak RSS: transcribe {n} clips", peaks[n].peak_rss_mib, "MiB",
                        peaks[n].peak_rss_mib / peaks[sizes[0]].peak_rss_mib,
                        f"ratio against {sizes[0]} clips"))  # fmt: skip
    long = run_measured([*asr, "transcribe", str(long_file), "--model", str(model), "-q"])
    rows.append(Row("memory", f"peak RSS: transcribe one long file ({long_file.name})",
                    long.peak_rss_mib, "MiB", None, "segmented at pauses"))  # fmt: skip
    sizes = sorted(manifests)
    with tempfile.TemporaryDirectory() as tmp:
        trained = {}
        for n in sizes:
            out = Path(tmp) / f"train{n}"
            trained[n] = run_measured([
                *asr, "train", "--config", str(config), "--train", str(manifests[n]),
                "--dev", str(dev), "--output-dir", str(out), "--epochs", "1", "-q",
            ])  # fmt: skip
            audio = sum(
                json.loads(line)["duration"] for line in manifests[n].read_text().splitlines()
            )
            rows.append(Row("memory", f"peak RSS: one training epoch, {n} clips",
                            trained[n].peak_rss_mib, "MiB",
                            trained[n].peak_rss_mib / trained[sizes[0]].peak_rss_mib,
                            f"ratio against {sizes[0]} clips"))  # fmt: skip
            rows.append(Row("training", f"asr train, one epoch of {n} clips end to end",
                            audio / trained[n].seconds, "x realtime", None,
                            f"{audio:.0f} s audio in {trained[n].seconds:.1f} s incl. start-up, "
                            "feature statistics and augmentation"))  # fmt: skip
    return rows
