"""Anchor boxes of a region proposal network: a fixed set of boxes at every feature-map cell.

(Not to be confused with :mod:`npvision.detection.anchors`, YOLO's k-means anchor
*shapes*.) Faster R-CNN (Ren et al., 2015) places ``A = len(sizes) * len(aspect_ratios)``
reference boxes at every location of a feature map of stride ``s``; the RPN scores each
as object / not object and regresses a correction to it (:mod:`~npvision.detection.box_coder`).

One level, exactly torchvision's ``AnchorGenerator``:

1. base anchors, centred on the origin, ratio-major (for each ratio, every size)::

       h_ratio = sqrt(ratio),  w_ratio = 1 / h_ratio        (ratio = h / w; area = size^2)
       w = w_ratio * size,     h = h_ratio * size
       base = round([-w, -h, w, h] / 2)                     (halves round to even)

2. shifted to every location ``(y, x)`` of the ``Hf x Wf`` map by ``(x s, y s)``:
   the anchors of cell ``(y, x)`` are centred on that cell's *top-left* pixel
   corner, not on its centre (torchvision's choice, kept for exactness);
3. ordered locations row-major, then the ``A`` anchors of a location:
   row ``(y Wf + x) A + a`` of the ``(Hf Wf A, 4)`` result.

That order is the one of an RPN head's output ``(N, Hf, Wf, A)`` flattened, so
anchor ``i`` and prediction ``i`` line up without any bookkeeping.

:class:`AnchorGenerator` holds the sizes and ratios of several feature levels (a
feature pyramid has one tuple of sizes per level) and checks that they match the
feature maps it is given.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._checks import _describe, int_pair

__all__ = ["anchor_boxes", "AnchorGenerator"]


def _positive_numbers(values, name: str) -> tuple[float, ...]:
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        values = (values,)
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a sequence of positive numbers, received {_describe(values)}") from None
    if not out or not all(math.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"{name}: expected a non-empty sequence of positive finite numbers, received {values!r}")
    return out


def base_anchors(sizes, aspect_ratios, dtype=np.float32) -> np.ndarray:
    """The ``A = len(aspect_ratios) len(sizes)`` anchors of one location, centred on ``(0, 0)``: ``(A, 4)``.

    Ratio-major: row ``r len(sizes) + k`` has ratio ``aspect_ratios[r]`` (``h / w``) and
    area ``sizes[k]^2``; corners rounded to integers, halves to even (see the module docstring).
    """
    scales = np.asarray(_positive_numbers(sizes, "sizes"), dtype=dtype)            # (S,)
    ratios = np.asarray(_positive_numbers(aspect_ratios, "aspect_ratios"), dtype=dtype)  # (R,)
    h_ratios = np.sqrt(ratios)                                                       # (R,)
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)                           # (R, S) -> (R S,)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2)                       # (A, 4)


def anchor_boxes(feature_size, stride, sizes, aspect_ratios, dtype=np.float32) -> np.ndarray:
    """Every anchor of one feature level: ``(Hf Wf A, 4)`` xyxy pixels of the input image.

    Parameters
    ----------
    feature_size : ``(Hf, Wf)`` of the feature map (an int means square).
    stride : input pixels per feature cell, an int or ``(s_y, s_x)`` (torchvision:
        ``image_size // feature_size``).
    sizes : anchor sizes in pixels (``sqrt`` of the area), e.g. ``(16, 24, 32)``.
    aspect_ratios : ratios ``h / w``, e.g. ``(0.5, 1.0, 2.0)``.

    Row ``(y Wf + x) A + a`` is anchor ``a`` (ratio-major, :func:`base_anchors`) shifted
    by ``(x s_x, y s_y)``; anchors may extend past the image border (nothing is clipped).
    """
    hf, wf = int_pair(feature_size, "feature_size")
    sy, sx = int_pair(stride, "stride")
    base = base_anchors(sizes, aspect_ratios, dtype)                                 # (A, 4)
    shift_x = np.arange(wf, dtype=dtype) * sx                                         # (Wf,)
    shift_y = np.arange(hf, dtype=dtype) * sy                                         # (Hf,)
    yy, xx = np.meshgrid(shift_y, shift_x, indexing="ij")                            # (Hf, Wf) each
    shifts = np.stack([xx, yy, xx, yy], axis=-1).reshape(-1, 1, 4)                   # (Hf Wf, 1, 4)
    return (shifts + base[None]).reshape(-1, 4)                                      # (Hf Wf A, 4)


def _per_level(values, name: str) -> tuple[tuple[float, ...], ...]:
    """``((16, 24),)`` stays; a flat ``(16, 24)`` means one level holding those values."""
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        return ((float(values),),)
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"{name}: expected one sequence of numbers per feature level, e.g. ((16, 24, 32),), "
                        f"received {_describe(values)}") from None
    if not values:
        raise ValueError(f"{name}: expected at least one feature level, received an empty sequence")
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        return (_positive_numbers(values, name),)
    return tuple(_positive_numbers(v, f"{name}[{i}]") for i, v in enumerate(values))


class AnchorGenerator:
    """Anchors for one or more feature levels (torchvision's ``AnchorGenerator``).

    ``sizes`` and ``aspect_ratios`` hold one sequence per level, e.g.
    ``AnchorGenerator(sizes=((12, 20, 28),), aspect_ratios=((0.5, 1.0, 2.0),))``; a flat
    sequence means a single level; ``aspect_ratios`` with one level is shared by all levels.
    ``num_anchors`` lists ``A`` per level (what each level's RPN head must predict).

    ``anchors(feature_sizes, image_size)`` -> ``(sum_l Hf_l Wf_l A_l, 4)``: the levels in
    order, each from :func:`anchor_boxes` with stride ``image_size // feature_size``. It
    raises when the number of feature maps differs from the number of levels.
    """

    def __init__(self, sizes=((16, 24, 32),), aspect_ratios=((0.5, 1.0, 2.0),)):
        self.sizes = _per_level(sizes, "sizes")
        ratios = _per_level(aspect_ratios, "aspect_ratios")
        if len(ratios) == 1 and len(self.sizes) > 1:
            ratios = ratios * len(self.sizes)
        if len(ratios) != len(self.sizes):
            raise ValueError(f"aspect_ratios: expected one sequence of ratios per feature level "
                             f"({len(self.sizes)} levels of sizes), received {len(ratios)}")
        self.aspect_ratios = ratios
        self.num_anchors = tuple(len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios))

    def __repr__(self) -> str:
        return f"AnchorGenerator(sizes={self.sizes}, aspect_ratios={self.aspect_ratios})"

    def strides(self, feature_sizes, image_size) -> list[tuple[int, int]]:
        """``(image_h // Hf, image_w // Wf)`` per level (torchvision's integer strides)."""
        levels = self._levels(feature_sizes)
        ih, iw = int_pair(image_size, "image_size")
        out = []
        for i, (hf, wf) in enumerate(levels):
            if hf > ih or wf > iw:
                raise ValueError(f"feature_sizes[{i}]: a {hf}x{wf} map is larger than the {ih}x{iw} image")
            out.append((ih // hf, iw // wf))
        return out

    def _levels(self, feature_sizes) -> list[tuple[int, int]]:
        if isinstance(feature_sizes, (tuple, list)) and len(feature_sizes) == 2 and all(
                isinstance(v, numbers.Integral) for v in feature_sizes):
            feature_sizes = [feature_sizes]                                      # one (Hf, Wf)
        levels = [int_pair(f, f"feature_sizes[{i}]") for i, f in enumerate(feature_sizes)]
        if len(levels) != len(self.sizes):
            raise ValueError(f"feature_sizes: the anchor generator has {len(self.sizes)} level(s) of sizes "
                             f"{self.sizes} and ratios {self.aspect_ratios}, but {len(levels)} feature "
                             f"map(s) were given; give one tuple of sizes (and of ratios) per feature map")
        return levels

    def anchors(self, feature_sizes, image_size, dtype=np.float32) -> np.ndarray:
        """All levels' anchors, concatenated: ``(sum_l Hf_l Wf_l A_l, 4)`` xyxy pixels."""
        levels = self._levels(feature_sizes)
        strides = self.strides(levels, image_size)
        return np.concatenate([anchor_boxes(f, s, sz, r, dtype) for f, s, sz, r in
                               zip(levels, strides, self.sizes, self.aspect_ratios)])
