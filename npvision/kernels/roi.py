"""RoI max pooling (Fast R-CNN) and RoIAlign (Mask R-CNN) kernels, three ways.

Ops and their signatures (the arrays are already checked by
:mod:`npvision.functional.roi`; kernels never validate)::

    out, argmax = roi_pool_forward(x, rois, output_size, spatial_scale)
    dx          = roi_pool_backward(dout, batch, argmax, x_shape)
    out         = roi_align_forward(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
    dx          = roi_align_backward(dout, rois, x_shape, output_size, spatial_scale,
                                     sampling_ratio, aligned)

* ``x`` ``(N, H, W, C)``, C-contiguous float32 or float64; ``rois`` ``(K, 5)`` in the
  same dtype, rows ``[b, x1, y1, x2, y2]`` with ``b`` an integer in ``[0, N)``;
* ``output_size = (PH, PW)``; ``spatial_scale`` a Python float; ``sampling_ratio``
  an int; ``aligned`` a bool;
* ``out`` and ``dout`` ``(K, PH, PW, C)``; ``argmax`` ``(K, PH, PW, C)`` int32,
  the flat index ``h * W + w`` in image ``b`` of the bin's first maximum, ``-1``
  for an empty bin; ``batch`` ``(K,)`` int64, the rois' image indices.

The math is in :mod:`npvision.functional.roi`'s docstring. Every number of the
*geometry* (scaled corners, bin edges, sample points, bilinear weights) is
computed in the input's dtype, one operation at a time in torchvision's order,
so that float32 bins and samples fall exactly where torchvision's float32 C++
puts them (a bin edge computed in float64 instead can land one pixel over).

``naive``
    The definition: Python loops over rois, bins, channels and pixels, each
    number a NumPy scalar of the input's dtype.
``numpy``
    The geometry of all rois at once (:func:`roi_pool_bins`,
    :func:`roi_align_grid`); RoI pooling then loops over bins in Python, each
    bin a vectorized max over its pixels and channels; RoIAlign loops over the
    sampling grid's positions, each one gather of ``(K, PH, PW, C)`` pixels.
``numba``
    The same geometry, then compiled loops with the channels innermost: a
    channels-last pixel is a contiguous row of ``C`` numbers, so every inner
    loop is one SIMD pass over a row. Rois are shared out among npvision's
    threads; the backward passes give each thread its own gradient buffer
    (rois of one image overlap) and add the buffers up at the end.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import register
from ._jit import njit
from .blas import PARALLEL_SIZE, run_on_threads, threads

#: torchvision starts every bin's running maximum at -FLT_MAX, in float64 too.
LOWEST = float(np.finfo(np.float32).min)
#: rounded corners are clamped to the range of C's int, torchvision's type for them.
_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1


# ---------------------------------------------------------------------------
# naive: the definition, one roi, one bin, one channel at a time
# ---------------------------------------------------------------------------

def round_half_away(v) -> int:
    """``v`` rounded to the nearest integer, halves away from zero (C's ``round``).

    NumPy's ``np.round`` rounds halves to even (``np.round(2.5) == 2``), and
    ``floor(v + 0.5)`` goes wrong just below a half (0.49999997 + 0.5 rounds
    to 1.0 in float32); ``v - trunc(v)`` is exact, so the test below is too.
    """
    v = float(v)
    r = math.trunc(v)
    if abs(v - r) >= 0.5:
        r += 1 if v > 0 else -1
    return min(max(r, _INT_MIN), _INT_MAX)


@register("roi_pool_forward", "naive")
def roi_pool_forward_naive(x, rois, output_size, spatial_scale):
    """RoI max pooling, one bin and one channel at a time. Returns ``(out, argmax)``."""
    _, height, width, n_c = x.shape
    n_ph, n_pw = output_size
    T = x.dtype.type                                  # float32 or float64: every number below is one
    scale = T(spatial_scale)
    out = np.zeros((len(rois), n_ph, n_pw, n_c), dtype=x.dtype)
    argmax = np.full(out.shape, -1, dtype=np.int32)
    for k in range(len(rois)):
        b = int(rois[k, 0])
        # the corners on the feature map, rounded to whole pixels
        x1, y1, x2, y2 = (round_half_away(rois[k, m] * scale) for m in (1, 2, 3, 4))
        roi_h = max(y2 - y1 + 1, 1)                   # pixels y1..y2 inclusive; at least one
        roi_w = max(x2 - x1 + 1, 1)
        bin_h = T(roi_h) / T(n_ph)
        bin_w = T(roi_w) / T(n_pw)
        for i in range(n_ph):
            h_start = min(max(math.floor(T(i) * bin_h) + y1, 0), height)
            h_end = min(max(math.ceil(T(i + 1) * bin_h) + y1, 0), height)
            for j in range(n_pw):
                w_start = min(max(math.floor(T(j) * bin_w) + x1, 0), width)
                w_end = min(max(math.ceil(T(j + 1) * bin_w) + x1, 0), width)
                if h_end <= h_start or w_end <= w_start:
                    continue                          # an empty bin: output 0, argmax -1
                for c in range(n_c):
                    best, best_at = T(LOWEST), -1
                    for h in range(h_start, h_end):
                        for w in range(w_start, w_end):
                            if x[b, h, w, c] > best:          # strictly: the first maximum wins
                                best, best_at = x[b, h, w, c], h * width + w
                    out[k, i, j, c] = best
                    argmax[k, i, j, c] = best_at
    return out, argmax


@register("roi_pool_backward", "naive")
def roi_pool_backward_naive(dout, batch, argmax, x_shape):
    """Each ``dout[k, i, j, c]`` goes to its bin's maximum in image ``batch[k]``; rois add up."""
    n_k, n_ph, n_pw, n_c = dout.shape
    width = x_shape[2]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k in range(n_k):
        for i in range(n_ph):
            for j in range(n_pw):
                for c in range(n_c):
                    at = int(argmax[k, i, j, c])
                    if at >= 0:                       # -1: an empty bin sends nothing
                        h, w = divmod(at, width)
                        dx[batch[k], h, w, c] += dout[k, i, j, c]
    return dx


def bilinear_taps(y, x, height, width):
    """The bilinear sample at ``(y, x)`` as four ``(row, col, weight)`` taps, torchvision's rules.

    ``y`` and ``x`` are NumPy scalars of the input's dtype. A point more than
    one pixel outside the map (``y < -1``, ``y > H``, ...) gives no taps: it
    samples 0 and receives no gradient. A point in the last pixel's margin is
    clamped onto the border (``y <= 0`` reads row 0, ``y >= H - 1`` reads row
    ``H - 1`` with full weight).
    """
    T = type(y)
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return []
    if y <= 0:
        y = T(0)
    if x <= 0:
        x = T(0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = T(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = T(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - T(y_low), x - T(x_low)                # distances past the low row and column
    hy, hx = T(1) - ly, T(1) - lx
    return [(y_low, x_low, hy * hx), (y_low, x_high, hy * lx),
            (y_high, x_low, ly * hx), (y_high, x_high, ly * lx)]


def _align_roi_naive(roi, output_size, scale, sampling_ratio, aligned):
    """One roi's bins as ``[(i, j, points)]`` and the divisor ``count`` (NumPy scalars of ``T``)."""
    T = type(scale)
    n_ph, n_pw = output_size
    offset = T(0.5) if aligned else T(0)
    x_start, y_start = roi[1] * scale - offset, roi[2] * scale - offset
    x_end, y_end = roi[3] * scale - offset, roi[4] * scale - offset
    roi_w, roi_h = x_end - x_start, y_end - y_start
    if not aligned:                                   # the legacy rule: at least 1 x 1
        roi_w, roi_h = max(roi_w, T(1)), max(roi_h, T(1))
    bin_h, bin_w = roi_h / T(n_ph), roi_w / T(n_pw)
    grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / T(n_ph))
    grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / T(n_pw))
    count = T(max(grid_h * grid_w, 1))
    bins = []
    for i in range(n_ph):
        for j in range(n_pw):
            points = []
            for sy in range(grid_h):                  # a regular grid_h x grid_w grid in the bin
                y = y_start + T(i) * bin_h + (T(sy) + T(0.5)) * bin_h / T(grid_h)
                for sx in range(grid_w):
                    x = x_start + T(j) * bin_w + (T(sx) + T(0.5)) * bin_w / T(grid_w)
                    points.append((y, x))
            bins.append((i, j, points))
    return bins, count


@register("roi_align_forward", "naive")
def roi_align_forward_naive(x, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """RoIAlign, one bin at a time: the mean of the bilinear samples of the bin's grid."""
    _, height, width, n_c = x.shape
    T = x.dtype.type
    out = np.zeros((len(rois),) + tuple(output_size) + (n_c,), dtype=x.dtype)
    for k in range(len(rois)):
        b = int(rois[k, 0])
        bins, count = _align_roi_naive(rois[k], output_size, T(spatial_scale), sampling_ratio, aligned)
        for i, j, points in bins:
            taps = [t for y, xx in points for t in bilinear_taps(y, xx, height, width)]
            for c in range(n_c):
                total = T(0)
                for h, w, weight in taps:
                    total += weight * x[b, h, w, c]
                out[k, i, j, c] = total / count
    return out


@register("roi_align_backward", "naive")
def roi_align_backward_naive(dout, rois, x_shape, output_size, spatial_scale, sampling_ratio, aligned):
    """Every sample hands ``dout * weight / count`` to each of its four pixels; rois add up."""
    _, height, width, n_c = x_shape
    T = dout.dtype.type
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k in range(len(rois)):
        b = int(rois[k, 0])
        bins, count = _align_roi_naive(rois[k], output_size, T(spatial_scale), sampling_ratio, aligned)
        for i, j, points in bins:
            for y, xx in points:
                for h, w, weight in bilinear_taps(y, xx, height, width):
                    for c in range(n_c):
                        dx[b, h, w, c] += dout[k, i, j, c] * weight / count
    return dx


# ---------------------------------------------------------------------------
# the geometry of all rois at once (numpy and numba backends)
# ---------------------------------------------------------------------------

def _round_half_away_array(v: np.ndarray) -> np.ndarray:
    """:func:`round_half_away` elementwise, as int64."""
    r = np.trunc(v)
    r = r + np.where(np.abs(v - r) >= 0.5, np.sign(v), 0).astype(v.dtype)
    return np.clip(r, _INT_MIN, _INT_MAX).astype(np.int64)


def _bin_edges(start, size, n_bins, limit, T):
    """``[start + floor(i size/P), start + ceil((i+1) size/P))`` clipped to ``[0, limit]``: (K, P) each."""
    bin_size = size.astype(T) / T(n_bins)                                   # (K,)
    i = np.arange(n_bins).astype(T)                                         # (P,)
    lo = np.floor(i[None, :] * bin_size[:, None]).astype(np.int64)          # (K, P)
    hi = np.ceil((i + T(1))[None, :] * bin_size[:, None]).astype(np.int64)  # (K, P)
    return (np.clip(lo + start[:, None], 0, limit),
            np.clip(hi + start[:, None], 0, limit))


def roi_pool_bins(rois, output_size, spatial_scale, height, width):
    """Every roi's bins: ``(batch (K,), h_start, h_end (K, PH), w_start, w_end (K, PW))``, int64.

    Bin ``(i, j)`` of roi ``k`` is ``x[batch[k], h_start[k, i]:h_end[k, i],
    w_start[k, j]:w_end[k, j]]``; it is empty when either range is.
    """
    T = rois.dtype.type
    corners = _round_half_away_array(rois[:, 1:] * T(spatial_scale))       # (K, 4) x1, y1, x2, y2
    x1, y1, x2, y2 = corners.T                                              # (K,) each
    h_start, h_end = _bin_edges(y1, np.maximum(y2 - y1 + 1, 1), output_size[0], height, T)
    w_start, w_end = _bin_edges(x1, np.maximum(x2 - x1 + 1, 1), output_size[1], width, T)
    return rois[:, 0].astype(np.int64), h_start, h_end, w_start, w_end


class AlignAxis(NamedTuple):
    """The bilinear samples of every roi along one axis (rows or columns).

    ``low[k, i, a]`` and ``high`` are the two pixel rows (columns) that sample
    ``a`` of bin ``i`` of roi ``k`` reads, with weights ``w_low = 1 - l`` and
    ``w_high = l``; ``low = -1`` marks a sample more than one pixel outside the
    map, or past the roi's own ``grid[k]`` samples per bin (the arrays are
    padded to the largest grid).
    """

    grid: np.ndarray      # (K,) int64: samples per bin along this axis (>= 0)
    low: np.ndarray       # (K, P, G) int64, -1 where there is no sample
    high: np.ndarray      # (K, P, G) int64
    w_low: np.ndarray     # (K, P, G) dtype T
    w_high: np.ndarray    # (K, P, G) dtype T


def _align_axis(start, size, n_bins, sampling_ratio, limit, T) -> AlignAxis:
    """The samples along one axis: points ``start + i bin + (a + 1/2) bin / grid``, then bilinear."""
    bin_size = size / T(n_bins)                                             # (K,)
    if sampling_ratio > 0:
        grid = np.full(len(size), sampling_ratio, dtype=np.int64)
    else:
        grid = np.maximum(np.ceil(size / T(n_bins)).astype(np.int64), 0)   # (K,)
    n_g = int(grid.max()) if len(grid) else 0
    i = np.arange(n_bins).astype(T)[None, :, None]                          # (1, P, 1)
    a = (np.arange(n_g).astype(T) + T(0.5))[None, None, :]                 # (1, 1, G)
    b = bin_size[:, None, None]                                             # (K, 1, 1)
    g = np.maximum(grid, 1).astype(T)[:, None, None]                        # (K, 1, 1)
    p = (start[:, None, None] + i * b) + (a * b) / g                        # (K, P, G)
    inside = (p >= -1.0) & (p <= limit) & (np.arange(n_g)[None, None, :] < grid[:, None, None])
    p = np.where(inside & (p > 0), p, T(0))                                 # clamp at 0 (and zero the rest)
    low = p.astype(np.int64)
    at_edge = low >= limit - 1
    low = np.where(at_edge, limit - 1, low)
    high = np.where(at_edge, limit - 1, low + 1)
    l = np.where(at_edge, T(0), p - low.astype(T))                          # (K, P, G) in T
    return AlignAxis(grid, np.where(inside, low, -1), high, T(1) - l, l)


def roi_align_grid(rois, output_size, spatial_scale, sampling_ratio, aligned, height, width):
    """Every roi's samples: ``(batch (K,), count (K,), rows, cols)`` with two :class:`AlignAxis`.

    Sample ``(a, c)`` of bin ``(i, j)`` of roi ``k`` reads rows
    ``rows.low/high[k, i, a]`` and columns ``cols.low/high[k, j, c]``; it
    exists when both lows are >= 0. ``count[k] = max(grid_h grid_w, 1)``
    (dtype ``T``) divides each bin's sum.
    """
    T = rois.dtype.type
    offset = T(0.5) if aligned else T(0)
    corners = rois[:, 1:] * T(spatial_scale) - offset                      # (K, 4) x1, y1, x2, y2
    x_start, y_start, x_end, y_end = corners.T                              # (K,) each
    roi_w, roi_h = x_end - x_start, y_end - y_start
    if not aligned:
        roi_w, roi_h = np.maximum(roi_w, T(1)), np.maximum(roi_h, T(1))
    rows = _align_axis(y_start, roi_h, output_size[0], sampling_ratio, height, T)
    cols = _align_axis(x_start, roi_w, output_size[1], sampling_ratio, width, T)
    count = np.maximum(rows.grid * cols.grid, 1).astype(T)                  # (K,)
    return rois[:, 0].astype(np.int64), count, rows, cols


def _corner_weights(rows: AlignAxis, cols: AlignAxis, a: int, c: int):
    """For grid position ``(a, c)``: the four corners' ``(row, col, weight)``, each (K, PH, PW).

    Absent samples get weight 0 and index 0 (a harmless in-range pixel).
    """
    yl, yh = rows.low[:, :, a, None], rows.high[:, :, a, None]             # (K, PH, 1)
    xl, xh = cols.low[:, None, :, c], cols.high[:, None, :, c]             # (K, 1, PW)
    present = (yl >= 0) & (xl >= 0)                                         # (K, PH, PW)
    hy, ly = rows.w_low[:, :, a, None], rows.w_high[:, :, a, None]
    hx, lx = cols.w_low[:, None, :, c], cols.w_high[:, None, :, c]
    zero = np.zeros((), dtype=hy.dtype)
    yl, xl = np.maximum(yl, 0), np.maximum(xl, 0)
    return [(yl, xl, np.where(present, hy * hx, zero)), (yl, xh, np.where(present, hy * lx, zero)),
            (yh, xl, np.where(present, ly * hx, zero)), (yh, xh, np.where(present, ly * lx, zero))]


# ---------------------------------------------------------------------------
# numpy: the geometry vectorized, then bins (pool) or grid positions (align)
# ---------------------------------------------------------------------------

@register("roi_pool_forward", "numpy")
def roi_pool_forward_numpy(x, rois, output_size, spatial_scale):
    """One vectorized ``argmax`` over each bin's ``(pixels, C)`` block."""
    _, height, width, n_c = x.shape
    batch, h0, h1, w0, w1 = roi_pool_bins(rois, output_size, spatial_scale, height, width)
    out = np.zeros((len(rois),) + tuple(output_size) + (n_c,), dtype=x.dtype)
    argmax = np.full(out.shape, -1, dtype=np.int32)
    minus_inf = x.dtype.type(-np.inf)
    for k in range(len(rois)):
        for i in range(output_size[0]):
            for j in range(output_size[1]):
                if h1[k, i] <= h0[k, i] or w1[k, j] <= w0[k, j]:
                    continue
                block = x[batch[k], h0[k, i]:h1[k, i], w0[k, j]:w1[k, j]].reshape(-1, n_c)  # (pixels, C)
                # only values above -FLT_MAX can win (NaN never does), as in torchvision
                block = np.where(block > LOWEST, block, minus_inf)
                first = block.argmax(axis=0)                                 # (C,) first maximum
                best = block[first, np.arange(n_c)]                          # (C,)
                won = best > minus_inf
                hh, ww = np.divmod(first, w1[k, j] - w0[k, j])              # (C,) within the bin
                out[k, i, j] = np.where(won, best, x.dtype.type(LOWEST))
                argmax[k, i, j] = np.where(won, (h0[k, i] + hh) * width + w0[k, j] + ww, -1)
    return out, argmax


@register("roi_pool_backward", "numpy")
def roi_pool_backward_numpy(dout, batch, argmax, x_shape):
    """One unbuffered ``np.add.at`` of every routed gradient."""
    k, _, _, c = np.nonzero(argmax >= 0)                                    # (M,) each
    at = argmax[argmax >= 0]                                                # (M,) flat h*W + w
    dx = np.zeros(x_shape, dtype=dout.dtype)
    np.add.at(dx, (batch[k], at // x_shape[2], at % x_shape[2], c), dout[argmax >= 0])
    return dx


@register("roi_align_forward", "numpy")
def roi_align_forward_numpy(x, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """For each grid position ``(a, c)``: gather four ``(K, PH, PW, C)`` corner arrays, weight, add."""
    _, height, width, _ = x.shape
    batch, count, rows, cols = roi_align_grid(rois, output_size, spatial_scale, sampling_ratio,
                                              aligned, height, width)
    out = np.zeros((len(rois),) + tuple(output_size) + (x.shape[3],), dtype=x.dtype)
    b = batch[:, None, None]                                                # (K, 1, 1)
    for a in range(rows.low.shape[2]):
        for c in range(cols.low.shape[2]):
            for yy, xx, weight in _corner_weights(rows, cols, a, c):
                out += weight[..., None] * x[b, yy, xx]                     # (K, PH, PW, C)
    out /= count[:, None, None, None]
    return out


@register("roi_align_backward", "numpy")
def roi_align_backward_numpy(dout, rois, x_shape, output_size, spatial_scale, sampling_ratio, aligned):
    """For each grid position and corner: one ``np.add.at`` of ``dout * weight / count``."""
    batch, count, rows, cols = roi_align_grid(rois, output_size, spatial_scale, sampling_ratio,
                                              aligned, x_shape[1], x_shape[2])
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / count[:, None, None, None]                               # (K, PH, PW, C)
    b = np.broadcast_to(batch[:, None, None], dout.shape[:3])               # (K, PH, PW)
    for a in range(rows.low.shape[2]):
        for c in range(cols.low.shape[2]):
            for yy, xx, weight in _corner_weights(rows, cols, a, c):
                yy, xx = np.broadcast_arrays(yy, xx)                         # (K, PH, PW) each
                np.add.at(dx, (b, yy, xx), weight[..., None] * share)
    return dx


# ---------------------------------------------------------------------------
# numba: the geometry vectorized, then compiled loops over C-contiguous pixel rows
# ---------------------------------------------------------------------------

@njit(nogil=True)
def _roi_pool_fwd(x, batch, h0, h1, w0, w1, lowest, k0, k1, out, argmax):
    """Rois ``k0 .. k1 - 1``: a running maximum per channel, updated pixel row by pixel row."""
    width = x.shape[2]
    n_c = x.shape[3]
    for k in range(k0, k1):
        img = x[batch[k]]
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                o = out[k, i, j]                                            # (C,) views
                a = argmax[k, i, j]
                if h1[k, i] <= h0[k, i] or w1[k, j] <= w0[k, j]:
                    o[:] = 0
                    a[:] = -1
                    continue
                o[:] = lowest
                a[:] = -1
                for h in range(h0[k, i], h1[k, i]):
                    for w in range(w0[k, j], w1[k, j]):
                        v = img[h, w]                                       # (C,) a pixel's channels
                        at = np.int32(h * width + w)
                        for c in range(n_c):                                # branch-free: vectorizes
                            better = v[c] > o[c]
                            o[c] = v[c] if better else o[c]
                            a[c] = at if better else a[c]


@njit(nogil=True)
def _roi_pool_bwd(dout, batch, argmax, k0, k1, dx):
    width = dx.shape[2]
    for k in range(k0, k1):
        img = dx[batch[k]]
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                for c in range(dout.shape[3]):
                    at = argmax[k, i, j, c]
                    if at >= 0:
                        img[at // width, at % width, c] += dout[k, i, j, c]


@njit(nogil=True)
def _roi_align_fwd(x, batch, count, rows, cols, k0, k1, out):
    """Rois ``k0 .. k1 - 1``: per bin, the weighted sum of four pixel rows per sample
    (``rows``, ``cols``: :class:`AlignAxis`)."""
    n_c = x.shape[3]
    ylo, yhi, wyl, wyh, gy = rows.low, rows.high, rows.w_low, rows.w_high, rows.grid
    xlo, xhi, wxl, wxh, gx = cols.low, cols.high, cols.w_low, cols.w_high, cols.grid
    for k in range(k0, k1):
        img = x[batch[k]]
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                o = out[k, i, j]                                            # (C,) view
                o[:] = 0
                for a in range(gy[k]):
                    y_low = ylo[k, i, a]
                    if y_low < 0:
                        continue
                    y_high = yhi[k, i, a]
                    hy = wyl[k, i, a]
                    ly = wyh[k, i, a]
                    for b in range(gx[k]):
                        x_low = xlo[k, j, b]
                        if x_low < 0:
                            continue
                        x_high = xhi[k, j, b]
                        hx = wxl[k, j, b]
                        lx = wxh[k, j, b]
                        w1, w2, w3, w4 = hy * hx, hy * lx, ly * hx, ly * lx
                        p1, p2 = img[y_low, x_low], img[y_low, x_high]      # (C,) pixel rows
                        p3, p4 = img[y_high, x_low], img[y_high, x_high]
                        for c in range(n_c):
                            o[c] += w1 * p1[c] + w2 * p2[c] + w3 * p3[c] + w4 * p4[c]
                for c in range(n_c):
                    o[c] /= count[k]


@njit(nogil=True)
def _roi_align_bwd(dout, batch, count, rows, cols, k0, k1, dx):
    """Rois ``k0 .. k1 - 1``: each sample adds ``dout * weight / count`` to four pixel rows
    (``rows``, ``cols``: :class:`AlignAxis`)."""
    n_c = dx.shape[3]
    ylo, yhi, wyl, wyh, gy = rows.low, rows.high, rows.w_low, rows.w_high, rows.grid
    xlo, xhi, wxl, wxh, gx = cols.low, cols.high, cols.w_low, cols.w_high, cols.grid
    for k in range(k0, k1):
        img = dx[batch[k]]
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                g = dout[k, i, j]                                           # (C,) view
                for a in range(gy[k]):
                    y_low = ylo[k, i, a]
                    if y_low < 0:
                        continue
                    y_high = yhi[k, i, a]
                    hy = wyl[k, i, a] / count[k]
                    ly = wyh[k, i, a] / count[k]
                    for b in range(gx[k]):
                        x_low = xlo[k, j, b]
                        if x_low < 0:
                            continue
                        x_high = xhi[k, j, b]
                        hx = wxl[k, j, b]
                        lx = wxh[k, j, b]
                        w1, w2, w3, w4 = hy * hx, hy * lx, ly * hx, ly * lx
                        d1, d2 = img[y_low, x_low], img[y_low, x_high]      # (C,) pixel rows
                        d3, d4 = img[y_high, x_low], img[y_high, x_high]
                        for c in range(n_c):
                            d1[c] += w1 * g[c]
                            d2[c] += w2 * g[c]
                            d3[c] += w3 * g[c]
                            d4[c] += w4 * g[c]


def _roi_shares(n_rois: int, work: int) -> list:
    """``[(k0, k1), ...]``: the rois cut into one contiguous share per thread (one share if small)."""
    n = min(n_rois, threads()) if work >= PARALLEL_SIZE else 1
    return [(n_rois * t // n, n_rois * (t + 1) // n) for t in range(max(n, 1))]


def _run_forward(kernel, n_rois, work, *args):
    """``kernel(*args[:-1], k0, k1, out)`` over the shares of rois, in parallel; returns ``out``."""
    *inputs, out = args
    run_on_threads(lambda share: [kernel(*inputs, k0, k1, out) for k0, k1 in share],
                   _roi_shares(n_rois, work))
    return out


def _run_backward(kernel, n_rois, work, x_shape, dtype, *inputs):
    """``kernel(*inputs, k0, k1, dx)`` over shares of rois, one gradient buffer per share, summed."""
    shares = _roi_shares(n_rois, work) if work >= 4 * int(np.prod(x_shape)) else [(0, n_rois)]

    def run(share):
        buffer = np.zeros(x_shape, dtype=dtype)
        for k0, k1 in share:
            kernel(*inputs, k0, k1, buffer)
        return buffer

    parts = run_on_threads(run, shares)
    dx = parts[0]
    for part in parts[1:]:
        dx += part
    return dx


@register("roi_pool_forward", "numba", fastest=True)
def roi_pool_forward_numba(x, rois, output_size, spatial_scale):
    """Compiled running maximum over each bin, all channels of a pixel at once."""
    batch, h0, h1, w0, w1 = roi_pool_bins(rois, output_size, spatial_scale, x.shape[1], x.shape[2])
    out = np.empty((len(rois),) + tuple(output_size) + (x.shape[3],), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int32)
    work = out.size * max(1, int(np.mean(h1 - h0)) * int(np.mean(w1 - w0))) if len(rois) else 0
    run_on_threads(lambda share: [_roi_pool_fwd(x, batch, h0, h1, w0, w1, x.dtype.type(LOWEST),
                                                k0, k1, out, argmax) for k0, k1 in share],
                   _roi_shares(len(rois), work))
    return out, argmax


@register("roi_pool_backward", "numba", fastest=True)
def roi_pool_backward_numba(dout, batch, argmax, x_shape):
    """Compiled scatter of ``dout`` to the stored maxima."""
    return _run_backward(_roi_pool_bwd, len(dout), dout.size, x_shape, dout.dtype, dout, batch, argmax)


def _align_args(rois, x_shape, output_size, spatial_scale, sampling_ratio, aligned):
    """The grid as the compiled kernels' arguments ``(batch, count, rows, cols)``, and the work
    (multiply-adds)."""
    batch, count, rows, cols = roi_align_grid(rois, output_size, spatial_scale, sampling_ratio,
                                              aligned, x_shape[1], x_shape[2])
    args = (batch, count, rows, cols)
    work = 4 * x_shape[3] * int(np.dot(rows.grid * output_size[0], cols.grid * output_size[1]))
    return args, work


@register("roi_align_forward", "numba", fastest=True)
def roi_align_forward_numba(x, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """Compiled weighted sums of pixel rows, rois shared out among the threads."""
    args, work = _align_args(rois, x.shape, output_size, spatial_scale, sampling_ratio, aligned)
    out = np.empty((len(rois),) + tuple(output_size) + (x.shape[3],), dtype=x.dtype)
    return _run_forward(_roi_align_fwd, len(rois), work, x, *args, out)


@register("roi_align_backward", "numba", fastest=True)
def roi_align_backward_numba(dout, rois, x_shape, output_size, spatial_scale, sampling_ratio, aligned):
    """Compiled scatter of ``dout * weight / count``, one gradient buffer per thread."""
    args, work = _align_args(rois, x_shape, output_size, spatial_scale, sampling_ratio, aligned)
    return _run_backward(_roi_align_bwd, len(dout), work, x_shape, dout.dtype, dout, *args)
