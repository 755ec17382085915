"""Pooling layers: MaxPool2D, AvgPool2D and GlobalAvgPool2D (no parameters).

Sliding-window pools on ``(N, H, W, C)``, each channel on its own:

    H' = floor((H + 2p - k) / s) + 1            (stride ``s`` defaults to ``k``)

* max:  ``y[n, i, j, c] = max_{a, b} x_pad[n, s i + a, s j + b, c]``; the gradient
  goes to the first maximal element of each window (row-major order), and
  overlapping windows add up.
* average: ``y = mean`` of the window, padded zeros included; each input in
  the window receives ``dy / (k_h k_w)``.
* global average: ``y[n, c] = mean_{h, w} x[n, h, w, c]``, output ``(N, C)``;
  ``dx[n, h, w, c] = dy[n, c] / (H W)``.
* adaptive average: a fixed ``(Ho, Wo)`` output whatever the input's size, bin
  ``i`` covering rows ``floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1`` (PyTorch's
  ``AdaptiveAvgPool2d``; torchvision's VGG pools to 7x7 before its classifier).

:class:`MaxPool2D` keeps its last cache in ``self.cache``: a
:class:`~npvision.nn.MaxUnpool2D` paired with it reads the positions of the
maxima from there (SegNet-style decoders).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import int_pair
from ._layer import cache_of, check_input
from .module import Module

__all__ = ["MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "AdaptiveAvgPool2D"]


class _Pool2D(Module):
    """Shared constructor and repr of the two windowed pools."""

    def __init__(self, pool_size, stride=None, padding=0):
        super().__init__()
        self.pool_size = int_pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else int_pair(stride, "stride")
        self.padding = padding
        self.cache = None

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, stride={self.stride}, padding={self.padding!r}"


class MaxPool2D(_Pool2D):
    """Max pooling over ``pool_size`` windows: ``(N, H, W, C) -> (N, H', W', C)``.

    ``stride=None`` means ``stride = pool_size`` (non-overlapping windows).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = F.max_pool2d_forward(x, self.pool_size, stride=self.stride, padding=self.padding)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Route each ``dy[n, i, j, c]`` to the argmax of its window."""
        return F.max_pool2d_backward(dy, cache_of(self))


class AvgPool2D(_Pool2D):
    """Average pooling over ``pool_size`` windows: ``(N, H, W, C) -> (N, H', W', C)``.

    Padded zeros count in the average (PyTorch's default).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = F.avg_pool2d_forward(x, self.pool_size, stride=self.stride, padding=self.padding)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Spread each ``dy[n, i, j, c]`` evenly over its window."""
        return F.avg_pool2d_backward(dy, cache_of(self))


class GlobalAvgPool2D(Module):
    """Mean over all spatial positions: ``(N, H, W, C) -> (N, C)``."""

    def __init__(self):
        super().__init__()
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = F.global_avg_pool2d_forward(x)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy (N, C) -> dx (N, H, W, C)``, each position receiving ``dy / (H W)``."""
        return F.global_avg_pool2d_backward(dy, cache_of(self))


class AdaptiveAvgPool2D(Module):
    """Average into a fixed grid: ``(N, H, W, C) -> (N, Ho, Wo, C)`` for any ``H, W``.

    ``output_size``: an int or ``(Ho, Wo)``. See
    :func:`npvision.functional.adaptive_avg_pool2d_forward` for the bins.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = int_pair(output_size, "output_size")
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = F.adaptive_avg_pool2d_forward(x, self.output_size)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Each bin's ``dy`` shared evenly among its inputs (overlapping bins add)."""
        return F.adaptive_avg_pool2d_backward(dy, cache_of(self))

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
