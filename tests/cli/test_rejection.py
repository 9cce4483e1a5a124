"""Rejection end to end on real clips: `asr calibrate`, then `transcribe` (json and txt) and
`evaluate --oov` with the calibrated checkpoint, all judging the same files the same way.

The shipped model is calibrated on tests/data: digits of two FSDD speakers in its vocabulary,
and speech outside it (two speechocean762 sentences, Speech Commands' "yes" and "no")."""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from asr.checkpoint import load_checkpoint
from asr.cli import main
from asr.inference.shipped import DEFAULT_MODEL

from conftest import TEST_DATA

MAX_FALSE_REJECTION = 0.05  # of ~25 in-vocabulary clips: the threshold may reject one


def _manifest(out: Path, corpus: str, keep) -> Path:
    lines = []
    for line in (TEST_DATA / corpus / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if keep(entry):
            entry["audio_filepath"] = str(TEST_DATA / corpus / entry["audio_filepath"])
            lines.append(json.dumps(entry) + "\n")
    out.write_text("".join(lines))
    return out


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """(calibrated checkpoint, in-vocabulary manifest, OOV manifest, calibrate's stdout)."""
    root = tmp_path_factory.mktemp("rejection")
    speakers = {"theo", "yweweler"}
    in_vocab = _manifest(root / "iv.jsonl", "fsdd", lambda e: e["speaker"] in speakers)
    commands = _manifest(root / "sc.jsonl", "speech_commands", lambda e: e["text"] in {"yes", "no"})
    digits = "".join(in_vocab.read_text().splitlines(keepends=True)[:20])
    in_vocab.write_text(digits + commands.read_text())  # yes and no are in its vocabulary
    oov = _manifest(root / "oov.jsonl", "speechocean762", lambda e: "zero" not in e["text"])
    out = root / "calibrated.pt"
    stdout = io.StringIO()  # capsys is per test; this fixture is per module
    with contextlib.redirect_stdout(stdout):
        code = main(["calibrate", "-q", "--threads", "1", "--model", str(DEFAULT_MODEL),
                     "--manifest", str(in_vocab), "--oov", str(oov), "-o", str(out),
                     "--max-false-rejection", str(MAX_FALSE_REJECTION)])  # fmt: skip
    assert code == 0
    return out, in_vocab, oov, stdout.getvalue()


def _files(manifest: Path) -> list[str]:
    return [json.loads(line)["audio_filepath"] for line in manifest.read_text().splitlines()]


def _calibrate_rates(stdout: str) -> tuple[float, float, float]:
    """(AUROC, in-vocabulary rejected %, OOV rejected %) as `asr calibrate` prints them."""
    found = re.search(r"AUROC ([\d.]+), rejected ([\d.]+)% of \d+ in-vocabulary and ([\d.]+)%",
                      stdout)  # fmt: skip
    assert found, stdout
    return float(found[1]), float(found[2]), float(found[3])


def test_calibration_is_stored_in_the_checkpoint(calibrated):
    out, *_ = calibrated
    rejection = load_checkpoint(out).rejection  # read back, not only written
    fields = {"scale", "bias", "threshold", "words", "foreign_scale", "entropy_scale"}
    assert set(rejection) == fields
    assert 0 < rejection["threshold"] < 1 and rejection["scale"] < 0
    assert {"zero", "nine", "yes", "no"} <= set(rejection["words"])


def test_json_confidence_and_rejection_agree_with_calibration(calibrated, capsys):
    out, in_vocab, oov, stdout = calibrated
    auroc, in_vocab_rejected, oov_rejected = _calibrate_rates(stdout)
    threshold = load_checkpoint(out).rejection["threshold"]
    code = main(["transcribe", "-q", "--threads", "1", "--model", str(out), "--format", "json",
                 *_files(in_vocab), *_files(oov)])  # fmt: skip
    assert code == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    n_in, n_oov = len(_files(in_vocab)), len(_files(oov))
    assert len(results) == n_in + n_oov and n_oov >= 2
    for r in results:
        assert 0 <= r["confidence"] <= 1
        if r["confidence"] > 0 and abs(r["confidence"] - threshold) > 1e-4:  # JSON rounds
            assert r["rejected"] == (r["confidence"] < threshold)
    # the same files decoded the same way: transcribe rejects what calibrate counted
    rejected = [r["rejected"] for r in results]
    assert 100 * sum(rejected[:n_in]) / n_in == pytest.approx(in_vocab_rejected, abs=0.05)
    assert 100 * sum(rejected[n_in:]) / n_oov == pytest.approx(oov_rejected, abs=0.05)
    assert sum(rejected[:n_in]) <= MAX_FALSE_REJECTION * n_in
    assert auroc > 0.5 and any(rejected[n_in:])  # better than chance at telling them apart


def test_txt_prints_a_rejected_file_empty_with_one_note(calibrated, capsys):
    out, _, oov, _ = calibrated
    files = _files(oov)
    main(["transcribe", "-q", "--threads", "1", "--model", str(out), "--format", "json", *files])
    rejected = {json.loads(line)["file"] for line in capsys.readouterr().out.splitlines()
                if json.loads(line)["rejected"]}  # fmt: skip
    assert rejected
    assert main(["transcribe", "-q", "--threads", "1", "--model", str(out), *files]) == 0
    captured = capsys.readouterr()
    lines = dict(line.split("\t") for line in captured.out.splitlines())
    notes = captured.err.splitlines()
    assert len(notes) == len(rejected)
    for path in files:
        if path in rejected:
            assert lines[path] == ""
            assert sum(n.startswith(f"{path}: rejected") for n in notes) == 1
        else:
            assert lines[path] != "" and not any(n.startswith(path) for n in notes)


def test_evaluate_oov_reports_the_same_rejections(calibrated, tmp_path, capsys):
    out, in_vocab, oov, stdout = calibrated
    auroc, in_vocab_rejected, oov_rejected = _calibrate_rates(stdout)
    code = main(["evaluate", "-q", "--threads", "1", "--model", str(out), "--manifest",
                 str(in_vocab), "--oov", str(oov), "--output-dir", str(tmp_path / "eval"),
                 "--bootstrap", "50", "--posteriorgrams", "0"])  # fmt: skip
    assert code == 0
    assert f"AUROC {auroc:.4f}" in capsys.readouterr().out
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    rejection = results["rejection"]
    assert 100 * rejection["rejected_rate"] == pytest.approx(in_vocab_rejected, abs=0.05)
    assert 100 * rejection["oov_rejected"] == pytest.approx(oov_rejected, abs=0.05)
    assert rejection["auroc"] == pytest.approx(auroc, abs=1e-4)
    assert all("confidence" in u and "rejected" in u for u in results["utterances"])
