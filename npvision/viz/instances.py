"""Pictures for instance segmentation: every object its own colour, with its class and score.

- :func:`overlay_instances`: an RGB image with each instance mask blended in its own
  colour and its outline drawn (pure NumPy; usable without matplotlib);
- :func:`draw_instances`: the same on a matplotlib Axes, each object captioned
  ``"class 0.97"`` at the top-left of its mask's box;
- :func:`plot_instances`: a row of images, each with its instances (and optionally
  the ground truth beside it, for comparison);
- :func:`plot_semantic_vs_instance`: one scene three ways -- the image, its
  *semantic* mask (one colour per class: two touching squares merge), its *instance*
  masks (one colour per object).

Colours come from matplotlib's ``tab20`` by instance index (not by class), so two
objects of one class are told apart. Masks are ``(K, H, W)`` bool, images
``(H, W, 3)`` floats in [0, 1].
"""

from __future__ import annotations

import numpy as np

from ..detection.masks import as_masks, masks_to_boxes
from ._figure import finish_figure

__all__ = [
    "draw_instances",
    "instance_colours",
    "overlay_instances",
    "plot_instances",
    "plot_semantic_vs_instance",
]


def instance_colours(n: int) -> np.ndarray:
    """``(n, 3)`` RGB colours in [0, 1], one per instance (``tab20``'s saturated half first)."""
    base = np.array([[0.12, 0.47, 0.71], [1.00, 0.50, 0.05], [0.17, 0.63, 0.17], [0.84, 0.15, 0.16],
                     [0.58, 0.40, 0.74], [0.55, 0.34, 0.29], [0.89, 0.47, 0.76], [0.50, 0.50, 0.50],
                     [0.74, 0.74, 0.13], [0.09, 0.75, 0.81]])               # tab10's colours
    return base[np.arange(n) % len(base)]


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask (H, W)`` with a 4-neighbour outside it (or on the image border)."""
    padded = np.pad(mask, 1, constant_values=False)                         # (H + 2, W + 2)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def overlay_instances(image, masks, alpha: float = 0.5, colours=None) -> np.ndarray:
    """``image (H, W, 3)`` with instance ``k`` of ``masks (K, H, W)`` blended in colour ``k``
    (``alpha``) and its outline painted solid. Later masks are painted over earlier ones."""
    img = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)                          # (H, W) -> (H, W, 3)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image: expected (H, W, 3) or (H, W), received shape {img.shape}")
    m = as_masks(masks, "masks", image_size=img.shape[:2])
    colours = instance_colours(len(m)) if colours is None else np.asarray(colours, dtype=np.float64)
    out = img.copy()
    for k in range(len(m)):
        out[m[k]] = (1 - alpha) * out[m[k]] + alpha * colours[k]
        out[_outline(m[k])] = colours[k]
    return out


def draw_instances(ax, image, masks, classes=None, scores=None, class_names=None, alpha: float = 0.5,
                   show_text: bool = True) -> None:
    """Show ``image`` with its instances on the Axes ``ax`` (captions ``"name score"``)."""
    m = as_masks(masks, "masks")
    n = len(m)
    for name, v in (("classes", classes), ("scores", scores)):
        if v is not None and len(v) != n:
            raise ValueError(f"{name}: expected {n} entries (one per mask), received {len(v)}")
    colours = instance_colours(n)
    shown = overlay_instances(image, m, alpha, colours)
    h, w = shown.shape[:2]
    ax.imshow(shown, extent=(0, w, h, 0), interpolation="nearest")
    ax.set_axis_off()
    if not show_text:
        return
    for k, box in enumerate(masks_to_boxes(m)):
        if not m[k].any():
            continue
        parts = []
        if classes is not None:
            c = classes[k]
            parts.append(str(class_names[int(c)]) if class_names is not None else str(c))
        if scores is not None:
            parts.append(f"{float(scores[k]):.2f}")
        if parts:
            ax.text(box[0], box[1], " ".join(parts), fontsize=7, color="white", va="bottom", ha="left",
                    clip_on=True, bbox=dict(facecolor=colours[k], edgecolor="none", pad=0.8, alpha=0.85))


def plot_instances(images, predictions, ground_truths=None, class_names=None, path=None, *,
                   score_threshold: float = 0.0, ncols: int = 4, panel_size: float = 2.8,
                   title: str | None = None, dpi: int = 100):
    """A grid of images with their predicted instances (and the ground truth, if given, below each).

    ``images (N, H, W, 3)``; ``predictions``: one dict per image with ``"masks"``,
    ``"classes"`` and ``"scores"`` (instances scoring below ``score_threshold`` are not
    drawn); ``ground_truths``: dicts with ``"masks"`` and ``"classes"``.
    """
    from matplotlib.figure import Figure

    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images: expected (N, H, W, 3), received shape {images.shape}")
    n = len(images)
    if len(predictions) != n or (ground_truths is not None and len(ground_truths) != n):
        raise ValueError(f"predictions, ground_truths: expected one dict per image ({n})")
    cols = min(ncols, n)
    blocks = -(-n // cols)
    rows = blocks * (2 if ground_truths is not None else 1)
    fig = Figure(figsize=(panel_size * cols, panel_size * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        r, c = divmod(i, cols)
        p = predictions[i]
        keep = np.asarray(p["scores"]) >= score_threshold
        ax = axes[r * (2 if ground_truths is not None else 1), c]
        draw_instances(ax, images[i], np.asarray(p["masks"])[keep], np.asarray(p["classes"])[keep],
                       np.asarray(p["scores"])[keep], class_names)
        ax.set_title(f"predicted: {int(keep.sum())}", fontsize=8)
        if ground_truths is not None:
            g = ground_truths[i]
            ax = axes[r * 2 + 1, c]
            draw_instances(ax, images[i], g["masks"], g["classes"], None, class_names)
            ax.set_title(f"truth: {len(g['classes'])}", fontsize=8)
    return finish_figure(fig, path, title, dpi)


def plot_semantic_vs_instance(image, semantic, instance_masks, class_names, path=None, *,
                              title: str | None = None, panel_size: float = 3.0, dpi: int = 100):
    """One scene three ways: the image, its semantic mask (a colour per *class*; background
    black), its instance masks (a colour per *object*)."""
    from matplotlib.figure import Figure

    sem = np.asarray(semantic)
    m = as_masks(instance_masks, "instance_masks", image_size=sem.shape)
    fig = Figure(figsize=(3 * panel_size, panel_size + 0.6), layout="constrained")
    axes = fig.subplots(1, 3)
    h, w = sem.shape
    axes[0].imshow(np.clip(image, 0, 1), extent=(0, w, h, 0), interpolation="nearest")
    axes[0].set_title("image", fontsize=9)
    palette = np.vstack([[0, 0, 0], instance_colours(len(class_names) + 3)[3:]])   # class colours
    axes[1].imshow(palette[sem], extent=(0, w, h, 0), interpolation="nearest")
    axes[1].set_title("semantic: one colour per class", fontsize=9)
    draw_instances(axes[2], np.zeros((h, w, 3)), m, show_text=False, alpha=1.0)
    axes[2].set_title(f"instances: one colour per object ({len(m)})", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    return finish_figure(fig, path, title, dpi)
