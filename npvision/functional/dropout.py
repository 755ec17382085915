"""Inverted dropout.

In training, each entry of ``x`` is kept with probability ``keep = 1 - rate``
and scaled by ``1 / keep``; the rest are set to zero::

    mask = [u >= rate] / (1 - rate)       u ~ U[0, 1) drawn independently per entry
    out  = x * mask

The scaling makes the expectation unchanged, ``E[out] = keep * x / keep = x``,
so at inference (``training=False``) dropout is simply the identity and
nothing needs rescaling. The backward pass routes the gradient through the
same mask: ``dx = dout * mask`` (and ``dx = dout`` at inference).

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

__all__ = ["dropout_forward", "dropout_backward"]


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
    if not isinstance(rate, numbers.Real) or isinstance(rate, bool):
        raise TypeError(f"rate: expected a real number in [0, 1), received {type(rate).__name__} {rate!r}")
    if not 0 <= rate < 1:
        raise ValueError(f"rate: expected a drop probability in [0, 1), received {rate}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training: expected True or False, received {type(training).__name__} {training!r}")
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
