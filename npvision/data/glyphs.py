"""Synthetic pen-stroke glyphs: as many "classes" as wanted, drawn like the UCI digits.

One-shot recognition of digit classes never seen in training (``npvision train
face-digits``: 5-9 held out) needs an encoder that learned *what makes two
handwritten shapes the same shape*, not the five shapes 0-4 themselves: trained on
five classes only, an encoder maps every new digit onto one of the five it knows.
The remedy of the one-shot literature (Omniglot: Lake et al. 2015; Koch et al.
2015) is many training classes. No such set ships, so this module draws them:

* a **glyph** (:func:`make_glyphs`, one "identity") is 1 to 3 quadratic Bezier
  strokes, each joined to the previous one's end with probability 0.7, scaled
  so its height fills 78% of the box (as the UCI digits' height does) and centred;
* an **image** of a glyph (:func:`render_glyphs`) moves every control point by a
  little Gaussian jitter (a new hand each time), draws the strokes with a pen
  2.0-3.2 pixels wide on a 32x32 canvas, and then degrades it the way the UCI
  digits were made: the count of ink pixels in each 4x4 block, ``8 x 8`` values
  in 0..16 (scaled to [0, 1]), enlarged to ``size`` with the same bilinear
  resampling as :func:`npvision.data.load_digits`.

Control points are in box units ``[0, 1]^2`` (x to the right, y downwards).

    >>> glyphs = make_glyphs(1000, seed=0)
    >>> images = render_glyphs(glyphs, [0, 0, 1], seed=1)      # (3, 16, 16, 1) float32
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ._common import as_rng, resample_matrix

__all__ = ["make_glyphs", "render_glyphs"]

_CANVAS = 32                           # pen-drawing resolution; 4x4 blocks of it make 8x8
_CURVE_SAMPLES = np.linspace(0.0, 1.0, 40)


def make_glyphs(n: int, seed=0) -> np.ndarray:
    """``n`` glyphs: an ``(n, 3, 3, 2)`` float array of control points in box units.

    Glyph ``g`` has ``strokes = 1..3`` quadratic Bezier strokes
    ``glyphs[g, s] = [start, control, end]`` (each an ``(x, y)``); unused strokes
    (``s >= strokes``) are NaN.
    """
    n = positive_int(n, "n")
    rng = as_rng(seed, "seed")
    glyphs = np.full((n, 3, 3, 2), np.nan)
    for g in range(n):
        k = int(rng.integers(1, 4))                                # strokes of this glyph
        s = rng.uniform(0.0, 1.0, (k, 3, 2))                       # (k, 3 points, xy)
        for i in range(1, k):
            if rng.random() < 0.7:
                s[i, 0] = s[i - 1, 2]                              # joined: starts where the last ended
        lo, hi = s.reshape(-1, 2).min(0), s.reshape(-1, 2).max(0)
        scale = 0.78 / max(hi[1] - lo[1], 0.3)                     # height fills 78% of the box
        s = (s - (lo + hi) / 2) * scale + 0.5                      # centred
        s[..., 0] = np.clip(s[..., 0], 0.1, 0.9)
        glyphs[g, :k] = s
    return glyphs


def render_glyphs(glyphs: np.ndarray, ids, seed=0, size: int = 16, jitter: float = 0.04) -> np.ndarray:
    """Images of ``glyphs[ids]``: ``(len(ids), size, size, 1)`` float32 in [0, 1].

    Every image jitters the control points (Gaussian, ``jitter`` box units), picks a
    pen width, draws at 32x32, counts ink per 4x4 block (``8 x 8`` values ``k/16``, as
    the UCI digits) and resizes 8 -> ``size`` bilinearly.
    """
    glyphs = np.asarray(glyphs, dtype=np.float64)
    if glyphs.ndim != 4 or glyphs.shape[1:] != (3, 3, 2):
        raise ValueError(f"glyphs: expected the (n, 3, 3, 2) array of make_glyphs, received shape {glyphs.shape}")
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or (len(ids) and (ids.min() < 0 or ids.max() >= len(glyphs))):
        raise ValueError(f"ids: expected a 1-D array of glyph indices in [0, {len(glyphs)}), received {ids!r}")
    size = positive_int(size, "size")
    if size < 8:
        raise ValueError(f"size: expected an int >= 8 (the glyphs are 8x8 block counts), received {size}")
    rng = as_rng(seed, "seed")
    yy, xx = np.mgrid[0:_CANVAS, 0:_CANVAS] + 0.5                  # (32, 32) pixel centres
    t = _CURVE_SAMPLES[:, None]                                    # (T, 1)
    canvas = np.zeros((len(ids), _CANVAS, _CANVAS), np.float32)
    for m, g in enumerate(ids):
        strokes = glyphs[g][~np.isnan(glyphs[g, :, 0, 0])]         # (k, 3, 2)
        strokes = strokes + rng.normal(0.0, jitter, strokes.shape)
        pen = rng.uniform(2.0, 3.2)                                # pen radius in canvas pixels
        points = np.concatenate([((1 - t) ** 2 * s[0] + 2 * (1 - t) * t * s[1] + t ** 2 * s[2]) * _CANVAS
                                 for s in strokes])                # (k*T, 2) x, y on the canvas
        d2 = (xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2   # (32, 32, k*T)
        canvas[m] = d2.min(axis=-1) < pen ** 2
    blocks = canvas.reshape(len(ids), 8, 4, 8, 4).mean(axis=(2, 4))    # (M, 8, 8) ink per 4x4 block: k/16
    r = resample_matrix(8, size).astype(np.float32)                # (size, 8)
    images = np.einsum("ih,nhw,jw->nij", r, blocks, r)             # (M, size, size)
    return np.clip(images, 0.0, 1.0)[..., None].astype(np.float32)
