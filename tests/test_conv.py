"""Tests of npvision.functional.conv and the convolution kernels (npvision.kernels.conv,
conv_transpose, conv_plan, im2col)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import npvision
import npvision.functional as F
import npvision.kernels.conv_plan as CP
import npvision.kernels.im2col as IM
from npvision import kernels
from npvision.gradcheck import check_functional
from npvision.kernels.window import Window

from _conv_helpers import spy_on_algorithms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rel(a, b):
    """max |a - b| / max |b|: a scale-aware error that does not blow up near zeros."""
    return float(np.max(np.abs(a - b)) / max(1e-30, np.max(np.abs(b))))


# --------------------------------------------------------------- the course's numbers

def test_course_conv_forward_mean():
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, _ = F.conv2d_forward(A_prev, W, b, stride=2, padding=1)
    assert Z.shape == (2, 3, 4, 8)
    assert Z.mean() == pytest.approx(0.5511276474566768, abs=1e-12)
    assert Z[0, 2, 1] == pytest.approx([-2.17796037, 8.07171329, -0.5772704, 3.36286738,
                                        4.48113645, -2.89198428, 10.99288867, 3.03171932], abs=1e-7)


def test_course_conv_backward_means():
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache = F.conv2d_forward(A_prev, W, b, stride=2, padding=2)
    dA, dW, db = F.conv2d_backward(Z, cache)
    assert dA.mean() == pytest.approx(1.45243777754, abs=1e-9)
    assert dW.mean() == pytest.approx(1.72699145831, abs=1e-9)
    assert db.mean() == pytest.approx(7.83923256462, abs=1e-9)
    assert db.shape == b.shape


def test_course_conv_single_step_and_zero_pad():
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    assert F.conv_single_step(a_slice_prev, W, b) == pytest.approx(-6.999089450680221, abs=1e-12)
    x = np.random.randn(4, 3, 3, 2)
    xp = F.zero_pad(x, 3)
    assert xp.shape == (4, 9, 9, 2)
    np.testing.assert_array_equal(xp[:, 3:6, 3:6, :], x)
    assert np.count_nonzero(xp) == np.count_nonzero(x)
    assert F.zero_pad(x, (1, 0)).shape == (4, 5, 3, 2)


def _without_bias(backward, dout, cache):
    dx, dw, db = backward(dout, cache)
    assert db is None
    return dx, dw


# --------------------------------------------------------------- gradient checks (float64)

GRAD_CASES = [
    # (x shape, w shape, kwargs, bias)
    ((2, 7, 7, 3), (3, 3, 3, 4), dict(stride=2, padding=1), True),
    ((2, 5, 6, 2), (3, 3, 2, 3), dict(stride=1, padding=0), True),           # odd sizes
    ((1, 9, 8, 2), (3, 3, 2, 3), dict(dilation=2, padding=1), True),
    ((2, 6, 7, 2), (2, 3, 2, 3), dict(stride=(2, 1), padding=(1, 0)), True),  # non-square kernel
    ((2, 6, 6, 2), (2, 2, 2, 3), dict(padding="same"), True),                 # even kernel, "same"
    ((1, 7, 6, 2), (4, 2, 2, 2), dict(stride=2, padding="same"), True),
    ((2, 5, 5, 3), (1, 1, 3, 4), dict(), True),                               # 1x1
    ((2, 5, 6, 3), (1, 1, 3, 2), dict(stride=2), False),                      # 1x1 strided, no bias
    ((1, 8, 7, 2), (3, 2, 2, 3), dict(stride=3, padding=((0, 2), (1, 0)), dilation=(1, 2)), False),
]


@pytest.mark.parametrize("xs, ws, kw, bias", GRAD_CASES)
def test_conv2d_gradcheck(xs, ws, kw, bias):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    args = [x, w] + ([rng.standard_normal(ws[3])] if bias else [])
    backward = F.conv2d_backward if bias else (lambda dout, cache: _without_bias(F.conv2d_backward, dout, cache))
    report = check_functional(F.conv2d_forward, backward, args, kw, tol=1e-7)
    assert len(report.errors) == len(args)


@pytest.mark.parametrize("xs, ws, kw", [((2, 5, 5, 3), (3, 3, 3, 8), dict(stride=2, padding=1)),
                                        ((2, 4, 3, 2), (3, 3, 2, 6), dict(padding=1, dilation=(1, 2)))])
def test_conv2d_gradcheck_through_the_one_product_form(xs, ws, kw, monkeypatch):
    """The gemm form (few output pixels per filter), forced onto small shapes, with threads."""
    monkeypatch.setattr(CP, "GEMM_MIN_WEIGHTS", 0)
    monkeypatch.setattr(CP, "GEMM_MAX_ROWS_PER_FILTER", 10**9)
    monkeypatch.setattr(CP, "DIRECT_MAX_CHANNELS", 0)
    monkeypatch.setattr(IM, "PARALLEL_MACS", 1)
    rng = np.random.default_rng(6)
    args = [rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[3])]
    out, _ = F.conv2d_forward(*args, **kw)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)                # noqa: E731
    win = Window(pair(kw.get("stride", 1)), pair(kw.get("dilation", 1)), ((1, 1), (1, 1)))
    assert CP.plan_conv2d(ws, win, out.shape[:3]).forward == "gemm"
    report = check_functional(F.conv2d_forward, F.conv2d_backward, args, kw, tol=1e-7)
    assert len(report.errors) == len(args)


def test_conv2d_gradcheck_naive_backend():
    rng = np.random.default_rng(1)
    args = [rng.standard_normal((1, 5, 4, 2)), rng.standard_normal((2, 3, 2, 2)), rng.standard_normal(2)]
    with npvision.use_backend("naive"):
        check_functional(F.conv2d_forward, F.conv2d_backward, args, dict(stride=2, padding=1), tol=1e-7)


def test_backward_can_skip_input_gradient_and_keeps_dtypes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4))                         # float64 weight, float32 input
    b = rng.standard_normal(4).astype(np.float32)
    out, cache = F.conv2d_forward(x, w, b, padding=1)
    assert out.dtype == np.float32
    dx, dw, db = F.conv2d_backward(np.ones_like(out), cache, need_input_grad=False)
    assert dx is None and dw.dtype == np.float64 and dw.shape == w.shape and db.dtype == np.float32
    dx2, dw2, _ = F.conv2d_backward(np.ones_like(out), cache)
    assert dx2.dtype == np.float32 and dx2.shape == x.shape
    np.testing.assert_array_equal(dw, dw2)
    out3, cache3 = F.conv2d_forward(x, w)
    assert F.conv2d_backward(np.ones_like(out3), cache3)[2] is None


# --------------------------------------------------------------- backends agree with naive

NUMBA_PATHS = ["numba", "numba-winograd", "numba-direct", "numba-im2col", "numba-gemm"]


def _numba_path(backend: str, monkeypatch) -> str:
    """The backend to ask for, with one of the numba backend's algorithms forced by the plan:
    ``numba-winograd`` every 3x3 stride-1 case through Winograd however few its channels,
    ``numba-direct`` every stride-1 case through the planar direct loops however many,
    ``numba-gemm`` every case but 1x1 and kernel = stride through the one-product form however
    many pixels, ``numba-im2col`` none of them (im2col's blocks)."""
    if backend in ("numba-winograd", "numba-im2col", "numba-gemm"):
        monkeypatch.setattr(CP, "DIRECT_MAX_CHANNELS", 0)
    if backend in ("numba-im2col", "numba-gemm"):
        monkeypatch.setattr(CP, "WINOGRAD_MIN_CHANNELS", 10**9)
    if backend == "numba-gemm":
        monkeypatch.setattr(CP, "GEMM_MAX_ROWS_PER_FILTER", 10**9)
        monkeypatch.setattr(CP, "GEMM_MAX_COLUMNS", 10**9)
        monkeypatch.setattr(CP, "GEMM_MIN_WEIGHTS", 0)
    if backend in ("numba-winograd", "numba-direct", "numba-im2col"):
        monkeypatch.setattr(CP, "GEMM_MAX_ROWS_PER_FILTER", 0)
    if backend == "numba-winograd":
        monkeypatch.setattr(CP, "WINOGRAD_MIN_CHANNELS", 1)
        monkeypatch.setattr(CP, "WINOGRAD_MIN_PIXELS", 1)
    if backend == "numba-direct":
        monkeypatch.setattr(CP, "DIRECT_MAX_CHANNELS", 10**9)
        monkeypatch.setattr(CP, "DIRECT_MAX_PAIRS", 10**9)
    return backend.split("-")[0]


AWKWARD = [
    # (x shape (unpadded), w shape, stride, dilation, pads)
    ((2, 7, 6, 3), (3, 2, 3, 4), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((2, 9, 8, 3), (3, 3, 3, 5), (2, 2), (1, 1), ((0, 0), (0, 0))),
    ((1, 9, 10, 2), (2, 3, 2, 3), (2, 3), (2, 1), ((2, 0), (0, 3))),
    ((2, 8, 9, 3), (2, 2, 3, 4), (2, 2), (1, 1), ((0, 0), (0, 0))),     # k = stride, one leftover column
    ((2, 5, 6, 3), (1, 1, 3, 4), (2, 1), (1, 1), ((1, 0), (0, 2))),     # 1x1 strided, padded
    ((2, 5, 6, 3), (1, 1, 3, 4), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((1, 11, 9, 2), (3, 3, 2, 3), (1, 1), (2, 3), ((3, 4), (1, 2))),    # more padding than the kernel reaches
    ((2, 7, 8, 4), (3, 3, 4, 2), (1, 1), (1, 2), ((1, 1), (2, 2))),     # stride 1, C_in >= C_out (full conv)
    ((2, 10, 9, 2), (3, 3, 2, 2), (3, 2), (1, 1), ((1, 1), (1, 1))),
    ((2, 6, 6, 4), (2, 2, 4, 3), (2, 2), (1, 1), ((1, 1), (0, 1))),     # k = stride, padded (transpose conv's crop)
]


def _conv_ops(backend, x, w, b, win, dout):
    with npvision.use_backend(backend):
        out = kernels.get("conv2d_forward")(x, w, b, win)
        dx, dw, db = kernels.get("conv2d_backward")(dout, x, w, win)
        none, dw2, db2 = kernels.get("conv2d_backward")(dout, x, w, win, need_input_grad=False)
    assert none is None
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def _transpose_ops(backend, x, w, b, win, out_hw, dout):
    """The transpose conv whose convolution is (w, win): x on the conv's output grid."""
    with npvision.use_backend(backend):
        out = kernels.get("conv_transpose2d_forward")(x, w, b, win, out_hw)
        dx, dw, db = kernels.get("conv_transpose2d_backward")(dout, x, w, win)
    return {"T out": out, "T dx": dx, "T dw": dw, "T db": db}


@pytest.mark.parametrize("budget", [None, 1, 600])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("backend", ["numpy"] + NUMBA_PATHS)
def test_kernels_match_naive(backend, dtype, tol, budget, monkeypatch):
    """Every conv and transpose-conv op equals the naive loops, on every algorithm the plan can
    pick, with blocks of one image or bands of rows (a tiny column budget), split across the
    threads (gemm: its images packed and scattered a band per thread)."""
    if budget is not None:
        monkeypatch.setattr(IM, "COLUMNS_BUDGET", budget)
    if budget == 1:                                    # and every pass split across the threads
        monkeypatch.setattr(IM, "PARALLEL_MACS", 1)
    backend = _numba_path(backend, monkeypatch)
    rng = np.random.default_rng(3)
    for xs, ws, s, d, pads in AWKWARD:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[3]).astype(dtype)
        win = Window(s, d, pads)
        dout = rng.standard_normal((xs[0], *win.out_hw(xs[1:3], ws[:2]), ws[3])).astype(dtype)
        want = _conv_ops("naive", x, w, b, win, dout)
        got = _conv_ops(backend, x, w, b, win, dout)
        # the transpose of the conv with weight w: from its output grid (dout's) to x's grid
        tw = np.ascontiguousarray(w)                                   # (KH, KW, C, F) = (.., C_out, C_in)
        tb = rng.standard_normal(ws[2]).astype(dtype)
        want.update(_transpose_ops("naive", dout, tw, tb, win, xs[1:3], x))
        got.update(_transpose_ops(backend, dout, tw, tb, win, xs[1:3], x))
        assert rel(want["db"], dout.sum(axis=(0, 1, 2))) < tol         # the naive loop's db is dout's sum
        for name in want:
            assert got[name].dtype == dtype and got[name].shape == want[name].shape, (name, xs, ws, s, d, pads)
            assert rel(got[name], want[name]) < tol, (name, xs, ws, s, d, pads, rel(got[name], want[name]))
        assert got["dx"].flags.c_contiguous and got["T out"].flags.c_contiguous


@pytest.mark.parametrize("backend", ["numpy", "numba", "auto"])
def test_functional_backends_match_naive(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 5, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    kw = dict(stride=(2, 1), padding="same", dilation=(1, 2))
    results = {}
    for be in ("naive", backend):
        with npvision.use_backend(be):
            out, cache = F.conv2d_forward(x, w, b, **kw)
            dout = np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape)
            results[be] = (out,) + F.conv2d_backward(dout, cache)
    for got, want in zip(results[backend], results["naive"]):
        assert got.dtype == np.float32 and rel(got, want) < 1e-5


@pytest.mark.parametrize("ws, s", [((3, 3, 4, 5), (1, 1)), ((3, 2, 4, 5), (2, 1)), ((1, 1, 4, 5), (1, 1)),
                                   ((3, 3, 32, 32), (1, 1))])
@pytest.mark.parametrize("backend", ["naive", "numpy"] + NUMBA_PATHS)
def test_forward_kernels_add_the_bias(backend, ws, s, monkeypatch):
    """Each forward kernel adds the bias itself (block by block, or in Winograd's output transform)."""
    backend = _numba_path(backend, monkeypatch)
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 7, 6, ws[2])), rng.standard_normal(ws), rng.standard_normal(ws[3])
    win = Window(s, (1, 1), ((1, 0), (2, 1)))
    fwd = kernels.get("conv2d_forward", backend)
    np.testing.assert_allclose(fwd(x, w, b, win), fwd(x, w, None, win) + b, rtol=1e-12, atol=1e-12)
    want = kernels.get("conv2d_forward", "naive")(x, w, None, win) + b
    np.testing.assert_allclose(fwd(x, w, b, win), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ws, kw", [((3, 3, 32, 32), dict(padding=1)), ((3, 3, 3, 8), dict(padding=1)),
                                    ((1, 1, 4, 8), {}), ((3, 2, 4, 8), dict(stride=2))])
