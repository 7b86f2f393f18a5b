"""plot_model / model_to_dot: the dot graph's nodes and edges are the model's layers and
connections (Sequential, functional with shared layers and ops, nested models), and the
images Graphviz writes from it."""

from __future__ import annotations

import os
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

import neuralab as nl
from neuralab.utils import model_to_dot, plot_model

L = nl.layers
pytest.importorskip("pydot", reason="plot_model needs pydot (pip install 'neuralab[plots]')")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="writing images needs Graphviz's dot (apt-get install graphviz)")


def _named(dot, *objects) -> tuple[set, set]:
    """The dot graph's nodes and edges, by the names of the objects they stand for."""
    names = {str(id(o)): o.name for o in objects}
    nodes = {names[n.get_name()] for n in _all_nodes(dot)}
    edges = {(names[e.get_source()], names[e.get_destination()]) for e in _all_edges(dot)}
    return nodes, edges


def _all_nodes(graph) -> list:
    own = [n for n in graph.get_nodes() if n.get_name() not in ("node", "edge", "graph")]
    return own + [n for sub in graph.get_subgraphs() for n in _all_nodes(sub)]


def _all_edges(graph) -> list:
    """The edges of ``graph`` and of its clusters (Keras draws a cluster's own edges in it)."""
    return graph.get_edges() + [e for sub in graph.get_subgraphs() for e in _all_edges(sub)]


def _branching():
    """Two inputs; ``shared`` called twice; an op (``+ 1``) on one output."""
    a, b = nl.Input((4,), name="a"), nl.Input((3,), name="b")
    shared = L.Dense(5, name="shared", activation="relu")
    joined = L.Concatenate(name="join")([shared(a), L.Dense(5, name="side")(b)])
    first = shared(L.Dense(4, name="squeeze")(joined))
    second = L.Dense(1, name="head")(joined) + 1.0
    return nl.Model([a, b], [first, second], name="branching")


def test_sequential_draws_its_layers_as_a_chain():
    model = nl.Sequential([L.Input((4,)), L.Dense(3, name="d1"), L.Dropout(0.5, name="drop"),
                           L.Dense(2, name="d2")])
    nodes, edges = _named(model_to_dot(model), *model.layers)
    assert nodes == {"d1", "drop", "d2"}
    assert edges == {("d1", "drop"), ("drop", "d2")}


def test_functional_graph_nodes_are_inputs_layers_and_ops_with_their_connections():
    model = _branching()
    dot = model_to_dot(model)
    op_node = model._graph.nodes[-1]
    nodes, edges = _named(dot, *model.inputs, *model.layers, op_node)
    assert nodes == {"a", "b", "shared", "side", "join", "squeeze", "head", op_node.name}
    assert len(_all_nodes(dot)) == 8  # the shared layer is one box
    assert edges == {("a", "shared"), ("b", "side"), ("shared", "join"), ("side", "join"),
                     ("join", "squeeze"), ("squeeze", "shared"), ("join", "head"),
                     ("head", op_node.name)}


def _nested():
    inner = nl.Sequential([L.Dense(3, name="i1"), L.Dense(2, name="i2")], name="inner")
    p, q = nl.Input((2,), name="p"), nl.Input((2,), name="q")
    block = nl.Model([p, q], L.Add(name="plus")([p, L.Dense(2, name="qd")(q)]), name="block")
    x = nl.Input((4,), name="x")
    h = inner(x)
    out = L.Dense(1, name="top")(block([h, h]))
    return nl.Model(x, out, name="outer"), inner, block


def test_nested_models_are_one_box_unless_expanded():
    model, inner, block = _nested()
    top = model.layers[-1]
    nodes, edges = _named(model_to_dot(model), model.inputs[0], inner, block, top)
    assert nodes == {"x", "inner", "block", "top"}
    assert edges == {("x", "inner"), ("inner", "block"), ("block", "top")}


def test_expand_nested_opens_sequential_and_functional_submodels_as_clusters():
    model, inner, block = _nested()
    top = model.layers[-1]
    dot = model_to_dot(model, expand_nested=True)
    everything = [model.inputs[0], *inner.layers, *block.inputs, *block.layers, top]
    nodes, edges = _named(dot, *everything)
    assert nodes == {"x", "i1", "i2", "p", "q", "qd", "plus", "top"}
    assert {s.get_name() for s in dot.get_subgraphs()} == {"cluster_inner", "cluster_block"}
    # edges into a functional sub-model go to its inputs, into a Sequential to its first
    # layer; edges out of either leave from the layer that makes the output
    assert edges == {("x", "i1"), ("i1", "i2"), ("i2", "p"), ("i2", "q"), ("q", "qd"),
                     ("p", "plus"), ("qd", "plus"), ("plus", "top")}


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except Exception as error:  # noqa: BLE001 - keras or its JAX backend missing or broken
        pytest.skip(f"Keras 3 with the JAX backend is not importable ({error})")
    return keras


