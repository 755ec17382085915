"""Pictures for YOLO: the grid and its responsible cells, anchors, and the k-means of box shapes.

- :func:`plot_yolo_grid`: an image with the ``S_h x S_w`` grid drawn over it;
  for each true box, the cell responsible for it (the one holding its centre)
  shaded, its centre marked, and the anchor it is assigned to (by
  :func:`npvision.detection.encode_yolo_targets`) drawn dashed around that
  centre; the anchors themselves drawn at one cell's centre, to scale;
- :func:`plot_anchors`: the box shapes ``(w, h)`` as points coloured by their
  k-means cluster (highest IoU anchor), the anchors as stars, and the anchors
  as centred rectangles to scale;
- :func:`plot_mean_iou_vs_k`: the YOLOv2 paper's Figure 2 (left): the mean
  best IoU of k-means anchors against the number of clusters ``k``.

Boxes are ``(N, 4)`` xyxy pixels; anchors ``(B, 2)`` are ``(width, height)``
fractions of the image. Like every :mod:`npvision.viz` function, these draw on
a fresh Agg figure, save it when given ``path``, and return the figure.
"""

from __future__ import annotations

import numpy as np

from .._checks import int_pair
from ..detection.anchors import _as_anchors, _as_wh, kmeans_anchors, mean_best_iou, wh_iou
from ..detection.boxes import as_boxes
from ..detection.yolo import encode_yolo_targets
from ._figure import finish_figure
from .boxes import _colour, _new_figure, _show_image, draw_boxes

__all__ = ["plot_yolo_grid", "plot_anchors", "plot_mean_iou_vs_k"]


def _draw_centred_box(ax, cx, cy, w, h, colour, linestyle="--", linewidth=1.5):
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((cx - w / 2, cy - h / 2), w, h, fill=False, edgecolor=colour,
                           linestyle=linestyle, linewidth=linewidth))


