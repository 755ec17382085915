"""Channel scaling: every channel of every image multiplied by its own number.

For ``x`` ``(N, H, W, C)`` and ``g`` ``(N, C)`` (squeeze-and-excitation's gate)::

    y[n, h, w, c] = x[n, h, w, c] g[n, c]

Backward (the product rule; ``g`` is shared by the ``H W`` pixels of an image, so its
gradient sums over them)::

    dx[n, h, w, c] = dy[n, h, w, c] g[n, c]
    dg[n, c]       = sum_{h, w} dy[n, h, w, c] x[n, h, w, c]

The naive reference is the formula in NumPy,
:func:`npvision.kernels.elementwise.channel_scale_backward_naive`; the kernel table's op
``channel_scale_backward`` computes both gradients in one pass over ``dy`` and ``x``
(NumPy's formula takes two products, two temporaries and a reduction).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_cache, check_dout

__all__ = ["channel_scale_forward", "channel_scale_backward"]


def channel_scale_forward(x, g):
    """``y = x * g[:, None, None, :]``: ``x`` ``(N, H, W, C)``, ``g`` ``(N, C)`` -> ``(y, cache)``."""
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
    g = as_float_array(g, "g", ndim=2, layout="(N, C)")
    if g.shape != (x.shape[0], x.shape[3]):
        raise ValueError(f"g: expected shape {(x.shape[0], x.shape[3])} (one number per image and "
                         f"channel of x {x.shape}), received {g.shape}")
    g = g.astype(x.dtype, copy=False)
    return x * g[:, None, None, :], (x, g)                          # (N, H, W, C)


def channel_scale_backward(dout, cache):
    """``(dx (N, H, W, C), dg (N, C))`` of :func:`channel_scale_forward`."""
    x, g = check_cache(cache, "channel_scale", 2, arrays=2)
    dout = check_dout(dout, x.shape, "channel_scale_backward")
    dy = np.ascontiguousarray(dout, dtype=x.dtype)
    return kernels.get("channel_scale_backward")(dy, np.ascontiguousarray(x), np.ascontiguousarray(g))
