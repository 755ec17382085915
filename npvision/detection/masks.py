"""Instance masks: validation, mask IoU, tight boxes, and pasting a RoI's mask back into the image.

An *instance mask* is a boolean image ``(H, W)`` saying which pixels belong to one
object; an image's instances are stacked as ``(K, H, W)`` bool. (A *semantic* mask,
one class id per pixel, cannot tell two touching objects of one class apart; the
stack of instance masks can, and objects may even overlap in it.)

Pixels follow the scenes generator's convention: pixel (row r, column c) is the
square ``[c, c+1) x [r, r+1)`` with centre ``(c + 0.5, r + 0.5)``, so the tight box of
a mask is ``(min c, min r, max c + 1, max r + 1)`` in xyxy.

Mask IoU (what COCO's ``segm`` evaluation computes, crowd-free)::

    IoU(A, B) = |A and B| / |A or B|          (0 when both are empty)
"""

from __future__ import annotations

import numpy as np

from .._checks import _describe
from .boxes import as_boxes

__all__ = ["as_masks", "mask_iou", "masks_to_boxes", "paste_masks"]


def as_masks(masks, name: str = "masks", image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Check ``masks`` and return them as a bool ``(K, H, W)`` array.

    Booleans are taken as they are; integer or float arrays are accepted only when
    every value is 0 or 1. ``image_size`` ``(H, W)``, when given, must match.
    Raises ``TypeError`` / ``ValueError`` naming ``name``.
    """
    m = np.asarray(masks)
    if m.ndim != 3:
        raise ValueError(f"{name}: expected a 3-D (K, H, W) array of instance masks, received "
                         f"{_describe(masks) if isinstance(masks, np.ndarray) else f'shape {m.shape}'}")
    if m.dtype != bool:
        if m.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected bool masks (or 0/1 numbers), received dtype {m.dtype}")
        if m.size and not np.all((m == 0) | (m == 1)):
            bad = m[(m != 0) & (m != 1)].flat[0].item()
            raise ValueError(f"{name}: expected bool masks (or 0/1 numbers), found the value {bad!r}")
        m = m.astype(bool)
    if image_size is not None and tuple(m.shape[1:]) != tuple(image_size):
        raise ValueError(f"{name}: expected masks of the image's size {tuple(image_size)}, received "
                         f"masks of size {tuple(m.shape[1:])}")
    return m


def mask_iou(a, b) -> np.ndarray:
    """IoU of every pair of masks: ``a (K, H, W)``, ``b (M, H, W)`` bool -> ``(K, M)`` float64.

    ``inter[k, m] = sum_p a[k, p] b[m, p]`` (one matrix product over the flattened
    pixels, exact in float64 up to 2**53 pixels), ``union = |a_k| + |b_m| - inter``;
    ``IoU = inter / union``, and 0 where the union is empty (two empty masks).
    """
    a = as_masks(a, "a")
    b = as_masks(b, "b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"a, b: expected masks of one size, received {a.shape[1:]} and {b.shape[1:]}")
    pixels = a.shape[1] * a.shape[2]
    fa = a.reshape(len(a), pixels).astype(np.float64)             # (K, H*W)
    fb = b.reshape(len(b), pixels).astype(np.float64)             # (M, H*W)
    inter = fa @ fb.T                                             # (K, M)
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter       # (K, M)
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def masks_to_boxes(masks) -> np.ndarray:
    """Tight xyxy boxes ``(K, 4)`` float64 of masks ``(K, H, W)``: ``(min c, min r, max c + 1, max r + 1)``.

    An empty mask gets the zero box ``(0, 0, 0, 0)``.
    """
    m = as_masks(masks)
    boxes = np.zeros((len(m), 4))
    rows, cols = m.any(axis=2), m.any(axis=1)                      # (K, H), (K, W)
    for k in range(len(m)):
        r, c = np.flatnonzero(rows[k]), np.flatnonzero(cols[k])
        if len(r):
            boxes[k] = (c[0], r[0], c[-1] + 1, r[-1] + 1)
    return boxes


def _bilinear_weights(centres: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For sample positions ``centres`` (in units of a length-``n`` grid whose cell i has centre
    i + 0.5): the two neighbours ``i0, i1`` (clamped to the grid) and the weight of ``i1``."""
    u = np.clip(centres - 0.5, 0.0, n - 1.0)                       # grid coordinate, edge-clamped
    i0 = np.floor(u).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, u - i0


def paste_masks(mask_probs, boxes, image_size, threshold: float = 0.5) -> np.ndarray:
    """Paste each RoI's mask back into the image at its box: ``(K, M, M)`` -> ``(K, H, W)`` bool.

    ``mask_probs (K, MH, MW)``: the head's probabilities on a grid covering box ``k``
    (``boxes (K, 4)`` xyxy image pixels); ``image_size (H, W)``. The grid's cell
    ``(i, j)`` has its centre at ``(x1 + (j + 0.5) w / MW, y1 + (i + 0.5) h / MH)``
    with ``w = x2 - x1``, ``h = y2 - y1``. Each image pixel whose centre
    ``(c + 0.5, r + 0.5)`` lies inside the box reads the grid by bilinear
    interpolation (edge cells clamped) at

        u = (c + 0.5 - x1) MW / w,   v = (r + 0.5 - y1) MH / h,

    and belongs to the object when that value is ``>= threshold``. Pixels outside
    the box are 0. Resampling a box-sized target this way reproduces it exactly
    (the test ``test_pasted_mask_of_box_sized_target``). Zero-size boxes give
    empty masks.
    """
    probs = np.asarray(mask_probs)
    if probs.ndim != 3 or probs.dtype.kind not in "fb":
        raise ValueError(f"mask_probs: expected a (K, MH, MW) float array of probabilities, received "
                         f"{_describe(mask_probs)}")
    probs = probs.astype(np.float64)
    b = as_boxes(boxes, "boxes")
    if len(b) != len(probs):
        raise ValueError(f"boxes: expected one box per mask ({len(probs)}), received {len(b)}")
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or any(not isinstance(s, (int, np.integer)) or s < 1 for s in image_size)):
        raise ValueError(f"image_size: expected (height, width) ints >= 1, received {image_size!r}")
    h_img, w_img = int(image_size[0]), int(image_size[1])
    k, mh, mw = probs.shape
    out = np.zeros((k, h_img, w_img), dtype=bool)
    for i in range(k):
        x1, y1, x2, y2 = (float(v) for v in b[i])
        bw, bh = x2 - x1, y2 - y1
        if bw <= 0 or bh <= 0:
            continue
        # the image pixels whose centres lie inside the box
        c0, c1 = max(int(np.ceil(x1 - 0.5)), 0), min(int(np.ceil(x2 - 0.5)), w_img)
        r0, r1 = max(int(np.ceil(y1 - 0.5)), 0), min(int(np.ceil(y2 - 0.5)), h_img)
        if c1 <= c0 or r1 <= r0:
            continue
        u = (np.arange(c0, c1) + 0.5 - x1) * mw / bw               # (w',) grid x of the centres
        v = (np.arange(r0, r1) + 0.5 - y1) * mh / bh               # (h',)
        j0, j1, fx = _bilinear_weights(u, mw)
        i0, i1, fy = _bilinear_weights(v, mh)
        p = probs[i]
        top = p[i0][:, j0] * (1 - fx) + p[i0][:, j1] * fx          # (h', w')
        bottom = p[i1][:, j0] * (1 - fx) + p[i1][:, j1] * fx
        value = top * (1 - fy)[:, None] + bottom * fy[:, None]
        out[i, r0:r1, c0:c1] = value >= threshold
    return out
