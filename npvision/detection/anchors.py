"""Anchor boxes: shape IoU, k-means clustering of box shapes, and the mean best IoU.

YOLOv2 (Redmon and Farhadi, 2017) does not hand-pick its anchor boxes: it runs
k-means on the *shapes* ``(w, h)`` of the training boxes, with a distance that
cares about overlap rather than about pixels,

    d(box, anchor) = 1 - IoU(box, anchor),

where both boxes are put on the same centre, so only their widths and heights
matter. For two centre-aligned boxes the IoU has a closed form::

    inter = min(w, a_w) * min(h, a_h)
    IoU   = inter / (w h + a_w a_h - inter)

(the intersection of two rectangles sharing a centre is the rectangle of the
smaller width and the smaller height).

- :func:`wh_iou`: that IoU for every box shape against every anchor, ``(M, B)``;
- :func:`boxes_wh`: the ``(w, h)`` shapes of a dataset's boxes, as fractions of the image;
- :func:`kmeans_anchors`: k-means with the ``1 - IoU`` distance -> ``(k, 2)``
  anchors sorted by area;
- :func:`mean_best_iou`: the average, over the boxes, of the IoU with the best
  anchor -- the "Avg IOU" column of the paper's Table 1, the measure by which
  one set of anchors is better than another.

Shapes are ``(M, 2)`` arrays of ``(width, height)``: fractions of the image in
the YOLO code, but any unit works as long as boxes and anchors share it.
"""

from __future__ import annotations

import numpy as np

from .._checks import _describe, as_float_array, positive_int
from .boxes import _image_size, as_boxes

__all__ = ["wh_iou", "boxes_wh", "kmeans_anchors", "mean_best_iou"]


# ----------------------------------------------------------------------------- validation

def _as_wh(wh, name: str, allow_empty: bool = False) -> np.ndarray:
    """``wh`` as a float ``(M, 2)`` array of positive, finite ``(width, height)`` pairs."""
    arr = as_float_array(wh, name)
    if arr.ndim == 1 and arr.size == 2:
        arr = arr[None, :]                                            # (2,) -> (1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name}: expected an (M, 2) array of (width, height), received shape {arr.shape}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name}: expected at least one (width, height) row, received shape {arr.shape}")
    bad = ~(np.isfinite(arr).all(axis=1) & (arr > 0).all(axis=1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: row {i} = {arr[i].tolist()} is not a positive finite (width, height) "
                         f"({int(bad.sum())} such row(s) in all)")
    return arr


def _as_anchors(anchors, name: str = "anchors") -> np.ndarray:
    """Anchors ``(B, 2)`` of positive ``(width, height)``, fractions of the image: in ``(0, 1]``.

    Anchors in pixels (``[[16, 32], ...]``) are the usual slip; they are refused here
    rather than read as boxes 16 images wide.
    """
    arr = _as_wh(anchors, name)
    big = arr > 1.0
    if big.any():
        i = int(np.flatnonzero(big.any(axis=1))[0])
        raise ValueError(f"{name}: row {i} = {arr[i].tolist()} is larger than the image; anchors are "
                         f"(width, height) as fractions of the image, in (0, 1] (divide sizes in "
                         f"pixels by the image's width and height)")
    return arr


# ----------------------------------------------------------------------------- shape IoU

def wh_iou(wh, anchors) -> np.ndarray:
    """IoU of centre-aligned boxes: ``wh (M, 2)`` against ``anchors (B, 2)`` -> ``(M, B)``.

    ``IoU = min(w, a_w) min(h, a_h) / (w h + a_w a_h - min(w, a_w) min(h, a_h))``.
    The result has the dtype of ``wh`` (float64 when either is float64).
    """
    wh = _as_wh(wh, "wh", allow_empty=True)
    anchors = _as_wh(anchors, "anchors")
    dtype = np.result_type(wh.dtype, anchors.dtype)
    w, h = wh[:, None, 0], wh[:, None, 1]                             # (M, 1) each
    aw, ah = anchors[None, :, 0], anchors[None, :, 1]                 # (1, B) each
    inter = np.minimum(w, aw) * np.minimum(h, ah)                     # (M, B)
    union = w * h + aw * ah - inter                                   # (M, B), > 0: shapes are positive
    return (inter / union).astype(dtype, copy=False)


def boxes_wh(boxes, image_size) -> np.ndarray:
    """Widths and heights of a dataset's boxes as fractions of the image, ``(M, 2)``.

    ``boxes``: one ``(K, 4)`` xyxy pixel array, or a list of them (one per
    image; all images of size ``image_size = (height, width)``). Zero-width or
    zero-height boxes are left out (they have no shape to cluster). float64.
    """
    h, w = _image_size(image_size)
    items = [boxes] if isinstance(boxes, np.ndarray) and boxes.ndim == 2 else list(boxes)
    rows = []
    for n, b in enumerate(items):
        b = as_boxes(b, f"boxes[{n}]").astype(np.float64)
        rows.append(np.stack([(b[:, 2] - b[:, 0]) / w, (b[:, 3] - b[:, 1]) / h], axis=1))  # (K, 2)
    wh = np.concatenate(rows) if rows else np.zeros((0, 2))
    return wh[(wh > 0).all(axis=1)]


def mean_best_iou(wh, anchors) -> float:
    """``mean_i max_a IoU(wh_i, anchor_a)``, in ``[0, 1]``: how well the anchors cover the shapes.

    It is the "Avg IOU" of the YOLOv2 paper's Table 1 (hand-picked anchors vs.
    k-means clusters, against the number of anchors). It never decreases when
    an anchor is added to a fixed set.
    """
    wh = _as_wh(wh, "wh")
    return float(wh_iou(wh, anchors).max(axis=1).mean())


# ----------------------------------------------------------------------------- k-means

def _init_centres(wh: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with ``d = 1 - IoU``: each new centre is a data shape drawn
    with probability proportional to ``d^2`` to its nearest centre so far."""
    centres = [wh[rng.integers(len(wh))]]
    for _ in range(1, k):
        d = 1.0 - wh_iou(wh, np.array(centres)).max(axis=1)          # (M,) distance to nearest centre
        p = d ** 2
        total = p.sum()
        # all shapes already coincide with a centre (only when k > distinct shapes: refused earlier)
        idx = rng.choice(len(wh), p=p / total) if total > 0 else rng.integers(len(wh))
        centres.append(wh[idx])
    return np.array(centres)                                          # (k, 2)


def _kmeans_once(wh: np.ndarray, k: int, rng: np.random.Generator, max_iter: int) -> np.ndarray:
    centres = _init_centres(wh, k, rng)                               # (k, 2)
    assign = None
    for _ in range(max_iter):
        iou = wh_iou(wh, centres)                                     # (M, k)
        new_assign = iou.argmax(axis=1)                               # (M,) nearest = highest IoU
        if assign is not None and np.array_equal(new_assign, assign):
            break
        assign = new_assign
        for c in range(k):
            members = assign == c
            if members.any():
                centres[c] = wh[members].mean(axis=0)                 # the cluster's mean shape
            else:
                # an empty cluster restarts at the shape worst served by the current centres
                worst = int(np.argmin(iou.max(axis=1)))
                centres[c] = wh[worst]
                iou[worst, c] = 1.0                                   # no other empty cluster takes it too
    return centres


def kmeans_anchors(wh, k: int, seed: int = 0, max_iter: int = 300, n_init: int = 3) -> np.ndarray:
    """Cluster box shapes ``wh (M, 2)`` into ``k`` anchors with the distance ``1 - IoU``.

    Lloyd's algorithm: (1) assign each shape to the centre with the highest
    centre-aligned IoU; (2) move each centre to the mean ``(w, h)`` of its
    shapes; repeat until the assignment stops changing or ``max_iter`` rounds.
    Seeding is k-means++ (centres drawn from the data, far ones more likely);
    a cluster that empties restarts at the shape with the lowest best IoU. The
    whole run is repeated ``n_init`` times from different seeds and the run
    with the highest :func:`mean_best_iou` is kept. The same ``seed`` always
    gives the same anchors.

    Returns ``(k, 2)`` float64 anchors ``(width, height)`` in the unit of
    ``wh``, sorted by increasing area. ``k`` larger than the number of
    distinct shapes in ``wh`` raises ``ValueError`` (the clusters would have
    to be duplicates).
    """
    wh = _as_wh(wh, "wh").astype(np.float64)
    k = positive_int(k, "k")
    max_iter = positive_int(max_iter, "max_iter")
    n_init = positive_int(n_init, "n_init")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, received {_describe(seed)}")
    distinct = len(np.unique(wh, axis=0))
    if k > distinct:
        raise ValueError(f"k: asked for {k} anchors but wh has only {distinct} distinct shape(s) "
                         f"among its {len(wh)} rows; use k <= {distinct}")
    rng = np.random.default_rng(seed)
    best, best_score = None, -1.0
    for _ in range(n_init):
        centres = _kmeans_once(wh, k, rng, max_iter)
        score = mean_best_iou(wh, centres)
        if score > best_score:
            best, best_score = centres, score
    order = np.argsort(best[:, 0] * best[:, 1], kind="stable")        # by increasing area
    return best[order]
