"""Which reference box learns which object: IoU matching and balanced sampling.

Both stages of a two-stage detector train on *reference boxes* (the RPN on anchors,
the box head on proposals). Each reference must first be told what it is:

**Matching** (:func:`match_boxes`, torchvision's ``Matcher``). With the IoU of every
reference against every ground-truth box, each reference takes the ground truth it
overlaps most, ``j* = argmax_j IoU(i, j)``, then::

    IoU(i, j*) >= high_threshold                 -> foreground: matched to box j*
    low_threshold <= IoU(i, j*) < high_threshold -> ignored (BETWEEN_THRESHOLDS, -2)
    IoU(i, j*) <  low_threshold                  -> background (BELOW_LOW_THRESHOLD, -1)

The RPN uses (0.7, 0.3) (Faster R-CNN, section 3.1.2); the box head (0.5, 0.5), so
nothing is ignored. With ``allow_low_quality_matches`` (the RPN's setting) every
ground-truth box also keeps the reference(s) that overlap it most, even below the
foreground threshold, so that no object is left without a positive: for each box
``j``, every reference ``i`` with ``IoU(i, j) = max_i' IoU(i', j)`` becomes
foreground, matched to *its own* best box ``j*(i)`` (as torchvision does). One
deliberate difference: a ground-truth box that overlaps no reference at all
(best IoU 0) rescues nothing, where torchvision would turn every reference of IoU 0
into a positive.

**Sampling** (:func:`sample_balanced`, torchvision's
``BalancedPositiveNegativeSampler``). An image has a handful of foreground
references and thousands of background ones; a loss over all of them would learn to
say "background". So each image contributes ``batch_size_per_image`` references, at
most ``positive_fraction`` of them positive, the rest negative, both drawn at random
without replacement (``num_pos = min(floor(batch * fraction), #positives)``,
``num_neg = min(batch - num_pos, #negatives)``).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe, as_float_array, positive_int
from .._rng import as_rng

__all__ = ["match_boxes", "sample_balanced", "BELOW_LOW_THRESHOLD", "BETWEEN_THRESHOLDS"]

#: match value of a background reference (IoU below the low threshold)
BELOW_LOW_THRESHOLD = -1
#: match value of an ignored reference (IoU between the thresholds)
BETWEEN_THRESHOLDS = -2


def _threshold(t, name: str) -> float:
    if not isinstance(t, numbers.Real) or isinstance(t, bool) or not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"{name}: expected an IoU in [0, 1], received {_describe(t)}")
    return float(t)


def match_boxes(iou, high_threshold: float, low_threshold: float,
                allow_low_quality_matches: bool = False) -> np.ndarray:
    """The ground-truth box each reference is matched to, or why none: ``(P,)`` int64.

    ``iou (P, G)``: IoU of ``P`` references (anchors, proposals) against ``G`` ground-truth
    boxes (``box_iou(references, ground_truth)``). Entry ``i`` of the result is the index
    ``j`` of the matched box (foreground), :data:`BELOW_LOW_THRESHOLD` (-1, background)
    or :data:`BETWEEN_THRESHOLDS` (-2, ignored); rules in the module docstring. With
    ``G = 0`` every reference is background.
    """
    q = as_float_array(iou, "iou", ndim=2, layout="(P references, G ground-truth boxes)")
    high = _threshold(high_threshold, "high_threshold")
    low = _threshold(low_threshold, "low_threshold")
    if low > high:
        raise ValueError(f"low_threshold: expected <= high_threshold = {high}, received {low}")
    p, g = q.shape
    if g == 0:
        return np.full(p, BELOW_LOW_THRESHOLD, dtype=np.int64)
    if not np.all(np.isfinite(q)):
        raise ValueError("iou: contains NaN or infinite values")
    best = q.max(axis=1)                                    # (P,) best IoU of each reference
    all_matches = q.argmax(axis=1).astype(np.int64)         # (P,) its box (first one on ties)
    matches = all_matches.copy()
    matches[best < low] = BELOW_LOW_THRESHOLD
    matches[(best >= low) & (best < high)] = BETWEEN_THRESHOLDS
    if allow_low_quality_matches and p:
        best_per_box = q.max(axis=0)                        # (G,) best IoU of each ground-truth box
        rescued = (q == best_per_box[None, :]) & (best_per_box[None, :] > 0)   # (P, G)
        rows = rescued.any(axis=1)                          # (P,) references some box needs
        matches[rows] = all_matches[rows]
    return matches


def sample_balanced(labels, batch_size_per_image: int, positive_fraction: float, rng=None):
    """Indices of the positives and negatives one image trains on: ``(pos (p,), neg (n,))`` int64.

    ``labels (P,)``: 1 (or any value >= 1) foreground, 0 background, -1 ignored (never
    drawn). At most ``floor(batch_size_per_image * positive_fraction)`` positives are
    drawn, negatives fill the rest of the batch; both without replacement, uniformly
    at random from ``rng`` (a seed, a Generator, or None for npvision's default),
    returned sorted.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.dtype.kind not in "iuf":
        raise ValueError(f"labels: expected a 1-D array of labels (1 foreground, 0 background, "
                         f"-1 ignored), received {_describe(labels)}")
    batch = positive_int(batch_size_per_image, "batch_size_per_image")
    if (not isinstance(positive_fraction, numbers.Real) or isinstance(positive_fraction, bool)
            or not 0.0 <= float(positive_fraction) <= 1.0):
        raise ValueError(f"positive_fraction: expected a number in [0, 1], received {_describe(positive_fraction)}")
    rng = as_rng(rng)
    positive = np.flatnonzero(lab >= 1)
    negative = np.flatnonzero(lab == 0)
    num_pos = min(int(batch * float(positive_fraction)), len(positive))
    num_neg = min(batch - num_pos, len(negative))
    pos = np.sort(rng.choice(positive, size=num_pos, replace=False)) if num_pos else positive[:0]
    neg = np.sort(rng.choice(negative, size=num_neg, replace=False)) if num_neg else negative[:0]
    return pos.astype(np.int64), neg.astype(np.int64)
