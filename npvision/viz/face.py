"""Pictures of face verification and recognition.

=============================  =========================================================
``plot_identities``            several images of each of several identities, a row per
                               person: what is a trait, what is a nuisance
``plot_distance_histograms``   distances of same and of different pairs, with the chosen
                               threshold: where verification errs
``plot_roc``                   true accept rate against false accept rate (log axis),
                               VAL@FAR marked; optionally a baseline's curve
``plot_embedding_projection``  a 2-D PCA projection of encodings coloured by identity
``pca_2d``                     that projection, in NumPy (SVD of the centred encodings)
``plot_triplets``              rows of (anchor, positive, negative) with their distances,
                               e.g. the hardest triplets of a batch
``plot_one_shot``              one-shot episodes: a query, the references, the choice
=============================  =========================================================

Like every :mod:`npvision.viz` function, each draws on a fresh Figure rendered by
Agg, saves it when given ``path`` and returns it.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array
from ._figure import finish_figure

__all__ = ["plot_identities", "plot_distance_histograms", "plot_roc", "pca_2d",
           "plot_embedding_projection", "plot_triplets", "plot_one_shot"]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), layout="constrained")


def _show(ax, image, title=None, colour=None):
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]                                           # (H, W, 1) -> (H, W)
    ax.imshow(np.clip(img, 0, 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=7, color=colour or "black")
    if colour is not None:
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(2.5)


def plot_identities(images, labels, path=None, *, identities: int = 8, per_identity: int = 8,
                    title: str | None = None, panel_size: float = 0.9, dpi: int = 100):
    """A grid: one row per identity (the first ``identities`` labels), its first images."""
    images = as_float_array(images, "images", ndim=4, layout="(N, H, W, C)")
    labels = np.asarray(labels)
    ids = list(dict.fromkeys(labels.tolist()))[:identities]
    fig = _figure(panel_size * per_identity, panel_size * len(ids) + 0.5)
    axes = np.asarray(fig.subplots(len(ids), per_identity, squeeze=False))
    for r, who in enumerate(ids):
        members = np.flatnonzero(labels == who)[:per_identity]
        for c in range(per_identity):
            ax = axes[r, c]
            if c < len(members):
                _show(ax, images[members[c]])
                if c == 0:
                    ax.set_ylabel(str(who), fontsize=7)
            else:
                ax.set_visible(False)
    return finish_figure(fig, path, title, dpi)


def plot_distance_histograms(distances, same, threshold=None, path=None, *, bins: int = 50,
                             title: str | None = None, label: str = "distance", dpi: int = 100):
    """Histograms of the distances of same-identity and different-identity pairs, the
    threshold as a vertical line (same when ``d < threshold``)."""
    d = as_float_array(distances, "distances", ndim=1)
    same = np.asarray(same, bool)
    fig = _figure(6.0, 3.6)
    ax = fig.subplots()
    edges = np.linspace(d.min(), d.max(), bins + 1)
    ax.hist(d[same], bins=edges, alpha=0.6, color="tab:green", label=f"same person ({same.sum()})")
    ax.hist(d[~same], bins=edges, alpha=0.6, color="tab:red", label=f"different people ({(~same).sum()})")
    if threshold is not None:
        acc = float(np.mean((d < threshold) == same))
        ax.axvline(threshold, color="black", linestyle="--",
                   label=f"threshold {threshold:.3f} (accuracy {acc:.3f})")
    ax.set_xlabel(label)
    ax.set_ylabel("pairs")
    ax.legend(fontsize=8)
    return finish_figure(fig, path, title, dpi)


def plot_roc(far, tar, path=None, *, val_point=None, baseline=None, label: str = "encoder",
             title: str | None = None, dpi: int = 100):
    """TAR against FAR, FAR on a log axis. ``val_point=(far, val)`` marks VAL@FAR;
    ``baseline=(far, tar, label)`` draws a second curve (e.g. raw pixels)."""
    far = np.asarray(far, float)
    tar = np.asarray(tar, float)
    fig = _figure(5.2, 4.2)
    ax = fig.subplots()
    floor = 1e-4
    ax.plot(np.maximum(far, floor), tar, color="tab:blue", label=label)
    if baseline is not None:
        b_far, b_tar, b_label = baseline
        ax.plot(np.maximum(np.asarray(b_far, float), floor), b_tar, color="tab:gray", label=b_label)
    if val_point is not None:
        f, v = val_point
        ax.plot([max(f, floor)], [v], "o", color="tab:red", label=f"VAL {v:.3f} at FAR {f:.1e}")
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false accept rate (different pairs accepted)")
    ax.set_ylabel("true accept rate (same pairs accepted)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return finish_figure(fig, path, title, dpi)


def pca_2d(x) -> np.ndarray:
    """Project ``(N, D)`` onto its two directions of largest variance: ``(N, 2)``.

    ``X_c = X - mean``; ``X_c = U S V^T`` (SVD); the projection is ``X_c V[:, :2]``
    (equivalently ``U[:, :2] S[:2]``), the coordinates along the first two
    principal axes. Signs are fixed so each axis's largest coordinate is positive.
    """
    x = as_float_array(x, "x", ndim=2, layout="(N, D)").astype(np.float64)
    xc = x - x.mean(axis=0)                                        # (N, D)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)              # vt (min(N, D), D)
    proj = xc @ vt[:2].T                                           # (N, 2)
    big = np.argmax(np.abs(proj), axis=0)
    return proj * np.sign(proj[big, [0, 1]])


def plot_embedding_projection(embeddings, labels, path=None, *, max_identities: int = 12,
                              title: str | None = None, dpi: int = 100):
    """Encodings of the first ``max_identities`` identities in their 2-D PCA projection,
    one colour per identity: tight, separate clusters mean a good encoder."""
    e = as_float_array(embeddings, "embeddings", ndim=2)
    labels = np.asarray(labels)
    ids = list(dict.fromkeys(labels.tolist()))[:max_identities]
    keep = np.isin(labels, ids)
    proj = pca_2d(e[keep])
    lab = labels[keep]
    fig = _figure(5.6, 5.0)
    ax = fig.subplots()
    from matplotlib import colormaps
    cmap = colormaps["tab20"]
    for k, who in enumerate(ids):
        pts = proj[lab == who]
        ax.scatter(pts[:, 0], pts[:, 1], s=18, color=cmap(k % 20), label=str(who))
    ax.set_xlabel("principal axis 1")
    ax.set_ylabel("principal axis 2")
    ax.legend(fontsize=6, ncol=2, title="identity", title_fontsize=7)
    return finish_figure(fig, path, title, dpi)


def plot_triplets(images, anchors, positives, negatives, d_ap, d_an, path=None, *,
                  title: str | None = None, panel_size: float = 1.1, dpi: int = 100):
    """One row per triplet: anchor, positive (green), negative (red), with ``d(A, P)``
    and ``d(A, N)``; a row where ``d(A, N) <= d(A, P)`` is a triplet the encoder gets wrong."""
    images = as_float_array(images, "images", ndim=4)
    rows = len(anchors)
    fig = _figure(max(panel_size * 3, 3.6), panel_size * rows + 0.7)
    axes = np.asarray(fig.subplots(rows, 3, squeeze=False))
    for r in range(rows):
        _show(axes[r, 0], images[anchors[r]], "anchor" if r == 0 else None)
        _show(axes[r, 1], images[positives[r]], f"d(A,P) {d_ap[r]:.2f}", "tab:green")
        _show(axes[r, 2], images[negatives[r]], f"d(A,N) {d_an[r]:.2f}", "tab:red")
    return finish_figure(fig, path, title, dpi)


def plot_one_shot(images, queries, references, target, predicted, path=None, *,
                  title: str | None = None, panel_size: float = 0.9, dpi: int = 100):
    """One row per episode: the query, then the references; the true identity's
    reference framed green, a wrong choice framed red."""
    images = as_float_array(images, "images", ndim=4)
    references = np.asarray(references)
    rows, n_way = references.shape
    fig = _figure(max(panel_size * (n_way + 1.3), 5.5), panel_size * rows + 0.7)
    axes = np.asarray(fig.subplots(rows, n_way + 1, squeeze=False))
    for r in range(rows):
        ok = predicted[r] == target[r]
        _show(axes[r, 0], images[queries[r]], "query" if r == 0 else None, "tab:blue")
        for c in range(n_way):
            colour = "tab:green" if c == target[r] else ("tab:red" if c == predicted[r] and not ok else None)
            _show(axes[r, c + 1], images[references[r, c]], None, colour)
        axes[r, 0].set_ylabel("right" if ok else "wrong", fontsize=7, color="tab:green" if ok else "tab:red")
    return finish_figure(fig, path, title, dpi)
