"""Griffe extension: Sphinx cross-reference roles in docstrings render as code.

neuralab's docstrings name objects the Sphinx way (``:class:`neuralab.tensor.Tensor```,
``:func:`~neuralab.backend.floatx```); Markdown would show the role literally. This turns
each into an inline code span of the target (its last component after ``~``, as Sphinx
shows it), at load time, without touching the source.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:attr|class|data|exc|func|meth|mod|obj):`(~?)([^`]+)`")


def plain(docstring: str) -> str:
    """``:class:`~a.B``` -> ```B```, ``:mod:`a.b``` -> ```a.b```."""
    return ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", docstring)


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
