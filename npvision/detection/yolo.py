"""YOLO (v2-style): target encoding, the exact decoder, the loss with its backward, post-processing.

Notation: images ``(N, H, W, 3)``; an ``S_h x S_w`` grid of cells (square
``S x S`` in the course; both work here); ``B`` anchors per cell, given as
``anchors (B, 2) = (width, height)`` in fractions of the image; ``K`` classes.

The network's raw output
------------------------
``output (N, S_h, S_w, B * (5 + K))``, channels-last, viewed as
``(N, S_h, S_w, B, 5 + K)``; per cell ``(i, j)`` (row, column) and anchor ``a``:
``[t_x, t_y, t_w, t_h, t_o, class logits (K)]``.

Decoding (:func:`decode_yolo`)
------------------------------
::

    b_x = (j + sigmoid(t_x)) / S_w          b_w = a_w exp(t_w)      (fractions of the image)
    b_y = (i + sigmoid(t_y)) / S_h          b_h = a_h exp(t_h)
    objectness = sigmoid(t_o)               class probabilities = softmax(logits)

The sigmoid keeps a box's centre inside the cell that predicts it; the
exponential scales the anchor and can never give a negative size.

Targets (:func:`encode_yolo_targets`)
-------------------------------------
``targets (N, S_h, S_w, B, 5 + K)``, zero everywhere except at the anchor
responsible for an object, which holds::

    [x_off, y_off, log(w / a_w), log(h / a_h), 1, one-hot class]
    x_off = c_x S_w - j  in [0, 1)   (the target of sigmoid(t_x); stored as float32,
                                     so a value within 6e-8 of 1 rounds to 1.0)

Responsible is the cell containing the box centre ``(c_x, c_y)``,
``j = floor(c_x S_w)``, ``i = floor(c_y S_h)`` (a centre exactly on a border
between cells belongs to the cell right of / below it), and in that cell the
anchor whose shape has the highest IoU with the box's shape (both centred at
one point, :func:`npvision.detection.wh_iou`).

*Collision rule.* Objects are placed largest area first (ties: the earlier
object first). Each takes the best-IoU anchor of its cell still free; when
its best anchor is taken it falls back to the next-best free anchor of that
cell; when every anchor of the cell is taken the object is dropped (so the
larger boxes win). ``return_assignment=True`` shows where each object went.

The loss (:func:`yolo_loss`)
----------------------------
With ``m = targets[..., 4]`` (1 at responsible anchors, 0 elsewhere),
``s = sigmoid``, sums over cells and anchors, and the mean over the batch::

    L_coord = lambda_coord * sum m [(s(t_x) - x_off)^2 + (s(t_y) - y_off)^2
                                    + (t_w - t_w*)^2 + (t_h - t_h*)^2]
    L_obj   = lambda_obj   * sum m (s(t_o) - 1)^2            ("squared", the paper's)
              or           - sum m log s(t_o)                ("logistic")
    L_noobj = lambda_noobj * sum (1 - m) s(t_o)^2             ("squared")
              or           - sum (1 - m) log(1 - s(t_o))     ("logistic")
    L_class = lambda_class * sum m sum_k (p_k - y_k)^2        ("squared", p = softmax)
              or           - sum m log p_c                   ("cross_entropy")
    L = (L_coord + L_obj + L_noobj + L_class) / N

Optionally (``ignore_iou``, YOLOv2's 0.6) a non-responsible anchor whose
decoded box already overlaps a true box with IoU above the threshold is left
out of ``L_noobj``.

Its gradient with respect to the raw output, written out in :func:`yolo_loss`,
uses ``s'(t) = s(t)(1 - s(t))`` and, for the squared class loss through the
softmax, ``dL/dz = p * (g - sum_k g_k p_k)`` with ``g = 2 (p - y)``.

Post-processing (:func:`yolo_postprocess`)
------------------------------------------
Score = objectness x class probability of the best class (as the course does);
keep ``score >= score_threshold``; boxes to pixels, clipped to the image;
per-class NMS; at most ``max_detections``, by decreasing score. The result is
one dict per image in the format of :func:`npvision.detection.mean_average_precision`.

The course's step names are here too, as thin functions over the same math:
:func:`yolo_head`, :func:`yolo_boxes_to_corners`, :func:`yolo_filter_boxes`,
:func:`yolo_non_max_suppression`, :func:`yolo_eval`.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe, as_float_array, int_pair, nonnegative_int, positive_int
from .anchors import _as_anchors, wh_iou
from .boxes import _image_size, as_boxes
from .nms import batched_nms, nms

__all__ = [
    "encode_yolo_targets",
    "decode_yolo_targets",
    "decode_yolo",
    "yolo_loss",
    "yolo_postprocess",
    "yolo_head",
    "yolo_boxes_to_corners",
    "yolo_filter_boxes",
    "yolo_non_max_suppression",
    "yolo_eval",
]

# a box may stick out of the image by this fraction of its side (rounding after a resize)
_OUTSIDE_TOLERANCE = 1e-4


# ----------------------------------------------------------------------------- small math

def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow, in the dtype of ``x``."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the max for stability."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow: ``-log sigmoid(-x)``."""
    return np.logaddexp(0.0, x)


