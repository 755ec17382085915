"""ResNet (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", 2015).

**ImageNet ResNets** (torchvision's definitions; Bottleneck "v1.5": the
stride sits on the 3x3 conv). Output sizes for a 224x224x3 input:

    stage     layers                              output        ResNet-18   ResNet-34   ResNet-50
    conv1     7x7/2, 64, no bias; BN; ReLU        112x112x64        9,536       9,536       9,536
    maxpool   3x3/2, pad 1                         56x56x64
    layer1    blocks at width 64,  stride 1        56x56x64e      147,968     221,952     215,808
    layer2    blocks at width 128, stride 2        28x28x128e     525,568   1,116,416   1,219,584
    layer3    blocks at width 256, stride 2        14x14x256e   2,099,712   6,822,400   7,098,368
    layer4    blocks at width 512, stride 2          7x7x512e   8,393,728  13,114,368  14,964,736
    avgpool   global average                           512e
    fc        512e -> 1000                                        513,000     513,000   2,049,000
                                                        total  11,689,512  21,797,672  25,557,032

``e`` is the block's expansion (1 for BasicBlock, 4 for Bottleneck). Blocks
per stage: ResNet-18 [2, 2, 2, 2] BasicBlocks, ResNet-34 [3, 4, 6, 3]
BasicBlocks, ResNet-50 [3, 4, 6, 3] Bottlenecks. The first block of a stage
changes the size or the width, so its shortcut is a projection (1x1 conv with
the stride, then BN); every other shortcut is the identity.

**CIFAR ResNets** (Section 4.2 of the paper), for small 8x8..32x32 inputs: a
3x3 stem with 16 channels, no max pool, three stages of ``n`` BasicBlocks at
16, 32 and 64 channels (strides 1, 2, 2), global average pool and fc: depth
``6n + 2`` (``resnet20``: n = 3). At 32x32x3 with 10 classes:

    stage     layers                              output     resnet20 parameters
    conv1     3x3, 16, no bias; BN; ReLU          32x32x16        464
    layer1    3 BasicBlocks, 16, stride 1         32x32x16     14,016
    layer2    3 BasicBlocks, 32, stride 2         16x16x32     51,648
    layer3    3 BasicBlocks, 64, stride 2           8x8x64    205,696
    avgpool, fc 64 -> 10                                          650
                                                        total  272,474

The paper's CIFAR nets use parameter-free shortcuts (option A: subsample and
pad with zero channels), which gives 269,722; here the two shape-changing
shortcuts are 1x1 projections (option B, as the ImageNet nets), +2,752.
``width`` scales the three stages (16, 32, 64 by default) to build tiny
networks for gradient checks and quick demos.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .._checks import positive_int
from ..nn.init import as_rng
from ..nn.norm import bn_act_backward, bn_act_forward, fused_activation
from ._common import check_model_args
from .registry import register

__all__ = ["ResNet", "ResNetCIFAR", "resnet18", "resnet34", "resnet50", "resnet_cifar", "resnet20"]


def _make_stage(block, in_channels: int, width: int, blocks: int, stride: int, rng) -> nn.Sequential:
    """``blocks`` residual blocks; only the first one strides (and projects its shortcut)."""
    layers = [block(in_channels, width, stride=stride, rng=rng)]
    for _ in range(1, blocks):
        layers.append(block(layers[-1].out_channels, width, stride=1, rng=rng))
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """ImageNet ResNet: ``(N, H, W, C) -> (N, num_classes)`` logits.

    Parameters
    ----------
    block : ``nn.BasicBlock`` or ``nn.Bottleneck``.
    layers : blocks per stage, e.g. ``[2, 2, 2, 2]``.
    num_classes, input_shape : as every registered model (only ``C`` of the
        shape matters: the network ends in global average pooling).
    rng : seed or Generator for the weights.

    Children (torchvision's names): ``conv1, bn1, relu, maxpool, layer1 .. layer4, avgpool, fc``.
    """

    def __init__(self, block, layers, num_classes: int = 1000, input_shape=(224, 224, 3), rng=None):
        super().__init__()
        num_classes, (_, _, C) = check_model_args(num_classes, input_shape, "ResNet")
        if not (isinstance(layers, (list, tuple)) and len(layers) == 4):
            raise ValueError(f"layers: expected four block counts, one per stage, received {layers!r}")
        for i, n in enumerate(layers):
            positive_int(n, f"layers[{i}]")
        rng = as_rng(rng)

        self.conv1 = nn.Conv2D(C, 64, 7, stride=2, padding=3, bias=False, input_grad=False, rng=rng)
        self.bn1 = nn.BatchNorm2D(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2D(3, stride=2, padding=1)
        self.layer1 = _make_stage(block, 64, 64, layers[0], 1, rng)
        self.layer2 = _make_stage(block, self.layer1[-1].out_channels, 128, layers[1], 2, rng)
        self.layer3 = _make_stage(block, self.layer2[-1].out_channels, 256, layers[2], 2, rng)
        self.layer4 = _make_stage(block, self.layer3[-1].out_channels, 512, layers[3], 2, rng)
        self.avgpool = nn.GlobalAvgPool2D()
        self.fc = nn.Linear(self.layer4[-1].out_channels, num_classes, rng=rng)
        self._folded = {}              # {"bn1": the activation bn1 applied itself, if any}

    def fused_activations(self) -> list:
        """The stem's ReLU when its batch norm applies it (the profiler's question)."""
        return [self.relu] if fused_activation(self.relu) else []

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self.conv1.forward(x)      # (N, H/2, W/2, 64)
        x = bn_act_forward(self.bn1, self.relu, x, self._folded, "bn1")    # relu(bn1(x)), one pass
        x = self.maxpool.forward(x)    # (N, H/4, W/4, 64)
        x = self.layer1.forward(x)     # (N, H/4, W/4, 64 e)
        x = self.layer2.forward(x)     # (N, H/8, W/8, 128 e)
        x = self.layer3.forward(x)     # (N, H/16, W/16, 256 e)
        x = self.layer4.forward(x)     # (N, H/32, W/32, 512 e)
        x = self.avgpool.forward(x)    # (N, 512 e)
        return self.fc.forward(x)      # (N, num_classes)

    def backward(self, dy: np.ndarray):
        dy = self.fc.backward(dy)
        dy = self.avgpool.backward(dy)
        dy = self.layer4.backward(dy)
        dy = self.layer3.backward(dy)
        dy = self.layer2.backward(dy)
        dy = self.layer1.backward(dy)
        dy = self.maxpool.backward(dy)
        dy = bn_act_backward(self.bn1, self.relu, dy, self._folded, "bn1")
        return self.conv1.backward(dy)  # None: the stem does not compute d image


class ResNetCIFAR(nn.Module):
    """CIFAR ResNet of depth ``6 n + 2``: ``(N, H, W, C) -> (N, num_classes)``.

    Children: ``conv1, bn1, relu, layer1, layer2, layer3, avgpool, fc``.
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, input_shape=(32, 32, 3), width: int = 16,
                 rng=None):
        super().__init__()
        num_classes, (_, _, C) = check_model_args(num_classes, input_shape, "ResNetCIFAR")
        depth = positive_int(depth, "depth")
        width = positive_int(width, "width")
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"depth: a CIFAR ResNet has 6n + 2 layers (8, 14, 20, 32, 44, 56, 110, ...), "
                             f"received {depth}")
        n = (depth - 2) // 6
        self.depth = depth
        rng = as_rng(rng)

        self.conv1 = nn.Conv2D(C, width, 3, padding=1, bias=False, input_grad=False, rng=rng)
        self.bn1 = nn.BatchNorm2D(width)
        self.relu = nn.ReLU()
        self.layer1 = _make_stage(nn.BasicBlock, width, width, n, 1, rng)
        self.layer2 = _make_stage(nn.BasicBlock, width, 2 * width, n, 2, rng)
        self.layer3 = _make_stage(nn.BasicBlock, 2 * width, 4 * width, n, 2, rng)
        self.avgpool = nn.GlobalAvgPool2D()
        self.fc = nn.Linear(4 * width, num_classes, rng=rng)
        self._folded = {}              # {"bn1": the activation bn1 applied itself, if any}

    def fused_activations(self) -> list:
        """The stem's ReLU when its batch norm applies it (the profiler's question)."""
        return [self.relu] if fused_activation(self.relu) else []

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self.conv1.forward(x)      # (N, H, W, 16)
        x = bn_act_forward(self.bn1, self.relu, x, self._folded, "bn1")    # relu(bn1(x)), one pass
        x = self.layer1.forward(x)     # (N, H, W, 16)
        x = self.layer2.forward(x)     # (N, H/2, W/2, 32)
        x = self.layer3.forward(x)     # (N, H/4, W/4, 64)
        x = self.avgpool.forward(x)    # (N, 64)
        return self.fc.forward(x)      # (N, num_classes)

    def backward(self, dy: np.ndarray):
        dy = self.fc.backward(dy)
        dy = self.avgpool.backward(dy)
        dy = self.layer3.backward(dy)
        dy = self.layer2.backward(dy)
        dy = self.layer1.backward(dy)
        dy = bn_act_backward(self.bn1, self.relu, dy, self._folded, "bn1")
        return self.conv1.backward(dy)  # None: the stem does not compute d image

    def extra_repr(self) -> str:
        return f"depth={self.depth}"


