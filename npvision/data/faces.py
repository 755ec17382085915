"""A seeded generator of synthetic face identities: many images of each person, none downloaded.

Face verification needs what no package ships: many images of each of many people.
This module draws *identities* (a person's fixed traits) and renders any number of
*images* of each (the same traits under a new pose, light, expression and camera).
The task is to tell whether two images show the same identity.

Identity traits (fixed for a person, :func:`make_face_identities`)
-------------------------------------------------------------------
=================  ==============================================================
head               half-width ``head_w``, half-height ``head_h``, jaw taper (narrow
                   chin to square jaw), skin tone (a light-to-dark line plus a tint)
hair               style (bald, short, fringe, side parting, long), hairline height,
                   volume, colour (black, browns, blond, red, grey, white, dyed)
eyes               half-spacing, size, aspect, height on the face, iris colour
brows              thickness, tilt, gap above the eyes, colour (from the hair)
nose               length, width
mouth              width, height on the face, lip thickness, lip colour
accessories        glasses (round or square frames, their colour, tinted or clear),
                   beard, moustache, earrings
=================  ==============================================================

Nuisances (new for every image, :func:`render_faces`)
-----------------------------------------------------
pose (shift, in-plane rotation, scale, a left-right turn that moves the inner
features), expression (smile or frown, open mouth, blink, raised brows, gaze),
lighting (overall gain, a linear gradient across the face, a colour cast),
background colour and gradient, clothes colour, partial occlusion (a bar or a
scarf in front of the face), Gaussian blur and pixel noise.

All sizes are in *face units*: the image spans ``[-1, 1]`` in both directions
(``u`` to the right, ``v`` downwards) before the pose is applied, so traits do not
depend on the pixel size. A pixel is covered by a part in proportion to how far
its centre lies inside the part's outline (a soft edge one pixel wide), which
keeps small parts (eyes are 2 to 4 pixels wide at 32x32) visible and antialiased.

Calibration (``benchmarks/train_face.md``): on held-out identities the raw-pixel L2
distance verifies pairs with 10-fold accuracy no better than 0.75, so the task is
not solved by comparing pixels; a trained encoder must learn what is a trait and
what is a nuisance.

    >>> ids = make_face_identities(50, seed=0)
    >>> images, labels = make_face_dataset(ids, images_per_identity=10, seed=1)
    >>> images.shape, labels[:12]
    ((500, 32, 32, 3), array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import positive_int
from ._common import as_rng, gaussian_blur2d

__all__ = ["HAIR_STYLES", "FaceIdentities", "make_face_identities", "render_faces",
           "make_face_dataset"]

HAIR_STYLES = ("bald", "short", "fringe", "side parting", "long")

_SKIN_LIGHT = np.array([0.97, 0.82, 0.70])
_SKIN_DARK = np.array([0.33, 0.21, 0.14])
_HAIR_COLOURS = np.array([
    [0.08, 0.06, 0.05],      # black
    [0.25, 0.15, 0.08],      # dark brown
    [0.45, 0.29, 0.15],      # brown
    [0.85, 0.70, 0.38],      # blond
    [0.62, 0.25, 0.10],      # red
    [0.55, 0.55, 0.55],      # grey
    [0.90, 0.90, 0.88],      # white
    [0.20, 0.35, 0.75],      # dyed blue
])
_IRIS_COLOURS = np.array([[0.30, 0.18, 0.08], [0.20, 0.40, 0.75], [0.25, 0.50, 0.25],
                          [0.10, 0.08, 0.07]])
_FRAME_COLOURS = np.array([[0.05, 0.05, 0.05], [0.75, 0.75, 0.78], [0.70, 0.10, 0.10],
                           [0.55, 0.35, 0.10]])
_EARRING_COLOURS = np.array([[0.95, 0.80, 0.20], [0.85, 0.85, 0.90], [0.20, 0.60, 0.90]])


@dataclass
class FaceIdentities:
    """The fixed traits of ``n`` people: one entry per trait, arrays of length ``n``
    (colours ``(n, 3)`` in RGB [0, 1]); see the module docstring for their meaning."""

    traits: dict

    def __len__(self) -> int:
        return len(self.traits["head_w"])

    def subset(self, index) -> "FaceIdentities":
        """The identities ``index`` (ints or a boolean mask), in that order."""
        index = np.asarray(index)
        return FaceIdentities({k: v[index] for k, v in self.traits.items()})


def make_face_identities(n: int, seed=0) -> FaceIdentities:
    """Draw the traits of ``n`` people from ``seed`` (an int or a Generator).

    Two calls with different seeds give different people (the traits are continuous),
    which is how training and test identities are kept disjoint.
    """
    n = positive_int(n, "n")
    rng = as_rng(seed, "seed")
    u = lambda lo, hi, size=n: rng.uniform(lo, hi, size)          # noqa: E731
    tone = u(0.0, 1.0)[:, None]                                    # light (0) to dark (1)
    skin = (1 - tone) * _SKIN_LIGHT + tone * _SKIN_DARK + rng.normal(0, 0.025, (n, 3))
    hair_pick = rng.choice(len(_HAIR_COLOURS), size=n, p=[.22, .2, .16, .14, .08, .09, .05, .06])
    hair = _HAIR_COLOURS[hair_pick] * u(0.85, 1.15)[:, None] + rng.normal(0, 0.02, (n, 3))
    lip_red = u(0.15, 0.7)[:, None]
    traits = {
        "head_w": u(0.50, 0.70), "head_h": u(0.64, 0.82), "jaw": u(0.0, 0.40),
        "skin": np.clip(skin, 0, 1),
        "hair_style": rng.choice(len(HAIR_STYLES), size=n, p=[.12, .26, .22, .2, .2]),
        "hairline": u(-0.56, -0.22), "hair_volume": u(0.03, 0.16),
        "hair": np.clip(hair, 0, 1),
        "eye_dx": u(0.17, 0.29), "eye_y": u(-0.20, 0.0), "eye_r": u(0.065, 0.11),
        "eye_aspect": u(0.45, 0.85), "iris": _IRIS_COLOURS[rng.integers(0, 4, n)],
        "brow_thick": u(0.022, 0.06), "brow_tilt": u(-0.35, 0.35), "brow_gap": u(0.09, 0.18),
        "nose_len": u(0.12, 0.30), "nose_w": u(0.05, 0.13),
        "mouth_w": u(0.12, 0.30), "mouth_y": u(0.30, 0.48), "lip": u(0.018, 0.05),
        "lip_colour": np.clip((1 - lip_red) * skin * 0.8 + lip_red * np.array([0.75, 0.15, 0.2]), 0, 1),
        "glasses": (rng.random(n) < 0.3).astype(np.int64) * rng.integers(1, 3, n),  # 0 none, 1 round, 2 square
        "frame_colour": _FRAME_COLOURS[rng.integers(0, 4, n)],
        "tinted": rng.random(n) < 0.25,
        "beard": rng.random(n) < 0.22, "moustache": rng.random(n) < 0.25,
        "earrings": rng.random(n) < 0.2,
        "earring_colour": _EARRING_COLOURS[rng.integers(0, 3, n)],
    }
    return FaceIdentities(traits)


# ----------------------------------------------------------------------------- outlines
# Each returns a signed distance in face units (< 0 inside), shape (M, S, S); the
# coverage of a pixel of size ``px`` is clip(0.5 - sdf / px, 0, 1).

def _ellipse(x, y, cx, cy, rx, ry):
    """Approximate signed distance to the ellipse ``((x-cx)/rx)^2 + ((y-cy)/ry)^2 = 1``."""
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return (r - 1.0) * np.minimum(rx, ry)


def _segment(x, y, x0, y0, x1, y1, radius):
    """Signed distance to a capsule: the segment (x0, y0)-(x1, y1) thickened by ``radius``."""
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy + 1e-12), 0.0, 1.0)
    return np.hypot(x - x0 - t * dx, y - y0 - t * dy) - radius


def _box(x, y, cx, cy, hx, hy):
    """Signed distance (Chebyshev-style) to an axis-aligned box of half-sizes hx, hy."""
    return np.maximum(np.abs(x - cx) - hx, np.abs(y - cy) - hy)


class _Canvas:
    """M images being painted, back to front, with soft-edged alpha compositing."""

    def __init__(self, background: np.ndarray, px: np.ndarray):
        self.rgb = background                                   # (M, S, S, 3)
        self.px = px                                            # (M, 1, 1) pixel size in face units

    def coverage(self, sdf):
        return np.clip(0.5 - sdf / self.px, 0.0, 1.0)           # (M, S, S)

    def paint(self, alpha, colour):
        """``rgb <- (1 - alpha) rgb + alpha colour``; colour (M, 3) or (M, S, S, 3).

        Only the images and the rows and columns the part touches are updated (a
        beard or earrings are rare, an eye is small), in place:
        ``rgb += alpha (colour - rgb)``.
        """
        alpha = np.broadcast_to(alpha, self.rgb.shape[:3])
        hit = alpha > 0                                              # (M, S, S)
        images = np.flatnonzero(hit.any(axis=(1, 2)))
        if len(images) == 0:
            return
        rows = np.flatnonzero(hit.any(axis=(0, 2)))
        cols = np.flatnonzero(hit.any(axis=(0, 1)))
        r, c = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
        whole = len(images) == len(self.rgb)
        pick = slice(None) if whole else images
        a = alpha[pick, r, c, None].astype(np.float32)               # (T, h, w, 1)
        colour = colour[pick].astype(np.float32)
        colour = colour[:, None, None, :] if colour.ndim == 2 else colour[:, r, c]
        part = self.rgb[pick, r, c]                                  # a view when whole, else a copy
        part += a * (colour - part)
        if not whole:
            self.rgb[images, r, c] = part


def _col(a):
    return np.asarray(a, dtype=np.float32)[:, None, None]       # (M,) -> (M, 1, 1), float32


def render_faces(identities: FaceIdentities, ids, seed=0, size: int = 32,
                 nuisance: float = 1.0) -> np.ndarray:
    """Render one image of identity ``ids[m]`` for every ``m``, each with its own nuisances.

    Parameters
    ----------
    identities : the people (:func:`make_face_identities`).
    ids : ``(M,)`` ints, which identity each image shows (repeats give several images).
    seed : int or Generator for the nuisances (pose, light, expression, ...).
    size : the side ``S`` of the square images, in pixels.
    nuisance : scale of every nuisance (0: a frontal, evenly lit, clean portrait;
        1: the calibrated default; more is harder).

    Returns ``(M, S, S, 3)`` float32 RGB in [0, 1].
    """
    rng = as_rng(seed, "seed")
    size = positive_int(size, "size")
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(ids) and (ids.min() < 0 or ids.max() >= len(identities)):
        raise ValueError(f"ids: expected identity indices in [0, {len(identities) - 1}], "
                         f"received values in [{ids.min()}, {ids.max()}]")
    if not (isinstance(nuisance, (int, float)) and nuisance >= 0):
        raise ValueError(f"nuisance: expected a number >= 0, received {nuisance!r}")
    m, k = len(ids), float(nuisance)
    t = {name: (v[ids].astype(np.float32) if v.dtype.kind == "f" else v[ids])
         for name, v in identities.traits.items()}
    u = lambda lo, hi, shape=m: rng.uniform(lo, hi, shape)       # noqa: E731

    # -- pose: face coordinates (x, y) of every pixel centre (u, v) --------------------
    grid = ((np.arange(size) + 0.5) / size * 2.0 - 1.0).astype(np.float32)  # (S,) pixel centres
    gv, gu = np.meshgrid(grid, grid, indexing="ij")              # (S, S) rows v, columns u
    shift = u(-0.13, 0.13, (m, 2)) * k
    angle = np.deg2rad(u(-12, 12)) * k
    scale = np.exp(u(-0.10, 0.10) * k)
    yaw = u(-1, 1) * k                                           # left-right turn, -1..1
    c, s = _col(np.cos(angle)), _col(np.sin(angle))
    du, dv = gu[None] - _col(shift[:, 0]), gv[None] - _col(shift[:, 1])   # (M, S, S)
    x = (c * du + s * dv) / _col(scale)                          # R(-angle) (p - shift) / scale
    y = (-s * du + c * dv) / _col(scale)
    canvas_px = _col(2.0 / size / scale)

    # -- background, clothes -------------------------------------------------------------
    bg0, bg1 = u(0.05, 0.95, (m, 3)), u(0.05, 0.95, (m, 3))
    ramp = np.clip(0.5 + 0.5 * (_col(np.cos(u(0, 2 * np.pi))) * gu + _col(np.sin(u(0, 2 * np.pi))) * gv),
                   0, 1)[..., None]                              # (M, S, S, 1)
    bg = bg0[:, None, None] + (bg1 - bg0)[:, None, None] * ramp * min(k, 1.0)
    if k == 0:
        bg = np.broadcast_to(np.array([0.5, 0.5, 0.5]), (m, size, size, 3)).copy()
    cv = _Canvas(np.ascontiguousarray(bg, dtype=np.float32), canvas_px)
    clothes = 0.5 + (u(0.05, 0.95, (m, 3)) - 0.5) * min(k, 1.0)
    cv.paint(cv.coverage(_ellipse(x, y, 0, 1.45, 1.0, 0.55)), clothes)                  # shoulders

    hw, hh = _col(t["head_w"]), _col(t["head_h"])
    skin, hair = t["skin"], t["hair"]
    style = _col(t["hair_style"])
    # -- long hair behind the head, neck, ears ------------------------------------------
    vol = _col(t["hair_volume"])
    long_hair = cv.coverage(_ellipse(x, y, 0, 0.18, hw + vol + 0.05, hh + 0.32)) * (style == 4)
    cv.paint(long_hair, hair * 0.85)
    cv.paint(cv.coverage(_box(x, y, 0, 0.75, hw * 0.42, 0.35)), skin * 0.82)        # neck
    turn = _col(yaw) * 0.10                                      # inner features move with the turn
    ear_y = _col(t["eye_y"]) + 0.08
    for side in (-1, 1):
        ear = cv.coverage(_ellipse(x, y, side * (hw + 0.02) - turn * 0.5, ear_y, 0.075, 0.13))
        cv.paint(ear, skin * 0.93)
    # -- head: an ellipse whose lower half narrows towards the chin -----------------------
    below = np.clip(y / hh, 0, 1)
    half_w = hw * (1.0 - _col(t["jaw"]) * below ** 2)
    head = cv.coverage(_ellipse(x, y, 0, 0, half_w, hh))
    r2 = (x / hw) ** 2 + (y / hh) ** 2
    shade = (1.0 - 0.18 * np.clip(r2, 0, 1))[..., None]          # rounder look: darker rim
    cv.paint(head, skin[:, None, None, :] * shade)
    # -- hair on top: inside a slightly larger cap, above the hairline --------------------
    hairline = _col(t["hairline"]) + 0.35 * x ** 2
    fringe = _col(t["hairline"]) + 0.22 + 0.04 * np.sin(x * 40.0)
    parting = _col(t["hairline"]) + 0.25 * x + 0.1
    line = np.where(style == 2, fringe, np.where(style == 3, parting, hairline))
    cap = np.maximum(_ellipse(x, y, 0, -0.04, hw + vol, hh + vol), y - line)
    top_hair = cv.coverage(cap) * (style != 0)
    cv.paint(top_hair, hair)
    # -- beard and moustache ----------------------------------------------------------------
    mouth_y = _col(t["mouth_y"])
    jaw_zone = np.maximum(_ellipse(x, y, 0, 0, half_w + 0.01, hh + 0.03), mouth_y - 0.08 - y)
    cv.paint(cv.coverage(jaw_zone) * _col(t["beard"]) * 0.9, hair)
    mw = _col(t["mouth_w"])
    stache = _segment(x, y, -mw + turn, mouth_y - 0.07, mw + turn, mouth_y - 0.07, 0.035)
    cv.paint(cv.coverage(stache) * _col(t["moustache"]), hair)

    # -- eyes, with blink and gaze ----------------------------------------------------------
    eye_dx, eye_y, eye_r = _col(t["eye_dx"]), _col(t["eye_y"]), _col(t["eye_r"])
    blink = np.where(rng.random(m) < 0.12 * min(k, 1.0), 0.15, 1.0)
    eye_h = eye_r * _col(t["eye_aspect"] * blink)
    gaze = u(-0.3, 0.3, (m, 2)) * min(k, 1.0)
    for side in (-1, 1):
        ex = side * eye_dx + turn
        width = eye_r * (1.0 - 0.25 * np.clip(side * _col(yaw), 0, 1))   # the far eye looks narrower
        cv.paint(cv.coverage(_ellipse(x, y, ex, eye_y, width, eye_h)), np.full((m, 3), 0.95))
        iris = np.maximum(_ellipse(x, y, ex + _col(gaze[:, 0]) * width, eye_y + _col(gaze[:, 1]) * eye_h,
                                   eye_r * 0.55, eye_r * 0.55), _ellipse(x, y, ex, eye_y, width, eye_h))
        cv.paint(cv.coverage(iris), t["iris"])
    # -- brows ------------------------------------------------------------------------------
    raise_ = u(-0.02, 0.06) * min(k, 1.0)
    brow_colour = hair * 0.7 + 0.05
    for side in (-1, 1):
        bx, by = side * eye_dx + turn, eye_y - _col(t["brow_gap"]) - eye_r * 0.5 - _col(raise_)
        half = eye_r * 1.25
        tilt = _col(t["brow_tilt"]) * half * side
        brow = _segment(x, y, bx - half, by - tilt, bx + half, by + tilt, _col(t["brow_thick"]))
        cv.paint(cv.coverage(brow), brow_colour)
    # -- nose: a darker wedge from between the eyes down, and the nostrils --------------------
    nose_top, nose_len, nose_w = eye_y + 0.02, _col(t["nose_len"]), _col(t["nose_w"])
    nx = turn * 1.6
    depth = np.clip((y - nose_top) / nose_len, 0, 1)
    wedge = np.maximum(np.abs(x - nx) - nose_w * depth - 0.01, np.maximum(nose_top - y, y - nose_top - nose_len))
    cv.paint(cv.coverage(wedge) * 0.55, skin * 0.72)
    cv.paint(cv.coverage(_ellipse(x, y, nx, nose_top + nose_len, nose_w * 0.9, 0.025)), skin * 0.45)
    # -- mouth: a lip band along a parabola (smile > 0 lifts the corners), open sometimes -----
    smile = u(-0.4, 1.0) * min(k, 1.0) + 0.2
    open_ = np.where(rng.random(m) < 0.3 * min(k, 1.0), u(0.01, 0.05), 0.0)
    mx = x - turn * 1.2
    curve = mouth_y + _col(smile) * 0.9 * (mw ** 2 / 2 - mx ** 2)   # corners up when smiling
    lips = np.maximum(np.abs(y - curve) - _col(t["lip"]) - _col(open_), np.abs(mx) - mw)
    cv.paint(cv.coverage(lips), t["lip_colour"])
    inner = np.maximum(np.abs(y - curve) - _col(open_), np.abs(mx) - mw * 0.8)
    cv.paint(cv.coverage(inner) * (_col(open_) > 0), np.full((m, 3), 0.15))

    # -- accessories ------------------------------------------------------------------------
    glasses = _col(t["glasses"])
    lens_r = eye_r * 1.55
    for side in (-1, 1):
        ex = side * eye_dx + turn
        round_ = _ellipse(x, y, ex, eye_y, lens_r, lens_r * 0.85)
        square = _box(x, y, ex, eye_y, lens_r, lens_r * 0.75)
        outline = np.where(glasses == 1, round_, square)
        lens = cv.coverage(outline) * (glasses > 0) * _col(t["tinted"]) * 0.55
        cv.paint(lens, np.full((m, 3), 0.12))
        rim = cv.coverage(np.abs(outline) - 0.018) * (glasses > 0)
        cv.paint(rim, t["frame_colour"])
    bridge = _segment(x, y, -eye_dx + lens_r + turn, eye_y, eye_dx - lens_r + turn, eye_y, 0.015)
    cv.paint(cv.coverage(bridge) * (glasses > 0), t["frame_colour"])
    for side in (-1, 1):
        ring = _ellipse(x, y, side * (hw + 0.03) - turn * 0.5, ear_y + 0.14, 0.035, 0.035)
        cv.paint(cv.coverage(ring) * _col(t["earrings"]), t["earring_colour"])

    # -- lighting: gain, a gradient across the face, a colour cast --------------------------
    rgb = cv.rgb
    gain = np.exp(u(-0.35, 0.25) * k)
    light_dir = u(0, 2 * np.pi)
    slope = u(0.0, 0.45) * k
    gradient = 1.0 + _col(slope) * (_col(np.cos(light_dir)) * gu + _col(np.sin(light_dir)) * gv)
    cast = 1.0 + rng.normal(0, 0.06, (m, 3)) * k
    rgb = rgb * (_col(gain) * gradient)[..., None] * cast[:, None, None, :]
    # -- occlusion: a bar (hand, paper, scarf) in front of part of the face -----------------
    occluded = rng.random(m) < 0.35 * min(k, 1.0)
    ox, oy = u(-0.6, 0.6), u(-0.5, 0.9)
    ow, oh = u(0.15, 0.6), u(0.08, 0.25)
    bar = np.clip(0.5 - _box(gu[None], gv[None], _col(ox), _col(oy), _col(ow), _col(oh)) * size / 2, 0, 1)
    bar = bar * _col(occluded)
    rgb = (1 - bar[..., None]) * rgb + bar[..., None] * u(0.05, 0.95, (m, 3))[:, None, None, :]
    # -- camera: blur and noise -----------------------------------------------------------
    sigma = u(0.0, 1.0) * k                                      # blur in pixels, in three strengths
    channels_first = np.moveaxis(rgb, -1, 1).copy()               # (M, 3, S, S): blur the last two axes
    for low, high, level in ((0.3, 0.65, 0.5), (0.65, np.inf, 0.85)):
        pick = (sigma > low) & (sigma <= high)
        if pick.any():
            channels_first[pick] = gaussian_blur2d(channels_first[pick], level)
    rgb = np.moveaxis(channels_first, 1, -1)                      # (M, S, S, 3)
    rgb = rgb + rng.normal(0, 1, rgb.shape) * _col(u(0.005, 0.05) * k)[..., None]
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def make_face_dataset(identities: FaceIdentities, images_per_identity: int = 10, seed=0,
                      size: int = 32, nuisance: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``images_per_identity`` images of every identity: ``(images (N, S, S, 3), labels (N,))``.

    Images come grouped by identity (``labels = [0]*k + [1]*k + ...``) and ``N =
    len(identities) * images_per_identity``; ``seed`` draws the nuisances.
    """
    k = positive_int(images_per_identity, "images_per_identity")
    labels = np.repeat(np.arange(len(identities), dtype=np.int64), k)
    rng = as_rng(seed, "seed")
    chunks = [render_faces(identities, labels[i:i + 256], seed=rng, size=size, nuisance=nuisance)
              for i in range(0, len(labels), 256)]          # 256 at a time: the arrays stay in cache
    return np.concatenate(chunks), labels
