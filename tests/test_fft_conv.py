"""The FFT convolution (npvision.kernels.fft_conv, F.conv2d_fft_*, nn.FFTConv2D) against the
naive loops and the ordinary convolution, its gradients in float64, and its shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import npvision
import npvision.functional as F
from npvision import kernels, nn
from npvision.gradcheck import check_functional, check_module
from npvision.kernels.fft_conv import fft_size, grid, weight_spectrum

PADS = [0, 2, "same", "valid", (3, 1), ((0, 4), (2, 1))]


def _run(backend, x, w, b, padding, dout, spectrum=None):
    with npvision.use_backend(backend):
        out, cache = F.conv2d_fft_forward(x, w, b, padding=padding, spectrum=spectrum)
        return (out,) + F.conv2d_fft_backward(dout, cache)


@pytest.mark.parametrize("padding", PADS)
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_fft_backends_match_the_naive_loops(backend, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 11, 3))
    w = rng.standard_normal((5, 4, 3, 37))                      # 37 filters: more than one band of 16
    b = rng.standard_normal(37)
    out, _ = F.conv2d_forward(x, w, b, padding=padding)
    dout = rng.standard_normal(out.shape)
    want = _run("naive", x, w, b, padding, dout)
    got = _run(backend, x, w, b, padding, dout)
    for name, g, r in zip(("out", "dx", "dw", "db"), got, want):
        assert g.shape == r.shape and g.dtype == r.dtype, name
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-11 * np.abs(r).max(), err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_fft_equals_the_ordinary_conv_in_float32_with_a_big_kernel(backend):
    rng = np.random.default_rng(1)
    x = rng.random((1, 40, 33, 3), dtype=np.float32)
    w = rng.standard_normal((23, 23, 3, 20)).astype(np.float32)
    out, cache = F.conv2d_forward(x, w, padding="same")
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, _ = F.conv2d_backward(dout, cache)
    got = _run(backend, x, w, None, "same", dout)
    assert got[0].dtype == np.float32 and got[1].dtype == np.float32 and got[3] is None
    for g, r in zip(got[:3], (out, dx, dw)):
        np.testing.assert_allclose(g, r, rtol=0, atol=2e-5 * np.abs(r).max())


def test_precomputed_spectrum_gives_the_same_result():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 12, 10, 2))
    w = rng.standard_normal((7, 7, 2, 5))
    pads = ((3, 3), (3, 3))
    spec = weight_spectrum(w, *grid(x.shape, w.shape, pads))
    dout = rng.standard_normal((1, 12, 10, 5))
    a = _run("numba", x, w, None, "same", dout)
    b = _run("numba", x, w, None, "same", dout, spectrum=spec)
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)
    # a spectrum for another grid is ignored, not misused
    c = _run("numba", x, w, None, "same", dout, spectrum=weight_spectrum(w, 32, 32))
    np.testing.assert_allclose(c[0], a[0], rtol=1e-12, atol=1e-12)


def test_skipping_gradients():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 8, 8, 2)), rng.standard_normal((5, 5, 2, 3))
    out, cache = F.conv2d_fft_forward(x, w, rng.standard_normal(3), padding=2)
    dx, dw, db = F.conv2d_fft_backward(np.ones_like(out), cache, need_weight_grad=False)
    assert dw is None and dx.shape == x.shape and db.shape == (3,)
    dx, dw, db = F.conv2d_fft_backward(np.ones_like(out), cache, need_input_grad=False)
    assert dx is None and dw.shape == w.shape


def test_fft_conv_gradcheck():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 7, 2))
    w = rng.standard_normal((4, 3, 2, 3))
    b = rng.standard_normal(3)
    for padding in (0, "same", ((2, 0), (1, 3))):
        check_functional(F.conv2d_fft_forward, F.conv2d_fft_backward, [x, w, b], dict(padding=padding),
                         names=["x", "w", "b"])


def test_fft_conv_layer_matches_conv2d_and_gradchecks():
    rng = np.random.default_rng(5)
    fft = nn.FFTConv2D(3, 4, 5, padding="same", rng=0, dtype=np.float64)
    conv = nn.Conv2D(3, 4, 5, padding="same", rng=0, dtype=np.float64)
    fft.bias.data[:] = conv.bias.data[:] = rng.standard_normal(4)
    np.testing.assert_array_equal(fft.weight.data, conv.weight.data)
    x = rng.standard_normal((2, 9, 8, 3))
    np.testing.assert_allclose(fft.forward(x), conv.forward(x), rtol=1e-11, atol=1e-11)
    dy = rng.standard_normal((2, 9, 8, 4))
    np.testing.assert_allclose(fft.backward(dy), conv.backward(dy), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(fft.weight.grad, conv.weight.grad, rtol=1e-11, atol=1e-11)
    check_module(nn.FFTConv2D(2, 3, (4, 6), padding=(1, 2), rng=1), rng.standard_normal((1, 7, 9, 2)))


def test_layer_refreshes_its_spectrum_when_the_weights_change():
    rng = np.random.default_rng(6)
    layer = nn.FFTConv2D(1, 2, 3, padding=1, bias=False, rng=0, dtype=np.float64)
    x = rng.standard_normal((1, 6, 6, 1))
    layer.forward(x)
    layer.weight.data = layer.weight.data * 2.0                # e.g. an optimizer step or load_state_dict
    want, _ = F.conv2d_forward(x, layer.weight.data, padding=1)
    np.testing.assert_allclose(layer.forward(x), want, rtol=1e-11, atol=1e-11)
    # frozen filters: no weight gradient computed or accumulated
    layer.weight.trainable = False
    layer.zero_grad()
    assert layer.backward(np.ones((1, 6, 6, 2))).shape == x.shape
    assert not layer.weight.grad.any()


def test_registered_in_the_kernel_table():
    assert kernels.ops()["conv2d_fft_forward"] == ("naive", "numba", "numpy")
    assert kernels.ops()["conv2d_fft_backward"] == ("naive", "numba", "numpy")
    assert kernels.fastest()["conv2d_fft_forward"] == "numba"


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 5),
       kw=st.integers(1, 5), top=st.integers(0, 3), bottom=st.integers(0, 3), left=st.integers(0, 3),
       right=st.integers(0, 3))
def test_output_shape_formula(n, h, w, kh, kw, top, bottom, left, right):
    """H_out = H + top + bottom - KH + 1, or a clear error when the kernel does not fit."""
    x = np.ones((n, h, w, 2))
    wt = np.ones((kh, kw, 2, 3))
    pad = ((top, bottom), (left, right))
    if kh > h + top + bottom or kw > w + left + right:
        with pytest.raises(ValueError, match="larger than the padded input"):
            F.conv2d_fft_forward(x, wt, padding=pad)
        return
    out, _ = F.conv2d_fft_forward(x, wt, padding=pad)
    assert out.shape == (n, h + top + bottom - kh + 1, w + left + right - kw + 1, 3)
    np.testing.assert_allclose(out, F.conv2d_forward(x, wt, padding=pad)[0], rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5000))
def test_fft_size_is_the_next_5_smooth_number(n):
    m = fft_size(n)
    assert m >= n
    r = m
    for p in (2, 3, 5):
        while r % p == 0:
            r //= p
    assert r == 1
    assert all(fft_size(k) != k for k in range(n, m))          # nothing smaller qualifies


def test_errors():
    x = np.ones((1, 5, 5, 2))
    with pytest.raises(ValueError, match="x: has 2 channels"):
        F.conv2d_fft_forward(x, np.ones((3, 3, 3, 1)))
    with pytest.raises(TypeError, match="x: expected a floating-point array"):
        F.conv2d_fft_forward(np.ones((1, 5, 5, 2), dtype=np.uint8), np.ones((3, 3, 2, 1)))
    out, cache = F.conv2d_fft_forward(x, np.ones((3, 3, 2, 1)))
    with pytest.raises(ValueError, match="dout: expected the forward output's shape"):
        F.conv2d_fft_backward(np.ones((1, 5, 5, 1)), cache)
