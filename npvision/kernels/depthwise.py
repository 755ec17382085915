"""Depthwise convolution kernels, forward and both backward passes, three ways.

A depthwise convolution filters every input channel on its own: channel ``c``
is cross-correlated with ``M`` kernels (the depth multiplier), giving output
channels ``c*M + m``. With the padded input ``xp`` of shape ``(N, Hp, Wp, C)``,
weights ``w`` of shape ``(KH, KW, C, M)``, stride ``(SH, SW)`` and dilation
``(DH, DW)``:

    out[n, i, j, c*M + m] = sum_{kh, kw} xp[n, i*SH + kh*DH, j*SW + kw*DW, c] * w[kh, kw, c, m]

    Ho = floor((Hp - DH*(KH - 1) - 1) / SH) + 1      (Wo likewise)

Its gradients, with ``g = dout`` of shape ``(N, Ho, Wo, C*M)``:

    dxp[n, i*SH + kh*DH, j*SW + kw*DW, c] += sum_m g[n, i, j, c*M + m] * w[kh, kw, c, m]
    dw[kh, kw, c, m] = sum_{n, i, j} xp[n, i*SH + kh*DH, j*SW + kw*DW, c] * g[n, i, j, c*M + m]

(the bias gradient, ``sum_{n, i, j} g``, is left to :mod:`npvision.functional`).

Kernels receive already padded, C-contiguous arrays of one float dtype and
resolved ``(h, w)`` int pairs, and never validate.
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit, prange


def _out_hw(xp_shape, w_shape, stride, dilation) -> tuple[int, int]:
    """``(Ho, Wo)`` of a depthwise convolution over a padded input ``(N, Hp, Wp, C)``."""
    return ((xp_shape[1] - dilation[0] * (w_shape[0] - 1) - 1) // stride[0] + 1,
            (xp_shape[2] - dilation[1] * (w_shape[1] - 1) - 1) // stride[1] + 1)


# ---------------------------------------------------------------------------
# naive: one output value at a time, as the course's conv_forward
# ---------------------------------------------------------------------------

@register("depthwise_conv2d_forward", "naive")
def depthwise_conv2d_forward_naive(xp, w, stride, dilation):
    """``out[n, h, w, c*M + m] = sum(window of channel c * w[:, :, c, m])``."""
    m_b = xp.shape[0]
    f_h, f_w, n_c, mult = w.shape
    (s_h, s_w), (d_h, d_w) = stride, dilation
    n_h, n_w = _out_hw(xp.shape, w.shape, stride, dilation)
    out = np.zeros((m_b, n_h, n_w, n_c * mult), dtype=xp.dtype)
    for i in range(m_b):
        for h in range(n_h):
            vert_start = h * s_h
            vert_end = vert_start + d_h * (f_h - 1) + 1
            for ww in range(n_w):
                horiz_start = ww * s_w
                horiz_end = horiz_start + d_w * (f_w - 1) + 1
                for c in range(n_c):
                    a_slice = xp[i, vert_start:vert_end:d_h, horiz_start:horiz_end:d_w, c]  # (KH, KW)
                    for m in range(mult):
                        out[i, h, ww, c * mult + m] = np.sum(a_slice * w[:, :, c, m])
    return out


@register("depthwise_conv2d_backward_input", "naive")
def depthwise_conv2d_backward_input_naive(dout, w, xp_shape, stride, dilation):
    """Each output's gradient flows back to its window: ``dxp[window] += w[:, :, c, m] * dout``."""
    m_b, n_h, n_w, _ = dout.shape
    f_h, f_w, n_c, mult = w.shape
    (s_h, s_w), (d_h, d_w) = stride, dilation
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for i in range(m_b):
        for h in range(n_h):
            vert_start = h * s_h
            vert_end = vert_start + d_h * (f_h - 1) + 1
            for ww in range(n_w):
                horiz_start = ww * s_w
                horiz_end = horiz_start + d_w * (f_w - 1) + 1
                for c in range(n_c):
                    for m in range(mult):
                        dxp[i, vert_start:vert_end:d_h, horiz_start:horiz_end:d_w, c] += (
                            w[:, :, c, m] * dout[i, h, ww, c * mult + m])
    return dxp


