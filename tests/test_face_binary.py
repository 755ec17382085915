"""Verification as binary classification: pair features, the logistic unit, end-to-end gradients."""

import numpy as np
import pytest

from npvision import nn
from npvision.face import FaceEncoder, PairClassifier, pair_features_backward, pair_features_forward
from npvision.face.training import loss_and_gradient
from npvision.gradcheck import check_functional, check_module


def _features_loops(f_i, f_j, kind, eps=1e-6):
    out = np.zeros_like(f_i)
    for n in range(len(f_i)):
        for k in range(f_i.shape[1]):
            a, b = f_i[n, k], f_j[n, k]
            out[n, k] = abs(a - b) if kind == "abs" else (a - b) ** 2 / (a + b + eps)
    return out


def _apart(rng, shape, low=0.05):
    """Two non-negative arrays whose entries differ by at least ``low`` (away from |.|'s kink)."""
    a = rng.uniform(0.0, 1.0, shape)
    b = a + rng.choice([-1, 1], shape) * rng.uniform(low, 0.5, shape)
    return a, np.abs(b)


@pytest.mark.parametrize("kind", ["abs", "chi2"])
def test_features_match_loops_and_gradcheck(kind):
    f_i, f_j = _apart(np.random.default_rng(0), (5, 6))
    phi, _ = pair_features_forward(f_i, f_j, kind)
    np.testing.assert_allclose(phi, _features_loops(f_i, f_j, kind), rtol=1e-13)
    check_functional(lambda a, b: pair_features_forward(a, b, kind), pair_features_backward, [f_i, f_j])


def test_features_are_symmetric():
    f_i, f_j = _apart(np.random.default_rng(1), (3, 4))
    for kind in ("abs", "chi2"):
        np.testing.assert_allclose(pair_features_forward(f_i, f_j, kind)[0],
                                   pair_features_forward(f_j, f_i, kind)[0])


def test_chi2_by_hand_and_refuses_negative_encodings():
    phi, _ = pair_features_forward(np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]]), "chi2", eps=0.0 + 1e-300)
    assert phi[0, 0] == pytest.approx(4.0 / 4.0) and phi[0, 1] == 0.0
    with pytest.raises(ValueError, match="nonnegative=True"):
        pair_features_forward(np.array([[-0.1, 0.2]]), np.array([[0.3, 0.2]]), "chi2")
    with pytest.raises(ValueError, match="kind"):
        pair_features_forward(np.ones((1, 2)), np.ones((1, 2)), "cosine")
    with pytest.raises(ValueError, match="f_j"):
        pair_features_forward(np.ones((2, 2)), np.ones((1, 2)))


@pytest.mark.parametrize("kind", ["abs", "chi2"])
def test_pair_classifier_gradcheck(kind):
    f_i, f_j = _apart(np.random.default_rng(2), (4, 5))
    head = PairClassifier(5, kind, rng=0)
    check_module(head, np.concatenate([f_i, f_j]))
    assert head.forward(np.concatenate([f_i, f_j])).shape == (4, 1)
    p = head.probability(np.concatenate([f_i, f_j]))
    assert p.shape == (4,) and np.all((p > 0) & (p < 1))


@pytest.mark.parametrize("kind", ["abs", "chi2"])
def test_end_to_end_through_the_shared_encoder_gradcheck(kind):
    # images (2N, H, W, 1): the first N paired with the last N, through ONE encoder, into the head
    enc = FaceEncoder(1, width=2, embedding_dim=4, stem_stride=1, nonnegative=kind == "chi2", rng=3)
    model = nn.Sequential(enc, PairClassifier(4, kind, rng=4))
    x = np.random.default_rng(5).standard_normal((4, 6, 6, 1))
    check_module(model, x)


def test_binary_loss_trains_the_head_and_the_encoder_together():
    rng = np.random.default_rng(6)
    enc = FaceEncoder(1, width=2, embedding_dim=4, stem_stride=1, rng=7).astype(np.float64)
    head = PairClassifier(4, "abs", rng=8).astype(np.float64)
    labels = np.repeat(np.arange(3), 2)
    e = enc.forward(rng.standard_normal((6, 6, 6, 1)))
    enc.zero_grad()
    head.zero_grad()
    loss, d_e = loss_and_gradient("binary", e, labels, 0.0, np.random.default_rng(9), head)
    assert loss > 0 and d_e.shape == e.shape and np.any(d_e != 0)
    assert np.any(head.linear.weight.grad != 0)

    # the gradient w.r.t. the embeddings agrees with finite differences of the same pairs
    def f(e_):
        return loss_and_gradient("binary", e_, labels, 0.0, np.random.default_rng(9), head)[0]

    num = np.zeros_like(e)
    for idx in np.ndindex(e.shape):
        old = e[idx]
        e[idx] = old + 1e-6
        up = f(e)
        e[idx] = old - 1e-6
        down = f(e)
        e[idx] = old
        num[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(d_e, num, rtol=1e-5, atol=1e-9)


def test_head_errors():
    head = PairClassifier(4)
    with pytest.raises(ValueError, match="2N"):
        head.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2N"):
        head.forward(np.zeros((2, 5)))
    with pytest.raises(RuntimeError, match="before forward"):
        PairClassifier(4).backward(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="kind"):
        PairClassifier(4, "l1")
