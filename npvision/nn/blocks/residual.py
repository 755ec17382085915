"""ResNet's residual blocks: BasicBlock (ResNet-18/34) and Bottleneck (ResNet-50/101/152).

He et al., "Deep Residual Learning for Image Recognition" (2015). A block learns
a residual ``F(x)`` and adds its input back:

    y = relu(F(x) + shortcut(x))

``shortcut`` is the identity when the shapes agree, and a projection
(1x1 conv with the block's stride, no bias, then BatchNorm) when the stride is
not 1 or the channel count changes -- option (B) of the paper, as torchvision.

The backward pass of the sum is the whole point of the design: the gradient
reaching ``y`` goes *unchanged* to both terms, so

    dx = d_branch + d_identity

and the identity path carries the gradient to early layers however deep the
network. Every conv is followed by BatchNorm, so none has a bias.

A ReLU right after a BatchNorm (``relu1``, and ``relu2`` of the bottleneck) is applied by the
batch norm's own pass (:func:`~npvision.nn.norm.fused_activation`): the same numbers, one
pass over the activations fewer. The ReLU after the sum cannot be: its input is the sum.

Parameter counts (``bn`` = ``2 C`` each, gamma and beta):

* ``BasicBlock(C_in, C)``: ``9 C_in C + 9 C^2 + 4 C`` (+ ``C_in C + 2 C`` with a projection)
* ``Bottleneck(C_in, w, expansion=e)``: ``C_in w + 9 w^2 + w e w + 4 w + 2 e w``
  (+ ``C_in e w + 2 e w`` with a projection)
"""

from __future__ import annotations

import numpy as np

from ..._checks import positive_int
from ..activations import ReLU
from ..conv import Conv2D
from ..init import as_rng
from ..module import Module, Sequential
from ..norm import BatchNorm2D, bn_act_backward, bn_act_forward, fused_activation

__all__ = ["BasicBlock", "Bottleneck"]


def _projection(in_channels: int, out_channels: int, stride: int, rng, dtype) -> Sequential:
    """The shortcut that changes shape: 1x1 conv (stride, no bias) -> BatchNorm."""
    return Sequential(Conv2D(in_channels, out_channels, 1, stride=stride, bias=False, rng=rng, dtype=dtype),
                      BatchNorm2D(out_channels, dtype=dtype))


