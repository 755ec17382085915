"""A cosine-softmax head: train an encoder by classifying its training identities.

The triplet losses compare images of a batch with each other. The other common way
to train a face encoder (NormFace, Wang et al. 2017; CosFace and ArcFace after it)
is classification: every *training* identity ``c`` gets a learned proxy vector
``w_c``, and the encoding of an image of ``c`` is pulled towards ``w_c`` and away
from every other proxy, through a softmax over all training identities::

    logits_ic = s cos(e_i, w_c) = s <e_i, u_c>,   u_c = w_c / ||w_c||       (N, C)
    loss = softmax_cross_entropy(logits, labels)                           (mean over i)

``e_i`` is the encoder's output (already on the unit sphere), ``s`` a fixed scale
(a cosine lies in [-1, 1], so without ``s`` the softmax could never be confident;
NormFace's analysis asks for ``s`` of about 10-30 with many classes). After
training, the proxies are thrown away: held-out identities are compared by the
distance between their encodings, as with any other loss.

Backward, with ``g = d loss / d logits`` ``(N, C)`` and ``r_c = ||w_c||``::

    d e   = s g U                                   (N, d)
    d u_c = s sum_i g_ic e_i                        (C, d)  (d U = s g^T E)
    d w_c = (d u_c - u_c <u_c, d u_c>) / r_c        the normalization's Jacobian

The naive reference is the loop over classes in ``tests/test_face_proxies.py``.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .._checks import as_float_array, check_dout, positive_int
from ..nn.init import as_rng

__all__ = ["CosineSoftmaxHead"]


class CosineSoftmaxHead(nn.Module):
    """``(N, d)`` encodings -> ``(N, C)`` logits ``s cos(e_i, w_c)`` (module docstring).

    ``weight`` ``(C, d)``: one proxy per training identity, drawn from ``N(0, 1)``.
    """

    def __init__(self, embedding_dim: int, classes: int, scale: float = 16.0, rng=None, dtype=np.float32):
        super().__init__()
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim")
        self.classes = positive_int(classes, "classes")
        if not scale > 0:
            raise ValueError(f"scale: expected a float > 0 (the logits' scale s), received {scale!r}")
        self.scale = float(scale)
        rng = as_rng(rng)
        self.weight = nn.Parameter(rng.standard_normal((self.classes, self.embedding_dim)).astype(dtype))
        self.cache = None

    def forward(self, e: np.ndarray) -> np.ndarray:
        e = as_float_array(e, "e", ndim=2, layout="(N, d)")
        if e.shape[1] != self.embedding_dim:
            raise ValueError(f"e: expected (N, {self.embedding_dim}) encodings, received shape {e.shape}")
        w = self.weight.data.astype(e.dtype, copy=False)
        r = np.linalg.norm(w, axis=1, keepdims=True)              # (C, 1)
        u = w / r                                                  # (C, d) unit proxies
        self.cache = (e, u, r)
        return self.scale * (e @ u.T)                              # (N, C)

    def backward(self, d_logits: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("CosineSoftmaxHead.backward was called before forward")
        e, u, r = self.cache
        g = check_dout(d_logits, (len(e), self.classes), "CosineSoftmaxHead.backward")
        d_e = self.scale * (g @ u)                                 # (N, d)
        d_u = self.scale * (g.T @ e)                               # (C, d)
        d_w = (d_u - u * np.sum(u * d_u, axis=1, keepdims=True)) / r   # (C, d)
        self.weight.grad += d_w.astype(self.weight.grad.dtype, copy=False)
        return d_e

    def extra_repr(self) -> str:
        return f"{self.embedding_dim}, classes={self.classes}, scale={self.scale}"
