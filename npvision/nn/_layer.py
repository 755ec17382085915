"""Small private helpers shared by the layer files of :mod:`npvision.nn`.

Nothing here is public. Two chores every layer repeats:

* ``param_as(p, dtype)`` -- a Parameter's array in the dtype of the current
  input, so that a float32 layer fed float64 (or the reverse) computes in the
  input's dtype, as the layer contract asks. Gradients are accumulated back
  into ``p.grad`` with ``+=``, which casts to the Parameter's own dtype.
* ``cache_of(layer)`` -- the cache saved by the last ``forward``, or a clear
  error when ``backward`` is called first.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array
from .module import Parameter

__all__: list[str] = []


def param_as(p: Parameter | None, dtype) -> np.ndarray | None:
    """``p.data`` viewed in ``dtype`` (a copy only when the dtypes differ); ``None`` stays ``None``."""
    if p is None:
        return None
    return p.data if p.data.dtype == dtype else p.data.astype(dtype)


def cache_of(layer, attr: str = "cache"):
    """The cache the last ``forward`` of ``layer`` stored in ``layer.<attr>``."""
    cache = getattr(layer, attr, None)
    if cache is None:
        raise RuntimeError(f"{type(layer).__name__}.backward was called before forward: "
                           f"there is no saved {attr} to differentiate")
    return cache


def check_input(x, layer, ndim, layout: str, channels: int | None = None) -> np.ndarray:
    """Validate a layer's input: a float array of ``ndim`` dims whose last axis has ``channels``."""
    x = as_float_array(x, "x", ndim=ndim, layout=layout)
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"x: has {x.shape[-1]} channels (last axis of shape {x.shape}) but "
                         f"{type(layer).__name__}({layer.extra_repr()}) expects {channels}")
    return x


def accumulate(p: Parameter | None, grad) -> None:
    """``p.grad += grad`` (skipped when the layer has no such parameter)."""
    if p is not None and grad is not None:
        p.accumulate_grad(grad)
