"""Transpose convolution ops of the kernel table: ``conv_transpose2d_forward`` and ``_backward``.

Every backend takes the same arguments and returns the same arrays::

    conv_transpose2d_forward(x, w, b, win, out_hw)   -> out (N, H_out, W_out, C_out)
    conv_transpose2d_backward(dout, x, w, win)       -> (dx, dw, db)

    x    (N, H, W, C_in)        w  (KH, KW, C_out, C_in)       b  (C_out,) or None
    win  the Window of the convolution (C_out -> C_in channels) this one transposes: its
         stride and dilation, and as padding the rows and columns cropped from the stamps
    out_hw  (H_out, W_out), the cropped output (with any output_padding rows at the bottom)

The math, and the ``naive`` backend, is :mod:`npvision.kernels.reference.conv_transpose2d`.
The forward pass is the input gradient of that convolution, whose output grid is ``x``'s;
its gradients are that convolution's forward pass over ``dout`` (``dx``) and its weight
gradient with ``x`` as the output gradient (``dw``). So the ``numba`` and ``numpy`` backends
run the convolution's algorithms (:mod:`.conv`), as :func:`~.conv_plan.plan_conv2d` picks them.
"""

from __future__ import annotations

import numpy as np

from . import im2col, register
from .blas import channel_sums
from .conv import FORWARD, INPUT_GRAD, WEIGHT_GRAD
from .conv_plan import plan_conv2d
from .reference import conv_transpose2d as reference


def _stamped_hw(x_hw, w_shape, win) -> tuple[int, int]:
    """(Hs, Ws): the rows and columns the stamps reach, ``(H - 1) sh + dh (KH - 1) + 1``."""
    (sh, sw), (dh, dw) = win.stride, win.dilation
    return (x_hw[0] - 1) * sh + dh * (w_shape[0] - 1) + 1, (x_hw[1] - 1) * sw + dw * (w_shape[1] - 1) + 1


def _within_reach(dout, x_hw, w_shape, win):
    """``(dout', win')``: the same convolution grid cut to the rows and columns the stamps reach.

    Rows of the padded grid below the last stamp (output_padding, "same"'s extra row) get no
    gradient through ``w``; cutting them keeps the convolution's output grid exactly ``x``'s.
    They are cut from the bottom padding first, then from ``dout`` (a view)."""
    Hs, Ws = _stamped_hw(x_hw, w_shape, win)
    Hp, Wp = win.padded_hw(dout.shape[1:3])
    (t, b), (l, r) = win.pads
    cut_h, cut_w = Hp - Hs, Wp - Ws
    rows, cols = dout.shape[1] - max(0, cut_h - b), dout.shape[2] - max(0, cut_w - r)
    return dout[:, :rows, :cols], win._replace(pads=((t, max(0, b - cut_h)), (l, max(0, r - cut_w))))


# ---------------------------------------------------------------------------
# naive: the reference stamps, cropped
# ---------------------------------------------------------------------------

@register("conv_transpose2d_forward", "naive")
def conv_transpose2d_forward_naive(x, w, b, win, out_hw):
    """Stamp (:func:`~npvision.kernels.reference.conv_transpose2d.conv_transpose2d_forward`), crop the
    padding, add ``b`` (output_padding rows beyond the stamps hold the bias alone)."""
    outs = reference.conv_transpose2d_forward(x, w, win.stride, win.dilation)      # (N, Hs, Ws, C_out)
    (t, _), (l, _) = win.pads
    out = np.zeros((x.shape[0], *out_hw, w.shape[2]), dtype=x.dtype)
    h, ww = min(out_hw[0], outs.shape[1] - t), min(out_hw[1], outs.shape[2] - l)
    out[:, :h, :ww] = outs[:, t:t + h, l:l + ww]
    return out if b is None else out + b


@register("conv_transpose2d_backward", "naive")
def conv_transpose2d_backward_naive(dout, x, w, win):
    """Put ``dout`` back on the stamps' grid, read the stamps back
    (:func:`~npvision.kernels.reference.conv_transpose2d.conv_transpose2d_backward`); ``db = sum dout``."""
    Hs, Ws = _stamped_hw(x.shape[1:3], w.shape, win)
    (t, _), (l, _) = win.pads
    douts = np.zeros((x.shape[0], Hs, Ws, w.shape[2]), dtype=dout.dtype)          # (N, Hs, Ws, C_out)
    h, ww = min(dout.shape[1], Hs - t), min(dout.shape[2], Ws - l)
    douts[:, t:t + h, l:l + ww] = dout[:, :h, :ww]
    dx, dw = reference.conv_transpose2d_backward(douts, x, w, win.stride, win.dilation)
    return dx, dw, dout.sum(axis=(0, 1, 2))


# ---------------------------------------------------------------------------
# numba and numpy: the convolution's algorithms
# ---------------------------------------------------------------------------

@register("conv_transpose2d_forward", "numba", fastest=True)
def conv_transpose2d_forward_numba(x, w, b, win, out_hw):
    """The input gradient of the convolution, by the algorithm its plan picks, plus ``b``."""
    plan = plan_conv2d(w.shape, win, x.shape[:3])
    return INPUT_GRAD[plan.input_grad](x, w, (x.shape[0], *out_hw, w.shape[2]), win, b)


@register("conv_transpose2d_backward", "numba", fastest=True)
def conv_transpose2d_backward_numba(dout, x, w, win):
    """dx = the convolution's forward over ``dout``, dw its weight gradient with ``x`` as the output
    gradient: from one packing of ``dout``'s columns when both are im2col's."""
    dout_r, win_r = _within_reach(dout, x.shape[1:3], w.shape, win)
    dout_r = np.ascontiguousarray(dout_r)
    plan = plan_conv2d(w.shape, win_r, x.shape[:3])
    if plan.forward == plan.weight_grad == "im2col":
        dx, dw = im2col.forward_and_weight_grad(dout_r, w, x, win_r)
    else:
        dx = FORWARD[plan.forward](dout_r, w, None, win_r)
        dw = WEIGHT_GRAD[plan.weight_grad](x, dout_r, w.shape, win_r)[0]
    return dx, dw, channel_sums(dout)


@register("conv_transpose2d_forward", "numpy")
def conv_transpose2d_forward_numpy(x, w, b, win, out_hw):
    """im2col's input gradient of the convolution (the form the plan picks without compiled loops)."""
    plan = plan_conv2d(w.shape, win, compiled=False)
    return INPUT_GRAD[plan.input_grad](x, w, (x.shape[0], *out_hw, w.shape[2]), win, b, movers=im2col.NUMPY)


@register("conv_transpose2d_backward", "numpy")
def conv_transpose2d_backward_numpy(dout, x, w, win):
    """Both gradients from one packing of ``dout``'s im2col columns."""
    dout_r, win_r = _within_reach(dout, x.shape[1:3], w.shape, win)
    dx, dw = im2col.forward_and_weight_grad(np.ascontiguousarray(dout_r), w, x, win_r)
    return dx, dw, channel_sums(dout)
