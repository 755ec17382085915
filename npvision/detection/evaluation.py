"""Evaluating a detector: matching, precision / recall, AP in three conventions, mAP.

Inputs
------
One dict per image (the same order in both lists)::

    detections[i]    = {"boxes": (K, 4) xyxy, "scores": (K,), "classes": (K,)}
    ground_truths[i] = {"boxes": (G, 4) xyxy,                 "classes": (G,)}

Classes are any labels (ints usually); boxes follow the rules of
:mod:`npvision.detection.boxes` (inverted or NaN boxes raise).

Instance segmentation is evaluated the same way with ``iou_type="segm"``: each
dict then carries ``"masks"`` ``(K, H, W)`` bool (the ground truth ``(G, H, W)``, of
the same image size), ``"boxes"`` become optional, and every IoU below is the
mask IoU of :func:`npvision.detection.masks.mask_iou` instead of the box IoU --
nothing else changes (COCO's ``iouType="segm"`` does exactly this).

Matching (one image, one class, one IoU threshold ``t``)
--------------------------------------------------------
Detections are visited by decreasing score (equal scores: earlier first, a
stable sort). Each ground-truth box can be matched at most once; a detection
that finds no ground truth to match is a **false positive** -- so a duplicate
detection of an already found object is a false positive.

- ``rule="coco"`` (COCO's ``cocoeval``): the detection is matched to the
  *unmatched* ground truth with the highest IoU among those with ``IoU >= t``;
  among equal highest IoUs the *last* ground truth wins (``cocoeval`` walks the
  ground truths keeping any IoU ``>=`` the best so far).
- ``rule="voc"`` (the PASCAL VOC devkit): the detection looks only at the
  ground truth with the highest IoU overall; it is a true positive if that IoU
  is ``> t`` and that ground truth is still unmatched, otherwise a false positive.

(VOC: equal IoUs pick the first ground truth. VOC's "difficult" flags, COCO's
crowd boxes and area ranges are not modelled: COCO's area range is "all".)

Precision and recall
--------------------
All detections of a class, over all images, ranked by decreasing score; after
the first ``k`` of them::

    precision_k = TP_k / k            recall_k = TP_k / (number of ground-truth boxes)

Average precision (AP): three conventions
-----------------------------------------
With the *interpolated* precision ``p_interp(r) = max_{k : recall_k >= r} precision_k``
(0 when no ``k`` reaches recall ``r``):

- ``"voc07"``: PASCAL VOC 2007's 11-point AP,
  ``AP = (1/11) sum_{r in {0, 0.1, ..., 1}} p_interp(r)``;
- ``"voc"``: VOC 2010+'s all-point AP, the exact area under the interpolated
  (monotone, step) PR curve: ``AP = sum_k (recall_k - recall_{k-1}) p_interp(recall_k)``;
- ``"coco"``: COCO's 101-point AP, ``AP = (1/101) sum_{r in {0, 0.01, ..., 1}} p_interp(r)``.

mAP
---
:func:`mean_average_precision` averages AP over the classes present in the
ground truth and over the IoU thresholds (COCO: 0.50, 0.55, ..., 0.95; VOC: 0.5).
A class with ground truth but no detection has AP 0; detections of a class with
no ground truth are not counted anywhere (as in COCO).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe
from .boxes import as_boxes, box_iou
from .masks import as_masks, mask_iou

__all__ = [
    "AP_CONVENTIONS",
    "COCO_IOU_THRESHOLDS",
    "match_detections",
    "precision_recall",
    "average_precision",
    "precision_recall_curves",
    "mean_average_precision",
    "detection_confusion_matrix",
    "IOU_TYPES",
    "matched_mask_ious",
]

AP_CONVENTIONS = ("voc07", "voc", "coco")
# The exact values COCO uses (np.linspace, so 0.55 is the float linspace gives).
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
_COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
_VOC07_RECALL_POINTS = np.linspace(0.0, 1.0, 11)
_MATCH_RULE = {"voc07": "voc", "voc": "voc", "coco": "coco"}
IOU_TYPES = ("bbox", "segm")
# The overlap each iou_type matches on: (K, ...) regions x (G, ...) regions -> (K, G).
_IOU = {"bbox": box_iou, "segm": mask_iou}


# ----------------------------------------------------------------------------- checks

def _check_convention(convention) -> str:
    if convention not in AP_CONVENTIONS:
        raise ValueError(f"convention: expected one of {AP_CONVENTIONS}, received {convention!r}")
    return convention


def _check_iou_threshold(t, name: str = "iou_threshold") -> float:
    if not isinstance(t, numbers.Real) or isinstance(t, bool) or not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], received {_describe(t)}")
    return float(t)


def _vector(x, n: int, name: str, numeric: bool = True) -> np.ndarray:
    """``x`` as an ``(n,)`` array (numbers without NaN when ``numeric``), or a clear error."""
    v = np.asarray(x)
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) to match the {n} boxes, received shape {v.shape}")
    if numeric:
        if v.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected numbers, received {_describe(v)}")
        if v.dtype.kind == "f" and np.isnan(v).any():
            raise ValueError(f"{name}: entry {int(np.flatnonzero(np.isnan(v))[0])} is NaN")
    return v


def _check_iou_type(iou_type) -> str:
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type: expected one of {IOU_TYPES}, received {iou_type!r}")
    return iou_type


def _check_images(items, name: str, with_scores: bool, iou_type: str = "bbox") -> list[dict]:
    """Validate a list of per-image dicts; return dicts of arrays (scores as float64).

    With ``iou_type="segm"`` each dict needs ``"masks"`` ``(K, H, W)`` (bool) and may
    omit ``"boxes"``; the region each IoU is computed on is stored under ``"regions"``.
    """
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"{name}: expected a list with one dict per image, received {_describe(items)}")
    region = "masks" if iou_type == "segm" else "boxes"
    keys = (region, "scores", "classes") if with_scores else (region, "classes")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or any(k not in item for k in keys):
            got = sorted(item) if isinstance(item, dict) else _describe(item)
            raise ValueError(f"{name}[{i}]: expected a dict with keys {keys}, received {got}")
        if iou_type == "segm":
            regions = as_masks(item["masks"], f"{name}[{i}]['masks']")
            boxes = as_boxes(item["boxes"], f"{name}[{i}]['boxes']") if "boxes" in item else None
            if boxes is not None and len(boxes) != len(regions):
                raise ValueError(f"{name}[{i}]['boxes']: expected one box per mask ({len(regions)}), "
                                 f"received {len(boxes)}")
        else:
            boxes = regions = as_boxes(item["boxes"], f"{name}[{i}]['boxes']")
        n = len(regions)
        d = {"boxes": boxes, "regions": regions,
             "classes": _vector(item["classes"], n, f"{name}[{i}]['classes']", numeric=False)}
        if with_scores:
            d["scores"] = _vector(item["scores"], n, f"{name}[{i}]['scores']").astype(np.float64)
        out.append(d)
    return out


def _check_pair(detections, ground_truths, iou_type: str = "bbox") -> tuple[list[dict], list[dict]]:
    """Both lists validated, of equal length, and (for masks) of equal image sizes per image."""
    _check_iou_type(iou_type)
    dets = _check_images(detections, "detections", with_scores=True, iou_type=iou_type)
    gts = _check_images(ground_truths, "ground_truths", with_scores=False, iou_type=iou_type)
    if len(dets) != len(gts):
        raise ValueError(f"detections, ground_truths: expected one dict per image in each, received "
                         f"{len(dets)} and {len(gts)} images")
    if iou_type == "segm":
        for i, (d, g) in enumerate(zip(dets, gts)):
            if d["regions"].shape[1:] != g["regions"].shape[1:]:
                raise ValueError(f"detections[{i}]['masks']: expected masks of the ground truth's "
                                 f"image size {g['regions'].shape[1:]}, received size "
                                 f"{d['regions'].shape[1:]}")
    return dets, gts


# ----------------------------------------------------------------------------- matching

def _match(ious: np.ndarray, t: float, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching of score-sorted detections (rows of ``ious (K, G)``) at threshold ``t``.

    Returns ``is_tp (K,)`` bool and ``matched (K,)`` int64 (ground-truth index, -1 if none).
    """
    k, g = ious.shape
    is_tp = np.zeros(k, dtype=bool)
    matched = np.full(k, -1, dtype=np.int64)
    gt_used = np.zeros(g, dtype=bool)
    if g == 0:
        return is_tp, matched
    t_coco = min(t, 1.0 - 1e-10)                          # cocoeval's own cap: t = 1 still matches
    for d in range(k):
        if rule == "coco":
            candidates = np.where(~gt_used & (ious[d] >= t_coco), ious[d], -1.0)  # (G,)
            best = g - 1 - int(np.argmax(candidates[::-1]))   # the last of equal maxima
            if candidates[best] < 0:
                continue                                  # no unmatched GT with IoU >= t
        else:  # voc
            best = int(np.argmax(ious[d]))
            if not ious[d, best] > t or gt_used[best]:
                continue                                  # too little overlap, or a duplicate
        gt_used[best] = True
        is_tp[d] = True
        matched[d] = best
    return is_tp, matched


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold: float = 0.5,
                     rule: str = "coco") -> tuple[np.ndarray, np.ndarray]:
    """Match one image's detections of one class to its ground truth (see the module docstring).

    ``det_boxes (K, 4)``, ``det_scores (K,)``, ``gt_boxes (G, 4)``, all xyxy.
    Returns, in the detections' *original* order, ``is_tp (K,)`` bool and
    ``matched (K,)`` int64: the index of the matched ground truth, or -1.
    """
    if rule not in ("coco", "voc"):
        raise ValueError(f"rule: expected 'coco' or 'voc', received {rule!r}")
    det = as_boxes(det_boxes, "det_boxes")
    gt = as_boxes(gt_boxes, "gt_boxes")
    scores = _vector(det_scores, len(det), "det_scores").astype(np.float64)
    t = _check_iou_threshold(iou_threshold)
    order = np.argsort(-scores, kind="stable")                       # (K,)
    tp_sorted, matched_sorted = _match(box_iou(det[order], gt), t, rule)
    is_tp = np.empty_like(tp_sorted)
    matched = np.empty_like(matched_sorted)
    is_tp[order], matched[order] = tp_sorted, matched_sorted         # back to the input order
    return is_tp, matched


