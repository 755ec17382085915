"""Is this image like the ones a model was trained on? A few image statistics, compared.

A model trained on the synthetic scenes answers on any picture -- a photograph of an
astronaut included -- with the same confidence and no word that it only knows four
shapes. :func:`image_profile` summarizes a training set by four statistics per
image; :func:`unfamiliarity` measures how far a new image lies from them, so the
command line can warn.

The statistics of one image, computed after resizing it (antialiased) to
``ANALYSIS_SIZE x ANALYSIS_SIZE`` so that the image's own size matters little:

===============  =============================================================
``brightness``   mean of all pixels and channels
``contrast``     standard deviation over the pixels, averaged over the channels
``colourfulness``  mean over pixels of ``max_c x - min_c x`` (0 for grey)
``texture``      fraction of pixels whose difference from the mean of their four
                 neighbours exceeds ``TEXTURE_STEP`` in some channel (edges and
                 texture; the scenes' pixel noise is averaged away by the resize)
===============  =============================================================

For each statistic ``k`` the profile keeps the training mean ``mu_k`` and standard
deviation ``sigma_k``; a new image gets ``z_k = (s_k - mu_k) / sigma_k``. It is called
unfamiliar when ``max_k |z_k| > 4`` (texture: only ``z > 4``, a smoother image is
no concern) or ``sum_k z_k^2 > 20`` (about the 99.95th percentile of a chi-square
with 4 degrees of freedom, were the statistics independent normals). Against a
profile of 300 training scenes, 1 or 2 of 865 fresh synthetic scenes of sizes from
32x32 to 640x480 are flagged (about 0.2%); of the eight photographs shipped with npvision six are (the cat and the rocket are
not): a heuristic that catches gross mismatches, not a guarantee.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array

__all__ = ["ANALYSIS_SIZE", "STATISTICS", "image_statistics", "image_profile", "unfamiliarity"]

ANALYSIS_SIZE = 24
TEXTURE_STEP = 0.06
STATISTICS = ("brightness", "contrast", "colourfulness", "texture")
_MAX_Z, _MAX_SUM_Z2 = 4.0, 20.0
_MIN_SIGMA = 1e-3


def _as_batch(images) -> np.ndarray:
    x = as_float_array(images, "images")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.shape[0] == 0:
        raise ValueError(f"images: expected (N, H, W, C) or (H, W, C) with C = 1 or 3 and N >= 1, "
                         f"received shape {x.shape}")
    return x


def image_statistics(images) -> np.ndarray:
    """``images (N, H, W, C)`` (or one ``(H, W, C)``) in [0, 1] -> ``(N, 4)`` statistics (module docstring)."""
    from .augment import resize

    x = _as_batch(images)
    x = np.stack([resize(im, (ANALYSIS_SIZE, ANALYSIS_SIZE)).image for im in x]).astype(np.float64)  # (N, S, S, C)
    brightness = x.mean(axis=(1, 2, 3))                                                # (N,)
    contrast = x.std(axis=(1, 2)).mean(axis=1)                                         # (N,)
    colourfulness = (x.max(axis=-1) - x.min(axis=-1)).mean(axis=(1, 2))                # (N,)
    neighbours = (x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:]) / 4  # (N, S-2, S-2, C)
    residual = np.abs(x[:, 1:-1, 1:-1] - neighbours).max(axis=-1)                      # (N, S-2, S-2)
    texture = (residual > TEXTURE_STEP).mean(axis=(1, 2))                              # (N,)
    return np.column_stack([brightness, contrast, colourfulness, texture])             # (N, 4)


def image_profile(images, description: str) -> dict:
    """The JSON-able profile of a training set: what it is, and the statistics' mean and spread.

    ``description``: what the images are, in words a user understands (it is printed
    in the warning), e.g. ``"synthetic 64x64 scenes of coloured shapes"``.
    """
    if not isinstance(description, str) or not description:
        raise ValueError(f"description: expected a non-empty str, received {description!r}")
    s = image_statistics(images)                                                       # (N, 4)
    return {"description": description, "statistics": list(STATISTICS), "n_images": int(len(s)),
            "mean": s.mean(axis=0).round(6).tolist(), "std": s.std(axis=0).round(6).tolist()}


def unfamiliarity(image, profile: dict) -> dict:
    """How far ``image (H, W, C)`` lies from a training ``profile``: ``{"unfamiliar", "z", "reason"}``.

    ``z`` maps each statistic to its z-score; ``reason`` names the farthest statistic
    in words (``"texture 8.1 standard deviations above the training images"``), or is
    ``""`` when the image looks familiar.
    """
    if not isinstance(profile, dict) or any(k not in profile for k in ("mean", "std")):
        raise ValueError(f"profile: expected a dict made by image_profile, received {profile!r}")
    s = image_statistics(image)[0]                                                     # (4,)
    mu = np.asarray(profile["mean"], dtype=np.float64)
    sigma = np.maximum(np.asarray(profile["std"], dtype=np.float64), _MIN_SIGMA)
    z = (s - mu) / sigma                                                               # (4,)
    signed = z.copy()
    signed[3] = max(z[3], 0.0)                               # a smoother image than training is fine
    unfamiliar = bool(np.abs(signed).max() > _MAX_Z or float(np.sum(signed ** 2)) > _MAX_SUM_Z2)
    k = int(np.argmax(np.abs(signed)))
    reason = ""
    if unfamiliar:
        reason = (f"its {STATISTICS[k]} is {abs(z[k]):.1f} standard deviations "
                  f"{'above' if z[k] > 0 else 'below'} that of the training images")
    return {"unfamiliar": unfamiliar, "z": dict(zip(STATISTICS, z.round(3).tolist())), "reason": reason}
