"""Batch normalization, per channel (the last axis) over every other axis.

For ``x`` of shape ``(N, D)`` or ``(N, H, W, C)`` the statistics of channel
``c`` are taken over the ``m = N`` (resp. ``m = N H W``) entries of that
channel. With ``gamma``, ``beta`` of shape ``(C,)``::

    mu    = mean(x)                         (C,)
    var   = mean((x - mu)^2)                (C,)  biased: divides by m, not m - 1
    x_hat = (x - mu) / sqrt(var + eps)      like x
    out   = gamma * x_hat + beta            like x

Training and inference
----------------------
``training=True`` normalizes with the batch statistics above and updates the
running statistics **in place** (they must be NumPy arrays)::

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var

``training=False`` normalizes with ``running_mean`` and ``running_var``
instead, leaving them untouched; the op is then a fixed affine map of ``x``.

Conventions (chosen deliberately; compare before porting weights):

* ``momentum`` is the weight of the **old** value, as in the course and Keras
  (``moving = moving * momentum + batch * (1 - momentum)``, Keras default
  0.99, here 0.9). PyTorch's ``momentum`` is the weight of the **new** value:
  our ``momentum=0.9`` is PyTorch's ``momentum=0.1``.
* The running variance accumulates the **biased** batch variance (divide by
  ``m``), as Keras/TensorFlow do (their ``moments`` is biased). PyTorch instead
  accumulates the unbiased ``var * m / (m - 1)``; the normalization itself
  (training mode) uses the biased variance in all three.

Backward (compact closed form)
------------------------------
Write ``sigma = sqrt(var + eps)`` and ``g = dL/dx_hat = gamma * dout``. Then
``dbeta = sum(dout)`` and ``dgamma = sum(dout * x_hat)`` (sums over the ``m``
entries of each channel). In training mode ``x_hat`` depends on ``x``
directly and through ``mu`` and ``var``; using ``dmu/dx_i = 1/m`` and
``dvar/dx_i = 2 (x_i - mu) / m`` the three paths collect into::

    dx = (1 / sigma) * (g - mean(g) - x_hat * mean(g * x_hat))
       = gamma / (m * sigma) * (m * dout - dbeta - x_hat * dgamma)

(the ``mean(g)`` term removes the component along the constant vector,
the ``x_hat`` term the component along ``x_hat``: both directions in which
normalization makes the output insensitive to ``x``). In inference mode
``mu`` and ``sigma`` are constants, so ``dx = gamma * dout / sigma``.

Fused activation
----------------
``activation="relu"``, ``"relu6"`` or ``"silu"`` returns ``act(out)`` from the same pass over
``x`` (a ConvBNAct unit's batch norm and activation at the cost of one), and the backward pass
first multiplies ``dout`` by ``act'`` at the normalized value ``z``, recomputed from ``x``:
``[z > 0]``, ``[0 < z < 6]``, or SiLU's ``s (1 + z (1 - s))`` with ``s = sigmoid(z)`` kept
from the forward pass (the cache's last entry; None for the others).

The passes run in :mod:`npvision.kernels.batchnorm` (ops ``batchnorm_stats``,
``batchnorm_apply``, ``batchnorm_grad_sums``, ``batchnorm_grad_apply``): the ``naive`` backend
is these formulas in NumPy, the ``numba`` one makes each a single pass over the data.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_cache, check_dout

__all__ = ["batchnorm_forward", "batchnorm_backward"]


def _check_vector(v, name: str, c: int, need_array: bool = False) -> np.ndarray:
    """A per-channel float vector of shape ``(C,)``."""
    if need_array and not isinstance(v, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy float array of shape ({c},) (it is updated in place), "
                        f"received {type(v).__name__}")
    v = as_float_array(v, name)
    if v.shape != (c,):
        raise ValueError(f"{name}: expected shape ({c},) (one entry per channel of x), received {v.shape}")
    if need_array and not v.flags.writeable:
        raise ValueError(f"{name}: is read-only but is updated in place in training mode")
    return v


def _check_unit(v, name: str, low: float, high: float, high_open: bool) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{name}: expected a real number, received {type(v).__name__} {v!r}")
    ok = low <= v < high if high_open else low <= v <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a value in [{low}, {high}{bracket}, received {v}")
    return float(v)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.9, eps=1e-5,
                      activation=None):
    """Batch normalization over all axes but the last (see the module docstring).

    Parameters
    ----------
    x : (N, D) or (N, H, W, C) float array (any ndim >= 2; channels last).
    gamma, beta : (C,) scale and shift.
    running_mean, running_var : (C,) NumPy arrays; updated in place when ``training``.
    training : bool; batch statistics (True) or running statistics (False).
    momentum : float in [0, 1], weight of the old running value.
    eps : float > 0 added to the variance.
    activation : None, ``"relu"``, ``"relu6"`` or ``"silu"``: applied to the output in the same pass.

    Returns
    -------
    out : like ``x``, same dtype.
    cache : ``(x, gamma, beta, mu, inv_std, training, activation, s)`` for
        :func:`batchnorm_backward` (``mu`` and ``inv_std`` (C,) in float64; ``s`` the SiLU's
        sigmoid ``(M, C)``, else None).
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x: expected an array of at least 2 dimensions (N, ..., C), received shape {x.shape}")
    c = x.shape[-1]
    gamma = _check_vector(gamma, "gamma", c)
    beta = _check_vector(beta, "beta", c)
    running_mean = _check_vector(running_mean, "running_mean", c, need_array=True)
    running_var = _check_vector(running_var, "running_var", c, need_array=True)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training: expected True or False, received {type(training).__name__} {training!r}")
    momentum = _check_unit(momentum, "momentum", 0.0, 1.0, high_open=False)
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or not eps > 0:
        raise ValueError(f"eps: expected a positive real number, received {eps!r}")
    if activation not in (None, "relu", "relu6", "silu"):
        raise ValueError(f"activation: expected None, 'relu', 'relu6' or 'silu', received {activation!r}")
    return forward_checked(x, gamma, beta, running_mean, running_var, training, momentum, eps, activation)


