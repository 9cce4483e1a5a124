"""`asr prepare ...`: corpus importers and synthetic corpora as commands, for recipes and users.

Each subcommand parses its arguments, calls one library function and prints the manifests it
wrote on stdout (one path per line; `text` prints a manifest's transcripts instead), so a Makefile
or shell script can chain them: lazy imports, no logic beyond argument handling. Commands over
manifests already written (split, combine, text) are in `asr.cli.manifests`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asr.cli.codes import EXIT_OK
from asr.cli.manifests import add_manifest_tools
from asr.cli.options import add_output, add_output_dir
from asr.cli.prepare_digits import add_digit_tools

# Options are copied from parent parsers without their old spellings: add outputs to each leaf.
_MANIFEST = "manifest to write (JSONL)"
_SYNTH_DIR = "folder for wavs and manifests"
_IMPORTED = (
    " Transcripts are normalised like training text; unreadable or untranscribed files are "
    "skipped and counted by reason on stderr. Prints the manifest's path."
)


def add_prepare(sub, common: argparse.ArgumentParser) -> None:
    """Register `asr prepare` and its subcommands under the top-level `sub` parsers."""
    p = sub.add_parser(
        "prepare",
        help="import a corpus or render a synthetic one into JSONL manifests",
        description="Write JSONL manifests from corpora on disk (librispeech, commonvoice, kaldi, "
        "folder) or render synthetic ones (synth, synth-digits); fsdd builds the digits recipe's "
        "speaker-held-out splits, connected joins a speaker's clips into longer utterances. "
        "Skipped entries are counted with their reasons on stderr.",
    )
    kinds = p.add_subparsers(title="sources", required=True, metavar="SOURCE")
    importer = argparse.ArgumentParser(add_help=False, parents=[common])
    importer.add_argument("--jobs", type=int, default=8, help="threads probing audio headers")
    _add_librispeech(kinds, importer)
    _add_commonvoice(kinds, importer)
    _add_kaldi(kinds, importer)
    _add_folder(kinds, importer)
    _add_speech_commands(kinds, importer)
    synth = argparse.ArgumentParser(add_help=False, parents=[common])
    synth.add_argument(
        "--max-voices", type=int, metavar="N",
        help="a random subset of N installed voices (default: every voice)",
    )  # fmt: skip
    synth.add_argument("--sample-rate", type=int, default=16_000, help="Hz of the written wavs")
    synth.add_argument(
        "--max-freq", type=int, metavar="HZ",
        help="band-limit, e.g. 4000 to match 8 kHz data (default: none, full band)",
    )  # fmt: skip
    synth.add_argument("--renders", type=int, default=3, help="voices reading each prompt")
    synth.add_argument("--seed", type=int, default=0, help="seed of voice and prompt choices")
    synth.add_argument("--jobs", type=int, default=4, help="TTS processes at once")
    synth.add_argument(
        "--families", help="comma-separated voice families to use, e.g. flite-slt (default: all)"
    )
    synth.add_argument(
        "--exclude-families",
        help="comma-separated voice families to leave out, to test on them later (default: none)",
    )
    _add_synth(kinds, synth)
    _add_synth_digits(kinds, synth)
    add_digit_tools(kinds, common)
    add_manifest_tools(kinds, common)


def _add_librispeech(kinds, importer) -> None:
    p = kinds.add_parser(
        "librispeech", parents=[importer], help="ROOT/SPEAKER/CHAPTER/*.flac + *.trans.txt",
        description="Import a LibriSpeech split: ROOT/SPEAKER/CHAPTER/*.flac with one "
        "SPEAKER-CHAPTER.trans.txt per chapter; speakers are LibriSpeech's ids." + _IMPORTED,
    )  # fmt: skip
    p.add_argument("root", type=Path, help="a LibriSpeech split folder, e.g. train-clean-100")
    add_output(p, _MANIFEST, ("--out",), required=True)
    p.set_defaults(run=_run_librispeech)


def _run_librispeech(args) -> int:
    from asr.corpora.importers import import_librispeech

    import_librispeech(args.root, args.output, args.jobs, not args.quiet)
    print(args.output)
    return EXIT_OK


def _add_commonvoice(kinds, importer) -> None:
    p = kinds.add_parser(
        "commonvoice", parents=[importer], help="a Common Voice .tsv + clips/",
        description="Import a Common Voice split table (path, sentence and client_id columns) "
        "and its clips; speakers are the client ids." + _IMPORTED,
    )  # fmt: skip
    p.add_argument("tsv", type=Path, help="split table, e.g. cv-corpus/en/train.tsv")
    p.add_argument("--clips", type=Path, help="clip folder (default: TSV's folder/clips)")
    add_output(p, _MANIFEST, ("--out",), required=True)
    p.set_defaults(run=_run_commonvoice)


def _run_commonvoice(args) -> int:
    from asr.corpora.importers import import_common_voice

    import_common_voice(args.tsv, args.output, args.clips, args.jobs, not args.quiet)
    print(args.output)
    return EXIT_OK


def _add_kaldi(kinds, importer) -> None:
    p = kinds.add_parser(
        "kaldi", parents=[importer], help="a Kaldi data dir (wav.scp, text, segments, utt2spk)",
        description="Import a Kaldi data dir: wav.scp and text, with utt2spk for speakers; the "
        "utterances of a segments file are cut to wavs of their own (manifests have no "
        "offsets)." + _IMPORTED,
    )  # fmt: skip
    p.add_argument("data_dir", type=Path, help="folder with wav.scp and text")
    p.add_argument(
        "--segments-dir", type=Path, help="where cut segments go (default: by the manifest)"
    )
    p.add_argument("--audio-root", type=Path, help="base of relative wav.scp paths (default: .)")
    add_output(p, _MANIFEST, ("--out",), required=True)
    p.set_defaults(run=_run_kaldi)


def _run_kaldi(args) -> int:
    from asr.corpora.kaldi import import_kaldi

    import_kaldi(
        args.data_dir, args.output, args.segments_dir, args.audio_root, args.jobs, not args.quiet
    )
    print(args.output)
    return EXIT_OK


def _add_folder(kinds, importer) -> None:
    p = kinds.add_parser(
        "folder", parents=[importer], help="audio files with same-named .txt",
        description="Import every audio file under FOLDER, recursively, that has a same-named "
        ".txt transcript beside it (a.wav, a.txt); no speakers." + _IMPORTED,
    )  # fmt: skip
    p.add_argument("folder", type=Path, help="audio files and their .txt transcripts")
    add_output(p, _MANIFEST, ("--out",), required=True)
    p.set_defaults(run=_run_folder)


def _run_folder(args) -> int:
    from asr.corpora.importers import import_folder

    import_folder(args.folder, args.output, args.jobs, not args.quiet)
    print(args.output)
    return EXIT_OK


def _add_speech_commands(kinds, importer) -> None:
    p = kinds.add_parser(
        "speech-commands", parents=[importer], help="ROOT/WORD/HASH_nohash_N.wav",
        description="Import Speech Commands: each word folder is the transcript of its clips, "
        "each file name's hash its speaker (sc-HASH)." + _IMPORTED,
    )  # fmt: skip
    p.add_argument("root", type=Path, help="a Speech Commands folder (one folder per word)")
    p.add_argument("--words", help="comma-separated word folders to keep (default: all)")
    add_output(p, _MANIFEST, ("--out",), required=True)
    p.set_defaults(run=_run_speech_commands)


def _run_speech_commands(args) -> int:
    from asr.corpora.speech_commands import import_speech_commands

    words = args.words.split(",") if args.words else None
    import_speech_commands(args.root, args.output, words, args.jobs, not args.quiet)
    print(args.output)
    return EXIT_OK


def _synth_config(args, **fields):
    from asr.corpora.synth import SynthConfig

    return SynthConfig(
        sample_rate=args.sample_rate, max_freq=args.max_freq, renders_per_prompt=args.renders,
        max_voices=args.max_voices, seed=args.seed, jobs=args.jobs, **fields,
    )  # fmt: skip


def _voices(args) -> list:
    """The installed voices that --families and --exclude-families leave."""
    from asr.corpora.voices import list_voices

    voices = list_voices()
    if args.families:
        voices = [v for v in voices if v.family in args.families.split(",")]
    if args.exclude_families:
        voices = [v for v in voices if v.family not in args.exclude_families.split(",")]
    return voices


def _add_synth(kinds, synth) -> None:
    p = kinds.add_parser(
        "synth",
        parents=[synth],
        help="prompts read by espeak-ng/flite voices; held-out voices and sentences",
        description="Render OUT/{train,dev,test}/ and OUT/{train,dev,test}.jsonl. Dev and test "
        "hold out whole voice families and whole sentences. Resumable: a rerun skips done wavs.",
    )
    p.add_argument("prompts", type=Path, help="text file, one prompt per line")
    p.add_argument("--dev-voices", type=int, default=2, help="voice families held out for dev")
    p.add_argument("--test-voices", type=int, default=2, help="voice families held out for test")
    p.add_argument("--dev-frac", type=float, default=0.05, help="share of sentences for dev")
    p.add_argument("--test-frac", type=float, default=0.05, help="share of sentences for test")
    add_output_dir(p, _SYNTH_DIR, ("--out",), required=True)
    p.set_defaults(run=_run_synth)


def _run_synth(args) -> int:
    from asr.corpora.synth import synthesize_corpus

    config = _synth_config(
        args, dev_voices=args.dev_voices, test_voices=args.test_voices,
        dev_frac=args.dev_frac, test_frac=args.test_frac,
    )  # fmt: skip
    for manifest in synthesize_corpus(
        args.prompts, args.output_dir, config, _voices(args), not args.quiet
    ).values():
        print(manifest)
    return EXIT_OK


def _add_synth_digits(kinds, synth) -> None:
    p = kinds.add_parser(
        "synth-digits",
        parents=[synth],
        help="single digits and digit strings in many voices (augmentation for fsdd)",
        description="Render OUT/VOICE/*.wav and OUT/synth_digits.jsonl. --exclude-families "
        "keeps voices out (to test on them later); --families renders only those.",
    )
    p.add_argument("--singles-per-digit", type=int, default=40, help="voices reading each digit")
    p.add_argument("--strings", type=int, default=400, help="random digit strings (2-7 digits)")
    add_output_dir(p, _SYNTH_DIR, ("--out",), required=True)
    p.set_defaults(run=_run_synth_digits)


def _run_synth_digits(args) -> int:
    from asr.corpora.synth_digits import SynthDigitsConfig, synthesize_digits

    config = SynthDigitsConfig(args.singles_per_digit, args.strings)
    out = args.output_dir
    manifest = out / "synth_digits.jsonl"
    synthesize_digits(out, manifest, config, _synth_config(args), _voices(args), not args.quiet)
    print(manifest)
    return EXIT_OK
