"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", 2014).

torchvision's GoogLeNet without the two auxiliary classifiers: every conv is a
``BasicConv2d`` (conv without bias, BatchNorm eps 1e-3, ReLU), and the third
branch of each Inception module uses a 3x3 kernel where the paper has 5x5
(torchvision kept this quirk for its pretrained weights; ``kernel5=5`` builds
the paper's version, 7,005,832 parameters). Max pools round their output size
*up* (PyTorch's ``ceil_mode=True``). For a 224x224x3 input:

    stage         layers                                   output        parameters
    conv1         7x7/2, 64                                112x112x64         9,536
    maxpool1      3x3/2, ceil                               56x56x64
    conv2         1x1, 64                                   56x56x64          4,224
    conv3         3x3, 192                                  56x56x192       110,976
    maxpool2      3x3/2, ceil                               28x28x192
    inception3a   64 | 96->128 | 16->32 | pool->32          28x28x256       155,872
    inception3b   128 | 128->192 | 32->96 | pool->64        28x28x480       340,224
    maxpool3      3x3/2, ceil                               14x14x480
    inception4a   192 | 96->208 | 16->48 | pool->64         14x14x512       364,512
    inception4b   160 | 112->224 | 24->64 | pool->64        14x14x512       425,232
    inception4c   128 | 128->256 | 24->64 | pool->64        14x14x512       486,192
    inception4d   112 | 144->288 | 32->64 | pool->64        14x14x528       573,312
    inception4e   256 | 160->320 | 32->128 | pool->128      14x14x832       803,840
    maxpool4      2x2/2, ceil                                 7x7x832
    inception5a   256 | 160->320 | 32->128 | pool->128        7x7x832       978,944
    inception5b   384 | 192->384 | 48->128 | pool->128        7x7x1024    1,347,040
    avgpool       global average                                 1024
    dropout 0.2, fc 1024 -> 1000                                          1,025,000
                                                                  total   6,624,904

Module columns: ``1x1 | 1x1 reduce -> 3x3 | 1x1 reduce -> "5x5" | 3x3 max pool -> 1x1``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..nn.init import as_rng
from ._common import ChainModel, check_model_args
from .registry import register

__all__ = ["GoogLeNet", "googlenet"]


def _ceil_pool_out(size: int, k: int, s: int) -> int:
    """Output size of a ceil-mode pool without padding: ``ceil((size - k) / s) + 1``."""
    return math.ceil((size - k) / s) + 1


class _CeilMaxPool2D(nn.MaxPool2D):
    """Max pool whose output size rounds up (PyTorch's ``ceil_mode=True``).

    ``H' = ceil((H - k) / s) + 1``: the last window may hang over the bottom
    (right) edge; it is padded there with ``-inf``, so only real pixels can win.
    The padding depends on the input size, so it is computed on each forward:
    ``bottom = (H' - 1) s + k - H``.

    (Workaround: :class:`npvision.nn.MaxPool2D` has no ``ceil_mode``.)
    """

    def __init__(self, pool_size: int, stride: int):
        super().__init__(pool_size, stride=stride)

    def forward(self, x: np.ndarray) -> np.ndarray:
        (kh, kw), (sh, sw) = self.pool_size, self.stride
        if np.ndim(x) != 4:
            raise ValueError(f"x: expected a 4-D (N, H, W, C) array, received shape {np.shape(x)}")
        _, H, W, _ = np.shape(x)
        oh, ow = _ceil_pool_out(H, kh, sh), _ceil_pool_out(W, kw, sw)
        if oh < 1 or ow < 1:
            raise ValueError(f"x: a {kh}x{kw} pool needs at least {kh - sh + 1}x{kw - sw + 1} pixels, "
                             f"received {H}x{W}")
        # ((top, bottom), (left, right)): only the bottom and right edges are padded
        self.padding = ((0, (oh - 1) * sh + kh - H), (0, (ow - 1) * sw + kw - W))
        return super().forward(x)


class GoogLeNet(ChainModel):
    """Inception v1: ``(N, H, W, C) -> (N, num_classes)`` logits.

    Options: ``dropout=0.2`` (before fc), ``kernel5=3`` (torchvision; 5 for the
    paper), ``rng``. Needs inputs of at least 15x15 (four halvings, rounding up).
    Children (torchvision's names): ``conv1, maxpool1, conv2, conv3, maxpool2,
    inception3a, inception3b, maxpool3, inception4a .. inception4e, maxpool4,
    inception5a, inception5b, avgpool, dropout, fc``, run in that order (the
    comments give each one's output at 224x224).
    """

    def __init__(self, num_classes: int = 1000, input_shape=(224, 224, 3), dropout: float = 0.2,
                 kernel5: int = 3, rng=None):
        super().__init__()
        num_classes, (H, W, C) = check_model_args(num_classes, input_shape, "GoogLeNet")
        self._check_size(H, W, input_shape)
        rng = as_rng(rng)

        def inception(*widths):
            return nn.InceptionModule(*widths, kernel5=kernel5, rng=rng)

        self.conv1 = nn.BasicConv2d(C, 64, 7, stride=2, padding=3, input_grad=False,
                                    rng=rng)                                    # (N, 112, 112, 64)
        self.maxpool1 = _CeilMaxPool2D(3, 2)                                    # (N, 56, 56, 64)
        self.conv2 = nn.BasicConv2d(64, 64, 1, rng=rng)                         # (N, 56, 56, 64)
        self.conv3 = nn.BasicConv2d(64, 192, 3, rng=rng)                        # (N, 56, 56, 192)
        self.maxpool2 = _CeilMaxPool2D(3, 2)                                    # (N, 28, 28, 192)
        self.inception3a = inception(192, 64, 96, 128, 16, 32, 32)              # (N, 28, 28, 256)
        self.inception3b = inception(256, 128, 128, 192, 32, 96, 64)            # (N, 28, 28, 480)
        self.maxpool3 = _CeilMaxPool2D(3, 2)                                    # (N, 14, 14, 480)
        self.inception4a = inception(480, 192, 96, 208, 16, 48, 64)             # (N, 14, 14, 512)
        self.inception4b = inception(512, 160, 112, 224, 24, 64, 64)            # (N, 14, 14, 512)
        self.inception4c = inception(512, 128, 128, 256, 24, 64, 64)            # (N, 14, 14, 512)
        self.inception4d = inception(512, 112, 144, 288, 32, 64, 64)            # (N, 14, 14, 528)
        self.inception4e = inception(528, 256, 160, 320, 32, 128, 128)          # (N, 14, 14, 832)
        self.maxpool4 = _CeilMaxPool2D(2, 2)                                    # (N, 7, 7, 832)
        self.inception5a = inception(832, 256, 160, 320, 32, 128, 128)          # (N, 7, 7, 832)
        self.inception5b = inception(832, 384, 192, 384, 48, 128, 128)          # (N, 7, 7, 1024)
        self.avgpool = nn.GlobalAvgPool2D()                                     # (N, 1024)
        self.dropout = nn.Dropout(dropout, rng=rng)
        self.fc = nn.Linear(1024, num_classes, rng=rng)                         # (N, num_classes)

    @staticmethod
    def _check_size(H: int, W: int, input_shape) -> None:
        for size in (H, W):
            size = (size - 1) // 2 + 1                    # conv1, 7x7/2 pad 3
            for k in (3, 3, 3, 2):                        # maxpool1..4, stride 2, ceil mode
                size = _ceil_pool_out(size, k, 2)
                if size < 1:
                    raise ValueError(f"input_shape: GoogLeNet needs inputs of at least 15x15, "
                                     f"received {input_shape}")


@register("googlenet")
def googlenet(num_classes=1000, input_shape=(224, 224, 3), **options) -> GoogLeNet:
    """GoogLeNet (torchvision's, no auxiliary heads); 6,624,904 parameters for 1000 classes."""
    return GoogLeNet(num_classes, input_shape, **options)
