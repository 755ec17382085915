"""Pictures for detection: boxes on images, NMS before / after, precision-recall curves.

- :func:`draw_boxes` draws boxes (with "class score" labels) on an existing
  matplotlib Axes: the building block of the others;
- :func:`plot_detections`: predicted and true boxes on an image;
- :func:`plot_nms`: the candidate boxes before NMS and the kept ones after,
  optionally coloured by which kept box suppressed them (from
  :func:`npvision.detection.nms_trace`);
- :func:`plot_pr_curves`: one precision-recall curve per class, raw and
  interpolated, with the AP in the legend (from
  :func:`npvision.detection.precision_recall_curves`).

Boxes are ``(N, 4)`` ``xyxy`` pixels. An image is shown with its pixel
``(row r, column c)`` covering ``[c, c+1) x [r, r+1)``, so boxes drawn in pixel
coordinates sit exactly on the pixels they name; without an image, the axes
span the boxes, y pointing down as in an image.

Like every :mod:`npvision.viz` function, the ``plot_*`` functions draw on a
fresh :class:`matplotlib.figure.Figure` rendered by Agg (no pyplot, no window),
save it when given ``path`` (the folder is created) and return the figure.
"""

from __future__ import annotations


import numpy as np

from ..detection.boxes import as_boxes
from ._figure import finish_figure

__all__ = ["draw_boxes", "plot_detections", "plot_nms", "plot_pr_curves"]


# ----------------------------------------------------------------------------- helpers

def _new_figure(ncols: int, panel_size: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(panel_size * ncols, panel_size + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, ncols, squeeze=False)[0])    # (ncols,)
    return fig, axes


def _colour(k: int):
    from matplotlib import colormaps

    return colormaps["tab10"](int(k) % 10)


def _name(label, class_names) -> str:
    if class_names is not None:
        try:
            return str(class_names[int(label)])
        except (IndexError, TypeError, ValueError, KeyError):
            pass
    return str(label)


def _show_image(ax, image) -> None:
    img = np.asarray(image)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), received shape "
                         f"{img.shape}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]                                             # (H, W, 1) -> (H, W)
    if img.dtype.kind == "f":
        img = np.clip(img, 0.0, 1.0)
    h, w = img.shape[:2]
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, extent=(0, w, h, 0),
              interpolation="nearest")


def _frame(ax, boxes_list, image) -> None:
    """Without an image: axes around every box (10% margin), y down."""
    if image is not None:
        ax.set_axis_off()
        return
    every = [b for b in boxes_list if b is not None and len(b)]
    if every:
        allb = np.concatenate(every)
        x0, y0 = allb[:, 0].min(), allb[:, 1].min()
        x1, y1 = allb[:, 2].max(), allb[:, 3].max()
        mx, my = 0.1 * max(x1 - x0, 1e-9), 0.1 * max(y1 - y0, 1e-9)
        ax.set_xlim(x0 - mx, x1 + mx)
        ax.set_ylim(y1 + my, y0 - my)                                # inverted: y grows downwards
    ax.set_aspect("equal")


# ----------------------------------------------------------------------------- drawing

def draw_boxes(ax, boxes, labels=None, scores=None, class_names=None, colors=None,
               linestyle: str = "-", linewidth: float = 2.0, alpha: float = 1.0,
               show_text: bool = True, text_below: bool = False, text_color="white") -> None:
    """Draw ``(N, 4)`` xyxy ``boxes`` on the matplotlib Axes ``ax``.

    ``labels (N,)`` class ids (names from ``class_names``), ``scores (N,)``;
    each box is captioned ``"name 0.87"`` (or the parts given). ``colors``: one
    colour for all, or one per box; default one colour per class (tab10).
    ``text_below`` puts captions under the box (to keep truth and prediction
    captions apart); ``text_color`` is the caption's ink.
    """
    from matplotlib.patches import Rectangle

    b = as_boxes(boxes, "boxes")
    n = len(b)
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels: expected {n} labels for {n} boxes, received {len(labels)}")
    if scores is not None and len(scores) != n:
        raise ValueError(f"scores: expected {n} scores for {n} boxes, received {len(scores)}")
    for k in range(n):
        if colors is None:
            c = _colour(labels[k] if labels is not None else 0)
        elif isinstance(colors, (list, tuple, np.ndarray)) and len(colors) == n and not isinstance(colors, str):
            c = colors[k]
        else:
            c = colors
        x1, y1, x2, y2 = b[k]
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=c,
                               linestyle=linestyle, linewidth=linewidth, alpha=alpha))
        parts = []
        if labels is not None:
            parts.append(_name(labels[k], class_names))
        if scores is not None:
            parts.append(f"{float(scores[k]):.2f}")
        if show_text and parts:
            ax.text(x1, y2 if text_below else y1, " ".join(parts), fontsize=8, color=text_color,
                    va="top" if text_below else "bottom", ha="left", alpha=alpha, clip_on=True,
                    bbox=dict(facecolor=c, edgecolor="none", pad=1.0, alpha=0.8 * alpha))


