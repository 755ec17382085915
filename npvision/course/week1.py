"""Week 1, "Convolutional Model: Step by Step": the course's eight NumPy functions.

Each function has the course's name, arguments and return values, and does
its work with :mod:`npvision.functional`:

=========================  ==============================================  ===========================
course function            returns                                         npvision underneath
=========================  ==============================================  ===========================
``zero_pad(X, pad)``       ``X_pad`` ``(m, n_H + 2 pad, n_W + 2 pad, n_C)``  ``F.zero_pad``
``conv_single_step``       ``Z``, a ``np.float64``                          ``F.conv_single_step``
``conv_forward``           ``Z`` ``(m, n_H, n_W, n_C)``, ``cache``           ``F.conv2d_forward``
``pool_forward``           ``A`` ``(m, n_H, n_W, n_C)``, ``cache``           ``F.max_pool2d_forward``,
                                                                           ``F.avg_pool2d_forward``
``conv_backward``          ``dA_prev, dW, db`` (``db`` ``(1, 1, 1, n_C)``)  ``F.conv2d_backward``
``create_mask_from_window``  boolean mask, True at every maximum           ``x == max(x)``
``distribute_value``       ``(n_H, n_W)`` array of ``dz / (n_H n_W)``        ``np.full``
``pool_backward``          ``dA_prev`` ``(m, n_H_prev, n_W_prev, n_C)``     ``F.avg_pool2d_backward``;
                                                                           max: every tied maximum
=========================  ==============================================  ===========================

The course's conventions, kept here:

* hyperparameters come in a dict: ``{"pad": p, "stride": s}`` for a convolution,
  ``{"f": f, "stride": s}`` for a pooling layer (pooling has no padding), and
  the output size is ``n_H = floor((n_H_prev + 2 pad - f) / stride) + 1``;
* the bias has shape ``(1, 1, 1, n_C)`` (npvision's own is ``(n_C,)``) and so
  does ``db``;
* caches are the course's tuples, ``(A_prev, W, b, hparameters)`` for a
  convolution and ``(A_prev, hparameters)`` for pooling, holding the very
  objects passed in; the backward passes rebuild what npvision's kernels need
  from them;
* outputs are float64, whatever the input's dtype (the course fills
  ``np.zeros(...)``, which is float64);
* ``pool_backward`` takes the mode again (the cache does not record it), and
  in ``"max"`` mode its mask ``x == np.max(x)`` marks **every** tied maximum of
  a window, so a tie sends the window's gradient to each of them.
  npvision's own ``F.max_pool2d_backward`` sends it to the first maximum only
  (as PyTorch), which is the derivative's usual choice; the two agree whenever
  a window's maximum is unique.

Bad input gets a clear error: an hparameters dict without one of its keys,
a mode other than ``"max"`` and ``"average"``, a cache that is not the
course's tuple.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .._checks import _describe, as_float_array
from .._padding import pad_hw

__all__ = ["zero_pad", "conv_single_step", "conv_forward", "pool_forward", "conv_backward",
           "create_mask_from_window", "distribute_value", "pool_backward", "POOL_MODES"]

#: The two pooling modes of the course.
POOL_MODES = ("max", "average")

_CONV_KEYS = ("stride", "pad")
_POOL_KEYS = ("f", "stride")


# ----------------------------------------------------------------------------- checks

def _hparameters(hparameters, keys: tuple[str, ...], what: str) -> dict:
    """The course's hyperparameter dict, checked: each key present, each value an int.

    Returns ``{key: int}``. ``stride`` and ``f`` must be >= 1, ``pad`` >= 0.
    """
    example = {"pad": 1, "stride": 2} if "pad" in keys else {"f": 3, "stride": 2}
    if not isinstance(hparameters, dict):
        raise TypeError(f"hparameters: expected a dict with the keys {list(keys)} of the {what}, "
                        f"e.g. {example}, received {_describe(hparameters)}")
    missing = [k for k in keys if k not in hparameters]
    if missing:
        raise ValueError(f"hparameters: missing key {missing[0]!r}; the {what} needs a dict with "
                         f"the keys {list(keys)}, e.g. {example}, received {hparameters!r}")
    out = {}
    for k in keys:
        v = hparameters[k]
        low = 0 if k == "pad" else 1
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < low:
            raise ValueError(f"hparameters[{k!r}]: expected an int >= {low}, received {v!r}")
        out[k] = int(v)
    return out


def _mode(mode) -> str:
    if mode not in POOL_MODES:
        raise ValueError(f"mode: expected 'max' or 'average' (the course's two pooling modes), "
                         f"received {mode!r}")
    return mode


def _activations(x, name: str) -> np.ndarray:
    """A 4-D ``(m, n_H, n_W, n_C)`` float array, as float64 (the course computes in float64)."""
    x = as_float_array(x, name, ndim=4, layout="(m, n_H, n_W, n_C)")
    return x.astype(np.float64, copy=False)


def _course_bias(b, n_c: int) -> np.ndarray:
    b = as_float_array(b, "b")
    if b.shape != (1, 1, 1, n_c):
        raise ValueError(f"b: expected the course's bias shape (1, 1, 1, {n_c}) (one bias per filter "
                         f"of W), received {b.shape}")
    return b.astype(np.float64, copy=False)


def _unpack(cache, n: int, names: str, what: str):
    if not isinstance(cache, (tuple, list)) or len(cache) != n:
        raise TypeError(f"cache: expected the tuple {names} returned by {what}, "
                        f"received {_describe(cache)}")
    return cache


# ----------------------------------------------------------------------------- convolution

def zero_pad(X, pad):
    """Pad the height and width of every image of ``X`` with ``pad`` zeros on each side.

    ``X (m, n_H, n_W, n_C) -> X_pad (m, n_H + 2 pad, n_W + 2 pad, n_C)``, a new
    array of ``X``'s dtype (the course's ``np.pad(X, ((0, 0), (pad, pad), (pad, pad),
    (0, 0)))``). Float arrays go through ``F.zero_pad``; integer arrays are padded
    the same way and stay integer, as ``np.pad`` keeps them.
    """
    if not isinstance(pad, numbers.Integral) or isinstance(pad, bool) or pad < 0:
        raise ValueError(f"pad: expected an int >= 0, received {pad!r}")
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"X: expected a 4-D array (m, n_H, n_W, n_C), received shape {X.shape}")
    if X.dtype.kind in "iub":
        return pad_hw(X, ((pad, pad), (pad, pad))).copy()
    return F.zero_pad(X, int(pad)).copy()     # pad_hw returns X itself for pad 0; np.pad copies


def conv_single_step(a_slice_prev, W, b):
    """One filter on one window: ``Z = sum(a_slice_prev * W) + b``.

    ``a_slice_prev (f, f, n_C_prev)``, ``W (f, f, n_C_prev)``, ``b`` of shape
    ``(1, 1, 1)`` (any single number). Returns ``Z`` as a ``np.float64``, the type the
    course's test asks for (npvision's ``F.conv_single_step`` returns a Python float).
    """
    return np.float64(F.conv_single_step(a_slice_prev, W, b))


def conv_forward(A_prev, W, b, hparameters):
    """The forward pass of a convolutional layer.

    ``A_prev (m, n_H_prev, n_W_prev, n_C_prev)``, ``W (f, f, n_C_prev, n_C)``,
    ``b (1, 1, 1, n_C)``, ``hparameters = {"stride": s, "pad": p}``. Returns
    ``Z (m, n_H, n_W, n_C)`` float64 with

        n_H = floor((n_H_prev + 2 p - f) / s) + 1,   n_W likewise,
        Z[i, h, w, c] = sum(A_prev_pad[i, h s : h s + f, w s : w s + f, :] * W[..., c]) + b[..., c]

    and ``cache = (A_prev, W, b, hparameters)`` (the course's tuple). The loops
    are npvision's kernels (``F.conv2d_forward``); a kernel larger than the padded
    input is refused with a clear error.
    """
    hp = _hparameters(hparameters, _CONV_KEYS, "convolution")
    A = _activations(A_prev, "A_prev")
    Wf = as_float_array(W, "W", ndim=4, layout="(f, f, n_C_prev, n_C)").astype(np.float64, copy=False)
    bf = _course_bias(b, Wf.shape[3])
    Z, _ = F.conv2d_forward(A, Wf, bf.reshape(-1), stride=hp["stride"], padding=hp["pad"])
    return Z, (A_prev, W, b, hparameters)


def conv_backward(dZ, cache):
    """The backward pass of a convolutional layer.

    ``dZ (m, n_H, n_W, n_C)`` = dL/dZ, ``cache = (A_prev, W, b, hparameters)`` from
    :func:`conv_forward`. Returns float64 arrays

        dA_prev (m, n_H_prev, n_W_prev, n_C_prev)   sum over (h, w, c) of W[..., c] dZ[i, h, w, c],
                                                    placed on the window, padding cropped off
        dW      (f, f, n_C_prev, n_C)               sum over (i, h, w) of the window times dZ[i, h, w, c]
        db      (1, 1, 1, n_C)                      sum over (i, h, w) of dZ[i, h, w, c]

    (``F.conv2d_backward``, after re-running the forward pass to build its cache).
    """
    A_prev, W, b, hparameters = _unpack(cache, 4, "(A_prev, W, b, hparameters)", "conv_forward")
    hp = _hparameters(hparameters, _CONV_KEYS, "convolution")
    A = _activations(A_prev, "cache[0] (A_prev)")
    Wf = as_float_array(W, "cache[1] (W)", ndim=4).astype(np.float64, copy=False)
    bf = _course_bias(b, Wf.shape[3])
    Z, f_cache = F.conv2d_forward(A, Wf, bf, stride=hp["stride"], padding=hp["pad"])
    dZ = as_float_array(dZ, "dZ", ndim=4, layout="(m, n_H, n_W, n_C)")
    if dZ.shape != Z.shape:
        raise ValueError(f"dZ: expected the shape of conv_forward's Z {Z.shape}, received {dZ.shape}")
    dA_prev, dW, db = F.conv2d_backward(dZ.astype(np.float64, copy=False), f_cache)
    return dA_prev, dW, db                     # db keeps b's shape (1, 1, 1, n_C)


# ----------------------------------------------------------------------------- pooling

def pool_forward(A_prev, hparameters, mode="max"):
    """The forward pass of a pooling layer (no padding).

    ``A_prev (m, n_H_prev, n_W_prev, n_C)``, ``hparameters = {"f": f, "stride": s}``,
    ``mode`` ``"max"`` or ``"average"``. Returns ``A (m, n_H, n_W, n_C)`` float64 with
    ``n_H = floor((n_H_prev - f) / s) + 1`` and each value the max (or mean) of its
    ``f x f`` window of one channel, and ``cache = (A_prev, hparameters)``.
    """
    hp = _hparameters(hparameters, _POOL_KEYS, "pooling layer")
    mode = _mode(mode)
    A = _activations(A_prev, "A_prev")
    forward = F.max_pool2d_forward if mode == "max" else F.avg_pool2d_forward
    out, _ = forward(A, hp["f"], stride=hp["stride"])
    return out, (A_prev, hparameters)


def create_mask_from_window(x):
    """``x == np.max(x)``: a boolean mask shaped like ``x``, True at its maximum.

    When the maximum appears several times, every copy is marked (the course's
    definition). npvision's kernels keep only the first one
    (:func:`npvision.kernels.pool.create_mask_from_window`).
    """
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError("x: expected a non-empty window, received an empty array")
    return x == np.max(x)


def distribute_value(dz, shape):
    """Spread ``dz`` evenly over a window: an array of ``shape = (n_H, n_W)`` filled with
    ``dz / (n_H n_W)`` (the gradient of an average, float64)."""
    try:
        n_h, n_w = (int(v) for v in shape)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"shape: expected (n_H, n_W), received {_describe(shape)}") from exc
    if n_h < 1 or n_w < 1:
        raise ValueError(f"shape: expected two sizes >= 1, received {tuple(shape)!r}")
    return np.full((n_h, n_w), float(dz) / (n_h * n_w))


def _max_pool_backward_all_ties(dA, A_prev, A, f: int, stride: int) -> np.ndarray:
    """The course's max-pool gradient: each window's ``dA`` goes to every element equal to its max.

    Instead of one window at a time, one offset ``(kh, kw)`` at a time: the
    elements at offset ``(kh, kw)`` of all windows form the strided slice
    ``A_prev[:, kh : kh + s n_H : s, kw : kw + s n_W : s, :]``, shaped like ``A``;
    where it equals the window's max ``A`` (npvision's forward), it gets ``dA``.
    """
    m, n_h, n_w, n_c = A.shape
    dA_prev = np.zeros_like(A_prev)
    for kh in range(f):
        for kw in range(f):
            rows = slice(kh, kh + stride * (n_h - 1) + 1, stride)
            cols = slice(kw, kw + stride * (n_w - 1) + 1, stride)
            mask = A_prev[:, rows, cols, :] == A                          # (m, n_H, n_W, n_C)
            dA_prev[:, rows, cols, :] += mask * dA
    return dA_prev


def pool_backward(dA, cache, mode="max"):
    """The backward pass of a pooling layer.

    ``dA (m, n_H, n_W, n_C)`` = dL/dA, ``cache = (A_prev, hparameters)`` from
    :func:`pool_forward`, ``mode`` the one used forward. Returns ``dA_prev`` shaped like
    ``A_prev`` (float64): for ``"average"`` every element of a window receives
    ``dA / f^2`` (:func:`distribute_value`; ``F.avg_pool2d_backward``); for ``"max"``
    every element equal to its window's maximum receives ``dA`` (the course's
    :func:`create_mask_from_window`, which marks every tied maximum). Overlapping
    windows (``stride < f``) add their contributions.
    """
    A_prev, hparameters = _unpack(cache, 2, "(A_prev, hparameters)", "pool_forward")
    hp = _hparameters(hparameters, _POOL_KEYS, "pooling layer")
    mode = _mode(mode)
    A = _activations(A_prev, "cache[0] (A_prev)")
    f, s = hp["f"], hp["stride"]
    forward = F.max_pool2d_forward if mode == "max" else F.avg_pool2d_forward
    out, p_cache = forward(A, f, stride=s)
    dA = as_float_array(dA, "dA", ndim=4, layout="(m, n_H, n_W, n_C)").astype(np.float64, copy=False)
    if dA.shape != out.shape:
        raise ValueError(f"dA: expected the shape of pool_forward's A {out.shape}, received {dA.shape}")
    if mode == "average":
        return F.avg_pool2d_backward(dA, p_cache)
    return _max_pool_backward_all_ties(dA, A, out, f, s)
