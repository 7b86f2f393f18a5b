"""``neuralab lab notebook NAME``: every lab as a valid Jupyter notebook; the two fast labs
executed top to bottom on a real kernel."""

import json

import pytest

from neuralab.cli import main
from neuralab.labs import lab_names, lab_path
from neuralab.labs.notebook import lab_notebook, write_lab_notebook


def sources(notebook: dict, kind: str) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == kind]


@pytest.mark.parametrize("name", lab_names())
def test_every_lab_is_a_valid_notebook_holding_its_experiment_file(name):
    nbformat = pytest.importorskip("nbformat", reason="validating needs nbformat "
                                                      "(pip install nbformat)")
    notebook = lab_notebook(name)
    nbformat.validate(nbformat.reads(json.dumps(notebook), as_version=4))  # ValidationError
    assert notebook["nbformat"] == 4 and notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = sources(notebook, "code")
    assert code[0] == f"%%writefile {name}.toml\n" + lab_path(name).read_text(encoding="utf-8")
    assert any(f'load_experiment("{name}.toml", quick=QUICK)' in c for c in code)
    assert any("QUICK = False" in c for c in code)
    assert sources(notebook, "markdown")[0].startswith(f"# Lab `{name}`")
    assert all(c["outputs"] == [] for c in notebook["cells"] if c["cell_type"] == "code")
    is_study = name in ("descent", "backprop")
    assert any("print_checks(RESULTS)" in c for c in code) == is_study


def test_cli_writes_the_notebook_and_rejects_bad_names_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "handout.ipynb"
    assert main(["lab", "notebook", "backprop", "-o", str(path), "--quick"]) == 0
    assert f"notebook: {path}" in capsys.readouterr().out
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook == lab_notebook("backprop", quick=True)
    assert any("QUICK = True" in c for c in sources(notebook, "code"))
    assert main(["lab", "notebook", "nope", "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Unknown lab 'nope'; available:" in err and "Traceback" not in err
    assert main(["lab", "notebook", "descent", "-o", str(tmp_path / "x.txt")]) == 2
    assert "a notebook file name ends in .ipynb" in capsys.readouterr().err
    assert main(["lab", "run", "nope"]) == 2
    assert "Unknown lab 'nope'" in capsys.readouterr().err
    (tmp_path / "folder.ipynb").mkdir()
    assert main(["lab", "notebook", "descent", "-o", str(tmp_path / "folder.ipynb")]) == 2
    assert "folder.ipynb: is a folder; expected a notebook file name" in capsys.readouterr().err


def test_a_failed_write_leaves_the_previous_notebook_whole(tmp_path, capsys, monkeypatch):
    import os
    path = tmp_path / "handout.ipynb"
    path.write_text("previous", encoding="utf-8")

    def refuse(source, target):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refuse)
    assert main(["lab", "notebook", "descent", "-o", str(path)]) == 1
    err = capsys.readouterr().err
    assert "handout.ipynb: permission denied" in err and "Traceback" not in err
    assert path.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout.ipynb"]  # no temporary left


@pytest.mark.parametrize("name", ["descent", "backprop"])
def test_the_fast_labs_run_top_to_bottom_on_a_real_kernel(name, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="pip install nbformat")
    nbclient = pytest.importorskip("nbclient", reason="executing notebooks needs nbclient and "
                                                      "ipykernel (pip install nbclient ipykernel)")
    pytest.importorskip("ipykernel", reason="pip install ipykernel")
    pytest.importorskip("matplotlib", reason="the labs draw figures: pip install 'neuralab[plots]'")
    path = write_lab_notebook(name, tmp_path / f"{name}.ipynb", quick=True)
    notebook = nbformat.read(path, as_version=4)  # the file an instructor hands out
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # a cell that raises fails here with CellExecutionError
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "1 trial(s) run, 0 failed" in text
    assert "checks passed" in text and "FAILED" not in text
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == {"descent": 3, "backprop": 1}[name]
    assert (tmp_path / f"{name}.toml").read_text() == lab_path(name).read_text()
    assert (tmp_path / "results" / f"{name}-notebook" / "report.html").is_file()
    if name == "backprop":
        assert "dE_dW1 = (dE_dz @ dz_dW1).reshape(m, n)" in text
