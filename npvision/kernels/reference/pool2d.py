"""Pooling, the plain loops: the course's ``pool_forward`` / ``pool_backward``, one window at a time.

Every function works on an already padded input ``xp`` ``(N, Hp, Wp, C)`` (max pooling pads
with ``-inf``, average pooling with zeros) and resolved ``pool = (PH, PW)`` and
``stride = (SH, SW)`` pairs. Output pixel ``(i, j)`` looks at the window
``xp[n, i SH : i SH + PH, j SW : j SW + PW, c]`` and

    Ho = floor((Hp - PH) / SH) + 1,    Wo = floor((Wp - PW) / SW) + 1

Max pooling
    ``out = max(window)``, and ``argmax`` holds the flat offset ``kh PW + kw`` of the window's
    FIRST maximum in row-major order (as PyTorch; a NaN counts as larger than any number, so
    NaNs propagate and the first NaN wins, as ``np.argmax``). The gradient flows only there:

        dxp[n, i SH + kh, j SW + kw, c] += dout[n, i, j, c]   where kh PW + kw = argmax[n, i, j, c]

    and overlapping windows (``SH < PH``) add up their contributions.

Max unpooling's backward is the matching gather,
``dx[n, i, j, c] = dyp[n, i SH + kh, j SW + kw, c]`` at the stored argmax.

Average pooling
    ``out = sum(window) / (PH PW)``; every element of the window receives ``dout / (PH PW)``.

``argmax`` has dtype ``uint8`` when ``PH PW <= 256`` (every practical pool) and ``int32``
otherwise: a quarter of the memory traffic of int32 for the common 2x2 and 3x3 pools.
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "max_unpool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward", "argmax_dtype", "create_mask_from_window", "mask_from_argmax",
           "distribute_value"]


def argmax_dtype(pool: tuple[int, int]) -> np.dtype:
    """The smallest integer dtype that holds every offset ``0 .. PH*PW - 1``."""
    return np.dtype(np.uint8) if pool[0] * pool[1] <= 256 else np.dtype(np.int32)


def _out_hw(xp_shape, pool, stride) -> tuple[int, int]:
    """``(Ho, Wo)`` of a pooling over a padded input of shape ``(N, Hp, Wp, C)``."""
    return ((xp_shape[1] - pool[0]) // stride[0] + 1,
            (xp_shape[2] - pool[1]) // stride[1] + 1)


def create_mask_from_window(x: np.ndarray) -> np.ndarray:
    """A boolean mask shaped like the window ``x`` that is True at its first maximum only.

    The course's version, ``x == np.max(x)``, marks every tied maximum and so
    sends the gradient to all of them (counting it several times); here only
    the first maximum in row-major order is marked, as ``np.argmax`` and
    PyTorch choose it.
    """
    mask = np.zeros(x.shape, dtype=bool)
    mask.flat[np.argmax(x)] = True
    return mask


def mask_from_argmax(offset: int, pool: tuple[int, int]) -> np.ndarray:
    """The ``(PH, PW)`` mask that is True at flat offset ``kh * PW + kw`` only."""
    mask = np.zeros(pool, dtype=bool)
    mask.flat[offset] = True
    return mask


def distribute_value(dz: float, shape: tuple[int, int]) -> np.ndarray:
    """Spread the gradient ``dz`` of a window's average evenly over a window of ``shape``."""
    n_h, n_w = shape
    return np.full(shape, dz / (n_h * n_w))


def max_pool2d_forward(xp, pool, stride):
    """Max pooling, one window at a time. Returns ``(out, argmax)``, both ``(N, Ho, Wo, C)``."""
    m, _, _, n_c = xp.shape
    (f_h, f_w), (s_h, s_w) = pool, stride
    n_h, n_w = _out_hw(xp.shape, pool, stride)
    out = np.empty((m, n_h, n_w, n_c), dtype=xp.dtype)
    argmax = np.empty((m, n_h, n_w, n_c), dtype=argmax_dtype(pool))
    for i in range(m):
        for h in range(n_h):
            vert_start = h * s_h
            vert_end = vert_start + f_h
            for w in range(n_w):
                horiz_start = w * s_w
                horiz_end = horiz_start + f_w
                for c in range(n_c):
                    a_slice = xp[i, vert_start:vert_end, horiz_start:horiz_end, c]  # (PH, PW)
                    mask = create_mask_from_window(a_slice)
                    out[i, h, w, c] = a_slice[mask][0]
                    argmax[i, h, w, c] = np.flatnonzero(mask)[0]  # kh * PW + kw
    return out, argmax


def max_pool2d_backward(dout, argmax, xp_shape, pool, stride):
    """Route each ``dout`` to its window's first maximum; overlapping windows add up."""
    m, n_h, n_w, n_c = dout.shape
    (f_h, f_w), (s_h, s_w) = pool, stride
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for i in range(m):
        for h in range(n_h):
            vert_start = h * s_h
            for w in range(n_w):
                horiz_start = w * s_w
                for c in range(n_c):
                    mask = mask_from_argmax(argmax[i, h, w, c], pool)  # (PH, PW)
                    dxp[i, vert_start:vert_start + f_h, horiz_start:horiz_start + f_w, c] += (
                        mask * dout[i, h, w, c])
    return dxp


def max_unpool2d_backward(dyp, argmax, pool, stride):
    """Gather: each pooled position reads the gradient at the place its value was put."""
    m, n_h, n_w, n_c = argmax.shape
    (_, f_w), (s_h, s_w) = pool, stride
    dx = np.empty(argmax.shape, dtype=dyp.dtype)
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                for c in range(n_c):
                    kh, kw = divmod(int(argmax[i, h, w, c]), f_w)
                    dx[i, h, w, c] = dyp[i, h * s_h + kh, w * s_w + kw, c]
    return dx


def avg_pool2d_forward(xp, pool, stride):
    """Average pooling, one window at a time: ``out = mean(window)``."""
    m, _, _, n_c = xp.shape
    (f_h, f_w), (s_h, s_w) = pool, stride
    n_h, n_w = _out_hw(xp.shape, pool, stride)
    out = np.empty((m, n_h, n_w, n_c), dtype=xp.dtype)
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                for c in range(n_c):
                    a_slice = xp[i, h * s_h:h * s_h + f_h, w * s_w:w * s_w + f_w, c]  # (PH, PW)
                    out[i, h, w, c] = np.mean(a_slice)
    return out


def avg_pool2d_backward(dout, xp_shape, pool, stride):
    """Every element of a window receives ``dout / (PH * PW)``; overlaps add up."""
    m, n_h, n_w, n_c = dout.shape
    (f_h, f_w), (s_h, s_w) = pool, stride
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                for c in range(n_c):
                    dxp[i, h * s_h:h * s_h + f_h, w * s_w:w * s_w + f_w, c] += distribute_value(
                        dout[i, h, w, c], pool)
    return dxp
