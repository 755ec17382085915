"""Face verification as binary classification: a logistic unit on a pair of encodings.

The course's alternative to the triplet loss (after DeepFace, Taigman et al. 2014):
feed both images through the same encoder, compare the two encodings element by
element, and let a logistic unit say "same person" (1) or not (0)::

    y_hat = sigmoid( sum_k w_k phi(f(x_i)_k, f(x_j)_k) + b )

with one of two comparisons ``phi`` (each a vector of ``d`` features):

* ``"abs"``:  ``phi_k = |f_ik - f_jk|``;  ``d phi/d f_i = sign(f_i - f_j)`` (0 where equal),
  ``d phi/d f_j = -sign(f_i - f_j)``;
* ``"chi2"``: ``phi_k = (f_ik - f_jk)^2 / (f_ik + f_jk + eps)``, the chi-square
  similarity the lecture shows. With ``u = f_i - f_j`` and ``s = f_i + f_j + eps``::

      d phi/d f_i =  2 u / s - u^2 / s^2
      d phi/d f_j = -2 u / s - u^2 / s^2

  It divides by ``f_i + f_j``, so the encodings must be non-negative (DeepFace's
  come out of a ReLU): build the encoder with ``FaceEncoder(nonnegative=True)``.

The features are symmetric in ``i, j``, so the decision does not depend on the
order of the two images. The whole thing trains end to end with the binary
cross-entropy (:func:`npvision.functional.binary_cross_entropy_with_logits`):
the gradient flows through the logistic unit, the comparison, and both
branches of the one shared encoder (:class:`npvision.face.Siamese`).

:class:`PairClassifier` takes the two branches' encodings stacked as one array
``(2N, d)`` -- the first ``N`` rows the images ``x_i``, the last ``N`` the ``x_j`` --
which is exactly what a Siamese encoder fed ``concat([x_i, x_j])`` returns.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from .._checks import as_float_array, check_dout, positive_int

__all__ = ["PAIR_FEATURES", "pair_features_forward", "pair_features_backward", "PairClassifier"]

PAIR_FEATURES = ("abs", "chi2")


def pair_features_forward(f_i, f_j, kind: str = "abs", eps: float = 1e-6):
    """The element-wise comparison ``phi(f_i, f_j)`` ``(N, d), (N, d) -> (N, d)``.

    Returns ``(phi, cache)``. ``kind="chi2"`` refuses negative entries (see the
    module docstring). The naive reference is a double loop over pairs and
    components in ``tests/test_face_binary.py``.
    """
    f_i = as_float_array(f_i, "f_i", ndim=2, layout="(N, d)")
    f_j = as_float_array(f_j, "f_j", ndim=2, layout="(N, d)")
    if f_i.shape != f_j.shape:
        raise ValueError(f"f_j: expected the shape of f_i {f_i.shape} (one pair per row), received {f_j.shape}")
    if kind not in PAIR_FEATURES:
        raise ValueError(f"kind: expected one of {PAIR_FEATURES}, received {kind!r}")
    u = f_i - f_j                                                  # (N, d)
    if kind == "abs":
        return np.abs(u), (kind, u, None)
    if min(f_i.min(initial=0.0), f_j.min(initial=0.0)) < 0:
        raise ValueError("f_i, f_j: chi-square features need non-negative encodings (they divide by "
                         "f_i + f_j); build the encoder with FaceEncoder(nonnegative=True)")
    s = f_i + f_j + eps                                            # (N, d)
    return u * u / s, (kind, u, s)


def pair_features_backward(dout, cache):
    """``-> (d f_i, d f_j)`` for :func:`pair_features_forward`."""
    kind, u, s = cache
    dout = check_dout(dout, u.shape, "pair_features_backward")
    if kind == "abs":
        g = dout * np.sign(u)
        return g, -g
    ratio = u / s
    common = dout * ratio * ratio                                  # d phi / d s part: -u^2 / s^2
    return dout * 2 * ratio - common, -dout * 2 * ratio - common


class PairClassifier(nn.Module):
    """The logistic unit on a pair's features: ``(2N, d) -> (N, 1)`` logits (module docstring).

    ``forward(e)`` splits ``e`` into ``f_i = e[:N]`` and ``f_j = e[N:]``; the
    probability that the pair shows one person is ``sigmoid(logit)``.
    ``backward(d_logits)`` returns ``(2N, d)``: the gradient for both halves,
    stacked again, ready for the shared encoder's backward.
    """

    def __init__(self, embedding_dim: int = 128, kind: str = "abs", rng=None, dtype=np.float32):
        super().__init__()
        if kind not in PAIR_FEATURES:
            raise ValueError(f"kind: expected one of {PAIR_FEATURES}, received {kind!r}")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim")
        self.kind = kind
        self.linear = nn.Linear(embedding_dim, 1, rng=rng, dtype=dtype)
        # small random weights: all features start equally (un)important, logit near 0
        self.linear.weight.data *= 0.1
        self.cache = None

    def forward(self, e: np.ndarray) -> np.ndarray:
        e = as_float_array(e, "e", ndim=2, layout="(2N, d)")
        if len(e) % 2 or e.shape[1] != self.embedding_dim:
            raise ValueError(f"e: expected (2N, {self.embedding_dim}) encodings, the first N rows paired "
                             f"with the last N, received shape {e.shape}")
        n = len(e) // 2
        phi, self.cache = pair_features_forward(e[:n], e[n:], self.kind)   # (N, d)
        return self.linear.forward(phi)                                     # (N, 1)

    def backward(self, d_logits: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("PairClassifier.backward was called before forward")
        d_phi = self.linear.backward(d_logits)                              # (N, d)
        d_i, d_j = pair_features_backward(d_phi, self.cache)
        return np.concatenate([d_i, d_j], axis=0)                           # (2N, d): both halves

    def probability(self, e: np.ndarray) -> np.ndarray:
        """``sigmoid(forward(e))`` as ``(N,)``: the probability of "same person"."""
        p, _ = F.sigmoid_forward(self.forward(e))
        return p[:, 0]

    def extra_repr(self) -> str:
        return f"{self.embedding_dim}, kind={self.kind!r}"
