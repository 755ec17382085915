"""Convolution ops of the kernel table: ``conv2d_forward`` and ``conv2d_backward``, three backends each.

Every backend takes the same arguments and returns the same arrays::

    conv2d_forward(x, w, b, win)                               -> out (N, Ho, Wo, F)
    conv2d_backward(dout, x, w, win, need_input_grad=True)     -> (dx or None, dw, db)

    x     (N, H, W, C)     the unpadded input        w   (KH, KW, C, F)       b   (F,) or None
    win   a Window: stride, dilation, and the zero padding around x
    dout  (N, Ho, Wo, F)   dx  (N, H, W, C)          dw  (KH, KW, C, F)        db  (F,)

The math, and the ``naive`` backend, is :mod:`npvision.kernels.reference.conv2d` (plain loops
over the padded input; the naive entries here pad, call it, add the bias and crop the
gradient). The ``numba`` backend (the default) computes each pass with the algorithm
:func:`npvision.kernels.conv_plan.plan_conv2d` picks for the shape; ``numpy`` runs the
im2col forms only, with NumPy data movers.
"""

from __future__ import annotations

import numpy as np

from .._padding import crop_hw, pad_hw
from . import direct, gemm, im2col, register, winograd
from .conv_plan import plan_conv2d
from .reference import conv2d as reference

__all__ = ["FORWARD", "INPUT_GRAD", "WEIGHT_GRAD", "BACKWARD"]

#: the algorithms by name (:class:`~npvision.kernels.conv_plan.ConvPlan`'s fields), each pass
#: with one signature: forward(x, w, b, win); input_grad(dout, w, x_shape, win, b=None);
#: weight_grad(dout, x, w_shape, win) -> (dw, db)
FORWARD = {"direct": direct.conv_forward, "winograd": winograd.conv_forward, "gemm": gemm.forward,
           "im2col": im2col.forward}
INPUT_GRAD = {"direct": direct.input_grad, "winograd": winograd.input_grad, "gemm": gemm.input_grad,
              "1x1": im2col.input_grad_1x1, "full": im2col.input_grad_full, "tiles": im2col.input_grad_tiles,
              "scatter": im2col.input_grad_scatter}
WEIGHT_GRAD = {"direct": direct.weight_grad, "winograd": winograd.weight_grad, "gemm": gemm.weight_grad,
               "im2col": im2col.weight_grad, "1x1": im2col.weight_grad}
#: the algorithms that make both gradients in one pass over dout, when the plan picks one for both:
#: backward(dout, x, w, win, need_input_grad) -> (dx or None, dw, db)
BACKWARD = {"direct": direct.conv_backward, "1x1": im2col.backward_1x1}


# ---------------------------------------------------------------------------
# naive: the reference loops on the padded input
# ---------------------------------------------------------------------------

@register("conv2d_forward", "naive")
def conv2d_forward_naive(x, w, b, win):
    """Pad ``x``, run :func:`~npvision.kernels.reference.conv2d.conv2d_forward`, add ``b``."""
    out = reference.conv2d_forward(pad_hw(x, win.pads), w, win.stride, win.dilation)
    return out if b is None else out + b


@register("conv2d_backward", "naive")
def conv2d_backward_naive(dout, x, w, win, need_input_grad=True):
    """Pad ``x``, run :func:`~npvision.kernels.reference.conv2d.conv2d_backward`, crop ``dxp`` to ``dx``."""
    dxp, dw, db = reference.conv2d_backward(dout, pad_hw(x, win.pads), w, win.stride, win.dilation)
    return (np.ascontiguousarray(crop_hw(dxp, win.pads)) if need_input_grad else None), dw, db


# ---------------------------------------------------------------------------
# numba: the planned algorithm of each pass
# ---------------------------------------------------------------------------

@register("conv2d_forward", "numba", fastest=True)
def conv2d_forward_numba(x, w, b, win):
    """The forward pass by the algorithm the plan picks (direct loops, Winograd, im2col or gemm)."""
    plan = plan_conv2d(w.shape, win, (x.shape[0], *win.out_hw(x.shape[1:3], w.shape[:2])))
    return FORWARD[plan.forward](x, w, b, win)


@register("conv2d_backward", "numba", fastest=True)
def conv2d_backward_numba(dout, x, w, win, need_input_grad=True):
    """``dx`` (unless not needed), then ``dw`` and ``db``, each by the algorithm the plan picks; the
    direct loops and the 1x1 products make both from one pass over ``dout``."""
    plan = plan_conv2d(w.shape, win, dout.shape[:3])
    if plan.input_grad == plan.weight_grad and plan.input_grad in BACKWARD:
        return BACKWARD[plan.input_grad](dout, x, w, win, need_input_grad)
    dx = INPUT_GRAD[plan.input_grad](dout, w, x.shape, win) if need_input_grad else None
    dw, db = WEIGHT_GRAD[plan.weight_grad](dout, x, w.shape, win)
    return dx, dw, db


# ---------------------------------------------------------------------------
# numpy: im2col with NumPy's data movers
# ---------------------------------------------------------------------------

@register("conv2d_forward", "numpy")
def conv2d_forward_numpy(x, w, b, win):
    """im2col by a strided copy, one product per block."""
    return im2col.forward(x, w, b, win, im2col.NUMPY)


@register("conv2d_backward", "numpy")
def conv2d_backward_numpy(dout, x, w, win, need_input_grad=True):
    """im2col's input gradient (the form the plan picks without compiled loops) and weight gradient."""
    plan = plan_conv2d(w.shape, win, compiled=False)
    dx = INPUT_GRAD[plan.input_grad](dout, w, x.shape, win, movers=im2col.NUMPY) if need_input_grad else None
    dw, db = im2col.weight_grad(dout, x, w.shape, win)
    return dx, dw, db
