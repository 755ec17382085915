"""Elementwise activations (and softmax) as layers; none has parameters.

==============  ===============================  =======================================
layer           ``y = f(x)``                      ``dx = dy * f'(x)``
==============  ===============================  =======================================
``ReLU``        ``max(0, x)``                     ``dy * [x > 0]``
``ReLU6``       ``min(max(0, x), 6)``             ``dy * [0 < x < 6]``
``LeakyReLU``   ``x`` if ``x > 0`` else ``a x``   ``dy * (1 if x > 0 else a)``
``Sigmoid``     ``1 / (1 + e^-x)``                ``dy * y (1 - y)``
``Tanh``        ``tanh x``                        ``dy * (1 - y^2)``
``SiLU``        ``x sigmoid(x)`` (swish)          ``dy * (s + x s (1 - s))``, ``s = sigmoid(x)``
``Softmax``     ``e^x_i / sum_j e^x_j``           ``y * (dy - sum_j dy_j y_j)`` along ``axis``
==============  ===============================  =======================================

Any input shape is accepted; the output has the input's shape and dtype.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .._checks import as_float_array
from ._layer import cache_of
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "Softmax"]


class _Activation(Module):
    """An activation wrapping ``F.<name>_forward`` / ``F.<name>_backward`` (set by subclasses)."""

    _name = ""

    def __init__(self):
        super().__init__()
        self.cache = None

    def _kwargs(self) -> dict:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "x")
        y, self.cache = getattr(F, f"{self._name}_forward")(x, **self._kwargs())
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return getattr(F, f"{self._name}_backward")(dy, cache_of(self))


class _InPlace(_Activation):
    """An activation whose output can overwrite its input (``inplace=True``, as PyTorch's): no new
    array. Only for an input nothing else keeps: a layer's fresh output that no cache holds
    (a convolution's, batch norm's, a residual sum's), never a Sigmoid's or Tanh's output."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        if not isinstance(inplace, bool):
            raise TypeError(f"inplace: expected True or False, received {inplace!r}")
        self.inplace = inplace

    def _kwargs(self) -> dict:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "x")
        out = x if self.inplace and x.flags.writeable and x.flags.c_contiguous else None
        y, self.cache = getattr(F, f"{self._name}_forward")(x, out=out)
        return y

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_InPlace):
    """``max(0, x)``."""

    _name = "relu"


class ReLU6(_InPlace):
    """``min(max(0, x), 6)`` (MobileNet v2: robust in low precision)."""

    _name = "relu6"


class LeakyReLU(_Activation):
    """``x`` for ``x > 0``, ``alpha x`` otherwise."""

    _name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
            raise TypeError(f"alpha: expected a real number, received {type(alpha).__name__} {alpha!r}")
        self.alpha = float(alpha)

    def _kwargs(self) -> dict:
        return {"alpha": self.alpha}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``."""

    _name = "sigmoid"


class Tanh(_Activation):
    """``tanh(x)``."""

    _name = "tanh"


class SiLU(_Activation):
    """``x * sigmoid(x)``, a.k.a. swish (EfficientNet)."""

    _name = "silu"


class Softmax(_Activation):
    """``exp(x) / sum(exp(x))`` along ``axis`` (default: the last, i.e. classes or channels)."""

    _name = "softmax"

    def __init__(self, axis: int = -1):
        super().__init__()
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise TypeError(f"axis: expected an int, received {type(axis).__name__} {axis!r}")
        self.axis = int(axis)

    def _kwargs(self) -> dict:
        return {"axis": self.axis}

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
