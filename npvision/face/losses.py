"""Metric-learning losses, each returning ``(loss, gradients)`` with a hand-written backward.

Notation: ``f(x)`` the embedding of image ``x`` (a row of an ``(N, D)`` array),
``d(i, j)`` a distance between embeddings, ``alpha`` (``margin``) >= 0.

The course's triplet loss (FaceNet, Schroff et al. 2015)
--------------------------------------------------------
For triplets of an anchor ``A``, a positive ``P`` (same person) and a negative
``N`` (someone else)::

    L = sum_i max( ||f(A_i) - f(P_i)||^2 - ||f(A_i) - f(N_i)||^2 + alpha, 0 )

summed over the batch, as the course and FaceNet write it. Where the hinge is
active (``> 0``) its gradients are ``dA = 2 (N - P)``, ``dP = 2 (P - A)``,
``dN = 2 (A - N)`` per triplet (with ``A, P, N`` the embeddings); where it is not,
zero. A triplet that already satisfies the margin -- an *easy* triplet --
contributes nothing, which is why random triplets teach little once training
has started, and why the batch losses below *mine* the informative ones.

Online mining over a P x K batch (Hermans, Beyer & Leibe 2017)
--------------------------------------------------------------
A batch holds ``K`` images of each of ``P`` identities (:class:`PKSampler`). With
the pairwise distance matrix ``D`` (plain by default, squared on request):

* :func:`batch_all_triplet_loss`: every valid triplet ``(a, p, n)`` (``a != p`` of
  one identity, ``n`` of another); the mean of ``max(D_ap - D_an + alpha, 0)`` over
  the triplets where it is positive (averaging over all of them would let the
  many easy triplets shrink the gradient towards zero).
* :func:`batch_hard_triplet_loss`: per anchor, its farthest positive and its
  closest negative: ``max(max_p D_ap - min_n D_an + alpha, 0)``, averaged over
  the anchors that have both.
* :func:`semi_hard_triplet_loss`: per anchor-positive pair, the closest negative
  that is *farther* than the positive (FaceNet's semi-hard negative: within the
  margin but not closer than the positive), or the farthest negative if there is
  none; ``max(D_ap - D_an + alpha, 0)`` averaged over the pairs, as TensorFlow's
  ``triplet_semihard_loss`` states it (``squared=True``, ``margin=1.0``).

The selection (argmax, argmin) is held fixed when differentiating: the gradient
flows through the selected distances only, as in every framework.

Pairs (Hadsell, Chopra & LeCun 2006)
------------------------------------
* :func:`contrastive_loss`: ``y d^2 / 2 + (1 - y) max(m - d, 0)^2 / 2`` per pair
  (``y = 1`` same person), averaged: same pairs are pulled together, different
  pairs pushed apart until they are ``m`` apart.

Margins must be >= 0 here: a negative margin asks the positive to be *farther*
than the negative, which trains nothing sensible, so it is refused with an error.
:func:`triplet_hinge` is the same computation without that check, for callers that
must accept any margin (the course's own unit test calls its ``triplet_loss``
with ``alpha = -2``).

Naive references: the loops in ``tests/test_face_losses.py`` (one triplet, one
anchor, one pair at a time).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array
from .distances import _same_width, check_embeddings, pairwise_distances, pairwise_distances_backward

__all__ = ["triplet_hinge", "triplet_loss", "batch_all_triplet_loss", "batch_hard_triplet_loss",
           "semi_hard_triplet_loss", "contrastive_loss", "check_labels", "mining_masks"]


def _margin(margin, name: str = "margin") -> float:
    if not isinstance(margin, numbers.Real) or isinstance(margin, bool) or not np.isfinite(margin):
        raise TypeError(f"{name}: expected a real number >= 0, received {margin!r}")
    if margin < 0:
        raise ValueError(f"{name}: expected a margin >= 0, received {margin}; a negative margin asks "
                         f"the positive to be farther than the negative (npvision.face.triplet_hinge "
                         f"accepts any margin, as the course's unit test needs)")
    return float(margin)


def _triplet_inputs(anchor, positive, negative):
    arrays = []
    for name, a in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        a = as_float_array(a, name, ndim=(1, 2), layout="(N, D) or (D,)")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: contains NaN or infinite values")
        arrays.append(a)
    a, p, n = arrays
    for name, other in (("positive", p), ("negative", n)):
        _same_width(a, other, "anchor", name)
        if other.shape != a.shape:
            raise ValueError(f"{name}: expected the shape of anchor {a.shape} (one {name} per anchor), "
                             f"received {other.shape}")
    return a, p, n


def triplet_hinge(anchor, positive, negative, alpha: float):
    """``sum_i max(||A_i - P_i||^2 - ||A_i - N_i||^2 + alpha, 0)`` for ANY real ``alpha``.

    The computation behind :func:`triplet_loss`, without its margin check:
    ``alpha`` may be negative (the course's test case ``alpha = -2`` gives 0 on
    zero encodings). Inputs ``(N, D)`` (or ``(D,)``, one triplet), equal shapes.

    Returns ``(loss, (d_anchor, d_positive, d_negative))``, gradients shaped like
    the inputs; ``loss`` a float.
    """
    a, p, n = _triplet_inputs(anchor, positive, negative)
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
        raise TypeError(f"alpha: expected a real number, received {alpha!r}")
    pos_dist = np.sum((a - p) ** 2, axis=-1)                       # (N,) or ()
    neg_dist = np.sum((a - n) ** 2, axis=-1)
    basic = pos_dist - neg_dist + alpha
    loss = float(np.sum(np.maximum(basic, 0.0)))
    active = (basic > 0).astype(a.dtype)[..., None]                # (N, 1) or (1,): the hinge's slope
    d_a = 2.0 * (n - p) * active
    d_p = 2.0 * (p - a) * active
    d_n = 2.0 * (a - n) * active
    return loss, (d_a, d_p, d_n)


def triplet_loss(anchor, positive, negative, margin: float = 0.2):
    """The course's triplet loss: squared L2 distances, margin ``alpha``, summed over the batch.

    ``L = sum_i max(||f(A_i) - f(P_i)||^2 - ||f(A_i) - f(N_i)||^2 + margin, 0)``.

    Parameters
    ----------
    anchor, positive, negative : ``(N, D)`` embeddings (or ``(D,)`` for one triplet),
        all of one shape.
    margin : ``alpha >= 0`` (a negative margin is an error; see :func:`triplet_hinge`).

    Returns ``(loss, (d_anchor, d_positive, d_negative))``.

    >>> triplet_loss([1., 1.], [1., 1.], [0., 0.], margin=3)[0]      # pos 0, neg 2
    1.0
    """
    return triplet_hinge(anchor, positive, negative, _margin(margin))


# ----------------------------------------------------------------------------- mining

def check_labels(labels, n: int) -> np.ndarray:
    """Identity labels: a 1-D array (ints or strings) with one entry per embedding."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels: expected a 1-D array of identity labels, received shape {labels.shape}")
    if len(labels) != n:
        raise ValueError(f"labels: expected one label per embedding ({n}), received {len(labels)}")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError("labels: contains NaN or infinite values")
    return labels


