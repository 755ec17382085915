"""Batch normalization kernels: per-channel statistics, the normalizing pass, and their gradients.

Every array is seen as rows of channels, ``x2 (M, C)`` (all axes but the last flattened; a
reshape of a C-contiguous ``(N, H, W, C)``). With ``mu`` and ``inv_std = 1 / sqrt(var + eps)``
per channel (:mod:`npvision.functional.batchnorm` has the math)::

    y = act(z),   z = (x - mu) scale + beta,   scale = gamma inv_std

``act`` is the identity, ReLU, ReLU6 or SiLU (an activation fused into the pass: ``"relu"``,
``"relu6"``, ``"silu"``, or None). The gradient, with ``g = dy act'(z)`` (``z`` recomputed from
``x``; for SiLU ``act'(z) = s (1 + z (1 - s))`` with ``s = sigmoid(z)`` saved by the forward
pass, ``s2`` below)::

    dbeta = sum_rows g,   dgamma = inv_std sum_rows g (x - mu)
    dx    = a g + b (x - mu) + c    (per channel:  training   a = gamma inv_std,
                                                              b = -a inv_std dgamma / M,
                                                              c = -a dbeta / M;
                                                   inference  a = gamma inv_std, b = c = 0)

which is the closed form ``gamma inv_std / M (M g - dbeta - x_hat dgamma)`` of the functional
op, regrouped so that one pass over the rows computes it. ``mu``, ``scale``, ``beta`` and the
coefficients are in the arrays' dtype; the sums come back in float64.

Ops (every backend the same arguments):

* ``batchnorm_stats(x2) -> (mean (C,), var (C,))`` the biased per-channel statistics, float64;
* ``batchnorm_apply(x2, mu, scale, beta, act) -> y2 (M, C)`` (act None, relu or relu6);
* ``batchnorm_apply_silu(x2, mu, scale, beta) -> (y2, s2)``: ``y = z s``, ``s = sigmoid(z)``;
* ``batchnorm_grad_sums(dy2, x2, mu, scale, beta, act, s2=None) -> (sum g, sum g (x - mu))``, float64;
* ``batchnorm_grad_apply(dy2, x2, mu, scale, beta, a, b, c, act, s2=None) -> dx2 (M, C)``
  (``s2`` only with ``act="silu"``).

``naive`` (and ``numpy``: the same functions) is NumPy written out as the formulas;
``numba`` makes each op one pass over the rows, channels innermost (a vectorized loop), the rows shared out among npvision's threads.
NumPy sums the leading axis of a short last axis slowly, and each formula term is one more
pass and one more temporary: batch norm took half of MobileNet v2's training step that way.
The SiLU's exponential is NumPy's ``np.exp`` (vectorized; numba's ``exp`` is a scalar call
without Intel's SVML), between two compiled passes: ``-z`` written into ``s2``, then
``s = 1 / (1 + e)`` and ``y = z s``.
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit
from .blas import PARALLEL_SIZE, add_up, run_on_threads, threads

__all__ = ["ACTIVATIONS"]

#: activations the normalizing pass can apply itself, by their number in the compiled loops
ACTIVATIONS = {None: 0, "relu": 1, "relu6": 2, "silu": 3}     # silu: loops of its own

#: rows per partial sum of the statistics: summed in the input's dtype, then added in float64
ROWS_PER_PARTIAL = 256


# ---------------------------------------------------------------------------
# naive: the formulas in NumPy
# ---------------------------------------------------------------------------

def _sigmoid(z):
    with np.errstate(over="ignore"):                  # exp(-z) = inf far below 0: s = 0, exact
        return 1 / (1 + np.exp(-z))


def _activate(z, act):
    if act == "relu":
        return np.maximum(z, 0)
    if act == "relu6":
        return np.clip(z, 0, 6)
    return z


def _act_grad(dy, z, act, s=None):
    if act == "relu":
        return dy * (z > 0)
    if act == "relu6":
        return dy * ((z > 0) & (z < 6))
    if act == "silu":
        return dy * s * (1 + z * (1 - s))
    return dy


@register("batchnorm_stats", "naive")
@register("batchnorm_stats", "numpy")
def batchnorm_stats_naive(x2):
    """(mean, var): ``mean(x)`` and ``mean((x - mean)^2)`` over the rows, in float64."""
    x64 = x2.astype(np.float64)
    mean = x64.mean(axis=0)
    return mean, ((x64 - mean) ** 2).mean(axis=0)


@register("batchnorm_apply", "naive")
@register("batchnorm_apply", "numpy")
def batchnorm_apply_naive(x2, mu, scale, beta, act):
    """``act((x - mu) scale + beta)``."""
    return _activate((x2 - mu) * scale + beta, act)


@register("batchnorm_apply_silu", "naive")
@register("batchnorm_apply_silu", "numpy")
def batchnorm_apply_silu_naive(x2, mu, scale, beta):
    """``(z s, s)`` with ``z = (x - mu) scale + beta`` and ``s = sigmoid(z)``."""
    z = (x2 - mu) * scale + beta
    s = _sigmoid(z)
    return z * s, s


@register("batchnorm_grad_sums", "naive")
@register("batchnorm_grad_sums", "numpy")
def batchnorm_grad_sums_naive(dy2, x2, mu, scale, beta, act, s2=None):
    """(sum g, sum g (x - mu)), ``g = dy act'((x - mu) scale + beta)``, in float64."""
    xc = x2 - mu
    g = _act_grad(dy2, xc * scale + beta, act, s2).astype(np.float64)
    return g.sum(axis=0), (g * xc).sum(axis=0)


