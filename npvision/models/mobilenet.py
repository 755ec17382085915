"""MobileNet v1 (Howard et al., 2017) and MobileNet v2 (Sandler et al., 2018).

**MobileNet v1**, as Keras's ``MobileNet(include_top=True)``: a 3x3/2 stem
conv, 13 depthwise-separable blocks (3x3 depthwise -> BN -> ReLU, 1x1
pointwise -> BN -> ReLU), global average pool, dropout and a 1x1 conv with
bias as the classifier (on a 1x1 map that is a Linear layer). The width
multiplier ``alpha`` thins every layer: ``int(alpha * channels)``. For a
224x224x3 input and ``alpha = 1``:

    stage    layers                               output        parameters
    conv1    3x3/2, 32, no bias; BN; ReLU         112x112x32           928
    stage1   dw/1, pw 64                          112x112x64         2,528
    stage2   dw/2, pw 128; dw/1, pw 128            56x56x128        27,200
    stage3   dw/2, pw 256; dw/1, pw 256            28x28x256       103,552
    stage4   dw/2, pw 512; 5 x (dw/1, pw 512)      14x14x512     1,478,912
    stage5   dw/2, pw 1024; dw/1, pw 1024            7x7x1024    1,593,856
    avgpool, dropout 0.001, fc 1024 -> 1000                      1,025,000
                                                          total  4,231,976

(Keras counts 4,253,864 because it adds BatchNorm's 21,888 moving means and
variances, which are not trained. Keras uses ReLU6 where the paper, and this
file, use ReLU; the count is the same.)

**MobileNet v2**, as torchvision's ``mobilenet_v2``: a 3x3/2 stem with ReLU6,
seven stages of inverted residual blocks, the paper's Table 2 (expansion
``t``, output channels ``c``, repeats ``n``, first stride ``s``), a 1x1 conv
to 1280 channels, global average pool, dropout 0.2 and a Linear layer. The
width multiplier scales channels with ``make_divisible(c * width_mult, 8)``;
the last conv keeps ``1280`` unless ``width_mult > 1``. For 224x224x3:

    stage      t    c    n  s   output        parameters
    conv1      -   32    1  2   112x112x32           928
    stage1     1   16    1  1   112x112x16           896
    stage2     6   24    2  2    56x56x24         13,968
    stage3     6   32    3  2    28x28x32         39,696
    stage4     6   64    4  2    14x14x64        183,872
    stage5     6   96    3  1    14x14x96        303,168
    stage6     6  160    3  2      7x7x160       795,264
    stage7     6  320    1  1      7x7x320       473,920
    conv_last  1x1, 1280            7x7x1280      412,160
    avgpool, dropout 0.2, fc 1280 -> 1000                  1,281,000
                                                    total  3,504,872
"""

from __future__ import annotations

import numbers

from .. import nn
from ..nn.init import as_rng
from ._common import ChainModel, check_model_args, make_divisible
from .registry import register

__all__ = ["MobileNetV1", "MobileNetV2", "mobilenet_v1", "mobilenet_v2", "V1_BLOCKS", "V2_SETTING"]

# MobileNet v1: (pointwise output channels, depthwise stride) of the 13 blocks, grouped by stage
V1_BLOCKS = [
    [(64, 1)],
    [(128, 2), (128, 1)],
    [(256, 2), (256, 1)],
    [(512, 2)] + [(512, 1)] * 5,
    [(1024, 2), (1024, 1)],
]

