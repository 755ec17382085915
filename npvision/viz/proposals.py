"""Pictures of region proposals: the initial segmentation, the grouping steps, the top boxes.

- :func:`color_regions`: a label image -> an RGB picture, one colour per region;
- :func:`plot_segmentation`: the image and its Felzenszwalb-Huttenlocher segmentation,
  regions coloured, with their count;
- :func:`plot_grouping_steps`: one hierarchy of selective search at several points
  (the segmentation after 0, ..., n-1 merges); a merged region keeps the colour of
  its larger part, so one sees regions grow into objects, and the box of each region
  formed last is drawn;
- :func:`plot_proposals`: the top-N proposals over the image, best first (the
  brightest), optionally with the ground-truth boxes and, for each, the best IoU any
  of the N reaches.

Like every :mod:`npvision.viz` function these draw on a fresh Agg figure, save it
when given ``path`` and return the figure.
"""

from __future__ import annotations

import numpy as np

from ..detection.boxes import as_boxes, box_iou
from ._figure import finish_figure
from .boxes import _show_image, draw_boxes

__all__ = ["color_regions", "plot_segmentation", "plot_grouping_steps", "plot_proposals"]


def _palette(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random bright colours ``(n, 3)`` in [0.15, 1] (seeded: the same picture every time)."""
    return np.random.default_rng(seed).uniform(0.15, 1.0, (n, 3))


def color_regions(labels, colors=None) -> np.ndarray:
    """``labels (H, W)`` int in ``0 .. R-1`` -> ``(H, W, 3)`` float RGB, region r painted
    ``colors[r]`` (default: seeded random colours)."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels: expected an (H, W) integer label image, received shape {labels.shape} "
                         f"and dtype {labels.dtype}")
    n = int(labels.max()) + 1 if labels.size else 0
    colors = _palette(n) if colors is None else np.asarray(colors, dtype=np.float64)
    return colors[labels]                                              # (H, W, 3)


def _new_figure(ncols: int, panel_size: float, image=None):
    """``ncols`` panels ``panel_size`` inches wide, as tall as ``image``'s aspect asks."""
    from matplotlib.figure import Figure

    aspect = 1.0 if image is None else np.shape(image)[0] / max(np.shape(image)[1], 1)
    fig = Figure(figsize=(panel_size * ncols, panel_size * aspect + 0.6), layout="constrained")
    return fig, np.atleast_1d(fig.subplots(1, ncols, squeeze=False)[0])   # (ncols,)


def plot_segmentation(image, labels, path=None, *, title: str | None = None, panel_size: float = 4.0,
                      dpi: int = 100):
    """The image beside its segmentation ``labels (H, W)``, one random colour per region."""
    fig, axes = _new_figure(2, panel_size, image)
    _show_image(axes[0], image)
    axes[0].set_title("image")
    _show_image(axes[1], color_regions(labels))
    axes[1].set_title(f"{int(np.max(labels)) + 1} regions")
    for ax in axes:
        ax.set_axis_off()
    return finish_figure(fig, path, title, dpi)


def _hierarchy_colors(hierarchy) -> np.ndarray:
    """A colour for each of the 2n-1 regions: random for the initial ones, then each merged
    region takes the colour of its larger part."""
    n = hierarchy.n_initial
    colors = np.zeros((len(hierarchy.sizes), 3))
    colors[:n] = _palette(n)
    for s, (i, j) in enumerate(hierarchy.merges):
        colors[n + s] = colors[i] if hierarchy.sizes[i] >= hierarchy.sizes[j] else colors[j]
    return colors


def plot_grouping_steps(image, hierarchy, steps=None, path=None, *, title: str | None = None,
                        panel_size: float = 3.0, dpi: int = 100):
    """The image, then ``hierarchy`` (a :class:`~npvision.detection.Hierarchy`) after each of
    ``steps`` merges (default: 0 and five points down to 2 regions), each panel titled with its
    region count and showing the box of the region formed last (white)."""
    n_merges = len(hierarchy.merges)
    if steps is None:
        steps = sorted({0, *np.unique(np.round(np.linspace(0, max(n_merges - 1, 0), 6)).astype(int))})
    steps = [int(s) for s in steps]
    for s in steps:
        if not 0 <= s <= n_merges:
            raise ValueError(f"steps: expected merge counts in 0..{n_merges}, received {s}")
    colors = _hierarchy_colors(hierarchy)
    boxes = hierarchy.xyxy()
    fig, axes = _new_figure(len(steps) + 1, panel_size, image)
    _show_image(axes[0], image)
    axes[0].set_title("image")
    for ax, s in zip(axes[1:], steps):
        _show_image(ax, colors[hierarchy.labels_after(s)])
        n_regions = hierarchy.n_initial - s
        ax.set_title(f"{s} merges: {n_regions} region{'s' if n_regions != 1 else ''}")
        if s > 0:
            draw_boxes(ax, boxes[hierarchy.n_initial + s - 1][None], colors="white", linewidth=1.5,
                       show_text=False)
    for ax in axes:
        ax.set_axis_off()
    if title is None and hierarchy.strategy is not None:
        st = hierarchy.strategy
        title = f"hierarchical grouping: {st.color_space.upper()}, k = {st.k:g}, similarity {st.similarity}"
    return finish_figure(fig, path, title, dpi)


def plot_proposals(image, boxes, top: int = 20, ground_truth=None, path=None, *, title: str | None = None,
                   panel_size: float = 5.0, dpi: int = 100):
    """The first ``top`` of ``boxes (K, 4)`` xyxy (best first) over ``image``, the best the
    most opaque, numbered by rank. ``ground_truth (M, 4)``: drawn dashed white, each captioned
    with the best IoU any of the drawn proposals reaches with it."""
    from matplotlib import colormaps

    b = as_boxes(boxes, "boxes")
    if not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top: expected an int >= 1, received {top!r}")
    shown = b[:top]
    fig, axes = _new_figure(1, panel_size, image)
    ax = axes[0]
    _show_image(ax, image)
    cmap = colormaps["viridis"]
    for rank in range(len(shown) - 1, -1, -1):                         # best drawn last, on top
        fade = rank / max(len(shown) - 1, 1)
        draw_boxes(ax, shown[rank][None], colors=[cmap(0.95 - 0.75 * fade)], linewidth=1.6,
                   alpha=1.0 - 0.6 * fade, show_text=rank < 10, labels=[f"#{rank + 1}"])
    if ground_truth is not None:
        gt = as_boxes(ground_truth, "ground_truth")
        best = box_iou(gt, shown).max(axis=1) if len(shown) and len(gt) else np.zeros(len(gt))
        draw_boxes(ax, gt, colors="white", linestyle="--", linewidth=1.5, text_below=True,
                   labels=[f"IoU {v:.2f}" for v in best], text_color="black")
    ax.set_axis_off()
    if title is None:
        title = f"top {len(shown)} of {len(b)} proposals"
    return finish_figure(fig, path, title, dpi)
