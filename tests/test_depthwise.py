"""Depthwise convolution: gradients, backends, shapes, dtypes, errors (PyTorch agreement: test_torch_parity.py)."""

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
from npvision.kernels.window import Window

FAST_BACKENDS = ("numpy", "numba")


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def close(a, b, dtype):
    """Backend agreement: 1e-5 relative in float32, 1e-10 in float64 (atol for cancellations)."""
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(b)))))


def close_all(got, want, dtype):
    """:func:`close` for an op's result, an array or a tuple of arrays such as ``(dw, db)``;
    dtypes and shapes must match too."""
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype and g.shape == w.shape
        close(g, w, dtype)


# ---------------------------------------------------------------------------
# gradient checks (float64)
# ---------------------------------------------------------------------------

GRAD_CASES = [  # (x shape, w shape, bias, kwargs)
    ((2, 5, 6, 3), (3, 3, 3, 2), True, dict(stride=2, padding=1)),        # multiplier 2, stride 2
    ((2, 7, 6, 2), (3, 3, 2, 1), True, dict(dilation=2, padding="same")),  # dilation 2
    ((1, 6, 5, 3), (3, 2, 3, 2), False, dict(stride=(2, 1), padding=((1, 0), (0, 1)))),
    ((2, 5, 5, 4), (1, 1, 4, 3), True, dict()),                            # 1x1, multiplier 3
    ((1, 8, 7, 2), (2, 3, 2, 2), True, dict(stride=2, dilation=(2, 1), padding=(1, 2))),
]


@pytest.mark.parametrize("xs,ws,bias,kw", GRAD_CASES)
def test_depthwise_gradcheck(xs, ws, bias, kw):
    x, w = rand(xs, 0), rand(ws, 1)
    args = [x, w] + ([rand((ws[2] * ws[3],), 2)] if bias else [])
    report = check_functional(F.depthwise_conv2d_forward, F.depthwise_conv2d_backward, args, kw,
                              names=["x", "w", "b"][:len(args)])
    assert report.max_error < 1e-7
    assert set(report.errors) == set(["x", "w", "b"][:len(args)])


def test_no_bias_gives_db_none():
    out, cache = F.depthwise_conv2d_forward(rand((1, 4, 4, 2), 0), rand((3, 3, 2, 1), 1))
    dx, dw, db = F.depthwise_conv2d_backward(np.ones_like(out), cache)
    assert db is None and dx.shape == (1, 4, 4, 2) and dw.shape == (3, 3, 2, 1)


def test_matches_a_per_channel_loop():
    """Output channel c*M + m is channel c correlated with w[:, :, c, m], plus b[c*M + m]."""
    x, w, b = rand((2, 5, 4, 3), 0), rand((2, 2, 3, 2), 1), rand((6,), 2)
    out, _ = F.depthwise_conv2d_forward(x, w, b)
    for c in range(3):
        for m in range(2):
            want = sum(x[:, kh:kh + 4, kw:kw + 3, c] * w[kh, kw, c, m] for kh in range(2) for kw in range(2))
            np.testing.assert_allclose(out[..., c * 2 + m], want + b[c * 2 + m], rtol=1e-12)


# ---------------------------------------------------------------------------
# every backend equals naive (kernels, forward and both backward)
# ---------------------------------------------------------------------------

