"""Graph-based image segmentation (Felzenszwalb & Huttenlocher, IJCV 2004).

The image is a graph: one vertex per pixel, an edge between every pixel and
its 8 neighbours, weighted by how different their colours are. A segmentation
is a partition of the pixels into components; the algorithm builds one in a
single pass over the edges, lightest first, like Kruskal's minimum spanning
tree, merging two components only when the edge between them is no heavier
than the differences *inside* each of them (plus a tolerance that shrinks as
the component grows)::

    Int(C)       = the heaviest edge of C's minimum spanning tree   (0 for one pixel)
    MInt(A, B)   = min(Int(A) + k / |A|,  Int(B) + k / |B|)
    merge A, B   when the lightest edge joining them has weight w <= MInt(A, B)

``k`` sets the scale: a larger ``k`` asks for stronger evidence of a boundary,
so components come out larger (it is not a minimum size: a region of very
different colour still stands alone). Then a post-pass merges, again along
the edges lightest first, every component smaller than ``min_size`` pixels
into a neighbour.

Steps of :func:`felzenszwalb`, each a function below:

1. ``smooth``: a Gaussian blur of each channel with standard deviation
   ``sigma`` (0.8 in the paper), which removes pixel noise and little else;
2. :func:`grid_graph`: the 8-connected edges, each pixel joined to its right,
   lower, lower-right and upper-right neighbour (every neighbour pair once:
   ``E = 4 H W - 3 (H + W) + 2`` edges), with weight ``w = 255 ||I_p - I_q||``:
   the Euclidean colour distance measured on the 0..255 scale, so that ``k``
   means what it means in the paper (whose images are 8-bit: ``k = 300`` for
   its pictures, 50..300 in selective search);
3. sort the edges by weight (a stable sort: equal weights in edge order);
4. the union-find loop of the merging rule and the min_size pass, in
   :mod:`npvision.kernels.felzenszwalb` (op ``"fh_segment"``: a naive Python
   loop to read, :func:`~npvision.kernels.felzenszwalb.fh_segment_naive`, and a
   numba kernel, the default).

The result is a label image ``(H, W)`` int64 with labels ``0 .. R-1``, every
label used, numbered in order of first appearance in a row-major scan; every
component is 8-connected and (unless the whole image is smaller) holds at
least ``min_size`` pixels.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import kernels
from .._checks import _describe, as_float_array
from ..data._common import gaussian_blur2d

__all__ = ["felzenszwalb", "grid_graph"]


def _as_image(image, name: str = "image") -> np.ndarray:
    """``(H, W)`` or ``(H, W, C)`` float with H, W >= 1 -> ``(H, W, C)`` float64."""
    x = as_float_array(image, name, ndim=(2, 3), layout="(H, W) or (H, W, C)")
    if x.ndim == 2:
        x = x[:, :, None]                                            # (H, W) -> (H, W, 1)
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{name}: expected an image with at least one pixel and one channel, "
                         f"received shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: expected finite pixel values, found NaN or infinity")
    return x.astype(np.float64, copy=False)


def _number(v, name: str, low: float, strict: bool) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v):
        raise TypeError(f"{name}: expected a finite number, received {_describe(v)}")
    if v < low or (strict and v == low):
        raise ValueError(f"{name}: expected a number {'>' if strict else '>='} {low:g}, received {v!r}")
    return float(v)


def smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each channel of ``(H, W, C)`` (reflected borders); ``sigma = 0`` copies."""
    if sigma == 0:
        return image.copy()
    chw = np.moveaxis(image, -1, 0)                                   # (H, W, C) -> (C, H, W)
    return np.moveaxis(gaussian_blur2d(chw, sigma), 0, -1)            # (C, H, W) -> (H, W, C)


def grid_graph(image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 8-connected pixel graph of ``image`` ``(H, W)`` or ``(H, W, C)``.

    Returns ``(a, b, w)``: ``a``, ``b`` ``(E,)`` int64 flat pixel indices
    (``row * W + col``) and ``w`` ``(E,)`` float64 weights
    ``255 * ||image[a] - image[b]||`` (Euclidean over the channels), listed
    direction by direction: right, down, down-right, up-right. Each unordered
    neighbour pair appears once, so ``E = 4 H W - 3 (H + W) + 2`` for
    ``H, W >= 2`` (a single row or column has only its ``H W - 1`` edges).
    """
    x = _as_image(image)
    h, w_, c = x.shape
    index = np.arange(h * w_, dtype=np.int64).reshape(h, w_)          # (H, W) flat pixel index
    flat = x.reshape(h * w_, c)                                       # (H W, C)
    pairs = [(index[:, :-1], index[:, 1:]),                           # right
             (index[:-1, :], index[1:, :]),                           # down
             (index[:-1, :-1], index[1:, 1:]),                        # down-right
             (index[1:, :-1], index[:-1, 1:])]                        # up-right
    a = np.concatenate([p.ravel() for p, _ in pairs])                 # (E,)
    b = np.concatenate([q.ravel() for _, q in pairs])                 # (E,)
    weights = 255.0 * np.sqrt(((flat[a] - flat[b]) ** 2).sum(axis=1))
    return a, b, weights


def _segment_kernel():
    """The ``fh_segment`` kernel for the backend in force (its fastest one under ``"numpy"``,
    which this sequential loop has no vectorized form for)."""
    backend = kernels.get_backend()
    if backend not in kernels.ops()["fh_segment"]:
        backend = "auto"
    return kernels.get("fh_segment", backend)


def felzenszwalb(image, k: float = 100.0, sigma: float = 0.8, min_size: int = 20) -> np.ndarray:
    """Felzenszwalb-Huttenlocher segmentation of ``image`` -> labels ``(H, W)`` int64.

    ``image`` ``(H, W)`` grey or ``(H, W, C)`` (any channels: RGB, HSV, Lab, ...)
    of floats, channels scaled to [0, 1] (edge weights are measured as
    ``255 x`` the colour distance, see the module docstring); ``k > 0`` the
    scale (larger: fewer, larger components); ``sigma >= 0`` the Gaussian
    pre-smoothing; ``min_size >= 1`` the smallest component kept.

    Labels run over ``0 .. R-1`` (every one used), numbered by first appearance
    in a row-major scan. Same input, same labels, whatever the backend.
    """
    x = _as_image(image)
    k = _number(k, "k", 0.0, strict=True)
    sigma = _number(sigma, "sigma", 0.0, strict=False)
    if not isinstance(min_size, numbers.Integral) or isinstance(min_size, bool) or min_size < 1:
        raise ValueError(f"min_size: expected an integer >= 1, received {min_size!r}")
    h, w_ = x.shape[:2]
    a, b, weights = grid_graph(smooth(x, sigma))
    order = np.argsort(weights, kind="stable")                        # lightest edge first
    labels = _segment_kernel()(a[order], b[order], weights[order], h * w_, k, int(min_size))
    return labels.reshape(h, w_)                                      # (H W,) -> (H, W)
