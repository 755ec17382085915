"""Depthwise convolution ops of the kernel table: ``depthwise_conv2d_forward`` and ``_backward``.

Every backend takes the same arguments, in the order of the dense convolution's ops, and
returns the same arrays::

    depthwise_conv2d_forward(x, w, b, win)                             -> out (N, Ho, Wo, C M)
    depthwise_conv2d_backward(dout, x, w, win, need_input_grad=True)   -> (dx or None, dw, db)

    x  (N, H, W, C) unpadded     w  (KH, KW, C, M)     b  (C M,) or None
    win  a Window: stride, dilation and the zero padding around x

The math, and the ``naive`` backend, is :mod:`npvision.kernels.reference.depthwise_conv2d`
(read that file first):

    out[n, i, j, c M + m] = sum_{kh, kw} xp[n, i sh + kh dh, j sw + kw dw, c] w[kh, kw, c, m]

A depthwise convolution does so little arithmetic per byte (KH KW multiply-adds per input
value) that copying the input into a padded array and cropping the padded gradient cost
more than the loops themselves: the numba kernels never pad, they skip the taps that fall in
the padding. The numpy kernels pad and crop, as one would by hand. The numba kernels add up
the bias gradient while ``dout`` is in cache for ``dw``.

Kernels receive C-contiguous arrays of one float dtype and never validate.
"""

from __future__ import annotations

import numpy as np

from .._padding import crop_hw, pad_hw, padded_shape
from . import register
from ._jit import njit
from .blas import channel_sums, over_batch
from .reference import depthwise_conv2d as reference


