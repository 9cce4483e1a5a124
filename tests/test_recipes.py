"""Recipes as make dependency graphs: end to end at test size, nothing redone on a second run,
only downstream stages redone after a change, `help` and `clean`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asr.checkpoint import load_checkpoint
from asr.errors import AsrError
from asr.manifest import read_manifest, write_manifest
from asr.train_config import configs_from_toml
from benchmarks.bench import synth_decoding_rows

from conftest import ROOT, SHARED_DATA
from librispeech_fixture import build_librispeech_fixture

RECIPES = ROOT / "recipes"
ASR = Path(sys.executable).with_name("asr")  # the asr of the interpreter running the tests
DECODERS = ("greedy", "beam", "beam+lm")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def make(recipe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`make -C recipes/RECIPE ARGS` with this interpreter's asr and one training thread."""
    command = ["make", "-C", str(RECIPES / recipe), f"ASR={ASR}", "THREADS=1", "NJOBS=2", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def assert_up_to_date(recipe: str, *args: str) -> None:
    """A second run would do nothing: make -q agrees and make -n has no command to show."""
    assert make(recipe, "-q", *args, check=False).returncode == 0
    assert "Nothing to be done" in make(recipe, "-n", *args).stdout


CONFIGS = sorted(RECIPES.glob("*/*.toml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{p.parent.name}/{p.name}" for p in CONFIGS])
def test_every_recipe_config_reads(config, tmp_path):
    """A misspelt key in a config a recipe runs for an hour fails here, not at its start."""
    train_config, _, features = configs_from_toml(
        config, train_manifest=tmp_path / "t.jsonl", out_dir=tmp_path / "exp",
        init_from=tmp_path / "init.pt",  # as the recipes give it: warm starts need one
    )  # fmt: skip
    assert features.sample_rate in (8000, 16000) and train_config.epochs >= 1


def test_help_lists_targets_and_variables(tmp_path):
    for recipe in ("digits", "synth", "librispeech"):
        shown = make(recipe, "help", f"EXP={tmp_path / recipe}").stdout
        for name in ("report", "train", "clean", "EXP", "EPOCHS", "NJOBS", "NGPU", "CONFIG"):
            assert name in shown, (recipe, name)
        assert not (tmp_path / recipe).exists()  # asking for help makes nothing


def test_synth_recipe_end_to_end(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The birch canoe slid.\nGlue the sheet.\nA rod is used.\nThe box lay.\n")
    config = tmp_path / "tiny.toml"
    shutil.copy(RECIPES / "synth" / "tiny.toml", config)
    exp = tmp_path / "exp"
    args = [f"EXP={exp}", f"PROMPTS={prompts}", f"CONFIG={config}", "VOICES=8", "RENDERS=1"]
    args += ["DEV_VOICES=1", "TEST_VOICES=1", "LM_TEXT=", "SAMPLE_RATE=8000"]
    out = make("synth", *args).stdout
    assert f"report: {exp}/results.md" in out
    results = (exp / "results.md").read_text()
    assert "## test\n" in results and "## test_lm\n" in results and "| WER |" in results
    assert_up_to_date("synth", *args)
    # The LM's text: each training sentence once (asr prepare text), LM_TEXT empty.
    lines = (exp / "lm" / "text.txt").read_text().splitlines()
    assert len(set(lines)) == len(lines)  # sort -u, in whatever order the locale sorts
    assert set(lines) == {u.text for u in read_manifest(exp / "data" / "train.jsonl")}
    # `make bench` decodes the recipe's test set greedy, beam and beam + its tuned LM.
    rows = synth_decoding_rows(exp)
    assert [r.name for r in rows[::2]] == [f"{d} on synth test: WER" for d in DECODERS]
    assert all(r.value >= 0 for r in rows)

    config.write_text(config.read_text().replace("lr = 3e-3", "lr = 2e-3"))
    redo = make("synth", "-n", *args).stdout
    assert "asr train" in redo and "asr evaluate" in redo
    assert "asr prepare" not in redo  # the data does not depend on the training config
    assert "asr prepare synth" in make("synth", "-n", *args[:-1], "SAMPLE_RATE=16000").stdout

    (tmp_path / "keep.txt").write_text("not the recipe's")
    make("synth", "clean", *args)
    assert not exp.exists() and (tmp_path / "keep.txt").exists()
    with pytest.raises(AsrError, match="tuned.pt: missing"):
        synth_decoding_rows(exp)


def test_librispeech_recipe_end_to_end(fsdd, tmp_path):
    data = tmp_path / "LibriSpeech"
    for split in ("train-clean-100", "dev-clean", "test-clean"):
        build_librispeech_fixture(fsdd, data / split, speakers=2, chapters=1)
    exp = tmp_path / "exp"
    args = [f"EXP={exp}", f"DATA={data}", "TEST_SETS=test-clean", "CONFIG=tiny.toml"]
    out = make("librispeech", *args).stdout
    assert f"report: {exp}/results.md" in out
    assert "## test-clean" in (exp / "results.md").read_text()
    assert (exp / "eval" / "test-clean" / "report.html").is_file()
    assert_up_to_date("librispeech", *args)
    # Several processes go through torchrun; one-process runs never do.
    assert (
        "torchrun --standalone --nproc_per_node 8 -m asr.cli train"
        in make("librispeech", "-n", *args, "EPOCHS=2", "NGPU=8").stdout
    )


def test_digits_recipe_end_to_end_on_a_clone(fsdd, tmp_path):
    """A public-dataset layout (recordings/ only), three speakers, a few clips each."""
    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for speaker in ("george", "theo", "yweweler"):
        for digit in range(10):
            first = sorted((fsdd / "recordings").glob(f"{digit}_{speaker}_*.wav"))[0]
            shutil.copy(first, recordings)
    exp = tmp_path / "exp"
    args = [f"EXP={exp}", f"DATA={recordings.parent}", "CONFIG=../synth/tiny.toml"]
    args += ["SYNTH_SINGLES=1", "SYNTH_STRINGS=2", "SYNTH_RENDERS=1", "HELDOUT_VOICES=flite-slt"]
    args += ["HELDOUT_SINGLES=1", "HELDOUT_STRINGS=1"]
    out = make("digits", *args).stdout
    assert f"report: {exp}/results.md" in out
    summary = (exp / "results.md").read_text()
    for name in ("isolated", "connected", "unseen_voices"):
        assert f"## {name}" in summary
    assert_up_to_date("digits", *args)
    # The bigram LM's text: the training transcripts, in order (asr prepare text).
    transcripts = [u.text for u in read_manifest(exp / "train.jsonl")]
    assert (exp / "lm" / "text.txt").read_text().splitlines() == transcripts


def _sample_corpus(source: Path, out: Path, speakers: int, keep=lambda u: True) -> None:
    """The first `speakers` speakers (sorted) of source/manifest.jsonl whose utterances `keep`
    holds, every utterance of theirs, written to out/manifest.jsonl with absolute paths."""
    entries = read_manifest(source / "manifest.jsonl")
    chosen = sorted({u.speaker for u in entries if keep(u)})[:speakers]
    write_manifest(
        out / "manifest.jsonl", [u for u in entries if u.speaker in chosen], relative=False
    )


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data (speaker corpora)")
def test_voices_recipe_end_to_end_on_a_sample_of_every_corpus(tmp_path):
    """Every corpus split by speaker, two training stages, LM, tuning, calibration, every test
    set and the targets table; at test size (tiny model, a few dozen speakers)."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "tests" / "data" / "fsdd", data / "fsdd")
    digits = set("zero one two three four five six seven eight nine".split())
    _sample_corpus(SHARED_DATA / "speech_commands", data / "speech_commands", 30)
    _sample_corpus(SHARED_DATA / "speechocean762", data / "speechocean762", 12,
                   keep=lambda u: set(u.text.split()) <= digits)  # fmt: skip
    (data / "text").mkdir()
    prompts = (ROOT / "tests" / "data" / "text" / "prompts.txt").read_text().splitlines()
    (data / "text" / "prompts.txt").write_text("\n".join(prompts[:20]) + "\n")
    exp, installed = tmp_path / "exp", tmp_path / "installed"
    installed.mkdir()
    # DATA relative, as the recipe's default is: the split manifests must still find the audio.
    relative = os.path.relpath(data, ROOT / "recipes" / "voices")
    args = [f"EXP={exp}", f"DATA={relative}", "CONFIG=../synth/tiny.toml"]
    args += ["FINETUNE=../synth/tiny.toml", "SYNTH_SINGLES=1", "SYNTH_STRINGS=4"]
    args += ["SYNTH_RENDERS=1", "HARVARD_FRAC=0.2", f"DEFAULT_DIR={installed}"]
    out = make("voices", *args).stdout
    assert f"targets: {exp}/targets.md" in out
    table = (exp / "targets.md").read_text()
    for name in ("fsdd_isolated", "sc_digits", "sc_yesno", "so_digits", "isolated", "AUROC"):
        assert f"| {name} |" in table
    # Every corpus reaches the dev set: its split manifests name files that exist.
    dev = read_manifest(exp / "dev.jsonl")
    for corpus in ("speech_commands", "speechocean762", "fsdd"):
        assert any(f"/{corpus}/" in str(u.audio_filepath.resolve()) for u in dev), corpus
    # Speaker-disjoint splits in every corpus, the same speakers for every kind of speech.
    for corpus in ("speech_commands", "speechocean762", "fsdd"):
        splits = {}
        for manifest in (exp / corpus).glob("*.jsonl"):
            split = (
                manifest.stem.split("_")[-1] if corpus == "fsdd" else manifest.stem.split("_")[0]
            )
            splits.setdefault(split, set()).update(u.speaker for u in read_manifest(manifest))
        assert {"train", "dev", "test"} <= set(splits), corpus
        assert not splits["train"] & splits["test"] and not splits["dev"] & splits["test"]
        assert not splits["train"] & splits["dev"], corpus
    # Stage 2 starts from stage 1; the calibrated model carries its threshold and vocabulary.
    plan = make("voices", "-n", "-B", f"{exp}/model/.done", *args).stdout
    assert f"--init-from {exp}/words/best.pt" in plan
    calibrated = load_checkpoint(exp / "model" / "calibrated.pt")
    assert {"yes", "no", "zero"} <= set(calibrated.rejection["words"])
    assert_up_to_date("voices", *args)
    # default-model installs the checkpoint with its LM and lexicon beside it, and they load.
    assert f"default model: {installed}/model.pt" in make("voices", "default-model", *args).stdout
    shipped = load_checkpoint(installed / "model.pt")
    assert Path(shipped.decoding.lm) == installed / "words.arpa"
    assert Path(shipped.decoding.lexicon) == installed / "words.lex"
