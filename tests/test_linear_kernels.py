"""npvision.kernels.linear: the small-batch products that stream the weight once equal BLAS's."""

import numpy as np
import pytest

import npvision.functional as F
from npvision import kernels, nn


@pytest.mark.parametrize("rows", [1, 4, 16, 17])                  # 17: BLAS again
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_numba_equals_naive(rows, dtype, tol):
    rng = np.random.default_rng(0)
    K, N = 301, 1003                                               # odd sizes: vector tails; K N > 2^18
    x, w = rng.standard_normal((rows, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    dout = rng.standard_normal((rows, N)).astype(dtype)
    for op, args in (("linear_matmul", (x, w)), ("linear_matmul_t", (dout, w))):
        got, want = kernels.get(op, "numba")(*args), kernels.get(op, "naive")(*args)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=op)
    g0 = rng.standard_normal((K, N)).astype(dtype)
    g1, g2 = g0.copy(), g0.copy()
    kernels.get("linear_outer_add_", "numba")(g1, x, dout)
    kernels.get("linear_outer_add_", "naive")(g2, x, dout)
    np.testing.assert_allclose(g1, g2, rtol=tol, atol=tol * np.abs(g2).max())
    g1[...] = np.nan                                               # overwrite: the old numbers never read
    kernels.get("linear_outer_add_", "numba")(g1, x, dout, overwrite=True)
    want = x.astype(np.float64).T @ dout
    np.testing.assert_allclose(g1, want, rtol=tol, atol=tol * np.abs(want).max())


def test_a_zeroed_gradient_is_written_not_added_to():
    """After zero_grad the layer writes dW over the gradient's array (its old numbers unread);
    a second backward adds."""
    rng = np.random.default_rng(2)
    layer = nn.Linear(512, 600)
    x = rng.standard_normal((4, 512)).astype(np.float32)
    dout = rng.standard_normal((4, 600)).astype(np.float32)
    layer.weight.grad[...] = 7.0
    layer.zero_grad()
    layer.forward(x)
    layer.backward(dout)
    want = x.astype(np.float64).T @ dout
    np.testing.assert_allclose(layer.weight.grad, want, rtol=1e-5, atol=1e-4)
    layer.backward(dout)
    np.testing.assert_allclose(layer.weight.grad, 2 * want, rtol=1e-5, atol=1e-4)


def test_dw_into_accumulates_and_the_layer_uses_it():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 512)).astype(np.float32), rng.standard_normal((512, 600)).astype(np.float32)
    out, cache = F.linear_forward(x, w)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    _, dw, _ = F.linear_backward(dout, cache)
    acc = np.ones_like(w)
    _, same, _ = F.linear_backward(dout, cache, dw_into=acc)
    assert same is acc
    np.testing.assert_allclose(acc, 1 + dw, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match=r"dw_into: expected a writeable C-contiguous float32 array of shape \(512, 600\)"):
        F.linear_backward(dout, cache, dw_into=np.zeros((600, 512), np.float32))
    layer = nn.Linear(512, 600)
    layer.forward(x)
    layer.backward(dout)
    layer.forward(x)
    layer.backward(dout)                                           # gradients accumulate
    np.testing.assert_allclose(layer.weight.grad, 2 * (x.T @ dout), rtol=1e-5, atol=1e-4)
