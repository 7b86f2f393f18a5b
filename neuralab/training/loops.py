"""The epoch/batch loops behind ``fit``, ``evaluate`` and ``predict``.

Inputs are validated once per call (type, shape, finiteness, target kind and range, see
:mod:`.data`); batches are then gathered into reused buffers and layers reuse their
scratch arrays, so the inner loop allocates little. The loops use the model's public
training interface only (:class:`~neuralab.training.trainer.Trainer`).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from .. import callbacks as callbacks_module
from .. import parallel
from ..datasets.batching import RowGatherer, batch_slices
from .batches import ArrayBatches, IterableBatches, batch_source, is_batch_source
from .data import prepare_inputs, prepare_sample_weights, prepare_targets
from .trainer import TrainingDiverged


class TrainingDivergedWarning(RuntimeWarning):
    """Training stopped because the loss or a gradient became NaN or infinite."""


def _batch_size(batch_size, default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


class _Mean:
    """Running mean of the total loss and of each output's loss, weighted by batch size."""

    def __init__(self, outputs: int):
        self.total, self.count = 0.0, 0
        self.per_output = [0.0] * outputs

    def add(self, model, value: float, n: int) -> None:
        self.total += value * n
        self.count += n
        for k, v in enumerate(model._output_losses):
            if v is not None:
                self.per_output[k] += v * n

    def logs(self, model, metrics) -> dict:
        count = max(self.count, 1)
        model._output_losses = [None if loss is None else v / count
                                for v, loss in zip(self.per_output, model.compiled_losses)]
        return model.step_logs(self.total / count, metrics)


def _run_test_loop(model, batches, cbs=None) -> dict:
    """Loss and metrics over ``batches`` (an ArrayBatches or IterableBatches)."""
    metrics = model._test_metrics
    for ms in metrics or []:
        for m in ms:
            m.reset_state()
    mean = _Mean(len(model.output_names))
    for step, (xb, yb, swb) in enumerate(batches.epoch(model.rng)):
        if yb is None:
            raise ValueError("evaluation needs targets: the generator yielded batches without y")
        if metrics is None:
            model.resolve_metrics(yb)
            metrics = model._test_metrics
        if cbs is not None:
            cbs.call("on_test_batch_begin", step, None)
        value = model.test_step(xb, yb, swb)
        mean.add(model, value, len(xb[0]))
        model.update_metrics(metrics, yb, swb)
        if cbs is not None:
            cbs.call("on_test_batch_end", step, mean.logs(model, metrics))
    if mean.count == 0:
        raise ValueError("Cannot evaluate on an empty dataset (0 samples): the loss and "
                         "metrics of no samples are undefined")
    return mean.logs(model, metrics)


