"""The epoch/batch loops behind ``fit``, ``evaluate`` and ``predict``.

Inputs are validated once per call (type, shape, finiteness, target kind and range);
batches are then gathered into reused buffers and layers reuse their scratch arrays,
so the inner loop allocates little. Validation problems raise ``ValueError`` or
``TypeError`` naming what was wrong and what was expected.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np

from . import callbacks as callbacks_module
from .datasets.batching import RowGatherer, batch_slices
from .layers.base import format_shape
from .models.sequential import TrainingDiverged


class TrainingDivergedWarning(RuntimeWarning):
    """Training stopped because the loss or a gradient became NaN or infinite."""


# -- validation ---------------------------------------------------------------------------
def prepare_inputs(model, x) -> np.ndarray:
    """Check ``x`` and build the model for it; returns an ndarray (not copied if possible)."""
    if x is None:
        raise ValueError("x is required: pass the input samples as a NumPy array")
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"Model inputs must be numeric, got an array of dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError("Model inputs need a batch axis: expected an array of shape (N, ...)")
    model._ensure_built(x)
    expected = model.input_shape
    if x.ndim != len(expected) or any(e is not None and e != d
                                      for e, d in zip(expected[1:], x.shape[1:])):
        raise ValueError(f"Model {model.name!r} expected input of shape {format_shape(expected)}, "
                         f"got {format_shape((None,) + x.shape[1:])}")
    bad = nonfinite_rows(x)
    if bad.size:
        raise ValueError(f"Model inputs contain NaN or infinite values (samples {bad[:5].tolist()}"
                         f"{'...' if len(bad) > 5 else ''}); clean or impute them first")
    return x


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Indices of samples holding NaN/inf, found without a full-size temporary array."""
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        return np.empty(0, dtype=np.intp)
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(x.reshape(-1))
    if np.isfinite(total):
        return np.empty(0, dtype=np.intp)  # a NaN or inf anywhere would make the sum non-finite
    # the sum may also have overflowed: look row by row
    rows = x.reshape(len(x), -1)
    step = max(1, (1 << 16) // max(1, rows.shape[1]))
    bad = [start + np.flatnonzero(~np.isfinite(rows[start:start + step]).all(axis=1))
           for start in range(0, len(rows), step)]
    return np.concatenate(bad)


def prepare_targets(model, y, n: int) -> np.ndarray:
    """Validate targets against the loss and the model's output shape."""
    if y is None:
        raise ValueError("y is required for training and evaluation")
    y = np.asarray(y)
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise TypeError(f"Targets must be numeric, got an array of dtype {y.dtype}")
    if len(y) != n:
        raise ValueError(f"x and y must have the same number of samples: got {n} inputs and "
                         f"{len(y)} targets")
    if nonfinite_rows(y).size:
        raise ValueError("Targets contain NaN or infinite values")
    template = np.broadcast_to(np.zeros((), dtype=model.dtype), (n,) + tuple(model.output_shape[1:]))
    return model.loss.check_targets(y, template)


def _batch_size(batch_size, default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _require_compiled(model, what: str) -> None:
    if not model.compiled:
        raise ValueError(f"The model must be compiled before {what}: call "
                         "model.compile(optimizer=..., loss=..., metrics=[...]) first")


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


# -- loops ----------------------------------------------------------------------------------
def _logs(loss_value: float, metrics) -> dict:
    logs = {"loss": loss_value}
    for m in metrics:
        logs[m.name] = m.result()
    return logs


def _run_test_loop(model, x, y, batch_size: int, cbs=None) -> dict:
    metrics = model._test_metrics
    for m in metrics:
        m.reset_state()
    gather_x = RowGatherer(x, model.dtype, batch_size)
    total, count = 0.0, 0
    for step, index in enumerate(batch_slices(len(x), batch_size)):
        if cbs is not None:
            cbs.call("on_test_batch_begin", step, None)
        xb, yb = gather_x.rows(index), y[index]
        value = model.test_step(xb, yb)
        n = len(xb)
        total += value * n
        count += n
        out = model._last_output
        for m in metrics:
            m.update_state(yb, out)
        if cbs is not None:
            cbs.call("on_test_batch_end", step, _logs(total / count, metrics))
    return _logs(total / max(count, 1), metrics)


def fit(model, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
        validation_batch_size=None, validation_freq=1):
    _require_compiled(model, "fit")
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size)
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    x = prepare_inputs(model, x)
    y = prepare_targets(model, y, len(x))
    if validation_data is None and validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
        split = int(len(x) * (1 - validation_split))  # Keras: the last samples, before shuffling
        x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
        validation_data = (x_val, y_val)
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (x_val, y_val)")
        x_val = prepare_inputs(model, validation_data[0])
        y_val = prepare_targets(model, validation_data[1], len(x_val))
        validation_data = (x_val, y_val)
    if len(x) == 0:
        raise ValueError("Cannot fit on an empty dataset")
    val_batch = _batch_size(validation_batch_size, batch_size)

    metrics = model._resolve_metrics(y)
    history = callbacks_module.History()
    model.history = history
    user_callbacks = list(callbacks or [])
    for cb in user_callbacks:
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    all_callbacks = user_callbacks + [history]
    if verbose:
        all_callbacks.append(callbacks_module.ProgressLogger(verbose))
    n = len(x)
    steps = math.ceil(n / batch_size)
    cbs = callbacks_module.CallbackList(
        all_callbacks, model, {"epochs": epochs, "steps": steps, "verbose": verbose,
                               "batch_size": batch_size, "samples": n})
    gather_x = RowGatherer(x, model.dtype, batch_size)
    gather_y = RowGatherer(y, y.dtype, batch_size)
    slices = batch_slices(n, batch_size)

    model.stop_training = False
    model.set_buffer_reuse(True)
    logs: dict = {}
    # overflow shows up as a NaN/inf loss, which stops training with a clear message;
    # numpy's own RuntimeWarnings about it would only add noise
    errstate = np.errstate(over="ignore", invalid="ignore")
    errstate.__enter__()
    try:
        cbs.on_train_begin(logs)
        for epoch in range(initial_epoch, epochs):
            for m in metrics:
                m.reset_state()
            cbs.call("on_epoch_begin", epoch, {})
            order = model.rng.permutation(n) if shuffle else None
            total, count = 0.0, 0
            batch_cbs = cbs.batch_callbacks
            for step, index in enumerate(slices):
                if order is not None:
                    index = order[index]
                xb, yb = gather_x.rows(index), gather_y.rows(index)
                if batch_cbs:
                    cbs.call_batch("on_train_batch_begin", step, {})
                try:
                    value = model.train_step(xb, yb)
                except TrainingDiverged as error:
                    _report_divergence(model, history, epoch, step, steps, str(error))
                    break
                total += value * len(xb)
                count += len(xb)
                out = model._last_output
                for m in metrics:
                    m.update_state(yb, out)
                if batch_cbs:
                    cbs.call_batch("on_train_batch_end", step, _logs(total / count, metrics))
                if model.stop_training:
                    break
            if count == 0:  # diverged on the first batch of the epoch
                break
            logs = _logs(total / count, metrics)
            if validation_data is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                val_logs = _run_test_loop(model, validation_data[0], validation_data[1], val_batch)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            logs["lr"] = model.optimizer.learning_rate
            cbs.call("on_epoch_end", epoch, logs)
            if model.stop_training:
                break
        cbs.call("on_train_end", logs)
    finally:
        errstate.__exit__(None, None, None)
        model.set_buffer_reuse(False)
    return history


def _report_divergence(model, history, epoch: int, step: int, steps: int, reason: str) -> None:
    lr = model.optimizer.learning_rate
    message = (f"Training stopped at epoch {epoch + 1}, batch {step + 1}/{steps}: {reason}. "
               f"The weights from the last finite step are kept. The learning rate ({lr:g}) "
               "may be too high: try a smaller one, or standardize the inputs.")
    history.diverged = {"epoch": epoch, "batch": step, "reason": reason, "message": message}
    model.stop_training = True
    warnings.warn(message, TrainingDivergedWarning, stacklevel=3)


def evaluate(model, x, y, batch_size=None, verbose="auto", return_dict=False, callbacks=None):
    _require_compiled(model, "evaluate")
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size)
    x = prepare_inputs(model, x)
    y = prepare_targets(model, y, len(x))
    model._resolve_metrics(y)
    cbs = callbacks_module.CallbackList(callbacks or [], model, {"verbose": verbose})
    cbs.call("on_test_begin", None)
    model.set_buffer_reuse(True)
    try:
        logs = _run_test_loop(model, x, y, batch_size, cbs if callbacks else None)
    finally:
        model.set_buffer_reuse(False)
    cbs.call("on_test_end", logs)
    if verbose:
        steps = math.ceil(len(x) / batch_size)
        print(f"{steps}/{steps} - {callbacks_module.format_logs(logs)}", file=sys.stdout)
    return _pack(logs, return_dict)


