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

Cost: ``O(N K)`` IoUs for ``K`` kept boxes. The numba kernel keeps a list of the
boxes still alive and compacts it after each kept box, so later passes only
walk the survivors (see ``PERF_NOTES.md``).
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
# numba: greedy over a survivor list that is compacted after each kept box
# ---------------------------------------------------------------------------

@njit
def _nms_compact_numba(boxes, order, iou_threshold):
    n = order.shape[0]
    # Survivors, best first: their coordinates, areas and original indices, packed at the front
    # of these arrays (positions 0 .. n_alive-1). Gathered in visiting order to start with.
    x1 = np.empty(n)
    y1 = np.empty(n)
    x2 = np.empty(n)
    y2 = np.empty(n)
    area = np.empty(n)
    index = np.empty(n, dtype=np.int64)
    for p in range(n):
        b = order[p]
        x1[p] = boxes[b, 0]
        y1[p] = boxes[b, 1]
        x2[p] = boxes[b, 2]
        y2[p] = boxes[b, 3]
        area[p] = (x2[p] - x1[p]) * (y2[p] - y1[p])
        index[p] = b
    keep = np.empty(n, dtype=np.int64)
    n_keep = 0
    n_alive = n
    i = 0                          # the best survivor not yet visited: always kept
    while i < n_alive:
        keep[n_keep] = index[i]
        n_keep += 1
        ax1, ay1, ax2, ay2, a_area = x1[i], y1[i], x2[i], y2[i], area[i]
        # Walk the later survivors and pack the ones this box does not suppress at `write`.
        # The copy is unconditional and only `write` moves on a survivor: no hard-to-predict branch.
        write = i + 1
        for r in range(i + 1, n_alive):
            bx1, by1, bx2, by2, b_area, b_index = x1[r], y1[r], x2[r], y2[r], area[r], index[r]
            iw = min(ax2, bx2) - max(ax1, bx1)
            ih = min(ay2, by2) - max(ay1, by1)
            survives = True
            if iw > 0.0 and ih > 0.0:
                inter = iw * ih
                union = a_area + b_area - inter
                if union > 0.0:
                    survives = inter / union <= iou_threshold
            x1[write], y1[write], x2[write], y2[write] = bx1, by1, bx2, by2
            area[write], index[write] = b_area, b_index
            if survives:
                write += 1
        n_alive = write
        i += 1
    return keep[:n_keep]


@register("nms", "numba", fastest=True)
def nms_numba(boxes, order, iou_threshold):
    """Compiled greedy NMS; survivors are compacted so each pass walks only the boxes still alive."""
    return _nms_compact_numba(boxes, order, float(iou_threshold))
