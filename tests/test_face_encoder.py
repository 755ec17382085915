"""The face encoder, the Siamese branches as one batch (shared-weight gradients add), embed."""

import numpy as np
import pytest

from npvision import nn
from npvision.face import FaceEncoder, Siamese, embed, triplet_loss
from npvision.gradcheck import check_module


def _tiny(nonnegative=False, seed=0):
    enc = FaceEncoder(in_channels=1, width=2, embedding_dim=4, stem_stride=1, nonnegative=nonnegative,
                      rng=seed)
    return enc.astype(np.float64)


def _eval_mode_with_statistics(enc, seed=1):
    """Eval mode, with running statistics that are not the identity (so BatchNorm matters)."""
    rng = np.random.default_rng(seed)
    for _, m in enc.named_modules():
        if isinstance(m, nn.BatchNorm2D):
            m.running_mean[...] = rng.normal(0, 0.1, m.running_mean.shape)
            m.running_var[...] = rng.uniform(0.5, 1.5, m.running_var.shape)
            m.gamma.data[...] = rng.uniform(0.5, 1.5, m.gamma.shape)
            m.beta.data[...] = rng.normal(0, 0.1, m.beta.shape)
    return enc.eval()


def test_shapes_unit_norm_and_nonnegative():
    enc = FaceEncoder(3, width=8, embedding_dim=128, rng=0)
    x = np.random.default_rng(0).random((5, 32, 32, 3)).astype(np.float32)
    e = enc.forward(x)
    assert e.shape == (5, 128) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    assert enc.backward(np.ones_like(e)).shape == x.shape
    e2 = FaceEncoder(3, width=8, nonnegative=True, rng=0).forward(x)
    assert e2.min() >= 0.0
    assert FaceEncoder(1, width=4, stem_stride=1, rng=0).forward(np.zeros((2, 16, 16, 1), np.float32)).shape == (2, 128)


@pytest.mark.parametrize("nonnegative", [False, True])
def test_encoder_gradcheck(nonnegative):
    enc = _tiny(nonnegative)
    x = np.random.default_rng(2).standard_normal((3, 6, 6, 1))
    check_module(enc, x)                           # BatchNorm in training mode: deterministic


def test_siamese_gradients_are_the_sum_over_branches():
    enc = _eval_mode_with_statistics(_tiny())
    rng = np.random.default_rng(3)
    a, p, n = (rng.standard_normal((2, 6, 6, 1)) for _ in range(3))

    # one batch through the shared encoder
    siamese = Siamese(enc)
    enc.zero_grad()
    e_a, e_p, e_n = siamese.forward([a, p, n])
    loss, grads = triplet_loss(e_a, e_p, e_n, margin=2.0)
    assert loss > 0
    dx_a, dx_p, dx_n = siamese.backward(list(grads))
    together = {name: prm.grad.copy() for name, prm in enc.named_parameters()}

    # each branch alone, one forward and one backward at a time
    enc.zero_grad()
    alone_dx = []
    for x, g in zip((a, p, n), grads):
        enc.forward(x)
        alone_dx.append(enc.backward(g))
    for name, prm in enc.named_parameters():
        np.testing.assert_allclose(together[name], prm.grad, rtol=1e-12, atol=1e-14, err_msg=name)
        assert np.any(prm.grad != 0), name
    for d1, d2 in zip((dx_a, dx_p, dx_n), alone_dx):
        np.testing.assert_allclose(d1, d2, rtol=1e-12, atol=1e-14)

    # and the sum is not any single branch's: every branch contributes
    enc.zero_grad()
    enc.forward(a)
    enc.backward(grads[0])
    assert not np.allclose(enc.fc.weight.grad, together["fc.weight"])


def test_running_branches_one_after_another_would_be_wrong():
    # the reason for one batch: backward differentiates the LAST forward only
    enc = _eval_mode_with_statistics(_tiny())
    rng = np.random.default_rng(4)
    a, p = rng.standard_normal((2, 6, 6, 1)), rng.standard_normal((2, 6, 6, 1))
    g = rng.standard_normal((2, 4))
    enc.zero_grad()
    enc.forward(a)
    enc.forward(p)                         # overwrites the caches of a
    enc.backward(g)                        # meant for a, computed at p
    wrong = enc.fc.weight.grad.copy()
    enc.zero_grad()
    enc.forward(a)
    enc.backward(g)
    assert not np.allclose(wrong, enc.fc.weight.grad)


def test_siamese_errors():
    s = Siamese(_tiny())
    with pytest.raises(TypeError, match="branches"):
        s.forward(np.zeros((2, 6, 6, 1)))
    with pytest.raises(ValueError, match="branches\\[1\\]"):
        s.forward([np.zeros((2, 6, 6, 1)), np.zeros((2, 5, 6, 1))])
    with pytest.raises(RuntimeError, match="before forward"):
        Siamese(_tiny()).backward([np.zeros((2, 4))])
    s.forward([np.zeros((2, 6, 6, 1)), np.zeros((1, 6, 6, 1))])
    with pytest.raises(ValueError, match="one per branch"):
        s.backward([np.zeros((3, 4))])
    with pytest.raises(TypeError, match="Module"):
        Siamese(lambda x: x)


def test_embed_is_batch_independent_and_restores_the_mode():
    enc = FaceEncoder(3, width=4, rng=0)
    x = np.random.default_rng(5).random((7, 16, 16, 3)).astype(np.float32)
    enc.train()
    e_all = embed(enc, x, batch_size=256)
    e_small = embed(enc, x, batch_size=2)
    np.testing.assert_allclose(e_all, e_small, rtol=1e-5, atol=1e-6)
    assert enc.training
    assert embed(enc, x[0]).shape == (1, 128)
