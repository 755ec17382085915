"""RoI max pooling (Fast R-CNN) and RoIAlign (Mask R-CNN), channels-last, exactly as torchvision.

A two-stage detector runs its backbone once per image, then cuts a fixed-size
grid of features out of the map for every region of interest (RoI), whatever
the region's size, so that one head can classify them all.

Shapes::

    x     (N, H, W, C)      feature maps
    rois  (K, 5)            rows [b, x1, y1, x2, y2]: b the image's index in [0, N),
                            the corners in input-image pixels
    out   (K, PH, PW, C)    output_size = (PH, PW); an int means PH = PW

``spatial_scale`` ``s`` maps image pixels to feature-map pixels (``1/16``
after four stride-2 stages). ``rois`` are first cast to ``x``'s dtype
(torchvision requires the two to share it) and every number below is
computed in that dtype, one operation at a time as torchvision's compiled CPU
kernels do, so the float32 results agree with torchvision's to rounding.

RoI pooling (``torchvision.ops.roi_pool``, Girshick 2015)
    Corners are rounded to whole pixels (halves away from zero) and the roi
    covers the pixels between them *inclusively*::

        x1' = round(s x1),  y1' = round(s y1),  x2' = round(s x2),  y2' = round(s y2)
        h = max(y2' - y1' + 1, 1),  w = max(x2' - x1' + 1, 1)
        bin (i, j) = rows [y1' + floor(i h / PH), y1' + ceil((i + 1) h / PH))
                   x cols [x1' + floor(j w / PW), x1' + ceil((j + 1) w / PW)),  clipped to the map
        out[k, i, j, c] = max over the bin of x[b, :, :, c]           (0 for an empty bin)

    Neighbouring bins share a pixel when ``h / PH`` is not whole. Backward:
    ``dout[k, i, j, c]`` goes to the first maximum of its bin in row-major
    order; an empty bin sends nothing; rois add up. (torchvision starts the
    running maximum at ``-FLT_MAX``: a bin of NaNs or values below
    ``-3.4e38`` gives ``-3.4e38`` and no gradient.)

RoIAlign (``torchvision.ops.roi_align``, He et al. 2017)
    No rounding anywhere. With ``o = 1/2`` if ``aligned`` else 0::

        y_start = s y1 - o,   h = (s y2 - o) - y_start     (h = max(h, 1) unless aligned; w likewise)
        G_h = sampling_ratio if sampling_ratio > 0 else ceil(h / PH)    (samples per bin, per axis)
        y_{i,a} = y_start + i h/PH + (a + 1/2) (h/PH) / G_h,    a = 0 .. G_h - 1
        out[k, i, j, c] = sum_{a, b} bilinear(x[b_k, :, :, c], y_{i,a}, x_{j,b}) / max(G_h G_w, 1)

    ``bilinear(f, y, x)`` is 0 when the point is more than one pixel outside
    the map (``y < -1``, ``y > H``, ``x < -1`` or ``x > W``). Otherwise ``y``
    is clamped to ``>= 0``, ``y0 = floor(y)``, ``y1 = y0 + 1``, except that a
    point with ``y0 >= H - 1`` reads row ``H - 1`` alone (``y = y0 = y1 = H - 1``);
    with ``ly = y - y0``, ``hy = 1 - ly`` (and the same along x)::

        bilinear = hy hx f[y0, x0] + hy lx f[y0, x1] + ly hx f[y1, x0] + ly lx f[y1, x1]

    Backward: every sample sends ``dout[k, i, j, c] * weight / count`` to each
    of its four pixels. ``aligned=True`` (Detectron2's correction) puts pixel
    centres at half-integers, so a roi ``[0, 0, 2, 2]`` samples the centres of
    a 2x2 block; it also lets a roi have zero or negative size, and then
    ``G = ceil(h / PH) <= 0`` leaves the grid empty: the output is 0.

The naive references, plain loops to read and step through, are
:func:`npvision.kernels.roi.roi_pool_forward_naive`, ``roi_pool_backward_naive``,
``roi_align_forward_naive``, ``roi_align_backward_naive`` and
``bilinear_taps``; the fast loops are in the same file (ops ``roi_pool_forward``,
``roi_pool_backward``, ``roi_align_forward``, ``roi_align_backward``).

    >>> out, cache = roi_align_forward(x, rois, 7, spatial_scale=1 / 16, sampling_ratio=2)
    >>> dx = roi_align_backward(dout, cache)                     # (N, H, W, C); rois get no gradient
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from .. import kernels
from .._checks import as_float_array, check_dout, int_pair
from .pool import float_input

__all__ = [
    "roi_pool_forward",
    "roi_pool_backward",
    "roi_align_forward",
    "roi_align_backward",
    "RoIPoolCache",
    "RoIAlignCache",
]


class RoIPoolCache(NamedTuple):
    """What ``roi_pool_backward`` needs: where each bin's maximum was."""

    argmax: np.ndarray                      # (K, PH, PW, C) int32: flat h * W + w in image b, -1 if empty
    batch: np.ndarray                       # (K,) int64: each roi's image
    x_shape: tuple[int, int, int, int]      # (N, H, W, C)
    dtype: np.dtype


