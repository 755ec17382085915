"""EfficientNet B0..B7 (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", 2019).

**B0**, as torchvision's ``efficientnet_b0``: a 3x3/2 stem, seven stages of
MBConv blocks (inverted residuals with squeeze-and-excitation and SiLU, the
paper's Table 1), a 1x1 conv to 1280 channels, global average pool, dropout
0.2 and a Linear layer. For a 224x224x3 input:

    stage      block     k   s   c   n   output         parameters
    stem       conv3x3   3   2   32  1   112x112x32            928
    stage1     MBConv1   3   1   16  1   112x112x16          1,448
    stage2     MBConv6   3   2   24  2    56x56x24          16,714
    stage3     MBConv6   5   2   40  2    28x28x40          46,640
    stage4     MBConv6   3   2   80  3    14x14x80         242,930
    stage5     MBConv6   5   1  112  3    14x14x112        543,148
    stage6     MBConv6   5   2  192  4      7x7x192      2,026,348
    stage7     MBConv6   3   1  320  1      7x7x320        717,232
    head       conv1x1               1280   7x7x1280       412,160
    avgpool, dropout 0.2, fc 1280 -> 1000                   1,281,000
                                                     total  5,288,548

**B1..B7** come from B0 by *compound scaling* (see :func:`compound_scaling`):
every channel count ``c`` (the stem's and the head's included) becomes
``make_divisible(c * width, 8)``, every repeat count ``n`` becomes
``ceil(n * depth)``, and the native resolution and the dropout grow too.
Parameter counts for 1000 classes (torchvision's, which these reproduce):

    B0 5,288,548   B1 7,794,184   B2 9,109,994    B3 12,233,232
    B4 19,341,616  B5 30,389,784  B6 43,040,704   B7 66,347,960

B5..B7 use BatchNorm eps 1e-3 and momentum 0.99 (npvision's convention;
torchvision's ``momentum=0.01``), as torchvision. Stochastic depth, which
torchvision trains with (``stochastic_depth_prob=0.2``: block ``i`` of ``L``
drops its residual branch with probability ``0.2 i / L``), is off by default
here; ``stochastic_depth=0.2`` turns it on. It only acts while training.
"""

from __future__ import annotations

import math
import numbers

from .. import nn
from ..nn.init import as_rng
from ._common import ChainModel, check_model_args, make_divisible
from .registry import register

__all__ = ["EfficientNet", "compound_scaling", "B0_SETTING", "SCALING",
           "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
           "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7"]

# EfficientNet-B0, the paper's Table 1: expansion t, kernel k, first stride s, output channels c, repeats n
B0_SETTING = [
    # t, k, s,   c, n
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]
B0_STEM, B0_HEAD = 32, 1280

# phi -> (width multiplier, depth multiplier, resolution, dropout) of the released B0..B7
SCALING = {
    0: (1.0, 1.0, 224, 0.2),
    1: (1.0, 1.1, 240, 0.2),
    2: (1.1, 1.2, 260, 0.3),
    3: (1.2, 1.4, 300, 0.3),
    4: (1.4, 1.8, 380, 0.4),
    5: (1.6, 2.2, 456, 0.4),
    6: (1.8, 2.6, 528, 0.5),
    7: (2.0, 3.1, 600, 0.5),
}


def compound_scaling(phi, published: bool = True) -> tuple[float, float, int, float]:
    """``(width, depth, resolution, dropout)`` of EfficientNet-B``phi``.

    The rule (Section 3.3 of the paper): scale depth, width and resolution
    together with one coefficient ``phi``,

        depth  d = alpha ** phi,   width  w = beta ** phi,   resolution  r = gamma ** phi
        with alpha = 1.2, beta = 1.1, gamma = 1.15, so that alpha * beta**2 * gamma**2 ~ 2

    (FLOPs grow like ``d w^2 r^2``, so each step of ``phi`` about doubles them).
    The released B1..B7 round these into the table :data:`SCALING`
    (``published=True``, ``phi`` an int in 0..7); ``published=False`` returns
    the rule's raw values for any ``phi >= 0`` (resolution ``round(224 r)``,
    dropout 0.2). A model is then built from B0 by

        channels  c -> make_divisible(c * width, 8)      (nearest multiple of 8, >= 0.9 c w)
        repeats   n -> ceil(n * depth)
    """
    if not isinstance(phi, numbers.Real) or isinstance(phi, bool) or not phi >= 0:
        raise ValueError(f"phi: expected a number >= 0, received {phi!r}")
    if published:
        if phi not in SCALING:
            raise ValueError(f"phi: the published EfficientNets are B0..B7, expected an int in 0..7, "
                             f"received {phi!r}")
        return SCALING[int(phi)]
    alpha, beta, gamma = 1.2, 1.1, 1.15
    return beta ** phi, alpha ** phi, int(round(224 * gamma ** phi)), 0.2