@pytest.mark.parametrize("backend", ["naive", "numpy", "numba"])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(backend, ws, kw):
    x = np.zeros((0, 7, 6, ws[2]), np.float32)
    w, b = np.ones(ws, np.float32), np.ones(ws[3], np.float32)
    with npvision.use_backend(backend):
        out, cache = F.conv2d_forward(x, w, b, **kw)
        dx, dw, db = F.conv2d_backward(np.ones_like(out), cache)
    assert out.shape[0] == 0 and dx.shape == x.shape
    np.testing.assert_array_equal(dw, np.zeros(ws))
    np.testing.assert_array_equal(db, np.zeros(ws[3]))


def test_every_conv_op_has_three_backends():
    table = kernels.ops()
    for op in ("conv2d_forward", "conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward",
               "depthwise_conv2d_forward", "depthwise_conv2d_backward"):
        assert table[op] == ("naive", "numba", "numpy")


@pytest.mark.parametrize("w_shape, stride, dilation, forward, input_grad", [
    ((3, 3, 3, 16), (1, 1), (1, 1), "direct", "direct"),             # an RGB stem
    ((5, 5, 1, 6), (1, 1), (1, 1), "direct", "direct"),              # LeNet's first layer
    ((3, 3, 64, 64), (1, 1), (1, 1), "winograd", "winograd"),
    ((3, 3, 16, 32), (1, 1), (1, 1), "im2col", "scatter"),           # C < F at stride 1
    ((3, 3, 64, 32), (1, 1), (2, 2), "im2col", "full"),              # dilated: not Winograd
    ((3, 3, 64, 128), (2, 2), (1, 1), "im2col", "scatter"),
    ((2, 2, 64, 32), (2, 2), (1, 1), "im2col", "tiles"),             # k = stride
    ((1, 1, 64, 128), (2, 2), (1, 1), "im2col", "1x1"),
    ((7, 7, 3, 64), (2, 2), (1, 1), "im2col", "scatter"),            # ResNet's stem
])
def test_the_plan_picks_the_algorithm_and_says_why(w_shape, stride, dilation, forward, input_grad):
    plan = CP.plan_conv2d(w_shape, Window(stride, dilation, ((1, 1), (1, 1))), (16, 16, 16))
    assert (plan.forward, plan.input_grad) == (forward, input_grad)
    assert plan.weight_grad == (forward if forward != "im2col" else "1x1" if w_shape[:2] == (1, 1) else "im2col")
    assert isinstance(plan.why, str) and len(plan.why) > 20
    numpy_plan = CP.plan_conv2d(w_shape, Window(stride, dilation, ((0, 0), (0, 0))), compiled=False)
    assert numpy_plan.forward == "im2col" and numpy_plan.input_grad in ("1x1", "full", "tiles", "scatter")


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 0), (1, 1)])
def test_numba_backend_makes_a_1x1_conv_s_gradients_in_one_pass(stride, padding, monkeypatch):
    """A 1x1 conv's backward goes through the one-pass form (dx, dw and db from each chunk of dout),
    with the blocks small enough that several chunks and both threads take part, and equals naive."""
    calls = spy_on_algorithms(monkeypatch)
    monkeypatch.setattr(IM, "COLUMNS_BUDGET", 8 * 6 * 8)            # chunks of 8 rows of dout
    monkeypatch.setattr(IM, "PARALLEL_MACS", 1)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 7, 6, 5))
    w, b = rng.standard_normal((1, 1, 5, 6)), rng.standard_normal(6)
    results = {}
    for backend in ("naive", "numba"):
        with npvision.use_backend(backend):
            out, cache = F.conv2d_forward(x, w, b, stride=stride, padding=padding)
            dout = np.linspace(-1, 1, out.size).reshape(out.shape)
            results[backend] = (out, *F.conv2d_backward(dout, cache))
    assert calls == ["forward im2col", "backward 1x1"]
    for got, want in zip(results["numba"], results["naive"]):
        assert rel(got, want) < 1e-12


