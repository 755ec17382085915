"""Batch normalization: BatchNorm2D.

For every channel ``c`` (the last axis), over all other axes (``N`` for
``(N, D)`` input; ``N, H, W`` for ``(N, H, W, C)``):

    training:  mu = mean(x), var = mean((x - mu)^2)    (biased batch variance)
    eval:      mu = running_mean, var = running_var
    y = gamma * (x - mu) / sqrt(var + eps) + beta

In training the running statistics move towards the batch's:
``running = momentum * running + (1 - momentum) * batch`` (so ``momentum=0.9``
here is PyTorch's ``momentum=0.1``). ``train()`` / ``eval()`` on the layer,
or on any module containing it, choose the mode.

Gradients (training mode, ``m`` values per channel, ``x_hat = (x - mu) / sqrt(var + eps)``):

    dbeta  = sum dy,     dgamma = sum dy * x_hat
    dx     = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat))

In eval mode ``mu`` and ``var`` are constants and ``dx = gamma / sqrt(var + eps) * dy``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .._checks import positive_int
from ._layer import accumulate, cache_of, check_input, param_as
from .module import Module, Parameter

__all__ = ["BatchNorm2D"]


class BatchNorm2D(Module):
    """Per-channel batch normalization of ``(N, H, W, C)`` (or ``(N, D)``) input.

    Parameters: ``gamma`` (scale, ones) and ``beta`` (shift, zeros), both ``(C,)``.
    Buffers (saved by ``state_dict``, never trained): ``running_mean`` (zeros)
    and ``running_var`` (ones), both ``(C,)``.
    """

    def __init__(self, num_features: int, momentum: float = 0.9, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        if not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum: expected a number in [0, 1], received {momentum!r}")
        if not isinstance(eps, numbers.Real) or eps <= 0:
            raise ValueError(f"eps: expected a positive number, received {eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.gamma = Parameter(np.ones(self.num_features, dtype=dtype))
        self.beta = Parameter(np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
        self.cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C)`` or ``(N, C)`` -> the same shape; batch statistics when ``self.training``."""
        x = check_input(x, self, (2, 4), "(N, H, W, C) or (N, C)", self.num_features)
        # the running statistics are passed as they are: F updates them in place when training
        y, self.cache = F.batchnorm_forward(x, param_as(self.gamma, x.dtype), param_as(self.beta, x.dtype),
                                            self.running_mean, self.running_var, self.training,
                                            momentum=self.momentum, eps=self.eps)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy -> dx`` (same shape); ``dgamma``, ``dbeta`` added into the Parameters."""
        dx, dgamma, dbeta = F.batchnorm_backward(dy, cache_of(self))
        accumulate(self.gamma, dgamma)
        accumulate(self.beta, dbeta)
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
