"""Inverted dropout.

In training, each entry of ``x`` is kept with probability ``keep = 1 - rate``
and scaled by ``1 / keep``; the rest are set to zero::

    mask = [u >= rate] / (1 - rate)       u ~ U[0, 1) drawn independently per entry
    out  = x * mask

The scaling makes the expectation unchanged, ``E[out] = keep * x / keep = x``,
so at inference (``training=False``) dropout is simply the identity and
nothing needs rescaling. The backward pass routes the gradient through the
same mask: ``dx = dout * mask`` (and ``dx = dout`` at inference).

**Stochastic depth** (Huang et al., "Deep Networks with Stochastic Depth",
2016; torchvision's ``StochasticDepth(p, "row")``) is dropout with one draw per
*sample*: ``mask[n] = [u_n >= rate] / (1 - rate)`` broadcast over the rest of
the sample. On a residual branch, ``y = x + branch(x) * mask``, a dropped
sample passes the block as the identity; EfficientNet uses it while training.

Randomness comes only from ``rng``: a ``numpy.random.Generator`` (advanced by
each call), an int seed (a fresh generator, so the same seed gives the same
mask: handy for gradient checks), or ``None`` for npvision's default
generator (see :func:`npvision.nn.init.seed`).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._rng import as_rng
from .._checks import as_float_array, check_cache, check_dout

__all__ = ["dropout_forward", "dropout_backward", "stochastic_depth_forward", "stochastic_depth_backward"]


def _check_rate_and_mode(rate, training) -> None:
    if not isinstance(rate, numbers.Real) or isinstance(rate, bool):
        raise TypeError(f"rate: expected a real number in [0, 1), received {type(rate).__name__} {rate!r}")
    if not 0 <= rate < 1:
        raise ValueError(f"rate: expected a drop probability in [0, 1), received {rate}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training: expected True or False, received {type(training).__name__} {training!r}")


def dropout_forward(x, rate, rng, training=True):
    """Inverted dropout of ``x`` with drop probability ``rate``.

    Parameters
    ----------
    x : float array of any shape.
    rate : float in [0, 1), the probability of zeroing an entry.
    rng : ``numpy.random.Generator``, int seed, or None (npvision's default generator).
    training : bool; False makes the op the identity (no random numbers drawn).

    Returns
    -------
    out : like ``x``, same dtype.
    cache : the scaled mask (``mask = keep / (1 - rate)``, dtype of ``x``), or None at inference.
    """
    x = as_float_array(x, "x")
    _check_rate_and_mode(rate, training)
    if not training:
        return x.copy(), None                         # identity (a new array, like the training output)
    rng = as_rng(rng)
    keep = rng.random(x.shape) >= rate                # True with probability 1 - rate
    mask = (keep / (1.0 - rate)).astype(x.dtype)      # 0 or 1 / (1 - rate)
    return x * mask, mask


def dropout_backward(dout, cache):
    """``dx = dout * mask`` with the forward pass's mask (``dx = dout`` at inference)."""
    mask = cache
    dout = as_float_array(dout, "dout")
    if mask is None:
        return dout
    check_cache(mask, "dropout")
    return check_dout(dout, mask.shape, "dropout_backward") * mask


def stochastic_depth_forward(x, rate, rng, training=True):
    """Drop whole samples of ``x`` ``(N, ...)`` with probability ``rate``, scaling the rest by ``1 / (1 - rate)``.

    ``out[n] = x[n] * mask[n]`` with ``mask[n] = [u_n >= rate] / (1 - rate)``, one
    ``u_n ~ U[0, 1)`` per sample. Arguments as :func:`dropout_forward`. Returns
    ``(out, cache)``; the cache is ``(mask (N, 1, ..., 1), x.shape)``, or None at inference.
    """
    x = as_float_array(x, "x")
    _check_rate_and_mode(rate, training)
    if not training:
        return x.copy(), None
    rng = as_rng(rng)
    keep = rng.random((x.shape[0],) + (1,) * (x.ndim - 1)) >= rate      # (N, 1, ..., 1)
    mask = (keep / (1.0 - rate)).astype(x.dtype)
    return x * mask, (mask, x.shape)


def stochastic_depth_backward(dout, cache):
    """``dx[n] = dout[n] * mask[n]`` with the forward pass's per-sample mask (``dout`` at inference)."""
    dout = as_float_array(dout, "dout")
    if cache is None:
        return dout
    mask, x_shape = cache
    return check_dout(dout, x_shape, "stochastic_depth_backward") * mask
