"""The cosine-softmax head (npvision.face.CosineSoftmaxHead) and the "softmax" training loss."""

import numpy as np
import pytest

from npvision import functional as F
from npvision.face import CosineSoftmaxHead, FaceEncoder, train_encoder
from npvision.face.training import loss_and_gradient
from npvision.gradcheck import check_loss, check_module


def _logits_loops(e, w, s):
    out = np.zeros((len(e), len(w)))
    for i in range(len(e)):
        for c in range(len(w)):
            out[i, c] = s * np.dot(e[i], w[c]) / np.linalg.norm(w[c])     # e is used as it comes
    return out


def _unit(rng, shape):
    e = rng.standard_normal(shape)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_logits_match_loops_and_are_scaled_cosines():
    rng = np.random.default_rng(0)
    head = CosineSoftmaxHead(6, 4, scale=10.0, rng=1, dtype=np.float64)
    head.weight.data *= rng.uniform(0.5, 3.0, (4, 1))            # proxies of any length: only direction counts
    e = _unit(rng, (5, 6))
    z = head.forward(e)
    np.testing.assert_allclose(z, _logits_loops(e, head.weight.data, 10.0), rtol=1e-12)
    assert np.abs(z).max() <= 10.0 + 1e-12


def test_gradients():
    rng = np.random.default_rng(2)
    head = CosineSoftmaxHead(5, 3, scale=4.0, rng=3)
    check_module(head, _unit(rng, (4, 5)))                       # d e and d weight against differences
    e, labels = _unit(rng, (6, 5)), np.array([0, 1, 2, 2, 1, 0])

    def loss(x):                                                 # the whole "softmax" loss, through the head
        head.zero_grad()
        return loss_and_gradient("softmax", x, labels, 0.0, np.random.default_rng(0), head)

    check_loss(loss, e)
    head.zero_grad()
    value, _ = loss(e)
    expected, _ = F.softmax_cross_entropy(head.forward(e), labels)
    assert value == pytest.approx(expected)


def test_training_pulls_images_of_a_class_together():
    rng = np.random.default_rng(4)
    centres = rng.uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)

    def next_batch(step, r):                                     # 4 classes x 4 noisy images
        labels = np.repeat(np.arange(4), 4)
        return (centres[labels] + 0.3 * r.standard_normal((16, 8, 8, 1))).astype(np.float32), labels

    enc = FaceEncoder(1, 4, 8, stem_stride=1, rng=5)
    head = CosineSoftmaxHead(8, 4, rng=6)
    history = train_encoder(enc, next_batch, 60, loss="softmax", head=head, lr=5e-3, progress=False)
    assert np.mean(history["loss"][-10:]) < 0.5 * np.mean(history["loss"][:10])


def test_errors():
    with pytest.raises(ValueError, match="scale"):
        CosineSoftmaxHead(4, 3, scale=0)
    head = CosineSoftmaxHead(4, 3)
    with pytest.raises(ValueError, match="e"):
        head.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        CosineSoftmaxHead(4, 3).backward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="CosineSoftmaxHead"):
        train_encoder(FaceEncoder(1, 4, 8), lambda s, r: None, 1, loss="softmax", progress=False)