# MobileNet v2, the paper's Table 2: expansion t, output channels c, repeats n, first stride s
V2_SETTING = [
    # t,   c,  n, s
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def _positive_number(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not v > 0:
        raise ValueError(f"{name}: expected a positive number, received {v!r}")
    return float(v)


class MobileNetV1(ChainModel):
    """MobileNet v1: ``(N, H, W, C) -> (N, num_classes)`` logits.

    Options: ``alpha=1.0`` (width multiplier), ``dropout=0.001`` (Keras's
    default), ``rng``. Children: ``conv1, stage1 .. stage5`` (Sequentials of
    :class:`~npvision.nn.DepthwiseSeparableConv`), ``avgpool, dropout, fc``, run
    in that order (the comments give each one's output at 224x224).
    """

    def __init__(self, num_classes: int = 1000, input_shape=(224, 224, 3), alpha: float = 1.0,
                 dropout: float = 1e-3, rng=None):
        super().__init__()
        num_classes, (_, _, C) = check_model_args(num_classes, input_shape, "MobileNetV1")
        alpha = _positive_number(alpha, "alpha")
        if int(32 * alpha) < 1:
            raise ValueError(f"alpha: {alpha} leaves the 32-channel stem with no channels; "
                             f"expected alpha >= 1/32")
        self.alpha = alpha
        rng = as_rng(rng)

        def stage(in_channels, blocks):
            layers = []
            for channels, stride in blocks:
                out_channels = int(channels * alpha)
                layers.append(nn.DepthwiseSeparableConv(in_channels, out_channels, stride, rng=rng))
                in_channels = out_channels
            return nn.Sequential(*layers), in_channels

        stem_channels = int(32 * alpha)
        self.conv1 = nn.ConvBNAct(C, stem_channels, 3, stride=2, activation=nn.ReLU, input_grad=False,
                                  rng=rng)                                      # (N, 112, 112, 32 a)
        self.stage1, c = stage(stem_channels, V1_BLOCKS[0])                     # (N, 112, 112, 64 a)
        self.stage2, c = stage(c, V1_BLOCKS[1])                                 # (N, 56, 56, 128 a)
        self.stage3, c = stage(c, V1_BLOCKS[2])                                 # (N, 28, 28, 256 a)
        self.stage4, c = stage(c, V1_BLOCKS[3])                                 # (N, 14, 14, 512 a)
        self.stage5, c = stage(c, V1_BLOCKS[4])                                 # (N, 7, 7, 1024 a)
        self.avgpool = nn.GlobalAvgPool2D()                                     # (N, 1024 a)
        self.dropout = nn.Dropout(dropout, rng=rng)
        # Keras: the classifier is a 1x1 conv with bias on the 1x1 map, i.e. this Linear layer
        self.fc = nn.Linear(c, num_classes, rng=rng)                            # (N, num_classes)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class MobileNetV2(ChainModel):
    """MobileNet v2: ``(N, H, W, C) -> (N, num_classes)`` logits.

    Options: ``width_mult=1.0``, ``dropout=0.2``, ``rng``. Children: ``conv1``,
    ``stage1 .. stage7`` (Sequentials of :class:`~npvision.nn.InvertedResidual`;
    only a stage's first block strides), ``conv_last``, ``avgpool, dropout, fc``,
    run in that order (the comments give each one's output at 224x224, width 1).
    """

    def __init__(self, num_classes: int = 1000, input_shape=(224, 224, 3), width_mult: float = 1.0,
                 dropout: float = 0.2, rng=None):
        super().__init__()
        num_classes, (_, _, C) = check_model_args(num_classes, input_shape, "MobileNetV2")
        width_mult = _positive_number(width_mult, "width_mult")
        self.width_mult = width_mult
        rng = as_rng(rng)

        def stage(in_channels, t, c, n, s):
            out_channels = make_divisible(c * width_mult, 8)
            layers = []
            for i in range(n):
                layers.append(nn.InvertedResidual(in_channels, out_channels, s if i == 0 else 1, t, rng=rng))
                in_channels = out_channels
            return nn.Sequential(*layers), out_channels

        stem_channels = make_divisible(32 * width_mult, 8)
        last_channels = make_divisible(1280 * max(1.0, width_mult), 8)
        self.conv1 = nn.ConvBNAct(C, stem_channels, 3, stride=2, activation=nn.ReLU6, input_grad=False,
                                  rng=rng)                                      # (N, 112, 112, 32)
        self.stage1, c = stage(stem_channels, *V2_SETTING[0])                   # (N, 112, 112, 16)
        self.stage2, c = stage(c, *V2_SETTING[1])                               # (N, 56, 56, 24)
        self.stage3, c = stage(c, *V2_SETTING[2])                               # (N, 28, 28, 32)
        self.stage4, c = stage(c, *V2_SETTING[3])                               # (N, 14, 14, 64)
        self.stage5, c = stage(c, *V2_SETTING[4])                               # (N, 14, 14, 96)
        self.stage6, c = stage(c, *V2_SETTING[5])                               # (N, 7, 7, 160)
        self.stage7, c = stage(c, *V2_SETTING[6])                               # (N, 7, 7, 320)
        self.conv_last = nn.ConvBNAct(c, last_channels, 1, activation=nn.ReLU6, rng=rng)  # (N, 7, 7, 1280)
        self.avgpool = nn.GlobalAvgPool2D()                                     # (N, 1280)
        self.dropout = nn.Dropout(dropout, rng=rng)
        self.fc = nn.Linear(last_channels, num_classes, rng=rng)                # (N, num_classes)

    def extra_repr(self) -> str:
        return f"width_mult={self.width_mult}"


@register("mobilenet_v1")
def mobilenet_v1(num_classes=1000, input_shape=(224, 224, 3), **options) -> MobileNetV1:
    """MobileNet v1 (options ``alpha``, ``dropout``); 4,231,976 parameters for 1000 classes."""
    return MobileNetV1(num_classes, input_shape, **options)


@register("mobilenet_v2")
def mobilenet_v2(num_classes=1000, input_shape=(224, 224, 3), **options) -> MobileNetV2:
    """MobileNet v2 (options ``width_mult``, ``dropout``); 3,504,872 parameters for 1000 classes."""
    return MobileNetV2(num_classes, input_shape, **options)
