"""EfficientNet's MBConv block (Tan & Le, "EfficientNet", 2019), as torchvision's EfficientNet-B0.

MobileNet v2's inverted residual with SiLU activations and a squeeze-and-excitation
step between the depthwise and the projection convolutions:

    h   = expand(x)       1x1 conv -> BN -> SiLU, C_in -> t C_in     (skipped when t == 1)
    h   = depthwise(h)    KxK depthwise conv, stride s, padding (K - 1) // 2 -> BN -> SiLU
    h   = se(h)           squeeze-excitation (SiLU inside), squeeze width
                          max(1, C_in * se_ratio) from the block's *input* C_in
    out = project(h)      1x1 conv -> BN, t C_in -> C_out, linear (no activation)
    out = drop_path(out)  stochastic depth: while training, a sample's branch is dropped with
                          probability p (and the kept ones scaled by 1 / (1 - p)); p = 0 by default
    y   = out + x         only when s == 1 and C_in == C_out

Backward mirrors it; the residual's gradient is ``dx = d_branch + d_identity``.

Stochastic depth (Huang et al. 2016) is torchvision's regularizer for
EfficientNet: with ``stochastic_depth=p`` a residual block gets a
:class:`~npvision.nn.StochasticDepth` on its branch (absent otherwise; at
evaluation it is the identity either way). The expanded width is ``round(t C_in)``; torchvision rounds it to a
multiple of 8, which gives the same number for every EfficientNet-B0 block
(``C_in`` there is already a multiple of 8 and ``t`` an integer).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..._checks import positive_int
from ..activations import SiLU
from ..dropout import StochasticDepth
from ..init import as_rng
from ..module import Module
from .conv_bn import ConvBNAct
from .squeeze_excite import SqueezeExcitation

__all__ = ["MBConv"]


class MBConv(Module):
    """Mobile inverted bottleneck with squeeze-excitation: ``(N, H, W, C_in) -> (N, H/s, W/s, C_out)``.

    Parameters
    ----------
    in_channels, out_channels : C_in, C_out.
    kernel_size : K of the depthwise conv (3 or 5 in B0).
    stride : s of the depthwise conv.
    expand_ratio : t (1 or 6 in B0).
    se_ratio : squeeze width ``max(1, int(C_in * se_ratio))`` (``C_in // 4`` for 0.25);
        ``0`` or ``None`` leaves out the SE step.
    eps : BatchNorm epsilon (torchvision's B0-B4 use the default 1e-5, B5-B7 1e-3).
    momentum : BatchNorm momentum, npvision's convention (0.9 = PyTorch's 0.1).
    stochastic_depth : probability of dropping a sample's residual branch while
        training (only residual blocks have one); 0 leaves it out.

    Children: ``expand`` (ConvBNAct or ``None``), ``depthwise`` (ConvBNAct),
    ``se`` (:class:`SqueezeExcitation` with SiLU, or ``None``), ``project`` (ConvBNAct, linear),
    ``drop_path`` (:class:`~npvision.nn.StochasticDepth`, or ``None``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, expand_ratio,
                 se_ratio: float | None = 0.25, eps: float = 1e-5, rng=None, dtype=np.float32,
                 momentum: float = 0.9, stochastic_depth: float = 0.0):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        self.stride = positive_int(stride, "stride")
        if not isinstance(expand_ratio, numbers.Real) or isinstance(expand_ratio, bool) or expand_ratio <= 0:
            raise ValueError(f"expand_ratio: expected a positive number, received {expand_ratio!r}")
        if se_ratio is not None and (not isinstance(se_ratio, numbers.Real) or not 0 <= se_ratio <= 1):
            raise ValueError(f"se_ratio: expected a number in [0, 1] or None, received {se_ratio!r}")
        self.expand_ratio = expand_ratio
        self.se_ratio = se_ratio
        self.hidden_channels = int(round(in_channels * expand_ratio))
        if self.hidden_channels < 1:
            raise ValueError(f"expand_ratio: in_channels * expand_ratio = {in_channels * expand_ratio} "
                             f"rounds to no channels")
        self.use_residual = stride == 1 and in_channels == out_channels
        rng = as_rng(rng)
        hidden = self.hidden_channels

        bn = dict(eps=eps, momentum=momentum, rng=rng, dtype=dtype)
        if hidden != in_channels:
            self.expand = ConvBNAct(in_channels, hidden, 1, activation=SiLU, **bn)
        else:
            self.expand = None
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size, stride=stride, depthwise=True,
                                   activation=SiLU, **bn)
        if se_ratio:
            squeeze = max(1, int(in_channels * se_ratio))
            self.se = SqueezeExcitation(hidden, squeeze, activation=SiLU, rng=rng, dtype=dtype)
        else:
            self.se = None
        self.project = ConvBNAct(hidden, out_channels, 1, activation=None, **bn)
        if stochastic_depth and self.use_residual:
            self.drop_path = StochasticDepth(stochastic_depth, rng=rng)
        else:
            self.drop_path = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        identity = x

        out = x
        if self.expand is not None:
            out = self.expand.forward(out)    # (N, H, W, hidden)
        out = self.depthwise.forward(out)     # (N, H/s, W/s, hidden)
        if self.se is not None:
            out = self.se.forward(out)        # channels re-weighted
        out = self.project.forward(out)       # (N, H/s, W/s, C_out), linear
        if self.drop_path is not None:
            out = self.drop_path.forward(out)  # some samples' branches zeroed while training

        if self.use_residual:
            out += identity                      # out is the projection's new array
        return out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # the sum (when present) hands dy unchanged to the branch and to the identity
        d_out = dy
        if self.drop_path is not None:
            d_out = self.drop_path.backward(d_out)
        d_out = self.project.backward(d_out)
        if self.se is not None:
            d_out = self.se.backward(d_out)
        d_out = self.depthwise.backward(d_out)
        if self.expand is not None:
            d_out = self.expand.backward(d_out)
        d_branch = d_out

        if self.use_residual:
            d_identity = dy
            d_branch += d_identity               # dx = d_branch + d_identity, in the branch's new array
        return d_branch

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, expand_ratio={self.expand_ratio}, se_ratio={self.se_ratio}, "
                f"residual={self.use_residual}")