@register("batchnorm_grad_apply", "naive")
@register("batchnorm_grad_apply", "numpy")
def batchnorm_grad_apply_naive(dy2, x2, mu, scale, beta, a, b, c, act, s2=None):
    """``dx = a g + b (x - mu) + c`` with ``g = dy act'((x - mu) scale + beta)``."""
    xc = x2 - mu
    return a * _act_grad(dy2, xc * scale + beta, act, s2) + b * xc + c


# ---------------------------------------------------------------------------
# numba: one pass over the rows each, channels innermost
# ---------------------------------------------------------------------------
# Activations are picked with selects (max, min, ``g if z > 0 else zero``): the loops have
# no branch and vectorize on AVX2 as on AVX-512 (benchmarks/vector_report.py).

@njit(nogil=True)
def _stats_rows(x2, first, r0, r1, block, part, part_sq, total, total_sq):
    """total += sum over rows r0..r1-1 of (x - first), total_sq += of (x - first)^2; each block
    of rows summed in the input's dtype first (``part``, ``part_sq``), then added in float64.
    ``first`` (a row of x) shifts the values near their mean, so the squares do not cancel."""
    C = x2.shape[1]
    for b0 in range(r0, r1, block):
        for c in range(C):
            part[c] = 0
            part_sq[c] = 0
        for r in range(b0, min(r1, b0 + block)):
            row = x2[r]
            for c in range(C):
                d = row[c] - first[c]
                part[c] += d
                part_sq[c] += d * d
        for c in range(C):
            total[c] += part[c]
            total_sq[c] += part_sq[c]


@njit(nogil=True)
def _apply_rows(x2, norm, act, bounds, r0, r1, y2):
    """y = act((x - mu) scale + beta) for rows r0..r1-1; ``norm`` (3, C) holds mu, scale, beta and
    ``bounds`` the 0 and 6 of ReLU and ReLU6, in the arrays' dtype."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    zero, six = bounds[0], bounds[1]
    for r in range(r0, r1):
        row, out = x2[r], y2[r]
        for c in range(C):
            z = (row[c] - mu[c]) * scale[c] + beta[c]
            if act >= 1:
                z = max(z, zero)
            if act == 2:
                z = min(z, six)
            out[c] = z


@njit(inline="always")
def _gate(dy, z, act, zero, six):
    """``dy act'(z)``: dy where the activation passes its input on, else 0."""
    if act == 1:
        return dy if z > zero else zero
    if act == 2:
        return dy if (z > zero) & (z < six) else zero
    return dy


