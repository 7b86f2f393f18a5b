"""``Trainer``: what ``compile`` sets up and one training or test step (Keras' Trainer).

A model class inherits it (``class Model(Trainer, Layer)``) and provides the graph
interface the steps use:

* ``run_graph(xs, training, record) -> (outputs, run)``: the outputs (one array per model
  output) of a forward pass, and the pass's record (``run.penalty``: activity and
  ``add_loss`` penalties);
* ``backprop(run, douts, logits)``: fill each weight's ``grad`` from dL/d(outputs);
* ``fusable_layer(index)``: the layer producing output ``index`` if its backward may start
  from the logits (softmax + cross-entropy, sigmoid + binary cross-entropy).

The trainer owns the compile state: the optimizer, one loss per output (names, objects or
any ``fn(y_true, y_pred)``) with its weight, the metrics per output, the fused
output layers and the flat parameter buffers.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers.dense import ActivationMixin
from ..parameter import Parameter
from .data import prepare_inputs, prepare_targets, surely_finite


class TrainingDiverged(ArithmeticError):
    """Raised inside a training step when the loss or a gradient is NaN or infinite."""


def _per_output(spec, names: list[str], what: str, nested_ok: bool = True) -> list:
    """A compile argument (one value, a list per output or a dict by output name) as a
    list aligned with the output ``names``."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"compile({what}=...) names unknown output(s) {unknown}; the "
                             f"model's outputs are {names}")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)) and nested_ok:
        if len(spec) != len(names):
            raise ValueError(f"compile({what}=...) has {len(spec)} entries for a model with "
                             f"{len(names)} outputs {names}")
        return list(spec)
    return [spec] * len(names)


