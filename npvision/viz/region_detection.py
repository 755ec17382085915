"""Pictures for the region-based detectors: predictions, proposals, anchors.

- :func:`plot_prediction_grid`: held-out images, predicted boxes (solid, "class score")
  over the true ones (dashed white), one panel per image;
- :func:`plot_anchors`: a feature map's anchor grid over the image: every location's
  anchor centre as a dot, all ``A`` anchors at a few locations, and the anchors the
  matcher makes positive for the ground-truth boxes.

A region detector's proposals (the RPN's or selective search's) are drawn by
:func:`npvision.viz.proposals.plot_proposals`.

Like every :mod:`npvision.viz` function: a fresh Agg Figure, saved when given ``path``,
returned.
"""

from __future__ import annotations

import numpy as np

from ..detection.boxes import as_boxes
from ._figure import finish_figure
from .boxes import _show_image, draw_boxes

__all__ = ["plot_prediction_grid", "plot_anchors"]


def _grid_figure(n: int, cols: int, panel: float):
    from matplotlib.figure import Figure

    rows = -(-n // cols)
    fig = Figure(figsize=(panel * min(n, cols), panel * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, min(n, cols), squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_axis_off()
    return fig, axes


def plot_prediction_grid(images, detections, ground_truths, class_names=None, path=None, *,
                         score_threshold: float = 0.5, cols: int = 4, title: str | None = None,
                         panel_size: float = 3.0, dpi: int = 100):
    """Predictions (score ``>= score_threshold``) against the truth on each of ``images (N, H, W, 3)``.

    ``detections``/``ground_truths``: one dict per image (``"boxes"``, ``"classes"``, and
    ``"scores"`` for the detections), as :func:`npvision.detection.mean_average_precision` reads.
    """
    n = len(images)
    fig, axes = _grid_figure(n, cols, panel_size)
    for i in range(n):
        ax = axes[i]
        _show_image(ax, images[i])
        gt = ground_truths[i]
        draw_boxes(ax, gt["boxes"], colors="white", linestyle="--", linewidth=1.2, show_text=False)
        det = detections[i]
        keep = np.asarray(det["scores"]) >= score_threshold
        draw_boxes(ax, np.asarray(det["boxes"])[keep], np.asarray(det["classes"])[keep],
                   np.asarray(det["scores"])[keep], class_names, linewidth=1.5)
        ax.set_axis_off()
    return finish_figure(fig, path, title, dpi)


def plot_anchors(image, anchors, feature_size, num_anchors: int, ground_truth=None, positives=None, path=None, *,
                 locations=None, title: str | None = None, panel_size: float = 5.0, dpi: int = 100):
    """Anchors over ``image``: ``anchors (Hf Wf A, 4)`` in :func:`~npvision.detection.anchor_boxes` order.

    Dots: every location's anchor centre. Coloured boxes: the ``A`` anchors of each of
    ``locations`` (``(y, x)`` feature cells; default the centre cell). ``ground_truth (G, 4)``
    dashed white; ``positives`` (anchor indices, e.g. from the matcher) thin orange.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    a = as_boxes(anchors, "anchors")
    hf, wf = feature_size
    if len(a) != hf * wf * num_anchors:
        raise ValueError(f"anchors: expected Hf Wf A = {hf} x {wf} x {num_anchors} = {hf * wf * num_anchors} "
                         f"rows, received {len(a)}")
    fig = Figure(figsize=(panel_size, panel_size + 0.5), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    _show_image(ax, image)
    centres = (a[:, :2] + a[:, 2:]) / 2                                # (Hf Wf A, 2)
    ax.plot(centres[::num_anchors, 0], centres[::num_anchors, 1], ".", color="yellow", markersize=2.5)
    if positives is not None and len(positives):
        draw_boxes(ax, a[np.asarray(positives)], colors="orange", linewidth=0.8, show_text=False)
    if ground_truth is not None:
        draw_boxes(ax, ground_truth, colors="white", linestyle="--", linewidth=1.5, show_text=False)
    cmap = colormaps["cool"]
    for (y, x) in (locations if locations is not None else [(hf // 2, wf // 2)]):
        start = (y * wf + x) * num_anchors
        for k in range(num_anchors):
            draw_boxes(ax, a[start + k:start + k + 1], colors=[cmap(k / max(num_anchors - 1, 1))],
                       linewidth=1.4, show_text=False)
    h, w = np.asarray(image).shape[:2]
    ax.set_xlim(min(0, a[:, 0].min()) - 1, max(w, a[:, 2].max()) + 1)
    ax.set_ylim(max(h, a[:, 3].max()) + 1, min(0, a[:, 1].min()) - 1)
    ax.set_axis_off()
    return finish_figure(fig, path, title, dpi)
