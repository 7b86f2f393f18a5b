"""The Keras ``model.summary()`` table."""

from __future__ import annotations

import textwrap


def readable_size(num_bytes: float) -> str:
    """``134184`` -> ``"131.04 KB"`` (powers of 1024, as Keras prints)."""
    for unit in ("Byte", "KB", "MB", "GB", "TB"):
        if num_bytes < 1024 or unit == "TB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    raise AssertionError("unreachable")


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _row(fields, stops) -> str:
    """One table row; a field too wide for its column continues on the next line, as in
    tf.keras 2.11+."""
    starts = [0] + list(stops[:-1])
    widths = [stop - start - 1 for start, stop in zip(starts, stops)]
    chunks = [textwrap.wrap(text, width) or [""] for text, width in zip(fields, widths)]
    lines = []
    for k in range(max(len(c) for c in chunks)):
        line = ""
        for start, parts in zip(starts, chunks):
            line = line.ljust(start) + (parts[k] if k < len(parts) else "")
        lines.append(line.rstrip())
    return "\n".join(lines)


def summary_text(model, line_length: int | None = None, positions=None) -> str:
    """Layer (type) / Output Shape / Param # per layer, then total, trainable and
    non-trainable parameter counts with their size in memory."""
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    header = ["Layer (type)", "Output Shape", "Param #"]
    lines = [f'Model: "{model.name}"', "_" * line_length, _row(header, positions),
             "=" * line_length]
    built = model.built
    for i, layer in enumerate(model.layers):
        shape = _shape_text(layer.output_shape) if layer.built else "(unbuilt)"
        params = str(layer.count_params()) if layer.built else "0 (unbuilt)"
        lines.append(_row([f"{layer.name} ({type(layer).__name__})", shape, params], positions))
        if i < len(model.layers) - 1:
            lines.append("")
    lines.append("=" * line_length)
    params = model.parameters() if built else []
    trainable = [p for p in params if p.trainable]
    frozen = [p for p in params if not p.trainable]

    def total(ps):
        count = sum(p.size for p in ps)
        size = sum(p.size * p.dtype.itemsize for p in ps)
        return f"{count:,} ({readable_size(size)})"

    lines += [f"Total params: {total(params)}", f"Trainable params: {total(trainable)}",
              f"Non-trainable params: {total(frozen)}", "_" * line_length]
    if not built:
        lines.insert(-1, "The model is not built yet: parameter counts appear once it has an "
                         "input shape.")
    return "\n".join(lines)
