"""Zero (or any constant) padding of the height and width axes, and its undoing.

Every sliding-window op pads the same way: ``(N, H, W, C)`` grows to
``(N, H + top + bottom, W + left + right, C)``; the gradient of the padding is
the crop of the interior. Max pooling pads with ``-inf`` so that the padding
never wins a window; everything else pads with zeros.

It sits at the top of the package, beside ``_checks``, because both floors use
it: :mod:`npvision.functional` and the kernels of :mod:`npvision.kernels`
(which must not import ``functional``, the floor above them).
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []   # shared by the op files; nothing public


def padded_shape(x_shape, pads) -> tuple[int, int, int, int]:
    """``(N, H + top + bottom, W + left + right, C)`` for ``x_shape`` ``(N, H, W, C)``."""
    (t, b), (l, r) = pads
    return (x_shape[0], x_shape[1] + t + b, x_shape[2] + l + r, x_shape[3])


def pad_hw(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    """Pad axes 1 and 2 of ``(N, H, W, C)`` by ``((top, bottom), (left, right))`` with ``value``."""
    (t, b), (l, r) = pads
    if t == b == l == r == 0:
        return x
    n, h, w, c = x.shape
    xp = np.empty((n, h + t + b, w + l + r, c), dtype=x.dtype)         # (N, Hp, Wp, C)
    xp[:, :t] = value                                                   # border rows and columns only:
    xp[:, t + h:] = value                                               # one pass over memory, not two
    xp[:, t:t + h, :l] = value
    xp[:, t:t + h, l + w:] = value
    xp[:, t:t + h, l:l + w, :] = x
    return xp


def crop_hw(xp: np.ndarray, pads, x_shape=None) -> np.ndarray:
    """Undo :func:`pad_hw`: the ``(N, H, W, C)`` interior of a padded array.

    ``x_shape`` (the unpadded shape) may be left out: it follows from ``pads``.
    A view, not a copy (copying costs a full pass over memory for nothing:
    every consumer accepts strided arrays, and kernels copy when they must).
    """
    (t, b), (l, r) = pads
    if x_shape is None:
        return xp[:, t:xp.shape[1] - b, l:xp.shape[2] - r, :]
    return xp[:, t:t + x_shape[1], l:l + x_shape[2], :]
