"""Keras' ``plot_model`` and ``model_to_dot``: a model's layers drawn by Graphviz.

One box per layer (a shared layer once, however often it is called), one per input of a
functional model and one per :mod:`neuralab.ops` call on symbolic tensors; an edge from
each box to every box that takes one of its outputs. Sequential models draw as a chain,
subclassed models as one box. With ``expand_nested=True`` a nested Sequential or
functional model becomes a dashed cluster of its own boxes, and the edges into and out of
it go to the boxes inside (as Keras 3 draws them).

Needs pydot (``pip install "neuralab[plots]"``) and, to write images, Graphviz's ``dot``
program (``apt-get install graphviz``, ``brew install graphviz``).
"""

from __future__ import annotations

import html
import os
from typing import Any

__all__ = ["model_to_dot", "plot_model", "model_graph"]

_PYDOT_MISSING = ('You must install pydot (`pip install "neuralab[plots]"`, or `pip install '
                  'pydot`) for `{}` to work.')
_GRAPHVIZ_MISSING = ("You must install Graphviz's `dot` program (`apt-get install graphviz`, "
                     "`brew install graphviz`; see https://graphviz.org/download/) for "
                     "`plot_model` to work.")


def _pydot(caller: str):
    try:
        import pydot
    except ImportError as error:
        raise ImportError(_PYDOT_MISSING.format(caller)) from error
    return pydot


# -- what a model is made of (duck-typed: this module sits below the layers and models) --------
def _is_sequential(model) -> bool:
    return any(cls.__name__ == "Sequential" for cls in type(model).__mro__)


def _is_graph_model(obj) -> bool:
    """A Sequential or functional model (what ``expand_nested`` opens); subclassed models
    have no graph and stay one box."""
    return hasattr(obj, "layers") and (_is_sequential(obj) or getattr(obj, "_graph", None) is not None)


def _format_shape(shapes: list) -> str:
    if not shapes or any(s is None for s in shapes):
        return "?"
    text = [str(tuple(s)) for s in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


class _Box:
    """One node of the drawing: what it stands for and what its label shows."""

    def __init__(self, key: str, name: str, class_name: str, inputs=None, outputs=None,
                 dtype=None, layer=None):
        self.key, self.name, self.class_name = key, name, class_name
        self.inputs, self.outputs, self.dtype, self.layer = inputs, outputs, dtype, layer

    def label(self, show_shapes: bool, show_dtype: bool, show_layer_names: bool,
              show_layer_activations: bool, show_trainable: bool) -> str:
        """Keras 3's HTML-like table: a black title row, then activation, shapes, dtype and
        trainability rows as asked."""
        def cell(text: str) -> str:
            return f'<td bgcolor="white"><font point-size="14">{text}</font></td>'

        title = (f"<b>{html.escape(self.name)}</b> ({self.class_name})" if show_layer_names
                 else f"<b>{self.class_name}</b>")
        cols = []
        if show_shapes:
            if self.class_name != "InputLayer":
                cols.append(cell(f"Input shape: <b>{_format_shape(self.inputs)}</b>"))
            cols.append(cell(f"Output shape: <b>{_format_shape(self.outputs)}</b>"))
        if show_dtype:
            cols.append(cell(f"Output dtype: <b>{self.dtype or '?'}</b>"))
        if show_trainable and self.layer is not None and getattr(self.layer, "weights", None):
            state, color = (("Trainable", "forestgreen") if self.layer.trainable
                            else ("Non-trainable", "firebrick"))
            cols.append(f'<td bgcolor="{color}"><font point-size="14" color="white"><b>{state}'
                        "</b></font></td>")
        span = max(1, len(cols))
        table = ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
                 f'<tr><td colspan="{span}" bgcolor="black"><font point-size="16" '
                 f'color="white">{title}</font></td></tr>')
        activation = getattr(self.layer, "activation", None)
        if show_layer_activations and activation is not None:
            table += (f'<tr><td bgcolor="white" colspan="{span}"><font point-size="14">'
                      f"Activation: <b>{html.escape(_activation_name(activation))}</b>"
                      "</font></td></tr>")
        if cols:
            table += f"<tr>{''.join(cols)}</tr>"
        return table + "</table>>"


