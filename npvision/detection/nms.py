"""Non-maximum suppression: greedy, per class, soft, and a step-by-step trace.

A detector proposes many overlapping boxes around each object. Greedy NMS keeps
the best-scoring box, removes the boxes that overlap it too much, and repeats
with the best box left::

    order = boxes by decreasing score (equal scores: lower index first)
    for each box i in order, unless suppressed:
        keep i
        suppress every later box j with IoU(i, j) > iou_threshold

Conventions shared by every function here:

- boxes are ``(N, 4)`` ``xyxy`` (see :mod:`npvision.detection.boxes` for the
  validation rules: inverted or NaN boxes raise, zero-area boxes have IoU 0 with
  everything, so they never suppress and are never suppressed);
- a box is dropped only when its IoU is **strictly greater** than the
  threshold: an IoU exactly equal to it keeps the box;
- the returned indices are ``int64``, ordered by decreasing score, ties by
  increasing index (a stable sort on ``-score``); empty input gives an empty
  ``int64`` array.

The greedy loop runs in a kernel of :mod:`npvision.kernels` (op ``"nms"``:
``naive``, ``numpy``, ``numba``; the default is numba).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .. import kernels
from .._checks import _describe
from .boxes import as_boxes, box_iou

__all__ = ["nms", "batched_nms", "soft_nms", "nms_trace", "NMSTrace"]


# ----------------------------------------------------------------------------- checks

def _check_scores(scores, n: int, name: str = "scores") -> np.ndarray:
    s = np.asarray(scores)
    if s.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected an (N,) array of numbers, received {_describe(scores)}")
    if s.ndim != 1 or s.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) to match the {n} boxes, received shape {s.shape}")
    bad = np.isnan(s) if s.dtype.kind == "f" else np.zeros(n, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: score {i} is NaN")
    return s


def _check_threshold(t, name: str, low: float = 0.0, high: float = 1.0) -> float:
    if not isinstance(t, numbers.Real) or isinstance(t, bool):
        raise TypeError(f"{name}: expected a number in [{low}, {high}], received {_describe(t)}")
    t = float(t)
    if not low <= t <= high:
        raise ValueError(f"{name}: expected a number in [{low}, {high}], received {t}")
    return t


def _score_order(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score, equal scores by increasing index: ``(N,)`` int64."""
    return np.argsort(-scores.astype(np.float64), kind="stable").astype(np.int64)


def _prepare(boxes, scores, iou_threshold):
    b = as_boxes(boxes, "boxes")
    s = _check_scores(scores, len(b))
    t = _check_threshold(iou_threshold, "iou_threshold")
    return np.ascontiguousarray(b, dtype=np.float64), s, t


# ----------------------------------------------------------------------------- greedy NMS

def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, ``(K,)`` int64.

    ``boxes (N, 4)`` xyxy, ``scores (N,)``, ``iou_threshold`` in ``[0, 1]``.
    The result is sorted by decreasing score (ties: lower index first); a box
    is suppressed only by a kept, better-ranked box with ``IoU > iou_threshold``.
    """
    b, s, t = _prepare(boxes, scores, iou_threshold)
    if len(b) == 0:
        return np.empty(0, dtype=np.int64)
    return kernels.get("nms")(b, _score_order(s), t)


def batched_nms(boxes, scores, classes, iou_threshold: float) -> np.ndarray:
    """NMS done independently for each class: boxes of different classes never suppress each other.

    ``classes (N,)`` holds any labels (ints usually). Each class runs its own
    :func:`nms`; the kept indices of all classes are merged and returned by
    decreasing score (ties: lower index first), ``(K,)`` int64.

    Running NMS per class needs no coordinate trick, so negative or huge
    coordinates are handled exactly. (The common shortcut -- shift each class's
    boxes by ``class * (max coordinate + 1)`` and run one NMS -- is wrong when
    coordinates are negative, and it changes IoUs by rounding.)
    """
    b, s, t = _prepare(boxes, scores, iou_threshold)
    c = np.asarray(classes)
    if c.ndim != 1 or c.shape[0] != len(b):
        raise ValueError(f"classes: expected shape ({len(b)},) to match the {len(b)} boxes, "
                         f"received {_describe(classes)}")
    if c.dtype.kind == "f" and not np.all(np.isfinite(c)):
        bad = int(np.flatnonzero(~np.isfinite(c))[0])
        raise ValueError(f"classes: expected finite class labels, received {c[bad]} at index {bad} "
                         f"(a NaN label equals no other, so its box would silently vanish)")
    if c.dtype.kind not in "iubfUSO":
        raise TypeError(f"classes: expected class labels (ints), received {_describe(classes)}")
    if len(b) == 0:
        return np.empty(0, dtype=np.int64)
    kept = []
    for label in np.unique(c):
        members = np.flatnonzero(c == label)                         # (n_c,) indices of this class
        kept.append(members[nms(b[members], s[members], t)])
    keep = np.concatenate(kept)
    return keep[_merge_order(s, keep)]


def _merge_order(scores: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Positions that sort ``keep`` by decreasing score, equal scores by increasing index."""
    return np.lexsort((keep, -scores[keep].astype(np.float64)))


# ----------------------------------------------------------------------------- soft-NMS