@register("depthwise_conv2d_backward_weight", "naive")
def depthwise_conv2d_backward_weight_naive(dout, xp, w_shape, stride, dilation):
    """``dw[:, :, c, m] += window of channel c * dout[n, h, w, c*M + m]`` over every output."""
    m_b, n_h, n_w, _ = dout.shape
    f_h, f_w, n_c, mult = w_shape
    (s_h, s_w), (d_h, d_w) = stride, dilation
    dw = np.zeros(w_shape, dtype=dout.dtype)
    for i in range(m_b):
        for h in range(n_h):
            vert_start = h * s_h
            vert_end = vert_start + d_h * (f_h - 1) + 1
            for ww in range(n_w):
                horiz_start = ww * s_w
                horiz_end = horiz_start + d_w * (f_w - 1) + 1
                for c in range(n_c):
                    a_slice = xp[i, vert_start:vert_end:d_h, horiz_start:horiz_end:d_w, c]  # (KH, KW)
                    for m in range(mult):
                        dw[:, :, c, m] += a_slice * dout[i, h, ww, c * mult + m]
    return dw


# ---------------------------------------------------------------------------
# numpy: loop over the KH*KW taps, each a strided view (N, Ho, Wo, C)
# ---------------------------------------------------------------------------

def _tap(a, kh, kw, out_hw, stride, dilation):
    """The strided view ``a[:, i*SH + kh*DH, j*SW + kw*DW, :]`` over every output (i, j): (N, Ho, Wo, C)."""
    (ho, wo), (s_h, s_w), (d_h, d_w) = out_hw, stride, dilation
    r0, c0 = kh * d_h, kw * d_w
    return a[:, r0:r0 + s_h * (ho - 1) + 1:s_h, c0:c0 + s_w * (wo - 1) + 1:s_w, :]


@register("depthwise_conv2d_forward", "numpy")
def depthwise_conv2d_forward_numpy(xp, w, stride, dilation):
    """Sum over taps of (strided view) x (that tap's per-channel weights), broadcast over M."""
    kh_n, kw_n, n_c, mult = w.shape
    out_hw = _out_hw(xp.shape, w.shape, stride, dilation)
    out = np.zeros((xp.shape[0], *out_hw, n_c, mult), dtype=xp.dtype)   # (N, Ho, Wo, C, M)
    prod = np.empty_like(out)
    for kh in range(kh_n):
        for kw in range(kw_n):
            xs = _tap(xp, kh, kw, out_hw, stride, dilation)             # (N, Ho, Wo, C)
            np.multiply(xs[..., None], w[kh, kw], out=prod)             # (N, Ho, Wo, C, M)
            out += prod
    return out.reshape(xp.shape[0], *out_hw, n_c * mult)                # (N, Ho, Wo, C*M)


@register("depthwise_conv2d_backward_input", "numpy")
def depthwise_conv2d_backward_input_numpy(dout, w, xp_shape, stride, dilation):
    """For each tap, add ``sum_m dout * w[kh, kw]`` into that tap's strided view of dxp."""
    kh_n, kw_n, n_c, mult = w.shape
    out_hw = dout.shape[1:3]
    g = dout.reshape(dout.shape[0], *out_hw, n_c, mult)                 # (N, Ho, Wo, C, M)
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for kh in range(kh_n):
        for kw in range(kw_n):
            if mult == 1:
                contrib = g[..., 0] * w[kh, kw, :, 0]                   # (N, Ho, Wo, C)
            else:
                contrib = np.einsum("nhwcm,cm->nhwc", g, w[kh, kw])     # (N, Ho, Wo, C)
            _tap(dxp, kh, kw, out_hw, stride, dilation)[...] += contrib
    return dxp


@register("depthwise_conv2d_backward_weight", "numpy")
def depthwise_conv2d_backward_weight_numpy(dout, xp, w_shape, stride, dilation):
    """For each tap, ``dw[kh, kw, c, m] = sum_{n,i,j} (strided view)[..., c] * dout[..., c, m]``."""
    kh_n, kw_n, n_c, mult = w_shape
    out_hw = dout.shape[1:3]
    g = dout.reshape(dout.shape[0], *out_hw, n_c, mult)                 # (N, Ho, Wo, C, M)
    dw = np.empty(w_shape, dtype=dout.dtype)
    for kh in range(kh_n):
        for kw in range(kw_n):
            xs = _tap(xp, kh, kw, out_hw, stride, dilation)             # (N, Ho, Wo, C)
            dw[kh, kw] = np.einsum("nhwc,nhwcm->cm", xs, g)             # (C, M)
    return dw


# ---------------------------------------------------------------------------
# numba: compiled loops for a multiplier of 1, channels innermost
# ---------------------------------------------------------------------------
# A multiplier M > 1 is reduced to M = 1 on C*M channels by repeating each
# input channel M times (np.repeat gives channel order c*M + m, as wanted):
#     out = depthwise(repeat(xp, M), w.reshape(KH, KW, C*M))
# so the compiled loops only handle one weight per channel. fastmath "contract"
# lets each multiply-add be one fused (FMA) instruction; nothing is reordered.

