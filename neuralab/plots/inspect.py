"""Looking inside a trained model: decision regions, hidden units, weights, errors, fits."""

from __future__ import annotations

import math

import numpy as np

from ._base import pyplot


def predicted_classes(out: np.ndarray) -> np.ndarray:
    """Class ids from outputs: argmax over several outputs; for one output, the sign for
    tanh-style outputs (any negative value) else a 0.5 threshold."""
    if out.ndim > 1 and out.shape[-1] > 1:
        return out.argmax(axis=-1)
    out = out.reshape(len(out))
    return (out > (0.0 if out.min() < 0 else 0.5)).astype(np.int64)


def _grid(x: np.ndarray, resolution: int, margin: float = 0.05):
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = (hi - lo) * margin
    u = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    v = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    uu, vv = np.meshgrid(u, v)
    return uu, vv, np.column_stack([uu.ravel(), vv.ravel()]).astype(np.float32)


def _check_2d(x, what):
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{what} needs 2-D inputs of shape (N, 2), got {x.shape}")


def _tile_grid(n: int, max_cols: int = 8):
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def decision_regions(model, x: np.ndarray, y: np.ndarray, classes=None, resolution: int = 200,
                     title: str | None = None):
    """The classes the model predicts over the input plane, with the points ``(x, y)``."""
    plt = pyplot()
    x = np.asarray(x)
    _check_2d(x, "decision_regions")
    uu, vv, grid = _grid(x, resolution)
    regions = predicted_classes(model.predict(grid)).reshape(uu.shape)
    labels = predicted_classes(np.asarray(y).reshape(len(y), -1)) if np.asarray(y).ndim > 1 \
        else np.asarray(y).astype(np.int64)
    labels = np.where(labels < 0, 0, labels)
    k = int(max(regions.max(), labels.max())) + 1
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap("coolwarm" if k == 2 else "tab10")
    ax.contourf(uu, vv, regions, levels=np.arange(-0.5, k), cmap=cmap, alpha=0.3)
    for c in range(k):
        pts = x[labels == c]
        name = classes[c] if classes is not None and c < len(classes) else str(c)
        ax.scatter(pts[:, 0], pts[:, 1], s=12, color=cmap(c / max(k - 1, 1)), edgecolor="k",
                   linewidth=0.3, label=f"class {name}")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(fontsize="small", loc="upper right")
    ax.set_title(title or "Decision regions")
    return fig


def hidden_unit_maps(model, x: np.ndarray, layer: int = 0, resolution: int = 100,
                     max_units: int = 16, title: str | None = None):
    """Each unit of ``model.layers[layer]`` (after its activation) over the input plane."""
    plt = pyplot()
    x = np.asarray(x)
    _check_2d(x, "hidden_unit_maps")
    uu, vv, grid = _grid(x, resolution)
    out = grid.astype(model.dtype)
    for lay in model.layers[:layer + 1]:
        out = lay.forward(out, training=False)
    units = min(out.shape[1], max_units)
    rows, cols = _tile_grid(units, 4)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.8 * rows), squeeze=False)
    for j, ax in enumerate(axes.flat):
        if j >= units:
            ax.set_visible(False)
            continue
        image = ax.imshow(out[:, j].reshape(uu.shape), origin="lower", cmap="viridis",
                          extent=(uu.min(), uu.max(), vv.min(), vv.max()), aspect="auto")
        ax.scatter(x[:, 0], x[:, 1], s=2, color="w", alpha=0.4)
        ax.set_title(f"unit {j}", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(title or f"Hidden units of layer {model.layers[layer].name}")
    fig.tight_layout()
    return fig


def _tiles(images: list[np.ndarray], suptitle: str, max_cols: int = 8):
    """One mosaic of same-shape images, each scaled by its own largest magnitude (blue
    negative, red positive), numbered row by row from 0; one axes keeps it fast."""
    plt = pyplot()
    rows, cols = _tile_grid(len(images), max_cols)
    h, w = images[0].shape
    mosaic = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        bound = float(np.abs(image).max()) or 1.0
        mosaic[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = image / bound
    fig, ax = plt.subplots(figsize=(min(1.3 * cols, 12), min(1.3 * rows, 12) + 0.4))
    cmap = plt.get_cmap("coolwarm").with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(suptitle, fontsize="medium")
    fig.tight_layout()
    return fig


def weight_tiles(kernel: np.ndarray, image_shape, max_tiles: int = 32, title: str | None = None):
    """First-layer Dense weights ``(D, units)`` as one image per unit (``image_shape`` of
    D values, e.g. (28, 28)); colour channels are averaged."""
    kernel = np.asarray(kernel)
    shape = tuple(image_shape)
    if int(np.prod(shape)) != kernel.shape[0]:
        raise ValueError(f"weight_tiles: {kernel.shape[0]} inputs do not form images of "
                         f"shape {shape}")
    units = min(kernel.shape[1], max_tiles)
    images = []
    for j in range(units):
        w = kernel[:, j].reshape(shape)
        images.append(w.mean(axis=-1) if w.ndim == 3 else w)
    return _tiles(images, title or f"First-layer weights ({units} of {kernel.shape[1]} units)")


def conv_filters(kernel: np.ndarray, max_filters: int = 32, title: str | None = None):
    """A Conv2D kernel ``(kh, kw, C, F)``: one tile per filter (input channels averaged)."""
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise ValueError(f"conv_filters expects a (kh, kw, C, F) kernel, got {kernel.shape}")
    n = min(kernel.shape[3], max_filters)
    images = [kernel[:, :, :, f].mean(axis=2) for f in range(n)]
    return _tiles(images, title or f"First conv layer: {n} filters {kernel.shape[0]}x{kernel.shape[1]}")


def confusion_matrix_plot(cm: np.ndarray, classes=None, title: str | None = None):
    """Counts of true (rows) vs predicted (columns) classes, with the accuracy in the title."""
    plt = pyplot()
    cm = np.asarray(cm)
    k = len(cm)
    names = list(classes) if classes is not None else [str(i) for i in range(k)]
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    if k <= 30:
        ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize="small")
        ax.set_yticks(range(k), names, fontsize="small")
        limit = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize="x-small",
                        color="white" if cm[i, j] > limit else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(title or f"Confusion matrix (accuracy {accuracy:.3f})")
    fig.tight_layout()
    return fig


def regression_fit(model, x: np.ndarray, y: np.ndarray, true_function=None,
                   x_test=None, y_test=None, title: str | None = None):
    """A 1-D regression: training points, the model's prediction, the true function."""
    plt = pyplot()
    x = np.asarray(x).reshape(len(x), -1)
    if x.shape[1] != 1:
        raise ValueError(f"regression_fit needs 1-D inputs of shape (N, 1), got {x.shape}")
    lo, hi = float(x.min()), float(x.max())
    if x_test is not None:
        lo, hi = min(lo, float(np.min(x_test))), max(hi, float(np.max(x_test)))
    grid = np.linspace(lo, hi, 400, dtype=np.float32)[:, None]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if x_test is not None:
        ax.scatter(np.ravel(x_test), np.ravel(y_test), s=8, color="0.7", label="test data")
    ax.scatter(x.ravel(), np.ravel(y), s=12, label="training data")
    ax.plot(grid.ravel(), model.predict(grid).ravel(), color="tab:red", label="network")
    if true_function is not None:
        ax.plot(grid.ravel(), true_function(grid.ravel()), "k--", linewidth=1, label="true function")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title or "Prediction vs truth")
    return fig
