"""Private helpers shared by the data package: random generators, image layouts,
resampling matrices and bilinear sampling.

Coordinates used everywhere in :mod:`npvision.data`
----------------------------------------------------
Points (landmarks) are ``(x, y)`` pairs and boxes are ``(x0, y0, x1, y1)``, both in
*continuous pixel coordinates*: pixel ``(row r, column c)`` is the unit square
``[c, c+1) x [r, r+1)``, so its centre is ``(c + 0.5, r + 0.5)`` and an image of
width ``W`` and height ``H`` spans ``[0, W] x [0, H]``. With this convention a
horizontal mirror is exactly ``x -> W - x`` for points and boxes alike.

To sample an image at a point, convert to *index* coordinates ``u = x - 0.5``,
``v = y - 0.5`` (``u = c`` at the centre of column ``c``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array

__all__: list[str] = []   # nothing public here


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """An int seed -> a new seeded Generator; a Generator -> itself. ``None`` is refused,
    because every random operation of the data package is seeded explicitly."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name}: expected an int seed or a numpy.random.Generator, "
                    f"received {type(rng).__name__} {rng!r}")


def check_image(image, name: str = "image") -> np.ndarray:
    """A floating-point image: (H, W) grey, (H, W, C) or a batch (N, H, W, C)."""
    return as_float_array(image, name, ndim=(2, 3, 4), layout="(H, W), (H, W, C) or (N, H, W, C)")


