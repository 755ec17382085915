"""Random generators: npvision's default one and the ``rng=`` argument convention.

Everything random in npvision (weight initialization, dropout masks,
shuffling, augmentation, synthetic data) draws from an explicit
``numpy.random.Generator``. Functions take ``rng=``: an int seed, a Generator,
or (where allowed) ``None`` for npvision's default generator, which
:func:`seed` resets, so a whole program is reproducible from one seed.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["seed", "default_rng", "as_rng"]

_default = np.random.default_rng(0)


def seed(value: int) -> None:
    """Reset npvision's default generator (used where ``rng=None``)."""
    global _default
    _default = np.random.default_rng(value)


def default_rng() -> np.random.Generator:
    return _default


def as_rng(rng, name: str = "rng", allow_none: bool = True) -> np.random.Generator:
    """``None`` -> the default generator; an int -> a new seeded one; a Generator -> itself."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    if rng is None and allow_none:
        return _default
    allowed = "None, an int seed" if allow_none else "an int seed"
    raise TypeError(f"{name}: expected {allowed} or a numpy.random.Generator, "
                    f"received {type(rng).__name__} {rng!r}")
