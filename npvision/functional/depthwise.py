"""Depthwise 2-D convolution (MobileNet's per-channel filter), forward and backward.

Each input channel ``c`` of ``x`` ``(N, H, W, C)`` is cross-correlated with its
own ``M`` kernels (the depth multiplier) from ``w`` ``(KH, KW, C, M)``; output
channel ``c*M + m`` holds the result of kernel ``m`` of channel ``c``, plus
``b[c*M + m]``. With padding ``((top, bottom), (left, right))``, stride
``(SH, SW)`` and dilation ``(DH, DW)``:

    out[n, i, j, c*M + m] = b[c*M + m]
        + sum_{kh, kw} x_pad[n, i*SH + kh*DH, j*SW + kw*DW, c] * w[kh, kw, c, m]

    Ho = floor((H + top + bottom - DH*(KH - 1) - 1) / SH) + 1     (Wo likewise)

It costs ``KH*KW*C*M`` multiply-adds per pixel instead of a full
convolution's ``KH*KW*C*C_out``: MobileNet follows it with a 1x1 convolution
to mix the channels. It equals PyTorch's ``conv2d(..., groups=C)`` with the
weight ``w.transpose(2, 3, 0, 1).reshape(C*M, 1, KH, KW)``.

Gradients, with ``g = dout`` ``(N, Ho, Wo, C*M)``:

    dx_pad[n, i*SH + kh*DH, j*SW + kw*DW, c] += sum_m g[n, i, j, c*M + m] * w[kh, kw, c, m]
    dw[kh, kw, c, m] = sum_{n, i, j} x_pad[n, i*SH + kh*DH, j*SW + kw*DW, c] * g[n, i, j, c*M + m]
    db[c*M + m]      = sum_{n, i, j} g[n, i, j, c*M + m]

and ``dx`` is the interior of ``dx_pad``. The math as plain loops:
:func:`npvision.kernels.reference.depthwise_conv2d.depthwise_conv2d_forward` and
:func:`~npvision.kernels.reference.depthwise_conv2d.depthwise_conv2d_backward`
(``npvision/kernels/reference/depthwise_conv2d.py``); the kernel table's ops
``depthwise_conv2d_forward`` / ``_backward`` run them (``naive``) or compiled loops that never
pad (``numba``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_channels, check_dout, int_pair, resolve_padding
from ..kernels.window import Window
from .pool import float_input
from .shapes import conv_output_size

__all__ = ["depthwise_conv2d_forward", "depthwise_conv2d_backward"]


class _DepthwiseCache(NamedTuple):
    x: np.ndarray                        # (N, H, W, C) input (the kernels handle the padding)
    w: np.ndarray                        # (KH, KW, C, M) in the input's dtype
    w_dtype: np.dtype                    # dtype of the weight as given (dw is returned in it)
    b_dtype: np.dtype | None             # dtype of the bias as given, None without a bias
    x_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]
    win: Window                          # stride, dilation and padding


def depthwise_conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """Depthwise convolution: ``x`` ``(N, H, W, C)``, ``w`` ``(KH, KW, C, M)`` -> ``(out, cache)``.

    ``out`` is ``(N, Ho, Wo, C*M)`` in ``x``'s dtype (``w`` and ``b`` are used
    in that dtype). ``b`` is ``(C*M,)`` or None. ``stride`` and ``dilation``
    are ints or ``(h, w)`` pairs; ``padding`` is an int, a pair ``(ph, pw)``,
    ``((top, bottom), (left, right))``, ``"valid"`` or ``"same"`` (output
    ``ceil(H / SH)``; an odd total puts the extra row/column at the
    bottom/right, as TensorFlow).
    """
    x = float_input(x, "x")
    w_in = as_float_array(w, "w", ndim=4, layout="(KH, KW, C, M)")
    k_h, k_w, n_c, mult = w_in.shape
    check_channels(x.shape[3], n_c, "x", f"w of shape {w_in.shape} (KH, KW, C, M)")
    if min(w_in.shape) < 1:
        raise ValueError(f"w: expected every dimension of (KH, KW, C, M) to be >= 1, received {w_in.shape}")
    w = np.ascontiguousarray(w_in, dtype=x.dtype)
    b_dtype = None
    if b is not None:
        b_in = as_float_array(b, "b", ndim=1, layout="(C*M,)")
        if b_in.shape != (n_c * mult,):
            raise ValueError(f"b: expected shape ({n_c * mult},) (C*M = {n_c}*{mult}), received {b_in.shape}")
        b_dtype = b_in.dtype
        b = b_in.astype(x.dtype, copy=False)
    stride = int_pair(stride, "stride")
    dilation = int_pair(dilation, "dilation")
    pads = resolve_padding(padding, "padding", x.shape[1:3], (k_h, k_w), stride, dilation)
    for axis, n, k, s, p, d in zip(("height", "width"), x.shape[1:3], (k_h, k_w), stride, pads, dilation):
        if conv_output_size(n, k, s, p, d) < 1:
            raise ValueError(
                f"w: the kernel spans {d * (k - 1) + 1} pixels along the {axis} (size {k}, dilation {d}), "
                f"more than the padded input's {n + p[0] + p[1]} (input shape {x.shape}, padding {p})")

    x = np.ascontiguousarray(x)
    win = Window(stride, dilation, pads)
    out = kernels.get("depthwise_conv2d_forward")(x, w, b, win)           # (N, Ho, Wo, C*M)
    cache = _DepthwiseCache(x, w, w_in.dtype, b_dtype, x.shape, out.shape, win)
    return out, cache


def depthwise_conv2d_backward(dout, cache):
    """Gradients of :func:`depthwise_conv2d_forward`: ``dout`` ``(N, Ho, Wo, C*M)`` -> ``(dx, dw, db)``.

    ``dx`` is ``(N, H, W, C)``, ``dw`` ``(KH, KW, C, M)``, ``db`` ``(C*M,)``
    or None when the forward had no bias; each in the dtype its input had.
    """
    if not isinstance(cache, _DepthwiseCache):
        raise TypeError(f"cache: expected the cache returned by depthwise_conv2d_forward, "
                        f"received {type(cache).__name__}")
    c = cache
    dout = check_dout(dout, c.out_shape, dtype=c.x.dtype)                  # (N, Ho, Wo, C*M)
    # dx (N, H, W, C), dw (KH, KW, C, M), db (C*M,)
    dx, dw, db = kernels.get("depthwise_conv2d_backward")(dout, c.x, c.w, c.win)
    if c.b_dtype is None:
        db = None
    else:
        db = db.astype(c.b_dtype, copy=False)                               # sum over n, i, j
    return dx, dw.astype(c.w_dtype, copy=False), db