def _check_num_classes(num_classes) -> int:
    return positive_int(num_classes, "num_classes")


def _view_output(output, anchors: np.ndarray, num_classes: int, name: str = "output") -> np.ndarray:
    """Validate ``output (N, S_h, S_w, B (5 + K))`` and view it as ``(N, S_h, S_w, B, 5 + K)``."""
    out = as_float_array(output, name, ndim=4, layout="(N, S_h, S_w, B * (5 + K))")
    b, d = len(anchors), 5 + num_classes
    if out.shape[-1] != b * d:
        raise ValueError(f"{name}: expected {b} anchors x (5 + {num_classes} classes) = {b * d} channels "
                         f"in the last axis, received shape {out.shape}")
    return out.reshape(out.shape[:3] + (b, d))                        # (N, S_h, S_w, B, 5 + K)


# ----------------------------------------------------------------------------- targets

def _image_boxes(boxes_n, classes_n, n: int, height: float, width: float, num_classes: int):
    """One image's boxes (as fractions) and classes, checked; errors name image ``n``."""
    b = as_boxes(boxes_n, f"boxes[{n}]").astype(np.float64)
    c = np.asarray(classes_n)
    if c.ndim == 0 and len(b) == 1:
        c = c.reshape(1)                                              # a lone label for a lone box
    if c.ndim != 1 or len(c) != len(b):
        raise ValueError(f"classes[{n}]: expected {len(b)} class ids for the {len(b)} boxes of image {n}, "
                         f"received {_describe(c)}")
    if len(c) and (c.dtype.kind not in "iu" and not (c.dtype.kind == "f" and np.all(c == np.round(c)))):
        raise TypeError(f"classes[{n}]: expected integer class ids, received {_describe(c)}")
    c = c.astype(np.int64)
    if len(c) and (c.min() < 0 or c.max() >= num_classes):
        k = int(np.flatnonzero((c < 0) | (c >= num_classes))[0])
        raise ValueError(f"classes[{n}]: box {k} of image {n} has class {int(c[k])}; expected ids in "
                         f"[0, {num_classes}) for num_classes={num_classes}")
    frac = b / np.array([width, height, width, height])               # (K, 4) fractions of the image
    tol = _OUTSIDE_TOLERANCE
    outside = (frac < -tol).any(axis=1) | (frac > 1 + tol).any(axis=1)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise ValueError(f"boxes[{n}]: box {k} of image {n} = {b[k].tolist()} lies outside the "
                         f"{int(width)}x{int(height)} image (x in [0, {width:g}], y in [0, {height:g}] "
                         f"expected); clip it or drop it first")
    frac = np.clip(frac, 0.0, 1.0)                                    # rounding-sized overhangs
    flat = (frac[:, 2] <= frac[:, 0]) | (frac[:, 3] <= frac[:, 1])
    if flat.any():
        k = int(np.flatnonzero(flat)[0])
        raise ValueError(f"boxes[{n}]: box {k} of image {n} = {b[k].tolist()} has zero width or height "
                         f"inside the image; YOLO encodes log(w / a_w), so drop such boxes first")
    return frac, c


