"""Bounding boxes: formats, validation, areas, IoU and generalized IoU.

Every function takes boxes as a ``(N, 4)`` floating-point array, one box per row.
Three formats (``fmt``) are understood; coordinates are continuous pixels
(x to the right, y down), or fractions of the image when normalized:

==========  =================================  ================================
format      a row                              meaning
==========  =================================  ================================
``xyxy``    ``(x1, y1, x2, y2)``               top-left and bottom-right corners
``xywh``    ``(x, y, w, h)``                   top-left corner, width, height
``cxcywh``  ``(cx, cy, w, h)``                 centre, width, height (YOLO's)
==========  =================================  ================================

The course writes a box as ``(x1, y1, x2, y2)``: that is ``xyxy``, the format
of everything else in :mod:`npvision.detection` (IoU, NMS, mAP).

Policy for degenerate boxes
---------------------------
* **Zero-area boxes** (``x2 == x1`` or ``y2 == y1``: a point or a line) are
  valid. Their area is 0, their intersection with anything is 0, and their IoU
  with anything -- themselves included -- is defined as **0** (``0 / 0`` is
  never computed; no NaN). NMS therefore never suppresses with, or suppresses,
  a zero-area box.
* **Inverted boxes** (``x2 < x1`` or ``y2 < y1``; a negative width or height in
  ``xywh``/``cxcywh``) are **rejected**: every public function raises a
  ``ValueError`` naming the argument and the index of the first bad box. They
  almost always mean a format mix-up (``xywh`` read as ``xyxy``), which a
  silent "empty" answer would hide. :func:`clip_boxes` can make boxes that lie
  wholly outside the image zero-area, never inverted.
* **NaN or infinite** coordinates are rejected the same way.
* Integer arrays are accepted and converted to float64 (pixel boxes are often
  integers); float32 stays float32, float64 stays float64.

Image sizes are ``(height, width)``, the order of ``image.shape[:2]``.
"""

from __future__ import annotations

import numpy as np

from .._checks import _describe

__all__ = [
    "BOX_FORMATS",
    "as_boxes",
    "box_convert",
    "normalize_boxes",
    "denormalize_boxes",
    "box_area",
    "box_iou",
    "generalized_box_iou",
    "clip_boxes",
    "iou",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


# ----------------------------------------------------------------------------- validation

def _check_format(fmt, name: str) -> str:
    if fmt not in BOX_FORMATS:
        raise ValueError(f"{name}: expected one of {BOX_FORMATS}, received {fmt!r}")
    return fmt


def as_boxes(boxes, name: str = "boxes", fmt: str = "xyxy") -> np.ndarray:
    """Check ``boxes`` and return them as a floating ``(N, 4)`` array (no copy when possible).

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for a wrong
    shape, a NaN/infinite coordinate, or an inverted box (``x2 < x1`` or
    ``y2 < y1`` in ``xyxy``; ``w < 0`` or ``h < 0`` otherwise), naming
    ``name`` and the index of the first bad box. ``N = 0`` is allowed: an
    empty list or an array of shape ``(0,)`` becomes ``(0, 4)``.
    """
    _check_format(fmt, "fmt")
    if not isinstance(boxes, np.ndarray):
        try:
            boxes = np.asarray(boxes)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise TypeError(f"{name}: expected an (N, 4) array of boxes, received "
                            f"{_describe(boxes)}") from exc
    if boxes.dtype.kind in "iu":
        boxes = boxes.astype(np.float64)
    if boxes.dtype.kind != "f":
        raise TypeError(f"{name}: expected an (N, 4) array of numbers, received {_describe(boxes)}")
    if boxes.ndim == 1 and boxes.size == 0:
        boxes = boxes.reshape(0, 4)                                   # (0,) -> (0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: expected an (N, 4) array of {fmt} boxes, received shape "
                         f"{boxes.shape}; a single box is boxes[None] or [box]")
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: box {i} has a NaN or infinite coordinate: {boxes[i].tolist()} "
                         f"({int(bad.sum())} such box(es) in all)")
    if fmt == "xyxy":
        inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
        rule = "x2 >= x1 and y2 >= y1 for (x1, y1, x2, y2)"
    else:
        inverted = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
        rule = f"w >= 0 and h >= 0 for {fmt} boxes"
    if inverted.any():
        i = int(np.flatnonzero(inverted)[0])
        raise ValueError(f"{name}: box {i} = {boxes[i].tolist()} is inverted; expected {rule} "
                         f"({int(inverted.sum())} inverted box(es) in all; is the format right?)")
    return boxes


