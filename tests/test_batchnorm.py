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


# ---------------------------------------------------------------------------
# the fused activation, and the kernels against their naive formulas
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("activation", ["relu", "relu6", "silu"])
def test_gradcheck_with_a_fused_activation(activation, training):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 3, 2, 4)) * 2 + 1
    gamma, beta, rm, rv = _params(rng, 4)
    gamma = gamma * 3                                  # outputs beyond 6 too: ReLU6's upper kink
    report = check_functional(F.batchnorm_forward, F.batchnorm_backward, [x, gamma, beta, rm, rv, training],
                              dict(activation=activation), wrt=[0, 1, 2])
    assert set(report.errors) == {"arg0", "arg1", "arg2"}


@pytest.mark.parametrize("activation", [None, "relu", "relu6", "silu"])
def test_a_fused_activation_equals_the_activation_after(activation):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((4, 5, 5, 6)) * 3).astype(np.float32)
    gamma, beta, rm, rv = [a.astype(np.float32) for a in _params(rng, 6)]
    gamma *= 4
    plain, c1 = F.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), True)
    fused, c2 = F.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), True, activation=activation)
    act = {None: (lambda v: v), "relu": F.relu_forward, "relu6": F.relu6_forward,
           "silu": F.silu_forward}[activation]
    after, ac = (plain, None) if activation is None else act(plain)
    np.testing.assert_allclose(fused, after, rtol=1e-6, atol=1e-6)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    d_after = dout if activation is None else getattr(F, f"{activation}_backward")(dout, ac)
    for got, want in zip(F.batchnorm_backward(dout, c2), F.batchnorm_backward(d_after, c1)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_an_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation: expected None, 'relu', 'relu6' or 'silu', received 'gelu'"):
        F.batchnorm_forward(np.ones((4, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True,
                            activation="gelu")


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("activation", [None, "relu", "relu6", "silu"])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_numba_kernels_equal_the_naive_formulas(dtype, tol, activation, split, monkeypatch):
    """67 channels (the loops' vector body and tail), 600 rows (several partial sums), channel means
    far from zero (the shifted sums must not cancel), and rows split between threads."""
    if split:
        from npvision.kernels import blas
        monkeypatch.setattr(blas, "PARALLEL_SIZE", 1)
        import npvision.kernels.batchnorm as KB
        monkeypatch.setattr(KB, "PARALLEL_SIZE", 1)
    from npvision import kernels
    rng = np.random.default_rng(13)
    C = 67
    x2 = (rng.standard_normal((600, C)) * rng.uniform(0.1, 3, C) + rng.uniform(-50, 50, C)).astype(dtype)
    dy2 = rng.standard_normal((600, C)).astype(dtype)
    mu, scale, beta, a, b, c = [rng.standard_normal(C).astype(dtype) for _ in range(6)]
    mu = x2.mean(axis=0).astype(dtype)
    scale *= 4
    naive, fast = {}, {}
    s2 = None
    if activation == "silu":                           # SiLU's sigmoid, as its forward pass saves it
        s2 = kernels.get("batchnorm_apply_silu", "naive")(x2, mu, scale, beta)[1]
    for be, out in (("naive", naive), ("numba", fast)):
        out["stats"] = kernels.get("batchnorm_stats", be)(x2)
        if activation == "silu":
            out["apply"] = kernels.get("batchnorm_apply_silu", be)(x2, mu, scale, beta)
        else:
            out["apply"] = (kernels.get("batchnorm_apply", be)(x2, mu, scale, beta, activation),)
        out["sums"] = kernels.get("batchnorm_grad_sums", be)(dy2, x2, mu, scale, beta, activation, s2)
        out["dx"] = (kernels.get("batchnorm_grad_apply", be)(dy2, x2, mu, scale, beta, a, b, c, activation,
                                                              s2),)
    for key in naive:
        for got, want in zip(fast[key], naive[key]):
            assert got.shape == want.shape, key
            if key in ("apply", "dx"):
                assert got.dtype == dtype, key
            scale_ = max(1.0, float(np.max(np.abs(want))))
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale_, err_msg=key)


def test_numba_kernels_run_without_jit():
    import os
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent("""
        import numpy as np
        import npvision.functional as F
        import npvision.kernels.batchnorm as KB
        x = np.random.default_rng(0).standard_normal((2, 3, 3, 5))
        out, cache = F.batchnorm_forward(x, np.ones(5), np.zeros(5), np.zeros(5), np.ones(5), True, activation="relu")
        dx, dg, db = F.batchnorm_backward(np.ones_like(out), cache)
        assert type(KB._apply_rows).__name__ == "function" and np.all(out >= 0)
        out, cache = F.batchnorm_forward(x, np.ones(5), np.zeros(5), np.zeros(5), np.ones(5), True, activation="silu")
        dx, dg, db = F.batchnorm_backward(np.ones_like(out), cache)
        assert np.all(np.isfinite(dx)) and np.all(out > -0.3)
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=root)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


def test_the_layer_checks_what_it_passes_on_unchecked():
    """nn.BatchNorm2D calls the functional op's math without its argument checks (its own
    parameters were checked when it was made): bad input still gets the functional op's errors."""
    from npvision import nn

    bn = nn.BatchNorm2D(3)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="activation"):
        bn.forward(x, activation="tanh")
    with pytest.raises(ValueError, match="channels"):
        bn.forward(x[..., :2])
    y, _ = F.batchnorm_forward(x, bn.gamma.data, bn.beta.data, bn.running_mean.copy(), bn.running_var.copy(),
                               True, momentum=bn.momentum, eps=bn.eps, activation="relu6")
    np.testing.assert_array_equal(bn.forward(x, activation="relu6"), y)