def plot_yolo_grid(image, grid_size, anchors=None, boxes=None, classes=None, class_names=None, path=None,
                   *, anchor_cell=None, title: str | None = None, panel_size: float = 5.0, dpi: int = 100):
    """The YOLO grid over ``image (H, W[, C])``, with responsible cells and anchors.

    - ``grid_size``: ``S`` or ``(S_h, S_w)``; the lines are drawn every
      ``H / S_h`` and ``W / S_w`` pixels.
    - ``boxes (K, 4)`` xyxy pixels and ``classes (K,)``: each true box is drawn
      solid, its centre marked, its responsible cell shaded in its class
      colour, and (with ``anchors``) its assigned anchor drawn dashed around
      its centre, exactly as :func:`npvision.detection.encode_yolo_targets`
      assigns it (an object dropped by the collision rule gets no anchor).
    - ``anchors (B, 2)``: all of them drawn dotted, to scale, around the centre
      of ``anchor_cell = (row, column)`` (default: the middle cell).
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image: expected (H, W) or (H, W, C), received shape {img.shape}")
    h, w = img.shape[:2]
    s_h, s_w = int_pair(grid_size, "grid_size")
    anchors = None if anchors is None else _as_anchors(anchors)
    fig, axes = _new_figure(1, panel_size)
    ax = axes[0]
    _show_image(ax, img)
    cell_h, cell_w = h / s_h, w / s_w
    for r in range(1, s_h):
        ax.axhline(r * cell_h, color="white", lw=0.8, alpha=0.8)
    for c in range(1, s_w):
        ax.axvline(c * cell_w, color="white", lw=0.8, alpha=0.8)

    if boxes is not None:
        from matplotlib.patches import Rectangle

        b = as_boxes(boxes, "boxes")
        cls = np.zeros(len(b), dtype=np.int64) if classes is None else np.asarray(classes, dtype=np.int64)
        if cls.shape != (len(b),):
            raise ValueError(f"classes: expected {len(b)} class ids for {len(b)} boxes, received shape {cls.shape}")
        where = None
        if anchors is not None and len(b):
            _, (where,) = encode_yolo_targets([b], [cls], (h, w), (s_h, s_w), anchors,
                                              int(cls.max()) + 1, return_assignment=True)
        for k in range(len(b)):
            cx, cy = (b[k, 0] + b[k, 2]) / 2, (b[k, 1] + b[k, 3]) / 2
            row = min(int(cy / cell_h), s_h - 1)
            col = min(int(cx / cell_w), s_w - 1)
            colour = _colour(cls[k])
            ax.add_patch(Rectangle((col * cell_w, row * cell_h), cell_w, cell_h, facecolor=colour,
                                   edgecolor="none", alpha=0.35))
            ax.plot([cx], [cy], marker="o", ms=4, color=colour, mec="white", mew=0.8)
            if where is not None and where[k, 2] >= 0:
                a = where[k, 2]
                _draw_centred_box(ax, cx, cy, anchors[a, 0] * w, anchors[a, 1] * h, colour, "--", 1.2)
                ax.text(cx, cy, f" a{a}", fontsize=7, color="white", va="center", ha="left", clip_on=True)
        draw_boxes(ax, b, cls, None, class_names, linewidth=1.5)

    if anchors is not None:
        row, col = (s_h // 2, s_w // 2) if anchor_cell is None else int_pair(anchor_cell, "anchor_cell", 0)
        if not (0 <= row < s_h and 0 <= col < s_w):
            raise ValueError(f"anchor_cell: expected (row, column) inside the {s_h}x{s_w} grid, "
                             f"received {anchor_cell!r}")
        cx, cy = (col + 0.5) * cell_w, (row + 0.5) * cell_h
        for a, (aw, ah) in enumerate(anchors):
            _draw_centred_box(ax, cx, cy, aw * w, ah * h, "yellow", ":", 1.2)
        ax.plot([cx], [cy], marker="+", ms=8, color="yellow")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    caption = f"{s_h}x{s_w} grid"
    if anchors is not None:
        caption += f", {len(anchors)} anchors"
    ax.set_title(caption)
    return finish_figure(fig, path, title, dpi)


def plot_anchors(wh, anchors, path=None, *, title: str | None = None, panel_size: float = 4.5,
                 dpi: int = 100):
    """The k-means clustering of box shapes: two panels.

    Left: every shape ``wh (M, 2)`` as a point ``(width, height)``, coloured by
    its cluster (the anchor with the highest centre-aligned IoU), the anchors
    ``(B, 2)`` as stars; the title gives :func:`npvision.detection.mean_best_iou`.
    Right: the anchors as rectangles sharing one centre, to scale.
    """
    wh = _as_wh(wh, "wh")
    anchors = _as_anchors(anchors)
    cluster = wh_iou(wh, anchors).argmax(axis=1)                      # (M,)
    fig, axes = _new_figure(2, panel_size)
    ax = axes[0]
    for a in range(len(anchors)):
        members = wh[cluster == a]
        ax.scatter(members[:, 0], members[:, 1], s=8, color=_colour(a), alpha=0.6)
        ax.scatter([anchors[a, 0]], [anchors[a, 1]], s=180, marker="*", color=_colour(a),
                   edgecolor="black", linewidth=0.8, zorder=3, label=f"anchor {a}: "
                   f"{anchors[a, 0]:.2f} x {anchors[a, 1]:.2f}")
    ax.set_xlabel("width")
    ax.set_ylabel("height")
    ax.set_title(f"{len(wh)} box shapes, mean best IoU {mean_best_iou(wh, anchors):.3f}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[1]
    for a, (aw, ah) in enumerate(anchors):
        _draw_centred_box(ax, 0.0, 0.0, aw, ah, _colour(a), "-", 2.0)
    half = anchors.max() / 2 * 1.1
    ax.set_xlim(-half, half)
    ax.set_ylim(half, -half)
    ax.set_aspect("equal")
    ax.set_title("anchors to scale (fractions of the image)")
    return finish_figure(fig, path, title, dpi)


def plot_mean_iou_vs_k(wh, ks=range(1, 10), seed: int = 0, path=None, *, title: str | None = None,
                       panel_size: float = 4.5, dpi: int = 100):
    """Mean best IoU of :func:`npvision.detection.kmeans_anchors` against ``k``.

    ``wh (M, 2)`` box shapes; ``ks`` the numbers of clusters to try (those
    above the number of distinct shapes are skipped). The curve rises and
    flattens: YOLOv2 chose ``k = 5`` as "a good tradeoff between model
    complexity and high recall". The figure's ``.values`` is ``{k: IoU}``.
    """
    wh = _as_wh(wh, "wh")
    distinct = len(np.unique(wh, axis=0))
    values = {int(k): mean_best_iou(wh, kmeans_anchors(wh, int(k), seed=seed)) for k in ks if k <= distinct}
    fig, axes = _new_figure(1, panel_size)
    ax = axes[0]
    ax.plot(list(values), list(values.values()), marker="o")
    ax.set_xlabel("number of anchors k")
    ax.set_ylabel("mean best IoU")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    fig.values = values
    return finish_figure(fig, path, title, dpi)
