"""Pictures of neural style transfer and texture synthesis.

=========================  ===============================================
``plot_style_strip``       the generated image as the optimization went:
                           content and style first, then the snapshots of a
                           :class:`npvision.style.StyleResult` with their steps
``plot_style_costs``       the content, style, variation and total costs
                           per step, on a log scale
=========================  ===============================================

Like every :mod:`npvision.viz` function: a fresh Agg-rendered Figure, saved
when given ``path`` (folders created), returned.
"""

from __future__ import annotations

import numpy as np

from ._figure import finish_figure

__all__ = ["plot_style_strip", "plot_style_costs", "show_image"]


def _display(img: np.ndarray):
    """An (H, W, C) image in [0, 1] as imshow wants it: (H, W) grey or (H, W, 3)."""
    img = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    return img


def show_image(ax, img, title: str | None = None) -> None:
    """Draw one image in [0, 1] on ``ax`` without axes (grey images in grey)."""
    img = _display(img)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def plot_style_strip(result, path=None, *, content=None, style=None, max_images: int = 7,
                     title: str | None = None, panel_size: float = 2.2, dpi: int = 100):
    """One row: ``content`` and ``style`` (when given), then up to ``max_images`` snapshots.

    ``result`` is a :class:`npvision.style.StyleResult`; its snapshots are labelled
    with their step. Returns the figure.
    """
    from matplotlib.figure import Figure

    snaps = list(result.snapshots) or [(0, result.image)]
    if len(snaps) > max_images:                                # keep the first and last, spread the rest
        keep = np.unique(np.round(np.linspace(0, len(snaps) - 1, max_images)).astype(int))
        snaps = [snaps[i] for i in keep]
    panels = ([("content", content)] if content is not None else []) + \
             ([("style", style)] if style is not None else []) + \
             [(f"step {s}", im) for s, im in snaps]
    fig = Figure(figsize=(panel_size * len(panels), panel_size + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, (label, img) in zip(axes, panels):
        show_image(ax, img, label)
    return finish_figure(fig, path, title, dpi)


def plot_style_costs(result, path=None, *, title: str | None = None, dpi: int = 100):
    """The costs of a :class:`npvision.style.StyleResult` per step (log scale), one curve each.

    Costs that stayed 0 (no content in texture synthesis, ``tv=0``) are left out;
    with several resolution levels a dotted line marks where each one starts.
    """
    from matplotlib.figure import Figure

    steps = np.asarray(result.steps_at)
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.subplots()
    for name, style_ in (("total", "-"), ("content", "--"), ("style", "-."), ("tv", ":")):
        values = np.asarray(result.costs.get(name, []), dtype=np.float64)
        if values.size and np.any(values > 0):
            ax.semilogy(steps, np.maximum(values, 1e-300), style_, label=f"{name} ({values[-1]:.3g})")
    starts = [s for i, s in enumerate(steps) if i and s == steps[i - 1]]   # a level's first value
    for s in starts:
        ax.axvline(s, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("cost")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return finish_figure(fig, path, title, dpi)
