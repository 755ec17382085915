"""Upsampling layers: UpsampleNearest2D, BedOfNails2D and MaxUnpool2D (no parameters).

The three "unpooling" operations of the course, each ``(N, H, W, C) -> (N, s H, s W, C)``
for a scale ``s`` (MaxUnpool2D: the shape of the paired pool's input):

* nearest neighbour: every value is copied into an ``s x s`` block;
  ``dx[n, i, j, c] = sum`` of ``dy`` over that block.
* bed of nails: the value goes to the top-left corner of its block, zeros
  elsewhere; ``dx[n, i, j, c] = dy[n, s i, s j, c]``.
* max unpooling: the value goes back to the position the paired max pool
  took its maximum from; ``dx`` reads ``dy`` at those positions.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import positive_int
from ._layer import cache_of, check_input
from .module import Module
from .pool import MaxPool2D

__all__ = ["UpsampleNearest2D", "BedOfNails2D", "MaxUnpool2D"]


class _ScaleUpsample2D(Module):
    """The body shared by the fixed-scale upsampling layers: ``(N, H, W, C) -> (N, sH, sW, C)``.

    A subclass names its pair of functional ops in ``_forward_op`` and
    ``_backward_op``; ``scale`` is an int ``s`` (the same along H and W).
    """

    _forward_op = None
    _backward_op = None

    def __init__(self, scale: int = 2):
        super().__init__()
        self.scale = positive_int(scale, "scale")
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = self._forward_op(x, scale=self.scale)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self._backward_op(dy, cache_of(self))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class UpsampleNearest2D(_ScaleUpsample2D):
    """Nearest-neighbour upsampling by an integer ``scale``: ``(N, H, W, C) -> (N, scale H, scale W, C)``.

    Backward sums ``dy`` over each ``scale x scale`` block.
    """

    _forward_op = staticmethod(F.upsample_nearest2d_forward)
    _backward_op = staticmethod(F.upsample_nearest2d_backward)


class BedOfNails2D(_ScaleUpsample2D):
    """"Bed of nails" unpooling: each value at the top-left of its ``scale x scale`` block, 0 elsewhere.

    Backward reads ``dy`` at the nails: ``dx = dy[:, ::scale, ::scale, :]``.
    """

    _forward_op = staticmethod(F.bed_of_nails2d_forward)
    _backward_op = staticmethod(F.bed_of_nails2d_backward)


class MaxUnpool2D(Module):
    """Max unpooling: the inverse placement of a paired :class:`MaxPool2D`.

    ``MaxUnpool2D(pool)`` reads ``pool.cache`` -- the positions of the maxima
    from the pool's most recent ``forward`` -- so the pool must run forward
    first (in an encoder-decoder it always does). Input: an array shaped like
    that pool's output; output: shaped like the pool's input, zero except at
    the remembered positions. The pool is referenced, not owned: it is not a
    child module, so its (absent) parameters are not counted twice.
    """

    def __init__(self, pool: MaxPool2D):
        super().__init__()
        if not isinstance(pool, MaxPool2D):
            raise TypeError(f"pool: expected the paired MaxPool2D module, received {type(pool).__name__}")
        # object.__setattr__: keep the pool out of this module's children
        object.__setattr__(self, "pool", pool)
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        if self.pool.cache is None:
            raise RuntimeError("MaxUnpool2D.forward: the paired MaxPool2D has not run forward yet, "
                               "so there are no max positions to unpool to")
        y, self.cache = F.max_unpool2d_forward(x, self.pool.cache)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy`` (the pool's input shape) read at the max positions -> ``dx`` (the pool's output shape)."""
        return F.max_unpool2d_backward(dy, cache_of(self))

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"
