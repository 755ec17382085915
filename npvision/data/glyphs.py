"""Synthetic pen-stroke glyphs: as many "classes" as wanted, drawn like the UCI digits.

One-shot recognition of digit classes never seen in training (``npvision train
face-digits``: 5-9 held out) needs an encoder that learned *what makes two
handwritten shapes the same shape*, not the five shapes 0-4 themselves: trained on
five classes only, an encoder maps every new digit onto one of the five it knows.
The remedy of the one-shot literature (Omniglot: Lake et al. 2015; Koch et al.
2015) is many training classes. No such set ships, so this module draws them.

A **glyph** (:func:`make_glyphs`, one "identity") is 1 to 3 pen strokes; a stroke
is a smooth curve through 2 to 5 points, consecutive ones 0.3 box units apart at
least (a Catmull-Rom spline: it passes through every point, with tangent
``(P[i+1] - P[i-1]) / 2`` at point ``i``), so strokes can be lines, arcs, hooks,
waves and loops. A later stroke starts on a point of an earlier one with
probability 0.5 (joined strokes). Points are random in the unit box; no shape is
drawn on purpose, in particular none of a digit. ``make_glyphs(..., family=F)``
also makes families of ``F`` siblings, each one change away from the first.

An **image** of a glyph (:func:`render_glyphs`) imitates how the UCI digits were
made (Alpaydin & Kaynak: 32x32 bitmaps, ink counted in 4x4 blocks):

1. a new hand: every point moves by Gaussian ``jitter`` (box units);
2. size normalization, as the digits': the drawn curve is scaled to the full height
   of the 32x32 canvas (every UCI digit touches its top and bottom 8x8 rows) and
   its width is brought into 35-55% of the canvas, plus the pen (the digits are 5-7
   of 8 columns wide, even the ones), by at most 2.5x stretching or squeezing; a
   glyph still too wide (a flat one) is made smaller instead;
3. a pen 1.6-2.5 canvas pixels in radius draws the curve (8 samples per spline
   segment, joined by straight lines, the pixels they pass dilated by the pen's disk);
4. the ink in each 4x4 block is counted: ``8 x 8`` values ``k / 16``, 17 levels;
5. 8 -> ``size`` bilinear resampling, the same as :func:`npvision.data.load_digits`.

Control points are in box units ``[0, 1]^2`` (x to the right, y downwards).

    >>> glyphs = make_glyphs(1000, seed=0)                   # (1000, 3, 5, 2), NaN-padded
    >>> images = render_glyphs(glyphs, [0, 0, 1], seed=1)      # (3, 16, 16, 1) float32
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ._common import as_rng, resample_matrix

__all__ = ["make_glyphs", "render_glyphs", "spline_points"]

_CANVAS = 32                           # pen-drawing resolution; 4x4 blocks of it make 8x8
_MAX_STROKES, _MAX_POINTS = 3, 5
_STROKE_P = (0.45, 0.40, 0.15)         # P(1, 2, 3 strokes)
_POINTS_P = (0.15, 0.30, 0.30, 0.25)   # P(2, 3, 4, 5 points in a stroke)
_MIN_STEP = 0.3                        # consecutive points of a stroke at least this far apart
_SAMPLES = 8                          # curve samples per spline segment
_WIDTH = (0.35, 0.55)                  # drawn width, fraction of the canvas (the digits': 5-7 of 8)
_MAX_STRETCH = 2.5                     # at most this much anisotropic stretch or squeeze
_PEN = (1.6, 2.5)                      # pen radius in canvas pixels


def _new_stroke(glyph: np.ndarray, s: int, rng: np.random.Generator) -> None:
    """Draw stroke ``s`` of ``glyph`` ``(3, 5, 2)`` in place: 2-5 points, maybe joined to an earlier stroke."""
    m = 2 + rng.choice(_MAX_POINTS - 1, p=_POINTS_P)               # points of this stroke
    pts = rng.uniform(0.0, 1.0, (m, 2))
    if s > 0 and rng.random() < 0.5:                               # joined: starts on an earlier stroke
        earlier = glyph[:s].reshape(-1, 2)
        earlier = earlier[~np.isnan(earlier[:, 0])]
        pts[0] = earlier[rng.integers(len(earlier))]
    for i in range(1, m):                                          # no scribble: steps of 0.3 at least
        while np.hypot(*(pts[i] - pts[i - 1])) < _MIN_STEP:
            pts[i] = rng.uniform(0.0, 1.0, 2)
    glyph[s] = np.nan
    glyph[s, :m] = pts


def _sibling(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``glyph`` with one change: a stroke redrawn, added or removed, or one point moved."""
    out = glyph.copy()
    strokes = int((~np.isnan(out[:, 0, 0])).sum())
    changes = ["move"] + (["add"] if strokes < _MAX_STROKES else []) + (["redraw", "remove"] if strokes > 1 else [])
    change = changes[rng.integers(len(changes))]                   # a one-stroke glyph is never redrawn whole
    if change == "redraw":
        _new_stroke(out, strokes - 1, rng)                         # the last stroke redrawn
    elif change == "add":
        _new_stroke(out, strokes, rng)                             # a stroke added
    elif change == "remove":
        out[strokes - 1] = np.nan                                  # the last stroke removed
    else:                                                          # one point moved 0.3-0.6 away
        s = rng.integers(strokes)
        i = rng.integers(int((~np.isnan(out[s, :, 0])).sum()))
        angle = rng.uniform(0, 2 * np.pi)
        out[s, i] = np.clip(out[s, i] + rng.uniform(0.3, 0.6) * np.array([np.cos(angle), np.sin(angle)]), 0, 1)
    return out