class RoIAlignCache(NamedTuple):
    """What ``roi_align_backward`` needs: the rois and the settings (the samples are recomputed)."""

    rois: np.ndarray                        # (K, 5) in x's dtype
    x_shape: tuple[int, int, int, int]      # (N, H, W, C)
    output_size: tuple[int, int]            # (PH, PW)
    spatial_scale: float
    sampling_ratio: int
    aligned: bool
    dtype: np.dtype


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------

def _check_x(x) -> np.ndarray:
    x = float_input(x, "x")
    if x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"x: expected feature maps of at least 1x1 pixels, received shape {x.shape}")
    return x


def _check_rois(rois, x: np.ndarray) -> np.ndarray:
    """``rois`` as a C-contiguous ``(K, 5)`` array of ``x``'s dtype, or an error naming the row.

    Integer rois (whole-pixel boxes) are welcome: unlike images, they are cast.
    """
    if isinstance(rois, np.ndarray) and rois.dtype.kind in "iu":
        rois = rois.astype(np.float64)
    rois = as_float_array(rois, "rois", ndim=2, layout="(K, 5) of rows [batch_index, x1, y1, x2, y2]")
    if rois.shape[1] != 5:
        raise ValueError(f"rois: expected shape (K, 5), rows [batch_index, x1, y1, x2, y2], "
                         f"received shape {rois.shape}")
    finite = np.isfinite(rois).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        raise ValueError(f"rois: every value must be finite, row {k} is {rois[k].tolist()}")
    index = rois[:, 0]
    whole = index == np.floor(index)
    if not whole.all():
        k = int(np.argmin(whole))
        raise ValueError(f"rois: column 0 is the image's index in the batch and must be a whole number, "
                         f"row {k} has {index[k]}")
    inside = (index >= 0) & (index < x.shape[0])
    if not inside.all():
        k = int(np.argmin(inside))
        raise ValueError(f"rois: row {k} names image {index[k]:g}, but x holds {x.shape[0]} image(s) "
                         f"(valid indices 0 .. {x.shape[0] - 1})")
    return np.ascontiguousarray(rois, dtype=x.dtype)


def _check_scale(spatial_scale) -> float:
    if not isinstance(spatial_scale, numbers.Real) or isinstance(spatial_scale, bool):
        raise TypeError(f"spatial_scale: expected a number > 0, received {type(spatial_scale).__name__} "
                        f"{spatial_scale!r}")
    if not (math.isfinite(spatial_scale) and spatial_scale > 0):
        raise ValueError(f"spatial_scale: expected a finite number > 0, received {spatial_scale!r}")
    return float(spatial_scale)


def _check_sampling_ratio(sampling_ratio) -> int:
    if not isinstance(sampling_ratio, numbers.Integral) or isinstance(sampling_ratio, (bool, np.bool_)):
        raise TypeError(f"sampling_ratio: expected an int (samples per bin and axis; <= 0 for "
                        f"ceil(roi size / output size)), received {type(sampling_ratio).__name__} "
                        f"{sampling_ratio!r}")
    return int(sampling_ratio)


def _check_aligned(aligned) -> bool:
    if not isinstance(aligned, (bool, np.bool_)):
        raise TypeError(f"aligned: expected True or False, received {type(aligned).__name__} {aligned!r}")
    return bool(aligned)


def _check_cache(cache, kind, op: str):
    if not isinstance(cache, kind):
        raise TypeError(f"cache: expected the cache returned by {op}, received {type(cache).__name__}")
    return cache