KERNEL_CASES = [  # (x shape, w shape, stride, dilation, pads ((top, bottom), (left, right)))
    ((2, 7, 8, 3), (3, 2, 3, 2), (2, 1), (1, 2), ((0, 0), (0, 0))),
    ((1, 6, 6, 5), (3, 3, 5, 1), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((2, 9, 5, 2), (2, 2, 2, 3), (3, 2), (2, 1), ((2, 0), (1, 3))),
    ((1, 4, 3, 1), (1, 1, 1, 1), (1, 1), (1, 1), ((0, 0), (0, 0))),
    ((2, 7, 6, 3), (3, 3, 3, 1), (2, 2), (2, 2), ((2, 2), (2, 1))),
    ((1, 3, 4, 2), (2, 3, 2, 1), (1, 2), (1, 1), ((4, 3), (0, 5))),   # rows/cols of padding only
    # 3x3 kernels take the numba kernels' register path away from the border, and the
    # stride-1 input gradient runs the forward kernel on dout with the kernel flipped
    ((2, 8, 9, 3), (3, 3, 3, 2), (1, 1), (2, 2), ((2, 1), (0, 3))),   # dilation 2, multiplier 2
    ((1, 9, 8, 4), (3, 3, 4, 1), (2, 2), (1, 1), ((0, 1), (1, 0))),   # stride 2, TF-style "same"
    ((1, 5, 6, 3), (3, 3, 3, 1), (1, 1), (1, 1), ((3, 4), (4, 3))),   # padding beyond the kernel's reach
    ((2, 7, 9, 2), (3, 3, 2, 1), (1, 2), (2, 1), ((1, 2), (1, 1))),   # mixed stride and dilation
    # 3x3 at stride 1 and dilation 1 runs four output rows at a time
    ((2, 11, 10, 9), (3, 3, 9, 1), (1, 1), (1, 1), ((1, 1), (1, 1))),  # 11 rows: a last block of 3
    ((1, 6, 2, 4), (3, 3, 4, 2), (1, 1), (1, 1), ((2, 0), (2, 1))),    # no column clear of the padding
    ((2, 5, 7, 3), (3, 3, 3, 1), (1, 1), (1, 1), ((0, 0), (0, 0))),    # "valid": dx pads by 2
]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("xs,ws,stride,dilation,pads", KERNEL_CASES)
def test_kernels_agree_with_naive(backend, dtype, xs, ws, stride, dilation, pads, split, monkeypatch):
    if split:                       # the numba kernels run on shares of the batch even for these sizes
        from npvision.kernels import blas
        monkeypatch.setattr(blas, "PARALLEL_SIZE", 1)
    x, w = rand(xs, 3).astype(dtype), rand(ws, 4).astype(dtype)
    b = rand((ws[2] * ws[3],), 6).astype(dtype)
    win = Window(stride, dilation, pads)
    ref = kernels.get("depthwise_conv2d_forward", "naive")(x, w, None, win)
    dout = rand(ref.shape, 5).astype(dtype)
    for op, args in [("depthwise_conv2d_forward", (x, w, None, win)),
                     ("depthwise_conv2d_forward", (x, w, b, win)),
                     ("depthwise_conv2d_backward", (dout, x, w, win))]:
        close_all(kernels.get(op, backend)(*args), kernels.get(op, "naive")(*args), dtype)
    none, dw, db = kernels.get("depthwise_conv2d_backward", backend)(dout, x, w, win, need_input_grad=False)
    assert none is None
    close_all((dw, db), kernels.get("depthwise_conv2d_backward", "naive")(dout, x, w, win)[1:], dtype)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), s_h=st.integers(1, 2), s_w=st.integers(1, 2),
       d=st.integers(1, 2), pads=st.tuples(*[st.integers(0, 3)] * 4), mult=st.integers(1, 2))
def test_numba_3x3_agrees_with_naive(h, w, s_h, s_w, d, pads, mult):
    """The 3x3 fast path and its border handling, on every size, stride, dilation and padding."""
    pads = ((pads[0], pads[1]), (pads[2], pads[3]))
    if h + pads[0][0] + pads[0][1] < 2 * d + 1 or w + pads[1][0] + pads[1][1] < 2 * d + 1:
        return                                                 # the kernel does not fit
    x, wt = rand((2, h, w, 3), 0), rand((3, 3, 3, mult), 1)
    b = rand((3 * mult,), 2)
    win = Window((s_h, s_w), (d, d), pads)
    out = kernels.get("depthwise_conv2d_forward", "numba")(x, wt, b, win)
    close(out, kernels.get("depthwise_conv2d_forward", "naive")(x, wt, b, win), np.float64)
    g = rand(out.shape, 3)
    close_all(kernels.get("depthwise_conv2d_backward", "numba")(g, x, wt, win),
              kernels.get("depthwise_conv2d_backward", "naive")(g, x, wt, win), np.float64)


