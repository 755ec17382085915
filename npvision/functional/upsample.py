"""Upsampling without weights: nearest neighbour, bed of nails, max-unpooling.

These are the course's three fixed ways to make a feature map larger (the
learned way is the transpose convolution). ``x`` is ``(N, H, W, C)`` and
``scale`` an int or a pair ``(SH, SW)``; the first two give ``(N, H*SH, W*SW, C)``.

Nearest neighbour
    Every pixel becomes an ``SH x SW`` block of copies:
    ``out[n, i, j, c] = x[n, i // SH, j // SW, c]``.
    Gradient: each block's gradients summed,
    ``dx[n, i, j, c] = sum_{a < SH, b < SW} g[n, i*SH + a, j*SW + b, c]``.

Bed of nails
    Every pixel goes to the top-left corner of its block, zeros elsewhere:
    ``out[n, i*SH, j*SW, c] = x[n, i, j, c]``.
    Gradient: ``dx[n, i, j, c] = g[n, i*SH, j*SW, c]``.

Max-unpooling
    Undoes a max pooling as far as it can: each value goes back to the
    position its max-pool took the maximum from (the "switches" saved in that
    pool's cache), zeros elsewhere; the output has the pool's input shape.
    This is exactly the max-pool backward scatter, so where overlapping
    windows picked the same pixel their values add up. Gradient: the matching
    gather, ``dx[n, i, j, c] = g[position max-pool output (i, j) came from]``.

    >>> pooled, pool_cache = max_pool2d_forward(a, 2)         # encoder
    >>> up, cache = max_unpool2d_forward(features, pool_cache)   # decoder, a's shape
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import kernels
from .._checks import check_dout, int_pair
from .._padding import crop_hw, pad_hw
from .pool import MaxPoolCache, float_input

__all__ = [
    "upsample_nearest2d_forward",
    "upsample_nearest2d_backward",
    "bed_of_nails2d_forward",
    "bed_of_nails2d_backward",
    "max_unpool2d_forward",
    "max_unpool2d_backward",
]


class _UpsampleCache(NamedTuple):
    x_shape: tuple[int, int, int, int]
    scale: tuple[int, int]
    dtype: np.dtype


def _upsampled_shape(x_shape, scale):
    n, h, w, c = x_shape
    return n, h * scale[0], w * scale[1], c


def _check_cache(cache, cls, forward_name):
    if not isinstance(cache, cls):
        raise TypeError(f"cache: expected the cache returned by {forward_name}, "
                        f"received {type(cache).__name__}")


# ---------------------------------------------------------------------------
# nearest neighbour
# ---------------------------------------------------------------------------

def upsample_nearest2d_forward(x, scale=2):
    """Nearest-neighbour upsampling: ``(N, H, W, C)`` -> ``(out (N, H*SH, W*SW, C), cache)``."""
    x = float_input(x, "x")
    scale = int_pair(scale, "scale")
    n, h, w, c = x.shape
    blocks = np.broadcast_to(x[:, :, None, :, None, :], (n, h, scale[0], w, scale[1], c))  # (N, H, SH, W, SW, C)
    out = blocks.reshape(_upsampled_shape(x.shape, scale))                # (N, H*SH, W*SW, C), a copy
    return out, _UpsampleCache(x.shape, scale, x.dtype)


def upsample_nearest2d_backward(dout, cache):
    """Sum of the gradients of each ``SH x SW`` block: ``(N, H*SH, W*SW, C)`` -> ``(N, H, W, C)``."""
    _check_cache(cache, _UpsampleCache, "upsample_nearest2d_forward")
    n, h, w, c = cache.x_shape
    sh, sw = cache.scale
    dout = check_dout(dout, _upsampled_shape(cache.x_shape, cache.scale), dtype=cache.dtype)
    return dout.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))             # (N, H, SH, W, SW, C) -> (N, H, W, C)


# ---------------------------------------------------------------------------
# bed of nails
# ---------------------------------------------------------------------------

def bed_of_nails2d_forward(x, scale=2):
    """Each pixel at the top-left of its ``SH x SW`` block, zeros elsewhere: ``-> (out, cache)``."""
    x = float_input(x, "x")
    scale = int_pair(scale, "scale")
    out = np.zeros(_upsampled_shape(x.shape, scale), dtype=x.dtype)      # (N, H*SH, W*SW, C)
    out[:, ::scale[0], ::scale[1], :] = x
    return out, _UpsampleCache(x.shape, scale, x.dtype)


def bed_of_nails2d_backward(dout, cache):
    """The gradient at each block's top-left corner: ``(N, H*SH, W*SW, C)`` -> ``(N, H, W, C)``."""
    _check_cache(cache, _UpsampleCache, "bed_of_nails2d_forward")
    sh, sw = cache.scale
    dout = check_dout(dout, _upsampled_shape(cache.x_shape, cache.scale), dtype=cache.dtype)
    return np.ascontiguousarray(dout[:, ::sh, ::sw, :])                  # (N, H, W, C)


# ---------------------------------------------------------------------------
# max-unpooling
# ---------------------------------------------------------------------------

def max_unpool2d_forward(x, pool_cache):
    """Put each value of ``x`` back where the max-pool that made ``pool_cache`` found its maximum.

    ``x`` must have that pool's output shape ``(N, Ho, Wo, C)``; ``out`` has
    its input shape ``(N, H, W, C)``. ``pool_cache`` is the second value
    returned by :func:`max_pool2d_forward`; it is also this op's cache.
    """
    if not isinstance(pool_cache, MaxPoolCache):
        raise TypeError(f"pool_cache: expected the cache returned by max_pool2d_forward, "
                        f"received {type(pool_cache).__name__}")
    x = float_input(x, "x")
    pooled_shape = pool_cache.argmax.shape
    if x.shape != pooled_shape:
        raise ValueError(f"x: expected shape {pooled_shape} (the output shape of the max-pool whose "
                         f"cache was given), received {x.shape}")
    outp = kernels.get("max_pool2d_backward")(x, pool_cache.argmax, pool_cache.xp_shape,
                                              pool_cache.pool, pool_cache.stride)   # (N, Hp, Wp, C)
    return crop_hw(outp, pool_cache.pads, pool_cache.x_shape), (pool_cache, x.dtype)  # (N, H, W, C)


def max_unpool2d_backward(dout, cache):
    """Gradient of max-unpooling: read ``dout`` at each saved position, ``(N, H, W, C)`` -> ``(N, Ho, Wo, C)``."""
    if not (isinstance(cache, tuple) and len(cache) == 2 and isinstance(cache[0], MaxPoolCache)):
        raise TypeError(f"cache: expected the cache returned by max_unpool2d_forward, "
                        f"received {type(cache).__name__}")
    pool_cache, dtype = cache
    dout = check_dout(dout, pool_cache.x_shape, dtype=dtype)
    doutp = pad_hw(dout, pool_cache.pads, 0.0)                            # (N, Hp, Wp, C)
    return kernels.get("max_unpool2d_backward")(doutp, pool_cache.argmax,
                                                pool_cache.pool, pool_cache.stride)  # (N, Ho, Wo, C)
