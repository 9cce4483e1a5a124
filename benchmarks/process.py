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
from asr.inference.onnx_recognizer import is_export
from benchmarks.rows import Row

__all__ = [
    "Measured", "run_measured", "asr_command", "startup_rows", "folder_rows", "memory_rows",
    "training_rows",
]  # fmt: skip


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall clock, process start to exit
    peak_rss_mib: float  # the child's own maximum resident set
    stdout: str
    cpu_seconds: float = 0.0  # the child's user + system time


def asr_command() -> list[str]:
    """The installed `asr` script beside this interpreter, else `python -m asr.cli`."""
    script = Path(sys.executable).parent / "asr"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "asr.cli"]


# Spawns the command, waits, writes "peak_rss_kib wall_seconds cpu_seconds" to argv[1], exits
# as it did.
# A child's peak RSS starts from what its spawner had mapped (exec copies the old high-water
# mark), so the spawner must be this small process, not the large benchmark.
_LAUNCHER = """import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {time.perf_counter() - start} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(
    args: Sequence[str], env: dict[str, str] | None = None, stdin: bytes | None = None
) -> Measured:
    """Run a command, `stdin` piped in: its wall and CPU time and its own peak RSS (at most a
    bare Python's ~10 MiB high, the launcher's share), its stdout; AsrError with the last stderr
    line if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *args],
            input=stdin, capture_output=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise AsrError(f"{' '.join(args[:3])}...: exit {done.returncode}: {message}")
        peak_kib, seconds, cpu = report.read_text().split()
    return Measured(float(seconds), int(peak_kib) / 1024, done.stdout.decode(), float(cpu))


def startup_rows(model: Path, clip: Path, precision: str) -> list[Row]:
    """`asr --help` and one short file transcribed, process start to exit (best of 3)."""
    asr = asr_command()
    help_s = min(run_measured([*asr, "--help"]).seconds for _ in range(3))
    first = [
        *asr,
        "transcribe",
        str(clip),
        "--model",
        str(model),
        "-q",
        *_precision(model, precision),
    ]
    first_s = min(run_measured(first).seconds for _ in range(3))
    return [
        Row("start-up", "asr --help", help_s, "s", None, "wall time, best of 3"),
        Row("start-up", f"asr transcribe one {clip.name} ({_label(model, precision)})", first_s,
            "s", None, "time to first transcript: process start to exit, model load included"),
    ]  # fmt: skip


def _precision(model: Path, precision: str) -> list[str]:
    """The --precision option, for a checkpoint (an .onnx model runs as exported: `precision`
    then names the export's)."""
    return [] if is_export(model) else ["--precision", precision]


def _label(model: Path, precision: str) -> str:
    return f"onnx {precision}, without torch" if is_export(model) else precision


def folder_rows(
    model: Path, folder: Path, audio_seconds: float, precision: str, threads: int,
    parameters: int, rate: int, repeats: int = 2,
) -> list[Row]:  # fmt: skip
    """`asr transcribe FOLDER` end to end on 1 and `threads` threads, and torchaudio's DeepSpeech
    of `parameters` doing the same job as a whole process (benchmarks.peer_folder): each run
    includes start-up, reading and model load; best of `repeats`, taken in turn."""
    ours = [*asr_command(), "transcribe", str(folder), "--model", str(model), "-q"]
    ours += [*_precision(model, precision), "--threads"]
    peer = [sys.executable, "-m", "benchmarks.peer_folder", str(folder)]
    peer += ["--parameters", str(parameters), "--rate", str(rate), "--threads", str(threads)]
    commands = {"ours 1": [*ours, "1"], f"ours {threads}": [*ours, str(threads)], "peer": peer}
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, args in commands.items():
            run = run_measured(args)
            best[name] = min(best.get(name, run.seconds), run.seconds)
            count = len(run.stdout.splitlines())
    one, many, deepspeech = best["ours 1"], best[f"ours {threads}"], best["peer"]
    what, precision = f"folder of {count} clips", _label(model, precision)
    return [
        Row("end-to-end", f"asr transcribe {what} ({precision}, {threads} threads)",
            many / audio_seconds, "RTF", None,
            f"{audio_seconds:.0f} s audio in {many:.2f} s, start-up included"),
        Row("end-to-end", f"asr transcribe {what} ({precision}, 1 thread)", one / audio_seconds,
            "RTF", one / many, f"{one:.2f} s; ratio = {threads} threads' speed-up"),
        Row("end-to-end", f"DeepSpeech process, {what} ({threads} threads)",
            deepspeech / audio_seconds, "RTF", deepspeech / many,
            f"{deepspeech:.2f} s (benchmarks.peer_folder); ratio = ours' speed-up on it"),
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


def training_rows(
    config: Path, manifest: Path, dev: Path, audio_seconds: float, threads: int
) -> list[Row]:
    """One training epoch of `manifest` (epoch time from its log.csv, start-up excluded) on one
    thread, on `threads` intra-op threads, and as `threads` one-thread processes (DDP, gloo)."""
    asr = asr_command()
    train = ["train", "--config", str(config), "--train", str(manifest), "--dev", str(dev)]
    train += ["--epochs", "1", "-q"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    commands = {
        "1 thread": [*asr, *train, "--threads", "1"],
        f"{threads} threads": [*asr, *train, "--threads", str(threads)],
        f"{threads} processes x 1 thread (DDP)": [
            *launcher, f"--nproc_per_node={threads}", "-m", "asr.cli", *train, "--threads", "1",
        ],
    }  # fmt: skip
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, args) in enumerate(commands.items()):
            out = Path(tmp) / str(i)
            run_measured([*args, "--output-dir", str(out)])
            log = (out / "log.csv").read_text().splitlines()
            seconds[name] = float(log[-1].rsplit(",", 1)[1])
    one = seconds["1 thread"]
    return [
        Row("training", f"asr train, one epoch: {name}", audio_seconds / s, "x realtime", one / s,
            f"{audio_seconds:.0f} s audio in {s:.1f} s (epoch, start-up excluded); ratio "
            "against 1 thread")
        for name, s in seconds.items()
    ]  # fmt: skip
