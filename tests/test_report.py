"""The HTML report: self-contained, escaped, and rendered by a real browser."""

import base64
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from neuralab.experiments import parse_experiment, run_experiment
from neuralab.report import write_report

pytest.importorskip("matplotlib", reason="reports with figures need neuralab[plots]")

HOSTILE = """
name = "<script>alert('name')</script>"
description = "Data with <img src=x onerror=alert(1)> & friends"
seed = 0

[data]
loader = "synthetic"
n_samples = 100
n_test = 60

[model]
layers = [{type = "Dense", units = 3, activation = "tanh"},
          {type = "Dense", units = 1, activation = "sigmoid"}]

[compile]
optimizer = {type = "adam", learning_rate = 0.05}
loss = "binary_crossentropy"
metrics = ["accuracy"]

[fit]
epochs = 30
batch_size = 50

[[variants]]
name = "<b>bold</b>"

[[variants]]
name = "x</td><script>alert(2)</script>"
"fit.epochs" = 20

[trials]
count = 2

[analysis]
per_trial = ["decision_regions", "hidden_units", "confusion_matrix"]

[report]
headline = "test_accuracy"
seed_value = "<i>0.9</i>"
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "results"
    summary = run_experiment(parse_experiment(HOSTILE, source="hostile.toml"), out,
                             executor="local", log=None)
    assert summary.failed == 0
    return write_report(summary.output)


def test_every_string_from_the_config_is_escaped(report):
    html = report.read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; friends" in html
    assert "<img src=x" not in html and "<i>0.9</i>" not in html


def test_the_report_is_self_contained(report):
    html = report.read_text()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', html)
    # curves per point (2), sweep curves, and per point: decision regions, hidden units,
    # confusion matrix
    assert len(sources) == 3 + 2 * 3
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html  # styles inline


def test_the_report_tables_agree_with_the_trials(report):
    html = report.read_text()
    index = json.loads((report.parent / "index.json").read_text())["trials"]
    assert len(index) == 4
    first = [r for r in index if r["point"] == "<b>bold</b>"]
    mean = np.mean([r["metrics"]["test_accuracy"] for r in first])
    assert f"{mean:.4f} ± " in html  # the per-point mean is what the trials measured
    assert html.count("<tr") >= 1 + 2 + 1 + 4  # points table and trials table rows


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless browser test needs chromium (Debian package 'chromium')")


CHECK = """<script>
window.addEventListener('load', function () {
  var images = document.images, ok = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) ok++;
  }
  var div = document.createElement('div');
  div.id = 'image-check';
  div.textContent = 'loaded ' + ok + ' of ' + images.length;
  document.body.appendChild(div);
});
</script></body>"""


def test_chromium_renders_the_report_with_every_image(report, tmp_path):
    browser = _chromium()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--virtual-time-budget=5000"]
    # a copy with a checking script: the report itself carries no scripts
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", CHECK))
    dom = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    found = re.search(r"loaded (\d+) of (\d+)", dom)
    assert found, "the page did not finish loading"
    assert found.group(1) == found.group(2) == "9"
    shot = tmp_path / "shot.png"
    subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri()],
                   capture_output=True, timeout=120)
    import matplotlib.image
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1200)
    non_white = np.mean(pixels.min(axis=-1) < 0.9)
    assert non_white > 0.05 and pixels.std() > 0.1  # text and figures, not a blank page
