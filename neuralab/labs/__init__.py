"""Built-in labs: experiment files that reproduce the course material's experiments.

    neuralab lab list
    neuralab lab run synthetic [--quick] [-o DIR]
    neuralab lab show mnist-mlp            # the experiment file, to copy and change
    neuralab lab notebook descent          # the lab as a Jupyter notebook (descent.ipynb)

Each lab is a TOML experiment (see :mod:`neuralab.experiments.spec`) in this folder; its
``[quick]`` table shrinks it to under a minute for tests and demos. A lab with a
``[study]`` table (``descent``, ``backprop``) computes and checks closed forms instead of
training a network (:mod:`neuralab.experiments.studies`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

FOLDER = Path(__file__).parent


def lab_names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


def lab_path(name: str) -> Path:
    path = FOLDER / f"{name}.toml"
    if not path.is_file():
        raise ValueError(f"Unknown lab {name!r}; available: {', '.join(lab_names())}")
    return path


def load_lab(name: str, quick: bool = False, overrides: dict | None = None):
    from ..experiments import load_experiment
    return load_experiment(lab_path(name), quick=quick, overrides=overrides)


def lab_info(name: str) -> dict:
    """Name, one-line description and data loader of a lab (for ``lab list``); a study
    shows ``study:<type>`` in place of a loader."""
    doc = tomllib.loads(lab_path(name).read_text(encoding="utf-8"))
    description = " ".join(doc.get("description", "").split())
    first = description.split(". ")[0].rstrip(".")
    loader = (f"study:{doc['study'].get('type', '?')}" if "study" in doc
              else doc.get("data", {}).get("loader", "?"))
    return {"name": name, "summary": first, "loader": loader}
