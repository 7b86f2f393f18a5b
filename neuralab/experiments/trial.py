"""One trial: load the data, build and train the model, evaluate it, run its analyses
(or, for a ``[study]`` experiment, run the study: :mod:`.studies`).

:func:`run_trial` runs anywhere (this process, a pool worker, a Ray worker) and returns
everything as a :class:`~.result.TrialResult` of plain values, so the driver alone
writes the results folder (and names its files). It never raises: an exception becomes a
``failed`` result with its traceback, and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from .result import TrialResult


def limit_threads(threads: int | None) -> None:
    """Cap BLAS threads in this process (pool workers share the cores between them)."""
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without threadpoolctl the environment applies to new processes only
        return
    threadpool_limits(threads)


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None


def _validation(data, choice: str):
    """The (x, y, name) watched during fit; ``auto`` takes validation, else test data."""
    if choice == "none":
        return None
    if choice in ("auto", "val") and data.x_val is not None:
        return data.x_val, data.y_val, "validation"
    if choice == "val":
        raise ValueError("fit.validation = \"val\" but the data has no validation set: set "
                         "data.validation_split")
    if data.x_test is not None:
        return data.x_test, data.y_test, "test"
    if choice == "test":
        raise ValueError("fit.validation = \"test\" but the data has no test set")
    return None


def best_mode(metric: str) -> str:
    """"max" for accuracies, "min" for losses and errors (Keras' ``mode="auto"``)."""
    from ..callbacks import _monitor_mode
    return _monitor_mode(metric, "auto")


def _final_metrics(model, history, data, watched) -> dict:
    metrics: dict = {}
    for key, values in history.history.items():
        if values:
            metrics[key] = _finite(values[-1])
    watched_keys = [k for k in history.history if k.startswith("val_") and k != "val_loss"]
    if watched_keys:
        key = watched_keys[0]
        sign = 1.0 if best_mode(key) == "max" else -1.0
        values = [sign * v if math.isfinite(v) else -math.inf for v in history.history[key]]
        best = max(range(len(values)), key=values.__getitem__)
        metrics[f"best_{key}"] = _finite(history.history[key][best])
        metrics["best_epoch"] = best + 1
    if data.x_test is not None:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged model scores inf
            scores = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
        metrics.update({f"test_{k}": _finite(v) for k, v in scores.items()})
    metrics["epochs"] = len(history.epoch)
    metrics["params"] = int(model.count_params())
    metrics["watched"] = watched
    return metrics


def run_trial(trial, threads: int | None = None) -> TrialResult:
    """Train ``trial`` (a :class:`~neuralab.experiments.sweep.Trial`); see the module doc."""
    limit_threads(threads)
    start = time.perf_counter()
    result = TrialResult.failed(trial)  # until it succeeds
    try:
        if "study" in trial.config:
            from .study_kinds import run_study
            run_study(trial, result)
        else:
            _train(trial, result)
    except Exception:  # noqa: BLE001 - recorded with its traceback; the sweep continues
        result.status = "failed"
        result.error = traceback.format_exc()
    result.wall_s = round(time.perf_counter() - start, 3)
    return result


def _train(trial, result: TrialResult) -> None:
    """Fill ``result`` in: metrics, history, model, summary, series, artifacts, status."""
    from .. import backend
    from ..callbacks import GradientNorm
    from ..models.saving import model_to_bytes
    from .build import build_callbacks, build_model
    from .data import load_data

    config = trial.config
    backend.clear_session()
    data = load_data(config["data"], trial.seed)
    backend.set_seed(trial.seed)
    model = build_model(config, data.input_shape)
    fit = config["fit"]
    callbacks = build_callbacks(fit.get("callbacks", []))
    recorder = None
    every = config.get("analysis", {}).get("gradient_norm_every")
    if every:
        recorder = GradientNorm(every=every)
        callbacks.append(recorder)
    watched = _validation(data, fit.get("validation", "auto"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(data.x_train, data.y_train, epochs=fit["epochs"],
                            batch_size=fit["batch_size"], shuffle=fit.get("shuffle", True),
                            validation_data=watched[:2] if watched else None,
                            validation_batch_size=fit.get("validation_batch_size"),
                            callbacks=callbacks, verbose=0)
    result.problems += sorted({str(w.message) for w in caught
                               if not issubclass(w.category, DeprecationWarning)})
    result.metrics = _final_metrics(model, history, data, watched[2] if watched else None)
    result.history = history.history
    result.model = model_to_bytes(model)
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    result.summary = "\n".join(lines)
    if recorder is not None and recorder.norms:
        result.metrics["first_layer_grad_norm_mean"] = float(sum(recorder.norms)
                                                             / len(recorder.norms))
        result.series = {"gradient_norm": {
            "steps": recorder.steps, "values": recorder.norms, "losses": recorder.losses,
            "parameter": recorder.parameter_name}}
    _analyse(trial, config, model, data, result)
    diverged = getattr(history, "diverged", None)
    result.status = "diverged" if diverged else "ok"
    result.error = diverged["message"] if diverged else None


def _analyse(trial, config: dict, model, data, result: TrialResult) -> None:
    analyses = config.get("analysis", {}).get("per_trial", [])
    if not analyses:
        return
    from ..plots import pyplot
    from .analyses import run_analyses
    with contextlib.suppress(ImportError):
        pyplot(agg=True)
    with tempfile.TemporaryDirectory() as tmp:
        written, problems = run_analyses(analyses, model, data, Path(tmp),
                                         f"{trial.point.name}, seed {trial.seed}")
        result.artifacts = {name: (Path(tmp) / name).read_bytes() for name in written}
        result.problems += problems
