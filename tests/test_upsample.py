"""Nearest-neighbour upsampling, bed of nails and max-unpooling: values, gradients, shapes, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
from npvision import kernels
from npvision.gradcheck import check_functional


def distinct(shape, seed=0):
    rng = np.random.default_rng(seed)
    return 0.1 * rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) - 1.0


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

def test_nearest_and_bed_of_nails_values():
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    near, _ = F.upsample_nearest2d_forward(x, 2)
    np.testing.assert_array_equal(near[0, :, :, 0], [[1, 1, 2, 2],
                                                     [1, 1, 2, 2],
                                                     [3, 3, 4, 4],
                                                     [3, 3, 4, 4]])
    nails, _ = F.bed_of_nails2d_forward(x, (2, 3))
    np.testing.assert_array_equal(nails[0, :, :, 0], [[1, 0, 0, 2, 0, 0],
                                                      [0, 0, 0, 0, 0, 0],
                                                      [3, 0, 0, 4, 0, 0],
                                                      [0, 0, 0, 0, 0, 0]])


def test_max_unpool_puts_values_back_at_the_maxima():
    a = np.array([[1.0, 2.0, 0.0, 6.0],
                  [4.0, 3.0, 5.0, 1.0],
                  [0.0, 0.0, 2.0, 2.0],
                  [9.0, 1.0, 2.0, 7.0]]).reshape(1, 4, 4, 1)
    pooled, pool_cache = F.max_pool2d_forward(a, 2)
    np.testing.assert_array_equal(pooled[0, :, :, 0], [[4, 6], [9, 7]])
    up, _ = F.max_unpool2d_forward(10.0 * pooled, pool_cache)
    np.testing.assert_array_equal(up[0, :, :, 0], [[0, 0, 0, 60],
                                                   [40, 0, 0, 0],
                                                   [0, 0, 0, 0],
                                                   [90, 0, 0, 70]])


def test_max_unpool_with_padding_and_overlap_adds_up():
    # width-only pool 3, stride 1, padding 1 on [1, 5, 2, 0]: windows [-inf,1,5], [1,5,2], [5,2,0], [2,0,-inf]
    a = np.array([1.0, 5.0, 2.0, 0.0]).reshape(1, 1, 4, 1)
    pooled, pool_cache = F.max_pool2d_forward(a, (1, 3), stride=1, padding=(0, 1))
    np.testing.assert_array_equal(pooled.ravel(), [5, 5, 5, 2])
    up, _ = F.max_unpool2d_forward(np.array([1.0, 10.0, 100.0, 1000.0]).reshape(1, 1, 4, 1), pool_cache)
    np.testing.assert_array_equal(up.ravel(), [0, 111, 1000, 0])
    assert up.shape == a.shape


# ---------------------------------------------------------------------------
# gradient checks (float64)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, (2, 3), 1, (3, 1)])
def test_nearest_gradcheck(scale):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 2))
    check_functional(F.upsample_nearest2d_forward, F.upsample_nearest2d_backward, [x], dict(scale=scale))


@pytest.mark.parametrize("scale", [2, (3, 2)])
def test_bed_of_nails_gradcheck(scale):
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 2))
    check_functional(F.bed_of_nails2d_forward, F.bed_of_nails2d_backward, [x], dict(scale=scale))


@pytest.mark.parametrize("kw", [
    dict(pool_size=2),                                   # odd sizes: the last row/column is cropped
    dict(pool_size=3, stride=2, padding=1),              # overlapping windows with padding
    dict(pool_size=3, stride=1),
    dict(pool_size=(2, 3), stride=(2, 1), padding=(1, 0)),
])
def test_max_unpool_gradcheck(kw):
    a = distinct((2, 5, 7, 3))
    pooled, pool_cache = F.max_pool2d_forward(a, **kw)
    x = np.random.default_rng(3).standard_normal(pooled.shape)
    check_functional(F.max_unpool2d_forward, F.max_unpool2d_backward, [x, pool_cache])


@pytest.mark.parametrize("backend", ("naive", "numpy", "numba"))
def test_max_unpool_backends_agree(backend):
    a = distinct((2, 5, 7, 3)).astype(np.float32)
    results = {}
    for be in ("naive", backend):
        with kernels.use_backend(be):
            pooled, pool_cache = F.max_pool2d_forward(a, 3, stride=2, padding=1)
            up, cache = F.max_unpool2d_forward(pooled, pool_cache)
            dx = F.max_unpool2d_backward(np.cos(np.arange(up.size)).reshape(up.shape), cache)
            results[be] = (up, dx)
    for got, want in zip(results[backend], results["naive"]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unpool_is_the_transpose_of_the_pool_gradient_scatter():
    """max_unpool2d_forward(g, cache) equals max_pool2d_backward(g, cache): the same scatter."""
    a = distinct((2, 6, 5, 2))
    pooled, pool_cache = F.max_pool2d_forward(a, 3, stride=2, padding=1)
    g = np.random.default_rng(4).standard_normal(pooled.shape)
    np.testing.assert_array_equal(F.max_unpool2d_forward(g, pool_cache)[0], F.max_pool2d_backward(g, pool_cache))


# ---------------------------------------------------------------------------
# shapes (property), dtype
# ---------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 6), w=st.integers(1, 6), c=st.integers(1, 3),
       sh=st.integers(1, 3), sw=st.integers(1, 3))
def test_upsample_shapes(n, h, w, c, sh, sw):
    x = np.ones((n, h, w, c), np.float32)
    for fwd, bwd in [(F.upsample_nearest2d_forward, F.upsample_nearest2d_backward),
                     (F.bed_of_nails2d_forward, F.bed_of_nails2d_backward)]:
        out, cache = fwd(x, (sh, sw))
        assert out.shape == (n, h * sh, w * sw, c) and out.dtype == np.float32
        dx = bwd(np.ones_like(out), cache)
        assert dx.shape == x.shape and dx.dtype == np.float32
    near, _ = F.upsample_nearest2d_forward(x, (sh, sw))
    assert np.all(near == 1.0)
    nails, _ = F.bed_of_nails2d_forward(x, (sh, sw))
    assert nails.sum() == x.size


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_unpool_keeps_dtype(dtype):
    a = distinct((1, 4, 4, 2)).astype(dtype)
    pooled, pool_cache = F.max_pool2d_forward(a, 2)
    up, cache = F.max_unpool2d_forward(pooled, pool_cache)
    assert up.dtype == dtype and F.max_unpool2d_backward(np.ones(up.shape), cache).dtype == dtype


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fwd", (F.upsample_nearest2d_forward, F.bed_of_nails2d_forward))
def test_upsample_errors(fwd):
    with pytest.raises(ValueError, match=r"x: expected a 4-D .*received shape \(3, 4, 2\)"):
        fwd(np.zeros((3, 4, 2)))
    with pytest.raises(TypeError, match=r"x: expected a floating-point array.*uint8"):
        fwd(np.zeros((1, 3, 4, 2), np.uint8))
    with pytest.raises(ValueError, match=r"scale: expected an integer >= 1, received 0"):
        fwd(np.zeros((1, 3, 4, 2)), 0)
    with pytest.raises(TypeError, match=r"scale: expected an int or a pair \(h, w\) of ints, received float 1.5"):
        fwd(np.zeros((1, 3, 4, 2)), 1.5)
    out, cache = fwd(np.zeros((1, 3, 4, 2)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(1, 6, 8, 2\).*received \(1, 6, 8, 1\)"):
        (F.upsample_nearest2d_backward if fwd is F.upsample_nearest2d_forward
         else F.bed_of_nails2d_backward)(np.zeros((1, 6, 8, 1)), cache)


def test_max_unpool_errors():
    a = distinct((1, 4, 6, 2))
    pooled, pool_cache = F.max_pool2d_forward(a, 2)
    with pytest.raises(ValueError, match=r"x: expected shape \(1, 2, 3, 2\) \(the output shape of the "
                                         r"max-pool whose cache was given\), received \(1, 3, 3, 2\)"):
        F.max_unpool2d_forward(np.zeros((1, 3, 3, 2)), pool_cache)
    with pytest.raises(TypeError, match=r"pool_cache: expected the cache returned by max_pool2d_forward, "
                                        r"received tuple"):
        F.max_unpool2d_forward(pooled, (pooled, a.shape))
    with pytest.raises(TypeError, match=r"x: expected a floating-point array.*int64"):
        F.max_unpool2d_forward(np.zeros((1, 2, 3, 2), np.int64), pool_cache)
    up, cache = F.max_unpool2d_forward(pooled, pool_cache)
    with pytest.raises(ValueError, match=r"dout: expected shape \(1, 4, 6, 2\).*received \(1, 2, 3, 2\)"):
        F.max_unpool2d_backward(pooled, cache)
