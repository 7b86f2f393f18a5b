"""``torch.autograd.Function``: write a forward and its backward by hand, as one graph node.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):
            (y,) = ctx.saved_tensors
            return grad_output * y          # d exp(x)/dx = exp(x)

    y = Exp.apply(x)

``forward`` runs without recording; ``backward`` returns one gradient (or ``None``) per
``forward`` argument. The node is the engine's own (:meth:`neuralab.tensor.Tensor.from_op`),
exactly what neuralab's built-in layers are.
"""

from __future__ import annotations

from neuralab.tensor import no_grad

from ._tensor import Tensor, _array, wrap
from ._tensor import _EngineTensor as EngineTensor


class FunctionCtx:
    """What ``forward`` keeps for ``backward``: ``save_for_backward(*tensors)`` and any
    attribute; ``needs_input_grad`` says which arguments want a gradient."""

    def __init__(self, args):
        self.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Accepted for compatibility; integer outputs carry no gradient anyway."""


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, grad_output)``; call
    ``apply(*args)``."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args) -> Tensor:
        ctx = FunctionCtx(args)
        with no_grad():
            output = cls.forward(ctx, *args)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

        def backward(dout):
            with no_grad():
                grads = cls.backward(ctx, wrap(EngineTensor(dout)))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of "
                                   f"gradients (expected {len(args)}, got {len(grads)})")
            return tuple(None if grads[i] is None else _array(grads[i]) for i in positions)
        return wrap(EngineTensor.from_op(output._t.data, [args[i]._t for i in positions], backward,
                                         cls.__name__))


__all__ = ["Function", "FunctionCtx"]
