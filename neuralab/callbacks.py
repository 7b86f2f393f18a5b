"""Callbacks with Keras hook names.

Subclass :class:`Callback` and override any of ``on_train_begin/end``,
``on_epoch_begin/end``, ``on_train_batch_begin/end`` (``on_batch_begin/end`` too),
``on_test_begin/end``, ``on_test_batch_begin/end``, ``on_predict_begin/end``,
``on_predict_batch_begin/end``. Each gets ``logs``, always a dict as in Keras: the current
loss/metrics (``val_*`` at epoch end), ``{}`` where there is nothing to report yet, and
``{"outputs": ...}`` at the end of a predict batch. Validation inside ``fit`` runs the
``on_test_*`` hooks, as ``evaluate`` does. ``self.model`` is the model being trained;
setting ``self.model.stop_training = True`` stops after the current batch.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backend
from .io_utils import atomic_write_text
from .registry import Registry

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint",
           "LearningRateScheduler", "ReduceLROnPlateau", "TerminateOnNaN", "CSVLogger",
           "LambdaCallback", "StopAtTarget", "GradientNorm", "ProgressLogger",
           "LiveLearningCurve"]


class Callback:
    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs)
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


def _overrides(cb: Callback, *names: str) -> bool:
    """Whether ``cb`` implements any of the hooks (as a method or an instance attribute)."""
    return any(n in cb.__dict__ or getattr(type(cb), n) is not getattr(Callback, n)
               for n in names)


def _plain_floats(logs: dict) -> None:
    """Logged variables (``optimizer.learning_rate``) as plain floats, in place so that
    entries callbacks add reach the ones after them (History last), as in Keras."""
    for key, value in logs.items():
        if isinstance(value, backend.ScalarVariable):
            logs[key] = float(value)


class CallbackList:
    """Calls hooks on several callbacks in order.

    Per-batch hooks go only to callbacks that implement them (and, for the progress
    logger, only when it draws a bar), so an epoch of small batches pays nothing for
    callbacks that only look at epochs.
    """

    def __init__(self, callbacks, model, params: dict):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self.batch_callbacks: list[Callback] = []

    def call(self, hook: str, *args) -> None:
        """``hook(*args)`` on every callback; a ``logs`` of ``None`` (the last argument)
        is passed as ``{}``, as Keras does."""
        if args and args[-1] is None:
            args = (*args[:-1], {})
        elif args and isinstance(args[-1], dict):
            _plain_floats(args[-1])
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def implementing(self, *hooks: str) -> list[Callback]:
        """The callbacks that override any of ``hooks`` (the others need no per-batch logs)."""
        return [cb for cb in self.callbacks if _overrides(cb, *hooks)]

    def on_train_begin(self, logs=None) -> None:
        self.call("on_train_begin", logs)
        self.batch_callbacks = [
            cb for cb in self.callbacks
            if _overrides(cb, "on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                          "on_batch_end") and getattr(cb, "wants_batches", lambda: True)()]

    def call_batch(self, hook: str, batch: int, logs) -> None:
        logs = {} if logs is None else logs
        for cb in self.batch_callbacks:
            getattr(cb, hook)(batch, logs)


class History(Callback):
    """Records ``logs`` of every epoch: ``history.history["val_loss"]`` etc."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        #: set when training stopped because the loss became NaN/inf
        self.diverged: dict | None = None

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}
        self.diverged = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, metrics=None, figure=None):
        """Loss and metrics per epoch, train and validation, one panel each (matplotlib).

        ``metrics`` picks quantities by name (default: the loss and every metric);
        ``figure`` draws on an existing figure. Returns the ``Figure``; its ``axes`` hold
        one line per curve. In a notebook: ``history.plot();``"""
        from .training.display import draw_history, history_quantities, new_figure
        if figure is None:
            figure = new_figure(len(history_quantities(self.history, metrics)))
        draw_history(figure, self.history, metrics, self.epoch)
        return figure

    def _repr_html_(self) -> str:
        from .training.display import history_html
        return history_html(self.history, self.epoch)


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    # metrics Keras marks as improving upwards (its metrics' ``_direction = "up"``)
    up = name.endswith(("auc", "precision", "recall", "f1_score", "fbeta_score", "true_positives",
                        "true_negatives"))
    return "max" if ("acc" in name or up or "top_k" in name) and "error" not in name else "min"


