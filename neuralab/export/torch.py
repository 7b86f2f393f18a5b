"""Move models between neuralab and PyTorch, weights included.

``to_torch(model)`` builds a ``torch.nn.Sequential`` that computes what ``model.predict``
computes, on the *same* input layout: a network with Conv2D layers starts with a
``Permute`` to channels-first and turns back to channels-last before Flatten/Dense, so the
torch network takes (N, H, W, C) images as neuralab does. "same" padding becomes an explicit
(possibly asymmetric) pad, as TensorFlow/Keras pad.

``from_torch(net, input_shape)`` goes the other way for a ``torch.nn.Sequential`` of
supported modules. A plain PyTorch CNN takes (N, C, H, W) inputs and flattens channels
first; the neuralab model takes (N, H, W, C) and flattens channels last, so the weights of
the Linear layer after a Flatten are permuted to keep the outputs identical. Networks
exported by ``to_torch`` (with their ``Permute`` modules) come back as they were.

Conventions carried across: PyTorch ``BatchNorm`` momentum is ``1 - momentum`` of Keras and
its running variance is unbiased (see :class:`~neuralab.layers.BatchNormalization`); a softmax
output layer stays a softmax (use ``nn.NLLLoss`` on its log, or drop it and use
``nn.CrossEntropyLoss`` when fine-tuning).
"""

from __future__ import annotations

import numpy as np

from .. import activations as acts
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
    SpatialDropout2D,
)
from ..models import Input, Sequential
from .layout import LayoutTracker


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without torch
        raise ImportError("PyTorch interop needs torch: pip install 'neuralab[torch]'") from None
    return torch


_MODULE_CLASSES = {}


def _modules():
    """Small nn.Modules the conversion needs (defined once torch is imported)."""
    if _MODULE_CLASSES:
        return _MODULE_CLASSES
    nn = _torch().nn

    class Permute(nn.Module):
        def __init__(self, *dims):
            super().__init__()
            self.dims = tuple(dims)

        def forward(self, x):
            return x.permute(*self.dims)

        def extra_repr(self):
            return f"dims={self.dims}"

    class Pad2d(nn.Module):
        """Constant padding (left, right, top, bottom), e.g. -inf before a max pool."""

        def __init__(self, pads, value=0.0):
            super().__init__()
            self.pads, self.value = tuple(pads), float(value)

        def forward(self, x):
            return nn.functional.pad(x, self.pads, value=self.value)

        def extra_repr(self):
            return f"pads={self.pads}, value={self.value}"

    class View(nn.Module):
        def __init__(self, *shape):
            super().__init__()
            self.shape = tuple(shape)

        def forward(self, x):
            return x.reshape((x.shape[0],) + self.shape)

        def extra_repr(self):
            return f"shape={self.shape}"

    _MODULE_CLASSES.update(Permute=Permute, Pad2d=Pad2d, View=View)
    return _MODULE_CLASSES


def _activation_module(activation):
    nn = _torch().nn
    name = activation.name
    table = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "selu": nn.SELU,
             "softplus": nn.Softplus}
    if name == "linear":
        return None
    if name in table:
        return table[name]()
    if name == "leaky_relu":
        return nn.LeakyReLU(activation.negative_slope)
    if name == "elu":
        return nn.ELU(activation.alpha)
    if name == "softmax":
        return nn.Softmax(dim=-1)
    raise ValueError(f"Activation {name!r} has no PyTorch counterpart here")


def _tensor(array):
    torch = _torch()
    return torch.nn.Parameter(torch.tensor(np.array(array)))


def to_torch(model):
    """An equivalent ``torch.nn.Sequential`` with copies of the weights (same dtype)."""
    torch = _torch()
    m = _modules()
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built: give it an input shape first")
    dtype = getattr(torch, model.dtype)
    modules = []
    layout = LayoutTracker(lambda _, perm: modules.append(m["Permute"](*perm)))
    for layer in model.layers:
        if not isinstance(layer, InputLayer):
            modules += _layer_modules(layer, layout, dtype)
    layout.need("NHWC")
    return torch.nn.Sequential(*modules)