def _activation_name(activation) -> str:
    from ..activations import serialize

    try:
        name = serialize(activation)
    except (TypeError, ValueError):
        name = None
    return name if isinstance(name, str) else getattr(activation, "__name__",
                                                       type(activation).__name__)


def _layer_box(layer, call=None) -> _Box:
    """The box of ``layer``; its shapes from ``call`` (the graph node of its first call in
    the model drawn) when given, else from the layer's ``input_shape``/``output_shape``."""
    if call is not None:
        return _Box(str(id(layer)), layer.name, type(layer).__name__,
                    [t.shape for t in call.inputs], [t.shape for t in call.outputs],
                    call.outputs[0].dtype if call.outputs else None, layer)

    def shapes(attribute):
        try:
            value = getattr(layer, attribute)
        except (AttributeError, ValueError, TypeError):
            return None
        if value is None:
            return None
        several = isinstance(value, (list, tuple)) and value and all(
            d is None or isinstance(d, (list, tuple)) for d in value)
        return list(value) if several else [value]

    return _Box(str(id(layer)), layer.name, type(layer).__name__, shapes("input_shape"),
                shapes("output_shape"), getattr(layer, "dtype", None), layer)


class _Drawing:
    """A model walked into boxes, clusters and edges (``expand_nested`` opens sub-models)."""

    def __init__(self, expand_nested: bool):
        self.expand_nested = expand_nested
        self.edges: list[tuple[str, str]] = []

    def add_edge(self, source: str, destination: str) -> None:
        if (source, destination) not in self.edges:
            self.edges.append((source, destination))

    def opens(self, obj) -> bool:
        return self.expand_nested and _is_graph_model(obj)

    # where edges into input ``index`` of a model, and out of its output ``index``, attach
    def entry(self, obj, index: int) -> str:
        while self.opens(obj):
            if not _is_sequential(obj):
                return str(id(obj.inputs[index]))
            obj = obj.layers[0]
        return str(id(obj))

    def exit(self, obj, index: int) -> str:
        """The box making output ``index`` of ``obj``: a layer, an op's node or an input."""
        while self.opens(obj):
            if _is_sequential(obj):
                obj = obj.layers[-1]
            else:
                obj, index = self.producers(obj)[id(obj.outputs[index])]
        return str(id(obj))

    @staticmethod
    def producers(model) -> dict[int, tuple[Any, int]]:
        """``{id(tensor): (what made it, output index)}``: the input tensor itself for an
        input, the layer for a layer call, the graph node for an op."""
        made: dict[int, tuple[Any, int]] = {id(t): (t, 0) for t in model.inputs}
        for node in model._graph.nodes:
            maker = node.operation if node.is_layer else node
            for k, t in enumerate(node.outputs):
                made[id(t)] = (maker, k)
        return made

    def walk(self, model) -> list:
        """The boxes of ``model`` (a nested list is a sub-model's cluster:
        ``[model, boxes...]``), adding its edges to :attr:`edges`."""
        boxes: list
        graph = getattr(model, "_graph", None)
        if _is_sequential(model):
            layers = list(model.layers)
            calls = {} if graph is None else {id(node.operation): node for node in graph.nodes
                                              if node.is_layer}
            boxes = [self.walk_part(layer, calls.get(id(layer))) for layer in layers]
            for before, after in zip(layers, layers[1:]):
                self.add_edge(self.exit(before, 0), self.entry(after, 0))
            return boxes
        if graph is None:
            return [_layer_box(model)]
        boxes = [_Box(str(id(t)), t.name, "InputLayer", outputs=[t.shape], dtype=t.dtype)
                       for t in model.inputs]
        made = self.producers(model)
        seen: set[int] = set()
        for node in graph.nodes:
            if node.is_layer:
                destination = node.operation
                if id(destination) not in seen:
                    seen.add(id(destination))
                    boxes.append(self.walk_part(destination, node))
            else:
                destination = node
                boxes.append(_Box(str(id(node)), node.name, "Operation",
                                  [t.shape for t in node.inputs], [t.shape for t in node.outputs],
                                  node.outputs[0].dtype if node.outputs else None))
            for j, t in enumerate(node.inputs):
                source, k = made[id(t)]
                self.add_edge(self.exit(source, k),
                              self.entry(destination, j) if node.is_layer else str(id(node)))
        return boxes

    def walk_part(self, layer, call=None):
        return [layer, *self.walk(layer)] if self.opens(layer) else _layer_box(layer, call)


