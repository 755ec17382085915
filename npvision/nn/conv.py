"""Convolution layers: Conv2D, DepthwiseConv2D and ConvTranspose2D.

Each layer owns its weight (and optional bias) as :class:`Parameter` objects
and wraps one pair of :mod:`npvision.functional` ops::

    y, cache     = F.conv2d_forward(x, w, b, stride, padding, dilation)
    dx, dw, db   = F.conv2d_backward(dy, cache)

Shapes (channels-last):

=====================  ========================  ===================  ===============
layer                  input ``x``               weight ``w``         output ``y``
=====================  ========================  ===================  ===============
``Conv2D``             ``(N, H, W, C_in)``       ``(KH, KW, C_in, C_out)``  ``(N, H', W', C_out)``
``DepthwiseConv2D``    ``(N, H, W, C)``          ``(KH, KW, C, M)``   ``(N, H', W', C*M)``
``ConvTranspose2D``    ``(N, H, W, C_in)``       ``(KH, KW, C_out, C_in)``  ``(N, H'', W'', C_out)``
=====================  ========================  ===================  ===============

with ``H' = floor((H + 2p - d (KH - 1) - 1) / s) + 1`` for the convolutions and
``H'' = (H - 1) s - 2p + d (KH - 1) + 1 + output_padding`` for the transpose.

Weights start from He initialization, ``N(0, 2 / fan_in)``, where ``fan_in`` is
the number of products summed into one output value: ``KH KW C_in`` for a
convolution, ``KH KW`` for a depthwise one (each output sees one input
channel), ``KH KW C_in / (s_h s_w)`` on average for a transpose convolution.
Biases start at zero.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import int_pair, positive_int
from . import init
from ._layer import accumulate, cache_of, check_input, param_as
from .module import Module, Parameter

__all__ = ["Conv2D", "DepthwiseConv2D", "ConvTranspose2D"]


class Conv2D(Module):
    """2-D cross-correlation (what deep learning calls convolution)::

        y[n, i, j, o] = b[o] + sum_{kh, kw, c} x_pad[n, s i + d kh, s j + d kw, c] w[kh, kw, c, o]

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    kernel_size : int or (KH, KW)
    stride, dilation : int or pair
    padding : int, (ph, pw), ((top, bottom), (left, right)), ``"valid"`` or ``"same"``
    bias : bool
        Add a learned ``(C_out,)`` bias (set ``False`` when a BatchNorm follows:
        its ``beta`` makes a bias redundant).
    input_grad : bool
        ``False`` for a network's first layer: ``backward`` then skips the
        input gradient (nobody needs ``dL/d image``) and returns ``None``.
    rng : None, int or numpy Generator
        Source of the initial weights (see :mod:`npvision.nn.init`).
    dtype : float dtype of the parameters (float32 to train, float64 to gradient-check).

    Attributes: ``weight`` ``(KH, KW, C_in, C_out)``, ``bias`` ``(C_out,)`` or ``None``,
    ``cache`` (what the last ``forward`` saved for ``backward``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, input_grad: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.stride = int_pair(stride, "stride")
        self.dilation = int_pair(dilation, "dilation")
        self.padding = padding
        self.input_grad = bool(input_grad)
        kh, kw = self.kernel_size
        shape = (kh, kw, self.in_channels, self.out_channels)  # (KH, KW, C_in, C_out)
        self.weight = Parameter(init.he_normal(shape, rng=rng, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C_in) -> (N, H', W', C_out)``."""
        x = check_input(x, self, 4, "(N, H, W, C)", self.in_channels)
        y, self.cache = F.conv2d_forward(x, param_as(self.weight, x.dtype), param_as(self.bias, x.dtype),
                                         stride=self.stride, padding=self.padding, dilation=self.dilation)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """``dy (N, H', W', C_out) -> dx (N, H, W, C_in)`` (or ``None`` when ``input_grad=False``).

        ``dw[kh, kw, c, o] = sum_{n, i, j} x_pad[n, s i + d kh, s j + d kw, c] dy[n, i, j, o]``,
        ``db[o] = sum_{n, i, j} dy[n, i, j, o]``; both are added into the Parameters' ``grad``.
        """
        dx, dw, db = F.conv2d_backward(dy, cache_of(self), need_input_grad=self.input_grad)
        accumulate(self.weight, dw)
        accumulate(self.bias, db)
        return dx

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding!r}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        if not self.input_grad:
            s += ", input_grad=False"
        return s


class DepthwiseConv2D(Module):
    """Depthwise convolution: each input channel is filtered on its own by ``M`` kernels.

    ``y[n, i, j, c M + m] = b[c M + m] + sum_{kh, kw} x_pad[n, s i + d kh, s j + d kw, c] w[kh, kw, c, m]``

    ``M = depth_multiplier``; output channels ``C M``. MobileNet's depthwise
    separable convolution is this layer followed by a 1x1 :class:`Conv2D`.
    Attributes: ``weight`` ``(KH, KW, C, M)``, ``bias`` ``(C M,)`` or ``None``.
    """

    def __init__(self, channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier: int = 1, bias: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier")
        self.out_channels = self.channels * self.depth_multiplier
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.stride = int_pair(stride, "stride")
        self.dilation = int_pair(dilation, "dilation")
        self.padding = padding
        kh, kw = self.kernel_size
        shape = (kh, kw, self.channels, self.depth_multiplier)  # (KH, KW, C, M)
        # one output value sums KH * KW products (a single input channel)
        self.weight = Parameter(init.he_normal(shape, rng=rng, dtype=dtype, fan_in=kh * kw))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C) -> (N, H', W', C M)``."""
        x = check_input(x, self, 4, "(N, H, W, C)", self.channels)
        y, self.cache = F.depthwise_conv2d_forward(
            x, param_as(self.weight, x.dtype), param_as(self.bias, x.dtype),
            stride=self.stride, padding=self.padding, dilation=self.dilation)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy (N, H', W', C M) -> dx (N, H, W, C)``; ``dw``, ``db`` added into the Parameters."""
        dx, dw, db = F.depthwise_conv2d_backward(dy, cache_of(self))
        accumulate(self.weight, dw)
        accumulate(self.bias, db)
        return dx

    def extra_repr(self) -> str:
        s = (f"{self.channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding!r}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.depth_multiplier != 1:
            s += f", depth_multiplier={self.depth_multiplier}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose2D(Module):
    """Transpose ("fractionally strided") convolution: the input gradient of a Conv2D, as a layer.

    It upsamples: ``H_out = (H - 1) s - 2p + d (KH - 1) + 1 + output_padding``
    (``padding="same"`` gives ``H s``). Its weight is stored as the weight of
    the convolution it transposes, ``(KH, KW, C_out, C_in)``: that convolution
    maps ``C_out`` channels to ``C_in``, and this layer runs it backwards.
    Attributes: ``weight`` ``(KH, KW, C_out, C_in)``, ``bias`` ``(C_out,)`` or ``None``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, bias: bool = True, dilation=1, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.stride = int_pair(stride, "stride")
        self.dilation = int_pair(dilation, "dilation")
        self.padding = padding
        self.output_padding = output_padding
        kh, kw = self.kernel_size
        sh, sw = self.stride
        shape = (kh, kw, self.out_channels, self.in_channels)  # (KH, KW, C_out, C_in)
        # each output pixel receives about KH KW / (s_h s_w) taps from each of the C_in channels
        fan_in = max(1, (kh * kw * self.in_channels) // (sh * sw))
        self.weight = Parameter(init.he_normal(shape, rng=rng, dtype=dtype, fan_in=fan_in))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C_in) -> (N, H_out, W_out, C_out)``."""
        x = check_input(x, self, 4, "(N, H, W, C)", self.in_channels)
        y, self.cache = F.conv_transpose2d_forward(
            x, param_as(self.weight, x.dtype), param_as(self.bias, x.dtype), stride=self.stride,
            padding=self.padding, output_padding=self.output_padding, dilation=self.dilation)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy (N, H_out, W_out, C_out) -> dx (N, H, W, C_in)`` (an ordinary convolution of ``dy``)."""
        dx, dw, db = F.conv_transpose2d_backward(dy, cache_of(self))
        accumulate(self.weight, dw)
        accumulate(self.bias, db)
        return dx

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding!r}")
        if self.output_padding != 0:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
