"""The hot loops of npvision, each written three interchangeable ways.

=========  ==============================================================
backend    what it is
=========  ==============================================================
``naive``  plain Python loops over every index: the version to read and
           step through, and the oracle the others are tested against
``numpy``  vectorized: im2col / strided views and one BLAS matrix product
``numba``  ``@njit`` loops compiled on first use (``cache=True``)
``auto``   the default: for each op, whichever of the above measured
           fastest on a 2-core CPU (see ``benchmarks/README.md``)
=========  ==============================================================

One table maps ``(op, backend)`` to a function; every backend of an op has the
same signature, so the math in :mod:`npvision.functional` never contains an
``if backend == ...``. Pick a backend for the whole program or for a block::

    import npvision
    npvision.set_backend("naive")
    with npvision.use_backend("numba"):
        ...

Kernels work on arrays that :mod:`npvision.functional` has already checked:
resolved stride, dilation and padding (a convolution takes them as one
:class:`~npvision.kernels.window.Window`), and they never validate.

Where to read what:

* ``reference/``: each op's math as plain loops over a padded input (the course's
  ``conv_forward``, ``pool_forward``, ...), the oracle of every test; the ``naive``
  backend runs them.
* ``conv_plan.py``: which algorithm computes a convolution of a given shape, and why.
* ``conv.py``, ``conv_transpose.py``, ``depthwise.py``, ``pool.py``: the ops' table
  entries; ``im2col.py``, ``winograd.py``, ``direct.py``: the convolution algorithms;
  ``blas.py``: matrix products and npvision's threads.

Each module imports only from this package (and ``npvision._padding``), never from
the floors above it.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import Callable, Iterator

BACKENDS = ("naive", "numpy", "numba")
_CHOICES = BACKENDS + ("auto",)

# op name -> {backend name -> function}
_TABLE: dict[str, dict[str, Callable]] = {}
# op name -> backend used by "auto"; filled in by each kernel module.
_FASTEST: dict[str, str] = {}

# Kernel modules register their ops on import; they are imported on the first
# lookup so that ``import npvision`` stays cheap.
_MODULES = ("conv", "conv_transpose", "depthwise", "pool", "batchnorm", "elementwise", "linear", "nms",
            "roi", "felzenszwalb", "linear_svm", "fft_conv")
_loaded = False
_load_lock = threading.Lock()

_state = threading.local()
_global_backend = "auto"


def register(op: str, backend: str, fastest: bool = False) -> Callable[[Callable], Callable]:
    """Decorator: file ``fn`` under ``(op, backend)``; ``fastest`` makes it auto's choice."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, received {backend!r}")

    def deco(fn: Callable) -> Callable:
        _TABLE.setdefault(op, {})[backend] = fn
        if fastest:
            _FASTEST[op] = backend
        return fn

    return deco


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            for mod in _MODULES:
                importlib.import_module(f"{__name__}.{mod}")
            _loaded = True


def get_backend() -> str:
    """The backend in force here: the innermost ``use_backend`` block, else ``set_backend``'s."""
    return getattr(_state, "backend", None) or _global_backend


def _check_choice(name: str) -> str:
    if name not in _CHOICES:
        raise ValueError(f"backend: expected one of {_CHOICES}, received {name!r}")
    return name


def set_backend(name: str) -> None:
    """Use ``name`` ('naive', 'numpy', 'numba' or 'auto') for every kernel from now on."""
    global _global_backend
    _global_backend = _check_choice(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use ``name`` for every kernel inside a ``with`` block (per thread), then restore."""
    _check_choice(name)
    previous = getattr(_state, "backend", None)
    _state.backend = name
    try:
        yield
    finally:
        _state.backend = previous


def get(op: str, backend: str | None = None) -> Callable:
    """The implementation of ``op`` for ``backend`` (default: the one in force)."""
    if not _loaded:
        _ensure_loaded()
    if op not in _TABLE:
        raise KeyError(f"no kernel named {op!r}; known: {sorted(_TABLE)}")
    name = backend or getattr(_state, "backend", None) or _global_backend   # get_backend(), inlined
    if name == "auto":
        name = _FASTEST.get(op, "numpy")
    impls = _TABLE[op]
    if name not in impls:
        raise KeyError(f"kernel {op!r} has no {name!r} implementation; it has {sorted(impls)}")
    return impls[name]


def ops() -> dict[str, tuple[str, ...]]:
    """Every registered op and the backends it has (for tests and benchmarks)."""
    _ensure_loaded()
    return {op: tuple(sorted(impls)) for op, impls in sorted(_TABLE.items())}


def fastest() -> dict[str, str]:
    """The backend 'auto' uses for each op."""
    _ensure_loaded()
    return {op: _FASTEST.get(op, "numpy") for op in sorted(_TABLE)}
