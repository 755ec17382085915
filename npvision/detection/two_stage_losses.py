"""The losses of the two stages: the RPN loss and the Fast R-CNN multi-task loss.

Both are a classification term plus a box-regression term over the *sampled*
reference boxes (:func:`npvision.detection.sample_balanced`), with torchvision's
normalizations. Each returns ``(loss, gradients, terms)``: the total as a float,
the gradient of the total with respect to every prediction (zero on the rows that
were not sampled), and the two terms by name.

RPN loss (Faster R-CNN, equation 1), over the sampled anchors ``S`` (label 1 or 0)
and the positive ones ``S+``::

    L = mean_{i in S} BCE(o_i, y_i)  +  (1 / |S|) sum_{i in S+} smoothL1_beta(t_i - t*_i)

``BCE(o, y) = max(o, 0) - o y + log(1 + exp(-|o|))`` on the objectness logit ``o``;
``d BCE / d o = sigmoid(o) - y``. The box term is summed over the four coordinates of
the positives and divided by the number of sampled anchors (torchvision's
``sum / sampled_inds.numel()``), so the paper's ``lambda`` balance is built in.

Fast R-CNN multi-task loss (Fast R-CNN, equation 1), over the sampled RoIs with
labels ``u`` in ``0..K`` (0 = background)::

    L = mean_i CE(softmax(z_i), u_i)  +  (1 / R) sum_{i: u_i >= 1} smoothL1_beta(t_i^{u_i} - v_i)

Class-specific box regression: the head predicts ``K + 1`` boxes per RoI (deltas
``(R, 4 (K + 1))``), and a RoI only learns the box of its own class ``u_i``: the
columns ``4 u_i .. 4 u_i + 3``; every other column gets a zero gradient. Background
RoIs have no box term (the Iverson bracket ``[u >= 1]``).

Smooth L1 with ``d = x - y``: ``0.5 d^2 / beta`` where ``|d| < beta``, else
``|d| - 0.5 beta``; gradient ``d / beta`` or ``sign(d)``. torchvision's two-stage
models use ``beta = 1/9`` (the default here); the Fast R-CNN paper uses 1.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe, as_float_array
from ..functional.losses import binary_cross_entropy_with_logits, smooth_l1_loss, softmax_cross_entropy

__all__ = ["rpn_loss", "fast_rcnn_loss", "smooth_l1_sum"]


def _beta(beta) -> float:
    if not isinstance(beta, numbers.Real) or isinstance(beta, bool) or not beta >= 0:
        raise ValueError(f"beta: expected a number >= 0, received {_describe(beta)}")
    return float(beta)


def smooth_l1_sum(pred, target, beta: float = 1.0 / 9):
    """``(sum of smooth L1 over every element, gradient)``; an empty input gives ``(0.0, zeros)``."""
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    if pred.size == 0:
        return 0.0, np.zeros_like(pred)
    mean, grad = smooth_l1_loss(pred, target, beta=_beta(beta))   # mean and d mean / d pred
    n = pred.size
    return mean * n, grad * pred.dtype.type(n)


def _labels(labels, n: int, name: str, low: int, high: int) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu" or lab.shape != (n,):
        raise ValueError(f"{name}: expected ({n},) integer labels, received {_describe(labels)}")
    bad = (lab < low) | (lab > high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: expected values in [{low}, {high}], received {int(lab[i])} at index {i}")
    return lab.astype(np.int64)


def _deltas(x, n: int, name: str, columns: int | None = None) -> np.ndarray:
    d = as_float_array(x, name, ndim=2)
    if d.shape[0] != n or (columns is not None and d.shape[1] != columns) or d.shape[1] % 4:
        want = f"({n}, {columns})" if columns is not None else f"({n}, 4 k)"
        raise ValueError(f"{name}: expected shape {want}, received {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return d


def rpn_loss(objectness, deltas, labels, target_deltas, beta: float = 1.0 / 9):
    """The RPN loss over anchors (module docstring).

    Parameters
    ----------
    objectness : ``(A,)`` logits, every anchor of every image of the batch, concatenated.
    deltas : ``(A, 4)`` predicted box deltas.
    labels : ``(A,)`` int: 1 sampled positive, 0 sampled negative, -1 not sampled (ignored).
    target_deltas : ``(A, 4)`` encoded ground truth of each anchor (read on positives only).
    beta : smooth L1's switch point.

    Returns ``(loss, (d_objectness, d_deltas), {"objectness": ..., "box": ...})``.
    With nothing sampled the loss is 0 with zero gradients.
    """
    obj = as_float_array(objectness, "objectness", ndim=1)
    a = obj.shape[0]
    d = _deltas(deltas, a, "deltas", 4)
    t = _deltas(target_deltas, a, "target_deltas", 4)
    lab = _labels(labels, a, "labels", -1, 1)
    sampled = np.flatnonzero(lab >= 0)                    # (S,)
    positive = np.flatnonzero(lab == 1)                   # (S+,)
    d_obj, d_del = np.zeros_like(obj), np.zeros_like(d)
    if len(sampled) == 0:
        return 0.0, (d_obj, d_del), {"objectness": 0.0, "box": 0.0}
    obj_loss, g = binary_cross_entropy_with_logits(obj[sampled], lab[sampled].astype(obj.dtype))
    d_obj[sampled] = g                                    # already divided by |S|
    box_sum, gb = smooth_l1_sum(d[positive], t[positive].astype(d.dtype), beta)
    box_loss = box_sum / len(sampled)
    d_del[positive] = gb / d.dtype.type(len(sampled))
    return obj_loss + box_loss, (d_obj, d_del), {"objectness": obj_loss, "box": box_loss}


def fast_rcnn_loss(class_logits, box_deltas, labels, target_deltas, beta: float = 1.0 / 9):
    """The Fast R-CNN multi-task loss over sampled RoIs (module docstring).

    Parameters
    ----------
    class_logits : ``(R, K + 1)``, column 0 the background.
    box_deltas : ``(R, 4 (K + 1))`` class-specific deltas (class ``k`` in columns ``4k .. 4k + 3``).
    labels : ``(R,)`` int in ``0..K`` (0 background).
    target_deltas : ``(R, 4)`` encoded ground truth of each RoI (read where ``labels >= 1``).
    beta : smooth L1's switch point.

    Returns ``(loss, (d_class_logits, d_box_deltas), {"classifier": ..., "box": ...})``.
    """
    z = as_float_array(class_logits, "class_logits", ndim=2)
    r, k1 = z.shape
    if r == 0 or k1 < 2:
        raise ValueError(f"class_logits: expected (R, K + 1) with R >= 1 RoIs and K >= 1 classes, "
                         f"received shape {z.shape}")
    d = _deltas(box_deltas, r, "box_deltas", 4 * k1)
    t = _deltas(target_deltas, r, "target_deltas", 4)
    lab = _labels(labels, r, "labels", 0, k1 - 1)
    cls_loss, dz = softmax_cross_entropy(z, lab)          # mean over the R RoIs
    positive = np.flatnonzero(lab >= 1)                   # (R+,)
    d3 = d.reshape(r, k1, 4)                              # (R, 4 (K+1)) -> (R, K+1, 4)
    own = d3[positive, lab[positive]]                     # (R+, 4): each RoI's own class's box
    box_sum, g = smooth_l1_sum(own, t[positive].astype(d.dtype), beta)
    box_loss = box_sum / r
    dd = np.zeros_like(d3)
    dd[positive, lab[positive]] = g / d.dtype.type(r)     # only the own class's columns learn
    return cls_loss + box_loss, (dz, dd.reshape(r, 4 * k1)), {"classifier": cls_loss, "box": box_loss}
