"""Inverted dropout: Dropout.

In training mode every value is kept with probability ``1 - rate`` and
scaled by ``1 / (1 - rate)`` so that the expected output equals the input:

    mask ~ Bernoulli(1 - rate),   y = x * mask / (1 - rate),   dx = dy * mask / (1 - rate)

In eval mode ``y = x`` and ``dx = dy``: nothing needs rescaling at test time.

StochasticDepth is the same with one mask value per *sample* (the whole
sample kept or zeroed), for residual branches: EfficientNet's MBConv blocks.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .._checks import as_float_array
from . import init
from .module import Module

__all__ = ["Dropout", "StochasticDepth"]


class Dropout(Module):
    """Zero each value with probability ``rate`` while training (inverted scaling).

    The masks come from the layer's own ``numpy.random.Generator``:
    ``rng=None`` spawns an independent child of npvision's default generator
    (so ``npvision.nn.init.seed(s)`` before building a model reproduces its
    masks), an int seeds a new generator, and a Generator is used as given.
    ``seed(s)`` restarts the layer's generator, which replays the same masks
    (handy for a gradient check, whose repeated forwards need one fixed mask).
    """

    _forward_op = staticmethod(F.dropout_forward)       # (x, rate, rng, training) -> (y, cache)
    _backward_op = staticmethod(F.dropout_backward)     # (dy, cache) -> dx

    def __init__(self, rate: float, rng=None):
        super().__init__()
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0.0 <= rate < 1.0:
            raise ValueError(f"rate: expected a drop probability in [0, 1), received {rate!r}")
        self.rate = float(rate)
        self.rng = init.default_rng().spawn(1)[0] if rng is None else init.as_rng(rng)
        self.cache = None        # the scaled mask of the last forward (None in eval mode)
        self._forward_done = False

    def seed(self, value: int) -> None:
        """Restart this layer's generator from ``value``."""
        self.rng = np.random.default_rng(value)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Same shape as ``x``; a fresh mask on every call in training mode, identity in eval mode."""
        x = as_float_array(x, "x")
        y, self.cache = self._forward_op(x, self.rate, self.rng, training=self.training)
        self._forward_done = True
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dx = dy * mask / (1 - rate)`` (the mask of the last forward), or ``dy`` in eval mode."""
        if not self._forward_done:
            raise RuntimeError(f"{type(self).__name__}.backward was called before forward: "
                               f"there is no mask to apply")
        return self._backward_op(dy, self.cache)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class StochasticDepth(Dropout):
    """Zero a whole sample with probability ``rate`` while training, scale the others by ``1 / (1 - rate)``.

    ``(N, ...) -> (N, ...)``. On a residual branch, ``y = x + StochasticDepth(branch(x))``
    makes a dropped sample skip the block (Huang et al., 2016; torchvision's
    ``StochasticDepth(p, "row")``). The generator works as :class:`Dropout`'s;
    ``dx[n] = dy[n] * mask[n]`` with the last forward's mask.
    """

    _forward_op = staticmethod(F.stochastic_depth_forward)
    _backward_op = staticmethod(F.stochastic_depth_backward)
