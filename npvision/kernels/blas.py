"""Matrix products, and the threads that run them.

npvision runs every BLAS product on one OpenBLAS thread and does the
splitting across cores itself, with its own small pool of threads:

* OpenBLAS's idle worker threads spin (calling ``sched_yield``) for about a
  tenth of a second after each multi-threaded product. On a 2-core machine
  that spinner takes a core from whatever runs next: measured, a Winograd
  convolution whose two threads each pack tiles and multiply them took
  3.7 ms on its own and 5.3-6.9 ms right after one two-thread product.
  npvision's workers (:mod:`.workers`) spin for 5 ms after a share, then nap;
  they are the threads that run npvision's next share anyway.
* Small products are not worth a second thread at all: LeNet-5's
  ``(32, 400) @ (400, 120)`` (1.5 M multiply-adds) took 36 us on one thread
  and 1,240 us on two when another process was busy.

So :func:`matmul` runs a product under :data:`SMALL_MACS` multiply-adds on the
calling thread, and cuts a larger one into bands of rows of ``a`` or of columns
of ``b``, whichever operand is larger, one band per thread. Kernels that pack and multiply
block by block (im2col, Winograd tiles) hand their blocks to
:func:`run_on_threads`, so each core packs a block into its own cache and
multiplies it there. Measured on 2 cores, a split product runs as fast as
OpenBLAS's own two threads (``(32768, 576) @ (576, 64)``: 16.5 ms both ways).
The pool itself, and why its threads wait without the GIL, is :mod:`.workers`.

The number of threads is the number OpenBLAS was started with
(``OPENBLAS_NUM_THREADS`` and friends still set it). OpenBLAS is found with
``threadpoolctl`` on first use, set to one thread for npvision's products
and set back after each, so products of the user's own NumPy code keep
OpenBLAS's threading. If no BLAS library can be controlled, npvision runs
everything on the calling thread.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from ._jit import _jit_disabled

__all__ = ["matmul", "one_blas_thread", "add_up", "channel_sums", "threads", "run_on_threads", "over_batch",
           "scratch", "SMALL_MACS"]

#: products with fewer multiply-adds (M K N) run on the calling thread alone: handing a
#: band to a sleeping thread cost about 0.1 ms here (waking an idle core), the time of a
#: 30 M multiply-add product on one core. (With the spinning workers a hand-off costs
#: 10-20 us, but a quarter of this and of the other thresholds made no training step of
#: the four benchmark models faster: kernels_issue19.md section 10.)
SMALL_MACS = 32_000_000

_controllers = None      # BLAS controllers from threadpoolctl, found on first use
_max_threads = 1         # threads OpenBLAS was started with: also the size of npvision's pool
_local = threading.local()   # .held: OpenBLAS is held at one thread; .in_share: running a share
_pool = None             # npvision's worker threads (threads() - 1 of them), started on first use
_pool_lock = threading.Lock()


def _find_controllers():
    global _controllers, _max_threads
    try:
        from threadpoolctl import ThreadpoolController

        found = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    except Exception:  # pragma: no cover - threadpoolctl missing or unable to read the library
        found = []
    _controllers = found
    _max_threads = max([c.num_threads for c in found], default=1)


def threads() -> int:
    """How many threads npvision splits its work across (OpenBLAS's thread count at start-up)."""
    if _controllers is None:
        _find_controllers()
    return _max_threads


@contextlib.contextmanager
def one_blas_thread():
    """OpenBLAS on one thread for the block, then back to its own count (nested blocks: the outer one).

    Every NumPy product npvision makes runs inside one: a single product on OpenBLAS's
    own threads leaves OpenBLAS's worker spinning for about 0.1 s afterwards, taking a
    core from everything npvision runs next (kernels_issue19.md section 10: one such
    product per MobileNet v2 step kept a core busy for the whole step)."""
    if getattr(_local, "held", False):
        yield
        return
    if _controllers is None:
        _find_controllers()
    _local.held = True
    for c in _controllers:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c in _controllers:
            c.set_num_threads(_max_threads)
        _local.held = False


def _run_share(work, share):
    """Run one share of :func:`run_on_threads` on this thread (the caller's or a pool thread)."""
    held, in_share = getattr(_local, "held", False), getattr(_local, "in_share", False)
    _local.held = _local.in_share = True          # OpenBLAS is held by the caller; never split again
    try:
        return work(share)
    finally:
        _local.held, _local.in_share = held, in_share


def _split_here() -> int:
    """How many threads to split work across from this thread (1 inside a share)."""
    return 1 if getattr(_local, "in_share", False) else threads()


def _bands(length: int, n: int) -> list:
    """``n`` contiguous slices of ``range(length)``, of nearly equal size."""
    return [slice(length * i // n, length * (i + 1) // n) for i in range(n)]


def _start_pool(n: int) -> None:
    """Make sure npvision's pool has ``n`` worker threads (started on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            if _jit_disabled():                                  # no compiled waiting loops
                _pool = _SleepingWorkers()
            else:
                from .workers import Workers                     # imports numba: only when first needed

                _pool = Workers(n)
        _pool.ensure(n)


class _SleepingWorkers:
    """The pool under ``NUMBA_DISABLE_JIT=1``: Python threads that sleep on a queue between
    shares (slow to wake, see :mod:`.workers`, but stepping through a kernel does not care)."""

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self.busy = threading.Lock()
        self.threads = []
        self.executor = ThreadPoolExecutor(max_workers=_MAX_SLEEPING, thread_name_prefix="npvision")

    def ensure(self, n: int) -> None:
        """(The executor starts its threads as shares come; ``threads`` only counts them.)"""
        self.threads = [None] * max(n, len(self.threads))

    def run(self, work, shares: list) -> list:
        from concurrent.futures import wait

        futures = [self.executor.submit(work, share) for share in shares[1:]]
        try:
            first = work(shares[0])
        finally:
            wait(futures)                                        # every share, even on error
        return [first] + [f.result() for f in futures]


_MAX_SLEEPING = 64


def _forget_pool() -> None:
    """In a forked child: the parent's worker threads do not exist here; start afresh."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_on_threads(work, items: list, split: bool = True) -> list:
    """``[work(share) for share in shares]``: ``items`` cut into one contiguous share per thread.

    The calling thread runs the first share, the pool's threads the others,
    in parallel; OpenBLAS runs at one thread meanwhile. ``work`` must release
    the GIL for its heavy parts (NumPy products and copies, ``nogil`` numba
    kernels do) and must not start numba's parallel loops (numba's workqueue
    is not safe to enter from two threads at once). Called from inside a
    share (or with one thread, one item, or ``split=False``), ``work`` runs
    here on all items, OpenBLAS still held at one thread (:func:`one_blas_thread`).
    """
    if _controllers is None:
        _find_controllers()
    n = min(1 if getattr(_local, "in_share", False) or not split else _max_threads, len(items))
    with one_blas_thread():
        if n <= 1:
            return [work(items)]
        if _pool is None or len(_pool.threads) < n - 1:
            _start_pool(n - 1)
        if not _pool.busy.acquire(blocking=False):             # another thread of the user's has it
            return [_run_share(work, items)]
        try:
            return _pool.run(lambda share: _run_share(work, share), [items[s] for s in _bands(len(items), n)])
        finally:
            _pool.busy.release()


#: batch kernels (:func:`over_batch`) whose input has fewer numbers than this run on the calling thread.
PARALLEL_SIZE = 1 << 20


def over_batch(N: int, size: int, run) -> None:
    """``run(images)`` for contiguous slices ``images`` of a batch of N images, one per thread.

    For compiled loops that work image by image (pooling, depthwise convolution):
    images never share an output element, so the slices never write the same
    one. Inputs of fewer than :data:`PARALLEL_SIZE` numbers run on the calling
    thread. numba's own parallel loops (``prange``) cost more to start here
    (0.1-0.25 ms on its workqueue layer) than a 2x2 max-pool takes.
    """
    n = min(N, _split_here()) if size >= PARALLEL_SIZE else 1     # size >= 1 here means N >= 1
    run_on_threads(lambda share: [run(images) for images in share], _bands(N, n))


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-D ``a`` (M, K) and ``b`` (K, N): one band of the larger operand per thread
    (rows of ``a`` if M >= N, else columns of ``b``)."""
    M, K = a.shape
    N = b.shape[1]
    n = _split_here()
    with one_blas_thread():
        if M * K * N < SMALL_MACS or n <= 1:
            return np.matmul(a, b, out=out)
        if out is None:
            out = np.empty((M, N), dtype=np.result_type(a, b))
        # each thread reads (and BLAS packs) its band of one operand and the whole other one: cut
        # the larger one. Measured on 2 cores: (64, 512) @ (512, 4608) 2.4 ms by rows, 1.7 ms by
        # columns (each thread packed all 9 MiB of b for 32 rows); (4608, 64) @ (64, 512) 1.4 ms by
        # rows, 1.8 ms by columns.
        if M >= N:                                               # bands of rows of a
            run_on_threads(lambda share: [np.matmul(a[s], b, out=out[s]) for s in share], _bands(M, n))
        else:                                                    # bands of columns of b
            run_on_threads(lambda share: [np.matmul(a, b[:, s], out=out[:, s]) for s in share], _bands(N, n))
    return out


def add_up(parts: list) -> np.ndarray:
    """The sum of the threads' partial results (arrays of one shape), added into the first.

    The parts are each thread's own temporaries, so the first one can take the sum. (Python's
    ``sum(parts)`` would start from ``0 + parts[0]``: a copy of the first part even when there
    is only one, as there is whenever a pass runs on one thread.)"""
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def scratch(name: str, size: int, dtype) -> np.ndarray:
    """``size`` numbers of ``dtype`` (1-D, contents undefined) from this thread's buffer ``name``.

    Kernels that work block by block reuse their workspaces from call to call
    instead of allocating them afresh: a fresh allocation of a few MiB is
    page-faulted in on every call (measured about 2x slower to fill than a
    reused one), and counts towards the peak memory of every layer. The
    buffer only grows (to the largest size asked for under ``name`` on this
    thread); one caller at a time per name and thread, so each kernel uses
    names of its own.
    """
    buffers = getattr(_local, "scratch", None)
    if buffers is None:
        buffers = _local.scratch = {}
    dtype = np.dtype(dtype)
    nbytes = size * dtype.itemsize
    buf = buffers.get(name)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[name] = np.empty(max(nbytes, 64), dtype=np.uint8)
    return buf[:nbytes].view(dtype)


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