# ----------------------------------------------------------------------------- PR and AP

def precision_recall(is_tp, scores, n_ground_truth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall down the ranked list of detections.

    ``is_tp (K,)`` bool and ``scores (K,)`` of all detections of one class (any
    order); ``n_ground_truth`` the number of ground-truth boxes of that class.
    Detections are ranked by decreasing score (stable), then after the ``k``
    first: ``precision_k = TP_k / k``, ``recall_k = TP_k / n_ground_truth``
    (recall is 0 when there is no ground truth). Returns ``(precision, recall,
    ranked_scores)``, each ``(K,)``.
    """
    is_tp = np.asarray(is_tp, dtype=bool).reshape(-1)
    scores = _vector(scores, len(is_tp), "scores").astype(np.float64)
    if not isinstance(n_ground_truth, numbers.Integral) or n_ground_truth < 0:
        raise ValueError(f"n_ground_truth: expected an int >= 0, received {_describe(n_ground_truth)}")
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_tp[order])                                     # (K,) TP_k
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / n_ground_truth if n_ground_truth > 0 else np.zeros(len(tp))
    return precision, recall, scores[order]


def average_precision(precision, recall, convention: str = "coco") -> float:
    """AP from the precision / recall values down a ranked list (see the module docstring).

    - ``"voc07"``: mean of the interpolated precision at recall 0, 0.1, ..., 1 (11 points);
    - ``"voc"``: area under the interpolated precision-recall step curve (all points);
    - ``"coco"``: mean of the interpolated precision at recall 0, 0.01, ..., 1 (101 points),
      where, as in ``cocoeval``, the precision at a recall point is read at the first
      rank whose recall reaches it.

    The interpolated precision at recall ``r`` is the best precision at any
    recall ``>= r``; it is 0 beyond the largest recall reached. Empty input gives 0.
    """
    _check_convention(convention)
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    if precision.shape != recall.shape:
        raise ValueError(f"precision, recall: expected equal shapes, received {precision.shape} "
                         f"and {recall.shape}")
    if len(precision) == 0:
        return 0.0
    # Interpolated precision at each rank: the best precision at this rank or any later one.
    p_interp = np.maximum.accumulate(precision[::-1])[::-1]          # (K,)
    if convention == "voc":
        r = np.concatenate(([0.0], recall))                          # (K+1,)
        return float(np.sum((r[1:] - r[:-1]) * p_interp))
    points = _VOC07_RECALL_POINTS if convention == "voc07" else _COCO_RECALL_POINTS
    first = np.searchsorted(recall, points, side="left")            # first rank with recall >= r
    reached = first < len(recall)
    values = np.zeros(len(points))
    values[reached] = p_interp[first[reached]]
    return float(values.mean())


# ----------------------------------------------------------------------------- per-class evaluation

def _class_ranking(dets, gts, label, thresholds, rule, max_detections, iou_fn=box_iou):
    """All detections of class ``label``: TP flags ``(T, K)`` and scores ``(K,)`` in rank order, and #GT.

    ``iou_fn`` is the overlap of the regions: :func:`box_iou` or :func:`mask_iou`.
    """
    flags, scores, n_gt = [], [], 0
    for det, gt in zip(dets, gts):
        g = gt["regions"][gt["classes"] == label]                    # (G, 4) boxes or (G, H, W) masks
        n_gt += len(g)
        mine = np.flatnonzero(det["classes"] == label)
        mine = mine[np.argsort(-det["scores"][mine], kind="stable")]  # this image's, best first
        if max_detections is not None:
            mine = mine[:max_detections]
        if len(mine) == 0:
            continue
        ious = iou_fn(det["regions"][mine], g)                       # (K_i, G)
        flags.append(np.stack([_match(ious, t, rule)[0] for t in thresholds]))  # (T, K_i)
        scores.append(det["scores"][mine])
    if not flags:
        return np.zeros((len(thresholds), 0), dtype=bool), np.zeros(0), n_gt
    scores = np.concatenate(scores)                                  # (K,)
    order = np.argsort(-scores, kind="stable")                       # image order breaks ties
    return np.concatenate(flags, axis=1)[:, order], scores[order], n_gt


def _pr_from_flags(flags: np.ndarray, n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall ``(K,)`` from rank-ordered TP flags ``(K,)``."""
    tp = np.cumsum(flags)
    return tp / np.arange(1, len(flags) + 1), tp / max(n_gt, 1)


def _thresholds(iou_thresholds, convention: str) -> np.ndarray:
    if iou_thresholds is None:
        return COCO_IOU_THRESHOLDS.copy() if convention == "coco" else np.array([0.5])
    ts = np.atleast_1d(np.asarray(iou_thresholds, dtype=np.float64))
    if ts.ndim != 1 or ts.size == 0 or np.isnan(ts).any() or (ts < 0).any() or (ts > 1).any():
        raise ValueError(f"iou_thresholds: expected None, a number or a non-empty list of numbers "
                         f"in [0, 1], received {iou_thresholds!r}")
    return ts


def _labels(items) -> list:
    present = [d["classes"] for d in items if len(d["classes"])]
    if not present:
        return []
    return [v.item() if hasattr(v, "item") else v for v in np.unique(np.concatenate(present))]


def mean_average_precision(detections, ground_truths, iou_thresholds=None, convention: str = "coco",
                           *, max_detections: int | None | str = "default",
                           iou_type: str = "bbox") -> dict:
    """mAP of a detector over a dataset (see the module docstring for every definition).

    ``detections``: one dict per image ``{"boxes" (K, 4) xyxy, "scores" (K,),
    "classes" (K,)}``; ``ground_truths``: one dict per image ``{"boxes",
    "classes"}``. ``iou_thresholds``: a number or a list; default
    0.50:0.05:0.95 for ``"coco"``, 0.5 for ``"voc"`` and ``"voc07"``.
    ``convention`` picks both the AP formula and the matching rule (COCO's for
    ``"coco"``, the VOC devkit's otherwise). ``max_detections``: keep only the
    best this many detections per image and class (COCO's ``maxDets``);
    the default is 100 for ``"coco"`` and no limit for the VOC conventions.
    ``iou_type``: ``"bbox"`` (box IoU) or ``"segm"`` (mask IoU; every dict then
    carries ``"masks"`` ``(K, H, W)`` bool, and ``"boxes"`` may be left out).

    Returns a dict:

    - ``"map"``: mean AP over the classes present in the ground truth and over
      the thresholds (NaN when there is no ground-truth box at all);
    - ``"map50"``, ``"map75"``: mean AP over classes at IoU 0.5 and 0.75;
    - ``"per_class"``: ``{class: AP averaged over the thresholds}``;
    - ``"per_threshold"``: ``{threshold: AP averaged over the classes}``;
    - ``"ap"``: the table ``(C, T)`` behind them; ``"classes"`` (C labels),
      ``"iou_thresholds"`` ``(T,)``, ``"convention"`` and ``"iou_type"``.
    """
    _check_convention(convention)
    dets, gts = _check_pair(detections, ground_truths, iou_type)
    ts = _thresholds(iou_thresholds, convention)
    if max_detections == "default":
        max_detections = 100 if convention == "coco" else None
    elif max_detections is not None and (not isinstance(max_detections, numbers.Integral)
                                         or max_detections < 1):
        raise ValueError(f"max_detections: expected None or an int >= 1, received {max_detections!r}")
    rule = _MATCH_RULE[convention]
    extra = [t for t in (0.5, 0.75) if not np.isclose(ts, t).any()]
    all_ts = np.concatenate([ts, extra])                              # (T + extras,)
    labels = _labels(gts)
    ap = np.zeros((len(labels), len(all_ts)))                         # (C, T + extras)
    for c, label in enumerate(labels):
        flags, _, n_gt = _class_ranking(dets, gts, label, all_ts, rule, max_detections, _IOU[iou_type])
        for j in range(len(all_ts)):
            precision, recall = _pr_from_flags(flags[j], n_gt)
            ap[c, j] = average_precision(precision, recall, convention)
    table = ap[:, :len(ts)]                                           # (C, T) the requested ones

    def at(t):
        col = int(np.flatnonzero(np.isclose(all_ts, t))[0])
        return float(ap[:, col].mean()) if labels else float("nan")

    return {
        "map": float(table.mean()) if labels else float("nan"),
        "map50": at(0.5),
        "map75": at(0.75),
        "per_class": {label: float(table[c].mean()) for c, label in enumerate(labels)},
        "per_threshold": {round(float(t), 6): (float(table[:, j].mean()) if labels else float("nan"))
                          for j, t in enumerate(ts)},
        "ap": table,
        "classes": labels,
        "iou_thresholds": ts,
        "convention": convention,
        "iou_type": iou_type,
    }


def precision_recall_curves(detections, ground_truths, iou_threshold: float = 0.5,
                            convention: str = "coco", *, iou_type: str = "bbox") -> dict:
    """The precision-recall curve of every class present in the ground truth, at one IoU threshold.

    Returns ``{class: {"precision": (K,), "recall": (K,), "scores": (K,), "ap": float,
    "n_ground_truth": int}}``, the arrays along the ranked detections (no
    interpolation; ``ap`` uses ``convention``; ``iou_type`` as in
    :func:`mean_average_precision`). For :func:`npvision.viz.boxes.plot_pr_curves`.
    """
    _check_convention(convention)
    dets, gts = _check_pair(detections, ground_truths, iou_type)
    t = _check_iou_threshold(iou_threshold)
    curves = {}
    for label in _labels(gts):
        flags, scores, n_gt = _class_ranking(dets, gts, label, [t], _MATCH_RULE[convention], None,
                                             _IOU[iou_type])
        precision, recall = _pr_from_flags(flags[0], n_gt)
        curves[label] = {"precision": precision, "recall": recall, "scores": scores,
                         "ap": average_precision(precision, recall, convention), "n_ground_truth": n_gt}
    return curves


# ----------------------------------------------------------------------------- confusion matrix

def detection_confusion_matrix(detections, ground_truths, num_classes: int, iou_threshold: float = 0.5,
                               score_threshold: float = 0.0) -> np.ndarray:
    """A ``(C + 1, C + 1)`` int64 confusion matrix for detection; index ``C`` is *background*.

    Rows are the true class, columns the predicted class. Per image, the
    detections with ``score >= score_threshold`` are visited by decreasing score;
    each is matched to the unmatched ground truth of *any* class with the highest
    IoU, if that IoU is ``>= iou_threshold``:

    - matched: ``M[true class, predicted class] += 1`` (off the diagonal: right
      place, wrong class);
    - unmatched detection (a false alarm): ``M[C, predicted class] += 1``;
    - unmatched ground truth (a missed object): ``M[true class, C] += 1``.

    ``M[C, C]`` is always 0. Classes must be ints in ``[0, num_classes)``.
    """
    if not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"num_classes: expected an int >= 1, received {_describe(num_classes)}")
    dets, gts = _check_pair(detections, ground_truths)
    t = _check_iou_threshold(iou_threshold)
    for name, items in (("detections", dets), ("ground_truths", gts)):
        for i, d in enumerate(items):
            c = d["classes"]
            if len(c) and (c.dtype.kind not in "iu" or c.min() < 0 or c.max() >= num_classes):
                raise ValueError(f"{name}[{i}]['classes']: expected ints in [0, {num_classes}), "
                                 f"received {c.tolist()}")
    bg = num_classes
    m = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for det, gt in zip(dets, gts):
        use = np.flatnonzero(det["scores"] >= score_threshold)
        use = use[np.argsort(-det["scores"][use], kind="stable")]     # (K,) best first
        _, matched = _match(box_iou(det["boxes"][use], gt["boxes"]), t, "coco")
        for d, g in zip(use, matched):
            m[gt["classes"][g] if g >= 0 else bg, det["classes"][d]] += 1
        missed = np.setdiff1d(np.arange(len(gt["boxes"])), matched[matched >= 0])
        np.add.at(m, (gt["classes"][missed].astype(np.int64), bg), 1)
    return m


