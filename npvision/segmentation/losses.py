"""Segmentation losses on per-pixel logits, each returning ``(loss, dlogits)``.

Shapes: ``logits (N, H, W, K)`` (the classes last), ``labels (N, H, W)`` integers in
``[0, K)``, or ``ignore_index`` for pixels that count for nothing (unlabelled borders).

Per-pixel softmax cross-entropy
-------------------------------
The classification loss applied at every pixel, averaged over the counted pixels
(weighted by ``class_weights[y]`` if given). This is ``F.softmax_cross_entropy``,
which already handles ``(N, H, W, K)`` logits; :func:`pixel_cross_entropy` only adds
the segmentation-specific checks.

Soft Dice
---------
With ``p = softmax(z)`` per pixel, ``t`` the one-hot labels and ``m`` the mask of
counted pixels, for each class ``k`` (sums over every counted pixel ``i`` of the batch)::

    I_k = sum_i m_i p_ik t_ik        P_k = sum_i m_i p_ik        T_k = sum_i m_i t_ik
    dice_k = (2 I_k + s) / (P_k + T_k + s)                       (s = smooth > 0)
    loss = 1 - mean_k dice_k         (or the class_weights-weighted mean)

The smoothing ``s`` keeps a class absent from both the truth and the prediction at
``dice_k ~ 1`` instead of 0/0. Gradient, first with respect to the probabilities::

    d dice_k / d p_ik = m_i (2 t_ik D_k - N_k) / D_k^2          N_k = 2 I_k + s, D_k = P_k + T_k + s
    g_ik = d loss / d p_ik = -(w_k / sum w) d dice_k / d p_ik

then through the softmax (its Jacobian ``diag(p) - p p^T`` applied to ``g``)::

    d loss / d z_ik = p_ik (g_ik - sum_j g_ij p_ij)

Cross-entropy and Dice together
-------------------------------
:func:`dice_cross_entropy_loss`: ``CE + dice_weight * Dice``; the gradients add.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .._checks import as_float_array

__all__ = ["check_labels", "pixel_cross_entropy", "soft_dice_loss", "dice_cross_entropy_loss"]


def check_labels(labels, shape, num_classes: int, ignore_index=None, name: str = "labels") -> np.ndarray:
    """Validate an integer label map: shape ``shape`` and values in ``[0, num_classes)`` or ``ignore_index``.

    ``shape`` is the expected ``(N, H, W)`` (e.g. the image's or the logits' without
    the last axis). Returns ``labels`` as an int64 array. Raises ``ValueError``/``TypeError``
    naming ``name``, what was received and what was expected.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, received dtype {labels.dtype}")
    if labels.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)} (one label per pixel of the image), "
                         f"received {labels.shape}")
    if ignore_index is not None and (not isinstance(ignore_index, numbers.Integral)
                                     or isinstance(ignore_index, bool)):
        raise TypeError(f"ignore_index: expected an int or None, received {ignore_index!r}")
    counted = labels if ignore_index is None else labels[labels != ignore_index]
    if counted.size and (counted.min() < 0 or counted.max() >= num_classes):
        bad = counted[(counted < 0) | (counted >= num_classes)]
        extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise ValueError(f"{name}: expected class labels in [0, {num_classes}){extra} "
                         f"({num_classes} classes), received values {sorted(set(bad.tolist()))[:5]}")
    return labels.astype(np.int64, copy=False)


def _check_logits(logits) -> np.ndarray:
    logits = as_float_array(logits, "logits", ndim=4, layout="(N, H, W, K)")
    if logits.shape[-1] < 2:
        raise ValueError(f"logits: expected K >= 2 classes on the last axis, received shape {logits.shape}")
    return logits


def _check_weights(class_weights, k: int):
    if class_weights is None:
        return None
    w = as_float_array(class_weights, "class_weights", ndim=1)
    if w.shape != (k,) or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() == 0:
        raise ValueError(f"class_weights: expected {k} finite non-negative weights (not all 0), "
                         f"received {w}")
    return w


