"""Fully connected layers: Linear, Flatten and Identity.

* ``Linear``: ``y = x W + b`` with ``x (N, D_in)``, ``W (D_in, D_out)``, ``b (D_out,)``;
  ``dx = dy W^T``, ``dW = x^T dy``, ``db = sum_n dy[n]``.
* ``Flatten``: ``(N, d1, d2, ...) -> (N, d1 d2 ...)`` (row-major, so for
  channels-last images the order is ``(h, w, c)``); its gradient reshapes back.
* ``Identity``: ``y = x``, ``dx = dy`` (a placeholder, e.g. a removed classifier).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import positive_int
from . import init
from ._layer import accumulate, cache_of, check_input, param_as
from .module import Module, Parameter

__all__ = ["Linear", "Flatten", "Identity"]


class Linear(Module):
    """Affine map ``(N, D_in) -> (N, D_out)``: ``y = x W + b``.

    ``weight`` ``(D_in, D_out)`` starts from He initialization ``N(0, 2 / D_in)``,
    ``bias`` ``(D_out,)`` (or ``None`` with ``bias=False``) from zeros.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        shape = (self.in_features, self.out_features)  # (D_in, D_out)
        self.weight = Parameter(init.he_normal(shape, rng=rng, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 2, "(N, D_in)", self.in_features)
        y, self.cache = F.linear_forward(x, param_as(self.weight, x.dtype), param_as(self.bias, x.dtype))
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy (N, D_out) -> dx (N, D_in)``; ``dW = x^T dy`` and ``db = sum_n dy`` are accumulated."""
        cache = cache_of(self)
        grad, fresh = self.weight.gradient_target()   # fresh: the gradient is zero_grad's zeros
        if (isinstance(dy, np.ndarray) and grad.dtype == dy.dtype and grad.flags.c_contiguous
                and grad.flags.writeable):
            # dW = x^T dy added straight into the gradient (one pass over it, no new array), or
            # written there over a zeroed gradient (zero_grad's zeros are then never written)
            dx, _, db = F.linear_backward(dy, cache, dw_into=grad, dw_overwrite=fresh)
        else:
            if fresh:
                grad[...] = 0                         # the zeros, then the sum as usual
            dx, dw, db = F.linear_backward(dy, cache)
            accumulate(self.weight, dw)
        accumulate(self.bias, db)
        return dx

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}" + ("" if self.bias is not None else ", bias=False")


class Flatten(Module):
    """``(N, ...) -> (N, D)``: keep the batch axis, flatten the rest in row-major order."""

    def __init__(self):
        super().__init__()
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, tuple(range(2, 9)), "(N, ...)")
        y, self.cache = F.flatten_forward(x)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return F.flatten_backward(dy, cache_of(self))


class Identity(Module):
    """``y = x`` and ``dx = dy``."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy
