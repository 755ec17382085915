"""Tests of npvision.functional.conv_transpose."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import npvision
import npvision.functional as F
from npvision.gradcheck import check_functional


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(1e-30, np.max(np.abs(b))))


def test_two_by_two_example_stamps_and_overlaps():
    """The docstring's example: a 2x2 input, a 3x3 kernel of ones, stride 2 -> 5x5."""
    x = np.array([1.0, 10.0, 100.0, 1000.0]).reshape(1, 2, 2, 1)
    out, _ = F.conv_transpose2d_forward(x, np.ones((3, 3, 1, 1)), stride=2)
    expected = np.array([[1, 1, 11, 10, 10],
                         [1, 1, 11, 10, 10],
                         [101, 101, 1111, 1010, 1010],
                         [100, 100, 1100, 1000, 1000],
                         [100, 100, 1100, 1000, 1000]], dtype=float)
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


def _without_bias(backward, dout, cache):
    dx, dw, db = backward(dout, cache)
    assert db is None
    return dx, dw


# --------------------------------------------------------------- gradient checks (float64)

GRAD_CASES = [
    # (x shape, w shape (KH, KW, C_out, C_in), kwargs, bias)
    ((2, 3, 4, 3), (3, 3, 2, 3), dict(stride=2, padding=1, output_padding=1), True),
    ((2, 3, 3, 2), (2, 2, 3, 2), dict(stride=2), True),                             # k = stride
    ((1, 4, 3, 2), (3, 2, 2, 2), dict(stride=(1, 2), padding=(1, 0)), False),
    ((2, 3, 3, 2), (4, 3, 2, 2), dict(stride=2, padding="same"), True),
    ((1, 3, 4, 2), (3, 3, 2, 2), dict(stride=1, padding=1, dilation=2, output_padding=1), True),
    ((1, 2, 3, 2), (1, 1, 3, 2), dict(stride=3, output_padding=2), True),           # 1x1, gaps between stamps
]


@pytest.mark.parametrize("xs, ws, kw, bias", GRAD_CASES)
def test_conv_transpose2d_gradcheck(xs, ws, kw, bias):
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(xs), rng.standard_normal(ws)]
    if bias:
        args.append(rng.standard_normal(ws[2]))
    backward = F.conv_transpose2d_backward if bias else (lambda dout, cache: _without_bias(F.conv_transpose2d_backward, dout, cache))
    report = check_functional(F.conv_transpose2d_forward, backward, args, kw, tol=1e-7)
    assert len(report.errors) == len(args)


def test_output_size_formula_and_same():
    x = np.zeros((1, 5, 4, 2))
    out, _ = F.conv_transpose2d_forward(x, np.zeros((3, 3, 3, 2)), stride=2, padding=1, output_padding=1)
    assert out.shape == (1, (5 - 1) * 2 - 2 + 3 + 1, (4 - 1) * 2 - 2 + 3 + 1, 3)
    for k, s in [(3, 2), (2, 2), (1, 3), (4, 2), (5, 1)]:
        out, _ = F.conv_transpose2d_forward(x, np.zeros((k, k, 3, 2)), stride=s, padding="same")
        assert out.shape == (1, 5 * s, 4 * s, 3)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_backends_match_naive(backend):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    for kw in (dict(stride=2, padding=1, output_padding=1), dict(stride=(3, 2), dilation=(1, 2)),
               dict(stride=1, padding="same"),
               # output_padding >= stride (allowed below the dilation): the backward's convolution
               # must drop the extra rows, from the crop (padding 1) or from dout itself (padding 0)
               dict(stride=1, dilation=2, output_padding=1, padding=1),
               dict(stride=1, dilation=2, output_padding=1),
               dict(stride=(2, 1), dilation=(3, 2), output_padding=(2, 1))):
        res = {}
        for be in ("naive", backend):
            with npvision.use_backend(be):
                out, cache = F.conv_transpose2d_forward(x, w, b, **kw)
                dout = np.cos(np.arange(out.size, dtype=np.float32)).reshape(out.shape)
                res[be] = (out,) + F.conv_transpose2d_backward(dout, cache)
        for got, want in zip(res[backend], res["naive"]):
            assert got.dtype == np.float32 and rel(got, want) < 1e-5


