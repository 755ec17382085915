"""A small fully convolutional network (FCN, Long, Shelhamer and Darrell 2015): the baseline.

No skip connections: the encoder shrinks the image ``2^d`` times, a 1x1
convolution scores every coarse cell, and one transpose convolution upsamples
the scores back to the input size in a single ``x 2^d`` step (FCN-32s style)::

    encoder level l = 0 .. d-1:  ConvBlock -> MaxPool 2x2   (N, H / 2^(l+1), W / 2^(l+1), F 2^l)
    bottom:                      ConvBlock                  (N, H / 2^d, W / 2^d, F 2^d)
    classifier:                  1x1 conv                   (N, H / 2^d, W / 2^d, K)
    upsample:                    ConvTranspose2D(kernel 2f, stride f, padding f/2), f = 2^d
                                 H_out = (H/f - 1) f - f + 2f = H                -> (N, H, W, K)

The upsampling starts as bilinear interpolation (each class channel from
itself), as in the FCN paper, and is then learned. Because a coarse cell
covers ``f x f`` pixels and nothing brings the fine detail back, the masks'
edges come out blurred: the comparison that motivates U-Net's skips.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .._checks import as_float_array, positive_int
from ..nn.module import Module, Sequential
from .unet import ConvBlock, check_unet_input_size

__all__ = ["FCN", "bilinear_kernel"]


def bilinear_kernel(factor: int, channels: int, dtype=np.float32) -> np.ndarray:
    """Weights ``(2f, 2f, C, C)`` making a stride-``f`` transpose convolution upsample bilinearly.

    ``k[i, j] = (1 - |i - c| / f) (1 - |j - c| / f)`` with ``c = f - 1/2``, on the
    diagonal channel pairs (channel ``c`` from channel ``c``), zero elsewhere.
    """
    f = positive_int(factor, "factor")
    c = positive_int(channels, "channels")
    taps = 1.0 - np.abs(np.arange(2 * f) - (f - 0.5)) / f              # (2f,)
    k2d = np.outer(taps, taps)                                         # (2f, 2f)
    w = np.zeros((2 * f, 2 * f, c, c), dtype=dtype)
    for ch in range(c):
        w[:, :, ch, ch] = k2d
    return w


class FCN(Module):
    """Encoder + 1x1 classifier + one ``x 2^depth`` transpose convolution -> logits ``(N, H, W, K)``.

    ``depth`` max-pools, ``base_filters`` channels at the first level (doubling),
    BatchNorm in the ConvBlocks. ``H`` and ``W`` must be multiples of ``2^depth``.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, depth: int = 3,
                 base_filters: int = 16, batchnorm: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.num_classes = positive_int(num_classes, "num_classes")
        self.depth = positive_int(depth, "depth")
        self.base_filters = positive_int(base_filters, "base_filters")
        rng = nn.init.as_rng(rng)
        layers, c_in = [], self.in_channels
        for l in range(self.depth):
            width = self.base_filters * 2 ** l
            layers += [ConvBlock(c_in, width, "same", batchnorm, rng=rng, dtype=dtype), nn.MaxPool2D(2)]
            c_in = width
        layers.append(ConvBlock(c_in, self.base_filters * 2 ** self.depth, "same", batchnorm,
                                rng=rng, dtype=dtype))
        self.encoder = Sequential(*layers)
        self.classifier = nn.Conv2D(self.base_filters * 2 ** self.depth, self.num_classes, 1,
                                    rng=rng, dtype=dtype)
        f = 2 ** self.depth
        self.upsample = nn.ConvTranspose2D(self.num_classes, self.num_classes, 2 * f, stride=f,
                                           padding=f // 2, dtype=dtype)
        self.upsample.weight.data[...] = bilinear_kernel(f, self.num_classes, dtype)

    def forward(self, x):
        """``x (N, H, W, C_in) -> logits (N, H, W, K)``."""
        x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
        if x.shape[-1] != self.in_channels:
            raise ValueError(f"x: has {x.shape[-1]} channels (shape {x.shape}) but this FCN "
                             f"expects {self.in_channels}")
        check_unet_input_size(x.shape, self.depth, "same", "FCN")   # H, W multiples of 2^depth
        features = self.encoder.forward(x)                 # (N, H/f, W/f, F 2^d)
        scores = self.classifier.forward(features)         # (N, H/f, W/f, K)
        return self.upsample.forward(scores)               # (N, H, W, K)

    def backward(self, dlogits):
        """``dlogits (N, H, W, K) -> dx (N, H, W, C_in)``."""
        d_scores = self.upsample.backward(dlogits)
        d_features = self.classifier.backward(d_scores)
        return self.encoder.backward(d_features)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, num_classes={self.num_classes}, depth={self.depth}, "
                f"base_filters={self.base_filters}")
