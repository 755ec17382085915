"""Pooling kernels: max and average pooling, forward and backward; numpy and numba backends.

The math, and the ``naive`` backend, is the plain loops of
:mod:`npvision.kernels.reference.pool2d` (read that file first): every kernel here takes the
same arguments, an already padded, C-contiguous input ``xp`` ``(N, Hp, Wp, C)`` and resolved
``pool = (PH, PW)`` and ``stride = (SH, SW)`` pairs, and returns the same arrays. Max pooling
returns ``(out, argmax)``, ``argmax`` the flat offset ``kh PW + kw`` of each window's first
maximum (:func:`argmax_dtype`: ``uint8`` for pools of up to 256 elements).

``global_avg_pool2d_forward(x)``: ``(N, H, W, C) -> (N, C)``, the mean over each image
(``naive``: NumPy's ``x.mean(axis=(1, 2))``; ``numba``: one pass over the pixels, channels
innermost, blocks of pixels summed in the input's dtype and then added in float64).
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit
from .blas import over_batch
from .reference import pool2d as reference
from .reference.pool2d import (argmax_dtype, create_mask_from_window, distribute_value,  # noqa: F401
                               mask_from_argmax)                                          # (kept here too)


def _out_hw(xp_shape, pool, stride) -> tuple[int, int]:
    """``(Ho, Wo)`` of a pooling over a padded input of shape ``(N, Hp, Wp, C)``."""
    return ((xp_shape[1] - pool[0]) // stride[0] + 1,
            (xp_shape[2] - pool[1]) // stride[1] + 1)


# ---------------------------------------------------------------------------
# naive: the plain loops of reference/pool2d.py, as they are
# ---------------------------------------------------------------------------

for _op in ("max_pool2d_forward", "max_pool2d_backward", "max_unpool2d_backward", "avg_pool2d_forward",
            "avg_pool2d_backward"):
    register(_op, "naive")(getattr(reference, _op))


@register("global_avg_pool2d_forward", "naive")
@register("global_avg_pool2d_forward", "numpy")
def global_avg_pool2d_forward_naive(x):
    """``out[n, c] = sum_{h, w} x[n, h, w, c] / (H W)``."""
    return x.mean(axis=(1, 2))


# ---------------------------------------------------------------------------
# numpy: loop over the PH*PW window offsets, each a strided view (N, Ho, Wo, C)
# ---------------------------------------------------------------------------

def _tap(a, kh, kw, out_hw, stride):
    """The strided view ``a[:, kh + SH*i, kw + SW*j, :]`` over every output (i, j): (N, Ho, Wo, C)."""
    (ho, wo), (sh, sw) = out_hw, stride
    return a[:, kh:kh + sh * (ho - 1) + 1:sh, kw:kw + sw * (wo - 1) + 1:sw, :]


@register("max_pool2d_forward", "numpy")
def max_pool2d_forward_numpy(xp, pool, stride):
    """Running maximum over the window offsets; an offset replaces the best only if strictly larger."""
    out_hw = _out_hw(xp.shape, pool, stride)
    out = _tap(xp, 0, 0, out_hw, stride).copy()                    # (N, Ho, Wo, C)
    argmax = np.zeros(out.shape, dtype=argmax_dtype(pool))
    better = np.empty(out.shape, dtype=bool)
    for kh in range(pool[0]):
        for kw in range(pool[1]):
            if kh == 0 and kw == 0:
                continue
            v = _tap(xp, kh, kw, out_hw, stride)
            # v > best, or v is the first NaN: "not (v <= best)" while best is still a number.
            np.less_equal(v, out, out=better)
            np.logical_not(better, out=better)
            better &= out == out
            np.copyto(out, v, where=better)
            np.copyto(argmax, kh * pool[1] + kw, where=better)
    return out, argmax


@register("max_pool2d_backward", "numpy")
def max_pool2d_backward_numpy(dout, argmax, xp_shape, pool, stride):
    """For each window offset k, the outputs whose argmax is k add their gradient there."""
    out_hw = dout.shape[1:3]
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    zero = dout.dtype.type(0)
    for kh in range(pool[0]):
        for kw in range(pool[1]):
            _tap(dxp, kh, kw, out_hw, stride)[...] += np.where(argmax == kh * pool[1] + kw, dout, zero)
    return dxp


@register("max_unpool2d_backward", "numpy")
def max_unpool2d_backward_numpy(dyp, argmax, pool, stride):
    """For each window offset k, the positions whose argmax is k read their gradient there."""
    out_hw = argmax.shape[1:3]
    dx = np.zeros(argmax.shape, dtype=dyp.dtype)
    for kh in range(pool[0]):
        for kw in range(pool[1]):
            np.copyto(dx, _tap(dyp, kh, kw, out_hw, stride), where=argmax == kh * pool[1] + kw)
    return dx


@register("avg_pool2d_forward", "numpy")
def avg_pool2d_forward_numpy(xp, pool, stride):
    """Sum of the PH*PW strided views, divided by PH*PW."""
    out_hw = _out_hw(xp.shape, pool, stride)
    out = _tap(xp, 0, 0, out_hw, stride).copy()                    # (N, Ho, Wo, C)
    for kh in range(pool[0]):
        for kw in range(pool[1]):
            if kh or kw:
                out += _tap(xp, kh, kw, out_hw, stride)
    out /= pool[0] * pool[1]
    return out


@register("avg_pool2d_backward", "numpy")
def avg_pool2d_backward_numpy(dout, xp_shape, pool, stride):
    """Add ``dout / (PH*PW)`` into each of the PH*PW strided views of the input gradient."""
    share = dout / dout.dtype.type(pool[0] * pool[1])
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for kh in range(pool[0]):
        for kw in range(pool[1]):
            _tap(dxp, kh, kw, dout.shape[1:3], stride)[...] += share
    return dxp


# ---------------------------------------------------------------------------
# numba: compiled loops, channels innermost (contiguous, vectorized)
# ---------------------------------------------------------------------------
# Each kernel is a serial loop that blas.over_batch runs on npvision's threads, one
# share of the batch each (images never share a window, so the shares never write
# the same element). numba's own parallel loops cost more to start (0.1-0.25 ms
# measured, on the workqueue layer) than these memory-bound loops take: a 2x2
# max-pool forward of N32 C64 32x32 took 0.49 ms with prange, 0.35 ms on one
# thread and 0.36 ms split in two.
#
# Every innermost loop runs over the channels of one pixel, and none has an ``if``
# around a store: each picks its value with a select (``a if cond else b``) and
# always stores it. The compiler turns such a loop into vector instructions on every
# x86 CPU with AVX2; an ``if`` around a store vectorizes only with AVX-512's masked
# stores, and ran lane by lane (or through ``vmaskmovps``, slow on AMD's cores) on
# AVX2: the 2x2 max-pool forward took 3.8 ms there instead of 0.35 ms.
# ``benchmarks/vector_report.py`` reads the compiled loops for both kinds of CPU.
#
# ``zero`` is a 0 of the arrays' dtype: a Python 0 in ``g if cond else 0`` would make
# numba compute the select in float64 (one conversion per number).

@njit(nogil=True)
def _max_pool_fwd(xp, ph, pw, sh, sw, spare, spare_arg, out, argmax):
    """The running maximum of each window's taps, and where it is.

    The running values pass back and forth between the output pixel and a spare row
    (``spare`` (C,), ``spare_arg`` (C,)), each tap reading one and writing the other, and
    the last tap writes the output. A tap that stored ``v if take else best`` back where
    ``best`` came from would be a store that only happens when ``take``: LLVM makes it an
    ``if`` around the store, and the loop vectorizes only with AVX-512's masked stores.
    """
    n_b, n_h, n_w, n_c = out.shape
    updates = ph * pw - 1                                    # taps after the first
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                # the first tap goes where an even number of updates later the output must be
                if updates % 2 == 0:
                    best, where, other, other_arg = out[n, i, j], argmax[n, i, j], spare, spare_arg
                else:
                    best, where, other, other_arg = spare, spare_arg, out[n, i, j], argmax[n, i, j]
                first = xp[n, i * sh, j * sw]                # (C,)
                for c in range(n_c):
                    best[c] = first[c]
                    where[c] = 0
                for k in range(1, ph * pw):                  # the other taps, k = kh * PW + kw
                    tap = xp[n, i * sh + k // pw, j * sw + k % pw]    # (C,)
                    for c in range(n_c):
                        v, b, a = tap[c], best[c], where[c]
                        # strictly larger, or the first NaN (while the best is still a number)
                        take = (v > b) | ((v != v) & (b == b))
                        other[c] = v if take else b
                        other_arg[c] = k if take else a
                    best, where, other, other_arg = other, other_arg, best, where


@njit(nogil=True)
def _max_pool_fwd_2x2(xp, out, argmax):
    """:func:`_max_pool_fwd` for the usual 2x2 window at stride 2, with the four taps of a
    channel compared in registers: one load per tap, one store each of the maximum and of
    where it is (the general loop loads and stores the running values once per tap). The
    same branch-free select picks each tap: strictly larger, or the first NaN."""
    n_b, n_h, n_w, n_c = out.shape
    for n in range(n_b):
        for i in range(n_h):
            top, bottom = xp[n, 2 * i], xp[n, 2 * i + 1]           # (W, C): the windows' two rows
            o, a = out[n, i], argmax[n, i]                          # (Wo, C)
            for j in range(n_w):
                for c in range(n_c):
                    best, where = top[2 * j, c], 0                  # tap k = kh * 2 + kw
                    v = top[2 * j + 1, c]
                    take = (v > best) | ((v != v) & (best == best))
                    best, where = (v if take else best), (1 if take else where)
                    v = bottom[2 * j, c]
                    take = (v > best) | ((v != v) & (best == best))
                    best, where = (v if take else best), (2 if take else where)
                    v = bottom[2 * j + 1, c]
                    take = (v > best) | ((v != v) & (best == best))
                    best, where = (v if take else best), (3 if take else where)
                    o[j, c] = best
                    a[j, c] = where


@njit(nogil=True)
def _max_pool_fwd_3x3_s2(xp, out, argmax):
    """:func:`_max_pool_fwd` for ResNet's stem pool, 3x3 windows at stride 2: the nine taps of a
    channel compared in registers, in row-major order, with the same branch-free select."""
    n_b, n_h, n_w, n_c = out.shape
    for n in range(n_b):
        for i in range(n_h):
            r0, r1, r2 = xp[n, 2 * i], xp[n, 2 * i + 1], xp[n, 2 * i + 2]    # (Wp, C) each
            o, a = out[n, i], argmax[n, i]                                  # (Wo, C)
            for j in range(n_w):
                j0 = 2 * j
                for c in range(n_c):
                    best, where = r0[j0, c], 0                             # tap k = kh * 3 + kw
                    for k in range(1, 9):                                  # unrolled: constant trip count
                        row = r0 if k < 3 else (r1 if k < 6 else r2)
                        v = row[j0 + k % 3, c]
                        take = (v > best) | ((v != v) & (best == best))
                        best, where = (v if take else best), (k if take else where)
                    o[j, c] = best
                    a[j, c] = where


@njit(nogil=True)
def _max_pool_bwd(dout, argmax, ph, pw, sh, sw, zero, dxp):
    """Overlapping windows (stride < pool): every tap adds its share into ``dxp`` (zeros first)."""
    n_b, n_h, n_w, n_c = dout.shape
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                g = dout[n, i, j]                                  # (C,) views
                a = argmax[n, i, j]
                for kh in range(ph):
                    for kw in range(pw):
                        k = kh * pw + kw
                        dx = dxp[n, i * sh + kh, j * sw + kw]
                        for c in range(n_c):
                            gc = g[c]
                            dx[c] += gc if a[c] == k else zero


@njit(nogil=True)
def _max_pool_bwd_disjoint(dout, argmax, ph, pw, sh, sw, zero, dxp):
    """Windows that never overlap (stride >= pool): write each window once, no read-modify-write."""
    n_b, n_h, n_w, n_c = dout.shape
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                g = dout[n, i, j]                                  # (C,) views
                a = argmax[n, i, j]
                for kh in range(ph):
                    for kw in range(pw):
                        k = kh * pw + kw
                        dx = dxp[n, i * sh + kh, j * sw + kw]
                        for c in range(n_c):
                            gc = g[c]
                            dx[c] = gc if a[c] == k else zero


@njit(nogil=True)
def _max_unpool_bwd(dyp, argmax, ph, pw, sh, sw, zero, dx):
    """Gather: ``dx`` (zeros first) adds, for each pixel and channel, ``dyp`` at the tap its argmax
    names (exactly one tap matches, so the sum is that number)."""
    n_b, n_h, n_w, n_c = dx.shape
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                d = dx[n, i, j]                                    # (C,) views
                a = argmax[n, i, j]
                for kh in range(ph):
                    for kw in range(pw):
                        k = kh * pw + kw
                        tap = dyp[n, i * sh + kh, j * sw + kw]
                        for c in range(n_c):
                            t = tap[c]
                            d[c] += t if a[c] == k else zero


@njit(nogil=True)
def _avg_pool_fwd(xp, ph, pw, sh, sw, scale, out):
    n_b, n_h, n_w, n_c = out.shape
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                o = out[n, i, j]                                   # (C,)
                first = xp[n, i * sh, j * sw]
                for c in range(n_c):
                    o[c] = first[c]
                for kh in range(ph):
                    for kw in range(pw):
                        if kh + kw == 0:
                            continue
                        tap = xp[n, i * sh + kh, j * sw + kw]
                        for c in range(n_c):
                            o[c] += tap[c]
                for c in range(n_c):
                    o[c] *= scale


@njit(nogil=True)
def _avg_pool_fwd_2x2(xp, scale, out):
    """:func:`_avg_pool_fwd` for 2x2 windows at stride 2: the four taps summed in registers,
    one store per output (the general loop adds into the output once per tap)."""
    n_b, n_h, n_w, n_c = out.shape
    for n in range(n_b):
        for i in range(n_h):
            top, bottom = xp[n, 2 * i], xp[n, 2 * i + 1]           # (W, C)
            o = out[n, i]                                           # (Wo, C)
            for j in range(n_w):
                for c in range(n_c):
                    o[j, c] = ((top[2 * j, c] + top[2 * j + 1, c])
                               + (bottom[2 * j, c] + bottom[2 * j + 1, c])) * scale


@njit(nogil=True)
def _avg_pool_bwd_disjoint(dout, ph, pw, sh, sw, scale, dxp):
    """Windows that never overlap (stride >= pool): each covered element written once, no zeros
    first and no read-modify-write (the caller zeroes what no window covers)."""
    n_b, n_h, n_w, n_c = dout.shape
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                g = dout[n, i, j]
                for kh in range(ph):
                    for kw in range(pw):
                        dx = dxp[n, i * sh + kh, j * sw + kw]
                        for c in range(n_c):
                            dx[c] = g[c] * scale


@njit(nogil=True)
def _avg_pool_bwd(dout, ph, pw, sh, sw, scale, dxp):
    n_b, n_h, n_w, n_c = dout.shape
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                g = dout[n, i, j]
                for kh in range(ph):
                    for kw in range(pw):
                        dx = dxp[n, i * sh + kh, j * sw + kw]
                        for c in range(n_c):
                            dx[c] += g[c] * scale


@register("max_pool2d_forward", "numba", fastest=True)
def max_pool2d_forward_numba(xp, pool, stride):
    """Compiled running maximum per output pixel. Returns ``(out, argmax)``."""
    ho, wo = _out_hw(xp.shape, pool, stride)
    out = np.empty((xp.shape[0], ho, wo, xp.shape[3]), dtype=xp.dtype)
    argmax = np.empty(out.shape, dtype=argmax_dtype(pool))

    def run(s):
        if tuple(pool) == tuple(stride) == (2, 2):               # the usual case: taps in registers
            _max_pool_fwd_2x2(xp[s], out[s], argmax[s])
            return
        if tuple(pool) == (3, 3) and tuple(stride) == (2, 2):   # ResNet's stem pool, likewise
            _max_pool_fwd_3x3_s2(xp[s], out[s], argmax[s])
            return
        spare, spare_arg = np.empty(out.shape[3], dtype=out.dtype), np.empty(out.shape[3], dtype=argmax.dtype)
        _max_pool_fwd(xp[s], pool[0], pool[1], stride[0], stride[1], spare, spare_arg, out[s], argmax[s])

    over_batch(len(xp), xp.size, run)
    return out, argmax


@register("max_pool2d_backward", "numba", fastest=True)
def max_pool2d_backward_numba(dout, argmax, xp_shape, pool, stride):
    """Compiled scatter of ``dout`` to the stored argmax positions."""
    (ph, pw), (sh, sw) = pool, stride
    zero = dout.dtype.type(0)
    if sh < ph or sw < pw:                     # overlapping windows: accumulate
        dxp = np.zeros(xp_shape, dtype=dout.dtype)
        over_batch(len(dxp), dxp.size, lambda s: _max_pool_bwd(dout[s], argmax[s], ph, pw, sh, sw, zero, dxp[s]))
        return dxp
    # Disjoint windows (the usual 2x2, stride 2): every covered element is
    # written exactly once, so only the uncovered ones need zeros first.
    ho, wo = dout.shape[1:3]
    if (sh, sw) == (ph, pw):
        dxp = np.empty(xp_shape, dtype=dout.dtype)
        dxp[:, ho * sh:] = 0                    # rows below the last window
        dxp[:, :, wo * sw:] = 0                 # columns right of the last window
    else:
        dxp = np.zeros(xp_shape, dtype=dout.dtype)   # gaps between windows
    over_batch(len(dxp), dxp.size, lambda s: _max_pool_bwd_disjoint(dout[s], argmax[s], ph, pw, sh, sw, zero,
                                                                     dxp[s]))
    return dxp


@register("max_unpool2d_backward", "numba", fastest=True)
def max_unpool2d_backward_numba(dyp, argmax, pool, stride):
    """Compiled gather of ``dyp`` at the stored argmax positions."""
    dx = np.zeros(argmax.shape, dtype=dyp.dtype)
    zero = dyp.dtype.type(0)
    over_batch(len(dx), dyp.size, lambda s: _max_unpool_bwd(dyp[s], argmax[s], pool[0], pool[1], stride[0],
                                                            stride[1], zero, dx[s]))
    return dx


@register("avg_pool2d_forward", "numba", fastest=True)
def avg_pool2d_forward_numba(xp, pool, stride):
    """Compiled window sums times ``1 / (PH * PW)``."""
    ho, wo = _out_hw(xp.shape, pool, stride)
    out = np.empty((xp.shape[0], ho, wo, xp.shape[3]), dtype=xp.dtype)
    scale = xp.dtype.type(1.0 / (pool[0] * pool[1]))    # in the array's dtype: float32 math stays float32
    if tuple(pool) == tuple(stride) == (2, 2):             # the usual case: taps in registers
        over_batch(len(xp), xp.size, lambda s: _avg_pool_fwd_2x2(xp[s], scale, out[s]))
        return out
    over_batch(len(xp), xp.size, lambda s: _avg_pool_fwd(xp[s], pool[0], pool[1], stride[0], stride[1], scale, out[s]))
    return out


@register("avg_pool2d_backward", "numba", fastest=True)
def avg_pool2d_backward_numba(dout, xp_shape, pool, stride):
    """Compiled scatter of ``dout / (PH * PW)`` over each window."""
    (ph, pw), (sh, sw) = pool, stride
    scale = dout.dtype.type(1.0 / (ph * pw))
    if sh < ph or sw < pw:                     # overlapping windows: accumulate over zeros
        dxp = np.zeros(xp_shape, dtype=dout.dtype)
        over_batch(len(dxp), dxp.size, lambda s: _avg_pool_bwd(dout[s], ph, pw, sh, sw, scale, dxp[s]))
        return dxp
    ho, wo = dout.shape[1:3]
    if (sh, sw) == (ph, pw):                   # windows tile the input: zeros only past the last ones
        dxp = np.empty(xp_shape, dtype=dout.dtype)
        dxp[:, ho * sh:] = 0
        dxp[:, :, wo * sw:] = 0
    else:
        dxp = np.zeros(xp_shape, dtype=dout.dtype)   # gaps between windows
    over_batch(len(dxp), dxp.size, lambda s: _avg_pool_bwd_disjoint(dout[s], ph, pw, sh, sw, scale, dxp[s]))
    return dxp


#: pixels per partial sum of the global average: summed in the input's dtype, then in float64
PIXELS_PER_PARTIAL = 256


@njit(nogil=True)
def _global_avg_pool_fwd(x3, block, part, total, out):
    """out[n] = mean of the rows of x3[n] ``(H W, C)``; blocks of rows summed in ``part`` (the
    input's dtype), then into ``total`` (float64)."""
    n_b, n_p, n_c = x3.shape
    for n in range(n_b):
        for c in range(n_c):
            total[c] = 0.0
        for p0 in range(0, n_p, block):
            for c in range(n_c):
                part[c] = 0
            for p in range(p0, min(n_p, p0 + block)):
                row = x3[n, p]
                for c in range(n_c):
                    part[c] += row[c]
            for c in range(n_c):
                total[c] += part[c]
        for c in range(n_c):
            out[n, c] = total[c] / n_p


@register("global_avg_pool2d_forward", "numba", fastest=True)
def global_avg_pool2d_forward_numba(x):
    """One pass over the pixels of each image, the batch shared out among the threads."""
    n, h, w, c = x.shape
    x3 = x.reshape(n, h * w, c)                                          # (N, H W, C)
    out = np.empty((n, c), dtype=x.dtype)

    def run(s):
        part, total = np.empty(c, dtype=x.dtype), np.empty(c)
        _global_avg_pool_fwd(x3[s], PIXELS_PER_PARTIAL, part, total, out[s])

    over_batch(n, x.size, run)
    return out
