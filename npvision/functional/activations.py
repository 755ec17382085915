"""Elementwise activations and the softmax.

Each ``<name>_forward(x)`` returns ``(out, cache)`` with ``out`` shaped like
``x``; ``<name>_backward(dout, cache)`` returns ``dx = dout * f'(x)``, with the
derivative read from the cache:

==============  ===============================  =================================
activation      f(x)                             f'(x) (from the cache)
==============  ===============================  =================================
relu            max(x, 0)                        1 if x > 0 else 0
relu6           min(max(x, 0), 6)                1 if 0 < x < 6 else 0
leaky_relu      x if x > 0 else alpha x          1 if x > 0 else alpha
sigmoid         s = 1 / (1 + e^-x)               s (1 - s)        (cache: s)
tanh            t = tanh(x)                      1 - t^2          (cache: t)
silu (swish)    x s(x)                           s (1 + x (1 - s))
==============  ===============================  =================================

At the kinks (0 for ReLU, 0 and 6 for ReLU6) the derivative taken is 0, the
usual convention (a subgradient).

Softmax along ``axis``: ``p_i = e^(x_i - m) / sum_j e^(x_j - m)`` with
``m = max_j x_j`` subtracted so no exponential overflows (the shift cancels
in the ratio). Its Jacobian is ``dp_i/dx_j = p_i (delta_ij - p_j)``, so

    dx = p * (dout - sum(dout * p, axis))

The sigmoid is ``1 / (1 + exp(-x))``, computed in place in one buffer (four passes over
memory, no temporaries). For ``x`` below about -88 (float32; -709 in float64) ``exp(-x)``
overflows to ``inf`` and ``s`` comes out exactly 0, the correctly rounded value; the overflow
is expected there and not reported as a warning.

The gradients of ReLU, ReLU6 and SiLU run through :mod:`npvision.kernels.elementwise` (ops
``relu_backward``, ``relu6_backward``, ``silu_backward``): one pass over memory each instead
of NumPy's pass and temporary per term.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_cache, check_dout

__all__ = [
    "relu_forward", "relu_backward",
    "relu6_forward", "relu6_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "silu_forward", "silu_backward",
    "softmax_forward", "softmax_backward",
]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))`` in the dtype of ``x``, in place in one buffer."""
    s = np.negative(x)                                # -x
    with np.errstate(over="ignore"):                  # exp(-x) = inf far below 0: s = 1 / inf = 0, exact
        np.exp(s, out=s)
    s += 1
    np.reciprocal(s, out=s)
    return s


def _same_dtype(dout, x):
    """``dout`` and ``x`` as C-contiguous arrays of one dtype for a kernel, or None when their
    dtypes differ (the NumPy formula then keeps ``dout``'s dtype, as before)."""
    if dout.dtype != x.dtype or x.dtype not in (np.float32, np.float64):
        return None
    return np.ascontiguousarray(dout), np.ascontiguousarray(x)


# ---------------------------------------------------------------- ReLU family

def relu_forward(x, out=None):
    """``y = max(x, 0)``; cache: ``y`` (``y > 0`` exactly where ``x > 0``, so the output is the
    mask). ``out=x`` writes ``y`` over ``x`` (an in-place ReLU: no new array)."""
    x = as_float_array(x, "x")
    y = np.maximum(x, x.dtype.type(0), out=out)
    return y, y


def relu_backward(dout, cache):
    """``dx = dout * [y > 0]`` (the same as ``[x > 0]``)."""
    x = check_cache(cache, "relu")
    dout = check_dout(dout, x.shape, "relu_backward")
    pair = _same_dtype(dout, x)
    return np.where(x > 0, dout, 0) if pair is None else kernels.get("relu_backward")(*pair)


def relu6_forward(x, out=None):
    """``y = min(max(x, 0), 6)`` (MobileNet); cache: ``y`` (``0 < y < 6`` exactly where
    ``0 < x < 6``). ``out=x`` writes ``y`` over ``x``."""
    x = as_float_array(x, "x")
    y = np.clip(x, x.dtype.type(0), x.dtype.type(6), out=out)
    return y, y


