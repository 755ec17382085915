"""The R-CNN box parametrization: boxes as offsets from a reference box, and back.

A two-stage detector never predicts a box's corners directly. It predicts how to
move and stretch a *reference* box ``p`` (an anchor for the RPN, a proposal for the
box head) onto the target ``g`` (Girshick et al., R-CNN, appendix C)::

    p_w = p_x2 - p_x1              p_cx = p_x1 + p_w / 2          (same for h, cy)

    t_x = w_x (g_cx - p_cx) / p_w     t_y = w_y (g_cy - p_cy) / p_h
    t_w = w_w log(g_w / p_w)          t_h = w_h log(g_h / p_h)

The shift is measured in units of the reference's own size and the scale as a log
ratio, so the same ``t`` means "a little to the right" for a small box and a large
one; ``weights = (w_x, w_y, w_w, w_h)`` rescale the four numbers so that a loss
treats them evenly (torchvision's box head uses ``(10, 10, 5, 5)``, its RPN
``(1, 1, 1, 1)``). Decoding inverts it::

    g_cx = p_cx + (t_x / w_x) p_w      g_w = p_w exp(min(t_w / w_w, log(1000 / 16)))

The clamp of ``t_w / w_w`` and ``t_h / w_h`` at ``log(1000 / 16)`` (:data:`BOX_SCALE_CLAMP`)
keeps a wild prediction early in training from overflowing ``exp``: no box grows
more than 62.5 times its reference. The width is ``x2 - x1`` (continuous pixels,
no ``+ 1``), exactly torchvision's ``BoxCoder``; ``tests/data/box_coder_goldens.npz``
holds its outputs and the tests compare against them.

Shapes: ``boxes``/``proposals`` ``(N, 4)`` xyxy; ``deltas`` ``(N, 4)``, or ``(N, 4 K)``
for class-specific regression (``K`` boxes per reference, class ``k`` in columns
``4k .. 4k + 3``), decoded to ``(N, 4 K)``.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import _describe, as_float_array
from .boxes import as_boxes

__all__ = ["encode_boxes", "decode_boxes", "BOX_SCALE_CLAMP"]

#: decode clamps ``t_w / w_w`` and ``t_h / w_h`` from above at this value (torchvision's ``bbox_xform_clip``)
BOX_SCALE_CLAMP = math.log(1000.0 / 16)


def _weights(weights) -> tuple[float, float, float, float]:
    try:
        w = tuple(float(v) for v in weights)
    except (TypeError, ValueError):
        raise TypeError(f"weights: expected four positive numbers (w_x, w_y, w_w, w_h), "
                        f"received {_describe(weights)}") from None
    if len(w) != 4 or not all(math.isfinite(v) and v > 0 for v in w):
        raise ValueError(f"weights: expected four positive finite numbers (w_x, w_y, w_w, w_h), "
                         f"received {weights!r}")
    return w


def _centre_size(b: np.ndarray):
    """``(cx, cy, w, h)``, each ``(N,)``, of xyxy boxes ``(N, 4)`` (torchvision's arithmetic)."""
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    return b[:, 0] + 0.5 * w, b[:, 1] + 0.5 * h, w, h


def _positive_size(b: np.ndarray, name: str) -> None:
    bad = ~((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: box {i} = {b[i].tolist()} has zero width or height; the "
                         f"parametrization divides by the reference's size and takes log(g_w / p_w) "
                         f"({int(bad.sum())} such box(es) in all)")


def encode_boxes(boxes, proposals, weights=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """Regression targets ``t (N, 4)`` that move each reference ``proposals[i]`` onto ``boxes[i]``.

    ``boxes`` and ``proposals``: ``(N, 4)`` xyxy with positive widths and heights (a
    zero-size box has no log-size). Returns ``(N, 4)`` columns ``(t_x, t_y, t_w, t_h)``
    (module docstring), in the common float dtype of the inputs.
    """
    g = as_boxes(boxes, "boxes")
    p = as_boxes(proposals, "proposals")
    if g.shape != p.shape:
        raise ValueError(f"proposals: expected one reference per box, shape {g.shape}, received {p.shape}")
    _positive_size(g, "boxes")
    _positive_size(p, "proposals")
    wx, wy, ww, wh = _weights(weights)
    dtype = np.result_type(g.dtype, p.dtype)
    g, p = g.astype(dtype, copy=False), p.astype(dtype, copy=False)
    p_cx, p_cy, p_w, p_h = _centre_size(p)
    g_cx, g_cy, g_w, g_h = _centre_size(g)
    t = np.stack([wx * (g_cx - p_cx) / p_w,
                  wy * (g_cy - p_cy) / p_h,
                  ww * np.log(g_w / p_w),
                  wh * np.log(g_h / p_h)], axis=1)                    # 4 x (N,) -> (N, 4)
    return t.astype(dtype, copy=False)


def decode_boxes(deltas, proposals, weights=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """Boxes obtained by applying ``deltas`` to the references ``proposals``: the inverse of encode.

    ``deltas`` ``(N, 4 K)`` (``K = 1``: one box per reference; ``K`` classes: class ``k``'s
    deltas in columns ``4k .. 4k + 3``), ``proposals`` ``(N, 4)`` xyxy. Returns xyxy
    ``(N, 4 K)`` in the dtype of ``deltas``. ``t_w / w_w`` and ``t_h / w_h`` are clamped
    from above at :data:`BOX_SCALE_CLAMP` before ``exp``. A reference of zero size gives
    a zero-size box at its centre (no NaN). Boxes are not clipped to the image.
    """
    d = as_float_array(deltas, "deltas")
    if d.ndim == 1 and d.size == 0:
        d = d.reshape(0, 4)                                              # (0,) -> (0, 4)
    if d.ndim != 2 or d.shape[1] == 0 or d.shape[1] % 4:
        raise ValueError(f"deltas: expected an (N, 4) or (N, 4 K) array, received shape {d.shape}")
    if not np.all(np.isfinite(d)):
        i = int(np.flatnonzero(~np.isfinite(d).all(axis=1))[0])
        raise ValueError(f"deltas: row {i} has a NaN or infinite value: {d[i].tolist()}")
    p = as_boxes(proposals, "proposals")
    if len(p) != len(d):
        raise ValueError(f"proposals: expected {len(d)} reference boxes (one per row of deltas), "
                         f"received {len(p)}")
    wx, wy, ww, wh = _weights(weights)
    p = p.astype(d.dtype, copy=False)
    p_cx, p_cy, p_w, p_h = (v[:, None] for v in _centre_size(p))       # each (N, 1)
    dx = d[:, 0::4] / d.dtype.type(wx)                                   # (N, K)
    dy = d[:, 1::4] / d.dtype.type(wy)
    dw = np.minimum(d[:, 2::4] / d.dtype.type(ww), d.dtype.type(BOX_SCALE_CLAMP))
    dh = np.minimum(d[:, 3::4] / d.dtype.type(wh), d.dtype.type(BOX_SCALE_CLAMP))
    cx = dx * p_w + p_cx                                                 # (N, K)
    cy = dy * p_h + p_cy
    half_w = 0.5 * (np.exp(dw) * p_w)
    half_h = 0.5 * (np.exp(dh) * p_h)
    out = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=2)   # (N, K, 4)
    return out.reshape(len(d), -1).astype(d.dtype, copy=False)          # (N, K, 4) -> (N, 4 K)

