"""Matrix products with a thread count that fits their size.

OpenBLAS splits every product across all its threads. For the small products
of a small network (LeNet-5's ``(32, 400) @ (400, 120)``: 1.5 M multiply-adds)
waking the second thread costs far more than the product: measured on this
project's 2-core machine, 36 us on one thread against 1,240 us on two when
another process is busy, which made a LeNet-5 epoch eight times slower. Large
products (a convolution's im2col block, hundreds of millions of multiply-adds)
do gain from every core.

So each product here runs on one BLAS thread below :data:`SMALL_MACS`
multiply-adds and on the configured number above it (the number OpenBLAS
started with, which ``OPENBLAS_NUM_THREADS`` and friends still set).
Switching is a C call of well under a microsecond. The BLAS library is found
with ``threadpoolctl``, on first use; if none can be controlled, products run
as plain ``np.matmul``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["matmul", "channel_sums", "SMALL_MACS"]

#: products with fewer multiply-adds (M K N) run on one BLAS thread.
SMALL_MACS = 4_000_000

_controllers = None      # BLAS controllers from threadpoolctl, found on first use
_max_threads = 1
_current = None


def _find_controllers():
    global _controllers, _max_threads
    try:
        from threadpoolctl import ThreadpoolController

        found = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    except Exception:  # pragma: no cover - threadpoolctl missing or unable to read the library
        found = []
    _controllers = found
    _max_threads = max([c.num_threads for c in found], default=1)


def _set_threads(n: int) -> None:
    global _current
    if n != _current:
        for c in _controllers:
            c.set_num_threads(n)
        _current = n


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D ``a`` (M, K) and ``b`` (K, N), on as many BLAS threads as pay off."""
    if _controllers is None:
        _find_controllers()
    if _controllers:
        macs = a.shape[0] * a.shape[1] * b.shape[1]
        _set_threads(1 if macs < SMALL_MACS else _max_threads)
    return np.matmul(a, b, out=out)


def channel_sums(a: np.ndarray) -> np.ndarray:
    """Sum over every axis but the last: ``(N, H, W, C)`` -> ``(C,)`` (a bias gradient).

    Computed as ``ones (1, M) @ a.reshape(M, C)``, one BLAS matrix-vector
    product: measured 3-13x faster than ``a.sum(axis=(0, 1, 2))`` on
    channels-last activations (NumPy reduces the leading axes of a short last
    axis slowly) and more accurate (BLAS accumulates in blocks, not one
    running float32 sum).
    """
    a2 = np.ascontiguousarray(a).reshape(-1, a.shape[-1])                 # (M, C)
    ones = np.ones((1, a2.shape[0]), dtype=a2.dtype)                       # (1, M)
    return matmul(ones, a2).reshape(a.shape[-1])                           # (C,)
