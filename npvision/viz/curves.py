"""Training curves: loss and metrics per epoch, training next to validation.

``plot_history(history, "curves.png")`` draws one panel per quantity (``loss``,
``accuracy``, ...), each with the training curve and, when recorded, the
validation curve (``val_<name>``); a dot marks the best validation epoch. The
learning rate gets its own panel (log scale if positive) when it changed during training.

Like every :mod:`npvision.viz` function, it draws on a fresh
:class:`matplotlib.figure.Figure` rendered by the Agg backend (no pyplot, no
window, no global backend change), saves it when given ``path`` (the folder is
created) and returns the figure.
"""

from __future__ import annotations


import numpy as np

from .._checks import positive_int
from ._figure import finish_figure

__all__ = ["plot_history"]


def _as_dict(history) -> dict[str, list[float]]:
    """A :class:`npvision.train.History`, or a plain ``{name: [values per epoch]}`` dict."""
    data = history.to_dict() if hasattr(history, "to_dict") else history
    if not isinstance(data, dict) or not data:
        raise TypeError(f"history: expected a History returned by fit, or a non-empty dict "
                        f"{{name: list of per-epoch values}}, received {type(history).__name__}")
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"history: every quantity needs the same, non-zero number of epochs; "
                         f"received lengths { {k: len(v) for k, v in data.items()} }")
    return {k: [float(x) for x in v] for k, v in data.items()}


def plot_history(history, path=None, *, metrics=None, title: str | None = None,
                 show_lr: bool | str = "auto", panel_size: float = 3.6, dpi: int = 100,
                 kept_epoch: int | None = None):
    """Draw training curves; save a PNG (or any format matplotlib infers from ``path``).

    ``metrics``: the base names to draw (default: every recorded name that is
    not ``lr`` and does not start with ``val_``, in recorded order).
    ``show_lr``: True, False, or ``"auto"`` (only if the learning rate changed).
    Epochs are numbered from 1 on the x axis. Each validation curve marks its own
    best epoch, named for what it is ("lowest validation loss: epoch 26"); these
    need not agree with each other. ``kept_epoch`` (counted from 1): the epoch whose
    weights were kept, drawn as a dashed line on every panel. Returns the Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    data = _as_dict(history)
    if metrics is None:
        names = [k for k in data if k != "lr" and not k.startswith("val_")]
        names += [k[4:] for k in data if k.startswith("val_") and k[4:] not in data]
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        for name in names:
            if name not in data and f"val_{name}" not in data:
                raise ValueError(f"metrics: {name!r} was not recorded; recorded: {sorted(data)}")
    if show_lr not in (True, False, "auto"):
        raise ValueError(f"show_lr: expected True, False or 'auto', received {show_lr!r}")
    lr = data.get("lr")
    if show_lr is True and lr is None:
        raise ValueError("show_lr: the history has no 'lr' entry")
    draw_lr = lr is not None and (show_lr is True or (show_lr == "auto" and len(set(lr)) > 1))
    dpi = positive_int(dpi, "dpi")

    n_panels = len(names) + int(draw_lr)
    fig = Figure(figsize=(panel_size * n_panels, panel_size * 0.8 + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_panels, squeeze=False)[0])     # (n_panels,)
    epochs = np.arange(1, len(next(iter(data.values()))) + 1)
    if kept_epoch is not None:
        kept_epoch = positive_int(kept_epoch, "kept_epoch")
        if kept_epoch > len(epochs):
            raise ValueError(f"kept_epoch: expected an epoch in [1, {len(epochs)}], received {kept_epoch}")

    for ax, name in zip(axes, names):
        if name in data:
            ax.plot(epochs, data[name], marker=".", label=f"train {name}")
        val_name = f"val_{name}"
        if val_name in data:
            values = np.array(data[val_name])
            ax.plot(epochs, values, marker=".", label=f"validation {name}")
            if np.isfinite(values).any():
                minimize = "loss" in name.lower() or "error" in name.lower()
                best = int(np.nanargmin(values) if minimize else np.nanargmax(values))
                ax.plot(epochs[best], values[best], "o", markersize=9, fillstyle="none",
                        color="black", label=f"{'lowest' if minimize else 'highest'} validation "
                                              f"{name}: epoch {best + 1}")
        if kept_epoch is not None:
            ax.axvline(kept_epoch, color="gray", linestyle="--", linewidth=1,
                       label=f"weights kept: epoch {kept_epoch}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if draw_lr:
        ax = axes[-1]
        ax.plot(epochs, lr, marker=".", color="tab:green")
        if min(lr) > 0:
            ax.set_yscale("log")
        ax.set_title("learning rate")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return finish_figure(fig, path, title, dpi)
