"""Activations and softmax: values, stability at +-1000, gradients, dtypes, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npvision.functional as F
from npvision.gradcheck import check_functional

ELEMENTWISE = {
    "relu": (F.relu_forward, F.relu_backward),
    "relu6": (F.relu6_forward, F.relu6_backward),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward),
    "tanh": (F.tanh_forward, F.tanh_backward),
    "silu": (F.silu_forward, F.silu_backward),
    "softmax": (F.softmax_forward, F.softmax_backward),
}


def _away_from_kinks(rng, shape):
    """Values in +-[0.1, 7.5], none within 0.1 of the kinks at 0 and 6."""
    x = rng.uniform(0.1, 7.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    x[np.abs(x - 6) < 0.1] += 0.3
    return x


KINKED = ("relu", "relu6", "leaky_relu")


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_gradcheck(name):
    # Piecewise-linear ones away from their kinks; smooth ones on N(0, 1) inputs, where
    # they are not saturated (a derivative of 1e-7 would drown in finite-difference noise).
    forward, backward = ELEMENTWISE[name]
    rng = np.random.default_rng(1)
    shape = (2, 3, 3, 4)
    x = _away_from_kinks(rng, shape) if name in KINKED else rng.standard_normal(shape)
    check_functional(forward, backward, [x])


def test_gradcheck_leaky_alpha_and_softmax_axis():
    rng = np.random.default_rng(2)
    check_functional(F.leaky_relu_forward, F.leaky_relu_backward, [_away_from_kinks(rng, (2, 3, 4))],
                     dict(alpha=0.2))
    check_functional(F.softmax_forward, F.softmax_backward, [rng.standard_normal((2, 3, 4))], dict(axis=1))


def test_known_values():
    x = np.array([-2.0, -0.5, 0.5, 3.0, 7.0])
    np.testing.assert_array_equal(F.relu_forward(x)[0], [0, 0, 0.5, 3, 7])
    np.testing.assert_array_equal(F.relu6_forward(x)[0], [0, 0, 0.5, 3, 6])
    np.testing.assert_allclose(F.leaky_relu_forward(x, alpha=0.1)[0], [-0.2, -0.05, 0.5, 3, 7])
    np.testing.assert_allclose(F.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(F.tanh_forward(x)[0], np.tanh(x))
    np.testing.assert_allclose(F.silu_forward(x)[0], x / (1 + np.exp(-x)), rtol=1e-14)
    assert F.sigmoid_forward(np.array([0.0]))[0][0] == 0.5
    p, _ = F.softmax_forward(np.array([[0.0, np.log(3.0)]]))
    np.testing.assert_allclose(p, [[0.25, 0.75]])


def test_relu_backward_masks_negative_inputs():
    x = np.array([-1.0, 2.0, 7.0])
    dout = np.array([5.0, 5.0, 5.0])
    np.testing.assert_array_equal(F.relu_backward(dout, F.relu_forward(x)[1]), [0, 5, 5])
    np.testing.assert_array_equal(F.relu6_backward(dout, F.relu6_forward(x)[1]), [0, 5, 0])
    np.testing.assert_allclose(F.leaky_relu_backward(dout, F.leaky_relu_forward(x)[1]), [0.05, 5, 5])


def test_sigmoid_and_tanh_cache_the_output():
    x = np.array([0.3, -1.2])
    s, cache = F.sigmoid_forward(x)
    assert cache is s
    t, cache = F.tanh_forward(x)
    assert cache is t


def test_extreme_inputs_raise_no_warnings():
    x = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # exp(-2000) underflowing to 0 is by design (and silent by default); overflow,
        # invalid operations and division by zero must not happen
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            results = {name: fwd(x)[0] for name, (fwd, _) in ELEMENTWISE.items()}
            results["softmax32"] = F.softmax_forward(x.astype(np.float32))[0]
            results["sigmoid32"] = F.sigmoid_forward(x.astype(np.float32))[0]
    for out in results.values():
        assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(results["sigmoid"][0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(results["sigmoid32"][0], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(results["silu"][0], [0.0, 0.0, 1000.0])
    np.testing.assert_allclose(results["softmax"], [[0, 0, 1], [0.5, 0.5, 0]])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_float32_is_kept(name):
    forward, backward = ELEMENTWISE[name]
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    out, cache = forward(x)
    assert out.dtype == np.float32
    assert backward(np.ones_like(out), cache).dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.floats(-1e3, 1e3)),
       st.integers(0, 2), st.floats(-50, 50))
def test_softmax_sums_to_one_and_ignores_shifts(x, axis_seed, shift):
    axis = axis_seed % x.ndim
    p, _ = F.softmax_forward(x, axis=axis)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.softmax_forward(x + shift, axis=axis)[0], p, atol=1e-9)


def test_errors():
    with pytest.raises(TypeError, match="x: expected a floating-point"):
        F.relu_forward(np.arange(4))
    with pytest.raises(TypeError, match="alpha: expected a finite real number"):
        F.leaky_relu_forward(np.zeros(3), alpha="0.1")
    with pytest.raises(ValueError, match=r"axis: expected an axis in \[-2, 2\).*received 2"):
        F.softmax_forward(np.zeros((2, 3)), axis=2)
    _, cache = F.sigmoid_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dout: sigmoid_backward expected .*\(2, 3\), received \(3, 2\)"):
        F.sigmoid_backward(np.zeros((3, 2)), cache)


@pytest.mark.parametrize("layer", ["ReLU", "ReLU6"])
def test_an_inplace_relu_overwrites_its_input_and_differentiates_the_same(layer):
    import npvision.nn as nn
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((2, 3, 4, 5)) * 5).astype(np.float32)
    x[0, 0, 0, :3] = [0.0, 6.0, -0.0]                              # the kinks
    plain, inplace = getattr(nn, layer)(), getattr(nn, layer)(inplace=True)
    x2 = x.copy()
    y = plain.forward(x)
    y2 = inplace.forward(x2)
    assert y2 is x2 and not np.shares_memory(y, x)
    np.testing.assert_array_equal(y2, y)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(inplace.backward(dy), plain.backward(dy))
    assert repr(inplace).endswith("(inplace=True)")
