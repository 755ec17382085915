"""Concatenation and its mirror image, the split.

Concatenation along an axis (channels by default, the last axis of a
channels-last ``(N, H, W, C)`` activation) is what joins the branches of an
Inception module or a U-Net skip connection::

    out = [x_1 | x_2 | ... | x_k]            sizes C_1, ..., C_k along ``axis``

Every input element is copied to exactly one output position, so the
gradient of each input is simply its own slice of ``dout``: the backward of a
concatenation is a **split**, and the backward of a split is a concatenation::

    dx_i = dout[..., o_i : o_i + C_i]        o_i = C_1 + ... + C_(i-1)
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array, check_cache, positive_int

__all__ = ["concat_forward", "concat_backward", "split_forward", "split_backward"]


def _normalize_axis(axis, ndim: int, name: str = "axis") -> int:
    """``axis`` in ``[-ndim, ndim)`` as a non-negative index."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{name}: expected an integer, received {type(axis).__name__} {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: expected an axis in [{-ndim}, {ndim}) for a {ndim}-D array, received {axis}")
    return int(axis) % ndim


def _slice_along(axis: int, ndim: int, start: int, stop: int) -> tuple:
    """The index ``[:, ..., start:stop, ..., :]`` selecting a range of one axis."""
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


def concat_forward(xs, axis=-1):
    """Join arrays along ``axis`` (default: the last, channel axis).

    Parameters
    ----------
    xs : list or tuple of float arrays of one dtype, with equal shapes except along ``axis``,
        e.g. ``(N, H, W, C_i)``.
    axis : int, the axis to join along.

    Returns
    -------
    out : shape of ``xs[0]`` with ``sum(C_i)`` along ``axis``.
    cache : ``(axis, sizes)`` for :func:`concat_backward`.
    """
    if not isinstance(xs, (list, tuple)) or len(xs) == 0:
        raise TypeError(f"xs: expected a non-empty list or tuple of arrays, received {type(xs).__name__}"
                        + (" of length 0" if isinstance(xs, (list, tuple)) else ""))
    xs = [as_float_array(x, f"xs[{i}]") for i, x in enumerate(xs)]
    first = xs[0]
    if first.ndim == 0:
        raise ValueError("xs[0]: expected an array with at least 1 dimension, received a 0-D array")
    axis = _normalize_axis(axis, first.ndim)
    for i, x in enumerate(xs[1:], start=1):
        if x.dtype != first.dtype:
            raise TypeError(f"xs[{i}]: has dtype {x.dtype} but xs[0] has dtype {first.dtype}; "
                            f"convert the inputs to one dtype first")
        expected = "(" + ", ".join("*" if d == axis else str(n) for d, n in enumerate(first.shape)) + ")"
        if x.ndim != first.ndim or x.shape[:axis] + x.shape[axis + 1:] != first.shape[:axis] + first.shape[axis + 1:]:
            raise ValueError(f"xs[{i}]: expected shape {expected} (equal to xs[0] of shape {first.shape} "
                             f"except along axis {axis}), received {x.shape}")
    sizes = [x.shape[axis] for x in xs]
    out = np.concatenate(xs, axis=axis)               # (..., C_1 + ... + C_k, ...)
    return out, (axis, sizes)


def concat_backward(dout, cache):
    """Split ``dout`` back into one gradient per input (the mirror of the concatenation).

    Returns a list ``[dx_1, ..., dx_k]``; ``dx_i`` is a fresh array of the shape of ``xs[i]``.
    """
    axis, sizes = check_cache(cache, "concat", 2, arrays=0)
    dout = as_float_array(dout, "dout")
    if dout.ndim <= axis or dout.shape[axis] != sum(sizes):
        raise ValueError(f"dout: expected {sum(sizes)} = {' + '.join(map(str, sizes))} entries along axis "
                         f"{axis} (the forward output), received shape {dout.shape}")
    dxs = []
    start = 0
    for size in sizes:                                # the split: consecutive slices of dout
        dxs.append(dout[_slice_along(axis, dout.ndim, start, start + size)].copy())
        start += size
    return dxs


def split_forward(x, sizes, axis=-1):
    """Cut ``x`` along ``axis`` into consecutive pieces of the given ``sizes``.

    Parameters
    ----------
    x : float array.
    sizes : sequence of positive ints summing to ``x.shape[axis]``.
    axis : int.

    Returns
    -------
    pieces : list of arrays, ``pieces[i]`` has ``sizes[i]`` entries along ``axis``.
    cache : ``(axis, sizes, x.shape)`` for :func:`split_backward`.
    """
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x: expected an array with at least 1 dimension, received a 0-D array")
    axis = _normalize_axis(axis, x.ndim)
    if not isinstance(sizes, (list, tuple)) or len(sizes) == 0:
        raise TypeError(f"sizes: expected a non-empty list or tuple of positive ints, received {sizes!r}")
    sizes = [positive_int(s, "sizes") for s in sizes]
    if sum(sizes) != x.shape[axis]:
        raise ValueError(f"sizes: expected sizes summing to x.shape[{axis}] = {x.shape[axis]}, "
                         f"received {sizes} (sum {sum(sizes)})")
    pieces = []
    start = 0
    for size in sizes:
        pieces.append(x[_slice_along(axis, x.ndim, start, start + size)].copy())
        start += size
    return pieces, (axis, sizes, x.shape)


def split_backward(douts, cache):
    """Concatenate the pieces' gradients back into ``dx`` (the mirror of the split)."""
    axis, sizes, x_shape = check_cache(cache, "split", 3, arrays=0)
    if not isinstance(douts, (list, tuple)) or len(douts) != len(sizes):
        n = len(douts) if isinstance(douts, (list, tuple)) else type(douts).__name__
        raise ValueError(f"douts: expected a list of {len(sizes)} gradients (one per piece), received {n}")
    checked = []
    for i, (d, size) in enumerate(zip(douts, sizes)):
        d = as_float_array(d, f"douts[{i}]")
        expected = x_shape[:axis] + (size,) + x_shape[axis + 1:]
        if d.shape != expected:
            raise ValueError(f"douts[{i}]: expected shape {expected} (piece {i} of the split), received {d.shape}")
        checked.append(d)
    return np.concatenate(checked, axis=axis)         # pieces -> (..., sum(sizes), ...)