def _shared_and_nested(api):
    """Two inputs, a shared layer called twice, a nested Sequential, two outputs; written
    once for neuralab and Keras (``api``: the module with Input, Model, Sequential, layers)."""
    a, b = api.Input((4,), name="a"), api.Input((3,), name="b")
    shared = api.layers.Dense(5, name="shared")
    inner = api.Sequential([api.layers.Dense(5, name="i1"), api.layers.Dense(5, name="i2")],
                           name="inner")
    joined = api.layers.Concatenate(name="join")([inner(shared(a)), api.layers.Dense(5, name="side")(b)])
    out = shared(api.layers.Dense(4, name="squeeze")(joined))
    return api.Model([a, b], [out, api.layers.Dense(1, name="head")(joined)]), inner


@pytest.mark.parametrize("expand_nested", [False, True])
def test_nodes_and_edges_equal_keras_own_model_to_dot(expand_nested):
    keras = _keras()
    from keras.src.utils.model_visualization import model_to_dot as keras_model_to_dot

    def by_name(dot, objects):
        names = {str(id(o)): o.name for o in objects}
        return ({names[n.get_name()] for n in _all_nodes(dot)},
                {(names[e.get_source()], names[e.get_destination()]) for e in _all_edges(dot)})

    theirs, their_inner = _shared_and_nested(keras)
    ours, our_inner = _shared_and_nested(nl)
    expected = by_name(keras_model_to_dot(theirs, expand_nested=expand_nested),
                       [*theirs._operations, *their_inner.layers])
    got = by_name(model_to_dot(ours, expand_nested=expand_nested),
                  [*ours.inputs, *ours.layers, *our_inner.layers])
    assert got == expected


def test_a_subclassed_model_is_one_box():
    class Net(nl.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(nl.ops.zeros((1, 3)))
    dot = model_to_dot(net)
    assert [n.get_name() for n in _all_nodes(dot)] == [str(id(net))] and not dot.get_edges()


def test_labels_show_what_is_asked():
    model = _branching()
    model.get_layer("side").trainable = False
    dot = model_to_dot(model, show_shapes=True, show_dtype=True, show_layer_activations=True,
                       show_trainable=True)
    labels = {n.get_name(): n.get("label") for n in _all_nodes(dot)}
    shared, side, join = (labels[str(id(model.get_layer(n)))] for n in ("shared", "side", "join"))
    assert "<b>shared</b> (Dense)" in shared and "Activation: <b>relu</b>" in shared
    assert "Input shape: <b>(None, 4)</b>" in shared and "Output shape: <b>(None, 5)</b>" in shared
    assert "Output dtype: <b>float32</b>" in shared and "<b>Trainable</b>" in shared
    assert "<b>Non-trainable</b>" in side
    assert "Input shape: <b>[(None, 5), (None, 5)]</b>" in join and "Trainable" not in join
    bare = model_to_dot(model, show_layer_names=False)
    label = next(n.get("label") for n in _all_nodes(bare) if n.get_name() == str(id(model.get_layer("join"))))
    assert "<b>Concatenate</b>" in label and "join" not in label and "shape" not in label


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_shapes_come_from_the_layers_call_in_the_model(kind):
    """Embedding keeps no ``input_shape`` of its own: the graph's first call gives it."""
    if kind == "functional":
        tokens = nl.Input((None,), name="tokens")
        model = nl.Model(tokens, L.LSTM(4)(L.Embedding(100, 8, name="embed")(tokens)))
        shapes = ("(None, None)", "(None, None, 8)")
    else:
        model = nl.Sequential([L.Input((5,)), L.Embedding(10, 3, name="embed"), L.Flatten()])
        shapes = ("(None, 5)", "(None, 5, 3)")
    dot = model_to_dot(model, show_shapes=True)
    label = next(n.get("label") for n in _all_nodes(dot)
                 if n.get_name() == str(id(model.get_layer("embed"))))
    assert f"Input shape: <b>{shapes[0]}</b>" in label
    assert f"Output shape: <b>{shapes[1]}</b>" in label


@needs_dot
def test_plot_model_writes_png_and_svg(tmp_path):
    model = _branching()
    png, svg = tmp_path / "model.png", tmp_path / "model.svg"
    plot_model(model, png, show_shapes=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_model(model, svg, show_shapes=True, show_layer_names=True, rankdir="LR", dpi=72)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = "".join(root.itertext())
    assert all(name in text for name in ("shared", "join", "Output shape:"))
    no_extension = tmp_path / "model"
    plot_model(model, no_extension)
    assert no_extension.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_pydot_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # ``import pydot`` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "neuralab\[plots\]"'):
        plot_model(_branching())
    with pytest.raises(ImportError, match="for `model_to_dot` to work"):
        model_to_dot(_branching())


def test_missing_graphviz_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ``dot`` program to be found
    with pytest.raises(ImportError, match="apt-get install graphviz"):
        plot_model(_branching(), tmp_path / "m.png")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="not yet been built"):
        model_to_dot(nl.Sequential([L.Dense(2)]))
    with pytest.raises(ValueError, match="rankdir must be 'TB', 'LR', 'BT' or 'RL'"):
        model_to_dot(_branching(), rankdir="sideways")
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        model_to_dot(_branching(), colour="red")


def test_the_keras_front_end_exposes_them():
    import neuralab.keras as keras

    assert keras.utils.plot_model is plot_model and keras.utils.model_to_dot is model_to_dot
