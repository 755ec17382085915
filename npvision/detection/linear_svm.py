"""Linear SVMs with the hinge loss, and hard-negative mining: R-CNN's per-class classifiers.

R-CNN (Girshick et al., 2014, section 2.3) scores each region with one *linear SVM per
class* on the CNN's features, trained on the ground-truth boxes of that class as
positives and on regions overlapping no box of the class (IoU < 0.3) as negatives.

**The SVM** (:func:`train_linear_svm`)::

    min_{w, b}  1/2 |w|^2 + C sum_i s_i max(0, 1 - y_i (w . x_i + b)),     y_i = +1 / -1

The bias is learned as the weight of one extra constant feature ``bias_feature``
(LIBLINEAR's ``-B``; R-CNN uses 10), so it is lightly regularized like every other
weight. ``s_i`` weighs positives against negatives (``positive_weight``; R-CNN: 2).
The problem is solved in its dual by coordinate descent, LIBLINEAR's method, one
epoch per call of the kernel ``svm_dual_cd_epoch`` (:mod:`npvision.kernels.linear_svm`),
until the largest projected gradient falls below ``tol``.

**Hard-negative mining** (:func:`hard_negative_svm`; Felzenszwalb et al. 2010, R-CNN's
"standard hard negative mining method"). There are far more negative regions than any
solver wants to see at once, and almost all of them are easy. So::

    cache = a random sample of the negatives
    repeat:
        train the SVM on the positives and the cache
        score every negative
        evict from the cache the easy ones:   score < evict_threshold  (-1.2)
        add the hard ones not yet cached:     score > hard_threshold   (-1.0001: inside the margin)
    until no negative is hard (the SVM is then optimal for *all* negatives) or ``rounds`` ran out

A negative scoring below -1 has zero hinge loss and zero dual variable, so leaving it
out does not change the solution: this is why mining converges to the SVM of the whole
set.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .. import kernels
from .._checks import _describe, as_float_array, positive_int
from .._rng import as_rng

__all__ = ["LinearSVM", "train_linear_svm", "hard_negative_svm", "svm_objective"]


def _positive_real(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name}: expected a positive number, received {_describe(v)}")
    return float(v)


@dataclass
class LinearSVM:
    """A trained linear SVM: ``score(x) = x . weight + bias``.

    ``history`` records how training went: epochs and final violation for
    :func:`train_linear_svm`; one entry per round for :func:`hard_negative_svm`.
    """

    weight: np.ndarray                       # (d,)
    bias: float
    history: list = field(default_factory=list)

    def decision_function(self, x) -> np.ndarray:
        """Scores ``(n,)`` of ``x (n, d)``: positive means the class."""
        x = as_float_array(x, "x", ndim=2)
        if x.shape[1] != len(self.weight):
            raise ValueError(f"x: expected {len(self.weight)} features per row, received shape {x.shape}")
        return x @ self.weight.astype(x.dtype) + x.dtype.type(self.bias)


def _augment(x: np.ndarray, bias_feature: float) -> np.ndarray:
    """``[x, bias_feature]``: ``(n, d) -> (n, d + 1)`` float64, C-contiguous."""
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.float64)
    out[:, :-1] = x
    out[:, -1] = bias_feature
    return out


def svm_objective(svm: LinearSVM, x, y, C: float, sample_weight=None, bias_feature: float = 10.0) -> float:
    """The primal objective ``1/2 |w|^2 + C sum_i s_i hinge_i`` (``w`` includes the bias weight)."""
    x = as_float_array(x, "x", ndim=2)
    y = np.asarray(y, dtype=np.float64)
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    w_bias = svm.bias / bias_feature
    margins = y * svm.decision_function(x).astype(np.float64)
    return float(0.5 * (svm.weight @ svm.weight + w_bias ** 2)
                 + C * np.sum(s * np.maximum(0.0, 1.0 - margins)))


def train_linear_svm(x, y, C: float = 1e-3, positive_weight: float = 1.0, bias_feature: float = 10.0,
                     tol: float = 1e-3, max_epochs: int = 200, rng=None) -> LinearSVM:
    """The hinge-loss linear SVM of ``x (n, d)`` with labels ``y (n,)`` in ``{+1, -1}`` (module docstring).

    ``C``: the cost of a margin violation (R-CNN: 0.001 with features scaled to a mean
    norm of 20); ``positive_weight``: extra cost of a positive's violation;
    ``bias_feature``: the constant feature that carries the bias; ``tol``: stop when the
    largest projected gradient of an epoch is below it; ``rng``: the visiting order.
    """
    x = as_float_array(x, "x", ndim=2)
    y = np.asarray(y)
    if y.shape != (len(x),) or not np.all(np.isin(y, (-1, 1))):
        raise ValueError(f"y: expected ({len(x)},) labels in {{+1, -1}}, received {_describe(y)}")
    if len(x) == 0:
        raise ValueError("x: expected at least one sample, received an empty array")
    C = _positive_real(C, "C")
    positive_weight = _positive_real(positive_weight, "positive_weight")
    bias_feature = _positive_real(bias_feature, "bias_feature")
    tol = _positive_real(tol, "tol")
    max_epochs = positive_int(max_epochs, "max_epochs")
    rng = as_rng(rng)
    xa = _augment(x, bias_feature)                        # (n, d + 1)
    yf = y.astype(np.float64)
    c = np.where(yf > 0, C * positive_weight, C)          # (n,) each sample's cost
    q = np.einsum("ij,ij->i", xa, xa)                     # (n,) x_i . x_i
    alpha = np.zeros(len(xa))
    w = np.zeros(xa.shape[1])
    epoch_fn = kernels.get("svm_dual_cd_epoch")
    violation = np.inf
    for epoch in range(1, max_epochs + 1):
        violation = epoch_fn(xa, yf, c, q, alpha, w, rng.permutation(len(xa)).astype(np.int64))
        if violation < tol:
            break
    return LinearSVM(w[:-1].copy(), float(w[-1] * bias_feature),
                     [{"epochs": epoch, "violation": float(violation), "support_vectors": int((alpha > 0).sum())}])


def hard_negative_svm(positives, negatives, C: float = 1e-3, positive_weight: float = 2.0,
                      bias_feature: float = 10.0, initial_negatives: int = 2000, max_cache: int = 20000,
                      rounds: int = 6, hard_threshold: float = -1.0001, evict_threshold: float = -1.2,
                      tol: float = 1e-3, max_epochs: int = 200, rng=None) -> LinearSVM:
    """An SVM of ``positives (p, d)`` against ``negatives (m, d)`` by hard-negative mining (module docstring).

    ``initial_negatives``: the first cache (drawn at random); ``max_cache``: at most this
    many cached negatives (the hardest are added first); ``rounds``: retraining rounds;
    ``tol``, ``max_epochs``: each round's :func:`train_linear_svm`.
    ``history`` of the result: per round ``{"cache", "hard_added", "evicted", "objective"}``,
    the objective taken over *all* negatives.
    """
    pos = as_float_array(positives, "positives", ndim=2)
    neg = as_float_array(negatives, "negatives", ndim=2)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"positives, negatives: expected at least one of each, received {len(pos)} and {len(neg)}")
    if pos.shape[1] != neg.shape[1]:
        raise ValueError(f"negatives: expected {pos.shape[1]} features per row like positives, received {neg.shape[1]}")
    rng = as_rng(rng)
    cache = np.sort(rng.permutation(len(neg))[:positive_int(initial_negatives, "initial_negatives")])
    max_cache = positive_int(max_cache, "max_cache")
    history = []
    svm = None
    for _ in range(positive_int(rounds, "rounds")):
        x = np.concatenate([pos, neg[cache]])
        y = np.concatenate([np.ones(len(pos), np.int64), -np.ones(len(cache), np.int64)])
        svm = train_linear_svm(x, y, C, positive_weight, bias_feature, tol, max_epochs, rng=rng)
        scores = svm.decision_function(neg)                         # (m,) every negative
        in_cache = np.zeros(len(neg), dtype=bool)
        in_cache[cache] = True
        hard = np.flatnonzero(~in_cache & (scores > hard_threshold))
        easy = in_cache & (scores < evict_threshold)
        weights = np.where(np.arange(len(pos) + len(neg)) < len(pos), positive_weight, 1.0)
        all_x = np.concatenate([pos, neg])
        all_y = np.concatenate([np.ones(len(pos)), -np.ones(len(neg))])
        history.append({"cache": int(len(cache)), "hard_added": int(len(hard)), "evicted": int(easy.sum()),
                        "objective": svm_objective(svm, all_x, all_y, C, weights, bias_feature),
                        "epochs": svm.history[0]["epochs"]})
        if len(hard) == 0:
            break
        kept = np.flatnonzero(in_cache & ~easy)
        room = max(max_cache - len(kept), 0)
        hard = hard[np.argsort(-scores[hard], kind="stable")[:room]]          # the hardest first
        cache = np.sort(np.concatenate([kept, hard]))
    svm.history = history
    return svm
