"""Segmentation metrics from one confusion matrix: pixel accuracy, IoU and Dice.

``pred`` and ``target`` are integer label maps of one shape, e.g. ``(N, H, W)``
(take ``pred = logits.argmax(-1)``). Pixels whose *target* is ``ignore_index``
are left out of everything. Over the counted pixels::

    C[t, p] = number of pixels of true class t predicted as p      (K x K confusion matrix)
    TP_k = C[k, k]      FP_k = sum_t C[t, k] - TP_k      FN_k = sum_p C[k, p] - TP_k

    pixel accuracy = trace(C) / sum(C)
    IoU_k  = TP_k / (TP_k + FP_k + FN_k)          (intersection over union)
    Dice_k = 2 TP_k / (2 TP_k + FP_k + FN_k)      (= 2 IoU_k / (1 + IoU_k))

**Absent classes.** A class that appears neither in the target nor in the
prediction has ``TP + FP + FN = 0``: its IoU and Dice are undefined. They are
reported as ``nan`` and *not counted*: the mean IoU and mean Dice average only the
classes present in the target or the prediction (no division by zero ever happens).
A class present in the target but never predicted scores 0, and so does one
predicted but absent from the target (a false alarm). When no pixel is counted at
all (everything ignored) there is nothing to score and a ``ValueError`` is raised.

The metrics of a whole data set are those of the sum of the per-batch
confusion matrices, not the mean of per-image scores.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import positive_int

__all__ = ["confusion_matrix", "pixel_accuracy", "per_class_iou", "mean_iou", "per_class_dice",
           "mean_dice", "iou_from_confusion", "dice_from_confusion", "segmentation_scores"]


def _check_pair(pred, target, num_classes, ignore_index):
    pred, target = np.asarray(pred), np.asarray(target)
    for name, a in (("pred", pred), ("target", target)):
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected integer class labels (e.g. logits.argmax(-1)), "
                            f"received dtype {a.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"pred: expected the shape of target {target.shape}, received {pred.shape}")
    k = positive_int(num_classes, "num_classes")
    if ignore_index is not None and (not isinstance(ignore_index, numbers.Integral)
                                     or isinstance(ignore_index, bool)):
        raise TypeError(f"ignore_index: expected an int or None, received {ignore_index!r}")
    keep = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    t, p = target[keep].astype(np.int64), pred[keep].astype(np.int64)   # (M,) counted pixels
    for name, a in (("target", t), ("pred", p)):
        if a.size and (a.min() < 0 or a.max() >= k):
            bad = sorted(set(a[(a < 0) | (a >= k)].tolist()))[:5]
            extra = "" if ignore_index is None or name == "pred" else f" or ignore_index={ignore_index}"
            raise ValueError(f"{name}: expected labels in [0, {k}){extra} for num_classes={k}, "
                             f"received values {bad}")
    return p, t, k


def confusion_matrix(pred, target, num_classes: int, ignore_index=None) -> np.ndarray:
    """``C (K, K)`` int64: ``C[t, p]`` counts the counted pixels of true class ``t`` predicted ``p``.

    ``pred``, ``target``: integer arrays of one shape; pixels whose target is
    ``ignore_index`` are skipped (their prediction may be anything).
    """
    p, t, k = _check_pair(pred, target, num_classes, ignore_index)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)       # (K*K,) -> (K, K)


def _check_confusion(cm) -> np.ndarray:
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.dtype.kind not in "iuf" or np.any(cm < 0):
        raise ValueError(f"cm: expected a square (K, K) matrix of non-negative counts, received "
                         f"shape {cm.shape}, dtype {cm.dtype}")
    if cm.sum() == 0:
        raise ValueError("cm: holds no pixel (every pixel ignored?), so there is nothing to score")
    return cm


def iou_from_confusion(cm) -> np.ndarray:
    """Per-class IoU ``(K,)`` from a confusion matrix; ``nan`` for classes absent from both sides."""
    cm = _check_confusion(cm).astype(np.float64)
    tp = np.diag(cm)                                         # (K,)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp             # (K,) TP + FP + FN
    iou = np.full(len(tp), np.nan)
    present = union > 0
    iou[present] = tp[present] / union[present]
    return iou


def dice_from_confusion(cm) -> np.ndarray:
    """Per-class Dice ``(K,)``: ``2 TP / (2 TP + FP + FN)``; ``nan`` for classes absent from both sides."""
    cm = _check_confusion(cm).astype(np.float64)
    tp = np.diag(cm)
    total = cm.sum(axis=0) + cm.sum(axis=1)                  # (K,) 2 TP + FP + FN
    dice = np.full(len(tp), np.nan)
    present = total > 0
    dice[present] = 2 * tp[present] / total[present]
    return dice


def pixel_accuracy(pred, target, ignore_index=None) -> float:
    """Fraction of counted pixels whose predicted class equals the target."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred: expected the shape of target {target.shape}, received {pred.shape}")
    keep = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    n = int(keep.sum())
    if n == 0:
        raise ValueError("target: every pixel is ignore_index, so there is nothing to score")
    return float(np.sum((pred == target) & keep) / n)


def per_class_iou(pred, target, num_classes: int, ignore_index=None) -> np.ndarray:
    """IoU of each class ``(K,)``, ``nan`` where a class is absent from both target and prediction."""
    return iou_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


def mean_iou(pred, target, num_classes: int, ignore_index=None) -> float:
    """Mean of :func:`per_class_iou` over the classes present in the target or the prediction."""
    return float(np.nanmean(per_class_iou(pred, target, num_classes, ignore_index)))


def per_class_dice(pred, target, num_classes: int, ignore_index=None) -> np.ndarray:
    """Dice of each class ``(K,)``, ``nan`` where a class is absent from both target and prediction."""
    return dice_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))


def mean_dice(pred, target, num_classes: int, ignore_index=None) -> float:
    """Mean of :func:`per_class_dice` over the classes present in the target or the prediction."""
    return float(np.nanmean(per_class_dice(pred, target, num_classes, ignore_index)))


def segmentation_scores(cm, class_names=None) -> dict:
    """Every metric from one confusion matrix, as JSON-able Python values.

    Returns ``{"pixel_accuracy", "miou", "mean_dice", "per_class_iou", "per_class_dice",
    "confusion_matrix"}``; the per-class entries are dicts ``name -> value`` with
    ``None`` for an absent class (not counted in the means).
    """
    cm = _check_confusion(cm)
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]
    if len(names) != k:
        raise ValueError(f"class_names: expected {k} names, received {len(names)}")
    iou, dice = iou_from_confusion(cm), dice_from_confusion(cm)

    def per_class(v):
        return {n: (None if np.isnan(x) else float(x)) for n, x in zip(names, v)}

    return {"pixel_accuracy": float(np.trace(cm) / cm.sum()),
            "miou": float(np.nanmean(iou)),
            "mean_dice": float(np.nanmean(dice)),
            "per_class_iou": per_class(iou),
            "per_class_dice": per_class(dice),
            "confusion_matrix": np.asarray(cm, dtype=np.int64).tolist()}