def encode_yolo_targets(boxes, classes, image_size, grid_size, anchors, num_classes: int,
                        return_assignment: bool = False):
    """The training target of every image: ``(N, S_h, S_w, B, 5 + K)`` float32.

    ``boxes``: a list of ``N`` arrays ``(K_i, 4)``, xyxy **pixels**; ``classes``:
    a list of ``N`` int arrays ``(K_i,)`` in ``[0, num_classes)``;
    ``image_size = (H, W)`` of the images the boxes belong to; ``grid_size``:
    ``S`` or ``(S_h, S_w)``; ``anchors (B, 2)``: ``(width, height)`` as
    fractions of the image.

    See the module docstring for the layout, the responsible anchor and the
    collision rule. Boxes must lie inside the image (up to rounding, 1e-4 of
    its side) and have positive width and height: otherwise ``ValueError``
    naming the image and the box. Images without boxes give all-zero targets.

    With ``return_assignment=True`` also returns a list of ``N`` int64 arrays
    ``(K_i, 3)`` of ``(row i, column j, anchor a)`` per object, ``-1`` for an
    object dropped by the collision rule.
    """
    h, w = _image_size(image_size)
    s_h, s_w = int_pair(grid_size, "grid_size")
    anchors = _as_anchors(anchors).astype(np.float64)
    num_classes = _check_num_classes(num_classes)
    if isinstance(boxes, np.ndarray) and boxes.ndim == 2:
        raise TypeError("boxes: expected a list with one (K_i, 4) array per image; for one image "
                        "pass [boxes]")
    boxes, classes = list(boxes), list(classes)
    if len(boxes) != len(classes):
        raise ValueError(f"classes: expected one array per image, {len(boxes)} like boxes, "
                         f"received {len(classes)}")
    b_count = len(anchors)
    targets = np.zeros((len(boxes), s_h, s_w, b_count, 5 + num_classes), dtype=np.float32)
    assignment = []
    for n, (boxes_n, classes_n) in enumerate(zip(boxes, classes)):
        frac, cls = _image_boxes(boxes_n, classes_n, n, h, w, num_classes)
        where = -np.ones((len(frac), 3), dtype=np.int64)
        assignment.append(where)
        if len(frac) == 0:
            continue
        cx = (frac[:, 0] + frac[:, 2]) / 2                            # (K,) centres, fractions
        cy = (frac[:, 1] + frac[:, 3]) / 2
        bw = frac[:, 2] - frac[:, 0]                                  # (K,) sizes, fractions
        bh = frac[:, 3] - frac[:, 1]
        col = np.minimum(np.floor(cx * s_w), s_w - 1).astype(np.int64)  # a centre at x = 1 stays inside
        row = np.minimum(np.floor(cy * s_h), s_h - 1).astype(np.int64)
        shape_iou = wh_iou(np.stack([bw, bh], axis=1), anchors)      # (K, B)
        taken = np.zeros((s_h, s_w, b_count), dtype=bool)
        for k in np.argsort(-(bw * bh), kind="stable"):               # largest box first
            i, j = row[k], col[k]
            for a in np.argsort(-shape_iou[k], kind="stable"):        # best anchor first
                if not taken[i, j, a]:
                    break
            else:
                continue                                              # the cell is full: dropped
            taken[i, j, a] = True
            where[k] = (i, j, a)
            t = targets[n, i, j, a]                                   # (5 + K,) view
            t[0] = cx[k] * s_w - j
            t[1] = cy[k] * s_h - i
            t[2] = np.log(bw[k] / anchors[a, 0])
            t[3] = np.log(bh[k] / anchors[a, 1])
            t[4] = 1.0
            t[5 + cls[k]] = 1.0
    return (targets, assignment) if return_assignment else targets


def decode_yolo_targets(targets, anchors, image_size) -> list[dict]:
    """The inverse of :func:`encode_yolo_targets`: the boxes and classes a target holds.

    ``targets (N, S_h, S_w, B, 5 + K)`` -> a list of ``N`` dicts
    ``{"boxes" (D, 4) xyxy pixels, "classes" (D,) int64}`` (the ground-truth
    format of :func:`npvision.detection.mean_average_precision`), one entry per
    responsible anchor, in cell order (row, column, anchor). Dropped objects
    (collision rule) do not come back. float64 boxes.
    """
    t = as_float_array(targets, "targets", ndim=5, layout="(N, S_h, S_w, B, 5 + K)").astype(np.float64)
    anchors = _as_anchors(anchors).astype(np.float64)
    h, w = _image_size(image_size)
    if t.shape[3] != len(anchors) or t.shape[4] < 6:
        raise ValueError(f"targets: expected shape (N, S_h, S_w, {len(anchors)}, 5 + K) for "
                         f"{len(anchors)} anchors, received {t.shape}")
    s_h, s_w = t.shape[1:3]
    result = []
    for n in range(t.shape[0]):
        i, j, a = np.nonzero(t[n, ..., 4] > 0.5)                      # (D,) each, row-major order
        cell = t[n, i, j, a]                                          # (D, 5 + K)
        cx = (j + cell[:, 0]) / s_w
        cy = (i + cell[:, 1]) / s_h
        bw = anchors[a, 0] * np.exp(cell[:, 2])
        bh = anchors[a, 1] * np.exp(cell[:, 3])
        boxes = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h],
                         axis=1).reshape(-1, 4)                       # (D, 4) pixels
        result.append({"boxes": boxes, "classes": cell[:, 5:].argmax(axis=1).astype(np.int64)})
    return result


