"""Colour spaces: RGB to HSV, to CIE L*a*b*, to normalized rg + intensity.

Every function takes an RGB image ``(..., 3)`` of floats in [0, 1] (sRGB, as
PNG and JPEG files store it; any leading shape: one pixel ``(3,)``, an image
``(H, W, 3)`` or a batch ``(N, H, W, 3)``) and returns ``(..., 3)`` float64.
Integer images are refused (divide 8-bit pixels by 255 first).

HSV (the hexcone of Smith 1978), with ``M = max(R, G, B)``, ``m = min(R, G, B)``
and the chroma ``D = M - m``::

    V = M
    S = D / M                  (0 when M = 0)
    H = 1/6 * { (G - B) / D        if M = R       (mod 1: H in [0, 1))
              { 2 + (B - R) / D    if M = G
              { 4 + (R - G) / D    if M = B
    H = 0 when D = 0 (a grey has no hue)

Hue is an angle, scaled to [0, 1): red 0, yellow 1/6, green 1/3, cyan 1/2,
blue 2/3, magenta 5/6.

CIE L*a*b* under the D65 white (the sRGB standard, IEC 61966-2-1, and the CIE
1976 formulas)::

    linear c = c / 12.92                      if c <= 0.04045    (undo the sRGB gamma)
             = ((c + 0.055) / 1.055) ** 2.4   otherwise
    [X, Y, Z] = M_sRGB @ [R, G, B]_linear     then divided by the white (0.95047, 1, 1.08883)
    f(t) = t ** (1/3)                         if t > (6/29) ** 3
         = t / (3 (6/29) ** 2) + 4/29         otherwise
    L* = 116 f(Y) - 16,   a* = 500 (f(X) - f(Y)),   b* = 200 (f(Y) - f(Z))

(scikit-image's ``rgb2hsv`` gives the same HSV to the last bit, and its ``rgb2lab`` the
same L*a*b* to 3e-5: it rounds the dark segment's constants to 7.787 and 0.008856.)
``L*`` is in [0, 100]; over the sRGB gamut ``a*`` spans about [-86.2, 98.2]
and ``b*`` about [-107.9, 94.5] (:data:`LAB_RANGE`).

rgI (Uijlings et al. 2013's "normalized rg plus intensity"): ``r = R / (R + G + B)``,
``g = G / (R + G + B)`` (both 1/3 for black) and ``I = (R + G + B) / 3``.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array

__all__ = ["rgb_to_hsv", "rgb_to_lab", "rgb_to_rgi", "LAB_RANGE"]

# sRGB (linear) -> XYZ, D65 white: the matrix of IEC 61966-2-1.
_XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_DELTA = 6.0 / 29.0

#: ``((L_min, L_max), (a_min, a_max), (b_min, b_max))``: the range of L*a*b* over the
#: sRGB gamut (rounded outwards), used to scale Lab channels to [0, 1].
LAB_RANGE = ((0.0, 100.0), (-86.2, 98.3), (-107.9, 94.5))


def _check_rgb(image, name: str = "image") -> np.ndarray:
    x = as_float_array(image, name)
    if x.ndim < 1 or x.shape[-1] != 3:
        raise ValueError(f"{name}: expected RGB values with 3 channels on the last axis, "
                         f"(..., 3), received shape {x.shape}")
    return x.astype(np.float64, copy=False)


def rgb_to_hsv(image) -> np.ndarray:
    """RGB ``(..., 3)`` in [0, 1] -> HSV ``(..., 3)``, each channel in [0, 1] (hue in [0, 1))."""
    rgb = _check_rgb(image)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    d = v - rgb.min(axis=-1)                                         # chroma
    safe_d = np.where(d > 0, d, 1.0)
    s = np.where(v > 0, d / np.where(v > 0, v, 1.0), 0.0)
    # The sector of the hexcone: which channel is the largest (blue wins ties, then green).
    h = np.select([b == v, g == v], [4.0 + (r - g) / safe_d, 2.0 + (b - r) / safe_d],
                  default=(g - b) / safe_d)
    h = np.where(d > 0, (h / 6.0) % 1.0, 0.0)
    return np.stack([h, s, v], axis=-1)                              # (..., 3)


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _DELTA ** 3, np.cbrt(t), t / (3 * _DELTA ** 2) + 4.0 / 29.0)


def rgb_to_lab(image) -> np.ndarray:
    """sRGB ``(..., 3)`` in [0, 1] -> CIE L*a*b* ``(..., 3)`` (D65): L* in [0, 100], a*, b* signed."""
    rgb = _check_rgb(image)
    xyz = _srgb_to_linear(rgb) @ _XYZ_FROM_RGB.T / _D65_WHITE        # (..., 3) relative to white
    fx, fy, fz = _lab_f(xyz[..., 0]), _lab_f(xyz[..., 1]), _lab_f(xyz[..., 2])
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def rgb_to_rgi(image) -> np.ndarray:
    """RGB ``(..., 3)`` in [0, 1] -> ``(r, g, I)``: chromaticities ``R / sum``, ``G / sum`` and intensity ``sum / 3``."""
    rgb = _check_rgb(image)
    total = rgb.sum(axis=-1)
    safe = np.where(total > 0, total, 1.0)
    r = np.where(total > 0, rgb[..., 0] / safe, 1.0 / 3.0)
    g = np.where(total > 0, rgb[..., 1] / safe, 1.0 / 3.0)
    return np.stack([r, g, total / 3.0], axis=-1)