def _out_hw(xp_shape, w_shape, stride, dilation) -> tuple[int, int]:
    """``(Ho, Wo)`` of a depthwise convolution over a padded input ``(N, Hp, Wp, C)``."""
    return ((xp_shape[1] - dilation[0] * (w_shape[0] - 1) - 1) // stride[0] + 1,
            (xp_shape[2] - dilation[1] * (w_shape[1] - 1) - 1) // stride[1] + 1)


# ---------------------------------------------------------------------------
# naive: the reference loops on the padded input
# ---------------------------------------------------------------------------

@register("depthwise_conv2d_forward", "naive")
def depthwise_conv2d_forward_naive(x, w, b, win):
    """Pad ``x``, run :func:`~npvision.kernels.reference.depthwise_conv2d.depthwise_conv2d_forward`, add ``b``."""
    out = reference.depthwise_conv2d_forward(pad_hw(x, win.pads), w, win.stride, win.dilation)
    return out if b is None else out + b


@register("depthwise_conv2d_backward", "naive")
def depthwise_conv2d_backward_naive(dout, x, w, win, need_input_grad=True):
    """Pad ``x``, run :func:`~npvision.kernels.reference.depthwise_conv2d.depthwise_conv2d_backward`,
    crop ``dxp`` to ``dx``."""
    dxp, dw, db = reference.depthwise_conv2d_backward(dout, pad_hw(x, win.pads), w, win.stride, win.dilation)
    return (np.ascontiguousarray(crop_hw(dxp, win.pads)) if need_input_grad else None), dw, db


# ---------------------------------------------------------------------------
# numpy: loop over the KH*KW taps, each a strided view (N, Ho, Wo, C)
# ---------------------------------------------------------------------------

def _tap(a, kh, kw, out_hw, stride, dilation):
    """The strided view ``a[:, i*SH + kh*DH, j*SW + kw*DW, :]`` over every output (i, j): (N, Ho, Wo, C)."""
    (ho, wo), (s_h, s_w), (d_h, d_w) = out_hw, stride, dilation
    r0, c0 = kh * d_h, kw * d_w
    return a[:, r0:r0 + s_h * (ho - 1) + 1:s_h, c0:c0 + s_w * (wo - 1) + 1:s_w, :]


@register("depthwise_conv2d_forward", "numpy")
def depthwise_conv2d_forward_numpy(x, w, b, win):
    """Sum over taps of (strided view) x (that tap's per-channel weights), broadcast over M."""
    stride, dilation, pads = win
    xp = pad_hw(x, pads)                                                 # (N, Hp, Wp, C)
    kh_n, kw_n, n_c, mult = w.shape
    out_hw = _out_hw(xp.shape, w.shape, stride, dilation)
    out = np.zeros((xp.shape[0], *out_hw, n_c, mult), dtype=xp.dtype)   # (N, Ho, Wo, C, M)
    prod = np.empty_like(out)
    for kh in range(kh_n):
        for kw in range(kw_n):
            xs = _tap(xp, kh, kw, out_hw, stride, dilation)             # (N, Ho, Wo, C)
            np.multiply(xs[..., None], w[kh, kw], out=prod)             # (N, Ho, Wo, C, M)
            out += prod
    out = out.reshape(xp.shape[0], *out_hw, n_c * mult)                 # (N, Ho, Wo, C*M)
    if b is not None:
        out += b
    return out


@register("depthwise_conv2d_backward", "numpy")
def depthwise_conv2d_backward_numpy(dout, x, w, win, need_input_grad=True):
    """The input gradient (taps added into strided views of a padded gradient, then cropped) and
    the weight gradient (one contraction per tap)."""
    dx = _input_grad_numpy(dout, w, x.shape, *win) if need_input_grad else None
    return (dx,) + _weight_grad_numpy(dout, x, w.shape, *win)


def _input_grad_numpy(dout, w, x_shape, stride, dilation, pads):
    """For each tap, add ``sum_m dout * w[kh, kw]`` into that tap's strided view of dxp."""
    kh_n, kw_n, n_c, mult = w.shape
    out_hw = dout.shape[1:3]
    g = dout.reshape(dout.shape[0], *out_hw, n_c, mult)                 # (N, Ho, Wo, C, M)
    dxp = np.zeros(padded_shape(x_shape, pads), dtype=dout.dtype)      # (N, Hp, Wp, C)
    for kh in range(kh_n):
        for kw in range(kw_n):
            if mult == 1:
                contrib = g[..., 0] * w[kh, kw, :, 0]                   # (N, Ho, Wo, C)
            else:
                contrib = np.einsum("nhwcm,cm->nhwc", g, w[kh, kw])     # (N, Ho, Wo, C)
            _tap(dxp, kh, kw, out_hw, stride, dilation)[...] += contrib
    return np.ascontiguousarray(crop_hw(dxp, pads))                      # (N, H, W, C)


def _weight_grad_numpy(dout, x, w_shape, stride, dilation, pads):
    """For each tap, ``dw[kh, kw, c, m] = sum_{n,i,j} (strided view)[..., c] * dout[..., c, m]``;
    ``db = sum_{n,i,j} dout``."""
    xp = pad_hw(x, pads)                                                 # (N, Hp, Wp, C)
    kh_n, kw_n, n_c, mult = w_shape
    out_hw = dout.shape[1:3]
    g = dout.reshape(dout.shape[0], *out_hw, n_c, mult)                 # (N, Ho, Wo, C, M)
    dw = np.empty(w_shape, dtype=dout.dtype)
    for kh in range(kh_n):
        for kw in range(kw_n):
            xs = _tap(xp, kh, kw, out_hw, stride, dilation)             # (N, Ho, Wo, C)
            dw[kh, kw] = np.einsum("nhwc,nhwcm->cm", xs, g)             # (C, M)
    return dw, channel_sums(dout)                                        # (C*M,)


# ---------------------------------------------------------------------------
# numba: compiled loops over the unpadded input, channels innermost
# ---------------------------------------------------------------------------
# A multiplier M > 1 is reduced to M = 1 on C*M channels by repeating each
# input channel M times (np.repeat gives channel order c*M + m, as wanted):
#     out = depthwise(repeat(x, M), w.reshape(KH, KW, C*M))
# so the compiled loops only handle one weight per channel.
#
# Padding is never materialized. Output row i reads input row
# r = i*SH - top + kh*DH, skipped when it falls outside 0..H-1; along a row,
# output column j reads q = j*SW - left + kw*DW, and only the j with q inside
# 0..W-1 are visited (the range [j_lo, j_hi) below). 3x3 kernels have loops of
# their own that keep the nine products in registers: _dw_fwd_3x3 at any stride
# and dilation, and, at stride 1 and dilation 1, _dw_fwd_3x3_s1 and
# _dw_bwd_params_3x3_s1, which work on four output rows at a time.
#
# The gradient of x at stride 1 is the forward loop again, run on dout with the
# kernel flipped. At other strides each task owns whole rows of dx and *gathers*
# into them (no two tasks write the same value, so no atomics and no zero-filled
# padded buffer to crop afterwards). The weight and bias gradients are summed per
# sample, then over the batch.
#
# fastmath "contract" lets each multiply-add be one fused (FMA) instruction;
# nothing is reordered: where a sum is split into parts (the 3x3 loops), the
# source says so with parentheses.

@njit(inline="always")
def _first_inside(offset, step):
    """The smallest j >= 0 with j*step + offset >= 0."""
    return max(0, (step - 1 - offset) // step)


@njit(inline="always")
def _end_inside(offset, step, size, n_out):
    """One past the largest j < n_out with j*step + offset <= size - 1."""
    return max(0, min(n_out, (size - 1 - offset) // step + 1))


@njit(nogil=True, fastmath={"contract"})
def _dw_fwd(x, w, b, s_h, s_w, d_h, d_w, p_t, p_l, out):
    n_b, n_h, n_w, n_c = out.shape
    h_in, w_in = x.shape[1], x.shape[2]
    k_h, k_w = w.shape[0], w.shape[1]
    for t in range(n_b * n_h):                  # one output row (n, i) per task
        n = t // n_h
        i = t % n_h
        for j in range(n_w):
            for c in range(n_c):
                out[n, i, j, c] = b[c]
        for kh in range(k_h):
            r = i * s_h - p_t + kh * d_h
            if r < 0 or r >= h_in:
                continue                         # this tap reads the zero padding
            for kw in range(k_w):
                off = kw * d_w - p_l             # column q = j*SW + off
                for j in range(_first_inside(off, s_w), _end_inside(off, s_w, w_in, n_w)):
                    q = j * s_w + off
                    for c in range(n_c):
                        out[n, i, j, c] += x[n, r, q, c] * w[kh, kw, c]



@njit(inline="always")
def _tap_index(r, size, k):
    """``(r, k)`` when row (or column) r is inside ``0..size-1``, else ``(0, 3)``: read any real
    row and multiply it by the zero row (column) 3 of the padded weights."""
    if 0 <= r < size:
        return r, k
    return 0, 3


@njit(nogil=True, fastmath={"contract"})
def _dw_fwd_3x3(x, wz, b, s_h, s_w, d_h, d_w, p_t, p_l, out):
    """The 3x3 kernel of MobileNet and EfficientNet, at any stride and dilation: the nine
    products of an output channel are summed in registers and the output written once (the
    loop over taps in :func:`_dw_fwd` reads and writes each output nine times, and runs at
    half the speed). The sum is three sums of three, one per kernel row: three short chains
    of multiply-adds run faster than one nine long.

    ``wz`` ``(4, 4, C)`` holds the weights in ``wz[:3, :3]`` and zeros in row and column 3. A
    tap that falls in the padding reads a real pixel and multiplies it by one of those zeros,
    so the border needs no code of its own.
    """
    n_b, n_h, n_w, n_c = out.shape
    h_in, w_in = x.shape[1], x.shape[2]
    for t in range(n_b * n_h):                  # one output row (n, i) per task
        n = t // n_h
        i = t % n_h
        o = out[n, i]                            # (Wo, C)
        r0, a0 = _tap_index(i * s_h - p_t, h_in, 0)
        r1, a1 = _tap_index(i * s_h - p_t + d_h, h_in, 1)
        r2, a2 = _tap_index(i * s_h - p_t + 2 * d_h, h_in, 2)
        x0 = x[n, r0]                            # (W, C): the three input rows
        x1 = x[n, r1]
        x2 = x[n, r2]
        for j in range(n_w):
            q0, e0 = _tap_index(j * s_w - p_l, w_in, 0)
            q1, e1 = _tap_index(j * s_w - p_l + d_w, w_in, 1)
            q2, e2 = _tap_index(j * s_w - p_l + 2 * d_w, w_in, 2)
            for c in range(n_c):
                o[j, c] = ((b[c] + x0[q0, c] * wz[a0, e0, c] + x0[q1, c] * wz[a0, e1, c]
                            + x0[q2, c] * wz[a0, e2, c])
                           + (x1[q0, c] * wz[a1, e0, c] + x1[q1, c] * wz[a1, e1, c] + x1[q2, c] * wz[a1, e2, c])
                           + (x2[q0, c] * wz[a2, e0, c] + x2[q1, c] * wz[a2, e1, c] + x2[q2, c] * wz[a2, e2, c]))


@njit(inline="always")
def _inside_columns(w_in, n_w, p_l):
    """``(j_lo, j_hi)``: the output columns whose three taps (stride 1, dilation 1) all read
    input columns ``j - p_l .. j - p_l + 2`` inside ``0..w_in-1``."""
    j_lo = min(max(0, p_l), n_w)
    return j_lo, max(j_lo, min(n_w, w_in - 2 + p_l))


@njit(inline="always")
def _border_weights(w, w_in, n_w, p_l, j_lo, j_hi):
    """``(KB, 3, 3, C)``: for each of the KB output columns outside ``j_lo..j_hi-1``, in order,
    the weights with a zero for every tap whose input column falls in the padding."""
    wb = np.empty((n_w - (j_hi - j_lo), 3, 3, w.shape[2]), dtype=w.dtype)
    k = 0
    for j in range(n_w):
        if j_lo <= j < j_hi:
            continue
        for kh in range(3):
            for kw in range(3):
                inside = 0 <= j - p_l + kw < w_in
                for c in range(w.shape[2]):
                    wb[k, kh, kw, c] = w[kh, kw, c] if inside else 0
        k += 1
    return wb


@njit(inline="always")
def _six_rows(x, n, r, zeros):
    """Input rows ``r .. r+5`` of image n, (W, C) each; ``zeros`` for those in the padding."""
    h_in = x.shape[1]
    return (x[n, r] if 0 <= r < h_in else zeros, x[n, r + 1] if 0 <= r + 1 < h_in else zeros,
            x[n, r + 2] if 0 <= r + 2 < h_in else zeros, x[n, r + 3] if 0 <= r + 3 < h_in else zeros,
            x[n, r + 4] if 0 <= r + 4 < h_in else zeros, x[n, r + 5] if 0 <= r + 5 < h_in else zeros)


@njit(inline="always")
def _clamp(q, size):
    return min(max(q, 0), size - 1)


@njit(inline="always")
def _four_rows(rows_in, cols, w, b, rows_out, j):
    """Output column j of the four output rows ``rows_out`` (Wo, C each), from the input columns
    ``cols = (q0, q1, q2)`` of the six input rows ``rows_in`` (W, C each) and the weights w (3, 3, C)."""
    x0, x1, x2, x3, x4, x5 = rows_in
    q0, q1, q2 = cols
    o0, o1, o2, o3 = rows_out
    u0, u1, u2 = x0[q0], x0[q1], x0[q2]             # (C,) each: the input row above o0
    v0, v1, v2 = x1[q0], x1[q1], x1[q2]
    s0, s1, s2 = x2[q0], x2[q1], x2[q2]
    y0, y1, y2 = x3[q0], x3[q1], x3[q2]
    z0, z1, z2 = x4[q0], x4[q1], x4[q2]
    e0, e1, e2 = x5[q0], x5[q1], x5[q2]             # ... and the row below o3
    w00, w01, w02 = w[0, 0], w[0, 1], w[0, 2]       # (C,) each: the nine taps
    w10, w11, w12 = w[1, 0], w[1, 1], w[1, 2]
    w20, w21, w22 = w[2, 0], w[2, 1], w[2, 2]
    p0, p1, p2, p3 = o0[j], o1[j], o2[j], o3[j]
    for c in range(b.shape[0]):
        # every value is loaded before the first store: as far as the compiler knows, a store
        # may change what a later load reads (with loads after stores: 1.7 ms, not 1.1, on one core)
        a00, a01, a02 = w00[c], w01[c], w02[c]
        a10, a11, a12 = w10[c], w11[c], w12[c]
        a20, a21, a22 = w20[c], w21[c], w22[c]
        bc = b[c]
        u0c, u1c, u2c = u0[c], u1[c], u2[c]
        v0c, v1c, v2c = v0[c], v1[c], v2[c]
        s0c, s1c, s2c = s0[c], s1[c], s2[c]
        y0c, y1c, y2c = y0[c], y1[c], y2[c]
        z0c, z1c, z2c = z0[c], z1[c], z2[c]
        e0c, e1c, e2c = e0[c], e1[c], e2[c]
        p0[c] = ((bc + u0c * a00 + u1c * a01 + u2c * a02)
                 + (v0c * a10 + v1c * a11 + v2c * a12) + (s0c * a20 + s1c * a21 + s2c * a22))
        p1[c] = ((bc + v0c * a00 + v1c * a01 + v2c * a02)
                 + (s0c * a10 + s1c * a11 + s2c * a12) + (y0c * a20 + y1c * a21 + y2c * a22))
        p2[c] = ((bc + s0c * a00 + s1c * a01 + s2c * a02)
                 + (y0c * a10 + y1c * a11 + y2c * a12) + (z0c * a20 + z1c * a21 + z2c * a22))
        p3[c] = ((bc + y0c * a00 + y1c * a01 + y2c * a02)
                 + (z0c * a10 + z1c * a11 + z2c * a12) + (e0c * a20 + e1c * a21 + e2c * a22))


@njit(nogil=True, fastmath={"contract"})
def _dw_fwd_3x3_s1(x, w, b, p_t, p_l, out):
    """3x3, stride 1, dilation 1 (the common layer, and every stride-1 input gradient), four
    output rows at a time.

    Output rows i..i+3 read the six input rows ``i - p_t .. i - p_t + 5``: each input value
    loaded feeds up to three outputs and each weight four, where :func:`_dw_fwd_3x3` loads nine
    inputs and nine weights per output. Each output adds up its three kernel rows separately,
    then adds the three sums: short chains of multiply-adds, not one nine long. With these the
    forward of N32 C64 32x32 takes 0.66 ms instead of 0.97 ms (two threads).

    Input rows in the padding are a row of zeros, and output rows past the last go to spare
    rows that are thrown away. The few columns whose taps reach the padding at each side run the
    same loop with their column indices clamped into the image and those taps' weights zero.
    """
    n_b, n_h, n_w, n_c = out.shape
    w_in = x.shape[2]
    zeros = np.zeros((w_in, n_c), dtype=x.dtype)            # (W, C): an input row of padding
    spare = np.empty((3, n_w, n_c), dtype=out.dtype)        # output rows past the last
    j_lo, j_hi = _inside_columns(w_in, n_w, p_l)
    wb = _border_weights(w, w_in, n_w, p_l, j_lo, j_hi)     # (KB, 3, 3, C)
    for n in range(n_b):
        for i in range(0, n_h, 4):
            o0 = out[n, i]                                   # (Wo, C) each
            o1 = out[n, i + 1] if i + 1 < n_h else spare[0]  # one spare row each: rows that
            o2 = out[n, i + 2] if i + 2 < n_h else spare[1]  # may overlap stop the compiler
            o3 = out[n, i + 3] if i + 3 < n_h else spare[2]  # vectorizing (4x slower)
            rows_in = _six_rows(x, n, i - p_t, zeros)        # six input rows (W, C)
            rows_out = (o0, o1, o2, o3)
            for j in range(j_lo, j_hi):
                q = j - p_l                                  # input columns q, q+1, q+2
                _four_rows(rows_in, (q, q + 1, q + 2), w, b, rows_out, j)
            k = 0
            for j in range(n_w):
                if j_lo <= j < j_hi:
                    continue
                q = j - p_l
                cols = (_clamp(q, w_in), _clamp(q + 1, w_in), _clamp(q + 2, w_in))
                _four_rows(rows_in, cols, wb[k], b, rows_out, j)
                k += 1


def _correlate(x, w, b, stride, dilation, top_left, out):
    """Run the compiled forward: ``out`` (N, Ho, Wo, C) from x (N, H, W, C), w (KH, KW, C), b (C,)."""
    args = (stride[0], stride[1], dilation[0], dilation[1], top_left[0], top_left[1])
    if w.shape[:2] == (3, 3) and args[:4] == (1, 1, 1, 1):
        over_batch(len(x), x.size, lambda s: _dw_fwd_3x3_s1(x[s], w, b, *top_left, out[s]))
    elif w.shape[:2] == (3, 3):
        wz = np.zeros((4, 4, w.shape[2]), dtype=w.dtype)                  # (4, 4, C)
        wz[:3, :3] = w
        over_batch(len(x), x.size, lambda s: _dw_fwd_3x3(x[s], wz, b, *args, out[s]))
    else:
        over_batch(len(x), x.size, lambda s: _dw_fwd(x[s], w, b, *args, out[s]))


@njit(nogil=True, fastmath={"contract"})
def _dw_bwd_input(dout, w, s_h, s_w, d_h, d_w, p_t, p_l, dx):
    n_b, h_in, w_in, n_c = dx.shape
    n_h, n_w = dout.shape[1], dout.shape[2]
    k_h, k_w = w.shape[0], w.shape[1]
    for t in range(n_b * h_in):                 # one input row (n, r) of dx per task
        n = t // h_in
        r = t % h_in
        for q in range(w_in):
            for c in range(n_c):
                dx[n, r, q, c] = 0
        for kh in range(k_h):
            num = r + p_t - kh * d_h             # = i*SH for the output row i that read row r
            if num < 0 or num % s_h != 0 or num // s_h >= n_h:
                continue
            i = num // s_h
            for kw in range(k_w):
                off = kw * d_w - p_l             # output column j read input column q = j*SW + off
                for j in range(_first_inside(off, s_w), _end_inside(off, s_w, w_in, n_w)):
                    q = j * s_w + off
                    for c in range(n_c):
                        dx[n, r, q, c] += dout[n, i, j, c] * w[kh, kw, c]


@njit(nogil=True, fastmath={"contract"})
def _dw_bwd_params(dout, x, s_h, s_w, d_h, d_w, p_t, p_l, partial, partial_b):
    """``partial[n]`` is sample n's share of dw (KH, KW, C), ``partial_b[n]`` its share of db (C);
    summed over n afterwards."""
    n_b, n_h, n_w, n_c = dout.shape
    h_in, w_in = x.shape[1], x.shape[2]
    k_h, k_w = partial.shape[1], partial.shape[2]
    for n in range(n_b):
        for i in range(n_h):
            for j in range(n_w):
                for c in range(n_c):
                    partial_b[n, c] += dout[n, i, j, c]
            for kh in range(k_h):
                r = i * s_h - p_t + kh * d_h
                if r < 0 or r >= h_in:
                    continue
                for kw in range(k_w):
                    off = kw * d_w - p_l
                    for j in range(_first_inside(off, s_w), _end_inside(off, s_w, w_in, n_w)):
                        q = j * s_w + off
                        for c in range(n_c):
                            partial[n, kh, kw, c] += x[n, r, q, c] * dout[n, i, j, c]


@njit(nogil=True, fastmath={"contract"})
def _dw_bwd_params_rows(dout, x, s_h, d_h, d_w, p_t, p_l, partial, partial_b):
    """Horizontal stride 1 only: as :func:`_dw_bwd_params`, over whole rows at a time.

    With stride 1 along the width, a tap's products over one output row are two
    contiguous runs of memory, ``x[n, r, j + off, :]`` and ``dout[n, i, j, :]`` for
    j in [lo, hi), multiplied element by element. One loop over the run (Wo*C long,
    not C) is what the compiler vectorizes well; the products are accumulated per
    (j, c) in ``acc`` and summed over j once per sample.
    """
    n_b, n_h, n_w, n_c = dout.shape
    h_in, w_in = x.shape[1], x.shape[2]
    k_h, k_w = partial.shape[1], partial.shape[2]
    for n in range(n_b):
        acc = np.zeros((k_h, k_w, n_w * n_c), dtype=partial.dtype)      # (KH, KW, Wo*C)
        acc_b = np.zeros(n_w * n_c, dtype=partial.dtype)                 # (Wo*C,)
        for i in range(n_h):
            g = dout[n, i].reshape(n_w * n_c)                             # output row, flat
            for k in range(n_w * n_c):
                acc_b[k] += g[k]
            for kh in range(k_h):
                r = i * s_h - p_t + kh * d_h
                if r < 0 or r >= h_in:
                    continue
                xr = x[n, r].reshape(w_in * n_c)                          # input row, flat
                for kw in range(k_w):
                    off = kw * d_w - p_l
                    lo = _first_inside(off, 1)
                    hi = _end_inside(off, 1, w_in, n_w)
                    if hi <= lo:
                        continue
                    m = (hi - lo) * n_c
                    xs = xr[(lo + off) * n_c:(lo + off) * n_c + m]         # x[n, r, lo+off:hi+off, :]
                    gs = g[lo * n_c:lo * n_c + m]                         # dout[n, i, lo:hi, :]
                    a = acc[kh, kw, lo * n_c:lo * n_c + m]
                    for k in range(m):                 # indices from 0: no negative-index checks
                        a[k] += xs[k] * gs[k]
        for kh in range(k_h):
            for kw in range(k_w):
                for j in range(n_w):
                    for c in range(n_c):
                        partial[n, kh, kw, c] += acc[kh, kw, j * n_c + c]
        for j in range(n_w):
            for c in range(n_c):
                partial_b[n, c] += acc_b[j * n_c + c]


@njit(nogil=True, fastmath={"contract"})
def _dw_bwd_params_3x3_s1(dout, x, p_t, p_l, partial, partial_b):
    """As :func:`_dw_bwd_params` for 3x3, stride 1, dilation 1, four rows of dout at a time.

    Rows i..i+3 of dout meet the six input rows ``i - p_t .. i - p_t + 5``; each value loaded
    from them feeds up to three weight gradients, and each running sum in ``partial`` is read
    and written once per four products, where one row at a time does so for every product
    (about twice the speed of :func:`_dw_bwd_params_rows` here). Input rows in the padding are
    zeros, as are the rows past dout's last; a tap whose input column falls in the padding is
    skipped.
    """
    n_b, n_h, n_w, n_c = dout.shape
    w_in = x.shape[2]
    zeros = np.zeros((w_in, n_c), dtype=x.dtype)            # (W, C): an input row of padding
    zeros_g = np.zeros((n_w, n_c), dtype=dout.dtype)        # (Wo, C): a dout row past the last
    for n in range(n_b):
        dw, db = partial[n], partial_b[n]                    # (3, 3, C), (C,)
        for i in range(0, n_h, 4):
            g0 = dout[n, i]                                  # (Wo, C) each
            g1 = dout[n, i + 1] if i + 1 < n_h else zeros_g
            g2 = dout[n, i + 2] if i + 2 < n_h else zeros_g
            g3 = dout[n, i + 3] if i + 3 < n_h else zeros_g
            x0, x1, x2, x3, x4, x5 = _six_rows(x, n, i - p_t, zeros)   # (W, C) each
            for j in range(n_w):
                e0, e1, e2, e3 = g0[j], g1[j], g2[j], g3[j]  # (C,) each: dout at column j
                for c in range(n_c):
                    db[c] += (e0[c] + e1[c]) + (e2[c] + e3[c])
                for kw in range(3):
                    q = j - p_l + kw                         # the input column tap kw reads
                    if q < 0 or q >= w_in:
                        continue
                    u, v, s, y, z, t = x0[q], x1[q], x2[q], x3[q], x4[q], x5[q]
                    top, mid, bot = dw[0, kw], dw[1, kw], dw[2, kw]   # (C,) each
                    for c in range(n_c):
                        f0, f1, f2, f3 = e0[c], e1[c], e2[c], e3[c]
                        vc, sc, yc, zc = v[c], s[c], y[c], z[c]
                        top[c] += (u[c] * f0 + vc * f1) + (sc * f2 + yc * f3)
                        mid[c] += (vc * f0 + sc * f1) + (yc * f2 + zc * f3)
                        bot[c] += (sc * f0 + yc * f1) + (zc * f2 + t[c] * f3)


def _repeat_channels(x, mult):
    """``(N, H, W, C)`` -> ``(N, H, W, C*M)`` with channel ``c*M + m`` a copy of channel ``c``."""
    return x if mult == 1 else np.repeat(x, mult, axis=3)


@register("depthwise_conv2d_forward", "numba", fastest=True)
def depthwise_conv2d_forward_numba(x, w, b, win):
    """Compiled per-channel correlation (multiplier folded into the channels), padding never
    copied; each output starts from its bias, so adding it costs no extra pass over the output."""
    stride, dilation, pads = win
    k_h, k_w, n_c, mult = w.shape
    ho, wo = _out_hw(padded_shape(x.shape, pads), w.shape, stride, dilation)
    out = np.empty((x.shape[0], ho, wo, n_c * mult), dtype=x.dtype)
    start = np.zeros(n_c * mult, dtype=x.dtype) if b is None else b              # (C*M,)
    _correlate(_repeat_channels(x, mult), w.reshape(k_h, k_w, n_c * mult), start, stride, dilation,
               (pads[0][0], pads[1][0]), out)
    return out


@register("depthwise_conv2d_backward", "numba", fastest=True)
def depthwise_conv2d_backward_numba(dout, x, w, win, need_input_grad=True):
    """The compiled input gradient (unless not needed), then the weight and bias gradients."""
    dx = _input_grad_numba(dout, w, x.shape, *win) if need_input_grad else None
    return (dx,) + _weight_grad_numba(dout, x, w.shape, *win)


def _input_grad_numba(dout, w, x_shape, stride, dilation, pads):
    """Stride 1: the forward kernel run on dout with the kernel flipped (a full correlation);
    other strides: a compiled gather of ``dout * w`` into each row of dx. The M copies of a
    channel are summed."""
    k_h, k_w, n_c, mult = w.shape
    n_b, h, w_, _ = x_shape
    wm = w.reshape(k_h, k_w, n_c * mult)                                       # (KH, KW, C*M)
    dx = np.empty((n_b, h, w_, n_c * mult), dtype=dout.dtype)               # (N, H, W, C*M)
    if tuple(stride) == (1, 1):
        # dx[r, q] = sum dout[r + top - kh*DH, q + left - kw*DW] * w[kh, kw]: a stride-1
        # correlation of dout with w[::-1, ::-1], padded by DH*(KH-1) - top (and likewise)
        full_pads = (dilation[0] * (k_h - 1) - pads[0][0], dilation[1] * (k_w - 1) - pads[1][0])
        _correlate(dout, np.ascontiguousarray(wm[::-1, ::-1]), np.zeros(n_c * mult, dtype=dout.dtype),
                   (1, 1), dilation, full_pads, dx)
    else:
        over_batch(len(dx), dx.size, lambda s: _dw_bwd_input(dout[s], wm, stride[0], stride[1], dilation[0],
                                                            dilation[1], pads[0][0], pads[1][0], dx[s]))
    if mult > 1:
        dx = dx.reshape(n_b, h, w_, n_c, mult).sum(axis=4)                  # (N, H, W, C)
    return dx


def _weight_grad_numba(dout, x, w_shape, stride, dilation, pads):
    """Compiled per-sample gradients of the weights and the bias, then summed over the batch."""
    k_h, k_w, n_c, mult = w_shape
    partial = np.zeros((dout.shape[0], k_h, k_w, n_c * mult), dtype=dout.dtype)  # (N, KH, KW, C*M)
    partial_b = np.zeros((dout.shape[0], n_c * mult), dtype=dout.dtype)          # (N, C*M)
    xm = _repeat_channels(x, mult)
    (s_h, s_w), (d_h, d_w), p_t, p_l = stride, dilation, pads[0][0], pads[1][0]
    if (k_h, k_w, s_h, s_w, d_h, d_w) == (3, 3, 1, 1, 1, 1):
        over_batch(len(dout), dout.size, lambda s: _dw_bwd_params_3x3_s1(
            dout[s], xm[s], p_t, p_l, partial[s], partial_b[s]))
    elif s_w == 1:
        over_batch(len(dout), dout.size, lambda s: _dw_bwd_params_rows(
            dout[s], xm[s], s_h, d_h, d_w, p_t, p_l, partial[s], partial_b[s]))
    else:
        over_batch(len(dout), dout.size, lambda s: _dw_bwd_params(
            dout[s], xm[s], s_h, s_w, d_h, d_w, p_t, p_l, partial[s], partial_b[s]))
    return partial.sum(axis=0).reshape(w_shape), partial_b.sum(axis=0)       # (KH, KW, C, M), (C*M,)