@pytest.mark.parametrize("out_shape, algorithm", [((16, 16, 16), "winograd"), ((16, 8, 8), "winograd"),
                                                  ((16, 4, 4), "gemm"), ((16, 2, 2), "gemm"),
                                                  ((4, 8, 8), "gemm"), ((4, 32, 32), "im2col"),
                                                  (None, "winograd")])
def test_winograd_only_on_maps_large_enough(out_shape, algorithm, monkeypatch):
    """ResNet-18's last stage at 64x64 (2x2 maps of 512 channels) and VGG-16's at N4: Winograd's
    16 weight matrices cost more than the multiplies they save, and with at most 4 output pixels
    per filter the whole batch is one product (gemm)."""
    if algorithm == "im2col":                                   # a 512-channel map too large for Winograd
        monkeypatch.setattr(CP, "WINOGRAD_MIN_PIXELS", 10**9)
    plan = CP.plan_conv2d((3, 3, 512, 512), Window((1, 1), (1, 1), ((1, 1), (1, 1))), out_shape)
    assert plan.forward == plan.weight_grad == algorithm
    assert plan.input_grad == {"winograd": "winograd", "gemm": "gemm", "im2col": "full"}[algorithm]


@pytest.mark.parametrize("w_shape, stride, out_shape, algorithm", [
    ((3, 3, 256, 512), (2, 2), (16, 2, 2), "gemm"),      # ResNet-18's stage 4 entry: 64 pixels, 512 filters
    ((3, 3, 128, 256), (2, 2), (16, 4, 4), "gemm"),      # 256 pixels <= 4 x 256
    ((3, 3, 64, 128), (2, 2), (16, 8, 8), "im2col"),     # 1024 pixels > 4 x 128: blocks of rows
    ((3, 3, 512, 512), (1, 1), (64, 8, 8), "im2col"),    # 4096 x 4608 columns: over GEMM_MAX_COLUMNS
    ((2, 2, 512, 512), (2, 2), (4, 2, 2), "im2col"),     # kernel = stride: the tiles form first
    ((3, 3, 3, 8), (2, 2), (2, 4, 4), "im2col"),         # the README's example: a 27 x 8 weight stays in cache
])
def test_gemm_for_few_pixels_per_filter(w_shape, stride, out_shape, algorithm, monkeypatch):
    monkeypatch.setattr(CP, "WINOGRAD_MIN_PIXELS", 10**9)
    plan = CP.plan_conv2d(w_shape, Window(stride, (1, 1), ((1, 1), (1, 1))), out_shape)
    assert plan.forward == algorithm, plan
    assert CP.plan_conv2d(w_shape, Window(stride, (1, 1), ((1, 1), (1, 1))), out_shape, compiled=False).forward \
        == "im2col"


