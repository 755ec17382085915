"""Transpose convolution, the plain loops: every input pixel stamps a scaled copy of the kernel.

Shapes and names::

    x     (N, H, W, C_in)
    w     (KH, KW, C_out, C_in)    the weight of the convolution (C_out -> C_in) this one transposes
    outs  (N, Hs, Ws, C_out)       the stamped result, before any cropping
    stride (sh, sw), dilation (dh, dw)

    outs[n, i sh + kh dh, j sw + kw dw, o] += x[n, i, j, c] w[kh, kw, o, c]
    Hs = (H - 1) sh + dh (KH - 1) + 1                    (Ws likewise)

It is the input gradient of the convolution with weight ``w`` whose output grid is ``x``'s
(compare ``dxp`` in :mod:`.conv2d`). Its gradients, for ``douts`` shaped like ``outs``, read the
stamps back:

    dx[n, i, j, c]    = sum_{kh, kw, o} douts[n, i sh + kh dh, j sw + kw dw, o] w[kh, kw, o, c]
    dw[kh, kw, o, c] += douts[n, i sh + kh dh, j sw + kw dw, o] x[n, i, j, c]

(``dx`` is that convolution's forward pass over ``douts``). Cropping the padding and adding
the bias are the caller's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv_transpose2d_forward", "conv_transpose2d_backward"]


def conv_transpose2d_forward(x, w, stride, dilation):
    """outs (N, Hs, Ws, C_out): the sum of every input pixel's stamp ``x[n, i, j] . w``."""
    N, H, W, _ = x.shape
    KH, KW, C_out, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    Hs, Ws = (H - 1) * sh + dh * (KH - 1) + 1, (W - 1) * sw + dw * (KW - 1) + 1
    outs = np.zeros((N, Hs, Ws, C_out), dtype=x.dtype)
    for n in range(N):
        for i in range(H):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(W):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                stamp = np.sum(w * x[n, i, j, :], axis=3)                 # (KH, KW, C_out)
                outs[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :] += stamp
    return outs


def conv_transpose2d_backward(douts, x, w, stride, dilation):
    """(dx (N, H, W, C_in), dw (KH, KW, C_out, C_in)): each stamp reads back the gradient it covered."""
    N, H, W, C_in = x.shape
    KH, KW = w.shape[:2]
    (sh, sw), (dh, dw) = stride, dilation
    dx = np.zeros(x.shape, dtype=douts.dtype)
    dw_ = np.zeros(w.shape, dtype=douts.dtype)
    for n in range(N):
        for i in range(H):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(W):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                covered = douts[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :]   # (KH, KW, C_out)
                for c in range(C_in):
                    dx[n, i, j, c] = np.sum(covered * w[:, :, :, c])
                    dw_[:, :, :, c] += covered * x[n, i, j, c]
    return dx, dw_
