"""``Graph``: runs the nodes recorded between symbolic inputs and outputs, forward and back.

Every model is one of these: a ``Sequential`` is a chain, a functional ``Model`` a DAG.
Each node is run by one of two steps:

* :class:`LayerStep` — a layer with a hand-written ``backward`` (every built-in layer, and
  models used as layers): ``y = layer.forward(x)`` on arrays, then ``dx =
  layer.backward(dout)``. A layer called by several nodes (a shared layer) keeps each
  call's cache in that node's :class:`~neuralab.layers.base.CallState`, so each call
  backpropagates with its own inputs.
* :class:`TapeStep` — an op (``x + residual``, ``ops.concatenate``) or a layer that only
  defines ``call``: it runs on :class:`~neuralab.tensor.Tensor` leaves, recording the tape,
  and its backward is the tape's (the derivative of each op it used).

``backward`` walks the steps in reverse, adding up the gradient of every tensor that feeds
several nodes, and returns dL/d(inputs) (``None`` where nobody needs it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import cast

import numpy as np

from ..layers.base import CallState, Layer
from ..symbolic import KerasTensor, Node, flatten, graph_nodes
from ..tensor import Tensor, as_tensor, backpropagate, enable_grad, no_grad


class LayerStep:
    """A node whose operation has its own ``forward``/``backward`` (arrays in, arrays out)."""

    def __init__(self, node: Node, shared: bool):
        self.node = node
        self.layer: Layer = node.operation
        self.shared = shared
        self.single = node.structure == "single"
        self.training = node.kwargs.get("training")
        self.skip_input_grad = False
        #: an activity regularizer, or a model used as a layer (its add_loss penalties)
        self.penalized = self.layer.activity_regularizer is not None or \
            hasattr(self.layer, "run_graph")

    def forward(self, args: list, training: bool, record: bool, mask=None):
        layer = self.layer
        state = None
        if self.shared:
            state = CallState()
            layer.enter_call(state)
        if self.training is not None:
            training = bool(self.training)
        y = layer.forward_masked(args[0] if self.single else args, training, mask)
        if state is not None:
            layer.exit_call(state)
        outs = list(y) if len(self.node.outputs) > 1 else [y]
        # activity regularizers are for single-output layers: y is one array
        penalty = layer.activity_penalty(cast(np.ndarray, y)) if self.penalized else 0.0
        return outs, (state, y), penalty

    def backward(self, douts: list, saved, logits: bool) -> list:
        state, y = saved
        layer = self.layer
        if state is not None:
            layer.resume_call(state)
        layer.skip_input_grad = self.skip_input_grad
        if len(douts) > 1:
            d = [np.zeros_like(v) if g is None else g for g, v in zip(douts, y)]
            dx = layer.backward(d)
        elif logits:
            # logits is True only for the fusable layers (Dense, Conv), which define it
            dx = layer.backward_logits(douts[0])  # type: ignore[attr-defined]
        else:
            dx = layer.backward(layer.add_activity_gradient(douts[0], y))
        if dx is None:
            return [None] * len(self.node.inputs)
        return [dx] if self.single else list(dx)


class TapeRun:
    """One pass through the tape (an op node, a call-only layer, a subclassed model's
    ``call``): its input leaves, outputs and ``add_loss`` tensors, whose backward
    backpropagates the outputs' gradients and d(loss)/d(loss) = 1 together."""

    __slots__ = ("leaves", "outputs", "losses", "penalty", "masks")

    def __init__(self, leaves: list[Tensor], value, losses):
        self.leaves = leaves
        self.outputs = [as_tensor(v) for v in flatten(value)]
        self.losses = [as_tensor(v) for v in losses]
        self.penalty = float(sum(float(np.sum(t.data)) for t in self.losses))
        # the masks riding on the outputs (a subclassed model's layers attach them)
        masks = [getattr(t, "_keras_mask", None) for t in self.outputs]
        self.masks = None if all(m is None for m in masks) else masks

    def backward(self, douts: Sequence) -> list:
        """Fill the weights' ``grad``; dL/d(leaves) (``None`` where not needed)."""
        roots, grads = [], []
        for t, g in zip(self.outputs, douts):
            if g is not None and t.requires_grad:
                roots.append(t)
                grads.append(g)
        for t in self.losses:
            if t.requires_grad:
                roots.append(t)
                grads.append(np.ones_like(t.data))
        if roots:
            backpropagate(roots, grads)
        return [leaf.grad for leaf in self.leaves]


