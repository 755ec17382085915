"""Pictures for classification with localization and for landmark detection.

- :func:`plot_landmarks`: a grid of images with their true landmarks (hollow
  circles) and, if given, the predicted ones (crosses), one colour per landmark,
  with the landmark names in a legend;
- :func:`plot_localization`: a grid of images with the true box (dashed, white)
  and the predicted box with its class and ``p_c`` (solid), or "no object".

Points are ``(x, y)`` pixels and boxes ``(N, 4)`` xyxy pixels; pixel ``(row r,
column c)`` covers ``[c, c+1) x [r, r+1)``, as in :mod:`npvision.viz.boxes`.
Each function draws on a fresh Agg :class:`matplotlib.figure.Figure`, saves it
when given ``path`` and returns it.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import positive_int
from ._figure import finish_figure
from .boxes import _show_image, draw_boxes

__all__ = ["plot_landmarks", "plot_localization"]


def _grid(n: int, ncols: int, panel_size: float):
    from matplotlib.figure import Figure

    ncols = min(positive_int(ncols, "ncols"), n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows + 0.6), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)    # (nrows * ncols,)
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes[:n]


def _images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images: expected a non-empty batch (N, H, W) or (N, H, W, C), received "
                         f"shape {images.shape}")
    return images


def _points(points, name: str, n: int) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    if points.ndim != 3 or points.shape[0] != n or points.shape[2] != 2:
        raise ValueError(f"{name}: expected ({n}, K, 2) (x, y) points, one set per image, received "
                         f"shape {points.shape}")
    return points


def plot_landmarks(images, true_points, pred_points=None, names=None, path=None, *, ncols: int = 6,
                   title: str | None = None, panel_size: float = 2.2, dpi: int = 100):
    """Images ``(N, H, W[, C])`` with true points ``(N, K, 2)`` as circles and predicted
    points ``(N, K, 2)`` (optional) as crosses; landmark ``k`` has the same colour in
    every panel, and ``names`` (K strings) label the legend. ``true_points`` may be None
    to show predictions alone. The panel caption gives the image's mean point error
    when both are given.
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    images = _images(images)
    n = len(images)
    true = None if true_points is None else _points(true_points, "true_points", n)
    pred = None if pred_points is None else _points(pred_points, "pred_points", n)
    if true is None and pred is None:
        raise ValueError("true_points, pred_points: give at least one of them")
    k = (true if true is not None else pred).shape[1]
    if true is not None and pred is not None and pred.shape != true.shape:
        raise ValueError(f"pred_points: expected the shape of true_points {true.shape}, received "
                         f"{pred.shape}")
    if names is not None and len(names) != k:
        raise ValueError(f"names: expected {k} landmark names, received {len(names)}")
    colours = [colormaps["tab10"](j % 10) for j in range(k)]
    fig, axes = _grid(n, ncols, panel_size)
    for i, ax in enumerate(axes):
        _show_image(ax, images[i])
        ax.set_axis_off()
        if true is not None:
            ax.scatter(true[i, :, 0], true[i, :, 1], s=40, facecolors="none", edgecolors=colours,
                       linewidths=1.5)
        if pred is not None:
            ax.scatter(pred[i, :, 0], pred[i, :, 1], s=40, c=colours, marker="x", linewidths=1.5)
        if true is not None and pred is not None:
            err = np.sqrt(((pred[i] - true[i]) ** 2).sum(-1)).mean()
            ax.set_title(f"error {err:.2f} px", fontsize=8)
    handles = [Line2D([], [], color=colours[j], marker="o", linestyle="none",
                      label=names[j] if names is not None else f"landmark {j}") for j in range(k)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(k, 6), fontsize=8)
    return finish_figure(fig, path, title, dpi)


def plot_localization(images, true_boxes=None, true_labels=None, pred_boxes=None, pred_labels=None,
                      pred_scores=None, class_names=None, path=None, *, ncols: int = 6,
                      title: str | None = None, panel_size: float = 2.2, dpi: int = 100):
    """One object (or none) per image: the true box (dashed, white) and the prediction.

    ``images (N, H, W[, C])``; ``true_boxes``/``pred_boxes`` ``(N, 4)`` xyxy pixels;
    ``true_labels``/``pred_labels`` ``(N,)`` class ids, -1 for "no object" (that box
    is not drawn); ``pred_scores`` ``(N,)``, the predicted ``p_c``. The panel caption
    reads ``"true -> predicted"``.
    """
    images = _images(images)
    n = len(images)

    def rows(a, name, shape):
        if a is None:
            return None
        a = np.asarray(a)
        if a.shape != shape:
            raise ValueError(f"{name}: expected shape {shape}, received {a.shape}")
        return a

    tb, tl = rows(true_boxes, "true_boxes", (n, 4)), rows(true_labels, "true_labels", (n,))
    pb, pl = rows(pred_boxes, "pred_boxes", (n, 4)), rows(pred_labels, "pred_labels", (n,))
    ps = rows(pred_scores, "pred_scores", (n,))

    def name(label):
        if label is None:
            return "?"
        if label < 0:
            return "none"
        return str(class_names[label]) if class_names is not None else str(label)

    fig, axes = _grid(n, ncols, panel_size)
    for i, ax in enumerate(axes):
        _show_image(ax, images[i])
        ax.set_axis_off()
        t_lab = None if tl is None else int(tl[i])
        p_lab = None if pl is None else int(pl[i])
        if tb is not None and (t_lab is None or t_lab >= 0):
            draw_boxes(ax, tb[i:i + 1], colors="white", linestyle="--", linewidth=1.2, show_text=False)
        if pb is not None and (p_lab is None or p_lab >= 0):
            draw_boxes(ax, pb[i:i + 1], None if p_lab is None else [p_lab], None, class_names,
                       linewidth=1.5, show_text=False)
        caption = f"{name(t_lab)} -> {name(p_lab)}"
        if ps is not None:
            caption += f"  p_c {float(ps[i]):.2f}"
        ax.set_title(caption, fontsize=7)
    return finish_figure(fig, path, title, dpi)