# ----------------------------------------------------------------------------- decoding

def decode_yolo(output, anchors, num_classes: int) -> dict:
    """The exact YOLOv2 decoder: raw ``output (N, S_h, S_w, B (5 + K))`` -> boxes and probabilities.

    Returns ``{"boxes": (N, S_h, S_w, B, 4) xyxy fractions of the image,
    "objectness": (N, S_h, S_w, B), "class_probs": (N, S_h, S_w, B, K)}`` in the
    dtype of ``output`` (formulas in the module docstring). Boxes are not
    clipped: a box may extend past the image.
    """
    anchors = _as_anchors(anchors)
    num_classes = _check_num_classes(num_classes)
    p = _view_output(output, anchors, num_classes)                    # (N, S_h, S_w, B, 5 + K)
    dtype = p.dtype
    s_h, s_w = p.shape[1:3]
    col = np.arange(s_w, dtype=dtype)[None, None, :, None]           # (1, 1, S_w, 1)
    row = np.arange(s_h, dtype=dtype)[None, :, None, None]           # (1, S_h, 1, 1)
    cx = (col + _sigmoid(p[..., 0])) / s_w                            # (N, S_h, S_w, B)
    cy = (row + _sigmoid(p[..., 1])) / s_h
    bw = anchors[:, 0].astype(dtype) * np.exp(p[..., 2])              # anchors broadcast over B
    bh = anchors[:, 1].astype(dtype) * np.exp(p[..., 3])
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=-1)  # (N, S_h, S_w, B, 4)
    return {"boxes": boxes.astype(dtype, copy=False),
            "objectness": _sigmoid(p[..., 4]),
            "class_probs": _softmax(p[..., 5:])}


# ----------------------------------------------------------------------------- the loss

_OBJECTNESS_LOSSES = ("squared", "logistic")
_CLASS_LOSSES = ("squared", "cross_entropy")


