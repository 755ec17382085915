"""Losses: known values, stability at +-1000, gradients, errors, PyTorch agreement."""

import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
from npvision.gradcheck import check_loss


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@contextlib.contextmanager
def _no_float_errors():
    """Any overflow / invalid / divide-by-zero or RuntimeWarning inside raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


# ---------------------------------------------------------------- softmax cross-entropy: values

@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 3, 5)])
def test_uniform_logits_give_log_k(shape):
    labels = np.zeros(shape[:-1], dtype=np.int64)
    loss, dlogits = F.softmax_cross_entropy(np.zeros(shape), labels)
    assert loss == pytest.approx(np.log(5), rel=1e-14)
    m = int(np.prod(shape[:-1]))
    np.testing.assert_allclose(dlogits[..., 0], (0.2 - 1) / m)
    np.testing.assert_allclose(dlogits[..., 1:], 0.2 / m)


def test_known_value():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    loss, _ = F.softmax_cross_entropy(logits, np.array([2, 0]))
    expected = 0.5 * (-np.log(np.exp(3) / np.exp([1, 2, 3]).sum()) + np.log(3))
    assert loss == pytest.approx(expected, rel=1e-14)


def test_extreme_logits_are_stable():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])
    with _no_float_errors():
        loss_right, d_right = F.softmax_cross_entropy(logits, np.array([0, 1]))
        loss_wrong, d_wrong = F.softmax_cross_entropy(logits, np.array([1, 0]))
        loss_prob, _ = F.softmax_cross_entropy(logits, np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]))
        loss32, _ = F.softmax_cross_entropy(logits.astype(np.float32), np.array([0, 1]))
    assert loss_right == pytest.approx(0.5 * np.log(2), rel=1e-12)   # row 2 splits 50/50
    assert loss_wrong == pytest.approx(0.5 * (2000 + 2000 + np.log(2)), rel=1e-12)
    assert loss_prob == pytest.approx(0.5 * (0.5 * 2000 + np.log(2)), rel=1e-12)
    assert np.isfinite(loss32)
    assert np.all(np.isfinite(d_right)) and np.all(np.isfinite(d_wrong))


def test_channel_first_axis_matches_channels_last(rng):
    logits = rng.standard_normal((2, 3, 4, 5))          # (N, H, W, K)
    labels = rng.integers(0, 5, size=(2, 3, 4))
    loss, d = F.softmax_cross_entropy(logits, labels)
    loss1, d1 = F.softmax_cross_entropy(np.moveaxis(logits, -1, 1), labels, axis=1)   # (N, K, H, W)
    assert loss1 == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(np.moveaxis(d1, 1, -1), d, rtol=1e-14)


def test_one_hot_probabilities_equal_integer_labels(rng):
    logits = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, size=6)
    onehot = np.eye(4)[labels]
    loss_int, d_int = F.softmax_cross_entropy(logits, labels)
    loss_prob, d_prob = F.softmax_cross_entropy(logits, onehot)
    assert loss_int == pytest.approx(loss_prob, rel=1e-14)
    np.testing.assert_allclose(d_int, d_prob, atol=1e-15)
    # With class weights (as PyTorch) indices divide by sum_i w[y_i], probabilities by N.
    w = np.array([1.0, 2.0, 0.5, 3.0])
    loss_int, d_int = F.softmax_cross_entropy(logits, labels, class_weights=w)
    loss_prob, d_prob = F.softmax_cross_entropy(logits, onehot, class_weights=w)
    scale = w[labels].sum() / len(labels)
    assert loss_int * scale == pytest.approx(loss_prob, rel=1e-14)
    np.testing.assert_allclose(d_int * scale, d_prob, atol=1e-15)


def test_ignore_index_and_weights_by_hand():
    logits = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 5.0]])
    labels = np.array([0, 1, -100])
    loss, d = F.softmax_cross_entropy(logits, labels, class_weights=np.array([1.0, 3.0]), ignore_index=-100)
    nll = np.array([np.log(2), np.log(1 + np.exp(2))])
    assert loss == pytest.approx((1 * nll[0] + 3 * nll[1]) / 4, rel=1e-14)
    np.testing.assert_array_equal(d[2], 0)


def test_all_ignored_gives_zero():
    loss, d = F.softmax_cross_entropy(np.ones((3, 4)), np.full(3, 255), ignore_index=255)
    assert loss == 0.0
    np.testing.assert_array_equal(d, 0)


def test_float32_gradient():
    logits = np.zeros((2, 3), dtype=np.float32)
    _, d = F.softmax_cross_entropy(logits, np.array([0, 1]), class_weights=np.ones(3))
    assert d.dtype == np.float32


# ---------------------------------------------------------------- softmax cross-entropy: gradients

def test_gradcheck_integer_labels(rng):
    check_loss(F.softmax_cross_entropy, rng.standard_normal((5, 4)), rng.integers(0, 4, size=5))


def test_gradcheck_per_pixel_and_axis(rng):
    labels = rng.integers(0, 3, size=(2, 3, 2))
    check_loss(F.softmax_cross_entropy, rng.standard_normal((2, 3, 2, 3)), labels)
    check_loss(F.softmax_cross_entropy, rng.standard_normal((2, 3, 3, 2)), labels, axis=1)


def test_gradcheck_probability_targets(rng):
    t = rng.uniform(size=(4, 3))
    check_loss(F.softmax_cross_entropy, rng.standard_normal((4, 3)), t / t.sum(axis=1, keepdims=True))
    check_loss(F.softmax_cross_entropy, rng.standard_normal((4, 3)), t)          # unnormalized too
    check_loss(F.softmax_cross_entropy, rng.standard_normal((4, 3)), t, class_weights=np.array([0.5, 1, 2]))


def test_gradcheck_weights_and_ignore_index(rng):
    labels = np.array([0, 3, -1, 2, 3, -1])
    check_loss(F.softmax_cross_entropy, rng.standard_normal((6, 4)), labels,
               class_weights=np.array([0.2, 1.0, 3.0, 0.7]), ignore_index=-1)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 10_000))
def test_gradient_rows_sum_to_zero_and_loss_nonnegative(n, k, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)) * 10
    loss, d = F.softmax_cross_entropy(logits, rng.integers(0, k, size=n))
    assert loss >= 0
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-15)


# ---------------------------------------------------------------- softmax cross-entropy: errors

def test_cross_entropy_errors(rng):
    logits = rng.standard_normal((3, 5))
    with pytest.raises(ValueError, match=r"labels: expected class indices in \[0, K\) with K = 5 classes, "
                                         r"received 7 at index \(1,\)"):
        F.softmax_cross_entropy(logits, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match=r"labels: .*K = 5.*received -1"):
        F.softmax_cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"labels: expected integer labels of shape \(3,\).*received shape \(4,\)"):
        F.softmax_cross_entropy(logits, np.array([0, 1, 1, 2]))
    with pytest.raises(ValueError, match=r"labels: expected the shape of logits.*\(3, 5\), received \(3,\)"):
        F.softmax_cross_entropy(logits, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="labels: expected integer class indices or float probabilities"):
        F.softmax_cross_entropy(logits, np.array([True, False, True]))
    with pytest.raises(ValueError, match="labels: probabilities must be non-negative"):
        F.softmax_cross_entropy(logits, -np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"class_weights: expected shape \(5,\).*received \(4,\)"):
        F.softmax_cross_entropy(logits, np.array([0, 1, 2]), class_weights=np.ones(4))
    with pytest.raises(ValueError, match="ignore_index: only applies to integer class labels"):
        F.softmax_cross_entropy(logits, np.ones((3, 5)) / 5, ignore_index=0)
    with pytest.raises(TypeError, match="logits: expected a floating-point"):
        F.softmax_cross_entropy(np.ones((3, 5), dtype=np.int64), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"axis: expected an axis in \[-2, 2\)"):
        F.softmax_cross_entropy(logits, np.array([0, 1, 2]), axis=2)


# ---------------------------------------------------------------- binary cross-entropy

def test_bce_values_and_stability():
    loss, d = F.binary_cross_entropy_with_logits(np.zeros((2, 2)), np.array([[0.0, 1.0], [1.0, 0.5]]))
    assert loss == pytest.approx(np.log(2), rel=1e-14)
    np.testing.assert_allclose(d, [[0.125, -0.125], [-0.125, 0.0]])
    z = np.array([0.3, -1.7, 2.2])
    y = np.array([1.0, 0.0, 0.25])
    s = 1 / (1 + np.exp(-z))
    naive = np.mean(-y * np.log(s) - (1 - y) * np.log(1 - s))
    assert F.binary_cross_entropy_with_logits(z, y)[0] == pytest.approx(naive, rel=1e-13)
    with _no_float_errors():
        loss, d = F.binary_cross_entropy_with_logits(np.array([1000.0, -1000.0, 1000.0, -1000.0]),
                                                     np.array([1.0, 0.0, 0.0, 1.0]))
    assert loss == pytest.approx(500.0, rel=1e-14)
    np.testing.assert_allclose(d, [0, 0, 0.25, -0.25])


def test_bce_gradcheck_and_errors(rng):
    check_loss(F.binary_cross_entropy_with_logits, rng.standard_normal((3, 4)), rng.uniform(size=(3, 4)))
    with pytest.raises(ValueError, match=r"targets: expected the shape of logits \(3,\), received \(2,\)"):
        F.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"targets: expected values in \[0, 1\]"):
        F.binary_cross_entropy_with_logits(np.zeros(3), np.array([0.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="targets: expected a floating-point"):
        F.binary_cross_entropy_with_logits(np.zeros(3), np.array([0, 1, 1]))


# ---------------------------------------------------------------- regression losses

def test_mse_and_smooth_l1_values():
    p, t = np.array([1.0, 2.0, 5.0, -1.0]), np.array([1.5, 2.0, 2.0, 1.0])
    loss, d = F.mean_squared_error(p, t)
    assert loss == pytest.approx((0.25 + 0 + 9 + 4) / 4)
    np.testing.assert_allclose(d, 2 * (p - t) / 4)
    loss, d = F.smooth_l1_loss(p, t)                      # |d| = 0.5, 0, 3, 2
    assert loss == pytest.approx((0.125 + 0 + 2.5 + 1.5) / 4)
    np.testing.assert_allclose(d, np.array([-0.5, 0, 1, -1]) / 4)
    loss, d = F.smooth_l1_loss(p, t, beta=0)              # L1
    assert loss == pytest.approx(5.5 / 4)
    loss, _ = F.smooth_l1_loss(p, t, beta=4.0)            # all quadratic: 0.5 d^2 / 4
    assert loss == pytest.approx(0.5 * 13.25 / 4 / 4)


def test_regression_gradcheck(rng):
    p, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    check_loss(F.mean_squared_error, p, t)
    d = p - t
    p = p + 0.2 * np.sign(d) * (np.abs(np.abs(d) - 0.5) < 0.1)   # keep |d| away from the kink at beta
    check_loss(F.smooth_l1_loss, p, t, beta=0.5)
    check_loss(F.smooth_l1_loss, p, t)


def test_regression_dtype_and_errors():
    p32 = np.ones(3, dtype=np.float32)
    assert F.mean_squared_error(p32, np.zeros(3))[1].dtype == np.float32
    assert F.smooth_l1_loss(p32, np.zeros(3))[1].dtype == np.float32
    with pytest.raises(ValueError, match=r"target: expected the shape of pred \(3,\), received \(1, 3\)"):
        F.mean_squared_error(p32, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="beta: expected a real number >= 0, received -1"):
        F.smooth_l1_loss(p32, np.zeros(3), beta=-1)
    with pytest.raises(TypeError, match="pred: expected a floating-point"):
        F.smooth_l1_loss(np.arange(3), np.zeros(3))