def model_graph(model, expand_nested: bool = False) -> tuple[list[tuple[str, str, str]],
                                                              list[tuple[str, str]]]:
    """``(nodes, edges)`` of the drawing as plain data: ``(key, scoped name, class name)``
    per box (a name inside an expanded sub-model is ``"inner/dense"``), and ``(source key,
    destination key)`` per edge. What :func:`model_to_dot` draws and TensorBoard's graph
    shows."""
    drawing = _Drawing(expand_nested)
    nodes: list[tuple[str, str, str]] = []

    def visit(boxes, scope: str) -> None:
        for box in boxes:
            if isinstance(box, list):
                visit(box[1:], f"{scope}{box[0].name}/")
            else:
                nodes.append((box.key, scope + box.name, box.class_name))

    visit(drawing.walk(model), "")
    return nodes, drawing.edges


# -- pydot -------------------------------------------------------------------------------------
def model_to_dot(model, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = True, rankdir: str = "TB", expand_nested: bool = False,
                 dpi: int = 200, subgraph: bool = False, show_layer_activations: bool = False,
                 show_trainable: bool = False, splines: str = "ortho", **kwargs):
    """``model`` as a ``pydot.Dot`` graph (a ``pydot.Cluster`` with ``subgraph=True``).

    Node names are ``str(id(layer))`` (``str(id(tensor))`` for a functional model's inputs),
    as in Keras; each node's label is an HTML-like table with the layer's name and class
    and, as asked, its activation, input and output shapes, output dtype and trainability.

    Example::

        dot = model_to_dot(model, show_shapes=True)
        print(dot.to_string())
    """
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by calling "
                         "`build()` or by calling the model on a batch of data.")
    pydot = _pydot("model_to_dot")
    label_options = dict(show_shapes=show_shapes, show_dtype=show_dtype,
                         show_layer_names=show_layer_names,
                         show_layer_activations=show_layer_activations,
                         show_trainable=show_trainable)
    drawing = _Drawing(expand_nested)

    def add(container, boxes) -> None:
        for box in boxes:
            if isinstance(box, list):
                cluster = pydot.Cluster(graph_name=box[0].name, style="dashed", label=box[0].name,
                                        labeljust="l")
                add(cluster, box[1:])
                container.add_subgraph(cluster)
            else:
                node = pydot.Node(box.key, label=box.label(**label_options))
                node.set("fontname", "Helvetica")
                node.set("border", "0")
                node.set("margin", "0")
                container.add_node(node)

    if subgraph:
        dot = pydot.Cluster(graph_name=model.name, style="dashed", label=model.name, labeljust="l")
    else:
        dot = pydot.Dot()
        for key, value in (("rankdir", rankdir), ("concentrate", True), ("dpi", dpi),
                           ("splines", splines)):
            dot.set(key, value)
        dot.set_node_defaults(shape="record")
    add(dot, drawing.walk(model))
    for source, destination in drawing.edges:
        dot.add_edge(pydot.Edge(source, destination, penwidth="2"))
    return dot


def plot_model(model, to_file: str | os.PathLike = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = False, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200, show_layer_activations: bool = False,
               show_trainable: bool = False, splines: str = "ortho", **kwargs):
    """Draw ``model`` into ``to_file``; the format is the file's extension (``.png``,
    ``.svg``, ``.pdf``, ``.dot``...; none means PNG). Arguments as :func:`model_to_dot`.

    Returns an ``IPython.display.Image`` (``SVG`` for ``.svg``) of the file when IPython is
    installed, so that a notebook shows it, for PNG, JPEG, GIF and SVG; else ``None``.

    Raises:
        ImportError: pydot or Graphviz's ``dot`` program is missing (the message says how to
            install them).

    Example::

        plot_model(model, "model.png", show_shapes=True, show_layer_names=True)
    """
    pydot = _pydot("plot_model")
    try:
        pydot.Dot.create(pydot.Dot())
    except (OSError, pydot.PydotException) as error:
        raise ImportError(_GRAPHVIZ_MISSING) from error
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines, **kwargs)
    to_file = str(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)
    if extension not in ("png", "jpg", "jpeg", "gif", "svg"):
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    if extension == "svg":
        return display.SVG(filename=to_file)
    return display.Image(filename=to_file, format=extension)
