"""ConvBNAct: the "convolution -> batch norm -> activation" unit every modern ConvNet repeats.

    y = act(BN(conv(x)))        conv without bias: BN's beta already shifts each channel

``(N, H, W, C_in) -> (N, H', W', C_out)``. ``padding=None`` chooses
``(k - 1) // 2``, which keeps ``H' = ceil(H / stride)`` for odd kernels
(torchvision's ``Conv2dNormActivation``). ``depthwise=True`` makes the conv a
:class:`~npvision.nn.DepthwiseConv2D` (``C_out`` must equal ``C_in``);
``activation=None`` leaves the unit linear (MobileNet v2's projection).

Backward is the forward read upwards: ``act`` -> ``bn`` -> ``conv``.

When the activation is ReLU, ReLU6 or SiLU, batch norm applies it in its own pass
(``self.bn.forward(out, activation=...)``, see :func:`~npvision.nn.norm.fused_activation`)
and differentiates through it in its backward: the same numbers, one pass over the
activations fewer each way. ``act`` stays a child (it is what the unit computes, and an
instrumented ``act``, as :func:`~npvision.nn.summary` makes it, runs as a layer of its own).
"""

from __future__ import annotations

import numpy as np

from ..activations import ReLU
from ..conv import Conv2D, DepthwiseConv2D
from ..init import as_rng
from ..module import Module
from ..norm import BatchNorm2D, bn_act_backward, bn_act_forward, fused_activation

__all__ = ["ConvBNAct"]


class ConvBNAct(Module):
    """``conv(no bias) -> BatchNorm2D -> activation``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride : as :class:`~npvision.nn.Conv2D`.
    padding : ``None`` (``(k - 1) // 2``) or any Conv2D padding.
    depthwise : use a depthwise 3x3/kxk conv (one filter per channel).
    activation : a Module class (or any callable returning a Module), or ``None``.
    eps : BatchNorm's epsilon (GoogLeNet uses ``1e-3``).
    momentum : BatchNorm's momentum, npvision's convention (weight of the old
        running value: 0.9 is PyTorch's ``momentum=0.1``).
    input_grad : passed to the Conv2D (``False`` for a network's stem).

    Children: ``conv``, ``bn``, ``act`` (absent when ``activation=None``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=None,
                 depthwise: bool = False, activation=ReLU, eps: float = 1e-5, input_grad: bool = True,
                 rng=None, dtype=np.float32, momentum: float = 0.9):
        super().__init__()
        rng = as_rng(rng)
        if padding is None:
            k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
            kw = kernel_size if isinstance(kernel_size, int) else kernel_size[1]
            padding = ((k - 1) // 2, (kw - 1) // 2)
        if depthwise:
            if out_channels != in_channels:
                raise ValueError(f"out_channels: a depthwise ConvBNAct keeps the channel count, "
                                 f"received in_channels={in_channels}, out_channels={out_channels}")
            self.conv = DepthwiseConv2D(in_channels, kernel_size, stride=stride, padding=padding,
                                        bias=False, rng=rng, dtype=dtype)
        else:
            self.conv = Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                               bias=False, input_grad=input_grad, rng=rng, dtype=dtype)
        self.bn = BatchNorm2D(out_channels, momentum=momentum, eps=eps, dtype=dtype)
        self.act = activation() if activation is not None else None
        self.in_channels = in_channels
        self.out_channels = out_channels
        self._folded = {}                  # {"bn": the activation bn applied in the last forward}

    def fused_activations(self) -> list:
        """The activation children that batch norm applies itself (the profiler's question)."""
        return [self.act] if fused_activation(self.act) else []

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.conv.forward(x)
        return bn_act_forward(self.bn, self.act, out, self._folded, "bn")     # act(bn(out))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d = bn_act_backward(self.bn, self.act, dy, self._folded, "bn")        # through act, then bn
        return self.conv.backward(d)
