"""Export a built :class:`~neuralab.Sequential` to ONNX (served by onnxruntime).

    from neuralab.export import to_onnx
    to_onnx(model, "net.onnx")          # input "input", output "output", batch axis dynamic

Supported layers and their operators: Dense (MatMul + Add), every activation (Sigmoid, Tanh,
Relu, LeakyRelu, Elu, Selu, Softplus, Softmax), Dropout/SpatialDropout2D (Identity),
BatchNormalization (BatchNormalization), Conv2D (Conv), MaxPooling2D (MaxPool),
AveragePooling2D (AveragePool), the global pools, Flatten, Reshape, Embedding (Gather),
InputLayer (Identity). Any other layer raises ``ValueError`` naming it.

Layout: neuralab is channels-last, ONNX's Conv/Pool are channels-first. The exporter
transposes to NCHW before the first image operator and back before anything that depends
on the layout (Flatten, Dense, Reshape), so the ONNX graph takes and returns exactly what
``model.predict`` does. "same" padding is written as explicit (possibly asymmetric) pads.
"""

from __future__ import annotations

import numpy as np

from .. import functional as fn
from ..layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    InputLayer,
    MaxPooling2D,
    Reshape,
)
from .layout import TO_NCHW, LayoutTracker

OPSET = 17


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("ONNX export needs onnx: pip install 'neuralab[onnx]'") from None
    return onnx, helper, numpy_helper


class _Graph:
    """Accumulates nodes and initializers, handing out fresh tensor names."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, array, base: str) -> str:
        name = self.name(base)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs, base: str, **attrs) -> str:
        out = self.name(base)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _activation(graph: _Graph, activation, x: str, base: str) -> str:
    name = activation.name
    if name == "linear":
        return x
    simple = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus"}
    if name in simple:
        return graph.op(simple[name], [x], base)
    if name == "leaky_relu":
        return graph.op("LeakyRelu", [x], base, alpha=activation.negative_slope)
    if name == "elu":
        return graph.op("Elu", [x], base, alpha=activation.alpha)
    if name == "selu":
        return graph.op("Selu", [x], base, alpha=activation.alpha, gamma=activation.scale)
    if name == "softmax":
        return graph.op("Softmax", [x], base, axis=-1)
    raise ValueError(f"Activation {name!r} has no ONNX export")


def _pads(layer, input_shape) -> list[int]:
    h, w = input_shape[1:3]
    kernel = getattr(layer, "kernel_size", getattr(layer, "pool_size", None))
    dilation = getattr(layer, "dilation_rate", (1, 1))
    g = fn.conv_geometry(h, w, kernel, layer.strides, dilation, layer.padding)
    return [g.pad_top, g.pad_left, g.pad_bottom, g.pad_right]


def build_graph(model, graph: _Graph, x: str, input_dtype) -> str:
    """Append the model's layers to ``graph`` starting from tensor ``x``; returns the output."""
    layout = LayoutTracker(lambda t, perm: graph.op(
        "Transpose", [t], "to_nchw" if perm == TO_NCHW else "to_nhwc", perm=list(perm)))

    dtype = np.dtype(model.dtype)
    for layer in model.layers:
        base = layer.name.replace("/", "_")
        if isinstance(layer, (InputLayer, Dropout)):
            x = graph.op("Identity", [x], base)
        elif isinstance(layer, Dense):
            x = layout.need("NHWC", x)
            w = graph.const(layer.kernel.data.astype(dtype), base + "_kernel")
            x = graph.op("MatMul", [x, w], base)
            if layer.use_bias:
                x = graph.op("Add", [x, graph.const(layer.bias.data.astype(dtype), base + "_bias")],
                             base)
            x = _activation(graph, layer.activation, x, base)
        elif isinstance(layer, Activation):
            x = _activation(graph, layer.activation, x, base)
        elif isinstance(layer, Conv2D):
            x = layout.need("NCHW", x)
            inputs = [x, graph.const(layer.kernel.data.transpose(3, 2, 0, 1).astype(dtype),
                                     base + "_kernel")]
            if layer.use_bias:
                inputs.append(graph.const(layer.bias.data.astype(dtype), base + "_bias"))
            x = graph.op("Conv", inputs, base, kernel_shape=list(layer.kernel_size),
                         strides=list(layer.strides), dilations=list(layer.dilation_rate),
                         pads=_pads(layer, layer.input_shape))
            x = _activation(graph, layer.activation, x, base)
        elif isinstance(layer, (MaxPooling2D, AveragePooling2D)):
            x = layout.need("NCHW", x)
            attrs = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                         pads=_pads(layer, layer.input_shape))
            if isinstance(layer, MaxPooling2D):
                x = graph.op("MaxPool", [x], base, **attrs)
            else:
                x = graph.op("AveragePool", [x], base, count_include_pad=0, **attrs)
        elif isinstance(layer, (GlobalAveragePooling2D, GlobalMaxPooling2D)):
            x = layout.need("NCHW", x)
            op = "GlobalAveragePool" if isinstance(layer, GlobalAveragePooling2D) else "GlobalMaxPool"
            x = graph.op(op, [x], base)  # (N, C, 1, 1)
            layout.layout = "NHWC"  # (N, C, 1, 1) and (N, 1, 1, C) hold the same values
            shape = [0, 1, 1, -1] if layer.keepdims else [0, -1]
            x = graph.op("Reshape", [x, graph.const(np.array(shape, np.int64), base + "_shape")],
                         base)
        elif isinstance(layer, BatchNormalization):
            channels_axis_last = len(layer.input_shape) == 4
            if channels_axis_last:
                x = layout.need("NCHW", x)
            elif len(layer.input_shape) != 2:
                raise ValueError(f"Layer {layer.name!r} (BatchNormalization): ONNX export supports "
                                 "(N, D) and (N, H, W, C) inputs")
            c = layer.input_shape[-1]
            gamma = layer.gamma.data if layer.scale else np.ones(c)
            beta = layer.beta.data if layer.center else np.zeros(c)
            inputs = [x] + [graph.const(np.asarray(a, dtype), base + suffix) for a, suffix in (
                (gamma, "_gamma"), (beta, "_beta"), (layer.moving_mean.data, "_mean"),
                (layer.moving_variance.data, "_var"))]
            x = graph.op("BatchNormalization", inputs, base, epsilon=layer.epsilon)
        elif isinstance(layer, Flatten):
            x = layout.need("NHWC", x)  # Keras flattens channels last
            x = graph.op("Flatten", [x], base, axis=1)
        elif isinstance(layer, Reshape):
            x = layout.need("NHWC", x)
            shape = np.array([0] + list(layer.output_shape[1:]), np.int64)
            x = graph.op("Reshape", [x, graph.const(shape, base + "_shape")], base)
        elif isinstance(layer, Embedding):
            if not np.issubdtype(input_dtype, np.integer):
                x = graph.op("Cast", [x], base + "_ids", to=7)  # INT64
            x = graph.op("Gather", [graph.const(layer.embeddings.data.astype(dtype),
                                                base + "_table"), x], base, axis=0)
        else:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX export; "
                             "supported: Dense, Activation, Dropout, BatchNormalization, Conv2D, "
                             "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, "
                             "GlobalMaxPooling2D, Flatten, Reshape, Embedding, InputLayer")
    return layout.need("NHWC", x)


