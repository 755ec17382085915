"""npvision.kernels.elementwise: the one-pass activation gradients and SGD update equal their formulas."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from npvision import kernels


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-14)])
def test_numba_equals_naive(dtype, tol, split, monkeypatch):
    """1003 elements (vector body and tail), values at and around the kinks 0 and 6, inf and NaN."""
    if split:
        import npvision.kernels.elementwise as KE
        monkeypatch.setattr(KE, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(1003) * 5).astype(dtype)
    x[:6] = [0.0, 6.0, -0.0, np.inf, -np.inf, 5.999]
    dout = rng.standard_normal(1003).astype(dtype)
    dout[10] = np.nan                                    # where x > 0: passed on
    s = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(dtype)
    for op, args in [("relu_backward", (dout, x)), ("relu6_backward", (dout, x)),
                     ("silu_backward", (dout[6:], x[6:], s[6:]))]:
        got, want = kernels.get(op, "numba")(*args), kernels.get(op, "naive")(*args)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=op)
    w, v, g = [rng.standard_normal((7, 143)).astype(dtype) for _ in range(3)]
    w2, v2 = w.copy(), v.copy()
    kernels.get("sgd_momentum_", "numba")(w, v, g, 0.05, 0.9)
    kernels.get("sgd_momentum_", "naive")(w2, v2, g, 0.05, 0.9)
    np.testing.assert_array_equal(v, v2)                 # the same operations in the same order
    np.testing.assert_array_equal(w, w2)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_over_many_parameters_equals_one_by_one(dtype, split, monkeypatch):
    """Arrays of 1 to 3 pieces (PIECE made small), shapes with tails, both threads' shares."""
    import npvision.kernels.elementwise as KE
    monkeypatch.setattr(KE, "PIECE", 100)
    if split:
        monkeypatch.setattr(KE, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(3)
    shapes = [(3,), (7, 43), (100,), (1,), (5, 5, 9), (250,)]
    triples = [[rng.standard_normal(s).astype(dtype) for _ in range(3)] for s in shapes]
    one_by_one = [(w.copy(), v.copy(), g) for w, v, g in triples]
    kernels.get("sgd_momentum_many_", "numba")(triples, 0.05, 0.9)
    for w, v, g in one_by_one:
        kernels.get("sgd_momentum_", "naive")(w, v, g, 0.05, 0.9)
    for (w, v, _), (w2, v2, _) in zip(triples, one_by_one):
        assert w.dtype == dtype
        np.testing.assert_array_equal(v, v2)
        np.testing.assert_array_equal(w, w2)


def test_relu_gradient_at_the_kinks_is_zero():
    x = np.array([0.0, -0.0, 6.0, 1e-30, -1e-30, 7.0], np.float32)
    d = np.ones_like(x)
    np.testing.assert_array_equal(kernels.get("relu_backward", "numba")(d, x), [0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(kernels.get("relu6_backward", "numba")(d, x), [0, 0, 0, 1, 0, 0])


def test_kernels_run_without_jit():
    code = textwrap.dedent("""
        import numpy as np
        from npvision import kernels
        import npvision.kernels.elementwise as KE
        x = np.linspace(-8, 8, 50)
        d = np.cos(x)
        assert np.allclose(kernels.get("relu6_backward", "numba")(d, x), kernels.get("relu6_backward", "naive")(d, x))
        assert type(KE._relu6_band).__name__ == "function"
        w, v, g = np.ones(300), np.zeros(300), np.full(300, 2.0)
        kernels.get("sgd_momentum_many_", "numba")([(w, v, g)], 0.5, 0.9)
        assert np.all(v == 2) and np.all(w == 0)
        dy, xx, g = np.ones((2, 3, 3, 4)), np.full((2, 3, 3, 4), 2.0), np.full((2, 4), 3.0)
        dx, dg = kernels.get("channel_scale_backward", "numba")(dy, xx, g)
        assert np.all(dx == 3) and np.all(dg == 18)
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=root),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_channel_scale_backward_numba_equals_naive(dtype, tol, split, monkeypatch):
    """37 channels (vector body and tail), 23 x 25 pixels (several partial sums of 256), values
    far from zero (the sums must not lose them), images split between threads."""
    if split:
        from npvision.kernels import blas
        monkeypatch.setattr(blas, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(8)
    dy = rng.standard_normal((3, 23, 25, 37)).astype(dtype)
    x = (rng.standard_normal((3, 23, 25, 37)) + 20).astype(dtype)
    g = rng.standard_normal((3, 37)).astype(dtype)
    got = kernels.get("channel_scale_backward", "numba")(dy, x, g)
    want = kernels.get("channel_scale_backward", "naive")(dy, x, g)
    for a, b in zip(got, want):
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.max(np.abs(b)))))


def test_channel_scale_gradcheck():
    import npvision.functional as F
    from npvision.gradcheck import check_functional
    rng = np.random.default_rng(9)
    x, g = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 5))
    check_functional(F.channel_scale_forward, F.channel_scale_backward, [x, g], {})
    y, _ = F.channel_scale_forward(x, g)
    np.testing.assert_allclose(y[1, 2, 3], x[1, 2, 3] * g[1])
    with pytest.raises(ValueError, match=r"g: expected shape \(2, 5\)"):
        F.channel_scale_forward(x, g.T)
