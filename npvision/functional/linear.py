"""Fully connected (dense) layer and the flatten that usually precedes it.

Linear
------
For a batch ``x`` of shape ``(N, D_in)``, weights ``w`` of shape
``(D_in, D_out)`` and an optional bias ``b`` of shape ``(D_out,)``::

    out = x @ w + b                                   (N, D_out)

With ``dout = dL/dout`` of shape ``(N, D_out)`` the chain rule gives::

    dx = dout @ w.T                                   (N, D_in)
    dw = x.T @ dout                                   (D_in, D_out)
    db = sum over the batch of dout                   (D_out,)

Flatten
-------
``(N, d1, d2, ...) -> (N, d1 * d2 * ...)`` in row-major (C) order, so a
channels-last ``(N, H, W, C)`` activation becomes ``(N, H * W * C)`` with the
channel index varying fastest. Its backward is the inverse reshape.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_cache, check_dout
from ..kernels.blas import matmul

__all__ = ["linear_forward", "linear_backward", "flatten_forward", "flatten_backward"]


def linear_forward(x, w, b=None):
    """Affine map ``out = x @ w + b``.

    Parameters
    ----------
    x : (N, D_in) float array. Flatten image activations first (``flatten_forward``).
    w : (D_in, D_out) float array.
    b : (D_out,) float array, or None for no bias.

    Returns
    -------
    out : (N, D_out), in the dtype of ``x``.
    cache : ``(x, w, b_dtype)`` for :func:`linear_backward` (``b_dtype`` None without bias).
    """
    x = as_float_array(x, "x", ndim=2, layout="(N, D_in)")
    w = as_float_array(w, "w", ndim=2, layout="(D_in, D_out)")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w: expected shape ({x.shape[1]}, D_out) to match x of shape {x.shape} "
                         f"(D_in = {x.shape[1]}), received {w.shape}")
    out = kernels.get("linear_matmul")(x, w)          # (N, D_in) @ (D_in, D_out) -> (N, D_out)
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[1],):
            raise ValueError(f"b: expected shape ({w.shape[1]},) (D_out of w), received {b.shape}")
        out = out + b                                 # (D_out,) broadcasts over the N rows
    return out.astype(x.dtype, copy=False), (x, w, None if b is None else b.dtype)


def linear_backward(dout, cache, dw_into=None, dw_overwrite=False):
    """Gradients of :func:`linear_forward`.

    ``dx = dout @ w.T``, ``dw = x.T @ dout``, ``db = dout.sum(axis=0)``.

    ``dw_into``: an array shaped like ``w`` (C-contiguous, of ``dout``'s dtype) to ADD ``dw``
    into, as a layer accumulates its parameter's gradient; it is returned as ``dw``. For a
    small batch the weight gradient is then one pass over that array, with no new one made
    (:mod:`npvision.kernels.linear`). ``dw_overwrite=True`` writes ``dw`` there instead (for a
    gradient just zeroed: its old numbers are never read).

    Returns
    -------
    (dx, dw, db) with the shapes and dtypes of ``(x, w, b)``; ``db`` is None
    when the forward pass had no bias.
    """
    x, w, b_dtype = check_cache(cache, "linear", 3, arrays=2)
    dout = check_dout(dout, (x.shape[0], w.shape[1]), "linear_backward")
    dx = kernels.get("linear_matmul_t")(dout, w).astype(x.dtype, copy=False)  # (N, D_out) @ (D_out, D_in)
    if dw_into is not None:
        if (dw_into.shape != w.shape or dw_into.dtype != dout.dtype or not dw_into.flags.c_contiguous
                or not dw_into.flags.writeable):
            raise ValueError(f"dw_into: expected a writeable C-contiguous {dout.dtype} array of shape {w.shape}, "
                             f"received {dw_into.dtype} {dw_into.shape}")
        kernels.get("linear_outer_add_")(dw_into, np.asarray(x, dtype=dout.dtype), dout,   # dw_into += x.T @ dout
                                         overwrite=bool(dw_overwrite))
        dw = dw_into
    else:
        dw = matmul(x.T, dout).astype(w.dtype, copy=False)  # (D_in, N) @ (N, D_out) -> (D_in, D_out)
    db = None if b_dtype is None else dout.sum(axis=0).astype(b_dtype, copy=False)  # (D_out,)
    return dx, dw, db


def flatten_forward(x):
    """``(N, d1, d2, ...) -> (N, d1 * d2 * ...)`` (row-major, channels fastest).

    Returns ``(out, cache)``: ``out`` a new array, ``cache`` the input shape.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x: expected an array of at least 2 dimensions (N, ...), received shape {x.shape}")
    n = x.shape[0]
    # A copy, not a view: a later in-place change to x must not change out (nor
    # fool a numerical gradient check, which perturbs x in place).
    out = x.reshape(n, int(np.prod(x.shape[1:]))).copy()  # (N, d1, d2, ...) -> (N, d1*d2*...); N may be 0
    return out, x.shape


def flatten_backward(dout, cache):
    """Undo the reshape: ``(N, D) -> (N, d1, d2, ...)``."""
    shape = cache
    if not (isinstance(shape, tuple) and len(shape) >= 2 and all(isinstance(d, int) for d in shape)):
        raise TypeError(f"cache: expected the cache returned by flatten_forward (the input's shape), "
                        f"received {shape!r:.80}")
    dout = check_dout(dout, (shape[0], int(np.prod(shape[1:]))), "flatten_backward")
    return dout.reshape(shape)                        # (N, D) -> (N, d1, d2, ...)
