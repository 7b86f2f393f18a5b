"""Per-trial analyses (``[analysis] per_trial = [...]``): figures and tables made from the
trained model right after its trial, written to the trial's ``artifacts/`` folder.

==================  ==================================================================
decision_regions    2-D inputs: predicted classes over the plane, training points
hidden_units        2-D inputs: each first-layer unit's response over the plane
weights             first Dense layer as image tiles (inputs that are images), or the
                    first Conv2D layer's filters
confusion_matrix    test (else validation) set: true vs predicted classes
regression_fit      1-D inputs: data, prediction, and the true function when known
top_k_words         next-word data: the top 10 candidates for 5 sampled test contexts
==================  ==================================================================

Each returns the artifact file names it wrote; a figure needs matplotlib
(``neuralab[plots]``), a table (``.json``) does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io_utils import atomic_write_text


def _save(fig, folder: Path, name: str) -> list[str]:
    from ..plots import save_figure
    save_figure(fig, folder / name)
    return [name]


def _eval_split(data):
    if data.x_test is not None:
        return "test", data.x_test, data.y_test
    if data.x_val is not None:
        return "validation", data.x_val, data.y_val
    return "training", data.x_train, data.y_train


def decision_regions(model, data, folder: Path, title: str) -> list[str]:
    from ..plots import decision_regions as plot
    return _save(plot(model, data.x_train, data.y_train, data.classes,
                      title=f"Decision regions: {title}"), folder, "decision_regions.png")


def hidden_units(model, data, folder: Path, title: str) -> list[str]:
    from ..plots import hidden_unit_maps
    return _save(hidden_unit_maps(model, data.x_train, title=f"Hidden units: {title}"),
                 folder, "hidden_units.png")


def weights(model, data, folder: Path, title: str) -> list[str]:
    from ..layers import Conv2D, Dense
    from ..plots import conv_filters, weight_tiles
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            return _save(conv_filters(layer.kernel.data, title=f"First conv filters: {title}"),
                         folder, "weights.png")
        if isinstance(layer, Dense):
            shape = data.info.get("image_shape")
            if shape is None or int(np.prod(shape)) != layer.kernel.data.shape[0]:
                raise ValueError("weights: the first Dense layer's inputs are not images "
                                 f"(input shape {data.input_shape})")
            image = tuple(shape)[:-1] if tuple(shape)[-1] == 1 else tuple(shape)
            return _save(weight_tiles(layer.kernel.data, image,
                                      title=f"First-layer weights: {title}"), folder, "weights.png")
    raise ValueError("weights: the model has no Dense or Conv2D layer")


def confusion_matrix(model, data, folder: Path, title: str) -> list[str]:
    from ..metrics import confusion_matrix as counts
    from ..plots import confusion_matrix_plot
    from ..plots.inspect import predicted_classes
    split, x, y = _eval_split(data)
    y = np.asarray(y)
    # integer labels as they are; one-hot rows and -1/+1 or 0/1 float targets like outputs
    truth = y.reshape(len(y)) if y.dtype.kind in "iu" else predicted_classes(y.reshape(len(y), -1))
    predicted = predicted_classes(model.predict(x))
    cm = counts(truth, predicted, num_classes=len(data.classes))
    atomic_write_text(folder / "confusion_matrix.json",
                      json.dumps({"split": split, "classes": data.classes, "counts": cm.tolist()}))
    fig = confusion_matrix_plot(cm, data.classes, title=f"Confusion matrix ({split}): {title}")
    return ["confusion_matrix.json"] + _save(fig, folder, "confusion_matrix.png")


def regression_fit(model, data, folder: Path, title: str) -> list[str]:
    from ..plots import regression_fit as plot
    truth = (lambda v: np.sin(2 * np.pi * v)) if data.info.get("true_function") == "sin(2 pi x)" \
        else None
    return _save(plot(model, data.x_train, data.y_train, truth, data.x_test, data.y_test,
                      title=f"Prediction vs truth: {title}"), folder, "regression_fit.png")


def top_k_words(model, data, folder: Path, title: str, samples: int = 5, k: int = 10,
                seed: int = 0) -> list[str]:
    """Top-``k`` fourth words for ``samples`` random test contexts (a seeded choice)."""
    words = data.info.get("words")
    if not words:
        raise ValueError("top_k_words needs next-word data (the nextword loader)")
    _, x, y = _eval_split(data)
    rng = np.random.default_rng(seed)
    rows = []
    for i in rng.choice(len(x), size=min(samples, len(x)), replace=False):
        p = model.predict(x[i:i + 1])[0]
        best = np.argsort(-p, kind="stable")[:k]
        target = int(y[i])
        rows.append({"context": [words[int(w)] for w in x[i]], "target": words[target],
                     "target_rank": int((p > p[target]).sum()) + 1,
                     "top": [[words[int(w)], float(p[w])] for w in best]})
    atomic_write_text(folder / "top_k_words.json", json.dumps({"k": k, "rows": rows}, indent=1))
    return ["top_k_words.json"]


ANALYSES = {"decision_regions": decision_regions, "hidden_units": hidden_units,
            "weights": weights, "confusion_matrix": confusion_matrix,
            "regression_fit": regression_fit, "top_k_words": top_k_words}


def run_analyses(names, model, data, folder: Path, title: str) -> tuple[list[str], list[str]]:
    """Run each analysis; returns (artifact names, problems). A failing analysis is reported,
    never fatal: the trained model and its metrics are already saved."""
    folder.mkdir(parents=True, exist_ok=True)
    written, problems = [], []
    for name in names:
        try:
            written += ANALYSES[name](model, data, folder, title)
        except ImportError as error:
            problems.append(f"{name}: {error}")
        except Exception as error:  # noqa: BLE001 - one analysis must not lose the trial
            problems.append(f"{name}: {type(error).__name__}: {error}")
    return written, problems
