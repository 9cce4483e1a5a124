import json
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from urllib.parse import quote, unquote

import jiwer
import numpy as np
import pytest
import soundfile as sf

from asr.errors import AsrError
from asr.evaluation.plots import Posteriorgram
from asr.evaluation.report import write_report

TOKENS = ["<blank>", " ", "a", "c", "t"]
UTTERANCES = [
    {"audio_filepath": "/data/s1/one.wav", "ref": "a cat", "hyp": "a cat", "speaker": "s1",
     "duration": 1.5},
    {"audio_filepath": "/data/s1/two.wav", "ref": "the cat sat", "hyp": "a cat sat down",
     "speaker": "s1", "duration": 3.0},
    {"audio_filepath": "/data/s2/x|<y>.wav", "ref": "tac", "hyp": "", "speaker": "s2",
     "duration": 7.0, "error": "cannot decode audio"},
    {"audio_filepath": "rel/silence.wav", "ref": "", "hyp": "a", "speaker": None,
     "duration": 0.5},
]  # fmt: skip
METADATA = {
    "model": {"path": "exp/model.pt", "sha256": "ab" * 32, "config": {"lstm_layers": 2}},
    "data": {"manifest": "data/test.jsonl", "sha256": "cd" * 32, "count": 4},
    "decoding": {"method": "greedy"},
    "date": "2024-01-01T00:00:00+00:00",
}


def ctc_posteriorgram() -> Posteriorgram:
    """A confident CTC output for "cat": blanks around one spike per character."""
    path = [0, 0, 3, 3, 0, 2, 0, 0, 4, 0, 0]
    probs = np.full((len(path), len(TOKENS)), 0.02)
    probs[np.arange(len(path)), path] = 0.92
    return Posteriorgram("/data/s1/one.wav", np.log(probs), TOKENS, frame_shift=0.04)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report")
    results = write_report(UTTERANCES, METADATA, out, [ctc_posteriorgram()], n_boot=200, seed=1)
    return out, results