# ---------------------------------------------------------------------------
# RoI max pooling
# ---------------------------------------------------------------------------

def roi_pool_forward(x, rois, output_size, spatial_scale=1.0):
    """RoI max pooling: ``x`` ``(N, H, W, C)``, ``rois`` ``(K, 5)`` -> ``(out (K, PH, PW, C), cache)``.

    ``out[k, i, j, c]`` is the maximum of channel ``c`` over bin ``(i, j)`` of
    roi ``k``: the roi's corners times ``spatial_scale`` rounded to whole
    pixels, its inclusive size ``max(x2' - x1' + 1, 1)`` cut into bins
    ``[floor(i h / PH), ceil((i + 1) h / PH))`` (see the module docstring).
    An empty bin (one wholly outside the map) gives 0.
    """
    x = _check_x(x)
    rois = _check_rois(rois, x)
    output_size = int_pair(output_size, "output_size")
    spatial_scale = _check_scale(spatial_scale)
    out, argmax = kernels.get("roi_pool_forward")(x, rois, output_size, spatial_scale)  # (K, PH, PW, C)
    batch = rois[:, 0].astype(np.int64)                                                # (K,)
    return out, RoIPoolCache(argmax, batch, x.shape, x.dtype)


def roi_pool_backward(dout, cache):
    """Gradient of RoI pooling: ``dout`` ``(K, PH, PW, C)`` -> ``dx`` ``(N, H, W, C)``.

    ``dx[b_k, h, w, c] += dout[k, i, j, c]`` where ``(h, w)`` is the first
    maximum of bin ``(i, j)``; every other pixel gets 0 from that bin.
    """
    cache = _check_cache(cache, RoIPoolCache, "roi_pool_forward")
    dout = check_dout(dout, cache.argmax.shape, op="roi_pool_backward", dtype=cache.dtype)
    return kernels.get("roi_pool_backward")(dout, cache.batch, cache.argmax, cache.x_shape)


# ---------------------------------------------------------------------------
# RoIAlign
# ---------------------------------------------------------------------------

def roi_align_forward(x, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoIAlign: ``x`` ``(N, H, W, C)``, ``rois`` ``(K, 5)`` -> ``(out (K, PH, PW, C), cache)``.

    ``out[k, i, j, c]`` is the mean of ``G_h x G_w`` bilinear samples of
    channel ``c`` on a regular grid inside bin ``(i, j)`` of roi ``k``, whose
    corners are ``rois[k, 1:] * spatial_scale`` (minus half a pixel when
    ``aligned``), never rounded. ``sampling_ratio > 0`` fixes ``G_h = G_w =
    sampling_ratio``; ``<= 0`` takes ``ceil(roi_size / output_size)`` per axis
    (so the cost grows with the roi). See the module docstring for the sample
    points and the border rules.
    """
    x = _check_x(x)
    rois = _check_rois(rois, x)
    output_size = int_pair(output_size, "output_size")
    spatial_scale = _check_scale(spatial_scale)
    sampling_ratio = _check_sampling_ratio(sampling_ratio)
    aligned = _check_aligned(aligned)
    out = kernels.get("roi_align_forward")(x, rois, output_size, spatial_scale,
                                           sampling_ratio, aligned)            # (K, PH, PW, C)
    return out, RoIAlignCache(rois, x.shape, output_size, spatial_scale, sampling_ratio, aligned, x.dtype)


def roi_align_backward(dout, cache):
    """Gradient of RoIAlign: ``dout`` ``(K, PH, PW, C)`` -> ``dx`` ``(N, H, W, C)``.

    Each bilinear sample of bin ``(i, j)`` adds ``dout[k, i, j, c] * w / count``
    to each of its four pixels (``w`` its bilinear weight, ``count`` the bin's
    number of samples); samples outside the map add nothing.
    """
    cache = _check_cache(cache, RoIAlignCache, "roi_align_forward")
    expected = (len(cache.rois),) + cache.output_size + (cache.x_shape[3],)
    dout = check_dout(dout, expected, op="roi_align_backward", dtype=cache.dtype)
    return kernels.get("roi_align_backward")(dout, cache.rois, cache.x_shape, cache.output_size,
                                             cache.spatial_scale, cache.sampling_ratio, cache.aligned)
