"""What selective search measures about a region: colour and texture histograms,
and the four similarities of Uijlings et al. (IJCV 2013).

A *region* is a set of pixels (a label of a label image). Each carries

- ``size``: its number of pixels;
- ``box``: its bounding box in pixel indices ``(row_min, col_min, row_max, col_max)``,
  inclusive, so it covers ``(row_max - row_min + 1) (col_max - col_min + 1)`` pixels;
- a colour histogram ``C`` ``(n_C,)``: 25 bins per channel of the colour space
  (``n_C = 75`` for three channels), over [0, 1], L1-normalized (sums to 1);
- a texture histogram ``T`` ``(n_T,)``: for each channel, Gaussian derivatives
  (``sigma = 1``) in 8 orientations, each half-wave rectified and binned into 10
  bins (``n_T = 3 x 8 x 10 = 240``), L1-normalized.

The similarities of two regions ``r_i``, ``r_j`` in an image of ``|im|`` pixels,
each in [0, 1], 1 the most similar::

    s_colour(r_i, r_j)  = sum_k min(C_i[k], C_j[k])                  (histogram intersection)
    s_texture(r_i, r_j) = sum_k min(T_i[k], T_j[k])
    s_size(r_i, r_j)    = 1 - (|r_i| + |r_j|) / |im|                 (small regions merge first)
    s_fill(r_i, r_j)    = 1 - (|BB_ij| - |r_i| - |r_j|) / |im|       (BB_ij: the box around both;
                                                                      regions that fill each other's
                                                                      gaps merge first)

When two regions merge, the histograms of the union are the size-weighted means
``C_t = (|r_i| C_i + |r_j| C_j) / (|r_i| + |r_j|)``, *exactly* the histogram of
the union's pixels (the counts add up), so they need no pixel pass.

Colour spaces (:func:`to_color_space`) are scaled so every channel lies in [0, 1]:
``"rgb"``, ``"hsv"``, ``"lab"`` (by :data:`npvision.data.color.LAB_RANGE`),
``"rgi"`` (normalized r, g and intensity), and the single channels ``"h"`` (hue)
and ``"i"`` (intensity).
"""

from __future__ import annotations

import numpy as np

from ..data.color import LAB_RANGE, rgb_to_hsv, rgb_to_lab, rgb_to_rgi

__all__ = ["COLOR_SPACES", "to_color_space", "region_histograms", "color_bins", "color_histograms",
           "gaussian_derivatives", "texture_bins", "texture_histograms", "region_sizes_and_boxes",
           "box_pixels", "color_similarity", "texture_similarity", "size_similarity", "fill_similarity"]

COLOR_BINS = 25
TEXTURE_ORIENTATIONS = 8
TEXTURE_BINS = 10
TEXTURE_SIGMA = 1.0

COLOR_SPACES = ("rgb", "hsv", "lab", "rgi", "h", "i")


# ----------------------------------------------------------------------------- colour spaces

def to_color_space(rgb: np.ndarray, space: str) -> np.ndarray:
    """RGB ``(H, W, 3)`` in [0, 1] -> ``(H, W, C)`` float64 in the colour space ``space``,
    each channel scaled to [0, 1] (``C = 3``, or 1 for ``"h"`` and ``"i"``)."""
    if space == "rgb":
        return rgb.astype(np.float64)
    if space == "hsv":
        return rgb_to_hsv(rgb)
    if space == "lab":
        lab = rgb_to_lab(rgb)
        lo = np.array([r[0] for r in LAB_RANGE])
        hi = np.array([r[1] for r in LAB_RANGE])
        return np.clip((lab - lo) / (hi - lo), 0.0, 1.0)
    if space == "rgi":
        return rgb_to_rgi(rgb)
    if space == "h":
        return rgb_to_hsv(rgb)[..., :1]
    if space == "i":
        return rgb.mean(axis=-1, keepdims=True).astype(np.float64)
    raise ValueError(f"space: expected one of {COLOR_SPACES}, received {space!r}")


# ----------------------------------------------------------------------------- histograms

