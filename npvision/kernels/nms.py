"""Greedy non-maximum suppression (NMS), three ways.

Op ``nms``: ``keep = kernel(boxes, order, iou_threshold)`` with

- ``boxes``  ``(N, 4)`` float64, C-contiguous, valid ``xyxy`` boxes;
- ``order``  ``(N,)`` int64, the visiting order: box indices by decreasing
  score, equal scores in increasing index (``np.argsort(-scores, kind="stable")``,
  computed once by :func:`npvision.detection.nms`);
- ``iou_threshold`` a float;
- ``keep``   ``(K,)`` int64, the kept indices in visiting order.

The algorithm (greedy NMS)::

    for each box i in order:
        if i was not suppressed:
            keep i
            suppress every later box j with IoU(i, j) > iou_threshold

A box is dropped only when its IoU is *strictly* greater than the threshold.
Every backend computes the IoU with the same float64 operations in the same
order, ``inter / (area_i + area_j - inter)`` (0 when the union is 0), so the
backends agree exactly, even for an IoU equal to the threshold.

Cost: ``O(N K)`` IoUs for ``K`` kept boxes. The numba kernel turns the loop
around (each box against the kept boxes, stopping at its first suppressor) and
tests the kept boxes in SIMD-friendly blocks; see the comment above it.
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit


def _pair_iou(a, b) -> float:
    """IoU of two xyxy boxes (sequences of 4 floats), 0 when the union is 0."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0.0 or ih <= 0.0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0.0 else 0.0


# ---------------------------------------------------------------------------
# naive: the textbook loop, one pair of boxes at a time
# ---------------------------------------------------------------------------

@register("nms", "naive")
def nms_naive(boxes, order, iou_threshold):
    """Visit boxes by decreasing score; keep one, cross out every later box overlapping it too much."""
    rows = boxes.tolist()                      # plain Python floats: a list of [x1, y1, x2, y2]
    suppressed = [False] * len(rows)
    keep = []
    for pos, i in enumerate(order.tolist()):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[pos + 1:].tolist():
            if not suppressed[j] and _pair_iou(rows[i], rows[j]) > iou_threshold:
                suppressed[j] = True
    return np.array(keep, dtype=np.int64)


# ---------------------------------------------------------------------------
# numpy: the same greedy loop, each kept box against all survivors at once
# ---------------------------------------------------------------------------

@register("nms", "numpy")
def nms_numpy(boxes, order, iou_threshold):
    """Keep the best survivor; drop the survivors whose IoU with it exceeds the threshold; repeat."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)                                    # (N,)
    keep = []
    alive = order                                                    # (S,) survivors, best first
    while alive.size:
        i = alive[0]
        keep.append(i)
        rest = alive[1:]                                             # (S-1,)
        iw = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        ih = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)         # (S-1,)
        union = areas[i] + areas[rest] - inter
        ious = np.zeros_like(inter)
        np.divide(inter, union, out=ious, where=union > 0)
        alive = rest[ious <= iou_threshold]
    return np.array(keep, dtype=np.int64)


# ---------------------------------------------------------------------------
# numba: each box against the boxes kept so far, in blocks the CPU can vectorize
# ---------------------------------------------------------------------------
#
# Greedy NMS drops box j exactly when some *kept* box before it overlaps it by more than
# the threshold. So instead of letting each kept box cross out later boxes, visit the
# boxes in order and test each against the kept list: a survivor costs K tests, a dropped
# box stops at its first suppressor (usually one of the first kept boxes).
#
# The kept list is scanned in blocks of _BLOCK boxes without an early exit inside a block,
# so the compiler can turn the block into SIMD instructions. The block test uses no
# division: ``inter >= loose * union`` with ``loose`` a hair below the threshold, a
# superset of ``inter / union > threshold``. Only a block that hits is re-checked box by
# box with the exact division every backend uses, so the result is bit-for-bit the same.

_BLOCK = 16


@njit
def _nms_kept_list_numba(boxes, order, iou_threshold):
    n = order.shape[0]
    cap = n + _BLOCK                  # room for a whole last block; unused slots are empty boxes
    kx1 = np.zeros(cap)
    ky1 = np.zeros(cap)
    kx2 = np.zeros(cap)
    ky2 = np.zeros(cap)
    karea = np.zeros(cap)
    keep = np.empty(n, dtype=np.int64)
    loose = iou_threshold * (1.0 - 1e-9)       # the block test may over-report, never miss
    n_keep = 0
    for p in range(n):
        b = order[p]
        bx1, by1, bx2, by2 = boxes[b, 0], boxes[b, 1], boxes[b, 2], boxes[b, 3]
        b_area = (bx2 - bx1) * (by2 - by1)
        survives = True
        for k0 in range(0, n_keep, _BLOCK):
            hits = 0
            for k in range(k0, k0 + _BLOCK):   # empty slots past n_keep overlap nothing
                iw = max(min(kx2[k], bx2) - max(kx1[k], bx1), 0.0)
                ih = max(min(ky2[k], by2) - max(ky1[k], by1), 0.0)
                inter = iw * ih
                hits += (inter > 0.0) & (inter >= loose * (karea[k] + b_area - inter))
            if hits == 0:
                continue
            for k in range(k0, min(k0 + _BLOCK, n_keep)):   # the exact test, as in _pair_iou
                iw = min(kx2[k], bx2) - max(kx1[k], bx1)
                ih = min(ky2[k], by2) - max(ky1[k], by1)
                if iw > 0.0 and ih > 0.0:
                    inter = iw * ih
                    union = karea[k] + b_area - inter
                    if union > 0.0 and inter / union > iou_threshold:
                        survives = False
                        break
            if not survives:
                break
        if survives:
            kx1[n_keep], ky1[n_keep], kx2[n_keep], ky2[n_keep] = bx1, by1, bx2, by2
            karea[n_keep] = b_area
            keep[n_keep] = b
            n_keep += 1
    return keep[:n_keep]


@register("nms", "numba", fastest=True)
def nms_numba(boxes, order, iou_threshold):
    """Compiled greedy NMS: each box is tested against the kept boxes, in vectorized blocks."""
    return _nms_kept_list_numba(boxes, order, float(iou_threshold))
