"""Every built-in lab, end to end in its --quick form, through the command line."""

import json
import re

import numpy as np
import pytest

from neuralab.cli import main
from neuralab.labs import lab_names, load_lab

from .conftest import SHARED_DATA, shared_data

pytest.importorskip("matplotlib", reason="labs draw figures: pip install 'neuralab[plots]'")

# what each lab must leave in its results beyond curves and the report
ARTIFACTS = {
    "synthetic": ["artifacts/decision_regions.png", "artifacts/hidden_units.png"],
    "sine": ["artifacts/regression_fit.png"],
    "mnist-mlp": ["artifacts/weights.png", "artifacts/confusion_matrix.png"],
    "instruments": ["artifacts/confusion_matrix.png"],
    "cat-vs-car": ["artifacts/confusion_matrix.png"],
    "next-word": ["artifacts/top_k_words.json"],
    "fc-net": ["artifacts/weights.png"],
    "architectures": ["artifacts/weights.png"],
    "activations": ["series.json"],
    "lr-schedule": [],
    "descent": ["artifacts/checks.json", "artifacts/contraction.png", "artifacts/contours.png",
                "artifacts/thresholds_and_steps.png"],
    "backprop": ["artifacts/checks.json", "artifacts/quantities.json", "artifacts/gradients.png"],
}
STUDIES = {"descent", "backprop"}  # they compute instead of training: no learning curves
DATA = {"mnist-mlp": "mnist", "instruments": "instruments_audio", "cat-vs-car": "eee443_assign2",
        "fc-net": "fashion_mnist", "architectures": "fashion_mnist", "activations": "fashion_mnist",
        "lr-schedule": "fashion_mnist"}


def test_every_lab_of_the_issue_is_built_in():
    assert set(lab_names()) == set(ARTIFACTS)
    for name in lab_names():  # each validates, full and quick
        assert load_lab(name).name == name
        assert load_lab(name, quick=True).name == name


def sentences(n: int, seed: int = 0) -> str:
    """A toy language with structure to learn: subject, verb, object, full stop."""
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "my friend", "the teacher", "our team"]
    verbs = ["likes", "sees", "finds", "wants", "makes"]
    objects = ["the ball", "a book", "some water", "the game", "a song"]
    return " ".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} ."
                    for _ in range(n))


@pytest.mark.parametrize("name", sorted(ARTIFACTS))
def test_lab_runs_quick_end_to_end(name, tmp_path, monkeypatch, capsys):
    if name in DATA:
        shared_data(DATA[name])
    monkeypatch.setenv("NEURALAB_DATA", str(SHARED_DATA))
    monkeypatch.setenv("NEURALAB_CACHE", str(tmp_path / "cache"))
    args = ["lab", "run", name, "--quick", "-o", str(tmp_path / "out"), "--executor", "local"]
    if name == "next-word":
        text = tmp_path / "text.txt"
        text.write_text(sentences(3000))
        args += ["--set", f"data.text={text}", "--set", "fit.epochs=6"]
    if name == "lr-schedule":
        args[-1] = "process"  # one lab through the process pool as well
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"report: .*report\.html", out)
    results = tmp_path / "out"
    index = json.loads((results / "index.json").read_text())["trials"]
    assert index and all(r["status"] == "ok" for r in index)
    html = (results / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 1
    if name in STUDIES:
        assert "closed-form checks" in out and "FAILED" not in out
    else:
        assert list((results / "figures").glob("curves_p*.png"))
    trial = results / "trials" / index[0]["id"]
    for artifact in ARTIFACTS[name]:
        assert (trial / artifact).is_file(), artifact
    if name == "next-word":  # the toy grammar: after "likes"/"sees"... comes "the"/"a"/...
        table = json.loads((trial / "artifacts/top_k_words.json").read_text())
        assert len(table["rows"]) == 5 and len(table["rows"][0]["top"]) == 10
        assert max(r["metrics"]["test_accuracy"] for r in index) > 0.3
    if name == "activations":
        assert (results / "figures/gradient_norms.png").is_file()
        assert all(r["metrics"]["first_layer_grad_norm_mean"] > 0 for r in index)


def test_lab_commands(capsys, tmp_path):
    assert main(["lab", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ARTIFACTS)
    assert main(["lab", "show", "synthetic"]) == 0
    assert 'loader = "synthetic"' in capsys.readouterr().out
    assert main(["lab", "show", "nope"]) == 2
    assert "Unknown lab 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a results folder" in capsys.readouterr().err


def test_run_summary_and_gradcheck_commands(tmp_path, capsys):
    file = tmp_path / "exp.toml"
    file.write_text((load_lab_text("synthetic")).replace("epochs = 1000", "epochs = 20"))
    assert main(["summary", str(file)]) == 0
    assert "Total params: 17" in capsys.readouterr().out
    assert main(["gradcheck", str(file)]) == 0
    out = capsys.readouterr().out
    assert "dense/kernel" in out and "largest relative error" in out
    worst = float(re.search(r"largest relative error (\S+)", out).group(1))
    assert worst < 1e-6
    # a run, then the same run again: refused without --resume, reused with it
    output = tmp_path / "res"
    assert main(["run", str(file), "-o", str(output), "--executor", "local", "--quiet",
                 "--set", "trials.count=1"]) == 0
    capsys.readouterr()
    assert main(["run", str(file), "-o", str(output), "--set", "trials.count=1"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["run", str(file), "-o", str(output), "--resume", "--quiet",
                 "--set", "trials.count=1"]) == 0
    assert "0 trial(s) run, 1 reused" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(file.read_text().replace("epochs = 20", "epochs = 0"))
    assert main(["run", str(bad)]) == 2
    assert "fit.epochs: expected a positive integer" in capsys.readouterr().err
    assert main(["run", str(file), "--set", "fit.epochs"]) == 2
    assert "--set expects KEY=VALUE" in capsys.readouterr().err


def load_lab_text(name: str) -> str:
    from neuralab.labs import lab_path
    return lab_path(name).read_text()
