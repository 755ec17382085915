"""Convolution (cross-correlation), the plain loops: one window times one filter per output number.

Shapes and names (the course's notation in brackets)::

    xp    (N, Hp, Wp, C)     the zero-padded input          [A_prev_pad: m, n_H_prev, n_W_prev, n_C_prev]
    w     (KH, KW, C, F)     F filters                       [W: f, f, n_C_prev, n_C]
    out   (N, Ho, Wo, F)                                     [Z: m, n_H, n_W, n_C]
    stride (sh, sw), dilation (dh, dw)

    out[n, i, j, f] = sum_{kh, kw, c} xp[n, i sh + kh dh, j sw + kw dw, c] w[kh, kw, c, f]
    Ho = floor((Hp - dh (KH - 1) - 1) / sh) + 1          (Wo likewise)

By the chain rule each product ``xp * w`` sends ``dout`` back to both of its factors:

    dxp[n, i sh + kh dh, j sw + kw dw, c] += w[kh, kw, c, f] dout[n, i, j, f]
    dw[kh, kw, c, f]                      += xp[n, i sh + kh dh, j sw + kw dw, c] dout[n, i, j, f]
    db[f]                                 += dout[n, i, j, f]

(the bias, ``out += b[f]``, is added by the caller). Windows overlap when the stride is
smaller than the kernel, hence the ``+=``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv2d_forward", "conv2d_backward"]


def conv2d_forward(xp, w, stride, dilation):
    """out (N, Ho, Wo, F): for every output number, the sum of a window times a filter."""
    N, Hp, Wp, C = xp.shape
    KH, KW, _, F = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    Ho = (Hp - dh * (KH - 1) - 1) // sh + 1
    Wo = (Wp - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, Ho, Wo, F), dtype=xp.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                a_slice = xp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :]   # (KH, KW, C)
                for f in range(F):
                    out[n, i, j, f] = np.sum(a_slice * w[:, :, :, f])
    return out


def conv2d_backward(dout, xp, w, stride, dilation):
    """(dxp (N, Hp, Wp, C), dw (KH, KW, C, F), db (F,)): each output's gradient flows back to the
    window it read (dxp), to the filter that read it (dw) and to its bias (db)."""
    N, Ho, Wo, F = dout.shape
    KH, KW = w.shape[:2]
    (sh, sw), (dh, dw) = stride, dilation
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    dw_ = np.zeros(w.shape, dtype=dout.dtype)
    db = np.zeros(F, dtype=dout.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                a_slice = xp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :]   # (KH, KW, C)
                for f in range(F):
                    dxp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :] += w[:, :, :, f] * dout[n, i, j, f]
                    dw_[:, :, :, f] += a_slice * dout[n, i, j, f]
                    db[f] += dout[n, i, j, f]
    return dxp, dw_, db
