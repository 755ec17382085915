"""Distances between embeddings, and the pairwise distance matrix with its backward.

The learned similarity function of the course is a distance between encodings::

    d(x_1, x_2) = || f(x_1) - f(x_2) ||_2          (plain L2: verify, who_is_it)
    d^2         = sum_k (f(x_1)_k - f(x_2)_k)^2     (squared L2: the triplet loss)

Small means "same person". On L2-normalized embeddings ``d^2 = 2 - 2 cos`` lies
in ``[0, 4]`` and ``d`` in ``[0, 2]``.

Pairwise matrix
---------------
For a batch ``E`` ``(N, D)`` the mining losses need every ``d(e_i, e_j)``::

    S_ij = ||e_i - e_j||^2 = ||e_i||^2 + ||e_j||^2 - 2 e_i . e_j          (N, N)

computed through one matrix product (``E E^T``), rounding kept away from
negative values by clamping at 0. Its backward, for an upstream ``G = dL/dS``
and ``H = G + G^T``::

    dL/de_k = sum_ij G_ij dS_ij/de_k = 2 (sum_j H_kj) e_k - 2 (H E)_k

The plain distance ``D_ij = sqrt(S_ij)`` has ``dD/dS = 1 / (2 D)``, infinite at
``D = 0`` (two identical embeddings, or a vector with itself). There its
gradient is taken as 0, the subgradient TensorFlow's ``pairwise_distance`` uses;
a loss only reaches such a pair when two images embed to the same point.

The naive reference is a double loop over ``i, j`` with ``np.sum((e_i - e_j)**2)``
(``tests/test_face_losses.py``, ``_pairwise_loops``).
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array

__all__ = ["check_embeddings", "pairwise_distances", "pairwise_distances_backward",
           "l2_distance", "squared_l2_distance"]


def check_embeddings(e, name: str = "embeddings") -> np.ndarray:
    """A float array ``(N, D)`` of embeddings with ``N >= 1`` and ``D >= 1``, finite."""
    e = as_float_array(e, name, ndim=2, layout="(N, D)")
    if e.shape[0] == 0 or e.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one embedding of width >= 1, received shape {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return e


def _same_width(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"{name_b}: embeddings of width {b.shape[-1]} cannot be compared with "
                         f"{name_a} of width {a.shape[-1]}; both must come from the same encoder "
                         f"(shapes {a.shape} and {b.shape})")


def squared_l2_distance(a, b) -> np.ndarray:
    """``sum_k (a_k - b_k)^2`` along the last axis: ``(..., D), (..., D) -> (...)`` (broadcast)."""
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    _same_width(a, b, "a", "b")
    return np.sum((a - b) ** 2, axis=-1)


def l2_distance(a, b) -> np.ndarray:
    """``||a - b||_2`` along the last axis: ``(..., D), (..., D) -> (...)`` (broadcast).

    The course's ``np.linalg.norm(encoding - database[identity])``; a 1-D pair gives a 0-d array.
    """
    return np.sqrt(squared_l2_distance(a, b))


def pairwise_distances(embeddings, other=None, squared: bool = False):
    """The ``(N, M)`` matrix of distances between rows of ``embeddings`` and of ``other``.

    Parameters
    ----------
    embeddings : ``(N, D)`` float array.
    other : ``(M, D)`` float array, or None for ``embeddings`` itself (then the
        diagonal is exactly 0 and the matrix exactly symmetric).
    squared : return ``||e_i - o_j||^2`` instead of ``||e_i - o_j||``.

    Returns the ``(N, M)`` array in the dtype of ``embeddings``.
    """
    e = check_embeddings(embeddings)
    o = e if other is None else check_embeddings(other, "other")
    _same_width(e, o, "embeddings", "other")
    sq_e = np.sum(e * e, axis=1)                                   # (N,)
    sq_o = sq_e if other is None else np.sum(o * o, axis=1)        # (M,)
    s = sq_e[:, None] + sq_o[None, :] - 2.0 * (e @ o.T)            # (N, 1) + (1, M) - (N, M)
    s = np.maximum(s, 0.0)                                         # rounding can dip below 0
    if other is None:
        s = 0.5 * (s + s.T)                                        # exactly symmetric
        np.fill_diagonal(s, 0.0)
    s = s.astype(e.dtype, copy=False)
    return s if squared else np.sqrt(s)


def pairwise_distances_backward(d_dist, embeddings, dist, squared: bool):
    """Gradient of ``L(pairwise_distances(embeddings, squared=squared))`` w.r.t. the embeddings.

    ``d_dist`` ``(N, N)`` is ``dL/dD`` (or ``dL/dS`` when ``squared``), ``dist`` the
    forward result. Returns ``(N, D)``. See the module docstring for the formula.
    """
    e = embeddings
    g = np.asarray(d_dist, dtype=e.dtype)
    if not squared:                                                 # dS = dD / (2 D), 0 where D = 0
        safe = np.where(dist > 0, dist, 1.0)
        g = np.where(dist > 0, g / (2.0 * safe), 0.0)
    h = g + g.T                                                     # (N, N)
    de = 2.0 * (h.sum(axis=1, keepdims=True) * e - h @ e)           # (N, 1) * (N, D) - (N, N) @ (N, D)
    return de.astype(e.dtype, copy=False)