def _steps(value, name: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


def _split(arrays, start: int, stop: int | None):
    return None if arrays is None else [None if a is None else a[start:stop] for a in arrays]


def _fit_sources(model, x, y, sample_weight, class_weight, batch_size: int, shuffle: bool,
                 steps_per_epoch, validation_split, validation_data, val_batch: int,
                 validation_steps):
    """The training batches and the validation batches (or ``None``) of a ``fit`` call."""
    if is_batch_source(x):
        if validation_split:
            raise ValueError("validation_split is not supported when x is a generator or "
                             "PyDataset: pass validation_data instead")
        train = batch_source(model, x, y, None, batch_size, shuffle, steps_per_epoch,
                             class_weight=class_weight)
    else:
        xs = prepare_inputs(model, x)
        ys = prepare_targets(model, y, len(xs[0]))
        sws = prepare_sample_weights(model, sample_weight, class_weight, ys, len(xs[0]))
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
            split = int(len(xs[0]) * (1 - validation_split))  # Keras: the last samples
            if split == len(xs[0]):
                raise ValueError(f"validation_split={validation_split} leaves no validation "
                                 f"samples out of {len(xs[0])}")
            # Keras splits (x, y, sample_weight) before class_weight: validation is unweighted by it
            val_sws = sws if class_weight is None else \
                prepare_sample_weights(model, sample_weight, None, ys, len(xs[0]))
            validation = ArrayBatches(model, _split(xs, split, None), _split(ys, split, None),
                                      _split(val_sws, split, None), val_batch, False,
                                      validation_steps)
            xs, ys, sws = _split(xs, 0, split), _split(ys, 0, split), _split(sws, 0, split)
            train = ArrayBatches(model, xs, ys, sws, batch_size, shuffle, steps_per_epoch)
            return _nonempty(train), validation
        train = ArrayBatches(model, xs, ys, sws, batch_size, shuffle, steps_per_epoch)
    return _nonempty(train), _validation(model, validation_data, val_batch, validation_steps)


def _nonempty(batches):
    if batches.samples == 0:
        raise ValueError("Cannot fit on an empty dataset")
    return batches


def _validation(model, validation_data, batch_size: int, steps):
    if validation_data is None:
        return None
    if is_batch_source(validation_data):
        return IterableBatches(model, validation_data, steps, "validation_data")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                         "sample_weight_val), or a generator/PyDataset of such batches")
    weights = validation_data[2] if len(validation_data) == 3 else None
    batches = batch_source(model, validation_data[0], validation_data[1], weights, batch_size,
                           False, steps, "validation_data")
    if batches.samples == 0:
        raise ValueError("validation_data is empty (0 samples): pass samples to validate on, "
                         "or leave validation_data out")
    return batches


def _callback_list(model, callbacks, verbose: int, params: dict):
    """The user's callbacks, then History (returned too) and the progress logger."""
    history = callbacks_module.History()
    model.history = history
    user_callbacks = list(callbacks or [])
    for cb in user_callbacks:
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    all_callbacks = user_callbacks + [history]
    if verbose:
        all_callbacks.append(callbacks_module.ProgressLogger(verbose))
    return callbacks_module.CallbackList(all_callbacks, model, params), history


def fit(model, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_batch_size=None, validation_freq=1):
    model._require_compiled("fit")
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size)
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    train, validation = _fit_sources(
        model, x, y, sample_weight, class_weight, batch_size, shuffle,
        _steps(steps_per_epoch, "steps_per_epoch"), validation_split, validation_data,
        _batch_size(validation_batch_size, batch_size),
        _steps(validation_steps, "validation_steps"))
    model.prepare_training()
    if isinstance(train, ArrayBatches):
        model.resolve_metrics(train.ys)
    cbs, history = _callback_list(model, callbacks, verbose, {
        "epochs": epochs, "steps": train.steps, "verbose": verbose, "batch_size": batch_size,
        "samples": train.samples})
    model.stop_training = False
    model.set_buffer_reuse(True)
    logs: dict = {}
    try:
        # overflow shows up as a NaN/inf loss, which stops training with a clear message;
        # numpy's own RuntimeWarnings about it would only add noise. BLAS stays on the
        # calling thread: neuralab's threads share the cores (neuralab.parallel)
        with np.errstate(over="ignore", invalid="ignore"), parallel.blas_on_one_thread():
            cbs.on_train_begin(logs)
            for epoch in range(initial_epoch, epochs):
                logs = _train_epoch(model, train, cbs, history, epoch)
                if logs is None:  # diverged
                    logs = {}
                    break
                if validation is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                    cbs.call("on_test_begin", {})  # as in Keras, validation is an evaluate
                    val_logs = _run_test_loop(model, validation, cbs)
                    cbs.call("on_test_end", dict(val_logs))
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                logs["lr"] = model.optimizer.learning_rate
                cbs.call("on_epoch_end", epoch, logs)
                if model.stop_training:
                    break
            finalize = getattr(model.optimizer, "finalize_variable_values", None)
            if finalize is not None:  # Keras: an EMA of the weights replaces them at the end
                finalize(model.trainable_weights)
            cbs.call("on_train_end", logs)
    finally:
        model.set_buffer_reuse(False)
    return history


