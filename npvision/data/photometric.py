"""Colour and intensity augmentation: AlexNet's "fancy PCA", histogram equalisation,
and per-channel normalisation with its inverse.

None of these move pixels, so boxes, landmarks and masks are unchanged by them.
Images are (H, W) grey, (H, W, C), or batches (N, H, W, C), floating point; the
dtype is kept. (Re-exported by :mod:`npvision.data.augment`.)
"""

from __future__ import annotations

import numpy as np

from ._common import as_rng, check_image, from_nhwc, to_nhwc

__all__ = ["rgb_pca", "pca_color_shift", "fancy_pca", "equalize_histogram",
           "channel_stats", "normalize", "denormalize"]


def _channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[-1]


def rgb_pca(images) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of the pixel colours of ``images`` (..., C).

    Every pixel is one sample ``x`` in R^C. With ``Sigma = Cov(x)`` (C, C), returns
    ``(eigvals (C,), eigvecs (C, C))`` with ``Sigma eigvecs[:, i] = eigvals[i] eigvecs[:, i]``,
    largest eigenvalue first. Compute it once over the training set and pass it to
    :func:`fancy_pca`.
    """
    images = check_image(images, "images")
    c = _channels(images)
    if c < 2:
        raise ValueError(f"images: colour PCA needs at least 2 channels, received shape {images.shape}")
    pixels = images.reshape(-1, c).astype(np.float64)                  # (P, C)
    cov = np.cov(pixels, rowvar=False)                                 # (C, C)
    vals, vecs = np.linalg.eigh(cov)                                   # ascending
    order = np.argsort(vals)[::-1]
    return np.maximum(vals[order], 0.0), vecs[:, order]


def _check_pca(eigvals, eigvecs, c: int) -> tuple[np.ndarray, np.ndarray]:
    eigvals = np.asarray(eigvals, dtype=np.float64)
    eigvecs = np.asarray(eigvecs, dtype=np.float64)
    if eigvals.shape != (c,) or eigvecs.shape != (c, c):
        raise ValueError(f"eigvals/eigvecs: expected shapes ({c},) and ({c}, {c}) for {c} channels, "
                         f"received {eigvals.shape} and {eigvecs.shape}")
    return eigvals, eigvecs


def pca_color_shift(image, alpha, eigvals, eigvecs, clip: bool = False) -> np.ndarray:
    """Add the same colour offset to every pixel (Krizhevsky et al., 2012, section 4.1):

        I'(x, y) = I(x, y) + [p_1 ... p_C] [alpha_1 lambda_1, ..., alpha_C lambda_C]^T

    ``p_i = eigvecs[:, i]``, ``lambda_i = eigvals[i]`` from :func:`rgb_pca`; ``alpha`` (C,)
    for one image, or (N, C) for a batch (one offset per image). ``clip`` keeps [0, 1].
    """
    image = check_image(image)
    c = _channels(image)
    eigvals, eigvecs = _check_pca(eigvals, eigvecs, c)
    alpha = np.asarray(alpha, dtype=np.float64)
    if image.ndim == 4 and alpha.shape == (image.shape[0], c):
        shift = (alpha * eigvals) @ eigvecs.T                          # (N, C)
        shift = shift[:, None, None, :]                                # (N, 1, 1, C)
    elif alpha.shape == (c,):
        shift = eigvecs @ (alpha * eigvals)                            # (C,)
    else:
        raise ValueError(f"alpha: expected shape ({c},) or (N, {c}), received {alpha.shape}")
    out = image + shift.astype(image.dtype)
    return np.clip(out, 0.0, 1.0) if clip else out


def fancy_pca(image, rng, std: float = 0.1, eigvals=None, eigvecs=None, clip: bool = False
              ) -> np.ndarray:
    """AlexNet's colour augmentation: :func:`pca_color_shift` with
    ``alpha_i ~ N(0, std^2)`` drawn afresh for each image (each image of a batch too).

    ``eigvals``/``eigvecs`` default to the PCA of ``image`` itself; for training pass
    the PCA of the whole training set (:func:`rgb_pca`).
    """
    rng = as_rng(rng)
    image = check_image(image)
    c = _channels(image)
    if std < 0:
        raise ValueError(f"std: expected a value >= 0, received {std}")
    if eigvals is None or eigvecs is None:
        eigvals, eigvecs = rgb_pca(image)
    n = image.shape[0] if image.ndim == 4 else None
    alpha = rng.normal(0.0, std, size=(c,) if n is None else (n, c))
    return pca_color_shift(image, alpha, eigvals, eigvecs, clip=clip)


def equalize_histogram(image, bins: int = 256, value_range: tuple[float, float] = (0.0, 1.0)
                       ) -> np.ndarray:
    """Histogram equalisation of each channel of each image.

    With ``F`` the cumulative histogram of the channel (``bins`` bins over
    ``value_range``, normalised so ``F(hi) = 1``) and linear interpolation inside each
    bin, every value ``v`` becomes ``lo + (hi - lo) F(v)``. The output values are then
    (close to) uniformly spread over ``value_range``: a near-flat histogram.
    """
    image = check_image(image)
    if not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins: expected an int >= 2, received {bins!r}")
    lo, hi = float(value_range[0]), float(value_range[1])
    if not hi > lo:
        raise ValueError(f"value_range: expected (low, high) with high > low, received {value_range!r}")
    x, shape = to_nhwc(image)
    out = np.empty_like(x)
    edges = np.linspace(lo, hi, bins + 1)
    for n in range(x.shape[0]):
        for ch in range(x.shape[3]):
            v = x[n, :, :, ch]
            counts, _ = np.histogram(np.clip(v, lo, hi), bins=edges)
            cdf = np.concatenate([[0.0], np.cumsum(counts)]) / max(v.size, 1)   # (bins + 1,)
            out[n, :, :, ch] = lo + (hi - lo) * np.interp(v, edges, cdf)
    return from_nhwc(out, shape)


def channel_stats(images) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over every other axis: ``(mean (C,), std (C,))``
    in the images' dtype (grey (H, W) images count as one channel)."""
    images = check_image(images, "images")
    c = _channels(images)
    pixels = images.reshape(-1, c).astype(np.float64)                  # (P, C)
    return pixels.mean(0).astype(images.dtype), pixels.std(0).astype(images.dtype)


def _check_stats(mean, std, c: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Scalars or (C,) vectors, in the image's dtype; ``std`` must be positive."""
    stats = []
    for name, v in (("mean", mean), ("std", std)):
        v = np.asarray(v, dtype=dtype)
        if v.ndim == 0:
            v = np.full(c, v, dtype=dtype)
        if v.shape != (c,):
            raise ValueError(f"{name}: expected a scalar or shape ({c},) for {c} channels, "
                             f"received shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name}: expected finite values, received {v}")
        stats.append(v)
    if np.any(stats[1] <= 0):
        raise ValueError(f"std: expected positive values, received {stats[1]}")
    return stats[0], stats[1]


def normalize(image, mean, std) -> np.ndarray:
    """``(image - mean) / std`` per channel (the last axis); see :func:`channel_stats`."""
    image = check_image(image)
    mean, std = _check_stats(mean, std, _channels(image), image.dtype)
    return (image - mean) / std


def denormalize(image, mean, std) -> np.ndarray:
    """The inverse of :func:`normalize`: ``image * std + mean`` per channel."""
    image = check_image(image)
    mean, std = _check_stats(mean, std, _channels(image), image.dtype)
    return image * std + mean