def _check_fraction(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not (0.0 <= v <= 1.0):
        raise ValueError(f"{name}: expected a number in [0, 1], received {v!r}")
    return float(v)


def _nonnegative(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, received {v!r}")
    return float(v)


def yolo_loss(output, targets, anchors, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
              lambda_obj: float = 1.0, lambda_class: float = 1.0, objectness_loss: str = "squared",
              class_loss: str = "squared", ignore_iou: float | None = None, return_terms: bool = False):
    """The YOLO loss and its gradient: ``(loss, doutput)``, or ``(loss, doutput, terms)``.

    ``output (N, S_h, S_w, B (5 + K))`` raw network output; ``targets (N, S_h,
    S_w, B, 5 + K)`` from :func:`encode_yolo_targets`; ``anchors (B, 2)`` (only
    their number is used: the size targets are already ``log(w / a_w)``).
    Summed over cells and anchors, averaged over the batch (formulas in the
    module docstring). ``objectness_loss``: ``"squared"`` (the paper) or
    ``"logistic"`` (binary cross-entropy on ``t_o``); ``class_loss``:
    ``"squared"`` (the paper, on softmax probabilities) or ``"cross_entropy"``.
    ``doutput`` has the shape and dtype of ``output``.

    ``ignore_iou`` (YOLOv2 uses 0.6; default None = off): an anchor that is
    not responsible but whose decoded box already overlaps a true box of its
    image with ``IoU > ignore_iou`` is left out of the no-object term -- it
    found an object, just not the one it was given. The mask is recomputed
    from ``output`` at every call and is constant between its jumps, so it
    adds nothing to the gradient.

    Which trains better (``npvision.tasks`` ``yolo``, 1,500 training scenes, 5
    epochs, 300 held-out scenes, seeds 0 and 1; mAP@0.5): the cross-entropy
    class loss beat the squared one in all four pairings (+0.02 to +0.04);
    squared and logistic objectness were within 0.03 of each other, squared
    slightly ahead at that short budget; ``ignore_iou=0.6`` gave no gain.

    ``return_terms=True`` adds a dict ``{"coord", "obj", "noobj", "class"}`` of
    the weighted terms (each already divided by ``N``; they sum to ``loss``).

    The gradient, per responsible anchor (``m = 1``) and with ``s = sigmoid``::

        dL/dt_x = lambda_coord 2 (s(t_x) - x_off) s(t_x)(1 - s(t_x)) / N      (t_y alike)
        dL/dt_w = lambda_coord 2 (t_w - t_w*) / N                           (t_h alike)
        dL/dt_o = lambda_obj 2 (s - 1) s (1 - s) / N    or  lambda_obj (s - 1) / N
        dL/dz   = lambda_class p (g - <g, p>) / N, g = 2 (p - y)   or  lambda_class (p - y) / N

    and at every other anchor only ``dL/dt_o = lambda_noobj 2 s^2 (1 - s) / N``
    (squared) or ``lambda_noobj s / N`` (logistic).
    """
    anchors = _as_anchors(anchors)
    t = as_float_array(targets, "targets", ndim=5, layout="(N, S_h, S_w, B, 5 + K)")
    num_classes = t.shape[-1] - 5
    if num_classes < 1:
        raise ValueError(f"targets: expected a last axis of 5 + K >= 6, received shape {t.shape}")
    p = _view_output(output, anchors, num_classes)                    # (N, S_h, S_w, B, 5 + K)
    if p.shape != t.shape:
        raise ValueError(f"targets: expected shape {p.shape} to match output {np.shape(output)} viewed "
                         f"per anchor, received {t.shape}")
    if objectness_loss not in _OBJECTNESS_LOSSES:
        raise ValueError(f"objectness_loss: expected one of {_OBJECTNESS_LOSSES}, received {objectness_loss!r}")
    if class_loss not in _CLASS_LOSSES:
        raise ValueError(f"class_loss: expected one of {_CLASS_LOSSES}, received {class_loss!r}")
    l_coord = _nonnegative(lambda_coord, "lambda_coord")
    l_noobj = _nonnegative(lambda_noobj, "lambda_noobj")
    l_obj = _nonnegative(lambda_obj, "lambda_obj")
    l_class = _nonnegative(lambda_class, "lambda_class")

    if ignore_iou is not None:
        ignore_iou = _check_fraction(ignore_iou, "ignore_iou")
    if p.shape[0] == 0:
        raise ValueError(f"output: an empty batch (shape {np.shape(output)}) has no mean loss; "
                         f"expected at least one image")
    responsible = t[..., 4]
    if not np.all((responsible == 0) | (responsible == 1)):
        bad = np.argwhere((responsible != 0) & (responsible != 1))[0]
        raise ValueError(f"targets: the objectness target (index 4 of the last axis) must be 0 or 1 "
                         f"(which anchor is responsible), received {responsible[tuple(bad)]} at "
                         f"{tuple(int(i) for i in bad)}; encode targets with encode_yolo_targets")

    dtype = p.dtype
    t = t.astype(dtype, copy=False)
    n = p.shape[0]
    m = t[..., 4:5]                                                   # (N, S_h, S_w, B, 1) responsible
    noobj = 1.0 - t[..., 4]                                           # (N, S_h, S_w, B)
    if ignore_iou is not None:
        noobj = noobj * (_best_truth_iou(p, t, anchors) <= ignore_iou)
    grad = np.zeros_like(p)                                           # (N, S_h, S_w, B, 5 + K)

    # coordinates: sigmoid offsets and log sizes, responsible anchors only
    s_xy = _sigmoid(p[..., 0:2])                                      # (..., 2)
    e_xy = m * (s_xy - t[..., 0:2])
    e_wh = m * (p[..., 2:4] - t[..., 2:4])
    coord = l_coord * (np.sum(e_xy ** 2) + np.sum(e_wh ** 2))
    grad[..., 0:2] = l_coord * 2 * e_xy * s_xy * (1 - s_xy)
    grad[..., 2:4] = l_coord * 2 * e_wh

    # objectness: pulled to 1 at responsible anchors, pushed to 0 elsewhere
    t_o = p[..., 4]
    s_o = _sigmoid(t_o)
    m0 = m[..., 0]
    if objectness_loss == "squared":
        obj = l_obj * np.sum(m0 * (s_o - 1) ** 2)
        no = l_noobj * np.sum(noobj * s_o ** 2)
        grad[..., 4] = (l_obj * m0 * 2 * (s_o - 1) + l_noobj * noobj * 2 * s_o) * s_o * (1 - s_o)
    else:
        obj = l_obj * np.sum(m0 * _softplus(-t_o))                    # -log s(t_o)
        no = l_noobj * np.sum(noobj * _softplus(t_o))                 # -log(1 - s(t_o))
        grad[..., 4] = l_obj * m0 * (s_o - 1) + l_noobj * noobj * s_o

    # classes: responsible anchors only
    z = p[..., 5:]                                                    # (..., K) logits
    y = t[..., 5:]                                                    # (..., K) one-hot
    prob = _softmax(z)
    if class_loss == "squared":
        cls = l_class * np.sum(m * (prob - y) ** 2)
        g = 2 * (prob - y)                                            # dL/dp
        grad[..., 5:] = l_class * m * prob * (g - np.sum(g * prob, axis=-1, keepdims=True))
    else:
        log_p = z - z.max(axis=-1, keepdims=True)
        log_p = log_p - np.log(np.sum(np.exp(log_p), axis=-1, keepdims=True))   # (..., K) log softmax
        cls = l_class * -np.sum(m * y * log_p)
        grad[..., 5:] = l_class * m * (prob - y)

    terms = {"coord": coord / n, "obj": obj / n, "noobj": no / n, "class": cls / n}
    loss = float(sum(terms.values()))
    doutput = (grad / n).astype(dtype, copy=False).reshape(np.shape(output))  # (N, S_h, S_w, B (5 + K))
    if return_terms:
        return loss, doutput, {k: float(v) for k, v in terms.items()}
    return loss, doutput


def _best_truth_iou(p: np.ndarray, t: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """For every predicted box, its highest IoU with a true box of the same image: ``(N, S_h, S_w, B)``.

    ``p``, ``t``: the output and the targets viewed ``(N, S_h, S_w, B, 5 + K)``.
    Written without the box validators: an untrained network may predict
    infinite sizes (``exp`` overflow), which simply give IoU 0.
    """
    s_h, s_w = p.shape[1:3]
    with np.errstate(over="ignore", invalid="ignore"):
        pred = decode_yolo(p.reshape(p.shape[:3] + (-1,)), anchors, p.shape[-1] - 5)["boxes"]
        best = np.zeros(p.shape[:4], dtype=p.dtype)                   # (N, S_h, S_w, B)
        for n in range(p.shape[0]):
            i, j, a = np.nonzero(t[n, ..., 4] > 0.5)                  # (D,) the image's true boxes
            if len(i) == 0:
                continue
            cx = (j + t[n, i, j, a, 0]) / s_w
            cy = (i + t[n, i, j, a, 1]) / s_h
            bw = anchors[a, 0] * np.exp(t[n, i, j, a, 2])
            bh = anchors[a, 1] * np.exp(t[n, i, j, a, 3])
            gt = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)  # (D, 4)
            b = pred[n].reshape(-1, 1, 4)                             # (M, 1, 4) against (D, 4)
            iw = np.clip(np.minimum(b[..., 2], gt[:, 2]) - np.maximum(b[..., 0], gt[:, 0]), 0, None)
            ih = np.clip(np.minimum(b[..., 3], gt[:, 3]) - np.maximum(b[..., 1], gt[:, 1]), 0, None)
            inter = iw * ih                                           # (M, D)
            union = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) + bw * bh - inter
            iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)  # (M, D); inf union -> 0
            best[n] = np.nan_to_num(iou.max(axis=1)).reshape(p.shape[1:4])
    return best


