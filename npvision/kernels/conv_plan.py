"""Which algorithm computes a convolution of a given shape: one small table of rules, with reasons.

The convolution is one piece of math (:mod:`npvision.kernels.reference.conv2d`), computed four
ways, each fastest on some shapes (measured on 2 cores, float32; ``benchmarks/README.md``):

============  ====================================================  ===============
algorithm     how                                                   file
============  ====================================================  ===============
``direct``    planar loops, a tap = a shift of a whole plane        :mod:`.direct`
``winograd``  F(2x2, 3x3): 16 products of transformed 4x4 tiles     :mod:`.winograd`
``im2col``    copies of the windows, one matrix product per block   :mod:`.im2col`
``gemm``      im2col's matrices, one product for the whole batch    :mod:`.gemm`
============  ====================================================  ===============

and the input gradient of im2col has four forms of its own: ``1x1`` (one product placed
on the grid), ``full`` (stride 1: a full convolution of ``dout`` with the flipped kernel),
``tiles`` (kernel = stride: the windows tile the image, a reshape puts the taps in place)
and ``scatter`` (any stride: gradient columns added back into their windows).

:func:`plan_conv2d` returns the choice for each of the three passes and why. The ``numpy``
backend asks for the plan without the compiled loops (``compiled=False``), which leaves im2col
(blocks; the ``gemm`` form scatters with a compiled loop).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ConvPlan", "plan_conv2d", "DIRECT_MAX_CHANNELS", "DIRECT_MAX_PAIRS", "WINOGRAD_MIN_CHANNELS",
           "WINOGRAD_MIN_PIXELS", "GEMM_MAX_ROWS_PER_FILTER", "GEMM_MAX_COLUMNS",
           "GEMM_MIN_WEIGHTS"]

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


#: the whole batch in one product (``gemm``) when it has at most this many output pixels
#: (N Ho Wo, the product's rows) per filter: then the weight matrix (KH KW C x F) is about as
#: large as the columns or larger, and im2col's blocks would each re-read it. Measured, N Ho Wo
#: / F and ms im2col blocks -> one product (fwd / dx / dw): VGG N4 512->512 4x4 (1/8) 2.7 -> 1.6
#: / 10.3 -> 1.8 / 10.7 -> 1.6; ResNet N16 256->256 4x4 (1) 2.8 -> 2.5 / 5.9 -> 2.3 / 4.2 -> 2.3;
#: N16 128->256 8x8 s2 (1) 1.7 -> 1.4 / 1.8 -> 1.3 / 2.2 -> 1.3; but N16 64->128 16x16 s2 (8)
#: 1.46 -> 1.44 / 1.51 -> 1.51 / 1.68 -> 1.51 (a tie).
GEMM_MAX_ROWS_PER_FILTER = 4

#: ... when the batch's columns (N Ho Wo x KH KW C numbers) stay under this: 16 MiB in float32,
GEMM_MAX_COLUMNS = 4 * 2**20

#: ... and when the weight matrix has at least this many numbers (256 KiB in float32): a smaller
#: one stays in a core's cache, and im2col's blocks re-read it at little cost.
GEMM_MIN_WEIGHTS = 2**16


class ConvPlan(NamedTuple):
    """The algorithm of each pass of one convolution, and the reason."""

    forward: str        # "direct", "winograd", "gemm" or "im2col"
    input_grad: str     # "direct", "winograd", "gemm", "1x1", "full", "tiles" or "scatter"
    weight_grad: str    # "direct", "winograd", "gemm", "im2col" or "1x1"
    why: str


def plan_conv2d(w_shape, win, out_shape=None, compiled: bool = True) -> ConvPlan:
    """The plan for a kernel ``w_shape = (KH, KW, C, F)`` sliding as ``win`` says (its stride and
    dilation; the padding does not matter) onto outputs of ``out_shape = (N, Ho, Wo)`` (None: a
    large batch). ``compiled=False``: only what NumPy can run."""
    KH, KW, C, F = w_shape
    pixels = out_shape[0] * out_shape[1] * out_shape[2] if out_shape is not None else WINOGRAD_MIN_PIXELS
    stride, dilation = tuple(win.stride), tuple(win.dilation)
    if KH == KW == 1:
        return ConvPlan("im2col", "1x1", "1x1", "1x1 kernel: the pixels are the columns, one product each way; "
                        "both gradients' products from one pass over dout")
    if compiled and stride == (1, 1) and C <= DIRECT_MAX_CHANNELS and (F <= 16 or C * F <= DIRECT_MAX_PAIRS):
        return ConvPlan("direct", "direct", "direct",
                        f"{C}->{F} channels at stride 1: im2col's columns ({KH * KW * C} wide) and product "
                        f"({F} wide) are too narrow for BLAS; the planar loops make both gradients in one pass")
    if (compiled and (KH, KW) == (3, 3) and stride == (1, 1) and dilation == (1, 1)
            and min(C, F) >= WINOGRAD_MIN_CHANNELS and pixels >= WINOGRAD_MIN_PIXELS):
        return ConvPlan("winograd", "winograd", "winograd",
                        "3x3 at stride 1 with enough channels: Winograd multiplies 16 numbers per 2x2 "
                        "outputs and channel pair where im2col multiplies 36")
    if stride == (KH, KW) and dilation == (1, 1):
        return ConvPlan("im2col", "tiles", "im2col",
                        "kernel = stride: the windows tile the image, the input gradient's taps are put in "
                        "place by a reshape")
    if (compiled and out_shape is not None and pixels <= GEMM_MAX_ROWS_PER_FILTER * F
            and pixels * KH * KW * C <= GEMM_MAX_COLUMNS and KH * KW * C * F >= GEMM_MIN_WEIGHTS):
        return ConvPlan("gemm", "gemm", "gemm",
                        f"{pixels} output pixels for {F} filters: the weight matrix ({KH * KW * C} x {F}) is "
                        "the larger operand; one product for the batch reads it once, im2col's blocks would "
                        "each re-read it")
    if stride == (1, 1) and not (compiled and C < F):
        return ConvPlan("im2col", "full", "im2col",
                        "stride 1: the input gradient is a full convolution of dout with the flipped kernel")
    why = ("fewer input than output channels: scattering moves C channels per tap where the full "
           "convolution packs F" if stride == (1, 1) else f"stride {stride}: gradient columns are added back "
           "into their windows")
    return ConvPlan("im2col", "scatter", "im2col", why)
