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


def _graph_rows(model) -> list[list[str]]:
    """Keras' functional table: one row per input and per node, with "Connected to"."""
    rows = []
    names: dict[int, str] = {}
    for t in model.inputs:
        names[id(t)] = f"{t.name}[0][0]"
        rows.append([f"{t.name} (InputLayer)", _shape_text(t.shape), "0", "-"])
    calls: dict[int, int] = {}
    for node in model._graph.nodes:
        op = node.operation
        index = calls.get(id(op), 0)
        calls[id(op)] = index + 1
        label = op.name if hasattr(op, "get_config") else node.name
        kind = type(op).__name__ if hasattr(op, "get_config") else "Operation"
        for k, t in enumerate(node.outputs):
            names[id(t)] = f"{label}[{index}][{k}]"
        params = str(op.count_params()) if hasattr(op, "count_params") and index == 0 else "0"
        shape = ", ".join(_shape_text(t.shape) for t in node.outputs)
        rows.append([f"{label} ({kind})", shape, params,
                     ", ".join(names.get(id(t), "?") for t in node.inputs) or "-"])
    return rows


def summary_text(model, line_length: int | None = None, positions=None) -> str:
    """Layer (type) / Output Shape / Param # per layer (and Connected to for a graph that
    is not a plain chain), then total, trainable and non-trainable parameter counts with
    their size in memory."""
    graph = getattr(model, "_graph", None)
    connected = graph is not None and type(model).__name__ != "Sequential"
    line_length = line_length or (100 if connected else 65)
    positions = positions or ([0.3, 0.55, 0.67, 1.0] if connected else [0.45, 0.85, 1.0])
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    lines = [f'Model: "{model.name}"', "_" * line_length, _row(header, positions),
             "=" * line_length]
    built = model.built
    if connected:
        rows = _graph_rows(model)
    else:
        rows = [[f"{layer.name} ({type(layer).__name__})",
                 _shape_text(layer.output_shape) if layer.built else "(unbuilt)",
                 str(layer.count_params()) if layer.built else "0 (unbuilt)"]
                for layer in model.layers]
    for i, row in enumerate(rows):
        lines.append(_row(row, positions))
        if i < len(rows) - 1:
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