# ----------------------------------------------------------------------------- post-processing

def _select(scores: np.ndarray, boxes: np.ndarray, classes: np.ndarray, iou_threshold: float,
            max_detections: int, per_class: bool = True):
    """NMS (per class, or over all boxes) then the ``max_detections`` best, by decreasing score."""
    keep = (batched_nms(boxes, scores, classes, iou_threshold) if per_class
            else nms(boxes, scores, iou_threshold))[:max_detections]  # (D,) sorted by score
    return scores[keep], boxes[keep], classes[keep]


def yolo_postprocess(output, anchors, num_classes: int, image_size, score_threshold: float = 0.6,
                     iou_threshold: float = 0.5, max_detections: int = 100) -> list[dict]:
    """Raw output -> final detections, one dict per image.

    ``output (N, S_h, S_w, B (5 + K))``; ``image_size = (H, W)`` in pixels. Steps
    (the course's): decode (:func:`decode_yolo`); score of each box =
    objectness x probability of its best class, and that class; keep
    ``score >= score_threshold``; boxes to pixels and clipped to the image;
    per-class NMS (:func:`npvision.detection.batched_nms`, drop when
    ``IoU > iou_threshold``); the ``max_detections`` highest scores.

    Returns ``N`` dicts ``{"boxes" (D, 4) xyxy pixels, "scores" (D,),
    "classes" (D,) int64}`` sorted by decreasing score, boxes and scores in the
    dtype of ``output``: exactly what
    :func:`npvision.detection.mean_average_precision` reads.
    """
    h, w = _image_size(image_size)
    score_threshold = _check_fraction(score_threshold, "score_threshold")
    iou_threshold = _check_fraction(iou_threshold, "iou_threshold")
    max_detections = nonnegative_int(max_detections, "max_detections")
    decoded = decode_yolo(output, anchors, num_classes)
    n = decoded["objectness"].shape[0]
    dtype = decoded["boxes"].dtype
    scale = np.array([w, h, w, h], dtype=dtype)
    all_scores = decoded["objectness"][..., None] * decoded["class_probs"]   # (N, S_h, S_w, B, K)
    result = []
    for i in range(n):
        scores_i = all_scores[i].reshape(-1, num_classes)             # (S_h S_w B, K)
        classes = scores_i.argmax(axis=1)                             # (M,) best class per box
        scores = scores_i.max(axis=1)                                 # (M,)
        boxes = decoded["boxes"][i].reshape(-1, 4) * scale            # (M, 4) pixels
        keep = scores >= score_threshold
        boxes = np.clip(boxes[keep], 0.0, scale)                      # x in [0, W], y in [0, H]
        s, b, c = _select(scores[keep], boxes, classes[keep].astype(np.int64), iou_threshold, max_detections)
        result.append({"boxes": b.astype(dtype, copy=False), "scores": s.astype(dtype, copy=False),
                       "classes": c})
    return result


