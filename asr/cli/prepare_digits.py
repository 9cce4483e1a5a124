"""`asr prepare fsdd` and `asr prepare connected`: digit splits, and clips joined into longer
utterances (connected digits; minutes-long ones with pauses, for streaming models)."""

from __future__ import annotations

from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.options import add_output_dir
from asr.errors import UsageError


def add_digit_tools(kinds, common) -> None:
    _add_fsdd(kinds, common)
    _add_connected(kinds, common)


def _add_fsdd(kinds, common) -> None:
    p = kinds.add_parser(
        "fsdd",
        parents=[common],
        help="FSDD speaker-held-out splits, isolated and connected digits",
        description="Write OUT/{train,dev,test}.jsonl and OUT/connected_{train,dev,test}.jsonl "
        "(2-7 digits of one speaker joined with short pauses and light noise, each recording in "
        "one split only). Give --dev-speakers/--test-speakers with no names to train on all.",
    )
    p.add_argument(
        "fsdd_dir", type=Path, help="FSDD folder: manifest.jsonl, or a clone with recordings/"
    )
    add_output_dir(p, "folder for manifests and wavs", ("--out",), required=True)
    p.add_argument("--dev-speakers", nargs="*", default=["yweweler"], help="dev-only speakers")
    p.add_argument("--test-speakers", nargs="*", default=["theo"], help="test-only speakers")
    p.add_argument("--no-connected", action="store_true", help="isolated digits only")
    p.add_argument("--sample-rate", type=int, default=16_000, help="Hz of connected-digit wavs")
    p.add_argument("--seed", type=int, default=0, help="seed of the connected-digit draws")
    p.add_argument("--jobs", type=int, default=4, help="threads rendering connected digits")
    p.set_defaults(run=_run_fsdd)


def _run_fsdd(args) -> int:
    from asr.corpora.digits import ConnectedConfig, prepare_fsdd
    from asr.corpora.fsdd import index_recordings

    # Absolute, so the written manifests point at the recordings from any folder.
    source = args.fsdd_dir.resolve()
    if not (source / "manifest.jsonl").is_file():  # a fresh clone of the public dataset
        index = args.output_dir.resolve() / "source" / "manifest.jsonl"
        index_recordings(source, index, progress=not args.quiet)
        source = index.parent
    connected = None
    if not args.no_connected:
        connected = ConnectedConfig(sample_rate=args.sample_rate, seed=args.seed, jobs=args.jobs)
    manifests = prepare_fsdd(
        source, args.output_dir, args.dev_speakers, args.test_speakers, connected, not args.quiet
    )
    for manifest in manifests.values():
        print(manifest)
    return EXIT_OK


def _add_connected(kinds, common) -> None:
    p = kinds.add_parser(
        "connected",
        parents=[common],
        help="join each speaker's clips into longer utterances with pauses",
        description="Group MANIFEST's clips by speaker, shuffle, and join each group of --words "
        "clips (each clip used once) with --pauses of silence and light noise, into "
        "OUT/SPEAKER_NNNNN.wav and OUT/connected.jsonl (printed). Speakers with too few clips "
        "are left out, counted on stderr.",
    )
    p.add_argument("manifest", type=Path, help="JSONL manifest of short clips")
    add_output_dir(p, "folder for wavs and connected.jsonl", required=True)
    p.add_argument("--words", default="2-7", metavar="MIN-MAX", help="clips per utterance")
    p.add_argument(
        "--pauses", default="0.05-0.3", metavar="MIN-MAX", help="seconds of silence around each"
    )
    p.add_argument("--sample-rate", type=int, default=16_000, help="Hz of the written wavs")
    p.add_argument("--seed", type=int, default=0, help="seed of the groups and pauses")
    p.add_argument("--jobs", type=int, default=4, help="threads rendering")
    p.set_defaults(run=_run_connected)


def _run_connected(args) -> int:
    from asr.corpora.digits import ConnectedConfig, make_connected
    from asr.manifest import read_manifest

    words, pauses = _range(args.words, "--words", int), _range(args.pauses, "--pauses", float)
    config = ConnectedConfig(
        min_digits=words[0], max_digits=words[1], pause_range=pauses,
        sample_rate=args.sample_rate, seed=args.seed, jobs=args.jobs,
    )  # fmt: skip
    manifest = args.output_dir / "connected.jsonl"
    make_connected(
        read_manifest(args.manifest), args.output_dir, manifest, config, "", not args.quiet
    )
    print(manifest)
    return EXIT_OK


def _range(text: str, option: str, kind) -> tuple:
    """ "MIN-MAX" -> (MIN, MAX) of `kind`; UsageError naming the option otherwise."""
    try:
        low, high = (kind(v) for v in text.split("-"))
    except ValueError:
        raise UsageError(f"{option} {text}: expected MIN-MAX, e.g. 2-7") from None
    if low > high or low < 0:
        raise UsageError(f"{option} {text}: MIN must be at most MAX and not negative")
    return low, high