def test_kernels_run_without_jit():
    """NUMBA_DISABLE_JIT=1 runs the numba kernels as plain Python (a student can step into them)."""
    script = textwrap.dedent("""
        import numpy as np
        from npvision import kernels
        from npvision.kernels.window import Window
        rng = np.random.default_rng(0)
        from npvision.kernels.conv_plan import plan_conv2d
        x = rng.standard_normal((2, 6, 5, 2))
        pairs, plans = [], []
        import npvision.kernels.conv_plan as CP
        CP.GEMM_MIN_WEIGHTS = 0                                      # the one-product form on this small case
        for w, win in [(rng.standard_normal((3, 2, 2, 3)), Window((2, 1), (1, 2), ((1, 0), (0, 1)))),   # im2col
                       (rng.standard_normal((3, 3, 2, 8)), Window((2, 2), (1, 1), ((1, 1), (1, 1))))]:  # gemm
            out = kernels.get("conv2d_forward", "numba")(x, w, None, win)
            plans.append(plan_conv2d(w.shape, win, out.shape[:3]).forward)
            dout = rng.standard_normal(out.shape)
            got = kernels.get("conv2d_backward", "numba")(dout, x, w, win)
            want = kernels.get("conv2d_backward", "naive")(dout, x, w, win)
            pairs += [(out, kernels.get("conv2d_forward", "naive")(x, w, None, win))] + list(zip(got, want))
        assert plans == ["im2col", "gemm"], plans
        import npvision.kernels.im2col as IM
        assert type(IM.scatter_numba).__name__ == "function"       # plain Python, not compiled
        print(max(float(np.max(np.abs(a - b))) for a, b in pairs))
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert float(res.stdout.strip()) < 1e-12


def test_the_readme_trace_is_short():
    """From F.conv2d_backward to the numbers of dx, a reader steps into at most 18 functions (37
    before the kernels were reorganized; benchmarks/trace_conv_backward.py lists them)."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import trace_conv_backward as T

    order = T.trace(__import__("pathlib").Path(ROOT))
    before = [o for o in order if not o[3]]
    assert any(o[0] in T.DX_ARITHMETIC for o in before)
    assert len(before) <= 18, [o[:2] for o in before]


# --------------------------------------------------------------- shapes (hypothesis)

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 3),
       f=st.integers(1, 3), kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3),
       sw=st.integers(1, 3), dh=st.integers(1, 2), dw=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 3)] * 4))