def plot_detections(image=None, detections=None, ground_truth=None, class_names=None, path=None, *,
                    score_threshold: float = 0.0, title: str | None = None, panel_size: float = 5.0,
                    dpi: int = 100):
    """Predicted boxes (solid, "class score") and true boxes (dashed, white) on one image.

    ``detections``: ``{"boxes" (K, 4), "scores" (K,), "classes" (K,)}`` (the
    format of :func:`npvision.detection.mean_average_precision`), drawn when
    ``score >= score_threshold``; ``ground_truth``: ``{"boxes", "classes"}``.
    Either may be None. ``image`` ``(H, W[, C])`` or None (a blank canvas).
    """
    fig, axes = _new_figure(1, panel_size)
    ax = axes[0]
    if image is not None:
        _show_image(ax, image)
    drawn = []
    if ground_truth is not None:
        gt = as_boxes(ground_truth["boxes"], "ground_truth['boxes']")
        draw_boxes(ax, gt, ground_truth.get("classes"), None, class_names, colors="white",
                   linestyle="--", linewidth=1.5, text_below=True, text_color="black")
        drawn.append(gt)
    if detections is not None:
        det = as_boxes(detections["boxes"], "detections['boxes']")
        scores = np.asarray(detections.get("scores", np.ones(len(det))), dtype=float)
        show = scores >= score_threshold
        classes = detections.get("classes")
        draw_boxes(ax, det[show], None if classes is None else np.asarray(classes)[show],
                   scores[show], class_names)
        drawn.append(det[show])
    _frame(ax, drawn, image)
    return finish_figure(fig, path, title, dpi)


def plot_nms(boxes, scores, keep, image=None, trace=None, path=None, *, class_names=None, labels=None,
             title: str | None = None, panel_size: float = 4.5, dpi: int = 100):
    """Two panels: every candidate box before NMS, and the kept boxes after.

    Before: each box captioned with its index and score. With a ``trace``
    (:func:`npvision.detection.nms_trace`), a suppressed box takes the colour of
    the kept box that suppressed it, so each colour is one "cluster"; without
    one, kept boxes are solid and the others faint. ``keep``: the indices NMS
    returned. ``labels`` (class ids) add class names to the captions.
    """
    b = as_boxes(boxes, "boxes")
    s = np.asarray(scores, dtype=float).reshape(-1)
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"scores: expected {len(b)} scores for {len(b)} boxes, received {len(s)}")
    if keep.size and (keep.min() < 0 or keep.max() >= len(b)):
        raise ValueError(f"keep: expected indices in [0, {len(b)}), received {keep.tolist()}")
    kept = np.zeros(len(b), dtype=bool)
    kept[keep] = True
    rank = {int(i): r for r, i in enumerate(keep)}
    if trace is not None:
        owner = np.where(trace.suppressed_by >= 0, trace.suppressed_by, np.arange(len(b)))
        colours = [_colour(rank.get(int(o), 9)) for o in owner]
    else:
        colours = [_colour(0) if k else (0.5, 0.5, 0.5, 1.0) for k in kept]

    fig, axes = _new_figure(2, panel_size)
    for ax, which, name in ((axes[0], np.arange(len(b)), f"before NMS: {len(b)} boxes"),
                            (axes[1], keep, f"after NMS: {len(keep)} kept")):
        if image is not None:
            _show_image(ax, image)
        for i in which:
            caption_parts = [f"#{i}"]
            if labels is not None:
                caption_parts.append(_name(labels[i], class_names))
            caption_parts.append(f"{s[i]:.2f}")
            solid = kept[i] or which is keep
            draw_boxes(ax, b[i:i + 1], None, None, colors=colours[i],
                       linestyle="-" if solid else "--", linewidth=2.0 if solid else 1.2,
                       alpha=1.0 if solid else 0.7)
            ax.text(b[i, 0], b[i, 1], " ".join(caption_parts), fontsize=7, color="white",
                    va="bottom", ha="left", clip_on=True,
                    bbox=dict(facecolor=colours[i], edgecolor="none", pad=0.8, alpha=0.75))
        ax.set_title(name)
        _frame(ax, [b], image)
    return finish_figure(fig, path, title, dpi)


def plot_pr_curves(curves, class_names=None, path=None, *, title: str | None = None,
                   panel_size: float = 4.5, dpi: int = 100):
    """Precision-recall curves, one per class, on one panel.

    ``curves``: ``{class: {"precision": (K,), "recall": (K,), "ap": float}}``,
    as :func:`npvision.detection.precision_recall_curves` returns. Each class is
    drawn twice: the raw zig-zag (thin) and the interpolated envelope
    ``p_interp(r) = max precision at recall >= r`` (thick step), whose area is
    the all-point AP. The legend gives each class's AP.
    """
    if not isinstance(curves, dict):
        raise TypeError(f"curves: expected a dict {{class: {{'precision', 'recall', 'ap'}}}}, "
                        f"received {type(curves).__name__}")
    fig, axes = _new_figure(1, panel_size)
    ax = axes[0]
    for k, (label, c) in enumerate(curves.items()):
        p = np.asarray(c["precision"], dtype=float)
        r = np.asarray(c["recall"], dtype=float)
        colour = _colour(label if isinstance(label, (int, np.integer)) else k)
        name = _name(label, class_names)
        ap = c.get("ap")
        legend = f"{name} (AP {ap:.3f})" if ap is not None else name
        if len(p) == 0:
            ax.plot([], [], color=colour, label=legend + ", no detections")
            continue
        envelope = np.maximum.accumulate(p[::-1])[::-1]               # interpolated precision
        ax.plot(r, p, color=colour, lw=0.8, alpha=0.6)                # the raw zig-zag
        ax.step(np.concatenate(([0.0], r)), np.concatenate(([envelope[0]], envelope)), where="pre",
                color=colour, lw=2.0, label=legend)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(loc="lower left", fontsize=8)
    return finish_figure(fig, path, title, dpi)
