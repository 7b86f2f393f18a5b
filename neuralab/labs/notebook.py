"""A lab as a Jupyter notebook, to hand out::

    neuralab lab notebook descent -o descent.ipynb [--quick]

The notebook (nbformat 4.5 JSON, written without needing Jupyter installed) holds: the
lab's description; its experiment file as a ``%%writefile`` cell, to read and change; a
cell of settings (``QUICK``, the results folder, the executor); the run through the
Python API (:func:`~neuralab.experiments.load_experiment`,
:func:`~neuralab.experiments.run_experiment`, :func:`~neuralab.report.write_report`); the
metrics of each trial; a study's closed-form checks and written-out values; every figure;
and the report inline. It is stored without outputs.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from . import lab_path

NBFORMAT, NBFORMAT_MINOR = 4, 5
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n")}


def _code(text: str, strip: bool = True) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": text.strip("\n") if strip else text,
            "execution_count": None, "outputs": []}


def lab_notebook(name: str, quick: bool = False) -> dict:
    """The notebook of lab ``name`` as a dict (nbformat 4.5); ``quick`` makes the
    notebook's ``QUICK`` setting default to True. ValueError for an unknown lab."""
    path = lab_path(name)
    text = path.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    description = " ".join(str(doc.get("description", "")).split())
    study = "study" in doc
    file_name = f"{name}.toml"
    cells = [
        _markdown(f"""
# Lab `{name}`

{description}

This notebook was written by `neuralab lab notebook {name}`; the same lab runs from a
terminal with `neuralab lab run {name}` (add `--quick` for the short version). It runs the
experiment file below through neuralab's Python API, then shows the results
{'(the closed-form checks, the values and the figures)' if study else '(metrics and figures)'}
and the report."""),
        _markdown("""
## The experiment file

Change any field and run the notebook again (`neuralab lab show NAME` prints the original)."""
                  .replace("NAME", name)),
        _code(f"%%writefile {file_name}\n{text}", strip=False),  # the file, byte for byte
        _markdown("## Settings"),
        _code(f"""
QUICK = {quick}  # True: apply the file's [quick] table (a short run)
RESULTS = "results/{name}-notebook"  # overwritten by every run of this notebook
EXECUTOR = "{'local' if study else 'process'}"  # "local": trials one by one in this kernel
"""),
        _markdown("## Run the experiment"),
        _code(f"""
from neuralab.experiments import load_experiment, run_experiment
from neuralab.report import write_report

experiment = load_experiment("{file_name}", quick=QUICK)
summary = run_experiment(experiment, RESULTS, executor=EXECUTOR, overwrite=True)
print(f"{{summary.ran}} trial(s) run, {{summary.failed}} failed, in {{summary.seconds:.1f}} s")
print("report:", write_report(summary.output))
"""),
        _markdown("## Metrics of each trial"),
        _code("""
from neuralab.experiments.aggregate import summarize

for record in summarize(RESULTS).records:
    print(f"{record['id']} ({record['status']}):")
    for key, value in record["metrics"].items():
        print(f"    {key:32s} {value}")
"""),
    ]
    if study:
        cells += [
            _markdown("## Closed-form checks\n\nEach measured number beside its closed form "
                      "(or, for gradients, beside the engine and a numerical gradient)."),
            _code("""
from neuralab.experiments.studies import print_checks, print_quantities

failed = print_checks(RESULTS)
assert failed == 0, f"{failed} check(s) failed"
print_quantities(RESULTS)
"""),
        ]
    cells += [
        _markdown("## Figures"),
        _code("""
from pathlib import Path

from IPython.display import Image, display

root = Path(RESULTS)
for png in sorted(root.glob("figures/*.png")) + sorted(root.glob("trials/*/artifacts/*.png")):
    print(png.relative_to(root))
    display(Image(filename=str(png)))
"""),
        _markdown("## The report\n\nThe page `neuralab lab run` writes, shown inline."),
        _code("""
from neuralab import report

report.show(RESULTS)
"""),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"{name}-{i}"
        cell["source"] = cell["source"].splitlines(keepends=True)
    return {"cells": cells, "metadata": {**METADATA, "neuralab": {"lab": name}},
            "nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR}


def write_lab_notebook(name: str, path, quick: bool = False) -> Path:
    """Write the notebook of lab ``name`` to ``path`` (``.ipynb``); returns the path."""
    from ..io_utils import atomic_write_text
    path = Path(path)
    if path.suffix != ".ipynb":
        raise ValueError(f"{path}: a notebook file name ends in .ipynb")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; expected a notebook file name (NAME.ipynb)")
    notebook = lab_notebook(name, quick=quick)
    atomic_write_text(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return path


__all__ = ["lab_notebook", "write_lab_notebook"]
