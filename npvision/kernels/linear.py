"""Products of a fully connected layer with few rows (a small batch): one pass over the weight.

A Linear layer's three products, for ``x (M, K)``, ``w (K, N)`` and ``dout (M, N)``::

    out  = x @ w            (M, N)       forward
    dx   = dout @ w^T       (M, K)       input gradient
    grad += x^T @ dout      (K, N)       weight gradient, accumulated into the parameter's

With a batch of 4 (VGG-16's classifier in the benchmark) the weight matrix is the whole cost:
64 MiB for 4096 x 4096, read for a few multiply-adds per number. BLAS first copies (packs)
the matrix in panels, then multiplies: three passes over it where one suffices, and the
weight gradient comes back as a new 64 MiB array that ``grad +=`` reads once more. The
``numba`` kernels here stream the weight (and the gradient) once, row by row:

* ``out[m, :] += x[m, k] * w[k, :]`` for every row ``k`` of ``w``, the ``M`` output rows kept
  in cache (a block of columns at a time);
* ``dx[m, k] = sum_n dout[m, n] w[k, n]``: M dot products per row of ``w``;
* ``grad[k, :] += sum_m x[m, k] dout[m, :]``: each row of ``grad`` read and written once.

For more rows than :data:`SKINNY_ROWS`, BLAS's own product is faster and is used (``numpy``
and ``naive`` backends: always). Ops: ``linear_matmul(x, w)``, ``linear_matmul_t(dout, w)``,
``linear_outer_add_(grad, x, dout, overwrite=False)`` (in place; ``overwrite``: ``grad = x^T dout``,
for a gradient that was zero, so that its old numbers are never read).
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit
from .blas import matmul, run_on_threads, threads

__all__ = ["SKINNY_ROWS"]

#: products with at most this many rows (batch size) stream the weight in the numba kernels
SKINNY_ROWS = 16

#: columns of the output kept in cache at a time by the forward kernel
COLUMN_BLOCK = 512

#: smaller weights (K N numbers) go to BLAS: nothing to gain from one pass over a matrix in cache
SKINNY_MIN_SIZE = 1 << 18


# ---------------------------------------------------------------------------
# naive and numpy: BLAS
# ---------------------------------------------------------------------------

@register("linear_matmul", "naive")
@register("linear_matmul", "numpy")
def linear_matmul_blas(x, w):
    """x @ w."""
    return matmul(x, w)


@register("linear_matmul_t", "naive")
@register("linear_matmul_t", "numpy")
def linear_matmul_t_blas(dout, w):
    """dout @ w^T."""
    return matmul(dout, w.T)


@register("linear_outer_add_", "naive")
@register("linear_outer_add_", "numpy")
def linear_outer_add_blas(grad, x, dout, overwrite=False):
    """grad += x^T @ dout (``overwrite``: grad = x^T @ dout)."""
    if overwrite:
        grad[...] = matmul(x.T, dout)
    else:
        grad += matmul(x.T, dout)


# ---------------------------------------------------------------------------
# numba: the weight streamed once
# ---------------------------------------------------------------------------

# Rows of the other operands are read with two indices (``dout[m, j]``), not as row views
# made inside the loops: each view made there cost a pair of reference-count calls.

@njit(nogil=True, fastmath={"contract"})
def _rows_times_matrix(x, w, j0, j1, acc, out):
    """out[:, j0:j1] = x (M, K) @ w[:, j0:j1]: each row of w read once, added into the M rows of
    ``acc`` (M, >= j1 - j0), which stay in cache."""
    M, K = x.shape
    n = j1 - j0
    for m in range(M):
        for j in range(n):
            acc[m, j] = 0
    for k in range(K):
        wk = w[k][j0:j1]
        for m in range(M):
            a = x[m, k]
            for j in range(n):
                acc[m, j] += a * wk[j]
    for m in range(M):
        o = out[m][j0:j1]
        for j in range(n):
            o[j] = acc[m, j]


@njit(nogil=True, fastmath={"contract", "reassoc"})
def _rows_times_matrix_t(dout, w, k0, k1, zero, dx):
    """dx[:, k0:k1] = dout (M, N) @ w[k0:k1]^T: M dot products per row of w (sums reassociated, so
    that they run as vector sums)."""
    M = dout.shape[0]
    for k in range(k0, k1):
        wk = w[k]
        for m in range(M):
            s = zero
            for j in range(wk.size):
                s += dout[m, j] * wk[j]
            dx[m, k] = s


@njit(nogil=True, fastmath={"contract"})
def _outer_add(grad, x, dout, k0, k1, overwrite):
    """grad[k0:k1] += x[:, k0:k1]^T @ dout (M, N): each row of grad read and written once
    (``overwrite``: the row zeroed first, in cache, so its old numbers are never read)."""
    M = x.shape[0]
    for k in range(k0, k1):
        g = grad[k]
        if overwrite:
            for j in range(g.size):
                g[j] = 0
        for m in range(M):
            a = x[m, k]
            for j in range(g.size):
                g[j] += a * dout[m, j]


def _skinny(a: np.ndarray, w: np.ndarray) -> bool:
    return (a.shape[0] <= SKINNY_ROWS and w.size >= SKINNY_MIN_SIZE and a.dtype == w.dtype
            and a.dtype in (np.float32, np.float64))


def _bands(length: int) -> list:
    n = threads()
    return [(length * i // n, length * (i + 1) // n) for i in range(n)]


@register("linear_matmul", "numba", fastest=True)
def linear_matmul_numba(x, w):
    """x @ w; a small batch streams ``w`` once (the threads take bands of its columns)."""
    if not _skinny(x, w):
        return matmul(x, w)
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    out = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
    blocks = [(j, min(w.shape[1], j + COLUMN_BLOCK)) for j in range(0, w.shape[1], COLUMN_BLOCK)]

    def work(share):
        acc = np.empty((x.shape[0], COLUMN_BLOCK), dtype=x.dtype)
        for j0, j1 in share:
            _rows_times_matrix(x, w, j0, j1, acc, out)

    run_on_threads(work, blocks)
    return out


@register("linear_matmul_t", "numba", fastest=True)
def linear_matmul_t_numba(dout, w):
    """dout @ w^T; a small batch streams ``w`` once (the threads take bands of its rows)."""
    if not _skinny(dout, w):
        return matmul(dout, w.T)
    dout, w = np.ascontiguousarray(dout), np.ascontiguousarray(w)
    dx = np.empty((dout.shape[0], w.shape[0]), dtype=dout.dtype)
    zero = dout.dtype.type(0)
    run_on_threads(lambda share: [_rows_times_matrix_t(dout, w, k0, k1, zero, dx) for k0, k1 in share],
                   _bands(w.shape[0]))
    return dx


@register("linear_outer_add_", "numba", fastest=True)
def linear_outer_add_numba(grad, x, dout, overwrite=False):
    """grad += x^T @ dout; a small batch reads and writes ``grad`` once (bands of its rows per thread)."""
    if not (_skinny(x, grad) and grad.flags.c_contiguous and grad.dtype == dout.dtype):
        linear_outer_add_blas(grad, x, dout, overwrite)
        return
    x, dout = np.ascontiguousarray(x), np.ascontiguousarray(dout)
    run_on_threads(lambda share: [_outer_add(grad, x, dout, k0, k1, overwrite) for k0, k1 in share],
                   _bands(grad.shape[0]))
