"""Elementwise kernels of the training step: activation gradients and the SGD update.

Each is one line of NumPy (the ``naive`` and ``numpy`` backends, written as the formula) that NumPy runs
as several passes over memory with a temporary array per term; the ``numba`` backend makes
it one pass, in place where the formula allows, the array cut into one band per thread.
The arrays are flat (any C-contiguous array, ``reshape(-1)``) and of one float dtype.

===========================================  ==================================================
op                                           formula
===========================================  ==================================================
``relu_backward(dout, x)``                   ``dx = dout`` where ``x > 0``, else 0 (also for a
                                             NaN or infinite ``dout``, as PyTorch's)
``relu6_backward(dout, x)``                  ``dx = dout`` where ``0 < x < 6``, else 0
``silu_backward(dout, x, s)``                ``dx = dout s (1 + x (1 - s))``, ``s = sigmoid(x)``
``sgd_momentum_(w, v, g, lr, momentum)``     ``v <- momentum v + g;  w <- w - lr v`` (in place)
``sgd_momentum_many_(triples, lr, momentum)``  the same for every ``(w, v, g)`` of a list: one
                                             call for a whole model (multi-tensor)
``channel_scale_backward(dy, x, g)``         ``y = x g`` with ``x, y (N, H, W, C)``, ``g (N, C)``:
                                             ``dx = dy g``, ``dg = sum_{h,w} dy x`` (one pass)
===========================================  ==================================================

The selects (``dout if x > 0 else 0``) store on every element, so the loops vectorize on
AVX2 as on AVX-512 (``benchmarks/vector_report.py``).
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit
from .blas import PARALLEL_SIZE, over_batch, run_on_threads, threads

__all__: list[str] = []


def _bands(size: int) -> list:
    """[start, stop) of one contiguous band per thread (one band for small arrays)."""
    n = threads() if size >= PARALLEL_SIZE else 1
    return [(size * i // n, size * (i + 1) // n) for i in range(n)]


def _on_threads(work, shares: list) -> list:
    """``run_on_threads(work, shares)``; a single share runs here directly (a few microseconds of
    thread bookkeeping saved on each small array)."""
    return [work(shares)] if len(shares) == 1 else run_on_threads(work, shares)


def _flat(a: np.ndarray) -> np.ndarray:
    """A C-contiguous array seen as 1-D, without copying."""
    assert a.flags.c_contiguous, "elementwise kernels take C-contiguous arrays"
    return a.reshape(-1)


# ---------------------------------------------------------------------------
# naive: the formulas
# ---------------------------------------------------------------------------

@register("relu_backward", "naive")
@register("relu_backward", "numpy")
def relu_backward_naive(dout, x):
    return np.where(x > 0, dout, dout.dtype.type(0))


@register("relu6_backward", "naive")
@register("relu6_backward", "numpy")
def relu6_backward_naive(dout, x):
    return np.where((x > 0) & (x < 6), dout, dout.dtype.type(0))


@register("silu_backward", "naive")
@register("silu_backward", "numpy")
def silu_backward_naive(dout, x, s):
    return dout * s * (1 + x * (1 - s))


@register("sgd_momentum_", "naive")
@register("sgd_momentum_", "numpy")
def sgd_momentum_naive(w, v, g, lr, momentum):
    v *= momentum
    v += g
    w -= lr * v


@register("channel_scale_backward", "naive")
@register("channel_scale_backward", "numpy")
def channel_scale_backward_naive(dy, x, g):
    """(dy g, sum over the image of dy x): ``(N, H, W, C)`` and ``(N, C)``."""
    return dy * g[:, None, None, :], np.sum(dy * x, axis=(1, 2))


@register("sgd_momentum_many_", "naive")
@register("sgd_momentum_many_", "numpy")
def sgd_momentum_many_naive(triples, lr, momentum):
    for w, v, g in triples:
        sgd_momentum_naive(w, v, g, lr, momentum)


# ---------------------------------------------------------------------------
# numba: one pass each
# ---------------------------------------------------------------------------

# Each loop runs over a band's own slices, from index 0: an index that starts at a run-time
# value might be negative for all numba knows, and its wrap-around test made the compiler
# gather and scatter element by element.

@njit(nogil=True)
def _relu_band(dout, x, zero, dx):
    """dx = dout where x > 0, else 0 (``zero``: a 0 of the arrays' dtype)."""
    for i in range(dx.size):
        d = dout[i]
        dx[i] = d if x[i] > zero else zero


@njit(nogil=True)
def _relu6_band(dout, x, zero, six, dx):
    """dx = dout where 0 < x < 6, else 0."""
    for i in range(dx.size):
        xi, d = x[i], dout[i]
        dx[i] = d if (xi > zero) & (xi < six) else zero


@njit(nogil=True)
def _silu_band(dout, x, s, dx):
    """dx = dout s (1 + x (1 - s))."""
    for i in range(dx.size):
        si = s[i]
        dx[i] = dout[i] * si * (1 + x[i] * (1 - si))


@njit(nogil=True)
def _sgd_band(w, v, g, lr, momentum):
    """v <- momentum v + g; w <- w - lr v, in place."""
    for i in range(w.size):
        vi = momentum * v[i] + g[i]
        v[i] = vi
        w[i] -= lr * vi


@register("relu_backward", "numba", fastest=True)
def relu_backward_numba(dout, x):
    dx = np.empty_like(dout)
    d, xf, out, zero = _flat(dout), _flat(x), _flat(dx), x.dtype.type(0)
    _on_threads(lambda share: [_relu_band(d[i0:i1], xf[i0:i1], zero, out[i0:i1]) for i0, i1 in share],
                   _bands(d.size))
    return dx


@register("relu6_backward", "numba", fastest=True)
def relu6_backward_numba(dout, x):
    dx = np.empty_like(dout)
    d, xf, out, zero, six = _flat(dout), _flat(x), _flat(dx), x.dtype.type(0), x.dtype.type(6)
    _on_threads(lambda share: [_relu6_band(d[i0:i1], xf[i0:i1], zero, six, out[i0:i1]) for i0, i1 in share],
                   _bands(d.size))
    return dx


@register("silu_backward", "numba", fastest=True)
def silu_backward_numba(dout, x, s):
    dx = np.empty_like(dout)
    d, xf, sf, out = _flat(dout), _flat(x), _flat(s), _flat(dx)
    _on_threads(lambda share: [_silu_band(d[i0:i1], xf[i0:i1], sf[i0:i1], out[i0:i1]) for i0, i1 in share],
                   _bands(d.size))
    return dx


@register("sgd_momentum_", "numba", fastest=True)
def sgd_momentum_numba(w, v, g, lr, momentum):
    wf, vf, gf = _flat(w), _flat(v), _flat(g)
    lr, momentum = w.dtype.type(lr), w.dtype.type(momentum)
    _on_threads(lambda share: [_sgd_band(wf[i0:i1], vf[i0:i1], gf[i0:i1], lr, momentum) for i0, i1 in share],
                   _bands(wf.size))


#: pieces of at most this many numbers: a large parameter is cut so the threads' shares balance
PIECE = 1 << 16


@register("sgd_momentum_many_", "numba", fastest=True)
def sgd_momentum_many_numba(triples, lr, momentum):
    """Every parameter of a model in one call: the arrays cut into pieces of at most
    :data:`PIECE` numbers, the pieces dealt into one share per thread of nearly equal size
    (about 0.1 ms of Python per parameter saved against one threaded call each: EfficientNet-B0
    has 213 parameters, most of them batch norms' short vectors)."""
    pieces, total = [], 0
    for w, v, g in triples:
        wf, vf, gf = _flat(w), _flat(v), _flat(g)
        lr_, m_ = w.dtype.type(lr), w.dtype.type(momentum)
        for i0 in range(0, wf.size, PIECE):
            i1 = min(wf.size, i0 + PIECE)
            pieces.append((wf[i0:i1], vf[i0:i1], gf[i0:i1], lr_, m_))
            total += i1 - i0
    n = threads() if total >= PARALLEL_SIZE else 1
    shares, done = [[] for _ in range(n)], 0
    for piece in pieces:                          # contiguous runs of pieces, by the numbers before them
        shares[min(n - 1, done * n // max(total, 1))].append(piece)
        done += piece[0].size

    def work(items):
        for share in items:
            for wf, vf, gf, lr_, m_ in share:
                _sgd_band(wf, vf, gf, lr_, m_)

    _on_threads(work, shares)


#: rows (pixels) per partial sum of ``dy x``: summed in the arrays' dtype, then added in float64
ROWS_PER_PARTIAL = 256


@njit(nogil=True)
def _channel_scale_bwd(dy, x, g, block, part, total, dx, dg):
    """For each image n: dx = dy g[n] and dg[n] = sum of dy x over its pixels (blocks of pixels
    summed in ``part`` in the arrays' dtype, then into the float64 ``total``); ``dy``, ``x``,
    ``dx`` as (N, H W, C)."""
    n_b, n_p, n_c = dy.shape
    for n in range(n_b):
        gn = g[n]
        for c in range(n_c):
            total[c] = 0.0
        for p0 in range(0, n_p, block):
            for c in range(n_c):
                part[c] = 0
            for p in range(p0, min(n_p, p0 + block)):
                d, xr, out = dy[n, p], x[n, p], dx[n, p]
                for c in range(n_c):
                    out[c] = d[c] * gn[c]
                    part[c] += d[c] * xr[c]
            for c in range(n_c):
                total[c] += part[c]
        for c in range(n_c):
            dg[n, c] = total[c]


@register("channel_scale_backward", "numba", fastest=True)
def channel_scale_backward_numba(dy, x, g):
    """dx and dg in one pass over dy and x, the batch shared out among the threads."""
    n, h, w, c = dy.shape
    dy3, x3 = dy.reshape(n, h * w, c), x.reshape(n, h * w, c)          # (N, H W, C)
    dx, dg = np.empty_like(dy), np.empty((n, c), dtype=dy.dtype)
    dx3, g = dx.reshape(n, h * w, c), np.ascontiguousarray(g, dtype=dy.dtype)

    def run(s):
        part, total = np.empty(c, dtype=dy.dtype), np.empty(c)
        _channel_scale_bwd(dy3[s], x3[s], g[s], ROWS_PER_PARTIAL, part, total, dx3[s], dg[s])

    over_batch(n, dy.size, run)
    return dx, dg
