"""Channels-last models, channels-first operators: where an export inserts a transpose.

neuralab's tensors are (N, H, W, C); ONNX's Conv/pooling operators and PyTorch's modules
take (N, C, H, W). An exporter asks for the layout each operator needs; a transpose is
emitted only when the tensors so far are in the other one.
"""

from __future__ import annotations

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)


class LayoutTracker:
    """The layout (``"NHWC"`` or ``"NCHW"``) of the exported tensors so far.

    ``transpose(x, perm)`` emits the exporter's transpose and returns the new tensor (or
    ``None`` for exporters that only collect modules).
    """

    def __init__(self, transpose):
        self.layout = "NHWC"
        self._transpose = transpose

    def need(self, layout: str, x=None):
        """``x`` in ``layout``: unchanged if it already is, else transposed."""
        if self.layout == layout:
            return x
        self.layout = layout
        return self._transpose(x, TO_NCHW if layout == "NCHW" else TO_NHWC)