def _layer_modules(layer, layout: LayoutTracker, dtype) -> list:
    """The torch modules computing ``layer``, after asking ``layout`` for the layout they
    take (which appends a ``Permute`` to the modules so far when it changes)."""
    nn = _torch().nn
    m = _modules()
    if isinstance(layer, Dense):
        layout.need("NHWC")
        linear = nn.Linear(layer.kernel.shape[0], layer.units, bias=layer.use_bias, dtype=dtype)
        return _affine_modules(linear, layer.kernel.data.T, layer)
    if isinstance(layer, Activation):
        return _activation_modules(layer.activation)
    if isinstance(layer, Conv2D):
        layout.need("NCHW")
        return _conv_modules(layer, dtype)
    if isinstance(layer, (MaxPooling2D, AveragePooling2D)):
        layout.need("NCHW")
        return _pool_modules(layer)
    if isinstance(layer, (GlobalAveragePooling2D, GlobalMaxPooling2D)):
        layout.need("NCHW")
        pool = nn.AdaptiveAvgPool2d(1) if isinstance(layer, GlobalAveragePooling2D) \
            else nn.AdaptiveMaxPool2d(1)
        layout.layout = "NHWC"  # (N, C) after the flatten: no transpose needed
        return [pool, nn.Flatten()] + ([m["View"](1, 1, -1)] if layer.keepdims else [])
    if isinstance(layer, BatchNormalization):
        if len(layer.input_shape) == 4:
            layout.need("NCHW")
        return [_batchnorm_module(layer, dtype)]
    if isinstance(layer, SpatialDropout2D):
        layout.need("NCHW")
        return [nn.Dropout2d(layer.rate)]
    if isinstance(layer, Dropout):
        return [nn.Dropout(layer.rate)]
    if isinstance(layer, Flatten):
        layout.need("NHWC")
        return [nn.Flatten()]
    if isinstance(layer, Reshape):
        layout.need("NHWC")
        return [m["View"](*layer.output_shape[1:])]
    if isinstance(layer, Embedding):
        return [_embedding_module(layer, dtype)]
    raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has no PyTorch export")


def _activation_modules(activation) -> list:
    """``[module]`` for the activation, ``[]`` for linear."""
    act = _activation_module(activation)
    return [] if act is None else [act]


def _affine_modules(module, weight, layer) -> list:
    """A Linear or Conv2d with ``layer``'s kernel (``weight``: in torch's layout) and bias,
    followed by its activation."""
    torch = _torch()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(weight))
        if layer.use_bias:
            module.bias.copy_(torch.tensor(layer.bias.data))
    return [module] + _activation_modules(layer.activation)


def _conv_modules(layer, dtype) -> list:
    """Conv2D: an explicit ZeroPad2d for 'same' padding, the Conv2d and its activation."""
    nn = _torch().nn
    g = fn.conv_geometry(layer.input_shape[1], layer.input_shape[2], layer.kernel_size,
                         layer.strides, layer.dilation_rate, layer.padding)
    pad = [nn.ZeroPad2d((g.pad_left, g.pad_right, g.pad_top, g.pad_bottom))] if g.padded else []
    conv = nn.Conv2d(layer.kernel.shape[2], layer.filters, layer.kernel_size,
                     stride=layer.strides, dilation=layer.dilation_rate,
                     bias=layer.use_bias, dtype=dtype)
    return pad + _affine_modules(conv, layer.kernel.data.transpose(3, 2, 0, 1), layer)


def _pool_modules(layer) -> list:
    """MaxPooling2D (padded with -inf for 'same') or AveragePooling2D ('valid' only)."""
    nn = _torch().nn
    m = _modules()
    g = fn.conv_geometry(layer.input_shape[1], layer.input_shape[2], layer.pool_size,
                         layer.strides, (1, 1), layer.padding)
    if isinstance(layer, MaxPooling2D):
        pad = [m["Pad2d"]((g.pad_left, g.pad_right, g.pad_top, g.pad_bottom), float("-inf"))] \
            if g.padded else []
        return pad + [nn.MaxPool2d(layer.pool_size, layer.strides)]
    if g.padded:
        raise ValueError(f"Layer {layer.name!r}: AveragePooling2D with padding='same' "
                         "averages over real elements only, which nn.AvgPool2d cannot "
                         "express for asymmetric padding; use padding='valid'")
    return [nn.AvgPool2d(layer.pool_size, layer.strides)]


def _batchnorm_module(layer, dtype):
    """BatchNorm1d/2d with the layer's scale, offset and moving statistics."""
    torch = _torch()
    nn = torch.nn
    c = layer.input_shape[-1]
    bn = (nn.BatchNorm2d if len(layer.input_shape) == 4 else nn.BatchNorm1d)(
        c, eps=layer.epsilon, momentum=1 - layer.momentum,
        affine=layer.scale or layer.center, dtype=dtype)
    with torch.no_grad():
        if bn.affine:
            bn.weight.copy_(torch.tensor(layer.gamma.data if layer.scale else np.ones(c)))
            bn.bias.copy_(torch.tensor(layer.beta.data if layer.center else np.zeros(c)))
        bn.running_mean.copy_(torch.tensor(layer.moving_mean.data))
        bn.running_var.copy_(torch.tensor(layer.moving_variance.data))
    return bn


def _embedding_module(layer, dtype):
    torch = _torch()
    emb = torch.nn.Embedding(layer.input_dim, layer.output_dim, dtype=dtype)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(layer.embeddings.data))
    return emb


