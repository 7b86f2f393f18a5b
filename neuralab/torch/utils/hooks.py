"""``torch.utils.hooks``: removable hook handles, and the identity nodes through which a
module's full backward hook sees the gradients of its inputs and outputs.

A full backward hook ``hook(module, grad_input, grad_output)`` is run as PyTorch runs it: the
module's tensor inputs and outputs pass through identity nodes recorded on the tape; the
output nodes note ``grad_output`` as the backward pass reaches them, the input nodes note
``grad_input``, and the hook runs once the last input's gradient is known (or, when no input
requires grad, once every output's gradient is known, with ``grad_input`` all ``None``). A
tuple returned by the hook replaces ``grad_input``; with several tensor inputs only the last
one reached can still be replaced, so a replacement is accepted for single-input modules
(every built-in layer) and refused with an error otherwise.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

from .._tensor import Tensor, wrap
from .._tensor import _EngineTensor as EngineTensor

_ids = itertools.count()


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` (or leaving a ``with`` block)
    unregisters the hook."""

    def __init__(self, hooks_dict: OrderedDict):
        self.hooks_dict, self.id = hooks_dict, next(_ids)

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _identity(t: Tensor, on_gradient, index: int) -> Tensor:
    """``t`` through a recorded identity node whose backward reports ``dout`` first."""
    def backward(dout):
        return (on_gradient(index, dout),)
    return wrap(EngineTensor.from_op(t._t.data, (t._t,), backward, "backward_hook"))


class BackwardHook:
    """One call's full backward hooks (see the module docstring)."""

    def __init__(self, module, hooks: list):
        self.module, self.hooks = module, hooks
        self.n_inputs = self.n_outputs = 0
        self.grad_inputs: list = []
        self.grad_outputs: list = []
        self.waiting_inputs = self.waiting_outputs = 0

    def setup_inputs(self, args: tuple) -> tuple:
        """``args`` with each tensor that requires grad behind an identity node; grad_input
        has one entry per tensor argument (``None`` for those that need no gradient)."""
        out, index = [], 0
        for value in args:
            if isinstance(value, Tensor):
                if value._t.requires_grad:
                    self.waiting_inputs += 1
                    value = _identity(value, self._input_gradient, index)
                index += 1
            out.append(value)
        self.n_inputs, self.grad_inputs = index, [None] * index
        return tuple(out)

    def setup_outputs(self, result):
        single = isinstance(result, Tensor)
        outputs = (result,) if single else tuple(result) if isinstance(result, (tuple, list)) else ()
        self.grad_outputs = [None] * len(outputs)
        wrapped = []
        for index, value in enumerate(outputs):
            if isinstance(value, Tensor) and value._t.requires_grad:
                self.waiting_outputs += 1
                value = _identity(value, self._output_gradient, index)
            wrapped.append(value)
        if single:
            return wrapped[0]
        return type(result)(wrapped) if outputs else result

    def _output_gradient(self, index: int, dout):
        self.grad_outputs[index] = wrap(EngineTensor(dout))
        self.waiting_outputs -= 1
        if self.waiting_outputs == 0 and self.waiting_inputs == 0:
            self._run_hooks()
        return dout

    def _input_gradient(self, index: int, dout):
        self.grad_inputs[index] = wrap(EngineTensor(dout))
        self.waiting_inputs -= 1
        if self.waiting_inputs == 0:
            replaced = self._run_hooks()
            if replaced is not None:
                return replaced[index]
        return dout

    def _run_hooks(self):
        replaced = None
        for hook in self.hooks:
            result = hook(self.module, tuple(self.grad_inputs), tuple(self.grad_outputs))
            if result is None:
                continue
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != self.n_inputs:
                raise RuntimeError(f"backward hook returned {len(result)} gradients, expected "
                                   f"{self.n_inputs} (one per input of {type(self.module).__name__})")
            if sum(g is not None for g in self.grad_inputs) > 1:
                raise NotImplementedError("replacing grad_input is supported for modules with one "
                                          "tensor input that requires grad")
            self.grad_inputs = list(result)
            replaced = [None if g is None else (g._t.data if isinstance(g, Tensor) else g)
                        for g in result]
        return replaced


__all__ = ["RemovableHandle", "BackwardHook"]