def pixel_cross_entropy(logits, labels, class_weights=None, ignore_index=None):
    """Mean softmax cross-entropy over the counted pixels -> ``(loss, dlogits)``.

    ``logits (N, H, W, K)``, ``labels (N, H, W)``; ``class_weights (K,)`` optional;
    pixels labelled ``ignore_index`` add nothing. A thin checked wrapper around
    :func:`npvision.functional.softmax_cross_entropy` (see its docstring for the math).
    """
    logits = _check_logits(logits)
    labels = check_labels(labels, logits.shape[:3], logits.shape[-1], ignore_index)
    return F.softmax_cross_entropy(logits, labels, axis=-1, class_weights=class_weights,
                                   ignore_index=ignore_index)


def soft_dice_loss(logits, labels, smooth: float = 1.0, class_weights=None, ignore_index=None):
    """``1 - mean_k dice_k`` of the softmax probabilities (module docstring) -> ``(loss, dlogits)``.

    ``logits (N, H, W, K)``, ``labels (N, H, W)``; ``smooth > 0``; ``class_weights (K,)``
    weights the classes in the mean (default: all equal). Pixels labelled
    ``ignore_index`` are left out of every sum. ``dlogits`` has the logits' dtype.
    """
    logits = _check_logits(logits)
    k = logits.shape[-1]
    labels = check_labels(labels, logits.shape[:3], k, ignore_index)
    if not isinstance(smooth, numbers.Real) or not smooth > 0:
        raise ValueError(f"smooth: expected a number > 0, received {smooth!r}")
    w = _check_weights(class_weights, k)
    w = np.ones(k) if w is None else w.astype(np.float64)
    w = w / w.sum()                                                     # (K,) sums to 1

    z = logits.astype(np.float64).reshape(-1, k)                        # (M, K), M = N H W pixels
    y = labels.reshape(-1)                                              # (M,)
    mask = np.ones(y.shape) if ignore_index is None else (y != ignore_index).astype(np.float64)
    p, _ = F.softmax_forward(z, axis=-1)                                # (M, K)
    t = np.zeros_like(p)
    counted = mask > 0
    t[np.flatnonzero(counted), y[counted]] = 1.0                        # (M, K) one-hot, 0 if ignored
    pm = p * mask[:, None]                                              # (M, K) counted probabilities

    inter = np.sum(pm * t, axis=0)                                      # (K,) I_k
    num = 2.0 * inter + smooth                                          # (K,) N_k
    den = pm.sum(axis=0) + t.sum(axis=0) + smooth                       # (K,) D_k
    dice = num / den                                                    # (K,)
    loss = 1.0 - np.sum(w * dice)

    d_dice_dp = mask[:, None] * (2.0 * t * den - num) / den ** 2        # (M, K)
    g = -w * d_dice_dp                                                  # (M, K) d loss / d p
    dz = p * (g - np.sum(g * p, axis=1, keepdims=True))                 # (M, K) through the softmax
    return float(loss), dz.reshape(logits.shape).astype(logits.dtype)   # (N, H, W, K)


def dice_cross_entropy_loss(logits, labels, dice_weight: float = 1.0, smooth: float = 1.0,
                            class_weights=None, ignore_index=None):
    """``pixel_cross_entropy + dice_weight * soft_dice_loss`` -> ``(loss, dlogits)`` (gradients add)."""
    if not isinstance(dice_weight, numbers.Real) or dice_weight < 0:
        raise ValueError(f"dice_weight: expected a number >= 0, received {dice_weight!r}")
    ce, d_ce = pixel_cross_entropy(logits, labels, class_weights, ignore_index)
    dice, d_dice = soft_dice_loss(logits, labels, smooth, class_weights, ignore_index)
    return ce + dice_weight * dice, d_ce + dice_weight * d_dice