def mining_masks(labels) -> tuple[np.ndarray, np.ndarray]:
    """``(positive, negative)`` boolean ``(N, N)`` masks: ``positive[a, p]`` when ``a != p``
    share an identity, ``negative[a, n]`` when they do not.

    Raises ``ValueError`` when no anchor has both: a batch of one identity (no
    negative anywhere) or of singletons (no positive anywhere).
    """
    same = labels[:, None] == labels[None, :]                      # (N, N)
    positive = same & ~np.eye(len(labels), dtype=bool)
    negative = ~same
    if not negative.any():
        raise ValueError(f"labels: all {len(labels)} embeddings have the same identity "
                         f"({labels[0]!r}); a mining loss needs a second identity for negatives")
    if not positive.any():
        raise ValueError(f"labels: every identity appears once in the batch ({len(labels)} "
                         f"singletons); a mining loss needs at least two images of an identity "
                         f"for positives (draw batches with PKSampler, K >= 2)")
    return positive, negative


def _mining_inputs(embeddings, labels, margin, squared):
    e = check_embeddings(embeddings)
    labels = check_labels(labels, len(e))
    margin = _margin(margin)
    positive, negative = mining_masks(labels)
    dist = pairwise_distances(e, squared=bool(squared))            # (N, N)
    return e, margin, positive, negative, dist


def batch_all_triplet_loss(embeddings, labels, margin: float = 0.2, squared: bool = False):
    """Every valid triplet of the batch, averaged over those with a positive loss.

    ``L = sum_{(a,p,n) valid, l > 0} l_apn / #{l_apn > 0}`` with
    ``l_apn = max(D_ap - D_an + margin, 0)`` (0 when no triplet is active).

    Parameters: ``embeddings`` ``(N, D)``, ``labels`` ``(N,)``; ``squared`` uses
    ``D = ||.||^2``. Returns ``(loss, d_embeddings)``. Memory ``O(N^3)``.
    """
    e, margin, positive, negative, dist = _mining_inputs(embeddings, labels, margin, squared)
    valid = positive[:, :, None] & negative[:, None, :]            # (N, N, N) [a, p, n]
    l = dist[:, :, None] - dist[:, None, :] + margin               # (N, N, 1) - (N, 1, N)
    active = valid & (l > 0)
    count = int(active.sum())
    if count == 0:
        return 0.0, np.zeros_like(e)
    loss = float(l[active].sum() / count)
    w = active / count                                             # (N, N, N) weight of each active triplet
    d_dist = w.sum(axis=2) - w.sum(axis=1)                         # +D_ap over n, -D_an over p
    return loss, pairwise_distances_backward(d_dist, e, dist, bool(squared))


