"""npvision.kernels.winograd: F(2x2, 3x3) equals the direct convolution, and the numba backend uses it."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import npvision.kernels.conv_plan as CP
import npvision.kernels.winograd as WG
from npvision.kernels.reference import conv2d as reference

from _conv_helpers import conv_by_backend, spy_on_algorithms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(1e-30, np.max(np.abs(b))))


def padded(x, top, bottom, left, right):
    """x read as the module docstring says: zero rows/columns added, or (negative) cut off."""
    xp = np.pad(x, ((0, 0), (max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0)), (0, 0)))
    return xp[:, max(-top, 0):xp.shape[1] - max(-bottom, 0), max(-left, 0):xp.shape[2] - max(-right, 0)]


def direct(x, w, dout, pads):
    """The reference loops' forward and weight gradient on the padded input."""
    xp = padded(x, *pads)
    out = reference.conv2d_forward(xp, w, (1, 1), (1, 1))
    dw = None if dout is None else reference.conv2d_backward(dout, xp, w, (1, 1), (1, 1))[1]
    return out, dw


GEOMETRY = [
    # (N, H, W, C, F, (top, bottom, left, right))
    (2, 8, 8, 3, 4, (1, 1, 1, 1)),        # even output: whole tiles
    (2, 7, 6, 3, 4, (1, 1, 1, 1)),        # odd output height: the last tile row is cut
    (1, 5, 8, 2, 3, (0, 0, 2, 1)),        # no vertical padding, uneven horizontal
    (2, 9, 9, 4, 2, (3, 4, 1, 2)),        # padding beyond the kernel's reach
    (1, 6, 5, 2, 2, (-1, 0, 0, -1)),      # negative: rows and columns of x skipped (dx of a wide pad)
    (3, 3, 3, 1, 1, (0, 0, 0, 0)),        # a single output pixel per image
    (1, 1, 4, 2, 3, (1, 1, 0, 0)),        # one input row
]


@pytest.mark.parametrize("tiles_per_block", [WG.TILES_PER_BLOCK, 1])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("geometry", GEOMETRY)
def test_forward_and_weight_gradient_equal_the_direct_sums(geometry, dtype, tol, tiles_per_block, monkeypatch):
    monkeypatch.setattr(WG, "TILES_PER_BLOCK", tiles_per_block)  # 1: one tile row per block, many blocks
    N, H, W, C, Fo, pads = geometry
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((3, 3, C, Fo)).astype(dtype)
    ref, _ = direct(x, w, None, pads)
    dout = rng.standard_normal(ref.shape).astype(dtype)
    ref, ref_dw = direct(x, w, dout, pads)
    top, _, left, _ = pads
    out = WG.conv3x3_forward(x, w, top, left, ref.shape[1], ref.shape[2])
    dw, db = WG.conv3x3_backward_params(dout, x, top, left)
    assert out.dtype == dw.dtype == db.dtype == dtype and out.shape == ref.shape and dw.shape == w.shape
    assert rel(out, ref) < tol and rel(dw, ref_dw) < tol, (rel(out, ref), rel(dw, ref_dw))
    assert rel(db, dout.sum(axis=(0, 1, 2))) < tol


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 4), f=st.integers(1, 4),
       pads=st.tuples(*[st.integers(-1, 3)] * 4))
def test_any_geometry_equals_the_direct_sums(n, h, w, c, f, pads):
    top, bottom, left, right = pads
    if h + top + bottom < 3 or w + left + right < 3:
        return                                                   # the kernel does not fit
    rng = np.random.default_rng(h * 100 + w)
    x, k = rng.standard_normal((n, h, w, c)), rng.standard_normal((3, 3, c, f))
    ref, _ = direct(x, k, None, pads)
    dout = rng.standard_normal(ref.shape)
    ref, ref_dw = direct(x, k, dout, pads)
    assert rel(WG.conv3x3_forward(x, k, top, left, *ref.shape[1:3]), ref) < 1e-12
    dw, db = WG.conv3x3_backward_params(dout, x, top, left)
    assert rel(dw, ref_dw) < 1e-12 and rel(db, dout.sum(axis=(0, 1, 2))) < 1e-12


def test_weight_transform_is_g_times_filter_times_g_transpose():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 3, 2, 5))
    U = WG.weight_transform(w).reshape(4, 4, 2, 5)
    G = WG._G
    for c, f in [(0, 0), (1, 3)]:
        np.testing.assert_allclose(U[:, :, c, f], G @ w[:, :, c, f] @ G.T, rtol=1e-14)
    dU = rng.standard_normal((16, 2, 5))                         # and its adjoint: <U(w), dU> = <w, dg>
    np.testing.assert_allclose(np.sum(U * dU.reshape(4, 4, 2, 5)), np.sum(w * WG._weight_gradient(dU)), rtol=1e-12)


@pytest.mark.parametrize("padding", [1, 0, "same", ((3, 0), (2, 4))])
def test_numba_backend_routes_3x3_stride_1_through_winograd(padding, monkeypatch):
    """conv2d forward and backward on 32 channels go through Winograd, and equal naive."""
    calls = spy_on_algorithms(monkeypatch)
    monkeypatch.setattr(CP, "WINOGRAD_MIN_PIXELS", 1)              # these small maps too
    rng = np.random.default_rng(2)
    C = CP.WINOGRAD_MIN_CHANNELS
    x = rng.standard_normal((2, 7, 6, C))
    w, b = rng.standard_normal((3, 3, C, C)), rng.standard_normal(C)
    results = conv_by_backend(x, w, b, padding)
    # forward, dx (a forward on dout) and dw, for numba and for auto
    assert calls == ["forward winograd", "input_grad winograd", "weight_grad winograd"] * 2
    for backend in ("numba", "auto"):
        for got, want in zip(results[backend], results["naive"]):
            assert rel(got, want) < 1e-12


def test_winograd_runs_without_jit():
    """NUMBA_DISABLE_JIT=1: the tile transforms run as plain Python and still agree."""
    script = textwrap.dedent("""
        import numpy as np
        import npvision.kernels.winograd as WG
        from npvision.kernels.reference import conv2d as reference
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 5, 4, 2)); w = rng.standard_normal((3, 3, 2, 3))
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        ref = reference.conv2d_forward(xp, w, (1, 1), (1, 1))
        dout = rng.standard_normal(ref.shape)
        _, ref_dw, ref_db = reference.conv2d_backward(dout, xp, w, (1, 1), (1, 1))
        out = WG.conv3x3_forward(x, w, 1, 1, 5, 4)
        dw, db = WG.conv3x3_backward_params(dout, x, 1, 1)
        assert type(WG._input_tiles).__name__ == "function"       # plain Python, not compiled
        print(max(float(np.max(np.abs(out - ref))), float(np.max(np.abs(dw - ref_dw))),
                  float(np.max(np.abs(db - ref_db)))))
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert float(res.stdout.strip()) < 1e-12
