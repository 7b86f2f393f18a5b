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


def _is_connected(model) -> bool:
    """A graph that is not a plain chain gets Keras' "Connected to" column."""
    return getattr(model, "_graph", None) is not None and type(model).__name__ != "Sequential"


def summary_rows(model) -> tuple[list[str], list[list[str]]]:
    """The table's header and one row of strings per layer (per input and node of a graph):
    ``Layer (type)``, ``Output Shape``, ``Param #`` (and ``Connected to``)."""
    connected = _is_connected(model)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    if connected:
        return header, _graph_rows(model)
    return header, [[f"{layer.name} ({type(layer).__name__})",
                     _shape_text(layer.output_shape) if layer.built else "(unbuilt)",
                     str(layer.count_params()) if layer.built else "0 (unbuilt)"]
                    for layer in model.layers]


def summary_totals(model) -> dict[str, tuple[int, int]]:
    """``{"Total params": (count, bytes), "Trainable params": ..., "Non-trainable params": ...}``."""
    params = model.parameters() if model.built else []
    groups = {"Total params": params,
              "Trainable params": [p for p in params if p.trainable],
              "Non-trainable params": [p for p in params if not p.trainable]}
    return {name: (sum(p.size for p in ps), sum(p.size * p.dtype.itemsize for p in ps))
            for name, ps in groups.items()}


_UNBUILT = "The model is not built yet: parameter counts appear once it has an input shape."


def summary_text(model, line_length: int | None = None, positions=None) -> str:
    """Layer (type) / Output Shape / Param # per layer (and Connected to for a graph that
    is not a plain chain), then total, trainable and non-trainable parameter counts with
    their size in memory."""
    connected = _is_connected(model)
    line_length = line_length or (100 if connected else 65)
    positions = positions or ([0.3, 0.55, 0.67, 1.0] if connected else [0.45, 0.85, 1.0])
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    header, rows = summary_rows(model)
    lines = [f'Model: "{model.name}"', "_" * line_length, _row(header, positions),
             "=" * line_length]
    for i, row in enumerate(rows):
        lines.append(_row(row, positions))
        if i < len(rows) - 1:
            lines.append("")
    lines.append("=" * line_length)
    lines += [f"{name}: {count:,} ({readable_size(size)})"
              for name, (count, size) in summary_totals(model).items()]
    lines.append("_" * line_length)
    if not model.built:
        lines.insert(-1, _UNBUILT)
    return "\n".join(lines)


def summary_html(model) -> str:
    """The summary as an HTML table (what a notebook shows for a model): the same rows and
    totals as :func:`summary_text`, every string escaped."""
    from html import escape
    header, rows = summary_rows(model)
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f'<td style="text-align:{"right" if k == 2 else "left"}">{escape(cell)}</td>'
        for k, cell in enumerate(row)) + "</tr>" for row in rows)
    totals = "".join(f"<tr><th style=\"text-align:left\">{escape(name)}</th>"
                     f"<td style=\"text-align:right\">{count:,}</td>"
                     f"<td>{escape(readable_size(size))}</td></tr>"
                     for name, (count, size) in summary_totals(model).items())
    note = "" if model.built else f"<p><i>{escape(_UNBUILT)}</i></p>"
    return (f'<p><b>Model: "{escape(model.name)}"</b></p>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<table><tbody>{totals}</tbody></table>{note}")