class TapeStep:
    """A node differentiated through the tape: an op, or a layer defining only ``call``."""

    def __init__(self, node: Node):
        self.node = node
        self.is_layer = isinstance(node.operation, Layer)
        self.skip_input_grad = False

    def forward(self, args: list, training: bool, record: bool, mask=None):
        node = self.node
        leaves = [Tensor(a, requires_grad=record and not self.skip_input_grad) for a in args]
        with enable_grad() if record else no_grad():
            if self.is_layer:
                layer = node.operation
                layer._losses = []
                kwargs = dict(node.kwargs)
                if mask is not None and layer._call_takes("mask"):
                    kwargs["mask"] = mask
                call_training = kwargs.pop("training", None)
                value = layer._call_user(node.arguments(leaves),
                                         training if call_training is None else call_training,
                                         kwargs)
                run = TapeRun(leaves, value, layer.added_losses())
            else:
                run = TapeRun(leaves, node.operation(*node.arguments(leaves), **node.kwargs), [])
        return [t.data for t in run.outputs], run, run.penalty

    def backward(self, douts: list, saved: TapeRun, logits: bool) -> list:
        return saved.backward(douts)


class Graph:
    """The nodes from ``inputs`` to ``outputs`` (symbolic tensors), in running order.

    Args:
        inputs: the model's input tensors (``Input(...)``).
        outputs: the tensors it returns.

    Raises:
        ValueError: an output depends on a tensor that is neither an input nor computed
            from them ("Graph disconnected"), or an input is listed twice.
    """

    def __init__(self, inputs: Sequence[KerasTensor], outputs: Sequence[KerasTensor]):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ValueError("The same Input appears twice among the model's inputs")
        self.nodes = graph_nodes(self.outputs, self.inputs)
        calls: dict[int, int] = {}
        for node in self.nodes:
            calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
        self.steps = [LayerStep(node, calls[id(node.operation)] > 1)
                      if isinstance(node.operation, Layer) and node.operation.has_own_backward
                      else TapeStep(node) for node in self.nodes]
        consumers: dict[int, int] = {}
        for node in self.nodes:
            for t in node.inputs:
                consumers[id(t)] = consumers.get(id(t), 0) + 1
        self._consumers = consumers
        self._input_grads: bool | None = None
        self.set_input_grads(False)
        #: a layer starts a mask: the masks travel beside the values (never the tight chain)
        self.masking = any(isinstance(node.operation, Layer) and node.operation.makes_mask
                           for node in self.nodes)
        self._chain = None if self.masking else self._as_chain()
        self._warned: set[int] = set()

    def _as_chain(self) -> list[LayerStep] | None:
        """The steps, when the graph is a plain chain of layers each called once on the
        previous one's output (every Sequential): those run in a tight loop."""
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return None
        t = self.inputs[0]
        chain = []
        for step in self.steps:
            if not isinstance(step, LayerStep) or step.shared or not step.single \
                    or step.training is not None or len(step.node.outputs) != 1 \
                    or step.node.inputs[0] is not t or self._consumers.get(id(t), 0) != 1:
                return None
            chain.append(step)
            t = step.node.outputs[0]
        if t is not self.outputs[0] or self._consumers.get(id(t), 0):
            return None
        return chain

    @property
    def layers(self) -> list[Layer]:
        """Each layer once, in the order of its first call."""
        found: list[Layer] = []
        for node in self.nodes:
            op = node.operation
            if isinstance(op, Layer) and all(op is not f for f in found):
                found.append(op)
        return found

    def set_input_grads(self, needed: bool) -> None:
        """Whether ``backward`` must return dL/d(inputs); when not, the steps that only
        depend on inputs (no weights before them) skip computing their input gradient."""
        if needed == self._input_grads:
            return
        self._input_grads = needed
        requires = {id(t): needed for t in self.inputs}
        for step in self.steps:
            node = step.node
            upstream = any(requires.get(id(t), False) for t in node.inputs)
            step.skip_input_grad = not upstream
            has_weights = isinstance(node.operation, Layer) and bool(node.operation.parameters())
            for t in node.outputs:
                requires[id(t)] = upstream or has_weights

    def forward(self, xs: Sequence[np.ndarray], training: bool = False, record: bool = False,
                input_masks: Sequence | None = None):
        """Outputs for the inputs ``xs``; ``record`` keeps what ``backward`` needs;
        ``input_masks``: a mask per input (None: none), for a model used as a layer.

        Returns ``(outputs, run)`` where ``run`` is this pass's record (the saved state of
        every step, the activity/add_loss penalty and the outputs' masks).
        """
        masks: dict[int, np.ndarray] = {} if not input_masks else {
            id(t): np.asarray(m, dtype=bool) for t, m in zip(self.inputs, input_masks)
            if m is not None}
        if self._chain is not None and not masks:
            return self._forward_chain(self._chain, xs[0], training)
        values: dict[int, np.ndarray] = {id(t): x for t, x in zip(self.inputs, xs)}
        tracked = self.masking or bool(masks)
        saved = []
        penalty = 0.0
        for step in self.steps:
            node = step.node
            args = [values[id(t)] for t in node.inputs]
            mask = self._input_mask(step, masks) if masks else None
            outs, state, extra = step.forward(args, training, record, mask)
            penalty += extra
            saved.append(state)
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
            if tracked:
                self._output_masks(step, args, mask, masks)
        return [values[id(t)] for t in self.outputs], GraphRun(
            saved, penalty, [masks.get(id(t)) for t in self.outputs] if masks else None)

    @staticmethod
    def _input_mask(step, masks: dict):
        """The mask a node's layer receives: its input's (a list for several inputs), or
        None when no input carries one."""
        found = [masks.get(id(t)) for t in step.node.inputs]
        if all(m is None for m in found):
            return None
        return found[0] if len(found) == 1 else found

    def _output_masks(self, step, args: list, mask, masks: dict) -> None:
        """Record the masks of a node's outputs (Keras' rule: a layer that starts a mask or
        supports masking computes them; any other drops the mask, with a warning)."""
        layer = step.node.operation
        if not isinstance(layer, Layer):
            return
        if not (layer.makes_mask or (mask is not None and layer.supports_masking)):
            if mask is not None and id(layer) not in self._warned:
                self._warned.add(id(layer))
                warnings.warn(f"Layer {layer.name!r} (of type {type(layer).__name__}) was passed "
                              "an input with a mask attached to it. However, this layer does not "
                              "support masking and will therefore destroy the mask information. "
                              "Downstream layers will not see the mask.", stacklevel=2)
            return
        x = args[0] if len(args) == 1 else args
        out = layer.compute_mask(x, mask)
        outs = out if len(step.node.outputs) > 1 and isinstance(out, (list, tuple)) else [out]
        for t, m in zip(step.node.outputs, outs):
            if m is not None:
                masks[id(t)] = np.asarray(m, dtype=bool)

    @staticmethod
    def _forward_chain(chain: list[LayerStep], x: np.ndarray, training: bool):
        saved = []
        penalty = 0.0
        for step in chain:
            x = step.layer.forward(x, training)  # type: ignore[assignment]  # one array
            if step.penalized:
                penalty += step.layer.activity_penalty(x)
            saved.append(x)
        return [x], GraphRun(saved, penalty, chained=True)

    @staticmethod
    def _backward_chain(chain: list[LayerStep], run: GraphRun, d, logits: bool):
        """The chain's backward: each layer's own, last to first (as Sequential's was)."""
        last = len(chain) - 1
        for i in range(last, -1, -1):
            step = chain[i]
            layer = step.layer
            layer.skip_input_grad = step.skip_input_grad
            if logits and i == last:  # only fusable layers define backward_logits
                d = layer.backward_logits(d)  # type: ignore[attr-defined]
            else:
                if layer.activity_regularizer is not None:
                    d = layer.add_activity_gradient(d, run.saved[i])
                d = layer.backward(d)
            if d is None:
                return [None]
        return [d]

    def fusable_layer(self, index: int):
        """The layer producing output ``index`` when its backward may start from the
        logits (it feeds nothing else and is called once); else ``None``."""
        t = self.outputs[index]
        if t.node is None or self._consumers.get(id(t), 0) or \
                sum(o is t for o in self.outputs) > 1:
            return None
        step = self.steps[self.nodes.index(t.node)]
        if isinstance(step, LayerStep) and not step.shared and len(t.node.outputs) == 1:
            return step.layer
        return None

    def backward(self, run: GraphRun, douts: Sequence[np.ndarray | None],
                 logits: Sequence[bool] = ()) -> list[np.ndarray | None]:
        """Backpropagate dL/d(outputs) (``None``: no gradient from that output; with
        ``logits[i]``, dL/d(logits) of output ``i``'s layer) and return dL/d(inputs)."""
        if run.chained:
            assert self._chain is not None
            if douts[0] is None:
                return [None]
            return self._backward_chain(self._chain, run, douts[0], bool(logits) and logits[0])
        grads: dict[int, np.ndarray] = {}
        logit_nodes: set[int] = set()
        for i, (t, d) in enumerate(zip(self.outputs, douts)):
            if d is None:
                continue
            if i < len(logits) and logits[i]:
                logit_nodes.add(id(t.node))
            key = id(t)
            grads[key] = d if key not in grads else grads[key] + d
        for step, saved in zip(reversed(self.steps), reversed(run.saved)):
            node = step.node
            douts_node = [grads.pop(id(t), None) for t in node.outputs]
            if all(d is None for d in douts_node) and not (
                    isinstance(saved, TapeRun) and saved.losses):
                continue
            dxs = step.backward(douts_node, saved, id(node) in logit_nodes)
            for t, dx in zip(node.inputs, dxs):
                if dx is None:
                    continue
                key = id(t)
                grads[key] = dx if key not in grads else grads[key] + dx
        return [grads.get(id(t)) for t in self.inputs]


class GraphRun:
    """One forward pass's record: each step's saved state and the added penalties."""

    __slots__ = ("saved", "penalty", "masks", "chained")

    def __init__(self, saved: list, penalty: float, masks: list | None = None,
                 chained: bool = False):
        self.saved = saved
        self.penalty = penalty
        #: each output's mask (None: no mask), or None when no output carries one
        self.masks = masks
        #: made by the chain loop (its saved states are the layers' outputs)
        self.chained = chained
