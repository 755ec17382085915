"""Pictures of what a ConvNet sees: feature maps, filters, and grids of images.

Every function draws on a fresh :class:`matplotlib.figure.Figure` (no pyplot
state, no window: the figure is rendered by the Agg backend), saves it to
``path`` when one is given, and returns the figure so a notebook can show it
or a script can add to it.

=========================  ===============================================
``plot_feature_maps``      the channels of one activation ``(H, W, C)``:
                           one panel per channel, each with its colourbar
``plot_filters``           conv weights ``(KH, KW, C_in, C_out)``: one
                           panel per output filter (RGB when ``C_in == 3``)
``show_images_grid``       a list of images ``(H, W)`` or ``(H, W, 3)``
                           with titles, side by side
=========================  ===============================================

matplotlib is imported inside the functions, so ``import npvision.viz``
stays cheap.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .._checks import as_float_array, positive_int
from ._figure import finish_figure

__all__ = ["plot_feature_maps", "plot_filters", "show_images_grid"]


# -- helpers -----------------------------------------------------------------
def _new_figure(nrows: int, ncols: int, panel_size: float, extra_height: float = 0.6):
    """A Figure of ``nrows x ncols`` panels, drawn by Agg (no GUI, no pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows + extra_height),
                 layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))  # (nrows, ncols)
    return fig, axes


def _grid_shape(n: int, ncols: int | None) -> tuple[int, int]:
    """Rows and columns for ``n`` panels: about square unless ``ncols`` is given."""
    if ncols is None:
        ncols = max(1, math.ceil(math.sqrt(n)))
    else:
        ncols = positive_int(ncols, "ncols")
    ncols = min(ncols, n)
    return math.ceil(n / ncols), ncols


def _finish(fig, axes, n_used: int, path, title: str | None, dpi: int):
    """Hide unused panels, set the title, save to ``path`` (creating its folder)."""
    for ax in axes.flat[n_used:]:
        ax.set_visible(False)
    return finish_figure(fig, path, title, dpi)


def _to_display_rgb(img: np.ndarray) -> np.ndarray:
    """Stretch an (H, W, 3) array to [0, 1] for ``imshow`` (min-max over the whole image)."""
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


