"""Pictures for segmentation: colour-coded masks with a legend, and per-class IoU bars.

- :func:`colorize_mask`: ``(H, W)`` class ids -> ``(H, W, 3)`` RGB in [0, 1].
- :func:`plot_segmentation`: one row per image: the input, the true mask and the
  predicted mask side by side, in one palette, with a legend of the classes.
- :func:`plot_class_iou`: a horizontal bar per class; an absent class (``nan``) is
  marked "absent" instead of a bar.

Like the rest of :mod:`npvision.viz`, every function draws on a fresh Agg Figure,
saves it when given ``path``, and returns it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._checks import positive_int

__all__ = ["SEGMENTATION_PALETTE", "colorize_mask", "plot_segmentation", "plot_class_iou"]

#: colour of class 0, 1, ... (background dark grey, then well-separated hues); cycles beyond.
SEGMENTATION_PALETTE = np.array([
    [0.15, 0.15, 0.15], [0.90, 0.10, 0.10], [0.10, 0.60, 0.95], [0.10, 0.80, 0.25],
    [1.00, 0.75, 0.05], [0.70, 0.25, 0.90], [0.00, 0.80, 0.80], [1.00, 0.45, 0.70],
    [0.60, 0.40, 0.20], [0.85, 0.85, 0.85],
])
_IGNORE_COLOUR = np.array([1.0, 1.0, 1.0])


def _palette(num_classes: int) -> np.ndarray:
    reps = -(-num_classes // len(SEGMENTATION_PALETTE))
    return np.tile(SEGMENTATION_PALETTE, (reps, 1))[:num_classes]           # (K, 3)


def colorize_mask(mask, num_classes: int, ignore_index=None) -> np.ndarray:
    """Class ids ``(..., H, W)`` -> colours ``(..., H, W, 3)``; ``ignore_index`` pixels are white."""
    mask = np.asarray(mask)
    if mask.dtype.kind not in "iu":
        raise TypeError(f"mask: expected integer class ids, received dtype {mask.dtype}")
    k = positive_int(num_classes, "num_classes")
    ignored = np.zeros(mask.shape, bool) if ignore_index is None else mask == ignore_index
    bad = ~ignored & ((mask < 0) | (mask >= k))
    if np.any(bad):
        raise ValueError(f"mask: expected class ids in [0, {k}), received {sorted(set(mask[bad].tolist()))[:5]}")
    rgb = _palette(k)[np.where(ignored, 0, mask)]                          # (..., H, W, 3)
    rgb[ignored] = _IGNORE_COLOUR
    return rgb


def plot_segmentation(images, true_masks, pred_masks, class_names: Sequence[str], path=None, *,
                      ignore_index=None, title: str | None = None, panel_size: float = 2.2, dpi: int = 100):
    """Rows of ``input | true mask | predicted mask`` with a shared legend.

    ``images (N, H, W, 3)`` or ``(N, H, W, 1)`` in [0, 1]; ``true_masks`` ``(N, H, W)``
    or ``None`` (then only input and prediction are shown); ``pred_masks (N, H, W)``.
    Each predicted panel is titled with its pixel accuracy when the truth is given.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    images = np.asarray(images)
    pred_masks = np.asarray(pred_masks)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images: expected (N, H, W, 3) or (N, H, W, 1), received shape {images.shape}")
    if pred_masks.shape != images.shape[:3]:
        raise ValueError(f"pred_masks: expected shape {images.shape[:3]} (one label per image pixel), "
                         f"received {pred_masks.shape}")
    if true_masks is not None:
        true_masks = np.asarray(true_masks)
        if true_masks.shape != images.shape[:3]:
            raise ValueError(f"true_masks: expected shape {images.shape[:3]} (one label per image pixel), "
                             f"received {true_masks.shape}")
    k = len(class_names)
    n = len(images)
    cols = 2 if true_masks is None else 3
    fig = Figure(figsize=(panel_size * cols + 1.6, panel_size * n + 0.5), layout="constrained")
    axes = fig.subplots(n, cols, squeeze=False)
    for i in range(n):
        img = images[i] if images.shape[-1] == 3 else images[i, :, :, 0]
        axes[i, 0].imshow(np.clip(img, 0, 1), cmap=None if img.ndim == 3 else "gray",
                          interpolation="nearest")
        axes[i, 0].set_title("input", fontsize=9)
        if true_masks is not None:
            axes[i, 1].imshow(colorize_mask(true_masks[i], k, ignore_index), interpolation="nearest")
            axes[i, 1].set_title("true mask", fontsize=9)
            keep = np.ones(true_masks[i].shape, bool) if ignore_index is None else true_masks[i] != ignore_index
            acc = float(np.mean(pred_masks[i][keep] == true_masks[i][keep])) if keep.any() else float("nan")
            pred_title = f"predicted ({acc:.1%} px)"
        else:
            pred_title = "predicted mask"
        axes[i, -1].imshow(colorize_mask(pred_masks[i], k), interpolation="nearest")
        axes[i, -1].set_title(pred_title, fontsize=9)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    handles = [Patch(facecolor=c, edgecolor="black", label=name)
               for c, name in zip(_palette(k), class_names)]
    fig.legend(handles=handles, loc="outside right center", fontsize=9, title="classes")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=positive_int(dpi, "dpi"))
    return fig


def plot_class_iou(per_class_iou, class_names: Sequence[str], path=None, *, title: str | None = None,
                   dpi: int = 100):
    """Horizontal bars of each class's IoU in [0, 1], in the mask palette; the mean as a dashed line.

    ``per_class_iou``: a sequence of K floats, ``nan`` (or None) for a class absent
    from both truth and prediction (written "absent", left out of the mean).
    """
    from matplotlib.figure import Figure

    iou = np.array([np.nan if v is None else v for v in per_class_iou], dtype=float)
    k = len(class_names)
    if iou.shape != (k,):
        raise ValueError(f"per_class_iou: expected {k} values (one per class name), received {iou.shape}")
    fig = Figure(figsize=(5.5, 0.45 * k + 1.2), layout="constrained")
    ax = fig.subplots()
    ys = np.arange(k)
    ax.barh(ys, np.nan_to_num(iou), color=_palette(k), edgecolor="black")
    label_box = dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none", alpha=0.85)
    for y, v in zip(ys, iou):
        if np.isnan(v):
            ax.text(0.01, y, "absent", va="center", fontsize=9)
        elif v > 0.2:                                   # inside the bar, at its end
            ax.text(v - 0.02, y, f"{v:.3f}", va="center", ha="right", fontsize=9, bbox=label_box)
        else:
            ax.text(v + 0.01, y, f"{v:.3f}", va="center", fontsize=9)
    if np.any(~np.isnan(iou)):
        m = float(np.nanmean(iou))
        ax.axvline(m, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel(f"IoU (dashed: mean IoU {m:.3f})")
    ax.set_yticks(ys, labels=list(class_names))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(title or "per-class IoU", fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=positive_int(dpi, "dpi"))
    return fig