def masked_rows(mask: np.ndarray, a: np.ndarray | None) -> np.ndarray | None:
    """The entries of ``a`` (N, ...) at the True places of ``mask`` (its leading axes, e.g.
    (N, T)), as rows; per-sample values (N,) are first repeated along the mask's axes."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.ndim < mask.ndim:
        a = np.broadcast_to(losses_module.per_sample(a, mask.ndim), mask.shape)
    return a[mask]


def _rows_mask(mask: np.ndarray | None, out: np.ndarray, weights: np.ndarray | None,
               name: str) -> np.ndarray | None:
    """The rows of output ``name`` to score, as a boolean array over its leading axes:
    its mask, else every step where the sample weights are per step (N, T), else None
    (the whole output)."""
    if mask is None and weights is not None and np.ndim(weights) > 1:
        mask = np.ones(np.shape(weights), dtype=bool)
    if mask is not None and mask.shape != out.shape[:mask.ndim]:
        raise ValueError(f"Output {name!r} of shape {out.shape} carries a mask of shape "
                         f"{mask.shape}, which is not its leading axes")
    return mask


if TYPE_CHECKING:  # for the type checker a Trainer is the Layer a model class also is
    from ..layers.base import Layer
    _ModelBase = Layer
else:
    _ModelBase = object


class Trainer(_ModelBase):
    """Compile state and the train/test steps of a model."""

    if TYPE_CHECKING:  # the graph interface the model class provides (see the module docstring)
        @property
        def layers(self) -> list[Layer]: ...
        @property
        def output_names(self) -> list[str]: ...
        @property
        def output_shapes(self) -> list[tuple]: ...
        def run_graph(self, xs: list[np.ndarray], training: bool, record: bool) -> Any: ...
        def backprop(self, run, douts, logits=()) -> list: ...
        def fusable_layer(self, index: int) -> Layer | None: ...

    def _init_trainer(self) -> None:
        self.optimizer: optimizers_module.Optimizer | None = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.compiled_losses: list = []
        self._loss_weights: list[float] = []
        self._metric_specs: list[list] = []
        self._weighted_specs: list[list] = []
        self._train_metrics: list[list] | None = None
        self._test_metrics: list[list] | None = None
        self._fused: list = []
        self._flat: list[tuple[np.ndarray, np.ndarray]] = []
        self._flat_params: list[Parameter] = []
        self._step_params: tuple[list[Parameter], list[Parameter]] | None = None
        self._output_losses: list[float | None] = []  # None for outputs without a loss
        self.last_outputs: list[np.ndarray] | None = None
        #: the masks the last step's outputs carried (None: no output carries one)
        self.last_masks: list | None = None
        self._compile_config: dict = {}

    # -- compile ------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                **kwargs) -> None:
        """Configure training (Keras ``compile``).

        Args:
            optimizer: an Optimizer or its name.
            loss: a name, a Loss, any ``fn(y_true, y_pred)``; for several outputs one
                for all, a list per output or a dict by output name (``None``: no loss).
            metrics: a list (``["accuracy"]`` picks binary/categorical/sparse accuracy
                from the loss); for several outputs a list of lists or a dict.
            loss_weights: the weight of each output's loss (list or dict).
        """
        unknown = set(kwargs) - {"weighted_metrics", "run_eagerly", "jit_compile",
                                 "steps_per_execution", "auto_scale_loss"}
        if unknown:
            raise TypeError(f"compile() got unexpected keyword argument(s) {sorted(unknown)}")
        names = self.output_names
        # no loss at all is Keras' "the model's add_loss terms are the loss" (fit then takes
        # x alone); a loss given for no output is a mistake
        specs = [None] * len(names) if loss is None else _per_output(loss, names, "loss")
        if loss is not None and all(s is None for s in specs):
            raise ValueError(f"compile(loss=...) gives no loss to any output of {names}")
        self.optimizer = optimizers_module.get(optimizer)
        self.compiled_losses = [None if s is None else losses_module.get(s) for s in specs]
        weights = _per_output(loss_weights, names, "loss_weights") if loss_weights is not None \
            else [1.0] * len(names)
        self._loss_weights = [1.0 if w is None else float(w) for w in weights]
        per_output, self._metric_specs = self._metric_specs_per_output(metrics, "metrics")
        # weighted_metrics: updated with the sample (and class) weights, as in Keras, where
        # the plain metrics ignore them
        _, self._weighted_specs = self._metric_specs_per_output(
            kwargs.get("weighted_metrics"), "weighted_metrics")
        self._compile_config = {"loss": specs, "metrics": per_output, "loss_weights": weights}
        self._train_metrics = self._test_metrics = None
        self.compiled = True
        if self.built:
            self.prepare_training()

    def _metric_specs_per_output(self, metrics, argument: str) -> tuple[list, list[list]]:
        """(what was given per output, names and Metric objects per output) for compile's
        ``metrics``/``weighted_metrics``; names are checked now and resolved on data."""
        names = self.output_names
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics) and \
                not isinstance(metrics, (list, tuple, dict)):
            metrics = [metrics]
        if isinstance(metrics, dict) or (len(names) > 1 and metrics and
                                         all(isinstance(m, (list, tuple)) or m is None
                                             for m in metrics)):
            per_output = _per_output(metrics, names, argument)
        else:
            per_output = [list(metrics)] * len(names)
        specs = []
        for k, specs_k in enumerate(per_output):
            specs_k = [specs_k] if isinstance(specs_k, (str, metrics_module.Metric)) \
                else list(specs_k or [])
            resolved: list = []  # metric names and Metric objects
            for m in specs_k:
                if isinstance(m, str):  # validate names now; 'accuracy' is resolved on data
                    metrics_module.get(m, self.compiled_losses[k], output_shape=(None, 2))
                    resolved.append(m)
                else:
                    resolved.append(metrics_module.get(m))
            specs.append(resolved)
        return per_output, specs

    @property
    def loss(self):
        """The loss (the first output's; see ``compiled_losses`` for all of them)."""
        for loss in self.compiled_losses:
            if loss is not None:
                return loss
        return None

    def _configure_fusion(self) -> None:
        """Start the backward pass from the logits where an output layer's activation is
        the one its loss fuses with (stable for any logits)."""
        for layer in self.layers:
            if isinstance(layer, ActivationMixin):
                layer.keep_logits = False
        self._fused = []
        for k, loss in enumerate(self.compiled_losses):
            output_layer = self.fusable_layer(k)
            fused = (isinstance(output_layer, ActivationMixin) and loss is not None
                     and loss.fused_activation is not None and not loss.from_logits
                     and output_layer.activation.name == loss.fused_activation
                     and output_layer.activity_regularizer is None)
            if fused:
                cast(ActivationMixin, output_layer).keep_logits = True
            self._fused.append(output_layer if fused else None)

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"The model must be compiled before {what}: call "
                             "model.compile(optimizer=..., loss=..., metrics=[...]) first")

    # -- flat parameter buffers ---------------------------------------------------------
    def optimizer_parameters(self) -> list[Parameter]:
        """The weights an optimizer keeps state for: all but those created with
        ``trainable=False`` (BatchNormalization's moving statistics)."""
        frozen: set[int] = set()
        stack: list[Layer] = [self]
        seen = set()
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            frozen |= layer._always_frozen
            stack.extend(layer._sublayers())
        return [p for p in self.parameters() if id(p) not in frozen]

    def flatten_parameters(self) -> None:
        """Move the weights into one flat buffer per dtype (each Parameter's ``data`` and
        ``grad`` become views), so an optimizer step is a few whole-buffer operations.
        Done again when another model moved a shared weight into its own buffer."""
        params = self.optimizer_parameters()
        if self._flat and len(params) == len(self._flat_params) and all(
                p is q and _views(p, self._flat) for p, q in zip(params, self._flat_params)):
            return
        groups: dict[str, list[Parameter]] = {}
        for p in params:
            groups.setdefault(p.dtype.str, []).append(p)
        self._flat = []
        for group in groups.values():
            total = sum(p.size for p in group)
            data = np.empty(total, dtype=group[0].dtype)
            grad = np.zeros(total, dtype=group[0].dtype)
            offset = 0
            for p in group:
                end = offset + p.size
                p.rebind(data[offset:end].reshape(p.shape), grad[offset:end].reshape(p.shape))
                offset = end
            self._flat.append((data, grad))
        self._flat_params = params

    # -- metrics ------------------------------------------------------------------------
    def resolve_metrics(self, ys) -> list[list]:
        """The metric objects per output (``"accuracy"`` resolved from loss and data)."""
        if self._train_metrics is None:
            shapes = self.output_shapes
            weighted_specs = getattr(self, "_weighted_specs", None) or \
                [[] for _ in self._metric_specs]
            resolved = [[metrics_module.get(m, self.compiled_losses[k], ys[k] if ys else None,
                                            shapes[k]) if isinstance(m, str) else m
                         for m in specs + weighted_specs[k]]
                        for k, specs in enumerate(self._metric_specs)]
            multi = len(self.output_names) > 1
            taken: set[str] = set()
            for k, ms in enumerate(resolved):
                for j, m in enumerate(ms):
                    m._weighted = j >= len(self._metric_specs[k])
                    if m._weighted and not getattr(m, "_output_prefixed", False) and \
                            (f"{self.output_names[k]}_{m.name}" if multi else m.name) in taken:
                        m.name = f"weighted_{m.name}"  # Keras' name beside a plain twin
                    if multi and not getattr(m, "_output_prefixed", False):
                        m.name = f"{self.output_names[k]}_{m.name}"
                        m._output_prefixed = True
                    taken.add(m.name)
            self._train_metrics = resolved
            self._test_metrics = copy.deepcopy(resolved)
        return self._train_metrics

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"]
        if len(self.output_names) > 1:
            names += [f"{n}_loss" for n, loss in zip(self.output_names, self.compiled_losses)
                      if loss is not None]
        if self._train_metrics is not None:
            source = self._train_metrics
        else:
            weighted = getattr(self, "_weighted_specs", None) or [[] for _ in self._metric_specs]
            source = [plain + extra for plain, extra in zip(self._metric_specs, weighted)]
        for ms in source:
            names += [m if isinstance(m, str) else m.name for m in ms]
        return names

    def step_logs(self, loss_value: float, metrics: list[list]) -> dict:
        """``{"loss": ..., "<output>_loss": ..., "<metric>": ...}`` after a step."""
        logs: dict[str, float | np.ndarray] = {"loss": loss_value}
        if len(self.output_names) > 1:
            for name, loss in zip(self.output_names, self._output_losses):
                if loss is not None:
                    logs[f"{name}_loss"] = loss
        for ms in metrics:
            for m in ms:
                result = np.asarray(m.result(), dtype=np.float64)
                # one number as a float; a vector result (F1Score per class) as Keras logs it
                logs[m.name] = float(result) if result.size == 1 else result.copy()
        return logs

    def update_metrics(self, metrics: list[list], ys, sample_weights=None) -> None:
        """Update each output's metrics with the step's outputs; compile's
        ``weighted_metrics`` also get that output's ``sample_weights`` (the others never do,
        as in Keras)."""
        outputs: list = self.last_outputs  # type: ignore[assignment]  # of the step just taken
        masks = self.last_masks
        for k, ms in enumerate(metrics):
            if ms and ys[k] is None:
                raise ValueError(f"metric {ms[0].name!r} of output {self.output_names[k]!r} needs "
                                 "targets: pass y (this output has no loss, so y was optional)")
            weight = None if sample_weights is None else sample_weights[k]
            y, out = ys[k], outputs[k]
            mask = _rows_mask(None if masks is None else masks[k], out, weight,
                              self.output_names[k]) if ms else None
            if mask is not None:  # the kept steps only, as Keras' metrics see them
                y, out, weight = masked_rows(mask, y), out[mask], masked_rows(mask, weight)
                if len(out) == 0:
                    continue
            for m in ms:
                if weight is not None and getattr(m, "_weighted", False):
                    m.update_state(y, out, sample_weight=weight)
                else:
                    m.update_state(y, out)

    # -- steps ----------------------------------------------------------------------------
    def _losses_and_douts(self, ys, outs, need_grad: bool, sample_weights=None, masks=None
                          ) -> tuple[float, list]:
        """The total loss and dL/d(output) (or dL/d(logits) of a fused output) per output.
        An output carrying a mask (``masks[k]``, its leading axes) is scored on the rows
        where the mask is True only: Keras' masked mean, sum over the kept steps / their
        number; per-step sample weights (N, T) score every step as a row with its weight."""
        total = 0.0
        douts: list = []
        self._output_losses = []
        for k, loss in enumerate(self.compiled_losses):
            if loss is None or ys[k] is None:
                douts.append(None)
                self._output_losses.append(None)
                continue
            weight = self._loss_weights[k]
            fused = self._fused[k] if k < len(self._fused) else None
            y, out, sw = ys[k], outs[k], None if sample_weights is None else sample_weights[k]
            logits = None if fused is None else fused.logits.reshape(out.shape)
            mask = _rows_mask(None if masks is None else masks[k], out, sw,
                              self.output_names[k])
            flat = mask is None and loss.per_row and out.ndim > 2  # (N, T, classes) as rows
            if mask is not None:
                y, out, sw = masked_rows(mask, y), out[mask], masked_rows(mask, sw)
                logits = None if logits is None else logits[mask]
            elif flat:
                y, out, sw = loss.as_rows(y, out, sw)
                logits = None if logits is None else logits.reshape(out.shape)
            if mask is not None and len(out) == 0:  # every step masked: Keras' 0, no gradient
                value, grad = 0.0, np.zeros_like(outs[k]) if need_grad else None
            elif logits is not None and (sw is None or need_grad):
                value, grad = loss.from_logits_grad(y, logits, out)
                if sw is not None:  # each sample's row of dL/dz scaled by its weight
                    value = loss.value(y, out, sw)
                    grad = grad * losses_module.per_sample(sw, grad.ndim, grad.dtype)
            elif need_grad:
                value, grad = loss.value_and_gradient(y, out, sw)
            else:
                value, grad = loss.value(y, out, sw), None
            if grad is not None and flat:
                grad = grad.reshape(outs[k].shape)
            elif mask is not None and grad is not None and len(out):
                full = np.zeros_like(outs[k], dtype=grad.dtype)
                full[mask] = grad
                grad = full
            self._output_losses.append(value)
            total += weight * value
            douts.append(grad if grad is None or weight == 1.0 else grad * weight)
        return total, douts

    def forward_backward(self, xs, ys, training: bool = True, sample_weights=None) -> float:
        """One forward and backward pass on a batch of *prepared* inputs and targets
        (lists, one array per input/output; ``sample_weights`` likewise, ``None`` or
        ``None`` entries for unweighted). Zeroes the gradients first; returns the total
        loss (weighted data losses + penalties)."""
        params, regularized = self._step_parameters()
        for p in params:
            p.zero_grad()
        outs, run = self.run_graph(xs, training, record=True)
        self.last_outputs, self.last_masks = outs, run.masks
        value, douts = self._losses_and_douts(ys, outs, True, sample_weights, run.masks)
        self.backprop(run, douts, [f is not None for f in self._fused])
        value += run.penalty
        if regularized:
            value += sum(p.penalty() for p in regularized)
            for p in regularized:
                if p.trainable:
                    p.regularizer.add_gradient(p.data, p.grad)
        return value

    def train_step(self, xs, ys, sample_weights=None) -> float:
        """forward_backward, a divergence check, then one optimizer step."""
        value = self.forward_backward(xs, ys, True, sample_weights)
        if not math.isfinite(value):
            raise TrainingDiverged(f"loss is {value}")
        for _, grad in self._flat:
            if not surely_finite(grad) and not np.isfinite(grad).all():
                raise TrainingDiverged("a gradient is NaN or infinite")
        # compiled, so there is an optimizer; it skips the weights that are not trainable
        optimizer: optimizers_module.Optimizer = self.optimizer  # type: ignore[assignment]
        optimizer.step(self._step_parameters()[0])
        return value

    def test_step(self, xs, ys, sample_weights=None) -> float:
        outs, run = self.run_graph(xs, False, record=False)
        self.last_outputs, self.last_masks = outs, run.masks
        value, _ = self._losses_and_douts(ys, outs, False, sample_weights, run.masks)
        value += run.penalty
        regularized = self._step_parameters()[1]
        if regularized:
            value += sum(p.penalty() for p in regularized)
        return value

    def _step_parameters(self) -> tuple[list[Parameter], list[Parameter]]:
        """The weights and those with a regularizer, listed once per loop by
        :meth:`prepare_training` (walking the layers on every step would cost more than a
        small network's step)."""
        if self._step_params is None:
            params = self.parameters()
            self._step_params = (params, [p for p in params if p.regularizer is not None])
        return self._step_params

    def weight_penalty(self) -> float:
        """Sum of the kernel/bias regularizer penalties."""
        return sum(p.penalty() for p in self.parameters() if p.regularizer is not None)

    def prepare_training(self) -> None:
        """Before a loop: flat buffers, fusion and the step's weight list match the
        model's current layers."""
        self._step_params = None
        self.flatten_parameters()
        self._configure_fusion()

    # -- the Keras training API (the loops live in neuralab.training.loops) -------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a :class:`~neuralab.callbacks.History`.

        Reshuffles every epoch (with ``model.rng``), uses the last partial batch, gathers
        each batch into a reused buffer (no copy of the training set per epoch), runs
        ``callbacks`` in Keras order and records ``loss``, metrics, ``val_*`` and ``lr``.
        ``sample_weight`` (per sample, or per output) and ``class_weight`` (``{class:
        weight}``) weight each sample's loss (Keras: ``sum(w * loss) / N``);
        ``steps_per_epoch``/``validation_steps`` cap the batches per epoch. A NaN/inf
        loss stops training with a warning naming the epoch and batch, and the weights
        of the start of that epoch are put back.
        """
        from .loops import fit
        return fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                   callbacks=callbacks, validation_split=validation_split,
                   validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
                   sample_weight=sample_weight, initial_epoch=initial_epoch,
                   steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                   validation_batch_size=validation_batch_size, validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, return_dict=False, callbacks=None):
        """Loss (+ metrics) on ``(x, y)``: a float, a list ``[loss, *metrics]``, or a dict."""
        from .loops import evaluate
        return evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                        sample_weight=sample_weight, steps=steps, return_dict=return_dict,
                        callbacks=callbacks)

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` in batches of ``batch_size`` (default 32): an array, or a
        list/dict of arrays for a model with several outputs."""
        from .loops import predict
        return predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                       callbacks=callbacks)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, reset_metrics=True,
                       return_dict=False):
        """One optimizer step on this batch; returns its loss (and metrics)."""
        from .loops import train_on_batch
        return train_on_batch(self, x, y, sample_weight=sample_weight, class_weight=class_weight,
                              reset_metrics=reset_metrics, return_dict=return_dict)

    def test_on_batch(self, x, y, sample_weight=None, reset_metrics=True, return_dict=False):
        from .loops import test_on_batch
        return test_on_batch(self, x, y, sample_weight=sample_weight,
                             reset_metrics=reset_metrics, return_dict=return_dict)

    def predict_on_batch(self, x):
        n = len(x[0] if isinstance(x, (list, tuple)) else
                next(iter(x.values())) if isinstance(x, dict) else x)
        return self.predict(x, batch_size=max(1, n))

    def compute_gradients(self, x, y, training: bool = True):
        """``(loss, grads)`` for the batch ``(x, y)``; ``grads`` aligned with
        :meth:`get_weights` (zeros for weights that get no gradient: frozen layers and
        BatchNormalization moving statistics). Needs ``compile`` (for the loss)."""
        if not self.compiled:
            raise ValueError("compute_gradients needs the loss: call model.compile(loss=...) first")
        xs = prepare_inputs(self, x)
        ys = prepare_targets(self, y, len(xs[0]))
        self.prepare_training()
        self.set_buffer_reuse(False)
        value = self.forward_backward(xs, ys, training=training)
        grads = [p.grad.copy() if p.trainable else np.zeros_like(p.data)
                 for p in self.parameters()]
        return value, grads


def _views(p: Parameter, flat) -> bool:
    return any(p.data.base is data for data, _ in flat)
