"""L2 normalization: the functional pair against loops and PyTorch, gradient checks, the layer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
from npvision import nn
from npvision.gradcheck import check_functional, check_module


def _l2_normalize_loops(x, eps=1e-12):
    """The naive reference: one vector at a time, the norm summed element by element."""
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty_like(flat)
    for i, v in enumerate(flat):
        s = 0.0
        for value in v:
            s += value * value
        out[i] = v / max(np.sqrt(s), eps)
    return out.reshape(x.shape)


def test_values_match_loops_and_have_unit_norm():
    x = np.random.default_rng(0).standard_normal((5, 7))
    y, _ = F.l2_normalize_forward(x)
    np.testing.assert_allclose(y, _l2_normalize_loops(x), rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(F.l2_normalize_forward([[3.0, 4.0]])[0], [[0.6, 0.8]])


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2), (9,)])
def test_gradcheck(shape):
    x = np.random.default_rng(1).standard_normal(shape)
    check_functional(F.l2_normalize_forward, F.l2_normalize_backward, [x])


def test_gradient_is_orthogonal_to_the_output():
    # moving x along itself does not move y: the component of dout along y is removed
    x = np.random.default_rng(2).standard_normal((4, 6))
    y, cache = F.l2_normalize_forward(x)
    dx = F.l2_normalize_backward(y, cache)              # dout = y: purely radial
    np.testing.assert_allclose(dx, 0.0, atol=1e-15)


def test_zero_vector_is_clamped_not_nan():
    x = np.zeros((2, 3))
    x[1] = [1e-14, 0.0, 0.0]
    y, cache = F.l2_normalize_forward(x, eps=1e-12)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y[1], [1e-2, 0, 0])          # x / eps
    check_functional(lambda v: F.l2_normalize_forward(v, eps=1e-12), F.l2_normalize_backward,
                     [np.array([[3e-13, -2e-13, 1e-13]])], eps=1e-15)
    dx = F.l2_normalize_backward(np.ones((2, 3)), cache)
    np.testing.assert_allclose(dx, 1e12)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 9), st.sampled_from([np.float32, np.float64]))
def test_shape_and_dtype_kept(n, d, dtype):
    x = np.random.default_rng(n * 10 + d).standard_normal((n, d)).astype(dtype)
    y, cache = F.l2_normalize_forward(x)
    assert y.shape == (n, d) and y.dtype == dtype
    assert F.l2_normalize_backward(np.ones_like(y), cache).dtype == dtype


def test_matches_torch_normalize():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((4, 8))
    dout = np.random.default_rng(4).standard_normal((4, 8))
    t = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.normalize(t, dim=-1)
    out.backward(torch.tensor(dout))
    y, cache = F.l2_normalize_forward(x)
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.l2_normalize_backward(dout, cache), t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_layer():
    layer = nn.L2Normalize()
    x = np.random.default_rng(5).standard_normal((3, 4))
    check_module(layer, x)
    with pytest.raises(RuntimeError, match="before forward"):
        nn.L2Normalize().backward(np.ones((3, 4)))
    with pytest.raises(ValueError, match="eps"):
        nn.L2Normalize(eps=0)
    with pytest.raises(ValueError, match="D >= 1"):
        F.l2_normalize_forward(np.zeros((3, 0)))
    with pytest.raises(TypeError, match="floating-point"):
        F.l2_normalize_forward(np.zeros((3, 2), np.uint8))
