"""Squeeze-and-Excitation (Hu et al., "Squeeze-and-Excitation Networks", 2017).

A tiny network looks at the whole feature map and re-weights its channels:

    s = mean_{h, w} x                      squeeze:   (N, H, W, C) -> (N, C) -> (N, 1, 1, C)
    z = act(fc1(s))                        1x1 conv with bias, C -> S
    g = sigmoid(fc2(z))                    1x1 conv with bias, S -> C: a gate in (0, 1) per channel
    y = x * g                              excite: broadcast over H and W

The output depends on ``x`` twice (directly and through the gate), so its
gradient is the product rule's two terms:

    dx_scale = dy * g                                  through the scaling
    dg       = sum_{h, w} dy * x                       (N, 1, 1, C)
    dx_gate  = (back through sigmoid, fc2, act, fc1, pooling)(dg)
    dx       = dx_scale + dx_gate

torchvision's ``ops.SqueezeExcitation`` (fc layers are 1x1 convolutions with
bias; ReLU by default, SiLU in EfficientNet). Parameters: ``2 C S + S + C``.

The excitation is :func:`npvision.functional.channel_scale_forward` (its backward gives
``dx_scale`` and ``dg`` in one pass over ``dy`` and ``x``), and the squeeze's gradient,
``d / (H W)`` at every pixel, is added into ``dx_scale`` in place rather than written out
as a full ``(N, H, W, C)`` array first.
"""

from __future__ import annotations

import numpy as np

from ... import functional as F
from ..._checks import positive_int
from ..activations import ReLU, Sigmoid
from .._layer import check_input
from ..conv import Conv2D
from ..init import as_rng
from ..module import Module
from ..pool import GlobalAvgPool2D

__all__ = ["SqueezeExcitation"]


class SqueezeExcitation(Module):
    """Channel attention: ``(N, H, W, C) -> (N, H, W, C)``, ``y = x * gate(x)``.

    Parameters
    ----------
    channels : C, the input's channels.
    squeeze_channels : S, the bottleneck width (e.g. ``C // 4`` or ``C // 16``).
    activation : Module class for the bottleneck (``ReLU`` default; ``SiLU`` in EfficientNet).
    gate : Module class for the gate (``Sigmoid``).

    Children: ``avgpool``, ``fc1`` (1x1 Conv2D C -> S, bias), ``act``,
    ``fc2`` (1x1 Conv2D S -> C, bias), ``gate``.
    """

    def __init__(self, channels: int, squeeze_channels: int, activation=ReLU, gate=Sigmoid, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.squeeze_channels = positive_int(squeeze_channels, "squeeze_channels")
        rng = as_rng(rng)
        self.avgpool = GlobalAvgPool2D()
        self.fc1 = Conv2D(channels, squeeze_channels, 1, bias=True, rng=rng, dtype=dtype)
        self.act = activation()
        self.fc2 = Conv2D(squeeze_channels, channels, 1, bias=True, rng=rng, dtype=dtype)
        self.gate = gate()
        self._scale_cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)", self.channels)
        n, _, _, c = x.shape
        s = self.avgpool.forward(x)      # (N, C)
        s = s.reshape(n, 1, 1, c)        # (N, C) -> (N, 1, 1, C): a 1x1 "image" for the 1x1 convs
        z = self.fc1.forward(s)          # (N, 1, 1, S)
        z = self.act.forward(z)
        g = self.fc2.forward(z)          # (N, 1, 1, C)
        g = self.gate.forward(g)         # (N, 1, 1, C), in (0, 1)
        y, self._scale_cache = F.channel_scale_forward(x, g.reshape(n, c))   # x * g over H and W
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._scale_cache is None:
            raise RuntimeError("SqueezeExcitation.backward was called before forward")
        n, h, w, c = self._scale_cache[0].shape

        # product rule: y = x * g  ->  term 1 through the scaling, and the gate's gradient
        dx_scale, dg = F.channel_scale_backward(dy, self._scale_cache)   # (N, H, W, C), (N, C)

        # term 2: through the gate
        d = self.gate.backward(dg.reshape(n, 1, 1, c))     # (N, C) -> (N, 1, 1, C)
        d = self.fc2.backward(d)                           # (N, 1, 1, S)
        d = self.act.backward(d)
        d = self.fc1.backward(d)                           # (N, 1, 1, C)
        d = d.reshape(n, c)                                # (N, 1, 1, C) -> (N, C)

        # dx = dx_scale + dx_gate, dx_gate = avgpool.backward(d) = d / (H W) at every pixel
        dx = dx_scale
        dx += (d / dx.dtype.type(h * w))[:, None, None, :]  # (N, 1, 1, C), broadcast over H and W
        return dx

    def extra_repr(self) -> str:
        return f"{self.channels}, squeeze_channels={self.squeeze_channels}"
