"""One epoch of dual coordinate descent for a linear SVM (the hinge loss), two ways.

Op ``svm_dual_cd_epoch``: ``max_violation = kernel(x, y, c, q, alpha, w, order)`` with

- ``x``     ``(n, d)`` float64, C-contiguous: one sample per row;
- ``y``     ``(n,)`` float64, labels ``+1`` / ``-1``;
- ``c``     ``(n,)`` float64, each sample's cost ``C_i > 0`` (its loss weight);
- ``q``     ``(n,)`` float64, ``x_i . x_i``;
- ``alpha`` ``(n,)`` float64, the dual variables in ``[0, C_i]``, updated in place;
- ``w``     ``(d,)`` float64, ``sum_i alpha_i y_i x_i``, updated in place with alpha;
- ``order`` ``(n,)`` int64, the order the samples are visited in (a permutation);
- returns the largest projected-gradient magnitude met in the epoch (0 at the optimum).

The problem (Hsieh, Chang, Lin, Keerthi and Sundararajan, "A dual coordinate descent
method for large-scale linear SVM", ICML 2008, Algorithm 1 -- LIBLINEAR's solver,
which the R-CNN paper used)::

    primal:  min_w  1/2 |w|^2 + sum_i C_i max(0, 1 - y_i w . x_i)
    dual:    min_a  1/2 a^T Q a - sum_i a_i,   0 <= a_i <= C_i,   Q_ij = y_i y_j x_i . x_j

One coordinate at a time, in ``order``::

    G  = y_i w . x_i - 1                                   (d dual / d a_i)
    PG = G projected on the box: min(G, 0) at a_i = 0, max(G, 0) at a_i = C_i, else G
    if PG != 0:  a_i <- clip(a_i - G / Q_ii, 0, C_i);  w += (a_i_new - a_i_old) y_i x_i

Both backends do the same float64 operations in the same order, so they agree to the
last bit.
"""

from __future__ import annotations

from . import register
from ._jit import njit


@register("svm_dual_cd_epoch", "naive")
def svm_dual_cd_epoch_naive(x, y, c, q, alpha, w, order):
    """The epoch as written in the paper: one sample at a time, plain Python loops."""
    n, d = x.shape
    worst = 0.0
    for i in order.tolist():
        if q[i] <= 0.0:                         # an all-zero sample cannot move w
            continue
        wx = 0.0
        for k in range(d):
            wx += w[k] * x[i, k]
        g = y[i] * wx - 1.0
        if alpha[i] == 0.0:
            pg = min(g, 0.0)
        elif alpha[i] == c[i]:
            pg = max(g, 0.0)
        else:
            pg = g
        worst = max(worst, abs(pg))
        if pg != 0.0:
            old = alpha[i]
            alpha[i] = min(max(old - g / q[i], 0.0), c[i])
            step = (alpha[i] - old) * y[i]
            for k in range(d):
                w[k] += step * x[i, k]
    return worst


@register("svm_dual_cd_epoch", "numba", fastest=True)
@njit
def svm_dual_cd_epoch_numba(x, y, c, q, alpha, w, order):
    """The same loop, compiled (numba): about a hundred times faster than the naive one."""
    n, d = x.shape
    worst = 0.0
    for t in range(order.shape[0]):
        i = order[t]
        if q[i] <= 0.0:
            continue
        wx = 0.0
        for k in range(d):
            wx += w[k] * x[i, k]
        g = y[i] * wx - 1.0
        if alpha[i] == 0.0:
            pg = min(g, 0.0)
        elif alpha[i] == c[i]:
            pg = max(g, 0.0)
        else:
            pg = g
        worst = max(worst, abs(pg))
        if pg != 0.0:
            old = alpha[i]
            alpha[i] = min(max(old - g / q[i], 0.0), c[i])
            step = (alpha[i] - old) * y[i]
            for k in range(d):
                w[k] += step * x[i, k]
    return worst