def soft_nms(boxes, scores, sigma: float = 0.5, iou_threshold: float = 0.3,
             score_threshold: float = 0.001, method: str = "linear"):
    """Soft-NMS (Bodla et al., 2017): overlapping boxes lose score instead of being removed.

    Repeatedly take the remaining box ``M`` with the highest (current) score,
    keep it, and decay the score of every other remaining box ``b`` by its
    overlap ``o = IoU(M, b)``:

    - ``method="linear"``:   ``s_b *= (1 - o)`` if ``o > iou_threshold``, else unchanged;
    - ``method="gaussian"``: ``s_b *= exp(-o**2 / sigma)`` (``iou_threshold`` is not used).

    Boxes whose score falls below ``score_threshold`` (or starts below it) are
    discarded. Equal current scores pick the lower index first.

    Returns ``(keep, new_scores)``: the kept indices ``(K,)`` int64 in the order
    they were picked (so by decreasing new score), and their decayed scores
    ``(K,)`` (the input's float dtype; float64 for integer scores).
    """
    b, s, t = _prepare(boxes, scores, iou_threshold)
    if method not in ("linear", "gaussian"):
        raise ValueError(f"method: expected 'linear' or 'gaussian', received {method!r}")
    if not isinstance(sigma, numbers.Real) or not sigma > 0:
        raise ValueError(f"sigma: expected a number > 0, received {sigma!r}")
    if not isinstance(score_threshold, numbers.Real) or not np.isfinite(score_threshold):
        raise ValueError(f"score_threshold: expected a finite number, received {score_threshold!r}")
    out_dtype = s.dtype if s.dtype.kind == "f" else np.dtype(np.float64)
    current = s.astype(np.float64)                                   # (N,) decayed scores
    remaining = np.flatnonzero(current >= score_threshold)           # (R,) still candidates
    keep, kept_scores = [], []
    while remaining.size:
        best = remaining[np.argmax(current[remaining])]              # first maximum: lowest index
        keep.append(best)
        kept_scores.append(current[best])
        remaining = remaining[remaining != best]
        if not remaining.size:
            break
        o = box_iou(b[best][None], b[remaining])[0]                  # (R,)
        if method == "linear":
            decay = np.where(o > t, 1.0 - o, 1.0)
        else:
            decay = np.exp(-(o * o) / sigma)
        current[remaining] *= decay
        remaining = remaining[current[remaining] >= score_threshold]
    return np.array(keep, dtype=np.int64), np.array(kept_scores, dtype=out_dtype)


# ----------------------------------------------------------------------------- the trace

@dataclass
class NMSTrace:
    """What greedy NMS did, step by step (see :func:`nms_trace`).

    - ``keep`` ``(K,)`` int64: the kept indices, exactly :func:`nms`'s result;
    - ``suppressed_by`` ``(N,)`` int64: for each box, the kept box that removed
      it, or -1 if it was kept;
    - ``suppressing_iou`` ``(N,)`` float64: that IoU (NaN for kept boxes);
    - ``steps``: one dict per kept box, in order: ``{"kept": i, "score": s_i,
      "suppressed": [j, ...], "ious": [IoU(i, j), ...]}``.
    """
    keep: np.ndarray
    suppressed_by: np.ndarray
    suppressing_iou: np.ndarray
    iou_threshold: float
    steps: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"greedy NMS, drop when IoU > {self.iou_threshold:g}: "
                 f"kept {len(self.keep)} of {len(self.suppressed_by)} boxes"]
        for k, st in enumerate(self.steps, 1):
            gone = ", ".join(f"{j} (IoU {o:.3f})" for j, o in zip(st["suppressed"], st["ious"]))
            lines.append(f"step {k}: keep box {st['kept']} (score {st['score']:.3f})"
                         + (f", suppress {gone}" if gone else ", suppress nothing"))
        return "\n".join(lines)


def nms_trace(boxes, scores, iou_threshold: float) -> NMSTrace:
    """Greedy NMS that records which kept box suppressed which box, and at what IoU.

    Same rule and result as :func:`nms` (its ``keep`` equals ``nms(...)``), but
    written for reading, in plain NumPy; meant for notebooks and small inputs.
    ``print(trace)`` shows one line per kept box.
    """
    b, s, t = _prepare(boxes, scores, iou_threshold)
    n = len(b)
    ious = box_iou(b, b)                                             # (N, N)
    suppressed_by = np.full(n, -1, dtype=np.int64)
    suppressing_iou = np.full(n, np.nan)
    alive = np.ones(n, dtype=bool)
    keep, steps = [], []
    for i in _score_order(s):
        if not alive[i]:
            continue
        alive[i] = False
        keep.append(i)
        victims = np.flatnonzero(alive & (ious[i] > t))              # still alive, too much overlap
        victims = victims[np.argsort(-s[victims].astype(np.float64), kind="stable")]
        alive[victims] = False
        suppressed_by[victims] = i
        suppressing_iou[victims] = ious[i, victims]
        steps.append({"kept": int(i), "score": float(s[i]), "suppressed": victims.tolist(),
                      "ious": ious[i, victims].tolist()})
    return NMSTrace(np.array(keep, dtype=np.int64), suppressed_by, suppressing_iou, t, steps)