# -- public functions ----------------------------------------------------------
def plot_feature_maps(activations, path=None, *, sample: int = 0, max_maps: int = 16,
                      ncols: int | None = None, title: str | None = None, cmap: str = "viridis",
                      colorbar: bool = True, panel_size: float = 1.8, dpi: int = 100):
    """Draw the channels of one sample's activations, one panel per channel.

    Parameters
    ----------
    activations : array (N, H, W, C) or (H, W, C)
        A layer's output (channels last). For a batch, ``sample`` picks the image.
    path : str or path-like, optional
        Where to save the PNG (folders are created). ``None``: do not save.
    max_maps : int
        Draw at most the first ``max_maps`` channels.
    colorbar : bool
        One colourbar per panel: each map has its own value range, and the
        colourbar shows it (a ReLU map's 0 is then visibly "off").

    Returns the :class:`matplotlib.figure.Figure`.
    """
    a = as_float_array(activations, "activations", ndim=(3, 4), layout="(N, H, W, C) or (H, W, C)")
    if a.ndim == 4:
        if not isinstance(sample, (int, np.integer)) or not 0 <= sample < a.shape[0]:
            raise ValueError(f"sample: expected an index in [0, {a.shape[0]}) for activations of "
                             f"shape {a.shape}, received {sample!r}")
        a = a[sample]                                      # (H, W, C)
    max_maps = positive_int(max_maps, "max_maps")
    n = min(a.shape[-1], max_maps)
    nrows, ncols = _grid_shape(n, ncols)
    fig, axes = _new_figure(nrows, ncols, panel_size)
    for c in range(n):
        ax = axes.flat[c]
        im = ax.imshow(a[:, :, c], cmap=cmap)
        ax.set_title(f"channel {c}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if colorbar:
            cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            cb.ax.tick_params(labelsize=6)
    shown = f" (first {n} of {a.shape[-1]})" if n < a.shape[-1] else ""
    return _finish(fig, axes, n, path, (title or "feature maps") + shown, dpi)


def plot_filters(w, path=None, *, in_channel: int | None = None, max_filters: int = 32,
                 ncols: int | None = None, title: str | None = None, colorbar: bool = True,
                 panel_size: float = 1.4, dpi: int = 100):
    """Draw conv weights, one panel per output filter.

    Parameters
    ----------
    w : array (KH, KW, C_in, C_out)
        Conv weights, channels last (the course's ``W``).
    in_channel : int, optional
        Which input channel to draw. ``None``: RGB when ``C_in == 3`` (each
        filter stretched to [0, 1] on its own), else the mean over the input
        channels. A single-channel panel uses a diverging colour map centred on
        0 (red positive, blue negative) with a colourbar.

    Returns the :class:`matplotlib.figure.Figure`.
    """
    w = as_float_array(w, "w", ndim=4, layout="(KH, KW, C_in, C_out)")
    kh, kw, c_in, c_out = w.shape
    if in_channel is not None and (not isinstance(in_channel, (int, np.integer))
                                   or not 0 <= in_channel < c_in):
        raise ValueError(f"in_channel: expected None or an index in [0, {c_in}) for w of shape "
                         f"{w.shape}, received {in_channel!r}")
    max_filters = positive_int(max_filters, "max_filters")
    n = min(c_out, max_filters)
    rgb = in_channel is None and c_in == 3
    nrows, ncols = _grid_shape(n, ncols)
    fig, axes = _new_figure(nrows, ncols, panel_size)
    for k in range(n):
        ax = axes.flat[k]
        if rgb:
            ax.imshow(_to_display_rgb(w[:, :, :, k]), interpolation="nearest")   # (KH, KW, 3)
        else:
            img = w[:, :, in_channel, k] if in_channel is not None else w[:, :, :, k].mean(axis=2)
            lim = float(np.abs(img).max()) or 1.0
            im = ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            if colorbar:
                cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
                cb.ax.tick_params(labelsize=6)
        ax.set_title(f"filter {k}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    what = "RGB" if rgb else (f"input channel {in_channel}" if in_channel is not None
                              else f"mean over {c_in} input channel{'s' if c_in > 1 else ''}")
    default = f"{c_out} filters {kh}x{kw} ({what})"
    return _finish(fig, axes, n, path, title or default, dpi)


def show_images_grid(images, path=None, *, titles: Sequence[str] | None = None,
                     ncols: int | None = None, cmap: str = "gray", colorbar: bool = False,
                     vmin: float | None = None, vmax: float | None = None,
                     symmetric: bool = False,
                     suptitle: str | None = None, panel_size: float = 2.6, dpi: int = 100):
    """Draw images side by side, each with an optional title.

    Parameters
    ----------
    images : sequence of arrays (H, W), (H, W, 1) or (H, W, 3), or one array (N, H, W[, C])
        Grey images use ``cmap``; RGB images must already be in [0, 1].
    titles : sequence of str, optional
        One title per image.
    colorbar : bool
        A colourbar beside each grey image (useful for filter responses,
        whose values are not in [0, 1]).
    vmin, vmax : float, optional
        Fixed colour limits for grey images; default: each image's own range.
    symmetric : bool
        Colour limits ``-max|image|`` to ``+max|image|`` for each grey image,
        so that 0 is the middle colour: use it with a diverging ``cmap`` such
        as ``"RdBu_r"`` for signed maps (filter responses, gradients).

    Returns the :class:`matplotlib.figure.Figure`.
    """
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"images: expected an array (N, H, W) or (N, H, W, C) or a list of "
                             f"images, received shape {images.shape}")
        images = list(images)
    images = list(images)
    if not images:
        raise ValueError("images: expected at least one image, received an empty sequence")
    checked = []
    for i, img in enumerate(images):
        img = as_float_array(img, f"images[{i}]", ndim=(2, 3), layout="(H, W) or (H, W, C)")
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[:, :, 0]                                 # (H, W, 1) -> (H, W)
        if img.ndim == 3 and img.shape[-1] != 3:
            raise ValueError(f"images[{i}]: expected 1 or 3 channels, received shape {img.shape}")
        checked.append(img)
    if titles is not None and len(titles) != len(checked):
        raise ValueError(f"titles: expected {len(checked)} titles (one per image), "
                         f"received {len(titles)}")
    n = len(checked)
    nrows, ncols = _grid_shape(n, ncols)
    fig, axes = _new_figure(nrows, ncols, panel_size)
    for i, img in enumerate(checked):
        ax = axes.flat[i]
        if img.ndim == 3:
            ax.imshow(np.clip(img, 0.0, 1.0))
        else:
            lo, hi = vmin, vmax
            if symmetric:
                lim = float(np.abs(img).max()) or 1.0
                lo, hi = -lim, lim
            im = ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
            if colorbar:
                cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
                cb.ax.tick_params(labelsize=7)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return _finish(fig, axes, n, path, suptitle, dpi)
