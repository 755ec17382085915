"""Which algorithm computes a convolution of a given shape: one small table of rules, with reasons.

The convolution is one piece of math (:mod:`npvision.kernels.reference.conv2d`), computed four
ways, each fastest on some shapes (measured on 2 cores, float32; ``benchmarks/README.md``):

============  ==================================================  =============================
algorithm     how                                                 file
============  ==================================================  =============================
``direct``    planar loops, a tap = a shift of a whole plane      :mod:`.direct`
``winograd``  F(2x2, 3x3): 16 products of transformed 4x4 tiles   :mod:`.winograd`
``im2col``    copies of the windows, one matrix product           :mod:`.im2col`
============  ==================================================  =============================

and the input gradient of im2col has four forms of its own: ``1x1`` (one product placed
on the grid), ``full`` (stride 1: a full convolution of ``dout`` with the flipped kernel),
``tiles`` (kernel = stride: the windows tile the image, a reshape puts the taps in place)
and ``scatter`` (any stride: gradient columns added back into their windows).

:func:`plan_conv2d` returns the choice for each of the three passes and why. The ``numpy``
backend asks for the plan without the compiled loops (``compiled=False``), which leaves im2col.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ConvPlan", "plan_conv2d", "DIRECT_MAX_CHANNELS", "DIRECT_MAX_PAIRS", "WINOGRAD_MIN_CHANNELS",
           "WINOGRAD_MIN_PIXELS"]

#: the direct loops serve stride-1 convolutions with C <= DIRECT_MAX_CHANNELS input channels and
#: F <= 16 filters, or C F <= DIRECT_MAX_PAIRS. Measured, fwd+bwd N32 32x32 k3, direct / im2col:
#: 1->16 0.55, 3->16 0.55, 16->16 0.70-0.74, 1->32 0.68, 3->32 0.86, 4->32 0.90, 2->48 0.89; but
#: 8->32 1.06, 16->32 1.06, 3->64 1.09, 8->64 1.45 (im2col's product widens with F, the direct
#: loops' cost does not drop).
DIRECT_MAX_CHANNELS = 16
DIRECT_MAX_PAIRS = 128

#: the fewest input and output channels for Winograd. Measured, fwd+bwd N32 32x32 C->C: at 16
#: channels im2col is 9% faster; at 24 Winograd is 6% faster, at 32 25%, at 64 2x.
WINOGRAD_MIN_CHANNELS = 24

#: the fewest output pixels (N Ho Wo, the whole batch) for Winograd: it saves multiplies in
#: proportion to them, but makes its 16 transformed weight matrices (16 C F numbers) on every
#: call, and few 2x2 tiles give its 16 products few rows.
WINOGRAD_MIN_PIXELS = 1024


class ConvPlan(NamedTuple):
    """The algorithm of each pass of one convolution, and the reason."""

    forward: str        # "direct", "winograd" or "im2col"
    input_grad: str     # "direct", "winograd", "1x1", "full", "tiles" or "scatter"
    weight_grad: str    # "direct", "winograd" or "im2col"
    why: str


def plan_conv2d(w_shape, win, out_shape=None, compiled: bool = True) -> ConvPlan:
    """The plan for a kernel ``w_shape = (KH, KW, C, F)`` sliding as ``win`` says (its stride and
    dilation; the padding does not matter) onto outputs of ``out_shape = (N, Ho, Wo)`` (None: a
    large batch). ``compiled=False``: only what NumPy can run."""
    KH, KW, C, F = w_shape
    pixels = out_shape[0] * out_shape[1] * out_shape[2] if out_shape is not None else WINOGRAD_MIN_PIXELS
    stride, dilation = tuple(win.stride), tuple(win.dilation)
    if KH == KW == 1:
        return ConvPlan("im2col", "1x1", "im2col", "1x1 kernel: the pixels are the columns, one product each way")
    if compiled and stride == (1, 1) and C <= DIRECT_MAX_CHANNELS and (F <= 16 or C * F <= DIRECT_MAX_PAIRS):
        return ConvPlan("direct", "direct", "direct",
                        f"{C}->{F} channels at stride 1: im2col's columns ({KH * KW * C} wide) and product "
                        f"({F} wide) are too narrow for BLAS; the planar loops make both gradients in one pass")
    if (compiled and (KH, KW) == (3, 3) and stride == (1, 1) and dilation == (1, 1)
            and min(C, F) >= WINOGRAD_MIN_CHANNELS and pixels >= WINOGRAD_MIN_PIXELS):
        return ConvPlan("winograd", "winograd", "winograd",
                        "3x3 at stride 1 with enough channels: Winograd multiplies 16 numbers per 2x2 "
                        "outputs and channel pair where im2col multiplies 36")
    if stride == (1, 1) and not (compiled and C < F):
        return ConvPlan("im2col", "full", "im2col",
                        "stride 1: the input gradient is a full convolution of dout with the flipped kernel")
    if stride == (KH, KW) and dilation == (1, 1):
        return ConvPlan("im2col", "tiles", "im2col",
                        "kernel = stride: the windows tile the image, the input gradient's taps are put in "
                        "place by a reshape")
    why = ("fewer input than output channels: scattering moves C channels per tap where the full "
           "convolution packs F" if stride == (1, 1) else f"stride {stride}: gradient columns are added back "
           "into their windows")
    return ConvPlan("im2col", "scatter", "im2col", why)