# ----------------------------------------------------------------------------- the course's steps

def yolo_head(output, anchors, num_classes: int):
    """The course's ``yolo_head``: output -> ``(box_xy, box_wh, box_confidence, box_class_probs)``.

    For ``output (N, S_h, S_w, B (5 + K))``: ``box_xy (N, S_h, S_w, B, 2)``
    centres and ``box_wh (N, S_h, S_w, B, 2)`` sizes, both fractions of the
    image; ``box_confidence (N, S_h, S_w, B, 1)``; ``box_class_probs
    (N, S_h, S_w, B, K)``. The same decoder as :func:`decode_yolo`.
    """
    d = decode_yolo(output, anchors, num_classes)
    b = d["boxes"]                                                    # (..., 4) xyxy
    box_xy = (b[..., 0:2] + b[..., 2:4]) / 2
    box_wh = b[..., 2:4] - b[..., 0:2]
    return box_xy, box_wh, d["objectness"][..., None], d["class_probs"]


def yolo_boxes_to_corners(box_xy, box_wh) -> np.ndarray:
    """Centres ``box_xy (..., 2)`` and sizes ``box_wh (..., 2)`` -> corners ``(..., 4)``.

    npvision's corners are ``(x1, y1, x2, y2)`` (``xyxy``), ``x1 = x - w / 2``
    and so on. (The course's TensorFlow version returns ``(y1, x1, y2, x2)``,
    the order ``tf.image.non_max_suppression`` wants; reverse the pairs with
    ``corners[..., [1, 0, 3, 2]]`` to get it.)
    """
    xy = as_float_array(box_xy, "box_xy")
    wh = as_float_array(box_wh, "box_wh")
    if xy.shape != wh.shape or xy.shape[-1:] != (2,):
        raise ValueError(f"box_xy, box_wh: expected two arrays of the same shape (..., 2), received "
                         f"{xy.shape} and {wh.shape}")
    return np.concatenate([xy - wh / 2, xy + wh / 2], axis=-1)        # (..., 4)


