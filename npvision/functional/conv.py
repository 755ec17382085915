"""2-D convolution (cross-correlation, as in PyTorch and TensorFlow), channels-last.

Shapes::

    x     (N, H, W, C_in)          activations
    w     (KH, KW, C_in, C_out)    filters
    b     (C_out,)                 bias (the course's (1, 1, 1, C_out) is accepted too)
    out   (N, H_out, W_out, C_out)

With stride ``s``, dilation ``d`` and padding ``p_top + p_bottom`` (likewise for W)::

    H_out = floor((H + p_top + p_bottom - d (KH - 1) - 1) / s) + 1
    out[n, i, j, f] = b[f] + sum_{kh, kw, c} xp[n, i s + kh d, j s' + kw d', c] w[kh, kw, c, f]

where ``xp`` is ``x`` zero-padded. This is the course's
``floor((n_H_prev + 2 pad - f) / stride) + 1`` with ``d = 1``.

Backward, for the upstream gradient ``dout = dL/dout``::

    db[f]            = sum_{n, i, j} dout[n, i, j, f]
    dw[kh, kw, c, f] = sum_{n, i, j} xp[n, i s + kh d, j s' + kw d', c] dout[n, i, j, f]
    dxp[n, y, x, c]  = sum over the (i, j, kh, kw) with y = i s + kh d, x = j s' + kw d'
                       of w[kh, kw, c, f] dout[n, i, j, f]      (then the padding is cropped off)

The math as plain loops, the course's ``conv_forward`` / ``conv_backward``:
:func:`npvision.kernels.reference.conv2d.conv2d_forward` and
:func:`~npvision.kernels.reference.conv2d.conv2d_backward` (``npvision/kernels/reference/conv2d.py``).
The kernel table (:mod:`npvision.kernels`, ops ``conv2d_forward`` and ``conv2d_backward``) runs
them (``naive``) or a faster algorithm for the shape (``numpy``, ``numba``:
:func:`npvision.kernels.conv_plan.plan_conv2d` says which and why).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_cache, check_channels, int_pair, resolve_padding
from .._padding import pad_hw
from ..kernels.window import Window

__all__ = ["zero_pad", "conv_single_step", "conv2d_forward", "conv2d_backward"]


def zero_pad(x, pad):
    """Pad the height and width of a batch of images with zeros (the course's ``zero_pad``).

    x: (N, H, W, C); pad: an int (every side) or ``(ph, pw)``.
    Returns (N, H + 2 ph, W + 2 pw, C), same dtype.
    """
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
    ph, pw = int_pair(pad, "pad", minimum=0)
    return pad_hw(np.ascontiguousarray(x), ((ph, ph), (pw, pw)))


def conv_single_step(a_slice_prev, W, b) -> float:
    """One filter on one window (the course's ``conv_single_step``).

    a_slice_prev: (KH, KW, C) window; W: (KH, KW, C) filter; b: one number
    (a float or any size-1 array such as the course's (1, 1, 1)).
    Returns ``sum(a_slice_prev * W) + b`` as a Python float.
    """
    a = as_float_array(a_slice_prev, "a_slice_prev")
    W = as_float_array(W, "W")
    if a.shape != W.shape:
        raise ValueError(f"W: expected the shape of a_slice_prev {a.shape}, received {W.shape}")
    b = np.asarray(b)
    if b.size != 1:
        raise ValueError(f"b: expected a single number, received shape {b.shape}")
    return float(np.sum(a * W)) + float(b.reshape(-1)[0])


def _check_bias(b, c_out: int) -> np.ndarray:
    b = as_float_array(b, "b")
    if b.shape not in ((c_out,), (1, 1, 1, c_out)):
        raise ValueError(f"b: expected shape ({c_out},) (one bias per output channel of w), "
                         f"received {b.shape}")
    return b


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """Convolve a batch of images with a bank of filters.

    Parameters
    ----------
    x : (N, H, W, C_in) float array
    w : (KH, KW, C_in, C_out) float array (cast to ``x.dtype``)
    b : (C_out,) float array or None
    stride, dilation : int or (h, w) pair, each >= 1
    padding : int, ``(ph, pw)``, ``((top, bottom), (left, right))``, ``"valid"`` or
        ``"same"`` (output ``ceil(H / stride)``; an odd total padding puts the
        extra row/column at the bottom/right, as TensorFlow).

    Returns
    -------
    out : (N, H_out, W_out, C_out), ``x.dtype``;  ``H_out`` as in the module docstring.
    cache : what :func:`conv2d_backward` needs (input, weight, resolved padding and settings).
        It holds a reference to ``x``, not a copy: do not modify ``x`` in place
        before calling backward.
    """
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
    w = as_float_array(w, "w", ndim=4, layout="(KH, KW, C_in, C_out)")
    N, H, W, C = x.shape
    KH, KW, C_in, C_out = w.shape
    check_channels(C, C_in, "x", f"w of shape {w.shape} (KH, KW, C_in, C_out)")
    if min(w.shape) < 1:
        raise ValueError(f"w: every dimension must be >= 1, received shape {w.shape}")
    stride = int_pair(stride, "stride")
    dilation = int_pair(dilation, "dilation")
    pads = resolve_padding(padding, "padding", (H, W), (KH, KW), stride, dilation)
    Hp, Wp = H + sum(pads[0]), W + sum(pads[1])
    span = (dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1)
    if span[0] > Hp or span[1] > Wp:
        raise ValueError(f"w: the kernel {KH}x{KW} with dilation {dilation} spans {span[0]}x{span[1]} pixels, "
                         f"larger than the padded input x ({H}x{W} padded to {Hp}x{Wp}); "
                         f"use a smaller kernel or more padding")
    if b is not None:
        b = _check_bias(b, C_out)

    x = np.ascontiguousarray(x)
    wk = np.ascontiguousarray(w, dtype=x.dtype)
    bk = None if b is None else b.reshape(C_out).astype(x.dtype, copy=False)
    win = Window(stride, dilation, pads)
    out = kernels.get("conv2d_forward")(x, wk, bk, win)                   # (N, H_out, W_out, C_out)
    # The cache keeps x, not its padded copy: x is alive anyway (the previous
    # layer's output), so between forward and backward a conv costs no extra memory.
    cache = dict(op="conv2d", x=x, w=wk, w_dtype=w.dtype, b_shape=None if b is None else b.shape,
                 b_dtype=None if b is None else b.dtype, win=win, out_shape=out.shape)
    return out, cache


def conv2d_backward(dout, cache, need_input_grad=True):
    """Gradients of a convolution.

    dout : (N, H_out, W_out, C_out), the gradient of the loss with respect to ``out``.
    cache : from :func:`conv2d_forward`.
    need_input_grad : False skips ``dx`` (returned as None); a network's first
        layer never needs it, and for an RGB stem it is most of the backward cost.

    Returns ``(dx, dw, db)``: dx (N, H, W, C_in) in x's dtype (or None), dw
    (KH, KW, C_in, C_out) in w's dtype, db like b (None when there was no bias).
    """
    check_cache(cache, "conv2d", tagged=True)
    dout = as_float_array(dout, "dout", ndim=4, layout="(N, H_out, W_out, C_out)")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout: expected the forward output's shape {cache['out_shape']}, "
                         f"received {dout.shape}")
    x, w = cache["x"], cache["w"]
    dout = np.ascontiguousarray(dout, dtype=x.dtype)

    # dx (N, H, W, C_in), dw (KH, KW, C_in, C_out), db (C_out,) = sum of dout over n, i, j
    dx, dw, db = kernels.get("conv2d_backward")(dout, x, w, cache["win"], need_input_grad)
    dw = dw.astype(cache["w_dtype"], copy=False)
    db = None if cache["b_shape"] is None else db.astype(cache["b_dtype"]).reshape(cache["b_shape"])
    return dx, dw, db
