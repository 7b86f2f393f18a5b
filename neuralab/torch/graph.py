"""The teaching view of the recorded graph: ``draw_dot(loss)`` as graphviz dot text.

micrograd's ``draw_dot`` on arrays: one box per tensor (its op, shape, a summary of its
values and of its gradient once ``backward()`` ran), arrows from inputs to outputs. Paste
the text into any graphviz viewer, or ``graphviz.Source(draw_dot(loss))`` in a notebook.
"""

from __future__ import annotations

import numpy as np

from neuralab.tensor import topological_order

from ._tensor import Tensor


def summarize(array: np.ndarray | None) -> str:
    """A short text for an array: the values when there are few, else mean/min/max."""
    if array is None:
        return "None"
    array = np.asarray(array)
    if array.size <= 4:
        return np.array2string(array.ravel(), precision=4, separator=" ")
    return f"mean {array.mean():.4g} min {array.min():.4g} max {array.max():.4g}"


def draw_dot(root: Tensor, names: dict | None = None, rankdir: str = "LR") -> str:
    """Dot text of every recorded tensor ``root`` depends on.

    ``names`` maps tensors (e.g. ``dict(model.named_parameters())`` inverted) to labels;
    parameters of a module can be passed as ``names=model``.
    """
    labels = {}
    if names is not None:
        pairs = names.named_parameters() if hasattr(names, "named_parameters") else \
            ((v, k) for k, v in names.items())
        labels = {id(tensor._t): name for name, tensor in pairs}
    lines = ["digraph G {", f"  rankdir={rankdir};", "  node [shape=record, fontsize=10];"]
    for node in topological_order(root._t):
        op = node.op or ("parameter" if node.requires_grad else "input")
        title = labels.get(id(node), op)
        text = (f"{{ {title} | shape {tuple(node.data.shape)} | data {summarize(node.data)} | "
                f"grad {summarize(node.grad)} }}")
        text = text.replace('"', "'").replace("<", "\\<").replace(">", "\\>")
        lines.append(f'  n{id(node)} [label="{text}"];')
        for parent in node._prev:
            lines.append(f"  n{id(parent)} -> n{id(node)};")
    lines.append("}")
    return "\n".join(lines)
