"""Inverted dropout: expectation, mask reuse, reproducibility, inference identity, errors."""

import numpy as np
import pytest

import npvision.functional as F
from npvision.gradcheck import check_functional


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_expectation_is_preserved(rate):
    # Each output entry is 0 or 1/keep (keep = 1 - rate) for an input of 1: mean 1 and
    # variance rate/keep. Five standard errors of the mean of n entries is the tolerance:
    # a missing 1/keep scale (mean keep) or a swapped keep/drop (mean rate/keep) fails by far.
    n = 200_000
    out, _ = F.dropout_forward(np.ones(n), rate, np.random.default_rng(123))
    tol = 5 * np.sqrt(rate / (1 - rate) / n)
    assert abs(out.mean() - 1.0) < tol
    assert abs(np.mean(out == 0) - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / (1 - rate)])


def test_backward_uses_the_forward_mask():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(4, 5, 5, 3))
    out, cache = F.dropout_forward(x, 0.4, rng)
    dout = rng.standard_normal(x.shape)
    dx = F.dropout_backward(dout, cache)
    dropped = out == 0
    assert 0 < dropped.mean() < 1
    np.testing.assert_array_equal(dx[dropped], 0)
    np.testing.assert_allclose(dx[~dropped], dout[~dropped] / 0.6)


def test_gradcheck_with_a_fixed_seed():
    # An int seed makes a fresh generator per call, so every call draws the same mask.
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    check_functional(F.dropout_forward, F.dropout_backward, [x], dict(rate=0.3, rng=7))


def test_seeds_and_generators():
    x = np.ones((50, 50))
    a, _ = F.dropout_forward(x, 0.5, 42)
    b, _ = F.dropout_forward(x, 0.5, 42)
    np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(42)
    c, _ = F.dropout_forward(x, 0.5, gen)
    d, _ = F.dropout_forward(x, 0.5, gen)                 # the generator has advanced
    np.testing.assert_array_equal(a, c)
    assert np.any(c != d)


def test_inference_and_rate_zero_are_the_identity():
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    out, cache = F.dropout_forward(x, 0.9, None, training=False)
    np.testing.assert_array_equal(out, x)
    assert out is not x and out.dtype == np.float32
    dout = np.ones_like(x)
    np.testing.assert_array_equal(F.dropout_backward(dout, cache), dout)
    out0, _ = F.dropout_forward(x, 0.0, 0)
    np.testing.assert_array_equal(out0, x)


def test_float32_is_kept():
    x = np.ones((10, 10), dtype=np.float32)
    out, cache = F.dropout_forward(x, 0.25, 0)
    assert out.dtype == np.float32 and cache.dtype == np.float32
    assert F.dropout_backward(np.ones_like(x), cache).dtype == np.float32


def test_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"rate: expected a drop probability in \[0, 1\), received 1"):
        F.dropout_forward(x, 1, 0)
    with pytest.raises(ValueError, match=r"rate: .*received -0.1"):
        F.dropout_forward(x, -0.1, 0)
    with pytest.raises(TypeError, match="rate: expected a real number"):
        F.dropout_forward(x, "0.5", 0)
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        F.dropout_forward(np.ones((2, 3), dtype=np.int64), 0.5, 0)
    with pytest.raises(TypeError, match="training: expected True or False"):
        F.dropout_forward(x, 0.5, 0, training="no")
    with pytest.raises(TypeError, match="rng: expected None, an int seed or a numpy.random.Generator"):
        F.dropout_forward(x, 0.5, np.random.RandomState(0))
    _, cache = F.dropout_forward(x, 0.5, 0)
    with pytest.raises(ValueError, match=r"dout: .*\(2, 3\), received \(3, 2\)"):
        F.dropout_backward(np.ones((3, 2)), cache)
