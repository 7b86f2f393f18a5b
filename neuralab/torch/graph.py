"""The teaching view of the recorded graph: ``draw_dot(loss)`` as graphviz dot text and
``graph_text(loss)`` as an indented tree for a terminal.

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


def _labels(names) -> dict:
    """``{id(engine tensor): name}`` from a module (its parameter names) or ``{tensor: name}``."""
    if names is None:
        return {}
    pairs = names.named_parameters() if hasattr(names, "named_parameters") else \
        ((v, k) for k, v in names.items())
    return {id(tensor._t): name for name, tensor in pairs}


def draw_dot(root: Tensor, names=None, rankdir: str = "LR") -> str:
    """Dot text of every recorded tensor ``root`` depends on.

    ``names`` labels tensors: a module (its parameters by name, ``names=model``) or a dict
    ``{tensor: label}``.
    """
    labels = _labels(names)
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


def graph_text(root: Tensor, names=None) -> str:
    """The recorded graph as an indented tree, the output first and each input below the
    op that used it; a tensor used twice is expanded once and then referred to by ``#n``.

    Example (after ``loss.backward()``)::

        #0 mean  shape ()  data [0.7]  grad [1.]
          #1 square  shape (4, 1)  data ...  grad ...
    """
    labels, seen, lines = _labels(names), {}, []

    def visit(node, depth):
        key = id(node)
        title = labels.get(key, node.op or ("parameter" if node.requires_grad else "input"))
        if key in seen:
            lines.append(f"{'  ' * depth}#{seen[key]} {title} (above)")
            return
        seen[key] = len(seen)
        lines.append(f"{'  ' * depth}#{seen[key]} {title}  shape {tuple(node.data.shape)}  "
                     f"data {summarize(node.data)}  grad {summarize(node.grad)}")
        for parent in node._prev:
            visit(parent, depth + 1)

    visit(root._t, 0)
    return "\n".join(lines)
