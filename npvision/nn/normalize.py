"""L2Normalize: the layer that puts every embedding on the unit sphere.

``(N, D) -> (N, D)`` (any ``(..., D)``): ``y = x / max(||x||_2, eps)`` along the
last axis, so that the squared distance between two outputs is
``||y_1 - y_2||^2 = 2 - 2 cos(x_1, x_2)``, between 0 and 4. FaceNet ends its
network this way, and so does :class:`npvision.face.FaceEncoder`: the margin of
the triplet loss and the 0.7 verification threshold mean something only on a
sphere of fixed radius.

Backward: ``dx = (dy - y (y . dy)) / ||x||`` (see
:func:`npvision.functional.l2_normalize_forward`). No parameters.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import as_float_array
from ._layer import cache_of
from .module import Module

__all__ = ["L2Normalize"]


class L2Normalize(Module):
    """``y = x / max(||x||, eps)`` along the last axis; ``eps`` defaults to 1e-12."""

    def __init__(self, eps: float = 1e-12):
        super().__init__()
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"eps: expected a number > 0, received {eps!r}")
        self.eps = float(eps)
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "x")
        y, self.cache = F.l2_normalize_forward(x, self.eps)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return F.l2_normalize_backward(dy, cache_of(self))

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"