def batch_hard_triplet_loss(embeddings, labels, margin: float = 0.2, squared: bool = False):
    """Per anchor, its hardest positive and hardest negative (DESIGN.md, Hermans et al. 2017).

    ``L = mean_a max(max_p D_ap - min_n D_an + margin, 0)`` over the anchors that
    have a positive and a negative in the batch. Returns ``(loss, d_embeddings)``.
    """
    e, margin, positive, negative, dist = _mining_inputs(embeddings, labels, margin, squared)
    anchors = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))       # (A,)
    d_a = dist[anchors]                                                         # (A, N)
    hardest_p = np.argmax(np.where(positive[anchors], d_a, -np.inf), axis=1)    # (A,) farthest positive
    hardest_n = np.argmin(np.where(negative[anchors], d_a, np.inf), axis=1)     # (A,) closest negative
    l = d_a[np.arange(len(anchors)), hardest_p] - d_a[np.arange(len(anchors)), hardest_n] + margin
    loss = float(np.mean(np.maximum(l, 0.0)))
    slope = (l > 0) / len(anchors)                                              # (A,) d loss / d l
    d_dist = np.zeros_like(dist)
    np.add.at(d_dist, (anchors, hardest_p), slope)
    np.add.at(d_dist, (anchors, hardest_n), -slope)
    return loss, pairwise_distances_backward(d_dist, e, dist, bool(squared))


def semi_hard_triplet_loss(embeddings, labels, margin: float = 1.0, squared: bool = True):
    """FaceNet's semi-hard negatives, as TensorFlow's ``triplet_semihard_loss`` (DESIGN.md).

    For every anchor-positive pair ``(a, p)`` (``a != p``, one identity) the negative
    is the closest ``n`` with ``D_an > D_ap``; if no negative is that far, the
    farthest negative. ``L = mean_(a,p) max(D_ap - D_an + margin, 0)``.
    Returns ``(loss, d_embeddings)``.
    """
    e, margin, positive, negative, dist = _mining_inputs(embeddings, labels, margin, squared)
    a_idx, p_idx = np.nonzero(positive)                            # (K,) every anchor-positive pair
    d_ap = dist[a_idx, p_idx]                                      # (K,)
    d_an = dist[a_idx]                                             # (K, N) the anchor's row
    neg = negative[a_idx]                                          # (K, N)
    semi = neg & (d_an > d_ap[:, None])                            # farther than the positive
    closest_semi = np.argmin(np.where(semi, d_an, np.inf), axis=1)
    farthest = np.argmax(np.where(neg, d_an, -np.inf), axis=1)
    n_idx = np.where(semi.any(axis=1), closest_semi, farthest)     # (K,)
    l = d_ap - d_an[np.arange(len(a_idx)), n_idx] + margin
    loss = float(np.mean(np.maximum(l, 0.0)))
    slope = (l > 0) / len(a_idx)
    d_dist = np.zeros_like(dist)
    np.add.at(d_dist, (a_idx, p_idx), slope)
    np.add.at(d_dist, (a_idx, n_idx), -slope)
    return loss, pairwise_distances_backward(d_dist, e, dist, bool(squared))


# ----------------------------------------------------------------------------- pairs

def contrastive_loss(embeddings_1, embeddings_2, same, margin: float = 1.0):
    """Hadsell et al.'s contrastive loss on pairs, averaged over the ``N`` pairs.

    ``l_i = y_i d_i^2 / 2 + (1 - y_i) max(margin - d_i, 0)^2 / 2`` with
    ``d_i = ||f_1i - f_2i||`` (plain L2) and ``y_i = 1`` for a same-identity pair.

    Gradient (for ``f_1``; ``f_2`` gets the opposite): ``y (f_1 - f_2)`` for a
    same pair, ``-(1 - y) max(m - d, 0) (f_1 - f_2) / d`` for a different one
    (0 at ``d = 0``, where the direction is undefined).

    Parameters: ``embeddings_1``, ``embeddings_2`` ``(N, D)``; ``same`` ``(N,)``
    booleans or 0/1; ``margin >= 0``. Returns ``(loss, (d_1, d_2))``.
    """
    f1 = check_embeddings(embeddings_1, "embeddings_1")
    f2 = check_embeddings(embeddings_2, "embeddings_2")
    _same_width(f1, f2, "embeddings_1", "embeddings_2")
    if f1.shape != f2.shape:
        raise ValueError(f"embeddings_2: expected one embedding per pair, the shape of embeddings_1 "
                         f"{f1.shape}, received {f2.shape}")
    y = np.asarray(same)
    if y.shape != (len(f1),):
        raise ValueError(f"same: expected one flag per pair, shape ({len(f1)},), received {y.shape}")
    if y.dtype.kind not in "biuf" or not np.all((y == 0) | (y == 1)):
        raise ValueError("same: expected booleans or 0/1 values (1 = same identity)")
    y = y.astype(f1.dtype)
    margin = _margin(margin)
    diff = f1 - f2                                                 # (N, D)
    d = np.sqrt(np.sum(diff * diff, axis=1))                       # (N,)
    gap = np.maximum(margin - d, 0.0)
    n = len(d)
    loss = float(np.sum(y * d ** 2 + (1 - y) * gap ** 2) / (2 * n))
    safe = np.where(d > 0, d, 1.0)
    push = np.where(d > 0, (1 - y) * gap / safe, 0.0)              # (N,)
    d1 = ((y - push)[:, None] * diff / n).astype(f1.dtype, copy=False)
    return loss, (d1, -d1)
