"""matplotlib access, and atomic PNG writes."""

from __future__ import annotations

import io


def pyplot(agg: bool = False):
    """``matplotlib.pyplot``; ``agg=True`` switches to the non-interactive Agg backend first
    (batch work: experiment runners, reports, worker processes)."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("Plots need matplotlib: pip install 'neuralab[plots]'") from None
    if agg and matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi: int = 100) -> None:
    """Write ``fig`` as PNG to ``path`` atomically, then close it."""
    from ..io_utils import atomic_write_bytes
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
