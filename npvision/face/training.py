"""Training an encoder on P x K batches with any of the face losses.

One training step, written out (this is all :func:`train_encoder` does, plus
bookkeeping)::

    x, labels = next_batch(step)           # P identities x K images, identity by identity
    e = encoder.forward(x)                 # ONE forward for every image: the Siamese
                                           # branches are rows of one batch
    loss, d_e = <loss>(e, labels)          # mining picks the triplets (or pairs) inside the batch
    encoder.backward(d_e)                  # every Parameter gets the sum over all its uses
    optimizer.step()

The losses (:data:`LOSSES`):

==================  ======================================================================
``"batch_all"``     :func:`~npvision.face.batch_all_triplet_loss` (plain L2, ``margin``)
``"batch_hard"``    :func:`~npvision.face.batch_hard_triplet_loss` (plain L2, ``margin``)
``"semi_hard"``     :func:`~npvision.face.semi_hard_triplet_loss` (squared L2, ``margin``)
``"random"``        the course's :func:`~npvision.face.triplet_loss` (squared L2) on random
                    triplets of the batch (no mining), divided by their number
``"contrastive"``   :func:`~npvision.face.contrastive_loss` on one same and one different
                    pair per image (plain L2, ``margin``)
``"binary"``        a :class:`~npvision.face.PairClassifier` (``head``) on the same pairs,
                    binary cross-entropy: verification as binary classification
``"softmax"``       a :class:`~npvision.face.CosineSoftmaxHead` (``head``): classify the
                    training identities (labels ``0 .. C-1``) through a softmax over
                    ``s cos(e, w_c)`` (NormFace); ``margin`` unused
==================  ======================================================================

An image taking part in several triplets or pairs (as anchor of one, negative of
another) receives the sum of its gradients (``np.add.at``), exactly as if each
role had been a separate branch of a Siamese network with shared weights.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from tqdm import tqdm

from .. import functional as F
from .. import nn
from .._checks import positive_int
from ..optim import Adam, CosineDecay
from .binary import PairClassifier
from .proxies import CosineSoftmaxHead
from .losses import (batch_all_triplet_loss, batch_hard_triplet_loss, contrastive_loss,
                     semi_hard_triplet_loss, triplet_loss)
from .sampling import pairs_from_batch, random_triplets

__all__ = ["LOSSES", "DEFAULT_MARGINS", "loss_and_gradient", "train_encoder"]

LOSSES = ("batch_all", "batch_hard", "semi_hard", "random", "contrastive", "binary", "softmax")
DEFAULT_MARGINS = {"batch_all": 0.2, "batch_hard": 0.2, "semi_hard": 1.0, "random": 0.2,
                   "contrastive": 1.0, "binary": 0.0, "softmax": 0.0}
HEADS = {"binary": PairClassifier, "softmax": CosineSoftmaxHead}      # the losses that train a head


def loss_and_gradient(name: str, e: np.ndarray, labels: np.ndarray, margin: float,
                      rng: np.random.Generator, head: PairClassifier | None = None):
    """``(loss, d_e)`` of loss ``name`` for the embeddings ``e`` ``(N, d)`` of one batch.

    ``head`` (the logistic unit) is needed by ``"binary"``, the proxies by
    ``"softmax"``; its gradient is accumulated into its Parameters as a side effect.
    """
    if name == "batch_all":
        return batch_all_triplet_loss(e, labels, margin)
    if name == "batch_hard":
        return batch_hard_triplet_loss(e, labels, margin)
    if name == "semi_hard":
        return semi_hard_triplet_loss(e, labels, margin, squared=True)
    if name == "softmax":
        if not isinstance(head, CosineSoftmaxHead):
            raise ValueError("head: the 'softmax' loss needs a CosineSoftmaxHead")
        loss, d_logits = F.softmax_cross_entropy(head.forward(e), labels)
        return loss, head.backward(d_logits)
    d_e = np.zeros_like(e)
    if name == "random":
        a, p, n = random_triplets(labels, rng)
        loss, (d_a, d_p, d_n) = triplet_loss(e[a], e[p], e[n], margin)
        for idx, g in ((a, d_a), (p, d_p), (n, d_n)):
            np.add.at(d_e, idx, g / len(a))                        # mean over the triplets
        return loss / len(a), d_e
    first, second, same = pairs_from_batch(labels, rng)
    if name == "contrastive":
        loss, (d_1, d_2) = contrastive_loss(e[first], e[second], same, margin)
    elif name == "binary":
        if head is None:
            raise ValueError("head: the 'binary' loss needs a PairClassifier")
        logits = head.forward(np.concatenate([e[first], e[second]]))          # (M, 1)
        loss, d_logits = F.binary_cross_entropy_with_logits(logits, same[:, None].astype(e.dtype))
        d_pairs = head.backward(d_logits)                                      # (2M, d)
        d_1, d_2 = np.split(d_pairs, 2)
    else:
        raise ValueError(f"loss: expected one of {LOSSES}, received {name!r}")
    np.add.at(d_e, first, d_1)
    np.add.at(d_e, second, d_2)
    return loss, d_e


def train_encoder(encoder: nn.Module, next_batch: Callable, steps: int, loss: str = "batch_all",
                  margin: float | None = None, lr: float = 2e-3, head: PairClassifier | None = None,
                  seed=0, progress: bool = True, on_step: Callable | None = None) -> dict:
    """Train ``encoder`` for ``steps`` steps; returns the history ``{"loss": [...], "seconds": s}``.

    Parameters
    ----------
    next_batch : ``next_batch(step, rng) -> (images (N, H, W, C), labels (N,))``, a P x K batch.
    loss : one of :data:`LOSSES`; ``margin`` defaults to :data:`DEFAULT_MARGINS`.
    lr : Adam's learning rate, decayed to 0 along half a cosine over the steps.
    head : the :class:`PairClassifier` trained with the encoder for ``loss="binary"``, the
        :class:`CosineSoftmaxHead` for ``loss="softmax"``.
    on_step : called as ``on_step(step, loss)`` after every step (e.g. to evaluate).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {LOSSES}, received {loss!r}")
    steps = positive_int(steps, "steps")
    margin = DEFAULT_MARGINS[loss] if margin is None else margin
    if loss in HEADS and not isinstance(head, HEADS[loss]):
        raise ValueError(f"head: loss={loss!r} trains a {HEADS[loss].__name__} with the encoder; pass head=")
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    params = encoder.parameters() + (head.parameters() if head is not None else [])
    optimizer = Adam(params, lr=lr)
    schedule = CosineDecay(optimizer, total=steps, interval="batch")
    history = {"loss": []}
    start = time.perf_counter()
    encoder.train()
    bar = tqdm(range(1, steps + 1), desc=f"training ({loss})", disable=not progress, leave=False)
    for step in bar:
        x, labels = next_batch(step, rng)
        optimizer.zero_grad()
        e = encoder.forward(x)
        value, d_e = loss_and_gradient(loss, e, labels, margin, rng, head)
        encoder.backward(d_e)
        optimizer.step()
        schedule.step()
        history["loss"].append(float(value))
        if progress and step % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(history['loss'][-50:]):.4f}")
        if on_step is not None:
            on_step(step, value)
    history["seconds"] = time.perf_counter() - start
    encoder.eval()
    return history