class BasicBlock(Module):
    """Two 3x3 convolutions and a shortcut: ``(N, H, W, C_in) -> (N, H/s, W/s, C_out)``.

        out = relu(bn1(conv1(x)))          3x3, stride s
        out = bn2(conv2(out))              3x3
        y   = relu(out + shortcut(x))

    Children (torchvision's names): ``conv1, bn1, relu1, conv2, bn2, relu2``
    and ``downsample`` (a ``Sequential(Conv2D 1x1, BatchNorm2D)``, or ``None``).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.stride = positive_int(stride, "stride")
        rng = as_rng(rng)
        self.conv1 = Conv2D(in_channels, out_channels, 3, stride=stride, padding=1, bias=False,
                            rng=rng, dtype=dtype)
        self.bn1 = BatchNorm2D(out_channels, dtype=dtype)
        self.relu1 = ReLU()
        self.conv2 = Conv2D(out_channels, out_channels, 3, padding=1, bias=False, rng=rng, dtype=dtype)
        self.bn2 = BatchNorm2D(out_channels, dtype=dtype)
        self.relu2 = ReLU(inplace=True)          # over the sum, a new array nothing else keeps
        if stride != 1 or in_channels != out_channels:
            self.downsample = _projection(in_channels, out_channels, stride, rng, dtype)
        else:
            self.downsample = None
        self._folded = {}                        # {"bn1": the activation bn1 applied, if any}

    def fused_activations(self) -> list:
        """The ReLUs that batch norms apply themselves (the profiler's question)."""
        return [self.relu1] if fused_activation(self.relu1) else []

    def forward(self, x: np.ndarray) -> np.ndarray:
        identity = x

        out = self.conv1.forward(x)
        out = bn_act_forward(self.bn1, self.relu1, out, self._folded, "bn1")   # relu1(bn1(out))
        out = self.conv2.forward(out)
        out = self.bn2.forward(out)

        if self.downsample is not None:
            identity = self.downsample.forward(x)

        out += identity                          # out is bn2's new array: the sum needs no other
        return self.relu2.forward(out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d_sum = self.relu2.backward(dy)

        # the sum hands its gradient unchanged to both of its terms
        d_out = d_sum
        d_identity = d_sum
        if self.downsample is not None:
            d_identity = self.downsample.backward(d_identity)

        d_out = self.bn2.backward(d_out)
        d_out = self.conv2.backward(d_out)
        d_out = bn_act_backward(self.bn1, self.relu1, d_out, self._folded, "bn1")
        d_branch = self.conv1.backward(d_out)

        d_branch += d_identity                   # dx = d_branch + d_identity, in conv1's new array
        return d_branch

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class Bottleneck(Module):
    """1x1 reduce -> 3x3 -> 1x1 expand, and a shortcut (ResNet v1.5: the stride is on the 3x3).

        out = relu(bn1(conv1(x)))          1x1, C_in -> width
        out = relu(bn2(conv2(out)))        3x3, width -> width, stride s
        out = bn3(conv3(out))              1x1, width -> width * expansion
        y   = relu(out + shortcut(x))

    ``(N, H, W, C_in) -> (N, H/s, W/s, width * expansion)``. Children:
    ``conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3, relu3, downsample``.
    """

    def __init__(self, in_channels: int, width: int, stride: int = 1, expansion: int = 4, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.width = positive_int(width, "width")
        self.stride = positive_int(stride, "stride")
        self.expansion = positive_int(expansion, "expansion")
        self.out_channels = width * expansion
        rng = as_rng(rng)
        self.conv1 = Conv2D(in_channels, width, 1, bias=False, rng=rng, dtype=dtype)
        self.bn1 = BatchNorm2D(width, dtype=dtype)
        self.relu1 = ReLU()
        self.conv2 = Conv2D(width, width, 3, stride=stride, padding=1, bias=False, rng=rng, dtype=dtype)
        self.bn2 = BatchNorm2D(width, dtype=dtype)
        self.relu2 = ReLU()
        self.conv3 = Conv2D(width, self.out_channels, 1, bias=False, rng=rng, dtype=dtype)
        self.bn3 = BatchNorm2D(self.out_channels, dtype=dtype)
        self.relu3 = ReLU(inplace=True)          # over the sum, a new array nothing else keeps
        if stride != 1 or in_channels != self.out_channels:
            self.downsample = _projection(in_channels, self.out_channels, stride, rng, dtype)
        else:
            self.downsample = None
        self._folded = {}                        # {"bn1", "bn2": the activation each applied, if any}

    def fused_activations(self) -> list:
        """The ReLUs that batch norms apply themselves (the profiler's question)."""
        return [r for r in (self.relu1, self.relu2) if fused_activation(r)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        identity = x

        out = self.conv1.forward(x)
        out = bn_act_forward(self.bn1, self.relu1, out, self._folded, "bn1")   # relu1(bn1(out))
        out = self.conv2.forward(out)
        out = bn_act_forward(self.bn2, self.relu2, out, self._folded, "bn2")   # relu2(bn2(out))
        out = self.conv3.forward(out)
        out = self.bn3.forward(out)

        if self.downsample is not None:
            identity = self.downsample.forward(x)

        out += identity                          # out is bn3's new array: the sum needs no other
        return self.relu3.forward(out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d_sum = self.relu3.backward(dy)

        # the sum hands its gradient unchanged to both of its terms
        d_out = d_sum
        d_identity = d_sum
        if self.downsample is not None:
            d_identity = self.downsample.backward(d_identity)

        d_out = self.bn3.backward(d_out)
        d_out = self.conv3.backward(d_out)
        d_out = bn_act_backward(self.bn2, self.relu2, d_out, self._folded, "bn2")
        d_out = self.conv2.backward(d_out)
        d_out = bn_act_backward(self.bn1, self.relu1, d_out, self._folded, "bn1")
        d_branch = self.conv1.backward(d_out)

        d_branch += d_identity                   # dx = d_branch + d_identity, in conv1's new array
        return d_branch

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, width={self.width}, stride={self.stride}, "
                f"expansion={self.expansion}")