@njit(nogil=True)
def _neg_z_rows(x2, norm, r0, r1, e2):
    """e = -((x - mu) scale + beta) for rows r0..r1-1: the argument of SiLU's exponential."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    for r in range(r0, r1):
        row, out = x2[r], e2[r]
        for c in range(C):
            out[c] = -((row[c] - mu[c]) * scale[c] + beta[c])


@njit(nogil=True, error_model="numpy")
def _silu_rows(x2, norm, one, r0, r1, s2, y2):
    """From ``s2`` = exp(-z): s = 1 / (1 + exp(-z)) in place, and y = z s (``one``: a 1 of the
    arrays' dtype, so that float32 stays float32). ``error_model="numpy"``: numba's default
    checks every division for a zero divisor (never the case here, 1 + e >= 1) and that exit
    kept the loop from vectorizing."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    for r in range(r0, r1):
        row, sr, out = x2[r], s2[r], y2[r]
        for c in range(C):
            s = one / (one + sr[c])
            sr[c] = s
            out[c] = ((row[c] - mu[c]) * scale[c] + beta[c]) * s


@njit(nogil=True)
def _grad_sums_rows(dy2, x2, norm, act, bounds, r0, r1, block, parts, totals):
    """totals[0] += sum g, totals[1] += sum g (x - mu) over rows r0..r1-1 (blocks of rows summed
    in ``parts`` (2, C) first, as in :func:`_stats_rows`)."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    zero, six = bounds[0], bounds[1]
    part, part_x = parts[0], parts[1]
    total, total_x = totals[0], totals[1]
    for b0 in range(r0, r1, block):
        for c in range(C):
            part[c] = 0
            part_x[c] = 0
        for r in range(b0, min(r1, b0 + block)):
            row, grow = x2[r], dy2[r]
            for c in range(C):
                xc = row[c] - mu[c]
                g = _gate(grow[c], xc * scale[c] + beta[c], act, zero, six)
                part[c] += g
                part_x[c] += g * xc
        for c in range(C):
            total[c] += part[c]
            total_x[c] += part_x[c]


@njit(nogil=True)
def _grad_sums_rows_silu(dy2, x2, s2, norm, one, r0, r1, block, parts, totals):
    """:func:`_grad_sums_rows` through SiLU: ``g = dy s (1 + z (1 - s))``, ``s`` read from ``s2``
    (its own loop: a SiLU branch inside the other made LLVM mask the loads on AVX2)."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    part, part_x = parts[0], parts[1]
    total, total_x = totals[0], totals[1]
    for b0 in range(r0, r1, block):
        for c in range(C):
            part[c] = 0
            part_x[c] = 0
        for r in range(b0, min(r1, b0 + block)):
            row, grow, srow = x2[r], dy2[r], s2[r]
            for c in range(C):
                xc = row[c] - mu[c]
                z, sc = xc * scale[c] + beta[c], srow[c]
                g = grow[c] * sc * (one + z * (one - sc))
                part[c] += g
                part_x[c] += g * xc
        for c in range(C):
            total[c] += part[c]
            total_x[c] += part_x[c]


@njit(nogil=True)
def _grad_apply_rows(dy2, x2, norm, coef, act, bounds, r0, r1, dx2):
    """dx = a g + b (x - mu) + c for rows r0..r1-1, ``coef`` (3, C) holding a, b, c."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    a, b, c_ = coef[0], coef[1], coef[2]
    zero, six = bounds[0], bounds[1]
    for r in range(r0, r1):
        row, grow, out = x2[r], dy2[r], dx2[r]
        for c in range(C):
            xc = row[c] - mu[c]
            g = _gate(grow[c], xc * scale[c] + beta[c], act, zero, six)
            out[c] = a[c] * g + b[c] * xc + c_[c]


@njit(nogil=True)
def _grad_apply_rows_silu(dy2, x2, s2, norm, coef, one, r0, r1, dx2):
    """:func:`_grad_apply_rows` through SiLU, ``s`` read from ``s2``."""
    C = x2.shape[1]
    mu, scale, beta = norm[0], norm[1], norm[2]
    a, b, c_ = coef[0], coef[1], coef[2]
    for r in range(r0, r1):
        row, grow, srow, out = x2[r], dy2[r], s2[r], dx2[r]
        for c in range(C):
            xc = row[c] - mu[c]
            z, sc = xc * scale[c] + beta[c], srow[c]
            g = grow[c] * sc * (one + z * (one - sc))
            out[c] = a[c] * g + b[c] * xc + c_[c]


def _row_shares(M: int, C: int) -> list:
    """The rows cut into one contiguous band per thread (one band for small arrays)."""
    n = threads() if M * C >= PARALLEL_SIZE // 4 else 1
    return [(M * i // n, M * (i + 1) // n) for i in range(n)]


def _per_channel(dtype, *vectors) -> np.ndarray:
    """The (C,) vectors stacked as rows of one (k, C) array of ``dtype`` (what the loops take)."""
    return np.array(vectors, dtype=dtype)                          # (k, C)


_BOUNDS = {}


def _bounds(dtype) -> np.ndarray:
    """``[0, 6]`` in ``dtype``: ReLU's and ReLU6's bounds, for the loops (made once per dtype)."""
    dtype = np.dtype(dtype)
    if dtype not in _BOUNDS:
        bounds = np.array([0, 6], dtype)
        bounds.flags.writeable = False
        _BOUNDS[dtype] = bounds
    return _BOUNDS[dtype]


def _on_threads(work, shares: list) -> list:
    """``run_on_threads(work, shares)``; a single share runs here directly (a batch norm of a
    small layer: a few microseconds of thread bookkeeping saved per pass, 50 batch norms a step)."""
    return [work(shares)] if len(shares) == 1 else run_on_threads(work, shares)


@register("batchnorm_stats", "numba", fastest=True)
def batchnorm_stats_numba(x2):
    """(mean, var) in float64 from one pass: shifted sums and sums of squares, per band of rows."""
    M, C = x2.shape
    first = x2[0].copy()

    def work(share):
        total, total_sq = np.zeros(C), np.zeros(C)
        part, part_sq = np.empty(C, dtype=x2.dtype), np.empty(C, dtype=x2.dtype)
        for r0, r1 in share:
            _stats_rows(x2, first, r0, r1, ROWS_PER_PARTIAL, part, part_sq, total, total_sq)
        return total, total_sq

    parts = _on_threads(work, _row_shares(M, C))
    s, s2 = add_up([p[0] for p in parts]) / M, add_up([p[1] for p in parts]) / M   # E[x - first], E[(x - first)^2]
    return first + s, np.maximum(s2 - s * s, 0.0)


@register("batchnorm_apply", "numba", fastest=True)
def batchnorm_apply_numba(x2, mu, scale, beta, act):
    """act((x - mu) scale + beta) in one pass."""
    y2 = np.empty_like(x2)
    norm, bounds, code = _per_channel(x2.dtype, mu, scale, beta), _bounds(x2.dtype), ACTIVATIONS[act]
    _on_threads(lambda share: [_apply_rows(x2, norm, code, bounds, r0, r1, y2) for r0, r1 in share],
                _row_shares(*x2.shape))
    return y2


@register("batchnorm_apply_silu", "numba", fastest=True)
def batchnorm_apply_silu_numba(x2, mu, scale, beta):
    """(z s, s): -z into s2 (compiled), exp in place (NumPy), s and y (compiled), band by band."""
    y2, s2 = np.empty_like(x2), np.empty_like(x2)
    norm, one = _per_channel(x2.dtype, mu, scale, beta), x2.dtype.type(1)

    def work(share):
        for r0, r1 in share:
            _neg_z_rows(x2, norm, r0, r1, s2)
            with np.errstate(over="ignore"):          # exp(-z) = inf far below 0: s = 0, exact
                np.exp(s2[r0:r1], out=s2[r0:r1])
            _silu_rows(x2, norm, one, r0, r1, s2, y2)

    _on_threads(work, _row_shares(*x2.shape))
    return y2, s2


@register("batchnorm_grad_sums", "numba", fastest=True)
def batchnorm_grad_sums_numba(dy2, x2, mu, scale, beta, act, s2=None):
    """(sum g, sum g (x - mu)) in float64 from one pass over dy and x (and s for SiLU)."""
    M, C = x2.shape
    norm, bounds, code = _per_channel(x2.dtype, mu, scale, beta), _bounds(x2.dtype), ACTIVATIONS[act]
    one = x2.dtype.type(1)

    def work(share):
        totals, parts = np.zeros((2, C)), np.empty((2, C), dtype=x2.dtype)
        for r0, r1 in share:
            if act == "silu":
                _grad_sums_rows_silu(dy2, x2, s2, norm, one, r0, r1, ROWS_PER_PARTIAL, parts, totals)
            else:
                _grad_sums_rows(dy2, x2, norm, code, bounds, r0, r1, ROWS_PER_PARTIAL, parts, totals)
        return totals

    totals = add_up(_on_threads(work, _row_shares(M, C)))
    return totals[0], totals[1]


@register("batchnorm_grad_apply", "numba", fastest=True)
def batchnorm_grad_apply_numba(dy2, x2, mu, scale, beta, a, b, c, act, s2=None):
    """dx = a g + b (x - mu) + c in one pass."""
    dx2 = np.empty_like(dy2)
    norm, coef = _per_channel(x2.dtype, mu, scale, beta), _per_channel(x2.dtype, a, b, c)   # (3, C) each
    bounds, code, one = _bounds(x2.dtype), ACTIVATIONS[act], x2.dtype.type(1)

    def work(share):
        for r0, r1 in share:
            if act == "silu":
                _grad_apply_rows_silu(dy2, x2, s2, norm, coef, one, r0, r1, dx2)
            else:
                _grad_apply_rows(dy2, x2, norm, coef, code, bounds, r0, r1, dx2)

    _on_threads(work, _row_shares(*x2.shape))
    return dx2