def _image_size(image_size, name: str = "image_size") -> tuple[float, float]:
    """``(height, width)`` as two positive numbers."""
    try:
        h, w = (float(v) for v in image_size)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected (height, width), received {_describe(image_size)}") from exc
    if not (np.isfinite(h) and np.isfinite(w) and h > 0 and w > 0):
        raise ValueError(f"{name}: expected a positive (height, width), received {tuple(image_size)!r}")
    return h, w


# ----------------------------------------------------------------------------- formats

def box_convert(boxes, in_fmt: str, out_fmt: str) -> np.ndarray:
    """Convert ``(N, 4)`` boxes between ``"xyxy"``, ``"xywh"`` and ``"cxcywh"``.

    Through ``xyxy``::

        xywh   -> xyxy:  x1 = x,          y1 = y,          x2 = x + w,      y2 = y + h
        cxcywh -> xyxy:  x1 = cx - w / 2, y1 = cy - h / 2, x2 = cx + w / 2, y2 = cy + h / 2
        xyxy -> xywh:    (x1, y1, x2 - x1, y2 - y1)
        xyxy -> cxcywh:  ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)

    Returns a new array of the input's float dtype (even when the formats are equal).
    """
    _check_format(in_fmt, "in_fmt")
    _check_format(out_fmt, "out_fmt")
    b = as_boxes(boxes, "boxes", in_fmt)
    if in_fmt == out_fmt:
        return b.copy()
    a0, a1, a2, a3 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    half = b.dtype.type(0.5)
    if in_fmt == "xyxy":
        x1, y1, x2, y2 = a0, a1, a2, a3
    elif in_fmt == "xywh":
        x1, y1, x2, y2 = a0, a1, a0 + a2, a1 + a3
    else:  # cxcywh
        x1, y1, x2, y2 = a0 - half * a2, a1 - half * a3, a0 + half * a2, a1 + half * a3
    if out_fmt == "xyxy":
        cols = (x1, y1, x2, y2)
    elif out_fmt == "xywh":
        cols = (x1, y1, x2 - x1, y2 - y1)
    else:  # cxcywh
        cols = (half * (x1 + x2), half * (y1 + y2), x2 - x1, y2 - y1)
    return np.stack(cols, axis=1)                                     # 4 x (N,) -> (N, 4)


def normalize_boxes(boxes, image_size, fmt: str = "xyxy") -> np.ndarray:
    """Pixel boxes -> fractions of the image: x-values / width, y-values / height.

    Every format has x-like values in columns 0 and 2 and y-like values in
    columns 1 and 3, so the same scaling serves all three; ``fmt`` is only used
    to validate the boxes. ``image_size`` is ``(height, width)``.
    """
    b = as_boxes(boxes, "boxes", fmt)
    h, w = _image_size(image_size)
    scale = np.array([w, h, w, h], dtype=b.dtype)                     # (4,)
    return b / scale


def denormalize_boxes(boxes, image_size, fmt: str = "xyxy") -> np.ndarray:
    """Fractions of the image -> pixels: x-values * width, y-values * height.

    The inverse of :func:`normalize_boxes`; ``image_size`` is ``(height, width)``.
    """
    b = as_boxes(boxes, "boxes", fmt)
    h, w = _image_size(image_size)
    scale = np.array([w, h, w, h], dtype=b.dtype)                     # (4,)
    return b * scale


# ----------------------------------------------------------------------------- areas and IoU