def relu6_backward(dout, cache):
    """``dx = dout * [0 < y < 6]`` (the same as ``[0 < x < 6]``)."""
    x = check_cache(cache, "relu6")
    dout = check_dout(dout, x.shape, "relu6_backward")
    pair = _same_dtype(dout, x)
    return np.where((x > 0) & (x < 6), dout, 0) if pair is None else kernels.get("relu6_backward")(*pair)


def leaky_relu_forward(x, alpha=0.01):
    """``x`` where positive, ``alpha * x`` elsewhere; cache: ``(x, alpha)``.

    ``alpha`` is a finite real number (the slope for negative inputs).
    """
    x = as_float_array(x, "x")
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not np.isfinite(alpha):
        raise TypeError(f"alpha: expected a finite real number (the negative slope), received {alpha!r}")
    alpha = float(alpha)
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    """``dx = dout`` where ``x > 0``, ``alpha * dout`` elsewhere."""
    x, alpha = check_cache(cache, "leaky_relu", 2)
    dout = check_dout(dout, x.shape, "leaky_relu_backward")
    return np.where(x > 0, dout, alpha * dout)


# ---------------------------------------------------------------- smooth ones

def sigmoid_forward(x):
    """``s = 1 / (1 + exp(-x))`` computed without overflow; cache: ``s``."""
    x = as_float_array(x, "x")
    s = _sigmoid(x)
    return s, s


def sigmoid_backward(dout, cache):
    """``dx = dout * s * (1 - s)`` from the cached output ``s``."""
    s = check_cache(cache, "sigmoid")
    dout = check_dout(dout, s.shape, "sigmoid_backward")
    return dout * s * (1 - s)


def tanh_forward(x):
    """``t = tanh(x)``; cache: ``t``."""
    x = as_float_array(x, "x")
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, cache):
    """``dx = dout * (1 - t^2)`` from the cached output ``t``."""
    t = check_cache(cache, "tanh")
    dout = check_dout(dout, t.shape, "tanh_backward")
    return dout * (1 - t * t)


def silu_forward(x):
    """SiLU / swish ``x * sigmoid(x)`` (EfficientNet); cache: ``(x, s)``."""
    x = as_float_array(x, "x")
    s = _sigmoid(x)
    return x * s, (x, s)


def silu_backward(dout, cache):
    """``d/dx [x s(x)] = s + x s (1 - s) = s (1 + x (1 - s))``."""
    x, s = check_cache(cache, "silu", 2, arrays=2)
    dout = check_dout(dout, x.shape, "silu_backward")
    pair = _same_dtype(dout, x)
    if pair is None:
        return dout * s * (1 + x * (1 - s))
    return kernels.get("silu_backward")(*pair, np.ascontiguousarray(s))


# ---------------------------------------------------------------- softmax

def softmax_forward(x, axis=-1):
    """Softmax along ``axis`` (default: the last, class axis); cache: ``(p, axis)``.

    ``p = exp(x - max) / sum(exp(x - max))``; every slice along ``axis`` sums to 1.
    """
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x: expected an array with at least 1 dimension, received a 0-D array")
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"axis: expected an integer, received {type(axis).__name__} {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis: expected an axis in [{-x.ndim}, {x.ndim}) for x of shape {x.shape}, "
                         f"received {axis}")
    shifted = x - x.max(axis=axis, keepdims=True)     # <= 0 everywhere: exp cannot overflow
    e = np.exp(shifted)
    p = e / e.sum(axis=axis, keepdims=True)
    return p, (p, int(axis))


def softmax_backward(dout, cache):
    """``dx = p * (dout - sum(dout * p, axis))`` (the softmax Jacobian applied to ``dout``)."""
    p, axis = check_cache(cache, "softmax", 2)
    dout = check_dout(dout, p.shape, "softmax_backward")
    return p * (dout - np.sum(dout * p, axis=axis, keepdims=True))
