"""npvision.kernels.direct: the planar direct loops equal the naive convolution, and the numba
backend uses them for stride-1 convolutions with few channels."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import npvision.kernels.conv_plan as CP
import npvision.kernels.direct as DK
from npvision import kernels
from npvision.kernels.window import Window

from _conv_helpers import conv_by_backend, spy_on_algorithms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(1e-30, np.max(np.abs(b))))


def naive(x, w, dout, pads, dilation, bias=None, dx_bias=None):
    """(out, dw, db, dx) from the naive kernels (the reference loops on the padded input)."""
    win = Window((1, 1), dilation, pads)
    out = kernels.get("conv2d_forward", "naive")(x, w, bias, win)
    if dout is None:
        return out, None, None, None
    dx, dw, db = kernels.get("conv2d_backward", "naive")(dout, x, w, win)
    return out, dw, db, dx if dx_bias is None else dx + dx_bias


GEOMETRY = [
    # (N, H, W, C, F, KH, KW, dilation, ((top, bottom), (left, right)))
    (2, 7, 9, 3, 4, 3, 3, (1, 1), ((1, 1), (1, 1))),      # an RGB stem, "same" padding
    (3, 8, 6, 1, 6, 5, 5, (1, 1), ((2, 2), (2, 2))),      # LeNet's first layer: a sweep of 3 taps, then 2
    (2, 6, 7, 2, 3, 4, 4, (1, 1), ((1, 2), (2, 1))),      # a sweep of 3, then 1; odd F
    (2, 9, 11, 3, 5, 3, 5, (2, 1), ((0, 2), (3, 1))),     # dilated rows, uneven padding
    (1, 5, 7, 3, 4, 1, 4, (1, 2), ((1, 0), (0, 2))),      # one kernel row, dilated columns
    (2, 6, 6, 3, 2, 7, 7, (1, 1), ((3, 3), (3, 3))),      # 7x7: sweeps of 3, 3 and 1
    (2, 5, 5, 4, 3, 3, 2, (1, 1), ((0, 0), (0, 0))),      # no padding; KW = 2 (one sweep of 2)
    (1, 4, 4, 2, 1, 3, 3, (1, 1), ((4, 3), (1, 5))),      # padding beyond the kernel's reach; one filter
    (2, 1, 6, 3, 4, 3, 3, (1, 1), ((1, 1), (1, 1))),      # a single input row
    (1, 3, 3, 5, 7, 3, 3, (1, 1), ((0, 0), (0, 0))),      # a single output pixel
]


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("geometry", GEOMETRY)
def test_direct_ops_equal_the_naive_loops(geometry, dtype, tol):
    N, H, W, C, Fo, KH, KW, dil, pads = geometry
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((KH, KW, C, Fo)).astype(dtype)
    b, c = rng.standard_normal(Fo).astype(dtype), rng.standard_normal(C).astype(dtype)
    ref_out, _, _, _ = naive(x, w, None, pads, dil, bias=b)
    dout = rng.standard_normal(ref_out.shape).astype(dtype)
    _, ref_dw, ref_db, ref_dx = naive(x, w, dout, pads, dil, dx_bias=c)
    win = Window((1, 1), dil, pads)
    out = DK.conv_forward(x, w, b, win)
    dw, db = DK.weight_grad(dout, x, w.shape, win)
    dx = DK.input_grad(dout, w, x.shape, win, c)
    dx2, dw2, db2 = DK.conv_backward(dout, x, w, win)          # both gradients from one pass
    none, dw3, db3 = DK.conv_backward(dout, x, w, win, need_input_grad=False)
    assert none is None
    for name, got, want in (("out", out, ref_out), ("dw", dw, ref_dw), ("db", db, ref_db), ("dx", dx, ref_dx),
                            ("dx2", dx2 + c, ref_dx), ("dw2", dw2, ref_dw), ("db2", db2, ref_db),
                            ("dw3", dw3, ref_dw), ("db3", db3, ref_db)):
        assert got.dtype == dtype and got.shape == want.shape, name
        assert rel(got, want) < tol, (name, rel(got, want))
    assert out.flags.c_contiguous and dx.flags.c_contiguous and dx2.flags.c_contiguous


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 4), f=st.integers(1, 5),
       kh=st.integers(1, 5), kw=st.integers(1, 6), dh=st.integers(1, 2), dw=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 4)] * 4), seed=st.integers(0, 2**16))
def test_direct_ops_equal_naive_on_random_geometry(n, h, w, c, f, kh, kw, dh, dw, pads, seed):
    t, b, l, r = pads
    if h + t + b < dh * (kh - 1) + 1 or w + l + r < dw * (kw - 1) + 1:
        return                                                   # no output: not a convolution
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c))
    wt = rng.standard_normal((kh, kw, c, f))
    pp = ((t, b), (l, r))
    ref_out, _, _, _ = naive(x, wt, None, pp, (dh, dw))
    dout = rng.standard_normal(ref_out.shape)
    _, ref_dw, ref_db, ref_dx = naive(x, wt, dout, pp, (dh, dw))
    win = Window((1, 1), (dh, dw), pp)
    got = (DK.conv_forward(x, wt, None, win),) + DK.weight_grad(dout, x, wt.shape, win) \
        + (DK.input_grad(dout, wt, x.shape, win),)
    for g, want in zip(got, (ref_out, ref_dw, ref_db, ref_dx)):
        assert g.shape == want.shape
        np.testing.assert_allclose(g, want, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("KW", [2, 4, 5])
def test_an_infinite_pixel_reaches_only_the_outputs_whose_windows_hold_it(KW):
    """The taps are swept three at a time; a short last sweep must not read a pixel outside the
    window (an inf there, times a zero weight, would be a NaN where the answer is finite)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 6, 9, 2))
    x[0, 3, 6, 1] = np.inf
    w = rng.uniform(0.5, 1.0, (3, KW, 2, 3))                     # positive: the inf stays +inf
    pads = ((1, 1), (KW // 2, (KW - 1) // 2))
    want, _, _, _ = naive(x, w, None, pads, (1, 1))
    win = Window((1, 1), (1, 1), pads)
    got = DK.conv_forward(x, w, None, win)
    assert np.isinf(want).any() and not np.isnan(want).any()
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-12)
    # the input gradient: an inf in dout
    dout = rng.standard_normal(want.shape)
    dout[0, 2, 4, 0] = np.inf
    want_dx = kernels.get("conv2d_backward", "naive")(dout, x, w, win)[0]
    got_dx = DK.input_grad(dout, w, x.shape, win)
    np.testing.assert_array_equal(np.isnan(got_dx), np.isnan(want_dx))
    np.testing.assert_array_equal(np.isfinite(got_dx), np.isfinite(want_dx))


@pytest.mark.parametrize("w_shape, stride, fits", [
    ((3, 3, 3, 16), (1, 1), True),       # an RGB stem
    ((5, 5, 1, 6), (1, 1), True),        # LeNet's first layer
    ((3, 3, 16, 16), (1, 1), True),      # a narrow ResNet stage
    ((3, 3, 4, 32), (1, 1), True),       # C F = 128
    ((3, 3, 8, 32), (1, 1), False),      # C F = 256 and F > 16: im2col's product is wide enough
    ((3, 3, 3, 64), (1, 1), False),      # VGG's stem: the same
    ((3, 3, 32, 16), (1, 1), False),     # too many input channels
    ((3, 3, 3, 16), (2, 2), False),      # strided
    ((1, 1, 3, 16), (1, 1), False),      # 1x1: a plain product
])
def test_the_numba_backend_picks_the_direct_loops_for_few_channels(w_shape, stride, fits):
    plan = CP.plan_conv2d(w_shape, Window(stride, (1, 1), ((1, 1), (1, 1))))
    assert (plan.forward == plan.input_grad == plan.weight_grad == "direct") is fits


@pytest.mark.parametrize("padding", [1, 0, "same", ((3, 0), (2, 4))])
def test_numba_backend_routes_a_stem_through_the_direct_loops(padding, monkeypatch):
    """conv2d forward and backward on a 3-channel input go through the direct ops (the backward
    through the one that makes both gradients), and equal naive."""
    calls = spy_on_algorithms(monkeypatch)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, 3))
    w, b = rng.standard_normal((3, 3, 3, 8)), rng.standard_normal(8)
    results = conv_by_backend(x, w, b, padding)
    assert calls == ["forward direct", "backward direct"] * 2       # numba, then auto
    for backend in ("numba", "auto"):
        for got, want in zip(results[backend], results["naive"]):
            assert rel(got, want) < 1e-12


