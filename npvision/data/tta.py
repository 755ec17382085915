"""Test-time augmentation: the five / ten standard crops of an image, and averaging
the predictions of several crops or several models (Krizhevsky et al., 2012: "the
network makes a prediction by extracting five 224x224 patches (the four corner
patches and the center patch) as well as their horizontal reflections ... and
averaging the predictions made by the network's softmax layer on the ten patches").

Re-exported by :mod:`npvision.data.augment`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._common import check_image, size_pair, spatial_shape

__all__ = ["five_crop", "ten_crop", "average_predictions", "predict_with_crops"]


def _crop_size(image: np.ndarray, size) -> tuple[int, int, int, int]:
    """(H, W, h, w) of the image and of a crop that must fit inside it."""
    h, w = spatial_shape(image)
    ch, cw = size_pair(size, "size")
    if ch > h or cw > w:
        raise ValueError(f"size: a {ch}x{cw} crop does not fit in the {h}x{w} image")
    return h, w, ch, cw


def _crop(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Rows top..top+height-1 and columns left..left+width-1 of (H, W, C) or (N, H, W, C)."""
    if image.ndim == 4:
        return image[:, top:top + height, left:left + width]
    return image[top:top + height, left:left + width]


def five_crop(image, size) -> np.ndarray:
    """The four corner crops and the centre crop of ``size``: (H, W, C) -> (5, h, w, C)
    and (N, H, W, C) -> (5, N, h, w, C), in the order top-left, top-right, bottom-left,
    bottom-right, centre."""
    image = check_image(image)
    h, w, ch, cw = _crop_size(image, size)
    tops_lefts = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    return np.stack([_crop(image, t, l, ch, cw) for t, l in tops_lefts])


def ten_crop(image, size) -> np.ndarray:
    """:func:`five_crop` followed by the left-right mirror of each of the five (the
    AlexNet test-time recipe): (H, W, C) -> (10, h, w, C), (N, H, W, C) -> (10, N, h, w, C)."""
    five = five_crop(image, size)
    axis = -2 if five.ndim >= 4 else -1        # the width axis of each crop
    return np.concatenate([five, np.flip(five, axis=axis)], axis=0)


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def average_predictions(predictions, weights=None, from_logits: bool = False) -> np.ndarray:
    """Average several predictions of the same inputs (several crops, or several models).

    ``predictions``: a sequence of M arrays of one shape (or one array (M, ...)).
    With ``from_logits`` each is first turned into class probabilities by a softmax on
    the last axis, so the result is the mean *probability* (averaging logits would let
    one over-confident member dominate). ``weights`` (M,) gives a weighted mean.
    """
    if isinstance(predictions, np.ndarray):
        preds = predictions
    else:
        arrays = [np.asarray(p) for p in predictions]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"predictions: expected arrays of one shape, received shapes {sorted(shapes)}")
        preds = np.stack(arrays) if arrays else np.zeros((0,))
    if preds.ndim < 1 or len(preds) == 0:
        raise ValueError("predictions: expected at least one prediction")
    preds = _as_float_predictions(preds)
    if from_logits:
        preds = _softmax(preds, axis=-1)
    if weights is None:
        return preds.mean(axis=0)
    wts = np.asarray(weights, dtype=np.float64)
    if wts.shape != (len(preds),) or np.any(wts < 0) or wts.sum() <= 0:
        raise ValueError(f"weights: expected {len(preds)} non-negative weights with a positive "
                         f"sum, received {weights!r}")
    wts = (wts / wts.sum()).reshape((-1,) + (1,) * (preds.ndim - 1))
    return (wts * preds).sum(axis=0).astype(preds.dtype, copy=False)


def _as_float_predictions(a: np.ndarray) -> np.ndarray:
    """Predictions as floats (integer votes become float64)."""
    if a.dtype.kind in "iub":
        return a.astype(np.float64)
    if a.dtype.kind != "f":
        raise TypeError(f"predictions: expected numeric arrays, received dtype {a.dtype}")
    return a


def predict_with_crops(predict: Callable | object, images, size, crops: str = "ten",
                       from_logits: bool = True) -> np.ndarray:
    """Test-time augmentation: predict each crop of a batch and average.

    ``predict`` is a function ``(N, h, w, C) -> (N, K)`` or an object with ``forward``
    (e.g. an ``nn.Module`` in eval mode); ``images`` (N, H, W, C); ``crops`` is
    ``"ten"``, ``"five"`` or ``"center"``. Returns the (N, K) averaged probabilities
    (or averaged outputs when ``from_logits=False``).
    """
    fn = predict.forward if hasattr(predict, "forward") else predict
    if not callable(fn):
        raise TypeError(f"predict: expected a function or an object with .forward, "
                        f"received {type(predict).__name__}")
    images = check_image(images)
    if images.ndim != 4:
        raise ValueError(f"images: expected a batch (N, H, W, C), received shape {images.shape}")
    if crops == "ten":
        views = ten_crop(images, size)
    elif crops == "five":
        views = five_crop(images, size)
    elif crops == "center":
        h, w, ch, cw = _crop_size(images, size)
        views = _crop(images, (h - ch) // 2, (w - cw) // 2, ch, cw)[None]
    else:
        raise ValueError(f"crops: expected 'ten', 'five' or 'center', received {crops!r}")
    return average_predictions([fn(np.ascontiguousarray(v)) for v in views], from_logits=from_logits)