class EfficientNet(ChainModel):
    """EfficientNet with ``width``/``depth`` multipliers applied to B0: ``(N, H, W, C) -> (N, num_classes)``.

    Options: ``width=1.0``, ``depth=1.0``, ``dropout=0.2``, ``eps=1e-5`` and
    ``bn_momentum=0.9`` (BatchNorm; npvision's momentum convention, 0.9 =
    PyTorch's 0.1), ``stochastic_depth=0.0`` (the last block's drop probability;
    block ``i`` of ``L`` gets ``stochastic_depth * i / L``), ``rng``. Children: ``stem``, ``stage1 .. stage7``
    (Sequentials of :class:`~npvision.nn.MBConv`; only a stage's first block
    strides), ``head``, ``avgpool``, ``dropout``, ``fc``, run in that order (the
    comments give each one's output at 224x224 for B0).
    """

    def __init__(self, num_classes: int = 1000, input_shape=(224, 224, 3), width: float = 1.0,
                 depth: float = 1.0, dropout: float = 0.2, eps: float = 1e-5, bn_momentum: float = 0.9,
                 stochastic_depth: float = 0.0, rng=None):
        super().__init__()
        num_classes, (_, _, C) = check_model_args(num_classes, input_shape, "EfficientNet")
        for name, v in (("width", width), ("depth", depth)):
            if not isinstance(v, numbers.Real) or isinstance(v, bool) or not v > 0:
                raise ValueError(f"{name}: expected a positive multiplier, received {v!r}")
        self.width, self.depth = float(width), float(depth)
        rng = as_rng(rng)

        def channels(c):
            return make_divisible(c * width, 8)

        total_blocks = sum(int(math.ceil(n * depth)) for *_, n in B0_SETTING)
        block_index = 0

        def stage(in_channels, t, k, s, c, n):
            nonlocal block_index
            out_channels, repeats = channels(c), int(math.ceil(n * depth))
            layers = []
            for i in range(repeats):
                drop = stochastic_depth * block_index / total_blocks       # torchvision's linear rule
                layers.append(nn.MBConv(in_channels, out_channels, k, s if i == 0 else 1, t, se_ratio=0.25,
                                        eps=eps, momentum=bn_momentum, stochastic_depth=drop, rng=rng))
                in_channels = out_channels
                block_index += 1
            return nn.Sequential(*layers), out_channels

        stem_channels = channels(B0_STEM)
        self.stem = nn.ConvBNAct(C, stem_channels, 3, stride=2, activation=nn.SiLU, eps=eps,
                                 momentum=bn_momentum, input_grad=False, rng=rng)                     # (N, 112, 112, 32)
        self.stage1, c = stage(stem_channels, *B0_SETTING[0])                   # (N, 112, 112, 16)
        self.stage2, c = stage(c, *B0_SETTING[1])                               # (N, 56, 56, 24)
        self.stage3, c = stage(c, *B0_SETTING[2])                               # (N, 28, 28, 40)
        self.stage4, c = stage(c, *B0_SETTING[3])                               # (N, 14, 14, 80)
        self.stage5, c = stage(c, *B0_SETTING[4])                               # (N, 14, 14, 112)
        self.stage6, c = stage(c, *B0_SETTING[5])                               # (N, 7, 7, 192)
        self.stage7, c = stage(c, *B0_SETTING[6])                               # (N, 7, 7, 320)
        head_channels = 4 * c                       # 1280 = 4 x 320 in B0; scales with the width
        self.head = nn.ConvBNAct(c, head_channels, 1, activation=nn.SiLU, eps=eps, momentum=bn_momentum,
                                 rng=rng)                                       # (N, 7, 7, 1280)
        self.avgpool = nn.GlobalAvgPool2D()                                     # (N, 1280)
        self.dropout = nn.Dropout(dropout, rng=rng)
        self.fc = nn.Linear(head_channels, num_classes, rng=rng)                # (N, num_classes)

    def extra_repr(self) -> str:
        return f"width={self.width}, depth={self.depth}"


def _factory(phi: int):
    name = f"efficientnet_b{phi}"

    @register(name)
    def build(num_classes=1000, input_shape=(224, 224, 3), **options) -> EfficientNet:
        width, depth, _, dropout = compound_scaling(phi)
        options.setdefault("dropout", dropout)
        options.setdefault("eps", 1e-3 if phi >= 5 else 1e-5)
        options.setdefault("bn_momentum", 0.99 if phi >= 5 else 0.9)     # torchvision: 0.01 and 0.1
        return EfficientNet(num_classes, input_shape, width=width, depth=depth, **options)

    width, depth, resolution, dropout = compound_scaling(phi)
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"EfficientNet-B{phi}: width x{width}, depth x{depth}, dropout {dropout}, "
                     f"native resolution {resolution}x{resolution}.")
    return build


efficientnet_b0 = _factory(0)
efficientnet_b1 = _factory(1)
efficientnet_b2 = _factory(2)
efficientnet_b3 = _factory(3)
efficientnet_b4 = _factory(4)
efficientnet_b5 = _factory(5)
efficientnet_b6 = _factory(6)
efficientnet_b7 = _factory(7)