def to_nhwc(image: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """View any accepted image layout as (N, H, W, C); also return the original shape."""
    shape = image.shape
    if image.ndim == 2:
        return image[None, :, :, None], shape        # (H, W) -> (1, H, W, 1)
    if image.ndim == 3:
        return image[None], shape                    # (H, W, C) -> (1, H, W, C)
    return image, shape


def from_nhwc(x: np.ndarray, orig_shape: tuple[int, ...]) -> np.ndarray:
    """Undo :func:`to_nhwc` for an array whose H and W may have changed."""
    n, h, w, c = x.shape
    if len(orig_shape) == 2:
        return x.reshape(h, w)                       # (1, H, W, 1) -> (H, W)
    if len(orig_shape) == 3:
        return x.reshape(h, w, c)                    # (1, H, W, C) -> (H, W, C)
    return x


def spatial_shape(image: np.ndarray) -> tuple[int, int]:
    """(H, W) of an image in any accepted layout."""
    return (image.shape[1], image.shape[2]) if image.ndim == 4 else (image.shape[0], image.shape[1])


def size_pair(size, name: str) -> tuple[int, int]:
    """``size`` as (height, width): an int gives a square."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in size)):
        raise TypeError(f"{name}: expected an int or a pair (height, width) of ints, received {size!r}")
    if min(size) < 1:
        raise ValueError(f"{name}: expected sizes >= 1, received {tuple(size)}")
    return int(size[0]), int(size[1])


def resample_matrix(n_in: int, n_out: int, antialias: bool = True) -> np.ndarray:
    """The (n_out, n_in) matrix that linearly resizes a signal of length n_in to n_out.

    Output sample ``i`` sits at continuous position ``p = (i + 0.5) * s`` with
    ``s = n_in / n_out`` (pixel centres line up, "half-pixel" convention). Its value
    is a weighted mean of input samples ``j`` with the triangle (tent) weights

        w_ij = max(0, 1 - |j + 0.5 - p| / support),   support = max(s, 1) if antialias else 1,

    normalised to sum to 1. When enlarging (s <= 1) this is exactly bilinear
    interpolation with the border pixels repeated; when shrinking with ``antialias``
    the tent widens to cover every input pixel, which averages instead of aliasing.
    """
    scale = n_in / n_out
    support = max(scale, 1.0) if antialias else 1.0
    centres = (np.arange(n_out) + 0.5) * scale                       # (n_out,)
    inputs = np.arange(n_in) + 0.5                                   # (n_in,)
    w = np.maximum(0.0, 1.0 - np.abs(inputs[None, :] - centres[:, None]) / support)  # (n_out, n_in)
    empty = w.sum(axis=1) == 0
    if empty.any():   # only possible without antialias: take the nearest input sample
        nearest = np.clip(np.floor(centres[empty]).astype(np.int64), 0, n_in - 1)
        w[empty, nearest] = 1.0
    return w / w.sum(axis=1, keepdims=True)


def _map_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Integer indices mapped into [0, n): clipped (``"edge"``, ``"constant"``) or
    mirrored about the edges (``"reflect"``: d c b a | a b c d | d c b a)."""
    if mode == "edge" or mode == "constant":
        return np.clip(i, 0, n - 1)
    period = 2 * n
    j = np.mod(i, period)
    return np.where(j >= n, period - 1 - j, j)


def _index(i: np.ndarray, n: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer indices mapped into [0, n) by ``mode``; also the mask of in-range ones."""
    return _map_index(i, n, mode), (i >= 0) & (i < n)


MODES = ("constant", "edge", "reflect")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, received {mode!r}")
    return mode


def sample_bilinear(x: np.ndarray, u: np.ndarray, v: np.ndarray, mode: str = "constant",
                    fill: float = 0.0) -> np.ndarray:
    """Sample ``x`` (N, H, W, C) at index coordinates ``u`` (columns), ``v`` (rows).

    ``u`` and ``v`` are (H', W') (the same map for every image) or (N, H', W').
    Returns (N, H', W', C) in ``x``'s dtype. Bilinear interpolation:

        out = (1-a)(1-b) x[v0, u0] + a(1-b) x[v0, u0+1] + (1-a) b x[v0+1, u0] + a b x[v0+1, u0+1]

    with ``u0 = floor(u)``, ``a = u - u0`` (likewise ``v0``, ``b``). Neighbours outside
    the image take the value ``fill`` (``mode="constant"``), the nearest border pixel
    (``"edge"``) or their mirror image (``"reflect"``).

    How it is computed (fast, no Python loop): the images are viewed as one flat
    table of pixels, (N*H*W, C), and each of the four neighbours is read with a single
    ``np.take`` at the flat index ``(n * H + row) * W + col``. The out-of-image
    neighbours are first made ordinary indices: for ``"edge"`` and ``"reflect"`` the
    row and column indices are mapped into the image; for ``"constant"`` the images
    get a frame of ``fill`` (1 pixel before, 2 after) and the coordinates are clipped
    to ``[-1, W]`` (``[-1, H]``), beyond which all four neighbours are ``fill`` anyway.
    The weights ``a, b`` and the sums are computed in ``x``'s dtype.
    """
    n, h, w, c = x.shape
    dtype = x.dtype
    u, v = np.asarray(u), np.asarray(v)
    if u.dtype.kind != "f":
        u = u.astype(np.float64)
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    if mode == "constant":
        u = np.clip(u, -1, w)                # a clipped point still sees only fill
        v = np.clip(v, -1, h)
    elif mode == "edge":
        u = np.clip(u, -1, w - 1)            # exact: off-image neighbours repeat the border
        v = np.clip(v, -1, h - 1)
    u0f, v0f = np.floor(u), np.floor(v)
    a = (u - u0f).astype(dtype, copy=False)[..., None]                  # (..., H', W', 1)
    b = (v - v0f).astype(dtype, copy=False)[..., None]
    u0, v0 = u0f.astype(np.intp), v0f.astype(np.intp)                   # (..., H', W')

    if mode == "constant":
        src = np.pad(x, ((0, 0), (1, 2), (1, 2), (0, 0)),
                     constant_values=fill)                              # (N, H+3, W+3, C)
        cols, rows = (u0 + 1, u0 + 2), (v0 + 1, v0 + 2)                 # indices into the frame
    else:
        src = x
        cols = (_map_index(u0, w, mode), _map_index(u0 + 1, w, mode))
        rows = (_map_index(v0, h, mode), _map_index(v0 + 1, h, mode))
    hs, ws = src.shape[1], src.shape[2]

    if u.ndim == 2:      # one map for every image: gather along the pixel axis of each image
        table, axis = src.reshape(n, hs * ws, c), 1                     # (N, Hs*Ws, C)
        offsets = (rows[0] * ws, rows[1] * ws)                          # (H', W')
    else:                # a map per image: the image index is part of the flat index
        table, axis = src.reshape(n * hs * ws, c), 0                    # (N*Hs*Ws, C)
        image = np.arange(n, dtype=np.intp).reshape(n, 1, 1) * hs       # (N, 1, 1)
        offsets = ((image + rows[0]) * ws, (image + rows[1]) * ws)      # (N, H', W')

    def gather(r: int, s: int) -> np.ndarray:                          # (N, H', W', C)
        return np.take(table, offsets[r] + cols[s], axis=axis)

    top = (1 - a) * gather(0, 0) + a * gather(0, 1)                     # row v0
    bottom = (1 - a) * gather(1, 0) + a * gather(1, 1)                  # row v0 + 1
    return ((1 - b) * top + b * bottom).astype(dtype, copy=False)


def sample_nearest(m: np.ndarray, u: np.ndarray, v: np.ndarray, fill: int = 0) -> np.ndarray:
    """Nearest-neighbour sampling of label maps ``m`` (N, H, W) at index coordinates;
    outside the image gives ``fill``. Returns (N, H', W') in ``m``'s dtype."""
    n, h, w = m.shape
    ui = np.floor(np.asarray(u) + 0.5).astype(np.int64)
    vi = np.floor(np.asarray(v) + 0.5).astype(np.int64)
    inside = (ui >= 0) & (ui < w) & (vi >= 0) & (vi < h)
    batch = slice(None) if ui.ndim == 2 else np.arange(n)[:, None, None]
    vals = m[batch, np.clip(vi, 0, h - 1), np.clip(ui, 0, w - 1)]
    return np.where(inside, vals, fill).astype(m.dtype, copy=False)


def gaussian_kernel1d(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of radius ceil(3 sigma)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur2d(f: np.ndarray, sigma: float) -> np.ndarray:
    """Blur the last two axes of ``f`` (..., H, W) with a separable Gaussian (reflected borders)."""
    k = gaussian_kernel1d(sigma)
    r = len(k) // 2
    for axis in (-2, -1):
        n = f.shape[axis]
        idx, _ = _index(np.arange(-r, n + r), n, "reflect")
        padded = np.take(f, idx, axis=axis)                     # (..., n + 2r, ...) along axis
        out = np.zeros_like(f, dtype=np.float64)
        for t in range(len(k)):
            sl = [slice(None)] * f.ndim
            sl[axis] = slice(t, t + n)
            out += k[t] * padded[tuple(sl)]
        f = out
    return f