def box_area(boxes) -> np.ndarray:
    """Areas ``(x2 - x1) * (y2 - y1)`` of ``(N, 4)`` xyxy boxes, shape ``(N,)``; zero-area boxes give 0."""
    b = as_boxes(boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _inter_union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise intersection and union areas of validated xyxy boxes, each ``(N, M)`` float64.

    Areas are products of two lengths, so they are computed in float64: in float32
    a box 1e20 wide has an area of ``inf`` and the IoU of two such identical boxes
    would come out 0 (``inf / inf``) instead of 1.
    """
    a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])              # (N,)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])              # (M,)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])                  # (N, M, 2) top-left of overlap
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])                  # (N, M, 2) bottom-right
    wh = np.clip(rb - lt, 0, None)                                   # (N, M, 2) 0 when disjoint
    inter = wh[..., 0] * wh[..., 1]                                  # (N, M)
    union = area_a[:, None] + area_b[None, :] - inter                # (N, M)
    return inter, union


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, else 0 (the zero-area policy)."""
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape), dtype=num.dtype)
    np.divide(num, den, out=out, where=den > 0)
    return out


def box_iou(a, b) -> np.ndarray:
    """Pairwise intersection over union of xyxy boxes ``a (N, 4)`` and ``b (M, 4)`` -> ``(N, M)``.

    ::

        inter = max(0, min(x2a, x2b) - max(x1a, x1b)) * max(0, min(y2a, y2b) - max(y1a, y1b))
        IoU   = inter / (area_a + area_b - inter)

    Boxes that only touch (share an edge or a corner) have IoU 0. When the
    union is 0 (both boxes zero-area) the IoU is defined as 0. Values are in
    ``[0, 1]``; the dtype is the common float type of ``a`` and ``b``.
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    dtype = np.result_type(a.dtype, b.dtype)
    inter, union = _inter_union(a, b)
    return _safe_divide(inter, union).astype(dtype, copy=False)


def generalized_box_iou(a, b) -> np.ndarray:
    """Pairwise generalized IoU (Rezatofighi et al., 2019) of xyxy boxes -> ``(N, M)``.

    With ``C`` the area of the smallest box enclosing both and ``U`` the union,

        GIoU = IoU - (C - U) / C

    so GIoU is in ``[-1, 1]``: 1 for identical boxes, close to -1 for tiny boxes
    far apart. Unlike IoU, it still says *how far* apart disjoint boxes are.
    When ``C = 0`` (two identical points) the penalty term is taken as 0, and
    IoU follows the zero-area policy, so GIoU is 0.
    """
    a = as_boxes(a, "a")
    b = as_boxes(b, "b")
    dtype = np.result_type(a.dtype, b.dtype)
    a, b = a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)
    inter, union = _inter_union(a, b)
    iou_ab = _safe_divide(inter, union)
    lt = np.minimum(a[:, None, :2], b[None, :, :2])                  # (N, M, 2) enclosing top-left
    rb = np.maximum(a[:, None, 2:], b[None, :, 2:])                  # (N, M, 2) enclosing bottom-right
    wh = rb - lt                                                     # (N, M, 2) >= 0 for valid boxes
    enclosing = wh[..., 0] * wh[..., 1]                              # (N, M)
    return (iou_ab - _safe_divide(enclosing - union, enclosing)).astype(dtype, copy=False)


def clip_boxes(boxes, image_size) -> np.ndarray:
    """Clip xyxy boxes to the image: x to ``[0, width]``, y to ``[0, height]``.

    ``image_size`` is ``(height, width)``. A box wholly outside the image
    becomes a zero-area box on its border (never an inverted one).
    """
    b = as_boxes(boxes)
    h, w = _image_size(image_size)
    out = b.copy()
    out[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)                     # (N, 2) x1, x2
    out[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)                     # (N, 2) y1, y2
    return out


def iou(box1, box2) -> float:
    """The course's ``iou(box1, box2)``: IoU of two single boxes ``(x1, y1, x2, y2)``, a float.

    The exercise's example: ``iou((2, 1, 4, 3), (1, 2, 3, 4))`` is
    ``1 / 7 = 0.142857...``: the overlap is the unit square ``[2, 3] x [2, 3]``
    and the union is ``4 + 4 - 1 = 7``. Disjoint or touching boxes give 0.
    """
    b1 = as_boxes(np.atleast_2d(np.asarray(box1)), "box1")          # (4,) -> (1, 4)
    b2 = as_boxes(np.atleast_2d(np.asarray(box2)), "box2")
    if len(b1) != 1 or len(b2) != 1:
        raise ValueError(f"box1, box2: expected one box (x1, y1, x2, y2) each, received "
                         f"{len(b1)} and {len(b2)} boxes; use box_iou for many")
    return float(box_iou(b1, b2)[0, 0])