def _pack(logs: dict, return_dict: bool):
    if return_dict:
        return dict(logs)
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose=0, callbacks=None) -> np.ndarray:
    batch_size = _batch_size(batch_size)
    x = prepare_inputs(model, x)
    cbs = callbacks_module.CallbackList(callbacks or [], model, {"verbose": verbose})
    cbs.call("on_predict_begin", None)
    gather = RowGatherer(x, model.dtype, batch_size)
    out = None
    model.set_buffer_reuse(True)
    try:
        for index in batch_slices(len(x), batch_size):
            yb = model.forward(gather.rows(index), training=False)
            if out is None:
                out = np.empty((len(x),) + yb.shape[1:], dtype=yb.dtype)
            out[index] = yb
    finally:
        model.set_buffer_reuse(False)
    cbs.call("on_predict_end", None)
    if out is None:
        out = np.empty((0,) + tuple(model.output_shape[1:]), dtype=model.dtype)
    return out


def train_on_batch(model, x, y, reset_metrics=True, return_dict=False):
    _require_compiled(model, "train_on_batch")
    x = prepare_inputs(model, x)
    y = prepare_targets(model, y, len(x))
    metrics = model._resolve_metrics(y)
    tracker = _loss_tracker(model, "_train_loss", reset_metrics, metrics)
    try:
        value = model.train_step(np.asarray(x, dtype=model.dtype), y)
    except TrainingDiverged as error:
        raise FloatingPointError(f"train_on_batch: {error}; the weights were not updated. "
                                 "The learning rate may be too high.") from None
    tracker.update_state(value, len(x))
    for m in metrics:
        m.update_state(y, model._last_output)
    return _pack(_logs(tracker.result(), metrics), return_dict)


def test_on_batch(model, x, y, reset_metrics=True, return_dict=False):
    _require_compiled(model, "test_on_batch")
    x = prepare_inputs(model, x)
    y = prepare_targets(model, y, len(x))
    model._resolve_metrics(y)
    metrics = model._test_metrics
    tracker = _loss_tracker(model, "_test_loss", reset_metrics, metrics)
    value = model.test_step(np.asarray(x, dtype=model.dtype), y)
    tracker.update_state(value, len(x))
    for m in metrics:
        m.update_state(y, model._last_output)
    return _pack(_logs(tracker.result(), metrics), return_dict)


def _loss_tracker(model, attr: str, reset: bool, metrics):
    from .metrics import Mean
    tracker = getattr(model, attr, None)
    if tracker is None:
        tracker = Mean(name="loss")
        setattr(model, attr, tracker)
    if reset:
        tracker.reset_state()
        for m in metrics:
            m.reset_state()
    return tracker