@njit(parallel=True, fastmath={"contract"})
def _dw_fwd(xp, w, s_h, s_w, d_h, d_w, out):
    n_b, n_h, n_w, n_c = out.shape
    k_h, k_w = w.shape[0], w.shape[1]
    for t in prange(n_b * n_h):                  # one output row (n, i) per task
        n = t // n_h
        i = t % n_h
        for j in range(n_w):
            o = out[n, i, j]                     # (C,) views: contiguous, vectorized loops
            o[:] = 0
            for kh in range(k_h):
                for kw in range(k_w):
                    x_tap = xp[n, i * s_h + kh * d_h, j * s_w + kw * d_w]
                    w_tap = w[kh, kw]
                    for c in range(n_c):
                        o[c] += x_tap[c] * w_tap[c]


@njit(parallel=True, fastmath={"contract"})
def _dw_bwd_input(dout, w, s_h, s_w, d_h, d_w, dxp):
    n_b, n_h, n_w, n_c = dout.shape
    k_h, k_w = w.shape[0], w.shape[1]
    for n in prange(n_b):                        # windows overlap: one sample per task
        for i in range(n_h):
            for j in range(n_w):
                g = dout[n, i, j]                # (C,)
                for kh in range(k_h):
                    for kw in range(k_w):
                        dx_tap = dxp[n, i * s_h + kh * d_h, j * s_w + kw * d_w]
                        w_tap = w[kh, kw]
                        for c in range(n_c):
                            dx_tap[c] += g[c] * w_tap[c]


@njit(parallel=True, fastmath={"contract"})
def _dw_bwd_weight(dout, xp, s_h, s_w, d_h, d_w, partial):
    """``partial[n]`` is sample n's share of dw (KH, KW, C); summed over n afterwards."""
    n_b, n_h, n_w, n_c = dout.shape
    k_h, k_w = partial.shape[1], partial.shape[2]
    for n in prange(n_b):
        for i in range(n_h):
            for j in range(n_w):
                g = dout[n, i, j]                # (C,)
                for kh in range(k_h):
                    for kw in range(k_w):
                        x_tap = xp[n, i * s_h + kh * d_h, j * s_w + kw * d_w]
                        acc = partial[n, kh, kw]
                        for c in range(n_c):
                            acc[c] += x_tap[c] * g[c]


def _repeat_channels(xp, mult):
    """``(N, H, W, C)`` -> ``(N, H, W, C*M)`` with channel ``c*M + m`` a copy of channel ``c``."""
    return xp if mult == 1 else np.repeat(xp, mult, axis=3)


@register("depthwise_conv2d_forward", "numba", fastest=True)
def depthwise_conv2d_forward_numba(xp, w, stride, dilation):
    """Compiled per-channel correlation (multiplier folded into the channels)."""
    k_h, k_w, n_c, mult = w.shape
    ho, wo = _out_hw(xp.shape, w.shape, stride, dilation)
    out = np.empty((xp.shape[0], ho, wo, n_c * mult), dtype=xp.dtype)
    _dw_fwd(_repeat_channels(xp, mult), w.reshape(k_h, k_w, n_c * mult),
            stride[0], stride[1], dilation[0], dilation[1], out)
    return out


@register("depthwise_conv2d_backward_input", "numba", fastest=True)
def depthwise_conv2d_backward_input_numba(dout, w, xp_shape, stride, dilation):
    """Compiled scatter of ``dout * w`` over each window; the M copies of a channel are summed."""
    k_h, k_w, n_c, mult = w.shape
    n_b, hp, wp, _ = xp_shape
    dxp = np.zeros((n_b, hp, wp, n_c * mult), dtype=dout.dtype)             # (N, Hp, Wp, C*M)
    _dw_bwd_input(dout, w.reshape(k_h, k_w, n_c * mult),
                  stride[0], stride[1], dilation[0], dilation[1], dxp)
    if mult > 1:
        dxp = dxp.reshape(n_b, hp, wp, n_c, mult).sum(axis=4)               # (N, Hp, Wp, C)
    return dxp


@register("depthwise_conv2d_backward_weight", "numba", fastest=True)
def depthwise_conv2d_backward_weight_numba(dout, xp, w_shape, stride, dilation):
    """Compiled per-sample weight gradients, then summed over the batch."""
    k_h, k_w, n_c, mult = w_shape
    partial = np.zeros((dout.shape[0], k_h, k_w, n_c * mult), dtype=dout.dtype)  # (N, KH, KW, C*M)
    _dw_bwd_weight(dout, _repeat_channels(xp, mult),
                   stride[0], stride[1], dilation[0], dilation[1], partial)
    return partial.sum(axis=0).reshape(w_shape)                               # (KH, KW, C, M)