@register("resnet18")
def resnet18(num_classes=1000, input_shape=(224, 224, 3), **options) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2]; 11,689,512 parameters for 1000 classes."""
    return ResNet(nn.BasicBlock, [2, 2, 2, 2], num_classes, input_shape, **options)


@register("resnet34")
def resnet34(num_classes=1000, input_shape=(224, 224, 3), **options) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3]; 21,797,672 parameters for 1000 classes."""
    return ResNet(nn.BasicBlock, [3, 4, 6, 3], num_classes, input_shape, **options)


@register("resnet50")
def resnet50(num_classes=1000, input_shape=(224, 224, 3), **options) -> ResNet:
    """ResNet-50 (v1.5): Bottlenecks [3, 4, 6, 3]; 25,557,032 parameters for 1000 classes."""
    return ResNet(nn.Bottleneck, [3, 4, 6, 3], num_classes, input_shape, **options)


def resnet_cifar(depth: int = 20, num_classes: int = 10, input_shape=(32, 32, 3), **options) -> ResNetCIFAR:
    """CIFAR ResNet of ``depth = 6 n + 2`` layers (options: ``width=16``, ``rng``)."""
    return ResNetCIFAR(depth, num_classes, input_shape, **options)


@register("resnet20")
def resnet20(num_classes=10, input_shape=(32, 32, 3), depth: int = 20, **options) -> ResNetCIFAR:
    """CIFAR ResNet-20 (``depth`` may be changed: 8, 14, 20, 32, 44, 56, 110); 272,474 parameters."""
    return resnet_cifar(depth, num_classes, input_shape, **options)
