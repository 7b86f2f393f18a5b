"""One training session: the data, the network, its training thread and what the page shows.

A :class:`Session` is built from checked settings (:mod:`.config`) exactly as ``neuralab run``
builds a trial: the experiment document's data (``load_data``), then ``set_seed(seed)``, then
``build_model``; each epoch is one ``model.fit(epochs=1)`` call, so ``epochs`` epochs here
give the weights that the exported experiment gives after ``fit.epochs = epochs``. Every
state change bumps ``version`` and wakes the threads waiting in :meth:`Session.wait`.
"""

from __future__ import annotations

import base64
import threading
import time
import warnings

import numpy as np

from .config import DEFAULTS, check_settings, task_of, to_document

GRID = 64  # decision-region pixels per side
UNIT_GRID = 24  # hidden-unit map pixels per side
CURVE = 120  # points of the 1-D (sine) curves
MAX_HISTORY = 400  # curve points kept; older ones are thinned to every other epoch
FRAME_SECONDS = 0.1  # the training thread publishes a frame at most this often


def _bytes(values: np.ndarray, low: float, high: float) -> str:
    """``values`` mapped from [low, high] onto 0..255, as base64 (the page's heat maps)."""
    span = high - low if high > low else 1.0
    scaled = np.clip((values - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return base64.b64encode(scaled.tobytes()).decode("ascii")


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


class Session:
    """The playground's state: settings, data, model, history, and a training thread.

    Every public method takes the session's lock, so requests and the training thread
    never see a half-made step.
    """

    def __init__(self, settings: dict | None = None):
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.version = 0
        self.data_version = 0
        self.error: str | None = None
        self.settings: dict = DEFAULTS
        self.reset(settings or {})

    # -- building --------------------------------------------------------------------------
    def reset(self, changes: dict | None = None, base: dict | None = None) -> dict:
        """Stop training, apply ``changes`` to the settings (checked) and start over at
        epoch 0 with freshly seeded data and weights. Returns the settings."""
        from .. import backend
        from ..experiments.build import build_model
        from ..experiments.data import load_data
        from ..experiments.spec import validate

        settings = check_settings(changes or {}, base or self.settings)
        self.pause()
        with self._lock:
            experiment = validate(to_document(settings))
            config = experiment.points[0].config
            backend.clear_session()
            data = load_data(config["data"], settings["seed"])
            raw = load_data({k: v for k, v in config["data"].items() if k != "features"},
                            settings["seed"])
            backend.set_seed(settings["seed"])
            self.model = build_model(config, data.input_shape)
            self.settings, self.config, self.data, self.raw = settings, config, data, raw
            self.task = task_of(settings["dataset"])
            self.epoch = 0
            self.history: dict[str, list] = {"epoch": [], "loss": [], "test_loss": []}
            if self.task != "regression":
                self.history.update(accuracy=[], test_accuracy=[])
            self.error = None
            self._bounds = self._view_bounds()
            self.data_version += 1
            self._record()
            self._publish()
            return dict(settings)

    def _view_bounds(self) -> list[float]:
        """[x_min, x_max, y_min, y_max] of the square drawn: all points plus a margin."""
        raw = self.raw
        assert raw.x_test is not None and raw.y_test is not None  # the loaders make a test split
        points = np.vstack([raw.x_train, raw.x_test]).astype(np.float64)
        if points.shape[1] == 1:
            targets = np.vstack([raw.y_train, raw.y_test]).ravel()
            points = np.column_stack([points[:, 0], targets])
        low, high = points.min(axis=0), points.max(axis=0)
        pad = (high - low) * 0.08 + 1e-6
        return [float(low[0] - pad[0]), float(high[0] + pad[0]),
                float(low[1] - pad[1]), float(high[1] + pad[1])]

    # -- training --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def step(self, epochs: int = 1) -> dict:
        """Train ``epochs`` more epochs now (the training thread is paused first)."""
        self.pause()
        with self._lock:
            for _ in range(epochs):
                if not self._train_epoch():
                    break
            self._publish()
            return self.summary()

    def _train_epoch(self) -> bool:
        """One epoch; False (with ``error`` set) when the loss is no longer finite."""
        fit = self.config["fit"]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a divergence is reported in the page instead
            history = self.model.fit(self.data.x_train, self.data.y_train, epochs=1,
                                     batch_size=fit["batch_size"], shuffle=True, verbose=0)
        diverged = getattr(history, "diverged", None)
        if diverged:  # fit stopped and restored the weights of the epoch's start
            self.error = (f"training diverged in epoch {self.epoch + 1} ({diverged['reason']}, batch "
                          f"{diverged['batch']}); the weights are those after epoch {self.epoch}. "
                          "Lower the learning rate (or standardize the inputs) and reset.")
            return False
        self.epoch += 1
        self._record()
        loss = self.history["loss"][-1]
        if loss is None:
            self.error = (f"training diverged at epoch {self.epoch} (the loss is not finite): "
                          "lower the learning rate and reset")
            return False
        return True

    def _record(self) -> None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            train = self.model.evaluate(self.data.x_train, self.data.y_train, verbose=0,
                                        return_dict=True)
            test = self.model.evaluate(self.data.x_test, self.data.y_test, verbose=0,
                                       return_dict=True)
        history = self.history
        history["epoch"].append(self.epoch)
        for key in [k for k in history if k != "epoch" and not k.startswith("test_")]:
            history[key].append(_finite(train[key]))
            history[f"test_{key}"].append(_finite(test[key]))
        if len(history["epoch"]) > MAX_HISTORY:  # keep the first and the newest, thin the rest
            for key, values in history.items():
                history[key] = values[:-1:2] + values[-1:]

    def play(self) -> None:
        """Train in the background until :meth:`pause` (or divergence)."""
        with self._lock:
            if self.running or self.error:
                return
            self._stop.clear()
            thread = threading.Thread(target=self._run, name="playground-training", daemon=True)
            thread.start()  # before it is shared: pause() reads _thread unlocked and joins it
            self._thread = thread
            self._publish()

    def pause(self) -> None:
        """Stop the training thread after its current epoch; returns once it has stopped."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        if thread is not threading.current_thread():
            thread.join()
        with self._lock:
            if self._thread is thread:  # a play() that came in meanwhile keeps its thread
                self._thread = None
            self._publish()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                until = time.monotonic() + FRAME_SECONDS
                ok = True
                while ok and time.monotonic() < until and not self._stop.is_set():
                    try:
                        ok = self._train_epoch()
                    except Exception as error:  # noqa: BLE001 - shown in the page, not lost in a thread
                        self.error = f"training stopped: {type(error).__name__}: {error}"
                        ok = False
                if not ok:
                    self._stop.set()
                self._publish()
            time.sleep(0.005)  # let requests waiting for the lock in

    # -- what the page shows ---------------------------------------------------------------
    def _publish(self) -> None:
        with self._lock:
            self.version += 1
            self._frame = self._make_frame()
            self._changed.notify_all()

    def wait(self, after: int, timeout: float) -> dict | None:
        """The frame newer than version ``after``, waiting up to ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > after, timeout=timeout)
            return self._frame if self.version > after else None

    def wake(self) -> None:
        """Wake every :meth:`wait` (they return None when nothing is new)."""
        with self._changed:
            self._changed.notify_all()

    def frame(self) -> dict:
        with self._lock:
            return self._frame

    def summary(self) -> dict:
        """Epoch, running, error and the latest curve values."""
        with self._lock:
            return {"epoch": self.epoch, "running": self.running, "error": self.error,
                    **{key: values[-1] for key, values in self.history.items() if key != "epoch"}}

    def _inputs(self, points: np.ndarray) -> np.ndarray:
        """Raw points (N, 2) or (N, 1) as the network's inputs (the chosen features)."""
        from ..datasets.synthetic import expand_features
        return expand_features(points.astype(np.float64), self.settings["features"]).astype(
            np.float32).astype(self.model.dtype)

    def _view_points(self) -> tuple[np.ndarray, tuple]:
        x0, x1, y0, y1 = self._bounds
        if self.raw.x_train.shape[1] == 1:
            return np.linspace(x0, x1, CURVE)[:, None], (CURVE,)
        u = np.linspace(x0, x1, GRID)
        v = np.linspace(y1, y0, GRID)  # row 0 at the top, as the canvas draws
        uu, vv = np.meshgrid(u, v)
        return np.column_stack([uu.ravel(), vv.ravel()]), (GRID, GRID)

    def _make_frame(self) -> dict:
        points, shape = self._view_points()
        activations = []
        with np.errstate(over="ignore", invalid="ignore"):
            h = self._inputs(points)
            for layer in self.model.layers:
                h = layer.forward(h, training=False)
                activations.append(h)
        output = np.nan_to_num(activations[-1])
        frame: dict = {"version": self.version, "data_version": self.data_version,
                       "epoch": self.epoch, "running": self.running, "error": self.error,
                       "task": self.task, "bounds": self._bounds,
                       # a copy: the frame is sent outside the lock while training appends
                       "history": {key: list(values) for key, values in self.history.items()},
                       "settings": self.settings}
        if len(shape) == 1:
            frame["output"] = {"curve": np.round(output[:, 0], 5).tolist()}
        elif self.task == "binary":
            frame["output"] = {"size": GRID, "map": _bytes(output[:, 0], 0.0, 1.0)}
        else:
            frame["output"] = {"size": GRID, "classes": _bytes(output.argmax(axis=1), 0, 255),
                               "confidence": _bytes(output.max(axis=1), 0.0, 1.0)}
        frame["units"] = [self._unit_maps(a, shape) for a in activations[:-1]]
        frame["weights"] = [{"name": layer.name,
                             "kernel": np.round(np.nan_to_num(layer.kernel.data), 5).tolist(),
                             "bias": np.round(np.nan_to_num(layer.bias.data), 5).tolist()}
                            for layer in self.model.layers]
        return frame

    def _unit_maps(self, values: np.ndarray, shape: tuple) -> list[dict]:
        """Each unit's response over the view, scaled to its own [min, max]."""
        values = np.nan_to_num(values)
        if len(shape) == 2:  # sample the decision grid down to UNIT_GRID pixels a side
            pick = np.linspace(0, GRID - 1, UNIT_GRID).round().astype(int)
            values = values.reshape(GRID, GRID, -1)[np.ix_(pick, pick)].reshape(-1, values.shape[-1])
        maps = []
        for j in range(values.shape[1]):
            low, high = float(values[:, j].min()), float(values[:, j].max())
            maps.append({"min": round(low, 5), "max": round(high, 5), "map": _bytes(
                values[:, j], low, high)} if len(shape) == 2 else
                {"min": round(low, 5), "max": round(high, 5),
                 "curve": np.round(values[::2, j], 5).tolist()})
        return maps

    def points(self) -> dict:
        """The raw train and test points and their targets (redrawn on a new data_version)."""
        with self._lock:
            out: dict = {"data_version": self.data_version}
            for split in ("train", "test"):
                out[split] = {"x": np.round(getattr(self.raw, f"x_{split}"), 5).tolist(),
                              "y": np.round(np.asarray(getattr(self.raw, f"y_{split}"),
                                                       dtype=np.float64).ravel(), 5).tolist()}
            return out

    # -- export ----------------------------------------------------------------------------
    def export(self, kind: str) -> tuple[bytes, str, str]:
        """(content, file name, content type) of the network now: ``"toml"`` (the experiment
        file), ``"python"`` (Keras-style code) or ``"model"`` (a ``.nlz`` saved model)."""
        from . import export
        with self._lock:
            stem = to_document(self.settings)["name"]
            if kind == "toml":
                return (export.toml_text(self.settings, self.epoch).encode(), f"{stem}.toml",
                        "application/toml; charset=utf-8")
            if kind == "python":
                return (export.python_code(self.settings, self.epoch).encode(),
                        f"{stem.replace('-', '_')}.py", "text/x-python; charset=utf-8")
            if kind == "model":
                return export.model_bytes(self.model), f"{stem}.nlz", "application/zip"
        raise ValueError(f"export: expected toml, python or model, got {kind!r}")

    # -- the teaching view -----------------------------------------------------------------
    def sample(self, split: str, index: int) -> dict:
        """Forward values and backward partials of one sample (see :func:`.teaching.partials`)."""
        from .teaching import partials
        with self._lock:
            x = getattr(self.data, f"x_{split}")
            y = getattr(self.data, f"y_{split}")
            raw = getattr(self.raw, f"x_{split}")
            if not 0 <= index < len(x):
                from .config import SettingsError
                raise SettingsError(f"index: expected an integer in [0, {len(x) - 1}] for the "
                                    f"{split} split, got {index}")
            out = partials(self.model, x[index:index + 1], y[index:index + 1])
            return {"split": split, "index": index, "point": raw[index].tolist(),
                    "features": self.settings["features"],
                    "inputs": np.asarray(x[index], dtype=np.float64).tolist(),
                    "epoch": self.epoch, **out}
