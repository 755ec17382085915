"""Lazy numba compilation.

``@njit`` here is numba's ``njit(cache=True)``, deferred: importing a kernel
module neither imports numba (about a quarter of a second) nor compiles
anything. The first call compiles the function (or loads it from numba's
on-disk cache) and replaces the wrapper with numba's dispatcher.

A jitted function may call other ``@njit`` functions of this module family:
before compiling, the wrapper compiles the lazy functions its code names and
puts their dispatchers into its globals, where numba looks for them.

With ``NUMBA_DISABLE_JIT=1`` ``njit`` returns the plain Python function itself (no
wrapper, numba is not imported), so a student can step into any kernel with a debugger.

Threading. npvision's own kernels are serial ``nogil`` loops that
:mod:`npvision.kernels.blas` runs on npvision's threads, a block or a share of
the batch each; none of them uses numba's parallel loops any more. ``prange``
still works here for code of your own, on numba's ``workqueue`` layer unless
you pick one with ``NUMBA_THREADING_LAYER``. Measured on a 2-core VM:

* workqueue starts a parallel loop in 30-140 us, and 0.1-0.25 ms when its
  threads have gone to sleep: as long as a 2x2 max-pool takes, which is why
  the kernels left ``prange``.
* OpenMP starts one in 2-4 us, but GNU OpenMP's threads spin after each loop,
  and on 2 cores that slows whatever runs next (a conv stem ran at 8 ms
  instead of 1 ms). ``OMP_WAIT_POLICY=passive`` stops the spinning for the
  whole process, and PyTorch, which ships the same ``libgomp.so.1``, then ran
  its small convolutions 3x slower.

So npvision does not choose OpenMP for you. A process that never loads
PyTorch can set ``NUMBA_THREADING_LAYER=omp OMP_WAIT_POLICY=passive`` before
starting.

Where compiled kernels are cached. numba's default puts its cache files in a
``__pycache__`` folder beside the source, that is inside the installed
package. A package folder that holds files pip did not install outlives an
uninstall, and a reinstall in editable mode then finds an empty
``site-packages/npvision/`` that shadows the real one (``cannot import name
'__version__'``). So, unless ``NUMBA_CACHE_DIR`` is set, npvision points numba
at a per-user cache folder (:func:`cache_dir`): ``$XDG_CACHE_HOME/npvision/numba``,
by default ``~/.cache/npvision/numba`` (``%LOCALAPPDATA%\\npvision\\numba`` on
Windows, ``~/Library/Caches/npvision/numba`` on macOS). numba keeps one cache
per source path inside it, so two copies of npvision never share entries.
Since numba has one cache setting per process, other numba code in the same
process caches there too; set ``NUMBA_CACHE_DIR`` to choose another place.
"""

from __future__ import annotations

import functools
import os
import sys
import threading

_lock = threading.RLock()
_numba = None


def cache_dir() -> str:
    """The folder where numba caches npvision's compiled kernels (see the module docstring)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "npvision", "numba")


def _import_numba():
    global _numba
    if _numba is None:
        import numba

        if "NUMBA_THREADING_LAYER" not in os.environ:
            numba.config.THREADING_LAYER = "workqueue"
        if not os.environ.get("NUMBA_CACHE_DIR"):
            numba.config.CACHE_DIR = cache_dir()       # never inside the installed package
        _numba = numba
    return _numba


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


def _jit_disabled() -> bool:
    """``NUMBA_DISABLE_JIT`` set to a true value: numba would hand back the plain function."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0")


def njit(fn=None, **options):
    """``@njit`` or ``@njit(parallel=True, fastmath=False, ...)``: lazy ``numba.njit(cache=True)``.

    With ``NUMBA_DISABLE_JIT=1`` the function itself is returned, untouched: a debugger's
    "step into" goes straight into the kernel's loops."""
    if _jit_disabled():
        return (lambda f: f) if fn is None else fn
    if fn is None:
        return lambda f: LazyJit(f, options)
    return LazyJit(fn, options)


def prange(*args):
    """``numba.prange`` inside compiled code; ``range`` when read as Python."""
    return range(*args)
