"""GoogLeNet's Inception module (Szegedy et al., "Going Deeper with Convolutions", 2014).

Four branches look at the same input at different scales, and their outputs
are stacked along the channel axis:

    b1 = conv1x1(x)                               ch1x1 channels
    b2 = conv3x3(conv1x1(x))                      1x1 reduces to ch3x3red, then ch3x3
    b3 = convKxK(conv1x1(x))                      1x1 reduces to ch5x5red, then ch5x5
    b4 = conv1x1(maxpool3x3(x, stride 1, pad 1))  pool_proj
    y  = concat([b1, b2, b3, b4], axis=channels)

``(N, H, W, C_in) -> (N, H, W, ch1x1 + ch3x3 + ch5x5 + pool_proj)``. Every
"conv" is :class:`BasicConv2d`, conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU,
as torchvision's GoogLeNet (the 2014 paper had no BatchNorm).

Backward mirrors it: the concatenation's gradient is *split* back into the
four branches' pieces, each runs back through its branch, and since all four
branches read the same ``x``, their input gradients add:

    d_b1, d_b2, d_b3, d_b4 = split(dy)
    dx = d_x1 + d_x2 + d_x3 + d_x4

``kernel5`` is the size of the third branch's big kernel: 5 in the paper;
torchvision's GoogLeNet uses 3 there (a known quirk it keeps for its weights),
so a model reproducing torchvision's parameter count passes ``kernel5=3``.

The max pool pads with -inf (as PyTorch), so a border window's maximum is
always one of its real pixels.
"""

from __future__ import annotations

import numpy as np

from ... import functional as F
from ..._checks import positive_int
from ..activations import ReLU
from ..init import as_rng
from ..module import Module, Sequential
from ..pool import MaxPool2D
from .conv_bn import ConvBNAct

__all__ = ["BasicConv2d", "InceptionModule"]


class BasicConv2d(ConvBNAct):
    """torchvision GoogLeNet's unit: conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU.

    ``padding`` defaults to ``(k - 1) // 2`` ("same" size for odd kernels at stride 1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=1, stride=1, padding=None,
                 input_grad: bool = True, rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         activation=ReLU, eps=1e-3, input_grad=input_grad, rng=rng, dtype=dtype)


class InceptionModule(Module):
    """The four-branch Inception module; see the module docstring.

    Parameters
    ----------
    in_channels : C_in.
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj : the branch widths,
        named as in the paper's Table 1 (e.g. inception (3a): 64, 96, 128, 16, 32, 32).
    conv_block : callable ``(in_channels, out_channels, kernel_size, rng=, dtype=) -> Module``
        building each conv unit; default :class:`BasicConv2d`.
    kernel5 : kernel size of the third branch (5 in the paper, 3 in torchvision).

    Children: ``branch1``; ``branch2``, ``branch3`` (``Sequential`` of two units);
    ``branch4`` (``Sequential(MaxPool2D, unit)``).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, conv_block=None, kernel5: int = 5, rng=None,
                 dtype=np.float32):
        super().__init__()
        for name, v in [("in_channels", in_channels), ("ch1x1", ch1x1), ("ch3x3red", ch3x3red),
                        ("ch3x3", ch3x3), ("ch5x5red", ch5x5red), ("ch5x5", ch5x5),
                        ("pool_proj", pool_proj), ("kernel5", kernel5)]:
            positive_int(v, name)
        if kernel5 % 2 == 0:
            raise ValueError(f"kernel5: expected an odd kernel size (the branch keeps H and W), "
                             f"received {kernel5}")
        conv_block = BasicConv2d if conv_block is None else conv_block
        rng = as_rng(rng)
        self.in_channels = in_channels
        self.kernel5 = kernel5
        self.branch1 = conv_block(in_channels, ch1x1, 1, rng=rng, dtype=dtype)
        self.branch2 = Sequential(conv_block(in_channels, ch3x3red, 1, rng=rng, dtype=dtype),
                                  conv_block(ch3x3red, ch3x3, 3, rng=rng, dtype=dtype))
        self.branch3 = Sequential(conv_block(in_channels, ch5x5red, 1, rng=rng, dtype=dtype),
                                  conv_block(ch5x5red, ch5x5, kernel5, rng=rng, dtype=dtype))
        self.branch4 = Sequential(MaxPool2D(3, stride=1, padding=1),
                                  conv_block(in_channels, pool_proj, 1, rng=rng, dtype=dtype))
        self.branch_channels = (ch1x1, ch3x3, ch5x5, pool_proj)
        self.out_channels = sum(self.branch_channels)
        self.concat_cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        b1 = self.branch1.forward(x)  # (N, H, W, ch1x1)
        b2 = self.branch2.forward(x)  # (N, H, W, ch3x3)
        b3 = self.branch3.forward(x)  # (N, H, W, ch5x5)
        b4 = self.branch4.forward(x)  # (N, H, W, pool_proj)
        out, self.concat_cache = F.concat_forward([b1, b2, b3, b4], axis=-1)  # (N, H, W, sum)
        return out

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.concat_cache is None:
            raise RuntimeError("InceptionModule.backward was called before forward")
        # the concatenation's gradient: split dy back into the four branches' channel slices
        d_b1, d_b2, d_b3, d_b4 = F.concat_backward(dy, self.concat_cache)

        d_x1 = self.branch1.backward(d_b1)
        d_x2 = self.branch2.backward(d_b2)
        d_x3 = self.branch3.backward(d_b3)
        d_x4 = self.branch4.backward(d_b4)

        # all four branches read the same x: their gradients add
        dx = d_x1 + d_x2 + d_x3 + d_x4
        return dx

    def extra_repr(self) -> str:
        c1, c3, c5, cp = self.branch_channels
        return (f"{self.in_channels} -> {c1} + {c3} + {c5} + {cp} = {self.out_channels}, "
                f"kernel5={self.kernel5}")