# --------------------------------------------------------------- the adjoint identity (hypothesis)

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 10), w=st.integers(1, 10), c_in=st.integers(1, 3),
       c_out=st.integers(1, 3), kh=st.integers(1, 4), kw=st.integers(1, 4), s=st.integers(1, 3),
       d=st.integers(1, 2), p=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_adjoint_of_conv2d(n, h, w, c_in, c_out, kh, kw, s, d, p, seed):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the conv's input size x."""
    span_h, span_w = d * (kh - 1) + 1, d * (kw - 1) + 1
    if span_h > h + 2 * p or span_w > w + 2 * p:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c_in))
    wt = rng.standard_normal((kh, kw, c_in, c_out))
    y_shape = (n, F.conv_output_size(h, kh, s, p, d), F.conv_output_size(w, kw, s, p, d), c_out)
    y = rng.standard_normal(y_shape)
    conv, _ = F.conv2d_forward(x, wt, stride=s, padding=p, dilation=d)
    # The transpose must come back to x's size: output_padding takes up the rows the conv's stride skipped.
    op = (h - F.conv_transpose_output_size(y_shape[1], kh, s, p, d),
          w - F.conv_transpose_output_size(y_shape[2], kw, s, p, d))
    if max(op[0], op[1]) >= max(s, d):
        return
    tconv, _ = F.conv_transpose2d_forward(y, wt, stride=s, padding=p, dilation=d, output_padding=op)
    assert conv.shape == y.shape and tconv.shape == x.shape
    lhs, rhs = np.vdot(conv, y), np.vdot(x, tconv)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 6), k=st.integers(1, 4), s=st.integers(1, 3), seed=st.integers(0, 999))
def test_same_transpose_is_adjoint_of_same_conv(h, k, s, seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((1, h, h, 2))
    wt = rng.standard_normal((k, k, 3, 2))
    tconv, _ = F.conv_transpose2d_forward(y, wt, stride=s, padding="same")
    z = rng.standard_normal(tconv.shape)
    conv, _ = F.conv2d_forward(z, wt, stride=s, padding="same")
    assert conv.shape == y.shape
    assert np.vdot(conv, y) == pytest.approx(np.vdot(z, tconv), rel=1e-9, abs=1e-9)


def test_dtype_is_kept():
    x = np.ones((1, 2, 2, 3), np.float32)
    out, cache = F.conv_transpose2d_forward(x, np.ones((2, 2, 4, 3)), np.zeros(4), stride=2)
    assert out.dtype == np.float32
    dx, dw, db = F.conv_transpose2d_backward(np.ones_like(out), cache)
    assert dx.dtype == np.float32 and dw.dtype == np.float64 and db.dtype == np.float64


# --------------------------------------------------------------- errors name the argument

X = np.zeros((1, 3, 3, 2))
W = np.zeros((3, 3, 4, 2))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: F.conv_transpose2d_forward(np.zeros((3, 3, 2)), W), ValueError, r"x: expected a 4-D"),
    (lambda: F.conv_transpose2d_forward(X, np.zeros((3, 3, 4, 5))), ValueError, r"x: has 2 channels .* expects 5"),
    (lambda: F.conv_transpose2d_forward(X, W, stride=2, output_padding=2), ValueError,
     r"output_padding: expected a value smaller than the stride \(2\)"),
    (lambda: F.conv_transpose2d_forward(X, W, stride=2, padding="same", output_padding=1), ValueError,
     r"output_padding: must be 0 with padding='same'"),
    (lambda: F.conv_transpose2d_forward(X, W, stride=0), ValueError, r"stride: expected an integer >= 1"),
    (lambda: F.conv_transpose2d_forward(X, W, padding="full"), ValueError, r"padding: unknown padding"),
    (lambda: F.conv_transpose2d_forward(X, W, padding=4), ValueError, r"padding: 4 crops the 5x5 result"),
    (lambda: F.conv_transpose2d_forward(X.astype(np.int32), W), TypeError, r"x: expected a floating-point"),
    (lambda: F.conv_transpose2d_forward(X, W, np.zeros(2)), ValueError, r"b: expected shape \(4,\)"),
    (lambda: F.conv_transpose2d_backward(np.zeros((1, 5, 5, 3)), F.conv_transpose2d_forward(X, W)[1]),
     ValueError, r"dout: expected the forward output's shape"),
])
def test_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
