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

Folding the activation that follows
-----------------------------------
``forward(x, activation="relu")`` (or ``"relu6"``, ``"silu"``) returns ``act(y)`` from the
same pass over ``x``, and the next ``backward(d)`` then takes ``d`` as the gradient of
``act(y)`` (the activation's derivative is applied inside batch norm's own passes). Blocks
that end a "conv -> BN -> activation" unit (:class:`~npvision.nn.ConvBNAct`, ResNet's blocks)
use it through :func:`fused_activation`: one pass over the activations instead of two
forward, and two instead of three backward. Called with one argument, the layer is plain
batch normalization.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..functional.batchnorm import forward_checked
from .._checks import positive_int
from .activations import ReLU, ReLU6, SiLU
from ._layer import accumulate, cache_of, check_input, param_as
from .module import Module, Parameter

__all__ = ["BatchNorm2D"]        # and, for blocks: fused_activation, bn_act_forward, bn_act_backward

#: activation layers batch norm's passes can apply themselves (layer class -> the kernels' name)
_FOLDABLE = {ReLU: "relu", ReLU6: "relu6", SiLU: "silu"}


def fused_activation(act) -> str | None:
    """The name under which :meth:`BatchNorm2D.forward` can apply the activation layer ``act``
    itself, or None: ``act`` is None, another kind, or instrumented (its ``forward`` or
    ``backward`` replaced on the instance, as :func:`~npvision.nn.summary` and profilers do,
    so it must run as a layer of its own to be seen)."""
    if act is None or "forward" in act.__dict__ or "backward" in act.__dict__:
        return None
    return _FOLDABLE.get(type(act))


def bn_act_forward(bn: "BatchNorm2D", act, x: np.ndarray, folded: dict, key: str) -> np.ndarray:
    """``act(bn(x))``, the activation applied by batch norm's pass when it can be (recorded in
    ``folded[key]`` for :func:`bn_act_backward`); ``act`` may be None."""
    folded[key] = fused_activation(act)
    if folded[key]:
        return bn.forward(x, activation=folded[key])
    out = bn.forward(x)                  # (one argument: a wrapped bn.forward may take no other)
    return out if act is None else act.forward(out)


def bn_act_backward(bn: "BatchNorm2D", act, d: np.ndarray, folded: dict, key: str) -> np.ndarray:
    """The mirror of :func:`bn_act_forward`: ``d`` through ``act`` (unless batch norm applied
    it, and then differentiates through it itself), then through ``bn``."""
    if act is not None and not folded.get(key):
        d = act.backward(d)
    return bn.backward(d)


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

    def forward(self, x: np.ndarray, activation: str | None = None) -> np.ndarray:
        """``(N, H, W, C)`` or ``(N, C)`` -> the same shape; batch statistics when ``self.training``.

        ``activation`` (None, ``"relu"``, ``"relu6"``, ``"silu"``): applied to the output in the
        same pass; the next ``backward`` then differentiates through it too.
        """
        x = check_input(x, self, (2, 4), "(N, H, W, C) or (N, C)", self.num_features)
        # the running statistics are passed as they are: F updates them in place when training
        if activation not in (None, "relu", "relu6", "silu"):
            raise ValueError(f"activation: expected None, 'relu', 'relu6' or 'silu', received {activation!r}")
        y, self.cache = forward_checked(x, param_as(self.gamma, x.dtype), param_as(self.beta, x.dtype),
                                        self.running_mean, self.running_var, bool(self.training),
                                        self.momentum, self.eps, activation)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy -> dx`` (same shape); ``dgamma``, ``dbeta`` added into the Parameters."""
        dx, dgamma, dbeta = F.batchnorm_backward(dy, cache_of(self))
        accumulate(self.gamma, dgamma)
        accumulate(self.beta, dbeta)
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