def make_glyphs(n: int, seed=0, family: int = 1) -> np.ndarray:
    """``n`` glyphs: an ``(n, 3, 5, 2)`` float array of stroke points in box units.

    ``glyphs[g, s, i]`` is point ``i`` ``(x, y)`` of stroke ``s`` of glyph ``g``;
    a glyph has 1-3 strokes of 2-5 points each, unused strokes and points are NaN.
    ``family > 1`` makes glyphs in families of that many consecutive ones: the first
    is new, each other one is a *sibling* of it with one change (a stroke redrawn,
    added or removed, or one point moved 0.3-0.6 box units), so a batch holding a
    family asks the encoder for fine differences, as 5 against 6 or 3 against 8.
    """
    n = positive_int(n, "n")
    family = positive_int(family, "family")
    rng = as_rng(seed, "seed")
    glyphs = np.full((n, _MAX_STROKES, _MAX_POINTS, 2), np.nan)
    for g in range(n):
        if g % family:
            glyphs[g] = _sibling(glyphs[g - g % family], rng)
            continue
        for s in range(1 + rng.choice(_MAX_STROKES, p=_STROKE_P)):
            _new_stroke(glyphs[g], s, rng)
    return glyphs


def spline_points(points: np.ndarray, samples: int = _SAMPLES) -> np.ndarray:
    """The Catmull-Rom curve through ``points`` ``(m, 2)``: ``((m - 1) * samples + 1, 2)``.

    Segment ``i`` (from ``P[i]`` to ``P[i+1]``) is the cubic Hermite curve with
    tangents ``T[i] = (P[i+1] - P[i-1]) / 2`` (ends: the first and last points are
    repeated), at ``t = 0, 1/samples, ...``; two points give a straight line.
    """
    p = np.concatenate([points[:1], points, points[-1:]])         # (m + 2, 2) ends repeated
    tangent = (p[2:] - p[:-2]) / 2                                 # (m, 2)
    t = np.arange(samples)[:, None] / samples                      # (samples, 1)
    h00, h10 = 2 * t ** 3 - 3 * t ** 2 + 1, t ** 3 - 2 * t ** 2 + t
    h01, h11 = -2 * t ** 3 + 3 * t ** 2, t ** 3 - t ** 2
    segments = [h00 * points[i] + h10 * tangent[i] + h01 * points[i + 1] + h11 * tangent[i + 1]
                for i in range(len(points) - 1)]                   # each (samples, 2)
    return np.concatenate(segments + [points[-1:]])


def _normalize(curves: list) -> list:
    """Scale the curves (list of (T, 2)) to the canvas as the UCI digits were (module docstring)."""
    allp = np.concatenate(curves)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    pen_margin = 1.0                                               # keep the pen inside the canvas
    height = _CANVAS - 2 * pen_margin
    sy = height / max(hi[1] - lo[1], 1e-3)
    natural = (hi[0] - lo[0]) * sy                                 # width at the same scale
    target = np.clip(natural, _WIDTH[0] * _CANVAS, _WIDTH[1] * _CANVAS)
    sx = sy * np.clip(target / max(natural, 1e-3), 1 / _MAX_STRETCH, _MAX_STRETCH)
    too_wide = (hi[0] - lo[0]) * sx / (_WIDTH[1] * _CANVAS)
    if too_wide > 1:                                               # a flat glyph: smaller, not wider
        sx, sy = sx / too_wide, sy / too_wide
    centre = (lo + hi) / 2
    scale = np.array([sx, sy])
    return [(c - centre) * scale + _CANVAS / 2 for c in curves]