def _train_epoch(model, train, cbs, history, epoch: int) -> dict | None:
    """One epoch of steps; its logs, or ``None`` when training diverged."""
    for ms in model._train_metrics or []:
        for m in ms:
            m.reset_state()
    snapshot = [data.copy() for data, _ in model._flat]
    cbs.call("on_epoch_begin", epoch, {})
    mean = _Mean(len(model.output_names))
    batch_cbs = cbs.batch_callbacks
    metrics = model._train_metrics
    for step, (xb, yb, swb) in enumerate(train.epoch(model.rng)):
        if yb is None:
            raise ValueError("fit needs targets: the generator yielded batches without y")
        if metrics is None:
            metrics = model.resolve_metrics(yb)
        if batch_cbs:
            cbs.call_batch("on_train_batch_begin", step, {})
        try:
            value = model.train_step(xb, yb, swb)
        except TrainingDiverged as error:
            _report_divergence(model, history, epoch, step, train.steps, str(error), snapshot)
            return None
        mean.add(model, value, len(xb[0]))
        model.update_metrics(metrics, yb, swb)
        if batch_cbs:
            cbs.call_batch("on_train_batch_end", step, mean.logs(model, metrics))
        if model.stop_training:
            break
    return mean.logs(model, metrics or [])


def _report_divergence(model, history, epoch: int, step: int, steps: int, reason: str,
                       snapshot: list[np.ndarray]) -> None:
    """Stop training, put back the weights of the start of the epoch (the last known to
    give finite losses: the last step's may be finite yet huge) and warn."""
    for (data, _), saved in zip(model._flat, snapshot):
        data[...] = saved
    lr = model.optimizer.learning_rate
    message = (f"Training stopped at epoch {epoch + 1}, batch {step + 1}"
               f"{'' if steps is None else f'/{steps}'}: {reason}. "
               f"The weights were restored to those at the start of epoch {epoch + 1}. The "
               f"learning rate ({lr:g}) may be too high: try a smaller one, or standardize "
               "the inputs.")
    history.diverged = {"epoch": epoch, "batch": step, "reason": reason, "message": message}
    model.stop_training = True
    warnings.warn(message, TrainingDivergedWarning, stacklevel=4)


def evaluate(model, x, y, batch_size=None, verbose="auto", sample_weight=None, steps=None,
             return_dict=False, callbacks=None):
    model._require_compiled("evaluate")
    verbose = _verbosity(verbose)
    batch_size = _batch_size(batch_size)
    batches = batch_source(model, x, y, sample_weight, batch_size, False, _steps(steps, "steps"))
    if batches.samples == 0:
        raise ValueError("Cannot evaluate on an empty dataset (0 samples): the loss and "
                         "metrics of no samples are undefined")
    model.prepare_training()
    if isinstance(batches, ArrayBatches):
        model.resolve_metrics(batches.ys)
    cbs = callbacks_module.CallbackList(callbacks or [], model, {"verbose": verbose})
    cbs.call("on_test_begin", None)
    model.set_buffer_reuse(True)
    try:
        with parallel.blas_on_one_thread():
            logs = _run_test_loop(model, batches, cbs if callbacks else None)
    finally:
        model.set_buffer_reuse(False)
    cbs.call("on_test_end", logs)
    if verbose:
        print(f"{batches.steps}/{batches.steps} - {callbacks_module.format_logs(logs)}",
              file=sys.stdout)
    return _pack(logs, return_dict)