_TORCH_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu", "SELU": "selu",
                      "Softplus": "softplus"}


def _activation_of(module):
    name = type(module).__name__
    if name in _TORCH_ACTIVATIONS:
        return acts.get(_TORCH_ACTIVATIONS[name])
    if name == "LeakyReLU":
        return acts.LeakyReLU(module.negative_slope)
    if name == "ELU":
        return acts.ELU(module.alpha)
    if name == "Softmax" and module.dim in (-1, 1, None):
        return acts.Softmax()
    return None


def from_torch(net, input_shape, dtype: str | None = None):
    """A neuralab ``Sequential`` equivalent to the ``torch.nn.Sequential`` ``net``.

    ``input_shape`` is the shape of one sample *as neuralab sees it*: ``(features,)``,
    ``(H, W, C)`` for images (the torch net sees (C, H, W)), or ``(T,)`` ids for Embedding.
    """
    torch = _torch()
    nn = torch.nn
    m = _modules()
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"from_torch expects a torch.nn.Sequential, got {type(net).__name__}")
    params = [p for p in net.parameters()]
    dtype = dtype or (str(params[0].dtype).replace("torch.", "") if params else "float32")
    model = Sequential([Input(shape=tuple(input_shape), dtype=dtype)])
    modules = list(net)
    builder = _FromTorch(model, dtype,
                         explicit_permutes=any(isinstance(mod, m["Permute"]) for mod in modules))
    i = 0
    while i < len(modules):
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        i += builder.add(i, modules[i], nxt)
    return model