def test_writes_all_files(report):
    out, _ = report
    for name in ["results.json", "report.md", "report.html", "plots/error_types.png",
                 "plots/wer_by_speaker.png", "plots/wer_by_length.png",
                 "plots/posteriorgram_0.png"]:  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert (out / "plots/error_types.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_json_matches_jiwer(report):
    out, returned = report
    results = json.loads((out / "results.json").read_text())
    assert results == returned
    refs, hyps = [u["ref"] for u in UTTERANCES], [u["hyp"] for u in UTTERANCES]
    words = jiwer.process_words(refs, hyps)
    chars = jiwer.process_characters(refs, hyps)
    assert results["wer"] == pytest.approx(words.wer)
    assert results["wer"] == pytest.approx(4 / 6)  # (1 sub + 1 del + 2 ins) / 6 words
    assert results["cer"] == pytest.approx(chars.cer)
    assert results["num_utterances"] == 4
    assert (results["substitutions"], results["deletions"], results["insertions"]) == (
        words.substitutions,
        words.deletions,
        words.insertions,
    )
    assert results["hits"] == words.hits
    assert results["ref_words"] == 6
    assert results["counts"]["chars"]["errors"] == (
        chars.substitutions + chars.deletions + chars.insertions
    )


def test_results_json_breakdowns_and_ci(report):
    _, results = report
    low, high = results["ci"]["wer"]
    assert low <= results["wer"] <= high
    assert results["ci"]["n_boot"] == 200 and results["ci"]["seed"] == 1
    speakers = {g["name"]: g for g in results["by_speaker"]}
    assert speakers["s1"]["wer"] == pytest.approx(2 / 5)
    assert speakers["s2"]["wer"] == 1.0
    assert speakers["(unknown)"]["wer"] == 1.0  # one insertion, no reference words
    assert [g["name"] for g in results["by_length"]] == ["0-2 s", "2-5 s", "5-10 s"]
    assert results["confusions"]["substitutions"] == [{"ref": "the", "hyp": "a", "count": 1}]
    inserted = {w["word"]: w["count"] for w in results["confusions"]["insertions"]}
    assert inserted == {"a": 1, "down": 1}
    assert results["confusions"]["deletions"] == [{"word": "tac", "count": 1}]


def test_results_json_utterances_worst_first(report):
    _, results = report
    utts = results["utterances"]
    assert [u["index"] for u in utts] == [2, 3, 1, 0]
    for u in utts:
        original = UTTERANCES[u["index"]]
        assert (u["audio_filepath"], u["ref"], u["hyp"]) == (
            original["audio_filepath"], original["ref"], original["hyp"]
        )  # fmt: skip
    assert utts[0]["error"] == "cannot decode audio"  # caller's extra fields are kept
    assert "error" not in utts[1]
    assert utts[2]["alignment"] == [
        "REF:  THE cat sat ****",
        "HYP:  A   cat sat DOWN",
        "Eval: S           I",
    ]


def test_results_json_metadata_verbatim(report):
    _, results = report
    for key in ("model", "data", "decoding", "date"):
        assert results[key] == METADATA[key]
    assert set(results["versions"]) >= {"python", "torch", "asr", "jiwer"}
    assert results["versions"]["jiwer"] == jiwer_version()


def jiwer_version() -> str:
    from importlib.metadata import version

    return version("jiwer")


def test_markdown_report(report):
    out, _ = report
    md = (out / "report.md").read_text()
    assert "| WER | 66.67% (95% CI" in md
    assert "| s1 | 2 | 5 | 40.00% |" in md
    assert "![WER by speaker](plots/wer_by_speaker.png)" in md
    assert "REF:  THE cat sat ****" in md
    assert "· error: cannot decode audio" in md
    assert r"x\|\<y\>.wav" in md  # the path cannot break the table or become a tag
    assert md.index("x\\|\\<y\\>.wav") < md.index("/data/s1/one.wav")  # worst first


def test_html_report_is_self_contained_and_escaped(report):
    out, _ = report
    html = (out / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert "<y>" not in html and "x|&lt;y&gt;.wav" in html
    assert html.count('<img src="data:image/png;base64,') == 4
    links = set(re.findall(r'<audio controls preload="none" src="([^"]*)">', html))
    assert len(links) == len(UTTERANCES)
    for u in UTTERANCES:  # relative to the report's folder, URL-quoted
        audio = Path(u["audio_filepath"]).absolute()
        assert quote(os.path.relpath(audio, out), safe="/").replace("&", "&amp;") in links


def test_links_to_audio_survive_moving_report_and_audio_together(tmp_path):
    wav = tmp_path / "exp" / "audio" / "a b#1.wav"  # characters a URL must quote
    wav.parent.mkdir(parents=True)
    sf.write(wav, np.zeros(800), 8000)
    utterance = {"audio_filepath": str(wav), "ref": "a", "hyp": "a", "speaker": None}
    write_report([{**utterance, "duration": 0.1}], METADATA, tmp_path / "exp" / "eval", n_boot=9)
    (tmp_path / "exp").rename(tmp_path / "moved")
    report = tmp_path / "moved" / "eval"
    html = (report / "report.html").read_text()
    md = (report / "report.md").read_text()
    links = [unescape(re.search(r'<audio controls preload="none" src="([^"]+)">', html)[1])]
    links.append(re.search(r"\]\(<([^>]+)>\)", md)[1])
    for link in links:
        assert (report / unquote(link)).resolve() == tmp_path / "moved" / "audio" / wav.name


def test_refuses_no_utterances(tmp_path):
    with pytest.raises(AsrError, match="no utterances"):
        write_report([], METADATA, tmp_path)


def test_refuses_unwritable_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AsrError, match="file: cannot write report"):
        write_report(UTTERANCES[:1], METADATA, blocker, n_boot=10)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLOT_ORDER = ["error_types", "wer_by_speaker", "wer_by_length", "posteriorgram_0"]  # as in HTML
# Once the page has loaded, decodes every image and writes into the DOM its decoded width
# and how many dark pixels the browser drew: a truncated PNG still has a width, but its
# missing rows come out blank.
# Synchronous on "load" (every image is loaded by then): an awaited img.decode() could still be
# pending when a busy machine's headless chromium dumps the DOM.
PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let dark = 0;
    for (let i = 0; i < rgba.length; i += 4) if (rgba[i] + rgba[i + 1] + rgba[i + 2] < 384) dark++;
    img.setAttribute("data-probe", img.naturalWidth + "x" + img.naturalHeight + ":" + dark);
  }
  document.body.setAttribute("data-probed", document.images.length);
});
</script>"""


def chromium(page: Path, profile: Path, *args: str) -> str:
    """Headless chromium on `page` with `args` (--dump-dom, --screenshot=...): its stdout."""
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
        *args, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def png_size_and_dark_pixels(path: Path) -> tuple[int, int, int]:
    """What the probe measures, computed from the PNG file with matplotlib."""
    from matplotlib.image import imread

    rgb = np.round(imread(path)[..., :3] * 255)  # (height, width, 3)
    return rgb.shape[1], rgb.shape[0], int((rgb.sum(axis=-1) < 384).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(report, tmp_path):
    out, results = report
    probed = tmp_path / "probed.html"
    probed.write_text((out / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(probed, tmp_path / "profile", "--dump-dom")
    assert f'data-probed="{len(PLOT_ORDER)}"' in dom
    probes = re.findall(r'data-probe="(\d+)x(\d+):(\d+)"', dom)
    assert len(probes) == len(PLOT_ORDER)
    for name, (width, height, dark) in zip(PLOT_ORDER, probes, strict=True):
        want_width, want_height, want_dark = png_size_and_dark_pixels(out / f"plots/{name}.png")
        assert (int(width), int(height)) == (want_width, want_height), name
        assert int(dark) == pytest.approx(want_dark, rel=0.02), name  # all rows were drawn
    assert dom.count("<table>") >= 5  # summary, error types, speaker, length, confusions
    assert dom.count('<div class="utt">') == results["num_utterances"]
    assert "REF:  THE cat sat ****" in dom


# After load: whether each run-details block shows, whether each figure is drawn at its own
# size (labels as legible as the PNG's) or shrunk, and the URL the browser resolves the audio
# link to (synchronous: a busy machine's chromium may dump the DOM before audio loads).
LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const shown = [...document.querySelectorAll("#run pre")].map(p => (p.checkVisibility() ? 1 : 0));
  document.body.setAttribute("data-run-shown", shown.join(","));
  const scales = [...document.images].map(img => (img.width / img.naturalWidth).toFixed(2));
  document.body.setAttribute("data-scales", scales.join(","));
  document.body.setAttribute("data-audio-src", document.querySelector("audio").src);
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_moved_report_plays_folds_run_details_and_keeps_labels_legible(tmp_path):
    wav = tmp_path / "exp" / "audio" / "one two.wav"
    wav.parent.mkdir(parents=True)
    sf.write(wav, np.zeros(4000), 8000)  # 0.5 s
    long_post = ctc_posteriorgram()
    long_post = Posteriorgram(str(wav), np.tile(long_post.log_probs, (40, 1)), TOKENS, 0.04)
    utterance = {"audio_filepath": str(wav), "ref": "a cat", "hyp": "a cat", "speaker": "s1"}
    write_report([{**utterance, "duration": 0.5}], METADATA, tmp_path / "exp" / "eval",
                 [long_post], n_boot=9)  # fmt: skip
    (tmp_path / "exp").rename(tmp_path / "moved")
    report = tmp_path / "moved" / "eval"
    probed = report / "probed.html"  # beside report.html: the same relative links
    probed.write_text(
        (report / "report.html").read_text().replace("</body>", LAYOUT_PROBE + "</body>")
    )
    dom = chromium(probed, tmp_path / "profile", "--dump-dom")
    moved_wav = tmp_path / "moved" / "audio" / wav.name
    assert f'data-audio-src="{moved_wav.as_uri()}"' in dom  # the moved report finds its audio
    assert 'data-run-shown="0,0,0,0"' in dom  # model, data, decoding, versions: folded
    scales = re.search(r'data-scales="([^"]*)"', dom)[1].split(",")
    assert scales[-1] == "1.00"  # the 17.6 s posteriorgram is wider than the page, not shrunk
