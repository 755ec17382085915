"""Pooling: max, average and global average, forward and backward (channels-last).

A pooling layer slides a ``PH x PW`` window with stride ``(SH, SW)`` over every
channel of ``x`` ``(N, H, W, C)`` separately and keeps one number per window:
its maximum (max pooling) or its mean (average pooling). With the padding
``((top, bottom), (left, right))`` the output is ``(N, Ho, Wo, C)`` where

    Ho = floor((H + top + bottom - PH) / SH) + 1        (Wo likewise)

which is the course's ``floor((n_H_prev - f) / stride) + 1`` without padding.

Gradients (``g = dout``):

* max pooling: ``dx`` is zero except at each window's first maximum (row-major
  order, as PyTorch), which receives that window's ``g``; overlapping windows
  (stride < pool) add up there;
* average pooling: every element of a window receives ``g / (PH * PW)``;
* global average pooling, ``(N, H, W, C) -> (N, C)``: ``dx = g / (H * W)``
  broadcast over the image;
* adaptive average pooling to a fixed ``(Ho, Wo)`` (PyTorch's
  ``AdaptiveAvgPool2d``, which torchvision's VGG puts before its classifier):
  output row ``i`` averages the input rows ``floor(i H / Ho) <= h < ceil((i + 1) H / Ho)``
  (columns likewise), so bins may differ in size and overlap, and every element
  of a bin receives ``g / (bin height * bin width)``.

Padding follows PyTorch: max pooling pads with ``-inf`` (a padded element is
never the maximum), average pooling pads with zeros that count in the average
(``count_include_pad=True``), and no side may be padded by more than half the
pool size (``pad <= pool // 2``), so every window sees real pixels.

The math as plain loops, the course's ``pool_forward`` / ``pool_backward``:
:func:`npvision.kernels.reference.pool2d.max_pool2d_forward` (and ``max_pool2d_backward``,
``avg_pool2d_forward``, ``avg_pool2d_backward`` beside it, ``npvision/kernels/reference/pool2d.py``);
the kernel table's ops of those names run them (``naive``) or compiled loops (``numba``).

    >>> out, cache = max_pool2d_forward(x, pool_size=2)      # (N, H/2, W/2, C)
    >>> dx = max_pool2d_backward(dout, cache)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_dout, int_pair, resolve_padding
from .._padding import crop_hw, pad_hw
from .shapes import conv_output_size

__all__ = [
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "global_avg_pool2d_forward",
    "global_avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
    "adaptive_bins",
    "MaxPoolCache",
]

_LAYOUT = "(N, H, W, C)"


class MaxPoolCache(NamedTuple):
    """What ``max_pool2d_backward`` (and ``max_unpool2d_forward``) need from the forward pass."""

    argmax: np.ndarray                      # (N, Ho, Wo, C): flat in-window offset kh*PW + kw
    x_shape: tuple[int, int, int, int]      # (N, H, W, C) before padding
    xp_shape: tuple[int, int, int, int]     # (N, Hp, Wp, C) after padding
    pool: tuple[int, int]                   # (PH, PW)
    stride: tuple[int, int]                 # (SH, SW)
    pads: tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
    dtype: np.dtype


class _GlobalAvgPoolCache(NamedTuple):
    x_shape: tuple[int, int, int, int]
    dtype: np.dtype


class _AdaptiveAvgPoolCache(NamedTuple):
    x_shape: tuple[int, int, int, int]
    rows: tuple[tuple[int, int], ...]       # (start, end) of each output row's input rows
    cols: tuple[tuple[int, int], ...]       # (start, end) of each output column's input columns
    dtype: np.dtype


class _AvgPoolCache(NamedTuple):
    x_shape: tuple[int, int, int, int]
    xp_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]
    pool: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    dtype: np.dtype


# ---------------------------------------------------------------------------
# helpers shared by the pooling family (and by upsample.py's max-unpooling)
# ---------------------------------------------------------------------------

def float_input(x, name: str, ndim: int = 4, layout: str = _LAYOUT) -> np.ndarray:
    """``x`` as a C-contiguous float32/float64 array of ``ndim`` dims, or a clear error."""
    x = as_float_array(x, name, ndim=ndim, layout=layout)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, received {x.dtype}; "
                        f"convert it with {name}.astype(np.float32)")
    return np.ascontiguousarray(x)


def _pool_args(x, pool_size, stride, padding):
    """Validate a pooling call; return ``(x, pool, stride, pads)`` resolved to int pairs."""
    x = float_input(x, "x")
    pool = int_pair(pool_size, "pool_size")
    stride = pool if stride is None else int_pair(stride, "stride")
    pads = resolve_padding(padding, "padding", x.shape[1:3], pool, stride)
    for axis, (lo, hi), k in zip(("height", "width"), pads, pool):
        if max(lo, hi) > k // 2:
            raise ValueError(
                f"padding: at most half the pool size on each side is allowed (pool_size {pool} "
                f"allows at most {k // 2} along the {axis}), received {lo} and {hi} along the {axis}")
    for axis, n, k, s, p in zip(("height", "width"), x.shape[1:3], pool, stride, pads):
        if conv_output_size(n, k, s, p) < 1:
            raise ValueError(
                f"pool_size: the window ({k} along the {axis}) is larger than the padded input "
                f"({n + p[0] + p[1]} along the {axis}; input shape {x.shape}, padding {p})")
    return x, pool, stride, pads


# ---------------------------------------------------------------------------
# max pooling
# ---------------------------------------------------------------------------

def max_pool2d_forward(x, pool_size, stride=None, padding=0):
    """Max pooling of ``x`` ``(N, H, W, C)`` -> ``(out (N, Ho, Wo, C), cache)``.

    ``pool_size`` and ``stride`` are ints or ``(h, w)`` pairs; ``stride=None``
    means ``pool_size`` (non-overlapping windows). ``padding`` is an int, a
    pair, ``((top, bottom), (left, right))``, ``"valid"`` or ``"same"``; padded
    positions hold ``-inf``. ``out[n, i, j, c] = max(x_pad[n, i*SH : i*SH+PH,
    j*SW : j*SW+PW, c])``; the cache (a :class:`MaxPoolCache`) keeps the
    position of each window's first maximum for the backward pass and for
    :func:`npvision.functional.max_unpool2d_forward`.
    """
    x, pool, stride, pads = _pool_args(x, pool_size, stride, padding)
    xp = pad_hw(x, pads, -np.inf)                                        # (N, Hp, Wp, C)
    out, argmax = kernels.get("max_pool2d_forward")(xp, pool, stride)    # (N, Ho, Wo, C) each
    return out, MaxPoolCache(argmax, x.shape, xp.shape, pool, stride, pads, x.dtype)


def max_pool2d_backward(dout, cache):
    """Gradient of max pooling: ``dout`` ``(N, Ho, Wo, C)`` -> ``dx`` ``(N, H, W, C)``.

    Each ``dout[n, i, j, c]`` goes to the first maximum of its window; where
    windows overlap the contributions add; every other element gets 0.
    """
    if not isinstance(cache, MaxPoolCache):
        raise TypeError(f"cache: expected the cache returned by max_pool2d_forward, "
                        f"received {type(cache).__name__}")
    dout = check_dout(dout, cache.argmax.shape, dtype=cache.dtype)
    dxp = kernels.get("max_pool2d_backward")(dout, cache.argmax, cache.xp_shape,
                                             cache.pool, cache.stride)   # (N, Hp, Wp, C)
    return crop_hw(dxp, cache.pads, cache.x_shape)                       # (N, H, W, C)


# ---------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------

def avg_pool2d_forward(x, pool_size, stride=None, padding=0):
    """Average pooling of ``x`` ``(N, H, W, C)`` -> ``(out (N, Ho, Wo, C), cache)``.

    Same arguments as :func:`max_pool2d_forward`. Padding adds zeros that
    count in the average, so every window is divided by ``PH * PW``
    (PyTorch's default ``count_include_pad=True``):
    ``out[n, i, j, c] = sum(x_pad[n, window, c]) / (PH * PW)``.
    """
    x, pool, stride, pads = _pool_args(x, pool_size, stride, padding)
    xp = pad_hw(x, pads, 0.0)                                            # (N, Hp, Wp, C)
    out = kernels.get("avg_pool2d_forward")(xp, pool, stride)            # (N, Ho, Wo, C)
    return out, _AvgPoolCache(x.shape, xp.shape, out.shape, pool, stride, pads, x.dtype)


def avg_pool2d_backward(dout, cache):
    """Gradient of average pooling: every window element receives ``dout / (PH * PW)``."""
    if not isinstance(cache, _AvgPoolCache):
        raise TypeError(f"cache: expected the cache returned by avg_pool2d_forward, "
                        f"received {type(cache).__name__}")
    dout = check_dout(dout, cache.out_shape, dtype=cache.dtype)
    dxp = kernels.get("avg_pool2d_backward")(dout, cache.xp_shape, cache.pool, cache.stride)
    return crop_hw(dxp, cache.pads, cache.x_shape)                       # (N, H, W, C)


# ---------------------------------------------------------------------------
# global average pooling
# ---------------------------------------------------------------------------

def global_avg_pool2d_forward(x):
    """Mean over the image of each channel: ``x`` ``(N, H, W, C)`` -> ``out`` ``(N, C)``.

    ``out[n, c] = sum_{h, w} x[n, h, w, c] / (H * W)``; the cache keeps the input's shape and dtype.
    Naive reference: :func:`npvision.kernels.pool.global_avg_pool2d_forward_naive` (the formula
    in NumPy); the kernel table's op ``global_avg_pool2d_forward``.
    """
    x = float_input(x, "x")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"x: has an empty {x.shape[1]}x{x.shape[2]} map (shape {x.shape}); global "
                         f"average pooling needs H >= 1 and W >= 1")
    out = kernels.get("global_avg_pool2d_forward")(x)                  # (N, C)
    return out, _GlobalAvgPoolCache(x.shape, x.dtype)


def global_avg_pool2d_backward(dout, cache):
    """``dx[n, h, w, c] = dout[n, c] / (H * W)``: ``(N, C)`` -> ``(N, H, W, C)``."""
    if not isinstance(cache, _GlobalAvgPoolCache):
        raise TypeError(f"cache: expected the cache returned by global_avg_pool2d_forward, "
                        f"received {type(cache).__name__}")
    x_shape, dtype = cache
    n, h, w, c = x_shape
    dout = check_dout(dout, (n, c), dtype=dtype)
    share = dout / dtype.type(h * w)                                     # (N, C)
    return np.ascontiguousarray(np.broadcast_to(share[:, None, None, :], x_shape))  # (N, H, W, C)


# ---------------------------------------------------------------------------
# adaptive average pooling
# ---------------------------------------------------------------------------

def adaptive_bins(n_in: int, n_out: int) -> tuple[tuple[int, int], ...]:
    """The ``n_out`` half-open bins ``[floor(i n_in / n_out), ceil((i + 1) n_in / n_out))``.

    >>> adaptive_bins(14, 7)       # ((0, 2), (2, 4), ..., (12, 14)): a 2-wide average pool
    >>> adaptive_bins(3, 7)        # ((0, 1), (0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 3))
    """
    return tuple((i * n_in // n_out, -(-(i + 1) * n_in // n_out)) for i in range(n_out))


def adaptive_avg_pool2d_forward(x, output_size):
    """Average ``x`` ``(N, H, W, C)`` into a fixed ``output_size`` ``(Ho, Wo)`` grid of bins.

    ``out[n, i, j, c] = mean(x[n, r0:r1, c0:c1, c])`` with ``(r0, r1) = adaptive_bins(H, Ho)[i]``
    and ``(c0, c1) = adaptive_bins(W, Wo)[j]``: PyTorch's ``adaptive_avg_pool2d``.
    When ``Ho`` divides ``H`` this is an ordinary ``H/Ho`` average pool; when
    ``Ho >= H`` input rows are repeated. The loop runs over the ``Ho * Wo`` bins
    (49 for VGG's 7x7), each bin's mean vectorized over the batch and channels:
    this loop is the op's only implementation.
    """
    x = float_input(x, "x")
    out_hw = int_pair(output_size, "output_size")
    n, h, w, c = x.shape
    rows, cols = adaptive_bins(h, out_hw[0]), adaptive_bins(w, out_hw[1])
    out = np.empty((n, out_hw[0], out_hw[1], c), dtype=x.dtype)         # (N, Ho, Wo, C)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            out[:, i, j, :] = x[:, r0:r1, c0:c1, :].mean(axis=(1, 2))
    return out, _AdaptiveAvgPoolCache(x.shape, rows, cols, x.dtype)


def adaptive_avg_pool2d_backward(dout, cache):
    """``dout`` ``(N, Ho, Wo, C)`` -> ``dx`` ``(N, H, W, C)``: each bin shares its gradient evenly.

    ``dx[n, r0:r1, c0:c1, c] += dout[n, i, j, c] / ((r1 - r0) (c1 - c0))``; where bins
    overlap, the shares add.
    """
    if not isinstance(cache, _AdaptiveAvgPoolCache):
        raise TypeError(f"cache: expected the cache returned by adaptive_avg_pool2d_forward, "
                        f"received {type(cache).__name__}")
    x_shape, rows, cols, dtype = cache
    n, _, _, c = x_shape
    dout = check_dout(dout, (n, len(rows), len(cols), c), dtype=dtype)
    dx = np.zeros(x_shape, dtype=dtype)                                  # (N, H, W, C)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            share = dout[:, i, j, :] / dtype.type((r1 - r0) * (c1 - c0))  # (N, C)
            dx[:, r0:r1, c0:c1, :] += share[:, None, None, :]
    return dx
