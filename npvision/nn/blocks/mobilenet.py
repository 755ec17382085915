"""MobileNet's blocks: DepthwiseSeparableConv (v1) and InvertedResidual (v2).

**v1** (Howard et al., 2017) factors a KxK convolution into a depthwise KxK
(each channel filtered on its own) and a pointwise 1x1 (mixing channels):

    out = depthwise(x)    3x3 depthwise conv, stride s -> BN -> ReLU
    y   = pointwise(out)  1x1 conv -> BN -> ReLU

Cost per output pixel: ``9 C_in + C_in C_out`` multiplies instead of
``9 C_in C_out``, about 8-9x fewer for 3x3 kernels.

**v2** (Sandler et al., 2018) inverts the bottleneck: expand the thin input
``t`` times, filter it depthwise, project back to a thin *linear* output
(no activation, to keep information in the low-dimensional space), and add
the input back when the shapes agree:

    h   = expand(x)       1x1 conv -> BN -> ReLU6, C_in -> t C_in    (skipped when t == 1)
    h   = depthwise(h)    3x3 depthwise conv, stride s -> BN -> ReLU6
    out = project(h)      1x1 conv -> BN, t C_in -> C_out, linear (no activation)
    y   = out + x         only when s == 1 and C_in == C_out

Backward mirrors forward; the residual's gradient is ``dx = d_branch + d_identity``.
All convs are followed by BatchNorm and have no bias (torchvision's definitions).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..._checks import positive_int
from ..activations import ReLU, ReLU6
from ..init import as_rng
from ..module import Module
from .conv_bn import ConvBNAct

__all__ = ["DepthwiseSeparableConv", "InvertedResidual"]


class DepthwiseSeparableConv(Module):
    """MobileNet v1 unit: ``(N, H, W, C_in) -> (N, H/s, W/s, C_out)``.

    Children: ``depthwise`` (3x3 depthwise conv, no bias -> BN -> ReLU) and
    ``pointwise`` (1x1 conv, no bias -> BN -> ReLU), each a :class:`ConvBNAct`.
    Parameters: ``9 C_in + 2 C_in + C_in C_out + 2 C_out``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.stride = positive_int(stride, "stride")
        rng = as_rng(rng)
        self.depthwise = ConvBNAct(in_channels, in_channels, 3, stride=stride, depthwise=True,
                                   activation=ReLU, rng=rng, dtype=dtype)
        self.pointwise = ConvBNAct(in_channels, out_channels, 1, activation=ReLU, rng=rng, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.depthwise.forward(x)    # (N, H/s, W/s, C_in): spatial filtering, per channel
        return self.pointwise.forward(out)  # (N, H/s, W/s, C_out): channel mixing

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d_out = self.pointwise.backward(dy)
        return self.depthwise.backward(d_out)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class InvertedResidual(Module):
    """MobileNet v2 block: ``(N, H, W, C_in) -> (N, H/s, W/s, C_out)``.

    ``hidden = round(C_in * expand_ratio)``. Children: ``expand`` (1x1 ConvBNAct
    with ReLU6, or ``None`` when ``expand_ratio == 1``), ``depthwise`` (3x3
    depthwise ConvBNAct with ReLU6, stride ``s``), ``project`` (1x1 ConvBNAct,
    no activation). ``use_residual`` is ``stride == 1 and C_in == C_out``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.stride = positive_int(stride, "stride")
        if not isinstance(expand_ratio, numbers.Real) or isinstance(expand_ratio, bool) or expand_ratio <= 0:
            raise ValueError(f"expand_ratio: expected a positive number, received {expand_ratio!r}")
        self.expand_ratio = expand_ratio
        self.hidden_channels = int(round(in_channels * expand_ratio))
        if self.hidden_channels < 1:
            raise ValueError(f"expand_ratio: in_channels * expand_ratio = {in_channels * expand_ratio} "
                             f"rounds to no channels")
        self.use_residual = stride == 1 and in_channels == out_channels
        rng = as_rng(rng)
        hidden = self.hidden_channels
        if expand_ratio != 1:
            self.expand = ConvBNAct(in_channels, hidden, 1, activation=ReLU6, rng=rng, dtype=dtype)
        else:
            self.expand = None
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride=stride, depthwise=True, activation=ReLU6,
                                   rng=rng, dtype=dtype)
        self.project = ConvBNAct(hidden, out_channels, 1, activation=None, rng=rng, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        identity = x

        out = x
        if self.expand is not None:
            out = self.expand.forward(out)   # (N, H, W, hidden)
        out = self.depthwise.forward(out)    # (N, H/s, W/s, hidden)
        out = self.project.forward(out)      # (N, H/s, W/s, C_out), linear

        if self.use_residual:
            out += identity                      # out is the projection's new array
        return out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # the sum (when present) hands dy unchanged to the branch and to the identity
        d_out = dy
        d_out = self.project.backward(d_out)
        d_out = self.depthwise.backward(d_out)
        if self.expand is not None:
            d_out = self.expand.backward(d_out)
        d_branch = d_out

        if self.use_residual:
            d_identity = dy
            d_branch += d_identity               # dx = d_branch + d_identity, in the branch's new array
        return d_branch

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, stride={self.stride}, "
                f"expand_ratio={self.expand_ratio}, residual={self.use_residual}")
