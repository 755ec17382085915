"""Transpose convolution ("deconvolution", fractionally strided convolution), channels-last.

A convolution with weight ``w`` maps a large image to a small one; its
transpose maps small to large with the *same* weight, running the
convolution's input-gradient computation forward: every input pixel
multiplies the whole kernel and the copies are added into the output, spaced
``stride`` apart, overlaps summed.

Example, one channel, 2x2 input, 3x3 kernel, stride 2, padding 0::

    x = [[a, b],        each input pixel stamps a scaled copy of w
         [c, d]]        with its top-left corner at (2 i, 2 j):

    out (5x5) = a * w placed at rows 0-2, cols 0-2
              + b * w placed at rows 0-2, cols 2-4
              + c * w placed at rows 2-4, cols 0-2
              + d * w placed at rows 2-4, cols 2-4

Pixels of row 2 or column 2 sum two stamps, the centre (2, 2) all four;
``H_out = (2 - 1) 2 + 3 = 5``.
A 3x3 convolution with stride 2 takes that 5x5 back to 2x2, and the two maps are
adjoints: ``<conv2d(z, w), x> = <z, conv_transpose2d(x, w)>`` for every ``z``, ``x``.

Shapes::

    x    (N, H, W, C_in)
    w    (KH, KW, C_out, C_in)   the weight of the conv that maps C_out -> C_in channels
    b    (C_out,)
    out  (N, H_out, W_out, C_out)

    H_out = (H - 1) s - (p_top + p_bottom) + d (KH - 1) + 1 + output_padding

``padding`` crops that many rows/columns from the stamped result (the conv's
padding), ``output_padding`` adds rows/columns at the bottom/right so that
the sizes a strided conv maps to the same H can be told apart. ``"same"`` gives
``H_out = H s``: the adjoint of a ``"same"`` convolution of an ``H s`` image
(TensorFlow's rule, the odd pixel of the crop at the bottom/right).

Backward, with ``dout`` zero-padded back to the uncropped size as ``doutp``::

    dx = conv2d(doutp, w, stride, dilation)                      (N, H, W, C_in)
    dw = conv2d's weight gradient with "input" doutp and "output gradient" x
    db = sum over n, y, x of dout

The math as plain loops (the stamps, before cropping and bias):
:func:`npvision.kernels.reference.conv_transpose2d.conv_transpose2d_forward` and
:func:`~npvision.kernels.reference.conv_transpose2d.conv_transpose2d_backward`
(``npvision/kernels/reference/conv_transpose2d.py``); the kernel table's ops
``conv_transpose2d_forward`` / ``_backward`` run them (``naive``) or the convolution's fast
algorithms (``numpy``, ``numba``).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_cache, check_channels, int_pair, resolve_padding
from ..kernels.window import Window

__all__ = ["conv_transpose2d_forward", "conv_transpose2d_backward"]


def _transpose_pads(padding, in_hw, kernel_hw, stride, dilation):
    """((top, bottom), (left, right)) cropped from the stamped output, and any extra bottom/right size."""
    if isinstance(padding, str) and padding.lower() == "same":
        # The pads a "same" conv would put around an (H s, W s) image.
        big = (in_hw[0] * stride[0], in_hw[1] * stride[1])
        pads = resolve_padding("same", "padding", big, kernel_hw, stride, dilation)
        reach = [(n - 1) * s + d * (k - 1) + 1 for n, s, d, k in zip(in_hw, stride, dilation, kernel_hw)]
        # When the kernel is shorter than the stride, the last s - k rows get no stamp.
        extra = tuple(b - (r - sum(p)) for b, r, p in zip(big, reach, pads))
        return pads, extra
    return resolve_padding(padding, "padding", in_hw, kernel_hw, stride, dilation), (0, 0)


def conv_transpose2d_forward(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Transpose convolution of a batch of images.

    Parameters
    ----------
    x : (N, H, W, C_in) float array
    w : (KH, KW, C_out, C_in) float array, cast to ``x.dtype``
    b : (C_out,) or None
    stride, dilation : int or (h, w), >= 1
    padding : int, ``(ph, pw)``, ``((top, bottom), (left, right))``, ``"valid"`` or ``"same"``
    output_padding : int or (h, w), each smaller than the stride or the dilation
        of its axis (0 with ``"same"``)

    Returns ``(out, cache)``, out (N, H_out, W_out, C_out) with H_out as in the
    module docstring.
    """
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C_in)")
    w = as_float_array(w, "w", ndim=4, layout="(KH, KW, C_out, C_in)")
    N, H, W, C_in = x.shape
    KH, KW, C_out, wc_in = w.shape
    check_channels(C_in, wc_in, "x", f"w of shape {w.shape} (KH, KW, C_out, C_in)")
    if min(w.shape) < 1:
        raise ValueError(f"w: every dimension must be >= 1, received shape {w.shape}")
    stride = int_pair(stride, "stride")
    dilation = int_pair(dilation, "dilation")
    out_pad = int_pair(output_padding, "output_padding", minimum=0)
    for axis, op, s, d in zip(("height", "width"), out_pad, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"output_padding: expected a value smaller than the stride ({s}) or the "
                             f"dilation ({d}) along the {axis}, received {output_padding!r}")
    if isinstance(padding, str) and padding.lower() == "same" and out_pad != (0, 0):
        raise ValueError(f"output_padding: must be 0 with padding='same' (the output is H*stride), "
                         f"received {output_padding!r}")
    pads, extra = _transpose_pads(padding, (H, W), (KH, KW), stride, dilation)
    # Size before cropping: what the stamps reach, plus output_padding / "same"'s extra.
    Hp = (H - 1) * stride[0] + dilation[0] * (KH - 1) + 1 + out_pad[0] + extra[0]
    Wp = (W - 1) * stride[1] + dilation[1] * (KW - 1) + 1 + out_pad[1] + extra[1]
    H_out, W_out = Hp - sum(pads[0]), Wp - sum(pads[1])
    if H_out < 1 or W_out < 1:
        raise ValueError(f"padding: {padding!r} crops the {Hp}x{Wp} result to {H_out}x{W_out}; "
                         f"expected an output of at least 1x1")
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (C_out,):
            raise ValueError(f"b: expected shape ({C_out},) (one bias per output channel, w's axis 2), "
                             f"received {b.shape}")

    xc = np.ascontiguousarray(x)
    wk = np.ascontiguousarray(w, dtype=x.dtype)
    bk = None if b is None else b.astype(x.dtype, copy=False)
    # the convolution (C_out -> C_in channels) this one transposes: its output grid is x's, and
    # its padding is what the transpose crops from the stamps
    win = Window(stride, dilation, pads)
    out = kernels.get("conv_transpose2d_forward")(xc, wk, bk, win, (H_out, W_out))   # (N, H_out, W_out, C_out)
    cache = dict(op="conv_transpose2d", x=xc, w=wk, w_dtype=w.dtype, b_dtype=None if b is None else b.dtype,
                 win=win, out_shape=out.shape)
    return out, cache


def conv_transpose2d_backward(dout, cache):
    """Gradients of a transpose convolution: ``(dx, dw, db)`` (db None without bias).

    dout (N, H_out, W_out, C_out) -> dx (N, H, W, C_in), dw (KH, KW, C_out, C_in), db (C_out,).
    """
    check_cache(cache, "conv_transpose2d", tagged=True)
    dout = as_float_array(dout, "dout", ndim=4, layout="(N, H_out, W_out, C_out)")
    if dout.shape != cache["out_shape"]:
        raise ValueError(f"dout: expected the forward output's shape {cache['out_shape']}, "
                         f"received {dout.shape}")
    x, w = cache["x"], cache["w"]
    dout = np.ascontiguousarray(dout, dtype=x.dtype)

    # dx (N, H, W, C_in): the convolution's forward over dout; dw (KH, KW, C_out, C_in): its weight
    # gradient with x as the output gradient; db (C_out,): dout summed over n, y, x
    dx, dw, db = kernels.get("conv_transpose2d_backward")(dout, x, w, cache["win"])
    dw = dw.astype(cache["w_dtype"], copy=False)
    db = None if cache["b_dtype"] is None else db.astype(cache["b_dtype"])
    return dx, dw, db
