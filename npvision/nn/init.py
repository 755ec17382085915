"""Weight initializers, each drawing from an explicit ``numpy.random.Generator``.

Fan-in and fan-out of a weight follow its layout:

=====================  ======================  ====================
weight                 fan_in                  fan_out
=====================  ======================  ====================
linear ``(D_in, D_out)``  ``D_in``              ``D_out``
conv ``(KH, KW, C_in, C_out)``  ``KH KW C_in``  ``KH KW C_out``
=====================  ======================  ====================

He (Kaiming) keeps the variance of ReLU activations constant through depth:
``std = sqrt(2 / fan_in)``. Glorot (Xavier) balances forward and backward
variance for symmetric activations: ``std = sqrt(2 / (fan_in + fan_out))``.
The uniform variants draw from ``U(-a, a)`` with ``a = std * sqrt(3)``.

Every layer takes ``rng=``: an int seed, a Generator, or ``None`` for
npvision's default generator, which :func:`npvision.nn.init.seed` resets, so
that a whole program is reproducible from one seed.
"""

from __future__ import annotations

import numpy as np

from .._rng import as_rng, default_rng, seed

__all__ = ["seed", "default_rng", "as_rng", "fans", "he_normal", "he_uniform",
           "glorot_normal", "glorot_uniform"]

def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` (see the table above)."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[0] * shape[1]
        return receptive * shape[2], receptive * shape[3]
    raise ValueError(f"shape: expected a 2-D linear or 4-D conv weight shape, received {shape}")


def _draw(shape, std, uniform, rng, dtype):
    """Draw directly in ``dtype`` when NumPy can (float32/float64): no float64 temporary."""
    rng = as_rng(rng)
    dt = np.dtype(dtype)
    native = dt if dt in (np.float32, np.float64) else np.float64
    if uniform:
        a = std * np.sqrt(3.0)
        u = rng.random(size=shape, dtype=native)        # U[0, 1)
        return (u * native.type(2 * a) - native.type(a)).astype(dt, copy=False)
    return (rng.standard_normal(size=shape, dtype=native) * native.type(std)).astype(dt, copy=False)


def he_normal(shape, rng=None, dtype=np.float32, fan_in: int | None = None) -> np.ndarray:
    """``N(0, 2 / fan_in)``."""
    fi = fan_in or fans(tuple(shape))[0]
    return _draw(shape, np.sqrt(2.0 / fi), False, rng, dtype)


def he_uniform(shape, rng=None, dtype=np.float32, fan_in: int | None = None) -> np.ndarray:
    """``U(-a, a)`` with ``a = sqrt(6 / fan_in)``."""
    fi = fan_in or fans(tuple(shape))[0]
    return _draw(shape, np.sqrt(2.0 / fi), True, rng, dtype)


def glorot_normal(shape, rng=None, dtype=np.float32) -> np.ndarray:
    """``N(0, 2 / (fan_in + fan_out))``."""
    fi, fo = fans(tuple(shape))
    return _draw(shape, np.sqrt(2.0 / (fi + fo)), False, rng, dtype)


def glorot_uniform(shape, rng=None, dtype=np.float32) -> np.ndarray:
    """``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``."""
    fi, fo = fans(tuple(shape))
    return _draw(shape, np.sqrt(2.0 / (fi + fo)), True, rng, dtype)