def _dense(curves: list) -> np.ndarray:
    """Points along the polylines ``curves`` (each ``(T, 2)``), at most half a pixel apart: ``(P, 2)``."""
    out = []
    for c in curves:
        seg = np.diff(c, axis=0)                                   # (T - 1, 2)
        n = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / 0.5), 1).astype(int)    # (T - 1,)
        t = np.concatenate([np.arange(k) / k for k in n])          # (sum n,) position in each segment
        i = np.repeat(np.arange(len(seg)), n)                      # (sum n,) its segment
        out.append(c[i] + t[:, None] * seg[i])
        out.append(c[-1:])
    return np.concatenate(out)


def _draw(points: list, pen: np.ndarray) -> np.ndarray:
    """Ink ``(M, 32, 32)``: the pixels whose centre is within ``pen[m]`` of a pixel the pen passed.

    ``points[m]`` ``(P, 2)`` are dense curve points (x, y) in canvas pixels; the
    pixels they fall in are marked, then dilated by a disk: pixel ``(i, j)`` is inked
    when a marked pixel ``(i + dy, j + dx)`` has ``dx^2 + dy^2 < pen^2`` (centre to
    centre, so the line is exact to about half a pixel, which the 4x4 block counts
    hide).
    """
    m = len(points)
    marked = np.zeros((m, _CANVAS, _CANVAS), bool)
    for n, p in enumerate(points):
        ix = np.clip(np.floor(p[:, 0]).astype(int), 0, _CANVAS - 1)
        iy = np.clip(np.floor(p[:, 1]).astype(int), 0, _CANVAS - 1)
        marked[n, iy, ix] = True
    r = int(np.ceil(pen.max()))
    padded = np.pad(marked, ((0, 0), (r, r), (r, r)))             # (M, 32 + 2r, 32 + 2r)
    ink = np.zeros_like(marked)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            within = dx * dx + dy * dy < pen * pen                 # (M,) images whose pen reaches this far
            if within.any():
                shifted = padded[within, r + dy:r + dy + _CANVAS, r + dx:r + dx + _CANVAS]   # (M', 32, 32)
                ink[within] |= shifted
    return ink.astype(np.float32)


def render_glyphs(glyphs: np.ndarray, ids, seed=0, size: int = 16, jitter: float = 0.05) -> np.ndarray:
    """Images of ``glyphs[ids]``: ``(len(ids), size, size, 1)`` float32 in [0, 1].

    Every image jitters the points (Gaussian, ``jitter`` box units), normalizes the
    size, picks a pen radius, draws at 32x32, counts ink per 4x4 block (``8 x 8``
    values ``k/16``, as the UCI digits) and resizes 8 -> ``size`` bilinearly.
    """
    glyphs = np.asarray(glyphs, dtype=np.float64)
    if glyphs.ndim != 4 or glyphs.shape[1:] != (_MAX_STROKES, _MAX_POINTS, 2):
        raise ValueError(f"glyphs: expected the (n, {_MAX_STROKES}, {_MAX_POINTS}, 2) array of make_glyphs, "
                         f"received shape {glyphs.shape}")
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or (len(ids) and (ids.min() < 0 or ids.max() >= len(glyphs))):
        raise ValueError(f"ids: expected a 1-D array of glyph indices in [0, {len(glyphs)}), received {ids!r}")
    size = positive_int(size, "size")
    if size < 8:
        raise ValueError(f"size: expected an int >= 8 (the glyphs are 8x8 block counts), received {size}")
    if not 0 <= jitter < 0.5:
        raise ValueError(f"jitter: expected a float in [0, 0.5) box units, received {jitter!r}")
    rng = as_rng(seed, "seed")
    points = []                                                    # per image: (P, 2) dense curve points
    for g in ids:
        curves = []
        for stroke in glyphs[g]:                                   # (5, 2) points, NaN-padded
            pts = stroke[~np.isnan(stroke[:, 0])]
            if len(pts):
                curves.append(spline_points(pts + rng.normal(0.0, jitter, pts.shape)))
        points.append(_dense(_normalize(curves)))
    canvas = _draw(points, rng.uniform(*_PEN, len(ids)))          # (M, 32, 32) 0/1 ink
    blocks = canvas.reshape(len(ids), 8, 4, 8, 4).mean(axis=(2, 4))    # (M, 8, 8) ink per 4x4 block: k/16
    r = resample_matrix(8, size).astype(np.float32)                # (size, 8)
    images = np.einsum("ih,nhw,jw->nij", r, blocks, r)             # (M, size, size)
    return np.clip(images, 0.0, 1.0)[..., None].astype(np.float32)