def _pack(logs: dict, return_dict: bool):
    if return_dict:
        return dict(logs)
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose=0, steps=None, callbacks=None):
    batch_size = _batch_size(batch_size)
    if is_batch_source(x):
        batches = IterableBatches(model, x, _steps(steps, "steps"))
        parts = [model.run_graph(xb, False, record=False)[0]
                 for xb, _, _ in batches.epoch(model.rng)]
        if not parts:
            raise ValueError("predict: the generator yielded no batch")
        outs = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        return model.structure_outputs(_checked(model, outs))
    xs = prepare_inputs(model, x)
    n = len(xs[0])
    cbs = callbacks_module.CallbackList(callbacks or [], model, {"verbose": verbose})
    cbs.call("on_predict_begin", None)
    batch_cbs = cbs.implementing("on_predict_batch_begin", "on_predict_batch_end")
    gatherers = [RowGatherer(a, model.dtype, batch_size) for a in xs]
    outs: list[np.ndarray] | None = None
    model.set_buffer_reuse(True)
    try:
        for step, index in enumerate(batch_slices(n, batch_size)[:_steps(steps, "steps")]):
            for cb in batch_cbs:
                cb.on_predict_batch_begin(step, {})
            values, _ = model.run_graph([g.rows(index) for g in gatherers], False, record=False)
            if outs is None:
                outs = [np.empty((n,) + v.shape[1:], dtype=v.dtype) for v in values]
            for out, v in zip(outs, values):
                out[index] = v
            for cb in batch_cbs:  # Keras: the batch's predictions
                cb.on_predict_batch_end(step, {"outputs": model.structure_outputs(
                    [out[index] for out in outs])})
    finally:
        model.set_buffer_reuse(False)
    cbs.call("on_predict_end", None)
    if outs is None:
        outs = [np.empty((0,) + tuple(shape[1:]), dtype=model.dtype)
                for shape in model.output_shapes]
    return model.structure_outputs(_checked(model, outs))


def _checked(model, outs: list[np.ndarray]) -> list[np.ndarray]:
    """Warn when predictions hold NaN/inf (diverged weights), instead of staying silent."""
    bad = sum(int(np.count_nonzero(~np.isfinite(o))) for o in outs
              if np.issubdtype(o.dtype, np.floating))
    if bad:
        warnings.warn(f"predict: {bad} output value(s) are NaN or infinite: the weights of "
                      f"model {model.name!r} may have diverged (check its training history)",
                      RuntimeWarning, stacklevel=4)
    return outs


def train_on_batch(model, x, y, sample_weight=None, class_weight=None, reset_metrics=True,
                   return_dict=False):
    model._require_compiled("train_on_batch")
    xs = prepare_inputs(model, x)
    ys = prepare_targets(model, y, len(xs[0]))
    sws = prepare_sample_weights(model, sample_weight, class_weight, ys, len(xs[0]))
    model.prepare_training()
    metrics = model.resolve_metrics(ys)
    tracker = _loss_tracker(model, "_train_loss", reset_metrics, metrics)
    try:
        value = model.train_step([np.asarray(v, dtype=model.dtype) for v in xs], ys, sws)
    except TrainingDiverged as error:
        raise FloatingPointError(f"train_on_batch: {error}; the weights were not updated. "
                                 "The learning rate may be too high.") from None
    tracker.update_state(value, len(xs[0]))
    model.update_metrics(metrics, ys, sws)
    return _pack(model.step_logs(tracker.result(), metrics), return_dict)


def test_on_batch(model, x, y, sample_weight=None, reset_metrics=True, return_dict=False):
    model._require_compiled("test_on_batch")
    xs = prepare_inputs(model, x)
    ys = prepare_targets(model, y, len(xs[0]))
    sws = prepare_sample_weights(model, sample_weight, None, ys, len(xs[0]))
    model.prepare_training()
    model.resolve_metrics(ys)
    metrics = model._test_metrics
    tracker = _loss_tracker(model, "_test_loss", reset_metrics, metrics)
    value = model.test_step([np.asarray(v, dtype=model.dtype) for v in xs], ys, sws)
    tracker.update_state(value, len(xs[0]))
    model.update_metrics(metrics, ys, sws)
    return _pack(model.step_logs(tracker.result(), metrics), return_dict)


def _loss_tracker(model, attr: str, reset: bool, metrics):
    from ..metrics import Mean
    tracker = getattr(model, attr, None)
    if tracker is None:
        tracker = Mean(name="loss")
        setattr(model, attr, tracker)
    if reset:
        tracker.reset_state()
        for ms in metrics:
            for m in ms:
                m.reset_state()
    return tracker
