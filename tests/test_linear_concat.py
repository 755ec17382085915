"""Linear, flatten, concat and split: values, gradients, errors, round trips."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
from npvision.gradcheck import check_functional, numerical_gradient, relative_error


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- linear

def test_linear_known_values():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    w = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]])
    b = np.array([0.1, 0.2, 0.3])
    out, _ = F.linear_forward(x, w, b)
    np.testing.assert_allclose(out, [[2.1, -1.8, 4.3], [2.6, 1.2, 5.3]])


def test_linear_gradcheck_with_bias(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    check_functional(F.linear_forward, F.linear_backward, [x, w, b])


def test_linear_without_bias_returns_db_none(rng):
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    out, cache = F.linear_forward(x, w)
    np.testing.assert_allclose(out, x @ w)
    dx, dw, db = F.linear_backward(np.ones((4, 3)), cache)
    assert db is None and dx.shape == x.shape and dw.shape == w.shape
    check_functional(F.linear_forward, F.linear_backward, [x, w], wrt=[0, 1, 2])


def test_linear_keeps_float32(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = np.zeros(4, np.float32)
    out, cache = F.linear_forward(x, w, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.linear_backward(np.ones((2, 4), np.float32), cache))


def test_linear_errors(rng):
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        F.linear_forward(np.ones((4, 5), dtype=np.int64), w)
    with pytest.raises(ValueError, match=r"w: expected shape \(5, D_out\).*received \(4, 3\)"):
        F.linear_forward(x, rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match=r"b: expected shape \(3,\).*received \(4,\)"):
        F.linear_forward(x, w, np.zeros(4))
    with pytest.raises(ValueError, match=r"x: expected a 2-D .*received shape \(2, 2, 5\)"):
        F.linear_forward(rng.standard_normal((2, 2, 5)), w)
    _, cache = F.linear_forward(x, w)
    with pytest.raises(ValueError, match=r"dout: .*\(4, 3\).*received \(4, 2\)"):
        F.linear_backward(np.ones((4, 2)), cache)


# ---------------------------------------------------------------- flatten

def test_flatten_order_is_channels_fastest(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = F.flatten_forward(x)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out[1, :5], x[1, 0, 0, :])
    np.testing.assert_array_equal(out[1, 5:10], x[1, 0, 1, :])
    dx = F.flatten_backward(out * 2, cache)
    np.testing.assert_array_equal(dx, 2 * x)


def test_flatten_gradcheck_and_errors(rng):
    check_functional(F.flatten_forward, F.flatten_backward, [rng.standard_normal((2, 3, 2, 2))])
    with pytest.raises(ValueError, match="x: expected an array of at least 2"):
        F.flatten_forward(np.zeros(3))
    _, cache = F.flatten_forward(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"dout: .*\(2, 6\).*received \(2, 5\)"):
        F.flatten_backward(np.zeros((2, 5)), cache)


# ---------------------------------------------------------------- concat / split

def _concat3(a, b, c, axis=-1):
    return F.concat_forward([a, b, c], axis=axis)


@pytest.mark.parametrize("axis", [-1, 0, 2])
def test_concat_gradcheck(rng, axis):
    shape = [2, 3, 2, 2]
    pieces = []
    for size in (1, 3, 2):
        s = list(shape)
        s[axis] = size
        pieces.append(rng.standard_normal(s))
    report = check_functional(_concat3, F.concat_backward, pieces, dict(axis=axis))
    assert len(report.errors) == 3


def test_concat_backward_is_the_split(rng):
    a, b = rng.standard_normal((2, 3, 3, 4)), rng.standard_normal((2, 3, 3, 2))
    out, cache = F.concat_forward([a, b])
    assert out.shape == (2, 3, 3, 6)
    np.testing.assert_array_equal(out[..., :4], a)
    dout = rng.standard_normal(out.shape)
    da, db = F.concat_backward(dout, cache)
    np.testing.assert_array_equal(da, dout[..., :4])
    np.testing.assert_array_equal(db, dout[..., 4:])
    da[...] = 0                                       # fresh arrays: dout is untouched
    assert np.all(dout[..., :4] != 0)


def test_concat_errors(rng):
    a = rng.standard_normal((2, 3, 3, 4))
    with pytest.raises(ValueError, match=r"xs\[1\]: expected shape \(2, 3, 3, \*\).*received \(2, 3, 2, 4\)"):
        F.concat_forward([a, rng.standard_normal((2, 3, 2, 4))])
    with pytest.raises(TypeError, match=r"xs\[1\]: has dtype float32"):
        F.concat_forward([a, a.astype(np.float32)])
    with pytest.raises(TypeError, match=r"xs\[0\]: expected a floating-point"):
        F.concat_forward([np.ones((2, 2), dtype=np.int32)])
    with pytest.raises(TypeError, match="xs: expected a non-empty list"):
        F.concat_forward([])
    with pytest.raises(ValueError, match=r"axis: expected an axis in \[-4, 4\).*received 4"):
        F.concat_forward([a, a], axis=4)
    _, cache = F.concat_forward([a, a])
    with pytest.raises(ValueError, match=r"dout: expected 8 = 4 \+ 4"):
        F.concat_backward(np.zeros((2, 3, 3, 7)), cache)


def test_split_values_and_gradient(rng):
    x = rng.standard_normal((2, 2, 2, 6))
    pieces, cache = F.split_forward(x, [1, 2, 3])
    assert [p.shape[-1] for p in pieces] == [1, 2, 3]
    np.testing.assert_array_equal(pieces[2], x[..., 3:])
    douts = [rng.standard_normal(p.shape) for p in pieces]
    dx = F.split_backward(douts, cache)

    def loss(_x):
        return sum(np.sum(p * d) for p, d in zip(F.split_forward(_x, [1, 2, 3])[0], douts))

    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7


def test_split_errors(rng):
    x = rng.standard_normal((2, 6))
    with pytest.raises(ValueError, match=r"sizes: expected sizes summing to x.shape\[1\] = 6, received \[2, 3\]"):
        F.split_forward(x, [2, 3])
    with pytest.raises(ValueError, match="sizes: expected an integer >= 1, received 0"):
        F.split_forward(x, [0, 6])
    _, cache = F.split_forward(x, [2, 4])
    with pytest.raises(ValueError, match="douts: expected a list of 2 gradients"):
        F.split_backward([np.zeros((2, 6))], cache)
    with pytest.raises(ValueError, match=r"douts\[1\]: expected shape \(2, 4\).*received \(2, 3\)"):
        F.split_backward([np.zeros((2, 2)), np.zeros((2, 3))], cache)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.integers(0, 2), st.integers(0, 10_000))
def test_concat_then_split_round_trips(sizes, axis, seed):
    rng = np.random.default_rng(seed)
    base = [2, 3, 2]
    xs = []
    for s in sizes:
        shape = list(base)
        shape[axis] = s
        xs.append(rng.standard_normal(shape))
    out, cache = F.concat_forward(xs, axis=axis)
    pieces, split_cache = F.split_forward(out, sizes, axis=axis)
    for a, b in zip(xs, pieces):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(xs, F.concat_backward(out, cache)):   # split of the concatenation
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(F.split_backward(pieces, split_cache), out)
