"""The 000 backpropagation exercise, live: one sample's forward values and backward partials.

For a chain of Dense layers ``z_l = h_{l-1} W_l + b_l``, ``h_l = f_l(z_l)`` (``h_0 = x``,
``y_hat = h_L``) and the data error ``E`` of one sample (the compiled loss, no L1/L2 term),
the engine's own backward gives, layer by layer from the output down::

    dE/dy_hat      the loss's gradient
    dE/dz_l        the activation's backward of dE/dh_l
    dE/dW_l        h_{l-1}^T dE/dz_l      (Dense.backward_logits, into the kernel's grad)
    dE/db_l        dE/dz_l                (into the bias's grad)
    dE/dh_{l-1}    dE/dz_l W_l^T          (what backward_logits returns)

``Dense.backward`` is exactly the activation's backward followed by ``backward_logits``; it is
called in those two halves here so that ``dE/dz`` can be shown.
"""

from __future__ import annotations

import numpy as np


def _plain(array) -> list:
    return np.asarray(array, dtype=np.float64).tolist()


def partials(model, x: np.ndarray, y: np.ndarray) -> dict:
    """Forward values and every partial derivative of the error of one sample.

    Shape:
        x: (1, inputs), y: (1,) labels or (1, 1) targets. Returns ``{"layers": [{name, z, h,
        dE_dz, dE_dh, dE_dW, dE_db}], "output", "target", "error", "dE_dy", "dE_dx"}`` with
        nested lists (``dE_dW`` as (inputs, units), the kernel's layout).
    """
    layers = model.layers
    saved = [(layer.keep_logits, layer.skip_input_grad) for layer in layers]
    forward = []
    try:
        h = np.asarray(x, dtype=model.dtype)
        for layer in layers:
            layer.keep_logits = True  # keep z beside h
            layer.skip_input_grad = False
            h_in = h
            h = np.array(layer.forward(h_in, training=False))
            forward.append({"name": layer.name, "input": h_in, "z": np.array(layer.logits), "h": h})
        loss = model.loss
        error, dE_dout = loss.value_and_gradient(y, h)
        for layer in layers:
            layer.zero_grad()
        dout = np.array(dE_dout)
        out = {"output": _plain(h[0]), "target": _plain(np.ravel(y)), "error": float(error),
               "loss": loss.name, "dE_dy": _plain(dout[0]), "layers": []}
        for layer, values in zip(reversed(layers), reversed(forward)):
            dz = np.array(layer.activation.backward(dout, values["h"]))
            dx = layer.backward_logits(dz)
            out["layers"].append({
                "name": layer.name, "activation": layer.activation.__class__.__name__.lower(),
                "z": _plain(values["z"][0]), "h": _plain(values["h"][0]),
                "dE_dh": _plain(dout[0]), "dE_dz": _plain(dz[0]),
                "dE_dW": _plain(layer.kernel.grad), "dE_db": _plain(layer.bias.grad)})
            dout = np.array(dx)
        out["dE_dx"] = _plain(dout[0])
        out["layers"].reverse()
        return out
    finally:
        for layer, (keep, skip) in zip(layers, saved):
            layer.keep_logits, layer.skip_input_grad = keep, skip
            layer.zero_grad()