def test_numba_kernels_run_without_jit():
    """NUMBA_DISABLE_JIT=1 turns the numba kernels into plain Python a student can step into."""
    code = textwrap.dedent("""
        import numpy as np
        from npvision import kernels
        from npvision.kernels.window import Window
        rng = np.random.default_rng(0)
        # a 2x3 kernel with stride 2 (the tap-by-tap loops and the gather), then a 3x3 one with
        # stride 1 (the register path, and the input gradient as a flipped forward)
        for ws, s, d, p in [((2, 3, 2, 2), (2, 1), (1, 2), ((1, 0), (2, 1))),
                            ((3, 3, 2, 2), (1, 1), (1, 1), ((1, 1), (1, 1)))]:
            x, w = rng.standard_normal((1, 5, 6, 2)), rng.standard_normal(ws)
            bias = rng.standard_normal(4)
            win = Window(s, d, p)
            out = kernels.get("depthwise_conv2d_forward", "numba")(x, w, bias, win)
            assert np.allclose(out, kernels.get("depthwise_conv2d_forward", "naive")(x, w, bias, win))
            got = kernels.get("depthwise_conv2d_backward", "numba")(out, x, w, win)
            want = kernels.get("depthwise_conv2d_backward", "naive")(out, x, w, win)
            assert all(np.allclose(a, b) for a, b in zip(got, want))
        import npvision.kernels.depthwise as DW
        assert type(DW._dw_fwd_3x3_s1).__name__ == "function"     # plain Python, not compiled
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1",
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


# ---------------------------------------------------------------------------
# shapes (property), dtypes
# ---------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 10), w=st.integers(1, 10), k=st.integers(1, 4), s=st.integers(1, 3),
       d=st.integers(1, 2), p=st.integers(0, 2), mult=st.integers(1, 2))
def test_output_shape_matches_formula(h, w, k, s, d, p, mult):
    x = np.zeros((1, h, w, 2), np.float32)
    wt = np.zeros((k, k, 2, mult), np.float32)
    ho, wo = F.conv_output_size(h, k, s, p, d), F.conv_output_size(w, k, s, p, d)
    if ho < 1 or wo < 1:
        with pytest.raises(ValueError, match="w: the kernel spans"):
            F.depthwise_conv2d_forward(x, wt, stride=s, padding=p, dilation=d)
        return
    out, cache = F.depthwise_conv2d_forward(x, wt, stride=s, padding=p, dilation=d)
    assert out.shape == (1, ho, wo, 2 * mult)
    dx, dw, _ = F.depthwise_conv2d_backward(out, cache)
    assert dx.shape == x.shape and dw.shape == wt.shape


@pytest.mark.parametrize("h,w,s", [(7, 8, 1), (7, 8, 2), (5, 5, 3)])
def test_same_padding_gives_ceil_output(h, w, s):
    out, _ = F.depthwise_conv2d_forward(np.zeros((1, h, w, 2)), np.zeros((3, 3, 2, 1)), stride=s, padding="same")
    assert out.shape == (1, -(-h // s), -(-w // s), 2)


def test_dtype_is_kept():
    x32 = rand((1, 5, 5, 2), 0).astype(np.float32)
    w64, b64 = rand((3, 3, 2, 2), 1), rand((4,), 2)
    out, cache = F.depthwise_conv2d_forward(x32, w64, b64, padding=1)
    assert out.dtype == np.float32
    dx, dw, db = F.depthwise_conv2d_backward(np.ones(out.shape), cache)
    assert dx.dtype == np.float32 and dw.dtype == np.float64 and db.dtype == np.float64
    out64, _ = F.depthwise_conv2d_forward(x32.astype(np.float64), w64, b64, padding=1)
    np.testing.assert_allclose(out, out64, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    x, w = np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 2))
    fwd = F.depthwise_conv2d_forward
    with pytest.raises(ValueError, match=r"x: expected a 4-D .*received shape \(5, 5, 3\)"):
        fwd(x[0], w)
    with pytest.raises(ValueError, match=r"w: expected a 4-D \(KH, KW, C, M\) array, received shape \(3, 3, 3\)"):
        fwd(x, w[..., 0])
    with pytest.raises(ValueError, match=r"x: has 3 channels but w of shape \(3, 3, 4, 2\).*expects 4"):
        fwd(x, np.zeros((3, 3, 4, 2)))
    with pytest.raises(TypeError, match=r"x: expected a floating-point array.*uint8"):
        fwd(np.zeros((1, 5, 5, 3), np.uint8), w)
    with pytest.raises(TypeError, match=r"w: expected a floating-point array.*int32"):
        fwd(x, np.zeros((3, 3, 3, 2), np.int32))
    with pytest.raises(ValueError, match=r"padding: unknown padding 'full'"):
        fwd(x, w, padding="full")
    with pytest.raises(ValueError, match=r"b: expected shape \(6,\) \(C\*M = 3\*2\), received \(3,\)"):
        fwd(x, w, np.zeros(3))
    with pytest.raises(ValueError, match=r"stride: expected an integer >= 1, received 0"):
        fwd(x, w, stride=0)
    with pytest.raises(ValueError, match=r"dilation: expected an integer >= 1, received 0"):
        fwd(x, w, dilation=(1, 0))
    with pytest.raises(ValueError, match=r"w: the kernel spans 7 pixels along the height.*padded input's 5"):
        fwd(x, np.zeros((4, 1, 3, 1)), dilation=2)
    out, cache = fwd(x, w)
    with pytest.raises(ValueError, match=r"dout: expected shape \(1, 3, 3, 6\).*received \(1, 3, 3, 3\)"):
        F.depthwise_conv2d_backward(np.zeros((1, 3, 3, 3)), cache)
    with pytest.raises(TypeError, match=r"cache: expected the cache returned by depthwise_conv2d_forward"):
        F.depthwise_conv2d_backward(out, (x, w))
