"""The confusion matrix of a classifier as a picture.

``plot_confusion_matrix(M, class_names, "confusion.png")`` draws ``M (K, K)``,
``M[t, p]`` = number of test samples of true class ``t`` predicted as ``p``
(rows: truth, columns: prediction, as
:func:`npvision.segmentation.confusion_matrix` counts them). Each cell shows its
count; its colour is the fraction of its row,

    colour[t, p] = M[t, p] / sum_p' M[t, p']        (the diagonal is each class's recall)

so a rare class's mistakes are as visible as a common one's. Empty cells stay
white and unlabelled, which makes the few mistakes stand out.
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ._figure import finish_figure

__all__ = ["plot_confusion_matrix"]


def plot_confusion_matrix(matrix, class_names=None, path=None, *, title: str | None = None,
                          cell_size: float = 0.55, dpi: int = 100):
    """Draw a ``(K, K)`` confusion matrix of counts (rows: true class, columns: predicted).

    ``class_names``: K labels (default ``0 .. K-1``). The x label gives the
    overall accuracy ``trace(M) / sum(M)``. Returns the matplotlib Figure.
    """
    from matplotlib.figure import Figure

    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"matrix: expected a square (K, K) array of counts, received shape {m.shape}")
    if m.dtype.kind not in "iu" or (m < 0).any():
        raise ValueError(f"matrix: expected non-negative integer counts, received dtype {m.dtype}")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names: expected {k} names (one per row), received {len(names)}")
    dpi = positive_int(dpi, "dpi")

    rows = m.sum(axis=1, keepdims=True)                                 # (K, 1) samples per class
    fraction = np.divide(m, rows, out=np.zeros(m.shape), where=rows > 0)  # (K, K) row-normalized
    side = max(3.0, cell_size * k + 1.6)
    fig = Figure(figsize=(side + 0.8, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0)
    for t in range(k):
        for p in range(k):
            if m[t, p]:
                ax.text(p, t, str(int(m[t, p])), ha="center", va="center", fontsize="small",
                        color="white" if fraction[t, p] > 0.5 else ("black" if t == p else "tab:red"))
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    total = int(m.sum())
    accuracy = np.trace(m) / total if total else float("nan")
    ax.set_xlabel(f"predicted class    (accuracy {accuracy:.1%} of {total}; "
                  f"{total - int(np.trace(m))} off the diagonal)")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    return finish_figure(fig, path, title, dpi)
