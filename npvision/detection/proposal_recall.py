"""How good are region proposals? Recall of the ground truth against the number of proposals.

A detector that classifies proposals can only find an object some proposal covers.
The standard measure (Hosang et al., "What makes for effective detection
proposals?", 2015; the R-CNN papers' recall-vs-proposals plots): take each image's
first ``n`` proposals (best first), and count the ground-truth boxes that at least one
of them overlaps with IoU >= ``iou_threshold``::

    recall(n) = #{ground-truth boxes j : max_{i < n} IoU(proposal_i, box_j) >= t} / #{ground-truth boxes}

An image with fewer than ``n`` proposals uses all it has; ``mean_proposals`` reports how
many were actually used on average, so "recall at 1000" of a method that gives 300 is
read correctly.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe, positive_int
from .boxes import as_boxes, box_iou

__all__ = ["proposal_recall"]


def proposal_recall(proposals, gt_boxes, counts=(50, 100, 300, 1000), iou_threshold: float = 0.5) -> dict:
    """Recall at each number of proposals: ``{n: {"recall": r, "mean_proposals": m}}``.

    ``proposals``: one ``(P_i, 4)`` xyxy array per image, best first; ``gt_boxes``: one
    ``(G_i, 4)`` array per image. ``counts``: the numbers of proposals ``n``; ``iou_threshold``
    in ``(0, 1]``. Images without ground truth count for nothing.
    """
    if len(proposals) != len(gt_boxes):
        raise ValueError(f"proposals: expected one array per image ({len(gt_boxes)}), received {len(proposals)}")
    counts = [positive_int(n, "counts[i]") for n in counts]
    if (not isinstance(iou_threshold, numbers.Real) or isinstance(iou_threshold, bool)
            or not 0.0 < float(iou_threshold) <= 1.0):
        raise ValueError(f"iou_threshold: expected a number in (0, 1], received {_describe(iou_threshold)}")
    top = max(counts)
    found = {n: 0 for n in counts}
    used = {n: 0 for n in counts}
    total = 0
    for i, (props, gt) in enumerate(zip(proposals, gt_boxes)):
        props = as_boxes(props, f"proposals[{i}]")[:top]
        gt = as_boxes(gt, f"gt_boxes[{i}]")
        total += len(gt)
        for n in counts:
            used[n] += min(n, len(props))
        if not len(gt) or not len(props):
            continue
        iou = box_iou(props, gt)                                         # (P, G)
        # the first proposal index at which each box is covered (``top``, beyond every count, if never)
        covered = iou >= iou_threshold
        first = np.where(covered.any(axis=0), covered.argmax(axis=0), top)         # (G,)
        for n in counts:
            found[n] += int((first < n).sum())
    m = max(len(proposals), 1)
    return {n: {"recall": found[n] / total if total else 0.0, "mean_proposals": used[n] / m} for n in counts}
