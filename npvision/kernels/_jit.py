"""Lazy numba compilation.

``@njit`` here is numba's ``njit(cache=True)``, deferred: importing a kernel
module neither imports numba (about a quarter of a second) nor compiles
anything. The first call compiles the function (or loads it from numba's
on-disk cache) and replaces the wrapper with numba's dispatcher.

A jitted function may call other ``@njit`` functions of this module family:
before compiling, the wrapper compiles the lazy functions its code names and
puts their dispatchers into its globals, where numba looks for them.

With ``NUMBA_DISABLE_JIT=1`` numba hands back the plain Python function, so a
student can step into any kernel with a debugger.

Threading: parallel loops run on numba's OpenMP layer when it loads (else
its ``workqueue`` layer). OpenMP starts a parallel loop in about 2-4 us, the
workqueue layer in 30-140 us, which is a third of a small depthwise or pooling
kernel. But GNU OpenMP's threads spin after each loop by default, and on a
2-core machine that slows the next OpenBLAS product by half or more; so
npvision starts the OpenMP threads with ``OMP_WAIT_POLICY=passive`` (they
sleep at once) and removes the variable again, so that libraries loaded later
(PyTorch brings its own OpenMP) see the user's environment. A choice the user
made (``NUMBA_THREADING_LAYER``, ``NUMBA_THREADING_LAYER_PRIORITY``,
``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) is left alone.
"""

from __future__ import annotations

import functools
import os
import threading

_lock = threading.RLock()
_numba = None


def _import_numba():
    global _numba
    if _numba is None:
        import numba

        if not any(v in os.environ for v in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")):
            numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
        _start_threads(numba)
        _numba = numba
    return _numba


def _start_threads(numba):
    """Start numba's thread pool now, with OpenMP's threads told to sleep, not spin, between loops."""
    polite = not any(v in os.environ for v in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    if polite:
        os.environ["OMP_WAIT_POLICY"] = "passive"        # read once, when OpenMP loads
    try:
        from numba.np.ufunc.parallel import _launch_threads

        _launch_threads()
    except Exception:  # noqa: BLE001 - numba then starts its threads at the first parallel loop
        pass
    finally:
        if polite:
            del os.environ["OMP_WAIT_POLICY"]


class LazyJit:
    """A function that becomes ``numba.njit(cache=True, **options)(py_func)`` on first call."""

    def __init__(self, py_func, options):
        self.py_func = py_func
        self.options = options
        self._dispatcher = None
        functools.update_wrapper(self, py_func)

    def compile(self):
        """Compile now (or load from numba's cache) and return the dispatcher."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    numba = _import_numba()
                    g = self.py_func.__globals__
                    for name in self.py_func.__code__.co_names:
                        dep = g.get(name)
                        if isinstance(dep, LazyJit):
                            g[name] = dep.compile()
                        elif dep is prange:
                            g[name] = numba.prange
                    self._dispatcher = numba.njit(cache=True, **self.options)(self.py_func)
        return self._dispatcher

    def __call__(self, *args):
        d = self._dispatcher
        if d is None:
            d = self.compile()
        return d(*args)


def njit(fn=None, **options):
    """``@njit`` or ``@njit(parallel=True, fastmath=False, ...)``: lazy ``numba.njit(cache=True)``."""
    if fn is None:
        return lambda f: LazyJit(f, options)
    return LazyJit(fn, options)


def prange(*args):
    """``numba.prange`` inside compiled code; ``range`` when read as Python."""
    return range(*args)