def yolo_filter_boxes(boxes, box_confidence, box_class_probs, threshold: float = 0.6):
    """The course's ``yolo_filter_boxes``: keep boxes whose best class score reaches ``threshold``.

    ``boxes (..., 4)``, ``box_confidence (..., 1)``, ``box_class_probs (..., K)``
    over the same leading axes (e.g. ``(S, S, B)``); the argument order of the
    course's current (TensorFlow 2) notebook -- its 2018 version put
    ``box_confidence`` first. The score of a box and class is
    ``confidence x probability``; each box keeps its best class. Returns
    ``(scores (D,), boxes (D, 4), classes (D,) int64)`` for the boxes with
    ``score >= threshold``, in row-major order of the leading axes.
    """
    b = as_float_array(boxes, "boxes")
    conf = as_float_array(box_confidence, "box_confidence")
    probs = as_float_array(box_class_probs, "box_class_probs")
    lead = probs.shape[:-1]
    if conf.shape != lead + (1,) or b.shape != lead + (4,):
        hint = (" (boxes and box_confidence swapped? the order is boxes, box_confidence, box_class_probs)"
                if b.shape == lead + (1,) and conf.shape == lead + (4,) else "")
        raise ValueError(f"boxes, box_confidence, box_class_probs: expected shapes {lead + (4,)}, "
                         f"{lead + (1,)}, {probs.shape}, received {b.shape}, {conf.shape}, {probs.shape}{hint}")
    threshold = _check_fraction(threshold, "threshold")
    box_scores = conf * probs                                         # (..., K)
    classes = box_scores.argmax(axis=-1)                              # (...,)
    scores = box_scores.max(axis=-1)                                  # (...,)
    mask = scores >= threshold
    return scores[mask], b[mask], classes[mask].astype(np.int64)


def yolo_non_max_suppression(scores, boxes, classes, max_boxes: int = 10, iou_threshold: float = 0.5,
                             per_class: bool = False):
    """The course's ``yolo_non_max_suppression``: NMS, then at most ``max_boxes`` boxes.

    ``scores (D,)``, ``boxes (D, 4)`` xyxy, ``classes (D,)``. Like the course
    (``tf.image.non_max_suppression``), boxes suppress each other whatever
    their class; ``per_class=True`` runs NMS within each class instead (what
    :func:`yolo_postprocess` does). Returns ``(scores, boxes, classes)`` of the
    kept boxes by decreasing score.
    """
    s = as_float_array(scores, "scores", ndim=1)
    b = as_boxes(boxes, "boxes")
    c = np.asarray(classes)
    if len(b) != len(s) or c.shape != s.shape:
        raise ValueError(f"scores, boxes, classes: expected (D,), (D, 4), (D,), received {s.shape}, "
                         f"{b.shape}, {c.shape}")
    max_boxes = nonnegative_int(max_boxes, "max_boxes")
    iou_threshold = _check_fraction(iou_threshold, "iou_threshold")
    return _select(s, b, c, iou_threshold, max_boxes, per_class=per_class)


def yolo_eval(yolo_outputs, image_shape=(720, 1280), max_boxes: int = 10, score_threshold: float = 0.6,
              iou_threshold: float = 0.5, per_class: bool = False):
    """The course's ``yolo_eval``: one image's head outputs -> ``(scores, boxes, classes)``.

    ``yolo_outputs = (box_xy, box_wh, box_confidence, box_class_probs)`` for
    **one** image (``(S, S, B, 2)``, ``(S, S, B, 2)``, ``(S, S, B, 1)``,
    ``(S, S, B, K)``; take ``[i]`` of :func:`yolo_head`'s arrays for image
    ``i``); ``image_shape = (height, width)``. The steps: corners
    (:func:`yolo_boxes_to_corners`), score filtering
    (:func:`yolo_filter_boxes`), scaling to pixels, NMS
    (:func:`yolo_non_max_suppression`). Boxes come back as xyxy pixels, not
    clipped (the course does not clip either); see :func:`yolo_postprocess`
    for the batched, clipped, per-class version.
    """
    if not isinstance(yolo_outputs, (tuple, list)) or len(yolo_outputs) != 4:
        raise TypeError("yolo_outputs: expected a tuple (box_xy, box_wh, box_confidence, box_class_probs), "
                        f"received {_describe(yolo_outputs)}")
    box_xy, box_wh, box_confidence, box_class_probs = yolo_outputs
    h, w = _image_size(image_shape, "image_shape")
    corners = yolo_boxes_to_corners(box_xy, box_wh)                   # (S, S, B, 4) fractions
    scores, boxes, classes = yolo_filter_boxes(corners, box_confidence, box_class_probs, score_threshold)
    boxes = boxes * np.array([w, h, w, h], dtype=boxes.dtype)         # (D, 4) pixels
    return yolo_non_max_suppression(scores, boxes, classes, max_boxes, iou_threshold, per_class)
