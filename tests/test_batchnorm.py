"""Batch normalization: statistics, running averages, both modes' gradients, PyTorch agreement."""

import numpy as np
import pytest

import npvision.functional as F
from npvision.gradcheck import check_functional


def _params(rng, c):
    return (rng.uniform(0.5, 2.0, c), rng.standard_normal(c),          # gamma, beta
            rng.standard_normal(c) * 0.1, rng.uniform(0.5, 2.0, c))   # running mean, var


@pytest.mark.parametrize("shape", [(6, 4), (3, 3, 2, 4)])
def test_gradcheck_training(shape):
    # Not seed 0: check_functional draws dout with seed 0, and a dout that is an affine
    # function of x per channel is exactly what batch norm's gradient projects away (dx = 0).
    rng = np.random.default_rng(10)
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta, rm, rv = _params(rng, shape[-1])
    report = check_functional(F.batchnorm_forward, F.batchnorm_backward, [x, gamma, beta, rm, rv, True],
                              wrt=[0, 1, 2])   # the running statistics are state, not inputs to differentiate
    assert set(report.errors) == {"arg0", "arg1", "arg2"}


@pytest.mark.parametrize("shape", [(6, 4), (3, 3, 2, 4)])
def test_gradcheck_inference(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    gamma, beta, rm, rv = _params(rng, shape[-1])
    check_functional(F.batchnorm_forward, F.batchnorm_backward, [x, gamma, beta, rm, rv, False], wrt=[0, 1, 2])


def test_training_output_has_beta_mean_and_gamma_std():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5, 5, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    out, _ = F.batchnorm_forward(x, gamma, beta, np.zeros(3), np.ones(3), True, eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), gamma, rtol=1e-9)


def test_running_statistics_update_in_place_with_biased_variance():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 2, 2, 3)) * 3 + 2
    rm, rv = np.full(3, 0.5), np.full(3, 2.0)
    rm_id, rv_id = id(rm), id(rv)
    F.batchnorm_forward(x, np.ones(3), np.zeros(3), rm, rv, True, momentum=0.8)
    batch_mean = x.reshape(-1, 3).mean(axis=0)
    batch_var = x.reshape(-1, 3).var(axis=0)            # ddof=0: the biased variance
    np.testing.assert_allclose(rm, 0.8 * 0.5 + 0.2 * batch_mean, rtol=1e-14)
    np.testing.assert_allclose(rv, 0.8 * 2.0 + 0.2 * batch_var, rtol=1e-14)
    assert id(rm) == rm_id and id(rv) == rv_id


def test_momentum_extremes_and_float32_running_stats():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    F.batchnorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32), rm, rv, True, momentum=0.0)
    np.testing.assert_allclose(rm, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(rv, x.var(axis=0), rtol=1e-5)
    assert rm.dtype == np.float32
    before = rm.copy()
    F.batchnorm_forward(x + 1, np.ones(4, np.float32), np.zeros(4, np.float32), rm, rv, True, momentum=1.0)
    np.testing.assert_array_equal(rm, before)


def test_inference_uses_running_statistics_and_leaves_them_alone():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    rm, rv = np.array([1.0, 2.0]), np.array([4.0, 16.0])
    gamma, beta = np.array([2.0, 1.0]), np.array([0.5, 0.0])
    out, _ = F.batchnorm_forward(x, gamma, beta, rm, rv, False, eps=1e-12)
    np.testing.assert_allclose(out, [[0.5, 0.0], [2.5, 1.0]])
    np.testing.assert_array_equal(rm, [1.0, 2.0])
    np.testing.assert_array_equal(rv, [4.0, 16.0])


def test_float32_is_kept():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 2, 2, 3)).astype(np.float32)
    p32 = [a.astype(np.float32) for a in _params(rng, 3)]
    for training in (True, False):
        out, cache = F.batchnorm_forward(x, *p32, training)
        assert out.dtype == np.float32
        assert all(g.dtype == np.float32 for g in F.batchnorm_backward(np.ones_like(out), cache))


def test_errors():
    x = np.zeros((4, 3))
    ok = [np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)]
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        F.batchnorm_forward(np.zeros((4, 3), dtype=np.int32), *ok, True)
    with pytest.raises(ValueError, match=r"gamma: expected shape \(3,\).*received \(4,\)"):
        F.batchnorm_forward(x, np.ones(4), *ok[1:], True)
    with pytest.raises(TypeError, match="running_mean: expected a NumPy float array"):
        F.batchnorm_forward(x, ok[0], ok[1], [0.0, 0.0, 0.0], ok[3], True)
    with pytest.raises(TypeError, match="training: expected True or False"):
        F.batchnorm_forward(x, *ok, "train")
    with pytest.raises(ValueError, match=r"momentum: expected a value in \[0.0, 1.0\], received 1.5"):
        F.batchnorm_forward(x, *ok, True, momentum=1.5)
    with pytest.raises(ValueError, match="eps: expected a positive real number"):
        F.batchnorm_forward(x, *ok, True, eps=0)
    with pytest.raises(ValueError, match="x: training-mode batch norm needs at least 2 values"):
        F.batchnorm_forward(np.zeros((1, 3)), *ok, True)
    with pytest.raises(ValueError, match="x: expected an array of at least 2 dimensions"):
        F.batchnorm_forward(np.zeros(3), *ok, True)
    _, cache = F.batchnorm_forward(x, *ok, False)
    with pytest.raises(ValueError, match=r"dout: .*\(4, 3\), received \(3, 4\)"):
        F.batchnorm_backward(np.zeros((3, 4)), cache)
