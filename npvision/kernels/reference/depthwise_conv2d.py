"""Depthwise convolution, the plain loops: every channel filtered on its own.

Shapes and names::

    xp    (N, Hp, Wp, C)       the zero-padded input
    w     (KH, KW, C, M)       M kernels per channel (the depth multiplier)
    out   (N, Ho, Wo, C M)     output channel c M + m is channel c filtered by kernel m
    stride (sh, sw), dilation (dh, dw)

    out[n, i, j, c M + m] = sum_{kh, kw} xp[n, i sh + kh dh, j sw + kw dw, c] w[kh, kw, c, m]
    Ho = floor((Hp - dh (KH - 1) - 1) / sh) + 1          (Wo likewise)

Gradients, with ``g = dout`` ``(N, Ho, Wo, C M)``::

    dxp[n, i sh + kh dh, j sw + kw dw, c] += w[kh, kw, c, m] g[n, i, j, c M + m]
    dw[kh, kw, c, m]                      += xp[n, i sh + kh dh, j sw + kw dw, c] g[n, i, j, c M + m]
    db[c M + m]                           += g[n, i, j, c M + m]
"""

from __future__ import annotations

import numpy as np

__all__ = ["depthwise_conv2d_forward", "depthwise_conv2d_backward"]


def depthwise_conv2d_forward(xp, w, stride, dilation):
    """out (N, Ho, Wo, C M): one channel's window times one of its kernels per output number."""
    N, Hp, Wp, C = xp.shape
    KH, KW, _, M = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    Ho = (Hp - dh * (KH - 1) - 1) // sh + 1
    Wo = (Wp - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, Ho, Wo, C * M), dtype=xp.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                for c in range(C):
                    a_slice = xp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, c]   # (KH, KW)
                    for m in range(M):
                        out[n, i, j, c * M + m] = np.sum(a_slice * w[:, :, c, m])
    return out


def depthwise_conv2d_backward(dout, xp, w, stride, dilation):
    """(dxp (N, Hp, Wp, C), dw (KH, KW, C, M), db (C M,)): each output's gradient flows back to its
    channel's window, to the kernel that read it and to its bias."""
    N, Ho, Wo, _ = dout.shape
    KH, KW, C, M = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    dw_ = np.zeros(w.shape, dtype=dout.dtype)
    db = np.zeros(C * M, dtype=dout.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                for c in range(C):
                    a_slice = xp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, c]   # (KH, KW)
                    for m in range(M):
                        g = dout[n, i, j, c * M + m]
                        dxp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, c] += w[:, :, c, m] * g
                        dw_[:, :, c, m] += a_slice * g
                        db[c * M + m] += g
    return dxp, dw_, db
