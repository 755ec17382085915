"""Max, average and global average pooling: gradients, backends, tie rule, shapes, errors."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
from npvision import kernels
from npvision.gradcheck import check_functional

FAST_BACKENDS = ("numpy", "numba")


def distinct(shape, seed=0, scale=0.1):
    """float64 values 0, 0.1, 0.2, ... in random order: no ties in any window."""
    rng = np.random.default_rng(seed)
    return scale * rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) - 1.0


def close(a, b, dtype):
    """Backend agreement: 1e-5 relative in float32, 1e-10 in float64 (atol for cancellations)."""
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------------------
# gradient checks (float64, no ties)
# ---------------------------------------------------------------------------

POOL_CASES = [
    dict(pool_size=3, stride=1),                        # overlapping windows
    dict(pool_size=3, stride=2, padding=1),             # stride 2 with padding
    dict(pool_size=2),                                  # stride None = pool, odd sizes crop
    dict(pool_size=(2, 3), stride=(1, 2), padding=(1, 1)),  # non-square, mixed stride
    dict(pool_size=(3, 2), stride=(2, 1), padding=((1, 0), (0, 1))),
    dict(pool_size=3, stride=2, padding="same"),
]


@pytest.mark.parametrize("kw", POOL_CASES)
def test_max_pool_gradcheck(kw):
    x = distinct((2, 5, 7, 3))
    report = check_functional(F.max_pool2d_forward, F.max_pool2d_backward, [x], kw)
    assert report.max_error < 1e-7


@pytest.mark.parametrize("kw", POOL_CASES)
def test_avg_pool_gradcheck(kw):
    x = np.random.default_rng(1).standard_normal((2, 5, 7, 3))
    report = check_functional(F.avg_pool2d_forward, F.avg_pool2d_backward, [x], kw)
    assert report.max_error < 1e-7


def test_global_avg_pool_gradcheck_and_values():
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 4))
    out, _ = F.global_avg_pool2d_forward(x)
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out, x.mean(axis=(1, 2)))
    check_functional(F.global_avg_pool2d_forward, F.global_avg_pool2d_backward, [x])


def test_max_pool_overlapping_windows_accumulate():
    # 1-D story along the width: [0, 3, 1, 2] pooled by 2 with stride 1 -> maxima 3, 3, 2;
    # the 3 is the maximum of two windows, so it receives both gradients.
    x = np.array([0.0, 3.0, 1.0, 2.0]).reshape(1, 1, 4, 1)
    out, cache = F.max_pool2d_forward(x, (1, 2), stride=1)
    np.testing.assert_array_equal(out.ravel(), [3.0, 3.0, 2.0])
    dx = F.max_pool2d_backward(np.array([1.0, 10.0, 100.0]).reshape(1, 1, 3, 1), cache)
    np.testing.assert_array_equal(dx.ravel(), [0.0, 11.0, 0.0, 100.0])


def test_max_pool_padding_never_wins():
    x = -distinct((1, 4, 4, 2)) - 100.0          # all very negative: a zero pad would win
    out, _ = F.max_pool2d_forward(x, 3, stride=2, padding=1)
    assert out.max() < -90.0


def test_avg_pool_counts_padded_zeros():
    x = np.ones((1, 2, 2, 1))
    out, _ = F.avg_pool2d_forward(x, 2, stride=2, padding=1)
    # each corner window holds one real 1 and three padded zeros
    np.testing.assert_allclose(out.ravel(), [0.25, 0.25, 0.25, 0.25])


# ---------------------------------------------------------------------------
# tie rule and NaN
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ("naive",) + FAST_BACKENDS)
def test_tie_sends_gradient_to_first_element_only(backend):
    x = np.array([[5.0, 5.0, 1.0, 7.0],
                  [5.0, 5.0, 7.0, 7.0]]).reshape(1, 2, 4, 1)
    with kernels.use_backend(backend):
        out, cache = F.max_pool2d_forward(x, 2)
        dx = F.max_pool2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(out.ravel(), [5.0, 7.0])
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 0, 1],
                                                   [0, 0, 0, 0]])


@pytest.mark.parametrize("backend", ("naive",) + FAST_BACKENDS)
def test_nan_propagates(backend):
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    x[0, 1, 0, 0] = np.nan
    with kernels.use_backend(backend):
        out, cache = F.max_pool2d_forward(x, 2)
    assert np.isnan(out[0, 0, 0, 0]) and np.isnan(out).sum() == 1
    assert cache.argmax[0, 0, 0, 0] == 2            # the NaN's offset kh*PW + kw = 1*2 + 0


# ---------------------------------------------------------------------------
# every backend equals naive (kernels, forward and backward)
# ---------------------------------------------------------------------------

KERNEL_CASES = [  # (xp shape, pool, stride)
    ((2, 7, 9, 3), (3, 3), (1, 1)),
    ((2, 7, 9, 3), (3, 2), (2, 1)),
    ((1, 6, 5, 5), (2, 3), (3, 2)),
    ((3, 4, 4, 1), (2, 2), (2, 2)),
    ((2, 7, 9, 3), (2, 2), (2, 2)),     # disjoint windows, last row and columns uncovered
    ((2, 8, 9, 3), (2, 3), (3, 4)),     # disjoint windows with gaps between them
    ((1, 5, 3, 2), (5, 1), (1, 1)),
    ((2, 9, 8, 3), (3, 3), (2, 2)),     # ResNet's stem pool (its own kernel); last column uncovered
]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("shape,pool,stride", KERNEL_CASES)
def test_kernels_agree_with_naive(backend, dtype, shape, pool, stride, split, monkeypatch):
    if split:                       # the numba kernels run on shares of the batch even for these sizes
        from npvision.kernels import blas
        monkeypatch.setattr(blas, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(3)
    xp = rng.standard_normal(shape).astype(dtype)
    xp[0, 0, :2, 0] = 4.0                                           # a tie
    ref, ref_arg = kernels.get("max_pool2d_forward", "naive")(xp, pool, stride)
    dout = rng.standard_normal(ref.shape).astype(dtype)
    dyp = rng.standard_normal(shape).astype(dtype)

    out, arg = kernels.get("max_pool2d_forward", backend)(xp, pool, stride)
    assert out.dtype == dtype and arg.dtype == ref_arg.dtype
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(arg, ref_arg)
    for op, args in [("max_pool2d_backward", (dout, ref_arg, shape, pool, stride)),
                     ("max_unpool2d_backward", (dyp, ref_arg, pool, stride)),
                     ("avg_pool2d_forward", (xp, pool, stride)),
                     ("avg_pool2d_backward", (dout, shape, pool, stride))]:
        got = kernels.get(op, backend)(*args)
        want = kernels.get(op, "naive")(*args)
        assert got.dtype == dtype, op
        close(got, want, dtype)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("pool,stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2))])
def test_many_channels_nan_ties_and_inf_agree_with_naive(backend, dtype, pool, stride):
    """67 channels: the compiled loops run their vector body (8 or 16 channels at a time) and their
    scalar tail; NaNs (also in a window's first tap, and two in one window), ties and -inf (max
    pooling's padding) land in both, and every op must equal the naive loops exactly."""
    rng = np.random.default_rng(7)
    xp = rng.integers(-3, 4, size=(2, 7, 8, 67)).astype(dtype)       # small integers: many ties
    xp[0, 0, 0, :40] = np.nan                                        # the first tap of some windows
    xp[0, 1, 1, 5:60:3] = np.nan                                     # a later tap, some windows twice
    xp[1, 3, 2, 30:50] = np.nan
    xp[1, :, :, 60:] = -np.inf                                       # whole windows of padding value
    xp[1, 2, 3, 62] = 1.0
    ref, ref_arg = kernels.get("max_pool2d_forward", "naive")(xp, pool, stride)
    out, arg = kernels.get("max_pool2d_forward", backend)(xp, pool, stride)
    np.testing.assert_array_equal(out, ref)                          # NaN where naive has NaN
    np.testing.assert_array_equal(arg, ref_arg)
    dout = rng.standard_normal(ref.shape).astype(dtype)
    dyp = rng.standard_normal(xp.shape).astype(dtype)
    for op, args in [("max_pool2d_backward", (dout, ref_arg, xp.shape, pool, stride)),
                     ("max_unpool2d_backward", (dyp, ref_arg, pool, stride)),
                     ("avg_pool2d_backward", (dout, xp.shape, pool, stride))]:
        close(kernels.get(op, backend)(*args), kernels.get(op, "naive")(*args), dtype)
    finite = np.nan_to_num(xp, nan=0.5, neginf=-2.0)
    close(kernels.get("avg_pool2d_forward", backend)(finite, pool, stride),
          kernels.get("avg_pool2d_forward", "naive")(finite, pool, stride), dtype)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_functional_agrees_with_naive_with_padding(backend):
    x = np.random.default_rng(4).standard_normal((2, 5, 6, 3)).astype(np.float32)
    dout = np.random.default_rng(5).standard_normal((2, 3, 3, 3)).astype(np.float32)
    results = {}
    for be in ("naive", backend):
        with kernels.use_backend(be):
            m, mc = F.max_pool2d_forward(x, 3, stride=2, padding=1)
            a, ac = F.avg_pool2d_forward(x, 3, stride=2, padding=1)
            results[be] = (m, F.max_pool2d_backward(dout, mc), a, F.avg_pool2d_backward(dout, ac))
    for got, want in zip(results[backend], results["naive"]):
        assert got.dtype == np.float32
        close(got, want, np.float32)


def test_argmax_dtype_grows_with_the_pool():
    x = np.random.default_rng(6).standard_normal((1, 17, 17, 1))
    _, small = F.max_pool2d_forward(x, 2)
    _, large = F.max_pool2d_forward(x, 17)
    assert small.argmax.dtype == np.uint8 and large.argmax.dtype == np.int32
    assert large.argmax[0, 0, 0, 0] == np.argmax(x[0, :, :, 0])


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_global_avg_pool_numba_equals_naive(dtype, tol, split, monkeypatch):
    """37 channels (vector body and tail), 23 x 25 pixels (several partial sums of 256), a mean far
    from zero, images split between threads; a 1 x 1 map is its own mean."""
    if split:
        from npvision.kernels import blas
        monkeypatch.setattr(blas, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((3, 23, 25, 37)) * 3 + 100).astype(dtype)
    got = kernels.get("global_avg_pool2d_forward", "numba")(x)
    want = kernels.get("global_avg_pool2d_forward", "naive")(x)
    assert got.dtype == dtype and got.shape == (3, 37)
    np.testing.assert_allclose(got, want, rtol=tol)
    one = x[:, :1, :1]
    np.testing.assert_array_equal(kernels.get("global_avg_pool2d_forward", "numba")(one), one[:, 0, 0])


def test_numba_kernels_run_without_jit():
    """NUMBA_DISABLE_JIT=1 turns the numba kernels into plain Python a student can step into."""
    code = textwrap.dedent("""
        import numpy as np
        from npvision import kernels
        x = np.random.default_rng(0).standard_normal((1, 5, 4, 2))
        o1, a1 = kernels.get("max_pool2d_forward", "numba")(x, (2, 2), (1, 2))
        o2, a2 = kernels.get("max_pool2d_forward", "naive")(x, (2, 2), (1, 2))
        assert np.array_equal(o1, o2) and np.array_equal(a1, a2)
        o3, a3 = kernels.get("max_pool2d_forward", "numba")(x, (2, 2), (2, 2))      # the 2x2 kernel
        o4, a4 = kernels.get("max_pool2d_forward", "naive")(x, (2, 2), (2, 2))
        assert np.array_equal(o3, o4) and np.array_equal(a3, a4)
        d = kernels.get("max_pool2d_backward", "numba")(o1, a1, x.shape, (2, 2), (1, 2))
        assert np.allclose(d, kernels.get("max_pool2d_backward", "naive")(o1, a1, x.shape, (2, 2), (1, 2)))
        g = kernels.get("max_unpool2d_backward", "numba")(x, a1, (2, 2), (1, 2))
        assert np.allclose(g, kernels.get("max_unpool2d_backward", "naive")(x, a1, (2, 2), (1, 2)))
        a = kernels.get("avg_pool2d_forward", "numba")(x, (2, 2), (1, 2))
        assert np.allclose(a, kernels.get("avg_pool2d_forward", "naive")(x, (2, 2), (1, 2)))
        b = kernels.get("avg_pool2d_backward", "numba")(a, x.shape, (2, 2), (1, 2))
        assert np.allclose(b, kernels.get("avg_pool2d_backward", "naive")(a, x.shape, (2, 2), (1, 2)))
        o5, a5 = kernels.get("max_pool2d_forward", "numba")(x, (3, 3), (2, 2))      # the 3x3 stride-2 kernel
        o6, a6 = kernels.get("max_pool2d_forward", "naive")(x, (3, 3), (2, 2))
        assert np.array_equal(o5, o6) and np.array_equal(a5, a6)
        a2 = kernels.get("avg_pool2d_forward", "numba")(x, (2, 2), (2, 2))          # the 2x2 kernels
        assert np.allclose(a2, kernels.get("avg_pool2d_forward", "naive")(x, (2, 2), (2, 2)))
        b2 = kernels.get("avg_pool2d_backward", "numba")(a2, x.shape, (2, 2), (2, 2))
        assert np.allclose(b2, kernels.get("avg_pool2d_backward", "naive")(a2, x.shape, (2, 2), (2, 2)))
        m = kernels.get("global_avg_pool2d_forward", "numba")(x)
        assert np.allclose(m, kernels.get("global_avg_pool2d_forward", "naive")(x))
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1",
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


# ---------------------------------------------------------------------------
# output shapes (property) and dtype
# ---------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), ph=st.integers(1, 4), pw=st.integers(1, 4),
       sh=st.integers(1, 3), sw=st.integers(1, 3), data=st.data())
def test_output_shape_matches_formula(h, w, ph, pw, sh, sw, data):
    pad_h = data.draw(st.integers(0, ph // 2))
    pad_w = data.draw(st.integers(0, pw // 2))
    ho = F.conv_output_size(h, ph, sh, pad_h)
    wo = F.conv_output_size(w, pw, sw, pad_w)
    x = np.zeros((2, h, w, 3), np.float32)
    if ho < 1 or wo < 1:
        with pytest.raises(ValueError, match="pool_size"):
            F.max_pool2d_forward(x, (ph, pw), (sh, sw), (pad_h, pad_w))
        return
    for fwd, bwd in [(F.max_pool2d_forward, F.max_pool2d_backward),
                     (F.avg_pool2d_forward, F.avg_pool2d_backward)]:
        out, cache = fwd(x, (ph, pw), (sh, sw), (pad_h, pad_w))
        assert out.shape == (2, ho, wo, 3) and out.dtype == np.float32
        dx = bwd(np.ones_like(out), cache)
        assert dx.shape == x.shape and dx.dtype == np.float32


def test_same_padding_gives_ceil_output():
    x = np.zeros((1, 7, 8, 2))
    out, _ = F.max_pool2d_forward(x, 2, padding="same")
    assert out.shape == (1, 4, 4, 2)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_dtype_is_kept(dtype):
    x = np.random.default_rng(7).standard_normal((1, 4, 4, 2)).astype(dtype)
    for fwd, bwd in [(F.max_pool2d_forward, F.max_pool2d_backward),
                     (F.avg_pool2d_forward, F.avg_pool2d_backward)]:
        out, cache = fwd(x, 2)
        assert out.dtype == dtype
        assert bwd(np.ones(out.shape), cache).dtype == dtype      # float64 dout is cast
    out, cache = F.global_avg_pool2d_forward(x)
    assert out.dtype == dtype and F.global_avg_pool2d_backward(out, cache).dtype == dtype


# ---------------------------------------------------------------------------
# errors name the argument, what was received and what was expected
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fwd", (F.max_pool2d_forward, F.avg_pool2d_forward))
def test_bad_inputs_raise_clear_errors(fwd):
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match=r"x: expected a 4-D .*\(N, H, W, C\).*received shape \(4, 4, 2\)"):
        fwd(x[0], 2)
    with pytest.raises(TypeError, match=r"x: expected a floating-point array.*int64"):
        fwd(np.zeros((1, 4, 4, 2), dtype=np.int64), 2)
    with pytest.raises(TypeError, match=r"x: expected dtype float32 or float64, received float16"):
        fwd(x.astype(np.float16), 2)
    with pytest.raises(ValueError, match=r"pool_size: expected an integer >= 1, received 0"):
        fwd(x, 0)
    with pytest.raises(ValueError, match=r"pool_size: expected an integer >= 1, received -1"):
        fwd(x, (2, -1))
    with pytest.raises(ValueError, match=r"stride: expected an integer >= 1, received 0"):
        fwd(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"padding: unknown padding 'full'"):
        fwd(x, 2, padding="full")
    with pytest.raises(ValueError, match=r"padding: at most half the pool size.*allows at most 1.*received 2"):
        fwd(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"pool_size: the window \(5 along the height\) is larger than "
                                         r"the padded input \(4 along the height"):
        fwd(x, 5)
    out, cache = fwd(x, 2)
    with pytest.raises(ValueError, match=r"dout: expected shape \(1, 2, 2, 2\).*received \(1, 2, 2, 3\)"):
        (F.max_pool2d_backward if fwd is F.max_pool2d_forward else F.avg_pool2d_backward)(
            np.zeros((1, 2, 2, 3)), cache)


def test_backward_refuses_a_foreign_cache():
    _, avg_cache = F.avg_pool2d_forward(np.zeros((1, 2, 2, 1)), 2)
    with pytest.raises(TypeError, match="cache: expected the cache returned by max_pool2d_forward"):
        F.max_pool2d_backward(np.zeros((1, 1, 1, 1)), avg_cache)


def test_global_avg_pool_errors():
    with pytest.raises(ValueError, match=r"x: expected a 4-D"):
        F.global_avg_pool2d_forward(np.zeros((2, 3)))
    _, cache = F.global_avg_pool2d_forward(np.zeros((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(2, 4\)"):
        F.global_avg_pool2d_backward(np.zeros((2, 3)), cache)


def test_global_avg_pool_of_an_empty_map_is_an_error_not_nan():
    with pytest.raises(ValueError, match=r"x: has an empty 0x0 map"):
        F.global_avg_pool2d_forward(np.zeros((1, 0, 0, 3)))
