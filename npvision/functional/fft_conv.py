"""2-D convolution computed with the FFT: the same op as :func:`conv2d_forward` at stride 1.

The result equals ``conv2d_forward(x, w, b, stride=1, padding=padding)`` (to
rounding: the FFT's error grows like ``log(P Q)`` times the machine epsilon,
about 1e-6 relative in float32, 1e-14 in float64), and so do its gradients.
What changes is the cost: im2col spends ``KH KW C_in C_out`` multiply-adds on
each output pixel, the FFT a number that does not depend on the kernel size.
For the random 55x55 filters of a texture model that is the difference
between seconds and a fraction of one (``benchmarks/style.md``).

Shapes::

    x (N, H, W, C_in), w (KH, KW, C_in, C_out), b (C_out,) or None
    out (N, H_out, W_out, C_out),  H_out = H + p_top + p_bottom - KH + 1   (stride 1, no dilation)

The frequency-domain identities are in :mod:`npvision.kernels.fft_conv`; the
naive twin there is the ordinary convolution's loops.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_channels, resolve_padding
from .conv import _check_bias

__all__ = ["conv2d_fft_forward", "conv2d_fft_backward"]


def conv2d_fft_forward(x, w, b=None, padding=0, spectrum=None):
    """Convolve (cross-correlate) at stride 1 through the FFT.

    Parameters
    ----------
    x : (N, H, W, C_in) float array;  w : (KH, KW, C_in, C_out) (cast to x's dtype)
    b : (C_out,) or None
    padding : as :func:`conv2d_forward` (int, pair, explicit, ``"valid"``, ``"same"``)
    spectrum : optional ``npvision.kernels.fft_conv.weight_spectrum(w, P, Q)`` for
        this input's grid, computed once by a caller whose filters do not change.

    Returns ``(out, cache)``; ``out`` (N, H_out, W_out, C_out) in x's dtype.
    """
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
    w = as_float_array(w, "w", ndim=4, layout="(KH, KW, C_in, C_out)")
    N, H, W, C = x.shape
    KH, KW, C_in, C_out = w.shape
    check_channels(C, C_in, "x", f"w of shape {w.shape} (KH, KW, C_in, C_out)")
    if min(w.shape) < 1:
        raise ValueError(f"w: every dimension must be >= 1, received shape {w.shape}")
    pads = resolve_padding(padding, "padding", (H, W), (KH, KW))
    Hp, Wp = H + sum(pads[0]), W + sum(pads[1])
    if KH > Hp or KW > Wp:
        raise ValueError(f"w: the kernel {KH}x{KW} is larger than the padded input x "
                         f"({H}x{W} padded to {Hp}x{Wp}); use a smaller kernel or more padding")
    if b is not None:
        b = _check_bias(b, C_out)
    x = np.ascontiguousarray(x)
    wk = np.ascontiguousarray(w, dtype=x.dtype)
    bk = None if b is None else b.reshape(C_out).astype(x.dtype, copy=False)
    out = kernels.get("conv2d_fft_forward")(x, wk, pads, bk, spectrum)   # (N, H_out, W_out, C_out)
    cache = dict(x=x, w=wk, w_dtype=w.dtype, pads=pads, spectrum=spectrum, out_shape=out.shape,
                 b_shape=None if b is None else b.shape, b_dtype=None if b is None else b.dtype)
    return out, cache


def conv2d_fft_backward(dout, cache, need_input_grad=True, need_weight_grad=True):
    """Gradients of :func:`conv2d_fft_forward`: ``(dx, dw, db)``.

    ``need_input_grad`` / ``need_weight_grad`` False skip ``dx`` / ``dw`` (returned
    as None): a frozen filter bank needs no ``dw``, a network's first layer no
    ``dx`` unless the image itself is being optimized. ``db`` is None when there
    was no bias.
    """
    dout = as_float_array(dout, "dout", ndim=4, layout="(N, H_out, W_out, C_out)")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout: expected the forward output's shape {cache['out_shape']}, "
                         f"received {dout.shape}")
    x, w = cache["x"], cache["w"]
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    dx, dw, db = kernels.get("conv2d_fft_backward")(dout, x, w, cache["pads"], need_input_grad,
                                                     need_weight_grad, cache["spectrum"])
    if dw is not None:
        dw = dw.astype(cache["w_dtype"], copy=False)
    db = None if cache["b_shape"] is None else db.astype(cache["b_dtype"]).reshape(cache["b_shape"])
    return dx, dw, db
