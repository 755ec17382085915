"""L2 normalization: scale every vector to unit length (the last layer of a face encoder).

For a vector ``x`` (one row of an ``(N, D)`` batch, or the last axis of any array)::

    n = max(||x||_2, eps)            ||x||_2 = sqrt(sum_k x_k^2)
    y = x / n

``eps`` (1e-12, as PyTorch's ``F.normalize``) only matters for a vector that is
(almost) zero: there ``y = x / eps`` instead of a division by zero.

Backward
--------
Where ``||x|| > eps``, ``y = x / ||x||`` and its Jacobian is the projection onto
the plane orthogonal to ``y``, divided by the norm::

    dy_k / dx_j = (delta_kj - y_k y_j) / n
    dx = (dout - y (y . dout)) / n                  (one dot product per vector)

so the part of ``dout`` along ``y`` is removed: moving ``x`` along itself does
not change ``y``. Where ``||x|| <= eps`` the norm is the constant ``eps`` and
``dx = dout / eps``.

The naive reference is the loop in ``tests/test_l2_normalize.py``
(``_l2_normalize_loops``): one vector at a time, the norm summed element by element.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_dout

__all__ = ["l2_normalize_forward", "l2_normalize_backward"]


def l2_normalize_forward(x, eps: float = 1e-12):
    """``y = x / max(||x||, eps)`` along the last axis.

    Parameters
    ----------
    x : float array ``(..., D)``, typically ``(N, D)`` embeddings; at least 1-D.
    eps : float > 0, the smallest norm divided by.

    Returns
    -------
    y : like ``x`` (shape and dtype), every vector of unit length (or shorter than
        1 where ``||x|| < eps``).
    cache : ``(y, n, clamped)`` for :func:`l2_normalize_backward`: the output,
        the norms ``(..., 1)`` and where they were clamped to ``eps``.
    """
    x = as_float_array(x, "x")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"x: expected an array (..., D) with D >= 1, received shape {x.shape}")
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"eps: expected a number > 0, received {eps!r}")
    norm = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))          # (..., 1)
    clamped = norm <= eps                                          # (..., 1) bool
    n = np.where(clamped, eps, norm).astype(x.dtype, copy=False)   # (..., 1)
    y = x / n                                                      # (..., D)
    return y, (y, n, clamped)


def l2_normalize_backward(dout, cache):
    """``dx = (dout - y (y . dout)) / n`` per vector (``dout / eps`` where the norm was clamped)."""
    y, n, clamped = cache
    dout = check_dout(dout, y.shape, "l2_normalize_backward")
    along = np.sum(y * dout, axis=-1, keepdims=True)               # (..., 1) y . dout
    along = np.where(clamped, 0.0, along)                          # a clamped norm is a constant
    dx = (dout - y * along) / n                                    # (..., D)
    return dx.astype(y.dtype, copy=False)
