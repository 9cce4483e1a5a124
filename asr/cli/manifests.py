"""`asr prepare split | combine | text`: commands over manifests already written (speaker-disjoint
splits, joining, transcripts for LM text), registered under `asr prepare`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.options import add_output, add_output_dir

logger = logging.getLogger(__name__)

_MANIFEST = "manifest to write (JSONL)"


def add_manifest_tools(kinds, common: argparse.ArgumentParser) -> None:
    """Register split, combine and text under `asr prepare`'s sources."""
    _add_split(kinds, common)
    _add_combine(kinds, common)
    _add_text(kinds, common)


def _add_split(kinds, common) -> None:
    p = kinds.add_parser(
        "split",
        parents=[common],
        help="speaker-disjoint train/dev/test manifests, seeded",
        description="Write OUT/{train,dev,test}.jsonl, every speaker in one split only, and with "
        "--kind OUT/SPLIT_KIND.jsonl per kind plus SPLIT_other.jsonl. Speakers are ranked by a "
        "hash of seed and name within strata of the kinds they read.",
    )
    p.add_argument("manifest", type=Path, help="a corpus manifest with speakers")
    add_output_dir(p, "folder for the split manifests", ("--out",), required=True)
    p.add_argument(
        "--kind",
        action="append",
        default=[],
        metavar="NAME=WORD,...",
        help="utterances made only of these words (repeatable; first match wins)",
    )
    p.add_argument("--dev-frac", type=float, default=0.2, help="share of speakers for dev")
    p.add_argument("--test-frac", type=float, default=0.2, help="share of speakers for test")
    p.add_argument("--dev-speakers", nargs="*", default=[], help="speakers put in dev")
    p.add_argument("--test-speakers", nargs="*", default=[], help="speakers put in test")
    p.add_argument("--seed", type=int, default=0, help="seed of the speaker ranking")
    p.set_defaults(run=_run_split)  # fmt: skip


def _run_split(args) -> int:
    from asr.corpora.speakers import SplitConfig, split_speakers, write_splits
    from asr.errors import AsrError
    from asr.manifest import read_manifest

    kinds = {}
    for spec in args.kind:
        name, _, words = spec.partition("=")
        if not name or not words:
            raise AsrError(f"--kind {spec!r}: expected NAME=WORD,WORD,...")
        kinds[name] = set(words.split(","))
    config = SplitConfig(
        args.dev_frac, args.test_frac, args.seed,
        tuple(args.dev_speakers), tuple(args.test_speakers),
    )  # fmt: skip
    splits = split_speakers(read_manifest(args.manifest), config, kinds)
    for manifest in write_splits(splits, args.output_dir, kinds).values():
        print(manifest)
    return EXIT_OK


def _add_combine(kinds, common) -> None:
    p = kinds.add_parser(
        "combine",
        parents=[common],
        help="join manifests into one (paths rewritten relative to the new one)",
        description="Write the utterances of every manifest, in order, to one manifest; "
        "relative audio paths are rewritten for the new manifest's folder. Prints its path.",
    )
    p.add_argument("manifests", type=Path, nargs="+")
    add_output(p, _MANIFEST, ("--out",), required=True)
    p.add_argument(
        "--max-duration",
        type=float,
        metavar="S",
        help="leave out utterances longer than S seconds, counted on stderr (default: keep all)",
    )
    p.set_defaults(run=_run_combine)


def _run_combine(args) -> int:
    from dataclasses import replace

    from asr.manifest import read_manifest, write_manifest

    # Absolute first: each input's relative paths are relative to its own folder.
    utterances = [
        replace(u, audio_filepath=u.audio_filepath.resolve())
        for manifest in args.manifests
        for u in read_manifest(manifest)
    ]
    if args.max_duration is not None:
        kept = [u for u in utterances if u.duration <= args.max_duration]
        if len(kept) < len(utterances):
            logger.warning(
                "left out %d utterances longer than %g s", len(utterances) - len(kept),
                args.max_duration,
            )  # fmt: skip
        utterances = kept
    write_manifest(args.output, utterances)
    print(args.output)
    return EXIT_OK


def _add_text(kinds, common) -> None:
    p = kinds.add_parser(
        "text",
        parents=[common],
        help="print manifests' transcripts, one per line (text for asr lm)",
        description="Print the transcript of every utterance of the manifests, one per line, in "
        "order; lines without a transcript are skipped with a warning. The audio is not needed.",
    )
    p.add_argument("manifests", type=Path, nargs="+")
    p.set_defaults(run=_run_text)


def _run_text(args) -> int:
    from asr.manifest import read_manifest

    for manifest in args.manifests:
        for utterance in read_manifest(manifest, check_files=False):
            print(utterance.text)
    return EXIT_OK