def to_onnx(model, path=None, input_dtype=None, opset: int = OPSET):
    """Build the ONNX model of ``model`` (checked with ``onnx.checker``); write it to
    ``path`` atomically when given. Returns the ``onnx.ModelProto``.

    ``input_dtype`` defaults to the model's float type, or int64 when the first layer is an
    Embedding.
    """
    onnx, helper, numpy_helper = _onnx()
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built: give it an input shape first")
    first = model.layers[0] if model.layers else None
    if input_dtype is None:
        input_dtype = np.int64 if isinstance(first, Embedding) else np.dtype(model.dtype)
    input_dtype = np.dtype(input_dtype)
    graph = _Graph(helper, numpy_helper)
    output = build_graph(model, graph, "input", input_dtype)
    graph.nodes.append(helper.make_node("Identity", [output], ["output"]))
    elem = {np.dtype("float32"): onnx.TensorProto.FLOAT, np.dtype("float64"): onnx.TensorProto.DOUBLE,
            np.dtype("int64"): onnx.TensorProto.INT64, np.dtype("int32"): onnx.TensorProto.INT32}
    if input_dtype not in elem:
        raise ValueError(f"Unsupported ONNX input dtype {input_dtype}")
    in_shape = ["N"] + [d if d is not None else f"d{i}" for i, d in enumerate(model.input_shape[1:])]
    out_shape = ["N"] + [d if d is not None else f"o{i}" for i, d in enumerate(model.output_shape[1:])]
    onnx_graph = helper.make_graph(
        graph.nodes, model.name,
        [helper.make_tensor_value_info("input", elem[input_dtype], in_shape)],
        [helper.make_tensor_value_info("output", elem[np.dtype(model.dtype)], out_shape)],
        initializer=graph.initializers)
    proto = helper.make_model(onnx_graph, producer_name="neuralab",
                              opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases of 2024 on
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        from ..io_utils import atomic_write_bytes
        atomic_write_bytes(path, proto.SerializeToString())
    return proto