class _Monitor(Callback):
    """Shared by callbacks that watch one logged quantity for improvement."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        super().__init__()
        self.monitor = monitor
        self.mode = _monitor_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def _current(self, logs) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} is monitoring {self.monitor!r}, which is not "
                          f"among the logged values {sorted(logs or {})}", stacklevel=3)
        return value

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the best epoch's weights are put back at the end of
    training, whether or not it stopped early.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__(monitor, mode, min_delta)
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience!r}")
        self.patience, self.verbose, self.baseline = int(patience), verbose, baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._beats_baseline(value):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def _beats_baseline(self, value):
        return value < self.baseline if self.mode == "min" else value > self.baseline

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or only its weights) after each epoch, or every ``save_freq``
    training batches when it is an integer (as in Keras); ``filepath`` may contain
    ``{epoch:02d}``, ``{batch}`` (batch saves) and logged names such as
    ``{val_loss:.3f}``. Files are written atomically."""

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0.0)
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint save_freq must be 'epoch' or a positive integer "
                             f"(a number of batches), got {save_freq!r}")
        self.save_freq = save_freq
        self.filepath, self.verbose = str(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        self._epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, logs or {}, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _save(self, epoch: int, logs: dict, batch: int | None = None) -> None:
        extra = {} if batch is None else {"batch": batch + 1}
        path = self.filepath.format(epoch=epoch + 1, **extra, **logs)
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not self._improved(value):
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``)."""

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, optimizer.learning_rate)
        except TypeError:
            lr = self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler's schedule returned an invalid rate {lr!r}")
        optimizer.learning_rate = lr
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # Keras 3 records the rate in the history
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience``
    epochs (the "scheduled learning rate" of the EE449 homework)."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0):
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor!r}")
        self.factor, self.patience, self.verbose = float(factor), int(patience), verbose
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = self._current(logs)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.model.optimizer
            old = optimizer.learning_rate
            new = max(old * self.factor, self.min_lr)
            if old - new > 1e-12 * old:
                optimizer.learning_rate = new
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter = self.cooldown
            self.wait = 0


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write one CSV row per epoch (``epoch`` then the logged values); the file is rewritten
    atomically after every epoch, so a crash never leaves half a row."""

    def __init__(self, filename: str, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.separator, self.append = str(filename), separator, append

    def on_train_begin(self, logs=None):
        self.rows: list[dict] = []
        self.keys: list[str] | None = None
        if self.append:
            try:
                with open(self.filename, newline="") as f:
                    reader = csv.DictReader(f, delimiter=self.separator)
                    self.rows = list(reader)
                    self.keys = [k for k in (reader.fieldnames or []) if k != "epoch"] or None
            except FileNotFoundError:
                pass

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        self.rows.append({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["epoch"] + self.keys, delimiter=self.separator,
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.filename, buffer.getvalue())


class LambdaCallback(Callback):
    """Callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
              "on_train_begin", "on_train_end")

    def __init__(self, **hooks):
        super().__init__()
        unknown = set(hooks) - set(self._HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hooks {sorted(unknown)}; accepted: "
                            f"{list(self._HOOKS)}")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class StopAtTarget(Callback):
    """Stop once ``monitor`` reaches ``target``, e.g. ``StopAtTarget("accuracy", 0.99)`` as in
    the instrument lab. Checked at the end of each epoch; with ``per_batch=True`` also after
    every batch, on the running average of the epoch so far."""

    def __init__(self, monitor: str = "accuracy", target: float = 0.99, mode: str = "auto",
                 verbose: int = 1, per_batch: bool = False):
        super().__init__()
        self.monitor, self.target = monitor, float(target)
        self.mode = _monitor_mode(monitor, mode)
        self.verbose = verbose
        self.per_batch = per_batch
        self.reached_epoch: int | None = None

    def wants_batches(self) -> bool:
        return self.per_batch

    def _reached(self, logs) -> bool:
        value = (logs or {}).get(self.monitor)
        if value is None:
            return False
        return value >= self.target if self.mode == "max" else value <= self.target

    def on_train_begin(self, logs=None):
        self.reached_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if not self.model.stop_training and self._reached(logs):
            self._stop()

    def on_epoch_end(self, epoch, logs=None):
        if self.reached_epoch is None and self._reached(logs):
            self._stop()

    def _stop(self):
        self.reached_epoch = self._epoch
        self.model.stop_training = True
        if self.verbose:
            shown = f"{self.target:.2%}" if "acc" in self.monitor else f"{self.target:g}"
            print(f"\nReached target {self.monitor} ({shown}), stopping training!")


class GradientNorm(Callback):
    """Record the Frobenius norm of one parameter's gradient, ``||dL/dW||``, and the
    running training loss every ``every`` training batches (the activations homework
    watches the first layer's gradient to compare ReLU with sigmoid).

    ``parameter``: a parameter name (``"conv2d/kernel"``) or an index into
    ``model.trainable_weights``; default 0, the first layer's kernel. The gradient read is
    the one the optimizer just used (after clipping, when clipping is on).

    Attributes after ``fit``: ``steps`` (global batch numbers, from 0), ``norms``, ``losses``,
    ``parameter_name`` (the name of the parameter watched).
    """

    def __init__(self, every: int = 10, parameter: int | str = 0):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.every, self.parameter = every, parameter
        self.steps: list[int] = []
        self.norms: list[float] = []
        self.losses: list[float] = []
        self.parameter_name: str | None = None

    def wants_batches(self) -> bool:
        return True

    def on_train_begin(self, logs=None):
        weights = self.model.trainable_weights
        if isinstance(self.parameter, str):
            found = [p for p in weights if p.name == self.parameter]
            if not found:
                raise ValueError(f"GradientNorm: no trainable parameter named {self.parameter!r}; "
                                 f"have {[p.name for p in weights]}")
            self._param = found[0]
        else:
            if not -len(weights) <= self.parameter < len(weights):
                raise ValueError(f"GradientNorm: parameter index {self.parameter} out of range "
                                 f"for {len(weights)} trainable parameters")
            self._param = weights[self.parameter]
        self.parameter_name = self._param.name
        self._step = 0

    def on_train_batch_end(self, batch, logs=None):
        if self._step % self.every == 0:
            g = self._param.grad.astype(np.float64, copy=False)
            self.steps.append(self._step)
            self.norms.append(float(np.sqrt(np.vdot(g, g))))
            self.losses.append(float((logs or {}).get("loss", math.nan)))
        self._step += 1


class ProgressLogger(Callback):
    """Keras-style console output, added by ``fit(verbose=1|2)``.

    ``verbose=1`` on a terminal: a tqdm bar per epoch with the running loss and metrics.
    ``verbose=1`` in a Jupyter notebook: one ``tqdm.auto`` bar per epoch, labelled with the
    epoch and left in place with its final logs (a widget with ipywidgets, else a text bar
    redrawn in place). Otherwise (``verbose=2``, or output redirected to a file or pipe)
    one line per epoch, so logs are not flooded with bar redraws.
    """

    def __init__(self, verbose: int = 1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream

    def on_train_begin(self, logs=None):
        stream = self.stream or sys.stdout
        self._out = stream
        from .training.display import in_notebook
        self._notebook = self.verbose == 1 and self.stream is None and in_notebook()
        self._use_bar = self._notebook or (
            self.verbose == 1 and getattr(stream, "isatty", lambda: False)())
        self._bar = None
        self._epochs = self.params.get("epochs")
        self._steps = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self._start = _now()
        if self._notebook:
            self._bar = _make_notebook_bar(self._steps, f"Epoch {epoch + 1}/{self._epochs}")
            if self._bar is not None:
                return
        print(f"Epoch {epoch + 1}/{self._epochs}", file=self._out)
        if self._use_bar:
            self._bar = _make_bar(self._steps, self._out)

    def on_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)
            if batch % 10 == 0 or batch + 1 == self._steps:
                self._bar.set_postfix_str(format_logs(logs), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None and self._notebook:
            # the bar stays as the epoch's record, with validation logs added
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elapsed = _now() - self._start
        steps = self._steps or 1
        per_step = elapsed / steps
        unit = f"{per_step * 1e3:.0f}ms/step" if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us/step"
        print(f"{steps}/{steps} - {elapsed:.0f}s - {unit} - {format_logs(logs)}", file=self._out)

    # so CallbackList sees batch hooks only when a bar is shown
    def wants_batches(self) -> bool:
        return self._use_bar


class _PNG:
    """A PNG image that IPython displays (any object with ``_repr_png_``)."""

    def __init__(self, data: bytes):
        self.data = data

    def _repr_png_(self) -> bytes:
        return self.data


class _Text:
    def __init__(self, text: str):
        self.text = text

    def _repr_html_(self) -> str:
        import html
        return f"<p><i>{html.escape(self.text)}</i></p>"

    def __repr__(self) -> str:
        return self.text


class LiveLearningCurve(Callback):
    """Redraw the loss and metrics (train and validation) in place after each epoch of
    ``fit``, in a Jupyter notebook.

    One figure per ``fit`` call, replaced through an IPython display handle (``display(...,
    display_id=True)`` then ``handle.update(...)``), so the output cell holds one picture
    however many epochs run. Outside a notebook it draws nothing and says so once (a
    ``UserWarning``); use ``history.plot()`` after ``fit`` there.

    Args:
        metrics: quantities to draw (default: the loss and every metric).
        every: redraw every ``every`` epochs (and after the last one).
        handle: where to show the figure, anything with ``update(obj)``; default: a new
            IPython display handle when running in a notebook.

    Example::

        model.fit(x, y, epochs=50, validation_split=0.2, verbose=0,
                  callbacks=[LiveLearningCurve()])
    """

    _told = False  # the "not a notebook" message is given once per process

    def __init__(self, metrics: Sequence[str] | None = None, every: int = 1, handle: Any = None):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.metrics = metrics
        self.every = every
        self._given_handle = handle
        self.handle = handle
        self.history: dict[str, list] = {}
        self.epochs: list[int] = []
        self.figure = None
        self.draws = 0
        self._drawn_epochs = 0

    def on_train_begin(self, logs=None):
        self.history, self.epochs, self.figure, self._drawn_epochs = {}, [], None, 0
        self.handle = self._given_handle
        if self.handle is not None:
            return
        from .training.display import in_notebook
        if in_notebook():  # a new picture for every fit call
            from IPython.display import display
            self.handle = display(_Text("LiveLearningCurve: the curves appear after the "
                                        "first epoch"), display_id=True)
        elif not LiveLearningCurve._told:
            LiveLearningCurve._told = True
            warnings.warn("LiveLearningCurve draws only in a Jupyter notebook; here it does "
                          "nothing (use history.plot() after fit)", UserWarning, stacklevel=6)

    def on_epoch_end(self, epoch, logs=None):
        if self.handle is None:
            return
        self.epochs.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if len(self.epochs) % self.every == 0 or epoch + 1 >= self.params.get("epochs", 0):
            self.redraw()

    def on_train_end(self, logs=None):
        if self.handle is not None and len(self.epochs) > self._drawn_epochs:
            self.redraw()  # stopped early between two redraws

    def redraw(self) -> None:
        """Draw the curves recorded so far and update the display handle."""
        from .training.display import draw_history, figure_png, history_quantities, new_figure
        if self.figure is None:
            self.figure = new_figure(len(history_quantities(self.history, self.metrics)),
                                     pyplot=False)
        draw_history(self.figure, self.history, self.metrics, self.epochs)
        self.handle.update(_PNG(figure_png(self.figure)))
        self.draws += 1
        self._drawn_epochs = len(self.epochs)


def format_logs(logs) -> str:
    """``loss: 0.0723 - accuracy: 0.9834 - val_loss: ...`` (Keras order: loss first)."""
    items = [(k, v) for k, v in (logs or {}).items() if k not in ("lr", "learning_rate")]
    return " - ".join(f"{k}: {_fmt(v)}" for k, v in items)


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"
    return str(value)


def _now() -> float:
    import time
    return time.perf_counter()


def _make_bar(total, stream):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: fall back to epoch lines only
        return None
    return tqdm(total=total, file=stream, leave=False, unit="step", dynamic_ncols=True,
                mininterval=0.1)


def _make_notebook_bar(total, description: str):
    """A ``tqdm.auto`` bar that stays after closing (``None`` without tqdm: epoch lines)."""
    try:
        with warnings.catch_warnings():  # tqdm warns when ipywidgets is missing
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=description, leave=True, unit="step", mininterval=0.1,
                file=sys.stdout)


_REGISTRY = Registry("callback", Callback, case_sensitive=True, classes=(
    History, EarlyStopping, ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau,
    TerminateOnNaN, CSVLogger, LambdaCallback, StopAtTarget, GradientNorm, ProgressLogger,
    LiveLearningCurve))


def _registry() -> Registry:
    """The callback registry with :class:`~neuralab.tensorboard.TensorBoard` in it (its
    module subclasses Callback, so it is imported on first use, not here)."""
    from . import tensorboard  # noqa: F401 - registers TensorBoard

    return _REGISTRY


def __getattr__(name: str):
    if name == "TensorBoard":
        from .tensorboard import TensorBoard
        return TensorBoard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(identifier) -> Callback:
    """Resolve a class name (``"EarlyStopping"``), a ``{"class_name": ..., "config": {...}}``
    dict (the config holds constructor arguments), a Callback class or instance."""
    return _registry().get(identifier)


def deserialize(config, custom_objects: dict | None = None) -> Callback:
    """A callback from ``{"class_name": ..., "config": {...}}``; ``custom_objects`` maps names
    to your own classes."""
    return _registry().deserialize(config, custom_objects)