def region_histograms(bins: np.ndarray, labels: np.ndarray, n_regions: int, n_bins: int) -> np.ndarray:
    """Per-region, per-map histograms, L1-normalized.

    ``bins`` ``(M, P)`` int: the bin of each of P pixels in each of M maps (values in
    ``0 .. n_bins-1``, from :func:`color_bins` or :func:`texture_bins`); ``labels`` ``(P,)``
    or ``(H, W)`` -> ``(n_regions, M n_bins)``, row r the M histograms of region r side by
    side, divided by their total ``M |r|`` (a label with no pixel gets zeros).
    """
    m = bins.shape[0]
    labels = labels.ravel()
    codes = labels[None, :] * (m * n_bins) + np.arange(m)[:, None] * n_bins + bins   # (M, P)
    counts = np.bincount(codes.ravel(), minlength=n_regions * m * n_bins).astype(np.float64)
    hist = counts.reshape(n_regions, m * n_bins)                     # (R, M * n_bins)
    return hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0)


def _bin_index(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Values in [0, 1] -> bins ``0 .. n_bins-1`` of equal width (1.0 goes to the last bin)."""
    return np.minimum((values * n_bins).astype(np.int64), n_bins - 1)


def color_bins(image: np.ndarray, n_bins: int = COLOR_BINS) -> np.ndarray:
    """``image (H, W, C)`` in [0, 1] -> ``(C, H W)``: each pixel's bin in each channel."""
    c = image.shape[2]
    return _bin_index(np.clip(image.reshape(-1, c).T, 0.0, 1.0), n_bins)   # (H, W, C) -> (C, P)


def color_histograms(image: np.ndarray, labels: np.ndarray, n_regions: int,
                     n_bins: int = COLOR_BINS) -> np.ndarray:
    """Colour histograms of every region: ``image (H, W, C)`` in [0, 1], ``labels (H, W)``
    in ``0 .. n_regions-1`` -> ``(n_regions, C n_bins)``, each row summing to 1."""
    return region_histograms(color_bins(image, n_bins), labels, n_regions, n_bins)


def _filter1d(f: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``f`` with an odd-length ``kernel`` along ``axis`` (mirrored borders)."""
    r = len(kernel) // 2
    pad = [(0, 0)] * f.ndim
    pad[axis] = (r, r)
    padded = np.pad(f, pad, mode="symmetric")
    n = f.shape[axis]
    out = np.zeros(f.shape, dtype=np.float64)
    for t, kt in enumerate(kernel):
        out += kt * np.take(padded, np.arange(t, t + n), axis=axis)
    return out


def gaussian_derivatives(image: np.ndarray, sigma: float = TEXTURE_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """First derivatives of a Gaussian-smoothed image: ``(H, W, C)`` -> ``(d/dx, d/dy)``, each ``(H, W, C)``.

    ``d/dx = image * (g'(x) g(y))``: the separable filter of the derivative of a
    Gaussian ``g(t) ~ exp(-t^2 / 2 sigma^2)`` (radius ``ceil(3 sigma)``) along x and
    the Gaussian along y; x grows to the right (columns), y downwards (rows). The
    filter is oriented and scaled so that an intensity ``a x + b`` gives ``d/dx = a``.
    """
    radius = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g /= g.sum()
    dg = t * g                   # correlation kernel of d/dt: -g'(t) mirrored, ~ t g(t) / sigma^2,
    dg /= np.sum(t * dg)         # scaled so that a ramp of slope 1 gives exactly 1 (truncation at 3 sigma)
    dx = _filter1d(_filter1d(image, g, axis=0), dg, axis=1)
    dy = _filter1d(_filter1d(image, g, axis=1), dg, axis=0)
    return dx, dy


def texture_bins(image: np.ndarray, orientations: int = TEXTURE_ORIENTATIONS, n_bins: int = TEXTURE_BINS,
                 sigma: float = TEXTURE_SIGMA) -> np.ndarray:
    """``image (H, W, C)`` -> ``(C orientations, H W)``: each pixel's texture bin in each map.

    For each channel c and orientation ``theta_o = 2 pi o / orientations`` the
    directional derivative ``d_o = cos(theta_o) d/dx + sin(theta_o) d/dy`` is
    half-wave rectified, ``max(d_o, 0)`` (opposite orientations are opposite
    signs, so 8 orientations are 4 axes times 2 signs), divided by the largest
    response of channel c over the image and all orientations (so the bins span
    [0, 1]; a flat channel stays 0) and binned into ``n_bins`` equal bins. Maps
    are ordered channel by channel, orientation by orientation.
    """
    h, w, c = image.shape
    dx, dy = gaussian_derivatives(image, sigma)                       # (H, W, C) each
    theta = 2 * np.pi * np.arange(orientations) / orientations        # (O,)
    d = (np.cos(theta)[:, None, None, None] * dx[None]
         + np.sin(theta)[:, None, None, None] * dy[None])              # (O, H, W, C)
    response = np.maximum(d, 0.0).transpose(3, 0, 1, 2).reshape(c, orientations * h * w)   # (C, O P)
    top = response.max(axis=1, keepdims=True)                          # (C, 1) per channel
    response = (response / np.where(top > 0, top, 1.0)).reshape(c * orientations, h * w)  # (C O, P)
    return _bin_index(response, n_bins)


def texture_histograms(image: np.ndarray, labels: np.ndarray, n_regions: int,
                       orientations: int = TEXTURE_ORIENTATIONS, n_bins: int = TEXTURE_BINS,
                       sigma: float = TEXTURE_SIGMA) -> np.ndarray:
    """Texture histograms of every region -> ``(n_regions, C orientations n_bins)``, rows
    summing to 1: region r's pixels counted in each map of :func:`texture_bins`."""
    return region_histograms(texture_bins(image, orientations, n_bins, sigma), labels, n_regions, n_bins)


def region_sizes_and_boxes(labels: np.ndarray, n_regions: int) -> tuple[np.ndarray, np.ndarray]:
    """``labels (H, W)`` -> ``sizes (R,)`` int64 and ``boxes (R, 4)`` int64 ``(row_min, col_min,
    row_max, col_max)`` inclusive pixel indices of every region."""
    h, w = labels.shape
    flat = labels.ravel()
    rows, cols = np.divmod(np.arange(h * w), w)                        # (P,) each
    sizes = np.bincount(flat, minlength=n_regions).astype(np.int64)
    boxes = np.empty((n_regions, 4), dtype=np.int64)
    boxes[:, 0] = h
    boxes[:, 1] = w
    boxes[:, 2] = -1
    boxes[:, 3] = -1
    np.minimum.at(boxes[:, 0], flat, rows)
    np.minimum.at(boxes[:, 1], flat, cols)
    np.maximum.at(boxes[:, 2], flat, rows)
    np.maximum.at(boxes[:, 3], flat, cols)
    return sizes, boxes


def box_pixels(boxes: np.ndarray) -> np.ndarray:
    """Pixels covered by inclusive ``(row_min, col_min, row_max, col_max)`` boxes ``(..., 4)`` -> ``(...,)``."""
    return (boxes[..., 2] - boxes[..., 0] + 1) * (boxes[..., 3] - boxes[..., 1] + 1)


# ----------------------------------------------------------------------------- similarities
# Each takes one region (or a batch) on each side and broadcasts: histograms (..., n_bins),
# sizes (...,), boxes (..., 4).

def color_similarity(hist_i: np.ndarray, hist_j: np.ndarray) -> np.ndarray:
    """``s_colour = sum_k min(C_i[k], C_j[k])``: the intersection of two L1-normalized histograms."""
    return np.minimum(hist_i, hist_j).sum(axis=-1)


def texture_similarity(hist_i: np.ndarray, hist_j: np.ndarray) -> np.ndarray:
    """``s_texture = sum_k min(T_i[k], T_j[k])``, the same intersection on texture histograms."""
    return np.minimum(hist_i, hist_j).sum(axis=-1)


def size_similarity(size_i, size_j, image_pixels: int) -> np.ndarray:
    """``s_size = 1 - (|r_i| + |r_j|) / |im|``: two small regions are more similar than two big ones."""
    return 1.0 - (np.asarray(size_i) + np.asarray(size_j)) / float(image_pixels)


def fill_similarity(box_i, box_j, size_i, size_j, image_pixels: int) -> np.ndarray:
    """``s_fill = 1 - (|BB_ij| - |r_i| - |r_j|) / |im|``: the share of the image that the box
    around both regions would cover but neither region does, subtracted from 1."""
    box_i, box_j = np.asarray(box_i), np.asarray(box_j)
    union = np.concatenate([np.minimum(box_i[..., :2], box_j[..., :2]),
                            np.maximum(box_i[..., 2:], box_j[..., 2:])], axis=-1)   # (..., 4)
    gap = box_pixels(union) - np.asarray(size_i) - np.asarray(size_j)
    return 1.0 - gap / float(image_pixels)
