"""Decoding benchmark: WER, CER and throughput of greedy, beam and beam+LM on one manifest.

The acoustic model runs once and its log-probs are decoded by each strategy in turn, so the
decoding speed is measured on its own; `e2e_utt_per_s` adds the shared acoustic time back.
`python -m benchmarks.decode --model M --manifest T [--lm LM --lexicon LEX | --lm-text TRAIN]`
prints the rows; `--lm-text` builds the LM from a manifest's transcripts first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

from asr.checkpoint import load_checkpoint
from asr.decode_config import DecodeConfig
from asr.decoding.beam import build_decoder
from asr.decoding.lexicon import write_lexicon
from asr.decoding.lm import LMConfig, build_arpa, read_words
from asr.evaluation.tune import corpus_rates, decode_texts, dev_log_probs
from asr.inference.recognizer import Recognizer
from asr.manifest import read_manifest

logger = logging.getLogger(__name__)

__all__ = ["decode_benchmark", "lm_from_manifest"]


def lm_from_manifest(
    manifest: Path, out_dir: Path, model: Path, order: int = 3
) -> tuple[Path, Path]:
    """An n-gram LM of a (training) manifest's transcripts and its lexicon, spelled in `model`'s
    alphabet: (OUT_DIR/lm.arpa, OUT_DIR/lexicon.txt)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = out_dir / "lm.txt"
    text.write_text("".join(u.text + "\n" for u in read_manifest(manifest, check_files=False)))
    arpa, lexicon = out_dir / "lm.arpa", out_dir / "lexicon.txt"
    build_arpa(text, arpa, LMConfig(order=order))
    write_lexicon(read_words(arpa), lexicon, load_checkpoint(model).vocab.symbols)
    return arpa, lexicon


def decode_benchmark(
    model: Path,
    manifest: Path,
    lm: Path | None = None,
    lexicon: Path | None = None,
    beam_size: int = 50,
    lm_weight: float | None = None,
    word_score: float | None = None,
    batch_seconds: float = 120.0,
) -> list[dict]:
    """One row per decoder: "greedy", "beam" (lexicon-free) and, given lm and lexicon, "beam+lm".

    Row keys: decoder, manifest, utterances, wer, cer, decode_seconds, utt_per_s (decoding
    only), e2e_utt_per_s (with the acoustic model), beam_size, lm_weight, word_score.
    lm_weight and word_score default to the checkpoint's tuned values, else DecodeConfig's.
    """
    recognizer = Recognizer.load(model)
    start = time.perf_counter()
    log_probs, refs = dev_log_probs(recognizer, manifest, batch_seconds)
    acoustic = time.perf_counter() - start
    beam = DecodeConfig(method="beam", beam_size=beam_size)
    configs = {"greedy": DecodeConfig(), "beam": beam}
    if lm is not None and lexicon is not None:
        tuned = recognizer.checkpoint.decoding
        configs["beam+lm"] = dataclasses.replace(
            beam,
            lm=Path(lm),
            lexicon=Path(lexicon),
            lm_weight=_first(lm_weight, tuned.lm_weight if tuned else None, beam.lm_weight),
            word_score=_first(word_score, tuned.word_score if tuned else None, beam.word_score),
        )
    rows = []
    for name, config in configs.items():
        decoder = build_decoder(config, recognizer.vocab)
        start = time.perf_counter()
        hyps = decode_texts(decoder, log_probs)
        seconds = time.perf_counter() - start
        wer, cer = corpus_rates(refs, hyps)
        rows.append(
            {
                "decoder": name,
                "manifest": str(manifest),
                "utterances": len(refs),
                "wer": wer,
                "cer": cer,
                "decode_seconds": seconds,
                "utt_per_s": len(refs) / seconds,
                "e2e_utt_per_s": len(refs) / (seconds + acoustic),
                "beam_size": config.beam_size if config.method == "beam" else None,
                "lm_weight": config.lm_weight if config.lm else None,
                "word_score": config.word_score if config.lexicon else None,
            }
        )
        logger.info("%s: WER %.2f%% %.1f utt/s", name, 100 * wer, rows[-1]["utt_per_s"])
    return rows


def _first(*values: float | None) -> float:
    return next(float(v) for v in values if v is not None)


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--lm", type=Path)
    parser.add_argument("--lexicon", type=Path)
    parser.add_argument("--lm-text", type=Path, help="manifest whose transcripts train the LM")
    parser.add_argument("--beam-size", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.lm_text:
        args.lm, args.lexicon = lm_from_manifest(args.lm_text, Path("build/decode_lm"), args.model)
    rows = decode_benchmark(args.model, args.manifest, args.lm, args.lexicon, args.beam_size)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    _main()