class _FromTorch:
    """``from_torch``'s walk over the modules: adds the layers of each to ``model`` and
    carries what one module leaves for the next (a pad before a conv or pool, the feature
    order after a channels-first Flatten)."""

    def __init__(self, model, dtype: str, explicit_permutes: bool):
        self.model = model
        self.dtype = dtype
        self.explicit_permutes = explicit_permutes
        self.permute_features = None  # pending (C, H, W) -> (H, W, C) reordering for the next Linear
        self.pending_pad = None

    def add(self, i: int, mod, nxt) -> int:
        """Add module ``i`` (``nxt`` follows it); returns how many modules it used (2 when
        the next one is an activation or Flatten folded into this layer)."""
        nn = _torch().nn
        m = _modules()
        name = type(mod).__name__
        dtype = self.dtype
        if isinstance(mod, m["Permute"]):
            return 1  # to_torch's layout changes; neuralab's tensors stay channels-last throughout
        if isinstance(mod, nn.Linear):
            return self._linear(mod, nxt)
        if isinstance(mod, (nn.ZeroPad2d, m["Pad2d"])):
            self.pending_pad = tuple(mod.padding if isinstance(mod, nn.ZeroPad2d) else mod.pads)
            return 1
        if isinstance(mod, nn.Conv2d):
            return self._conv(i, name, mod, nxt)
        if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
            self._pool(i, name, mod)
            return 1
        if isinstance(mod, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return self._global_pool(i, name, mod, nxt)
        if isinstance(mod, nn.Flatten):
            self._flatten()
            return 1
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            self._batchnorm(mod)
            return 1
        if isinstance(mod, nn.Dropout2d):
            self.model.add(SpatialDropout2D(mod.p, dtype=dtype))
        elif isinstance(mod, nn.Dropout):
            self.model.add(Dropout(mod.p, dtype=dtype))
        elif isinstance(mod, nn.Embedding):
            layer = Embedding(mod.num_embeddings, mod.embedding_dim, dtype=dtype)
            self.model.add(layer)
            layer.set_weights([mod.weight.detach().cpu().numpy()])
        elif isinstance(mod, m["View"]):
            self.model.add(Reshape(mod.shape, dtype=dtype))
        elif isinstance(mod, nn.Identity):
            pass
        elif _activation_of(mod) is not None:
            self.model.add(Activation(_activation_of(mod), dtype=dtype))
        else:
            raise ValueError(f"Module {i} ({name}) has no neuralab counterpart; supported: Linear, "
                             "Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvg/MaxPool2d(1), Flatten, "
                             "BatchNorm1d/2d, Dropout, Dropout2d, Embedding, activations")
        return 1

    @staticmethod
    def _fold_activation(layer, nxt) -> int:
        """Give ``layer`` the activation module ``nxt`` if it is one: 2 modules used, else 1."""
        act = _activation_of(nxt) if nxt is not None else None
        if act is None:
            return 1
        layer.activation = act
        return 2

    def _linear(self, mod, nxt) -> int:
        layer = Dense(mod.out_features, use_bias=mod.bias is not None, dtype=self.dtype)
        self.model.add(layer)
        kernel = mod.weight.detach().cpu().numpy().T
        if self.permute_features is not None:
            kernel = kernel[self.permute_features]
            self.permute_features = None
        weights = [kernel] + ([mod.bias.detach().cpu().numpy()] if mod.bias is not None else [])
        used = self._fold_activation(layer, nxt)
        layer.set_weights(weights)
        return used

    def _conv(self, i: int, name: str, mod, nxt) -> int:
        if mod.groups != 1 or mod.padding_mode != "zeros":
            raise ValueError(f"Module {i} ({name}): only groups=1 and zero padding are supported")
        padding = "valid"
        if mod.padding not in ((0, 0), "valid"):
            raise ValueError(f"Module {i} ({name}): use padding=0 (a preceding ZeroPad2d "
                             "expresses 'same' padding)")
        layer = Conv2D(mod.out_channels, mod.kernel_size, strides=mod.stride,
                       dilation_rate=mod.dilation, use_bias=mod.bias is not None, dtype=self.dtype,
                       padding=padding)
        if self.pending_pad is not None:
            layer = _conv_with_padding(self.model, layer, self.pending_pad, mod, self.dtype)
            self.pending_pad = None
        self.model.add(layer)
        used = self._fold_activation(layer, nxt)
        weights = [mod.weight.detach().cpu().numpy().transpose(2, 3, 1, 0)]
        if mod.bias is not None:
            weights.append(mod.bias.detach().cpu().numpy())
        layer.set_weights(weights)
        return used

    def _pool(self, i: int, name: str, mod) -> None:
        nn = _torch().nn
        kernel, stride = _pair(mod.kernel_size), _pair(mod.stride or mod.kernel_size)
        if _pair(mod.padding) != (0, 0):
            raise ValueError(f"Module {i} ({name}): only padding=0 pools are supported")
        padding = "valid"
        if self.pending_pad is not None:
            padding = _pool_padding(self.model, self.pending_pad, kernel, stride, i, name)
            self.pending_pad = None
        cls = MaxPooling2D if isinstance(mod, nn.MaxPool2d) else AveragePooling2D
        self.model.add(cls(kernel, strides=stride, padding=padding, dtype=self.dtype))

    def _global_pool(self, i: int, name: str, mod, nxt) -> int:
        nn = _torch().nn
        if _pair(mod.output_size) != (1, 1):
            raise ValueError(f"Module {i} ({name}): only output_size=1 (a global pool) is supported")
        cls = GlobalAveragePooling2D if isinstance(mod, nn.AdaptiveAvgPool2d) else GlobalMaxPooling2D
        keepdims = not (isinstance(nxt, nn.Flatten))
        self.model.add(cls(keepdims=keepdims, dtype=self.dtype))
        return 1 if keepdims else 2  # the Flatten is part of the global pool

    def _flatten(self) -> None:
        shape = self.model.output_shape
        if len(shape) == 4 and not self.explicit_permutes:
            # torch flattened (C, H, W); neuralab flattens (H, W, C)
            h, w, c = shape[1:]
            self.permute_features = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
        self.model.add(Flatten(dtype=self.dtype))

    def _batchnorm(self, mod) -> None:
        layer = BatchNormalization(epsilon=mod.eps, momentum=1 - (mod.momentum or 0.1),
                                   dtype=self.dtype)
        self.model.add(layer)
        c = mod.num_features
        gamma = mod.weight.detach().cpu().numpy() if mod.affine else np.ones(c)
        beta = mod.bias.detach().cpu().numpy() if mod.affine else np.zeros(c)
        layer.set_weights([gamma, beta, mod.running_mean.cpu().numpy(),
                           mod.running_var.cpu().numpy()])


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _same_geometry(model, kernel, stride, dilation):
    h, w = model.output_shape[1:3]
    return fn.conv_geometry(h, w, kernel, stride, dilation, "same")


def _conv_with_padding(model, layer, pads, mod, dtype):
    """A ZeroPad2d before a Conv2d is Keras' padding='same' when the pads match its rule."""
    g = _same_geometry(model, layer.kernel_size, layer.strides, layer.dilation_rate)
    if tuple(pads) != (g.pad_left, g.pad_right, g.pad_top, g.pad_bottom):
        raise ValueError(f"Padding {pads} before a Conv2d is not Keras' 'same' padding "
                         f"{(g.pad_left, g.pad_right, g.pad_top, g.pad_bottom)}")
    return Conv2D(layer.filters, layer.kernel_size, strides=layer.strides,
                  dilation_rate=layer.dilation_rate, use_bias=layer.use_bias, padding="same",
                  dtype=dtype)


def _pool_padding(model, pads, kernel, stride, i, name):
    g = _same_geometry(model, kernel, stride, (1, 1))
    if tuple(pads) != (g.pad_left, g.pad_right, g.pad_top, g.pad_bottom):
        raise ValueError(f"Module {i} ({name}): padding {pads} is not Keras' 'same' padding")
    return "same"