def forward_checked(x, gamma, beta, running_mean, running_var, training, momentum, eps, activation):
    """:func:`batchnorm_forward` once its arguments are known good: the math itself.

    :class:`npvision.nn.BatchNorm2D` calls this directly: it checks ``x`` itself, and its
    parameters were checked when it was made (the checks cost about a fifth of a small
    layer's forward inside a model)."""
    x = np.ascontiguousarray(x)
    c = x.shape[-1]
    x2 = x.reshape(-1, c)                             # (M, C): rows of channels
    if training:
        m = x2.shape[0]
        if m < 2:
            raise ValueError(f"x: training-mode batch norm needs at least 2 values per channel to estimate "
                             f"a variance, received shape {x.shape}")
        mu, var = kernels.get("batchnorm_stats")(x2)  # (C,) each, float64; var biased
        running_mean[...] = momentum * running_mean + (1 - momentum) * mu
        running_var[...] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    inv_std = 1.0 / np.sqrt(var + eps)                # (C,) float64
    scale = gamma * inv_std                           # (C,): out = (x - mu) * scale + beta
    norm = _in_dtype(x.dtype, mu, scale, beta)
    s = None                                          # SiLU's sigmoid (M, C), for the backward pass
    if activation == "silu":
        out, s = kernels.get("batchnorm_apply_silu")(x2, *norm)
    else:
        out = kernels.get("batchnorm_apply")(x2, *norm, activation)
    return out.reshape(x.shape), (x, gamma, beta, mu, inv_std, bool(training), activation, s)


def _in_dtype(dtype, *vectors):
    """The per-channel vectors in the arrays' dtype (the kernels compute in it)."""
    return [np.asarray(v, dtype=dtype) for v in vectors]


def batchnorm_backward(dout, cache):
    """Gradients of :func:`batchnorm_forward` in the closed form of the module docstring.

    Returns
    -------
    (dx, dgamma, dbeta) with the shapes of ``(x, gamma, beta)``.
    """
    x, gamma, beta, mu, inv_std, training, activation, s = check_cache(cache, "batchnorm", 8, arrays=5)
    dout = check_dout(dout, x.shape, "batchnorm_backward")
    c = x.shape[-1]
    x2 = x.reshape(-1, c)                             # (M, C)
    dy2 = np.ascontiguousarray(dout, dtype=x.dtype).reshape(-1, c)
    m = x2.shape[0]                                   # entries per channel
    scale = gamma * inv_std                           # (C,)
    norm = _in_dtype(x.dtype, mu, scale, beta)        # what the forward pass computed with
    # dbeta = sum g, dgamma = sum g x_hat, with g = dout act'(z) (dout itself without an activation)
    dbeta, sum_gx = kernels.get("batchnorm_grad_sums")(dy2, x2, *norm, activation, s)
    dgamma = sum_gx * inv_std
    # dx = a g + b (x - mu) + c: the closed form gamma inv_std / m (m g - dbeta - x_hat dgamma)
    a = scale
    b = -scale * inv_std * dgamma / m if training else np.zeros(c)
    c0 = -scale * dbeta / m if training else np.zeros(c)
    dx2 = kernels.get("batchnorm_grad_apply")(dy2, x2, *norm, *_in_dtype(x.dtype, a, b, c0), activation, s)
    return (dx2.reshape(x.shape), dgamma.astype(gamma.dtype, copy=False),
            dbeta.astype(gamma.dtype, copy=False))
