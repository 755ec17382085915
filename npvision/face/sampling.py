"""Batches for metric learning: P identities x K images, and triplets drawn from them.

Online mining needs positives *and* negatives inside every batch, so batches are
not drawn image by image but identity by identity (Hermans et al. 2017): pick
``P`` identities, then ``K`` images of each. Every image then has ``K - 1``
positives and ``(P - 1) K`` negatives in its batch.

    sampler = PKSampler(labels, p=16, k=4, seed=0)
    idx = sampler.sample()            # (64,) image indices: identity by identity
    x, y = images[idx], labels[idx]

:func:`random_triplets` draws the baseline the mining losses are compared with:
for each anchor of a batch, a random positive and a random negative.
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ..data._common import as_rng

__all__ = ["PKSampler", "random_triplets", "pairs_from_batch"]


class PKSampler:
    """Draw batches of ``p`` identities x ``k`` images from ``labels`` ``(N,)``.

    Only identities with at least two images are drawn (one image gives no
    positive). An identity with fewer than ``k`` images repeats some of them
    (drawn with replacement); otherwise its ``k`` images are distinct. Batches
    are ordered identity by identity: ``labels[sample()] = [i, i, .., j, j, ..]``.
    """

    def __init__(self, labels, p: int, k: int, seed=0):
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels: expected a 1-D array of identity labels, received shape {labels.shape}")
        self.p = positive_int(p, "p")
        self.k = positive_int(k, "k")
        if self.k < 2:
            raise ValueError(f"k: a P x K batch needs k >= 2 images per identity (positives), received {k}")
        if self.p < 2:
            raise ValueError(f"p: a P x K batch needs p >= 2 identities (negatives), received {p}")
        ids, counts = np.unique(labels, return_counts=True)
        self.identities = ids[counts >= 2]
        if len(self.identities) < self.p:
            raise ValueError(f"labels: only {len(self.identities)} identities have two images or more, "
                             f"fewer than p = {self.p} per batch")
        self.members = [np.flatnonzero(labels == i) for i in self.identities]
        self.rng = as_rng(seed, "seed")

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def sample(self) -> np.ndarray:
        """One batch: ``(p * k,)`` int64 image indices, ``k`` per identity, identity by identity."""
        chosen = self.rng.choice(len(self.identities), self.p, replace=False)
        idx = [self.rng.choice(self.members[c], self.k, replace=len(self.members[c]) < self.k)
               for c in chosen]
        return np.concatenate(idx).astype(np.int64)

    def __iter__(self):
        while True:
            yield self.sample()


def random_triplets(labels, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every image of a batch that has a positive: itself as anchor, a random positive
    (another image of its identity) and a random negative. No mining: the baseline.

    Returns ``(anchor, positive, negative)`` index arrays of equal length.
    """
    labels = np.asarray(labels)
    rng = as_rng(seed, "seed")
    same = labels[:, None] == labels[None, :]                      # (N, N)
    positive = same & ~np.eye(len(labels), dtype=bool)
    anchors = np.flatnonzero(positive.any(axis=1) & (~same).any(axis=1))
    if len(anchors) == 0:
        raise ValueError("labels: no image has both a positive and a negative in this batch")
    pos = np.array([rng.choice(np.flatnonzero(positive[a])) for a in anchors], dtype=np.int64)
    neg = np.array([rng.choice(np.flatnonzero(~same[a])) for a in anchors], dtype=np.int64)
    return anchors.astype(np.int64), pos, neg


def pairs_from_batch(labels, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced pairs from a P x K batch: for every image, one same pair and one different pair.

    Returns ``(first, second, same)``: index arrays ``(2A,)`` and booleans, half of them True.
    """
    a, p, n = random_triplets(labels, seed)
    first = np.concatenate([a, a])
    second = np.concatenate([p, n])
    same = np.concatenate([np.ones(len(a), bool), np.zeros(len(a), bool)])
    return first, second, same