def test_output_shape_matches_formula(n, h, w, c, f, kh, kw, sh, sw, dh, dw, pads):
    t, b, l, r = pads
    if dh * (kh - 1) + 1 > h + t + b or dw * (kw - 1) + 1 > w + l + r:
        with pytest.raises(ValueError, match="w: the kernel"):
            F.conv2d_forward(np.zeros((n, h, w, c)), np.zeros((kh, kw, c, f)),
                             stride=(sh, sw), padding=((t, b), (l, r)), dilation=(dh, dw))
        return
    x = np.ones((n, h, w, c), np.float32)
    out, cache = F.conv2d_forward(x, np.ones((kh, kw, c, f), np.float32),
                                  stride=(sh, sw), padding=((t, b), (l, r)), dilation=(dh, dw))
    assert out.shape == (n, F.conv_output_size(h, kh, sh, (t, b), dh),
                         F.conv_output_size(w, kw, sw, (l, r), dw), f)
    dx, dwt, _ = F.conv2d_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dwt.shape == (kh, kw, c, f)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 2))
def test_same_padding_gives_ceil_size(h, k, s, d):
    out, _ = F.conv2d_forward(np.zeros((1, h, h + 1, 1)), np.zeros((k, k, 1, 1)),
                              stride=s, padding="same", dilation=d)
    assert out.shape[1:3] == (-(-h // s), -(-(h + 1) // s))


# --------------------------------------------------------------- errors name the argument

X = np.zeros((2, 5, 5, 3))
W = np.zeros((3, 3, 3, 4))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.conv2d_forward(np.zeros((5, 5, 3)), W), ValueError, r"x: expected a 4-D"),
    (lambda: F.conv2d_forward(X, np.zeros((3, 3, 3))), ValueError, r"w: expected a 4-D"),
    (lambda: F.conv2d_forward(X, np.zeros((3, 3, 2, 4))), ValueError, r"x: has 3 channels .* expects 2"),
    (lambda: F.conv2d_forward(X, np.zeros((7, 3, 3, 4))), ValueError, r"w: the kernel 7x3"),
    (lambda: F.conv2d_forward(X, W, dilation=3), ValueError, r"w: the kernel .* dilation"),
    (lambda: F.conv2d_forward(X, W, stride=0), ValueError, r"stride: expected an integer >= 1, received 0"),
    (lambda: F.conv2d_forward(X, W, dilation=(1, 0)), ValueError, r"dilation: expected an integer >= 1"),
    (lambda: F.conv2d_forward(X, W, padding="full"), ValueError, r"padding: unknown padding 'full'"),
    (lambda: F.conv2d_forward(X, W, padding=-1), ValueError, r"padding: expected an integer >= 0"),
    (lambda: F.conv2d_forward(X.astype(np.uint8), W), TypeError, r"x: expected a floating-point array"),
    (lambda: F.conv2d_forward(X, W.astype(np.int64)), TypeError, r"w: expected a floating-point array"),
    (lambda: F.conv2d_forward(X, W, np.zeros(3)), ValueError, r"b: expected shape \(4,\)"),
    (lambda: F.conv2d_forward(X, W, np.zeros(4, np.int32)), TypeError, r"b: expected a floating-point"),
    (lambda: F.conv2d_backward(np.zeros((2, 3, 3, 5)), F.conv2d_forward(X, W)[1]), ValueError,
     r"dout: expected the forward output's shape \(2, 3, 3, 4\)"),
    (lambda: F.zero_pad(X, -1), ValueError, r"pad: expected an integer >= 0"),
    (lambda: F.conv_single_step(np.zeros((3, 3, 2)), np.zeros((3, 3, 3)), 0.0), ValueError, r"W: expected"),
])
def test_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