# ----------------------------------------------------------------------------- mask quality

def matched_mask_ious(detections, ground_truths, iou_threshold: float = 0.5,
                      score_threshold: float = 0.0) -> dict:
    """The mask IoU of every detection matched to a ground-truth instance: how good the masks
    are *given that the object was found*.

    Both lists carry ``"boxes"``, ``"classes"`` and ``"masks"`` (detections also
    ``"scores"``). Per image and class, the detections with ``score >=
    score_threshold`` are matched to the ground truth on **box** IoU by COCO's rule
    at ``iou_threshold``; for each matched pair the **mask** IoU is reported.

    Returns ``{"ious" (P,), "image" (P,), "detection" (P,), "ground_truth" (P,),
    "mean_iou", "n_matched", "n_ground_truth"}``: one entry per matched pair (image
    order, then class, then rank), the indices into each image's lists;
    ``mean_iou`` is NaN when nothing matched.
    """
    dets, gts = _check_pair(detections, ground_truths, "segm")
    t = _check_iou_threshold(iou_threshold)
    rows = []                                                          # (image, det, gt, mask IoU)
    for i, (det, gt) in enumerate(zip(dets, gts)):
        for name, d in (("detections", det), ("ground_truths", gt)):
            if d["boxes"] is None:
                raise ValueError(f"{name}[{i}]: expected 'boxes' beside 'masks' (detections are "
                                 f"matched on boxes here)")
        for label in _labels([gt]):
            g = np.flatnonzero(gt["classes"] == label)
            mine = np.flatnonzero((det["classes"] == label) & (det["scores"] >= score_threshold))
            mine = mine[np.argsort(-det["scores"][mine], kind="stable")]  # best first
            _, matched = _match(box_iou(det["boxes"][mine], gt["boxes"][g]), t, "coco")
            for d, m in zip(mine[matched >= 0], matched[matched >= 0]):
                iou = mask_iou(det["regions"][d:d + 1], gt["regions"][g[m]:g[m] + 1])[0, 0]
                rows.append((i, int(d), int(g[m]), float(iou)))
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)           # (P, 4)
    return {"ious": table[:, 3], "image": table[:, 0].astype(np.int64),
            "detection": table[:, 1].astype(np.int64), "ground_truth": table[:, 2].astype(np.int64),
            "mean_iou": float(table[:, 3].mean()) if len(table) else float("nan"),
            "n_matched": len(table), "n_ground_truth": int(sum(len(g["classes"]) for g in gts))}