def test_direct_loops_run_without_jit():
    """NUMBA_DISABLE_JIT=1: the planar loops run as plain Python (a student can step into them)."""
    script = textwrap.dedent("""
        import numpy as np
        import npvision.kernels.direct as DK
        from npvision import kernels
        from npvision.kernels.window import Window
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 4, 5, 3)); w = rng.standard_normal((3, 4, 3, 3))
        win = Window((1, 1), (1, 1), ((1, 1), (2, 1)))
        ref = kernels.get("conv2d_forward", "naive")(x, w, None, win)
        dout = rng.standard_normal(ref.shape)
        ref_dx, ref_dw, ref_db = kernels.get("conv2d_backward", "naive")(dout, x, w, win)
        out = DK.conv_forward(x, w, None, win)
        dx, dw, db = DK.conv_backward(dout, x, w, win)
        assert type(DK._forward_images).__name__ == "function"    # plain Python, not compiled
        # a transpose conv's output rows beyond the convolution's reach (output_padding): the
        # input gradient's planes must hold every row its taps read (plain Python checks bounds,
        # compiled code would read past the array)
        wt = rng.standard_normal((3, 2, 2, 3))
        tin = Window((1, 1), (2, 2), ((0, 0), (0, 0)))
        xt = rng.standard_normal((2, 4, 3, 3))
        dxt = DK.input_grad(xt, wt, (2, 9, 6, 2), tin)
        ref_t = kernels.get("conv_transpose2d_forward", "naive")(xt, wt, None, tin, (9, 6))
        print(max(float(np.max(np.abs(a - b))) for a, b in
                  ((out, ref), (dw, ref_dw), (db, ref_db), (dx, ref_dx), (dxt, ref_t))))
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert float(res.stdout.strip()) < 1e-12
