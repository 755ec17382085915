"""RoI pooling and RoIAlign: torchvision's goldens, backends against naive, gradients, rules, errors, layers."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
import npvision.nn as nn
from npvision import kernels
from npvision.gradcheck import check_functional, check_module

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
BACKENDS = ("naive", "numpy", "numba")
FAST_BACKENDS = ("numpy", "numba")


def _load_script():
    spec = importlib.util.spec_from_file_location("make_roi_goldens", DATA / "make_roi_goldens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDENS = _load_script()


def close(a, b, dtype):
    """Agreement: 1e-5 relative in float32, 1e-10 in float64 (atol scaled by the largest value)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-10
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def run_op(op, x, rois, dout, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Forward then backward of ``op`` ('pool' or 'align') with the backend in force."""
    if op == "pool":
        out, cache = F.roi_pool_forward(x, rois, output_size, spatial_scale)
        return out, F.roi_pool_backward(dout, cache)
    out, cache = F.roi_align_forward(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
    return out, F.roi_align_backward(dout, cache)


# ---------------------------------------------------------------------------
# torchvision goldens (tests/data/make_roi_goldens.py, run by hand)
# ---------------------------------------------------------------------------

def _stored(op):
    return np.load(GOLDENS.FILES[op])


def _golden_params():
    params = []
    for op in GOLDENS.FILES:
        for case in json.loads(str(_stored(op)["cases"])):
            for backend in BACKENDS:
                params.append(pytest.param(op, case, backend, id=f"{case['name']}-{backend}"))
    return params


@pytest.mark.parametrize("op,case,backend", _golden_params())
def test_matches_torchvision_goldens(op, case, backend):
    data = _stored(op)
    name = case["name"]
    x, rois, dout = data[f"{name}/x"], data[f"{name}/rois"], data[f"{name}/dout"]
    with kernels.use_backend(backend):
        out, dx = run_op(op, x, rois, dout, tuple(case["output_size"]), case["spatial_scale"],
                         case["sampling_ratio"], case["aligned"])
    assert out.dtype == dx.dtype == np.dtype(case["dtype"])
    close(out, data[f"{name}/out"], case["dtype"])
    close(dx, data[f"{name}/dx"], case["dtype"])


def test_golden_files_hold_exactly_the_scripts_cases():
    for op, path in GOLDENS.FILES.items():
        data = np.load(path)
        stored = json.loads(str(data["cases"]))
        listed = [c for c in GOLDENS.CASES if c["op"] == op]
        assert stored == listed, f"{path.name} is stale: run tests/data/make_roi_goldens.py"
        for case in listed:
            for key, value in zip(("x", "rois", "dout"), GOLDENS.make_inputs(case)):
                np.testing.assert_array_equal(data[f"{case['name']}/{key}"], value, err_msg=case["name"])
    assert len({c["name"] for c in GOLDENS.CASES}) == len(GOLDENS.CASES)


def test_goldens_cover_every_rule():
    """The case list exercises each setting the brief names (guards against trimming it)."""
    align = [c for c in GOLDENS.CASES if c["op"] == "align"]
    assert {c["aligned"] for c in align} == {False, True}
    assert {c["sampling_ratio"] for c in align} >= {-1, 0, 1, 2}
    assert {c["spatial_scale"] for c in GOLDENS.CASES} >= {1.0, 0.5, 0.25}
    assert {c["dtype"] for c in GOLDENS.CASES} == {"float32", "float64"}
    kinds = {c["rois"] for c in GOLDENS.CASES}
    assert {"outside", "tiny", "halves", "many", "big"} <= kinds
    # the stored outputs really contain empty bins / empty grids (all-zero outputs, no gradient)
    for op, name in [("pool", "pool_outside_empty_bins"), ("align", "align_tiny_aligned"),
                     ("align", "align_s1_outside")]:
        out = _stored(op)[f"{name}/out"]
        assert (out == 0).all(axis=-1).any(), name


# ---------------------------------------------------------------------------
# every backend equals naive
# ---------------------------------------------------------------------------

def random_rois(rng, n, h, w, scale, k):
    """``k`` rois mixing inside, partly and wholly outside, tiny, zero-size and inverted boxes."""
    W, H = w / scale, h / scale
    x1 = rng.uniform(-0.4 * W, 1.1 * W, k)
    y1 = rng.uniform(-0.4 * H, 1.1 * H, k)
    bw = rng.choice([0.0, 0.3, 1.0, 3.0, 0.6 * W], k) * rng.uniform(0.5, 1.5, k)
    bh = rng.choice([0.0, 0.4, 1.0, 3.0, 0.6 * H], k) * rng.uniform(0.5, 1.5, k)
    sign = np.where(rng.random(k) < 0.1, -1.0, 1.0)                       # some inverted
    boxes = np.stack([x1, y1, x1 + sign * bw / scale, y1 + sign * bh / scale], 1)
    boxes[: k // 5] = np.round(boxes[: k // 5] * 2) / 2                   # corners on halves
    batch = rng.integers(0, n, k)
    return np.concatenate([batch[:, None], boxes], 1)                     # (K, 5)


AGREE_CASES = [  # (N, H, W, C, K, output_size, spatial_scale)
    (3, 7, 9, 5, 24, (3, 3), 1.0),
    (2, 8, 5, 19, 16, (2, 4), 0.5),
    (1, 11, 13, 3, 40, (7, 7), 0.25),         # many rois on one image
    (2, 1, 6, 4, 10, (3, 2), 1.0),            # a one-row map
    (2, 6, 6, 1, 12, (1, 1), 0.3),
]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("n,h,w,c,k,size,scale", AGREE_CASES)
def test_roi_pool_backends_agree_with_naive(n, h, w, c, k, size, scale, dtype, backend, split, monkeypatch):
    if split:                        # the numba kernels share rois out among threads even for these sizes
        monkeypatch.setattr(kernels.roi, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(h * 100 + k)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    x[0, 0, :3] = 1.5                                                    # ties
    rois = random_rois(rng, n, h, w, scale, k).astype(dtype)
    dout = rng.standard_normal((k,) + size + (c,)).astype(dtype)
    ref, ref_arg = kernels.get("roi_pool_forward", "naive")(x, rois, size, scale)
    got, arg = kernels.get("roi_pool_forward", backend)(x, rois, size, scale)
    assert got.dtype == dtype and arg.dtype == np.int32
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(arg, ref_arg)
    batch = rois[:, 0].astype(np.int64)
    want = kernels.get("roi_pool_backward", "naive")(dout, batch, ref_arg, x.shape)
    got = kernels.get("roi_pool_backward", backend)(dout, batch, ref_arg, x.shape)
    assert got.dtype == dtype
    close(got, want, dtype)


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("sampling_ratio,aligned", [(-1, False), (0, True), (1, False), (2, True), (3, False)])
@pytest.mark.parametrize("n,h,w,c,k,size,scale", AGREE_CASES)
def test_roi_align_backends_agree_with_naive(n, h, w, c, k, size, scale, sampling_ratio, aligned, dtype,
                                             backend, split, monkeypatch):
    if split:
        monkeypatch.setattr(kernels.roi, "PARALLEL_SIZE", 1)
    rng = np.random.default_rng(h * 100 + k + sampling_ratio)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    rois = random_rois(rng, n, h, w, scale, k).astype(dtype)
    dout = rng.standard_normal((k,) + size + (c,)).astype(dtype)
    args = (size, scale, sampling_ratio, aligned)
    want = kernels.get("roi_align_forward", "naive")(x, rois, *args)
    got = kernels.get("roi_align_forward", backend)(x, rois, *args)
    assert got.dtype == dtype
    close(got, want, dtype)
    want = kernels.get("roi_align_backward", "naive")(dout, rois, x.shape, *args)
    got = kernels.get("roi_align_backward", backend)(dout, rois, x.shape, *args)
    assert got.dtype == dtype
    close(got, want, dtype)


def test_roi_kernels_are_registered_with_numba_fastest():
    table, fastest = kernels.ops(), kernels.fastest()
    for op in ("roi_pool_forward", "roi_pool_backward", "roi_align_forward", "roi_align_backward"):
        assert table[op] == ("naive", "numba", "numpy")
        assert fastest[op] == "numba"


def test_numba_kernels_run_without_jit():
    """NUMBA_DISABLE_JIT=1 turns the numba kernels into plain Python a student can step into."""
    code = textwrap.dedent("""
        import numpy as np
        from npvision import kernels
        from npvision.kernels import roi
        roi.PARALLEL_SIZE = 1                  # the threaded path too
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 5, 6, 3))
        rois = np.array([[0, 0.5, 1.0, 4.2, 3.9], [1, -2.0, -1.0, 3.0, 7.0], [1, 2.0, 2.0, 2.0, 2.5]])
        dout = rng.standard_normal((3, 2, 3, 3))
        for backend in ("naive", "numba"):
            o, a = kernels.get("roi_pool_forward", backend)(x, rois, (2, 3), 0.8)
            d = kernels.get("roi_pool_backward", backend)(dout, rois[:, 0].astype(np.int64), a, x.shape)
            p = kernels.get("roi_align_forward", backend)(x, rois, (2, 3), 0.8, -1, True)
            q = kernels.get("roi_align_backward", backend)(dout, rois, x.shape, (2, 3), 0.8, -1, True)
            if backend == "naive":
                ref = (o, a, d, p, q)
        for got, want in zip((o, a, d, p, q), ref):
            assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
        print("ok")
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


# ---------------------------------------------------------------------------
# gradient checks (float64)
# ---------------------------------------------------------------------------

def distinct(shape, seed=0):
    """Values -1, -0.9, ... in random order: no ties in any bin (RoI pooling's only kinks)."""
    rng = np.random.default_rng(seed)
    return 0.1 * rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) - 1.0


GRAD_ROIS = np.array([[0, 0.4, 1.2, 5.3, 4.6],        # inside, overlapping the next one
                      [0, 2.2, 0.3, 7.9, 5.1],
                      [1, -2.0, -1.6, 3.3, 2.7],       # partly outside
                      [1, 5.6, 3.1, 6.2, 3.4],         # smaller than a pixel
                      [1, 9.0, 7.0, 12.0, 9.0],        # wholly outside: nothing flows back
                      [0, -0.7, 4.2, 1.4, 5.8]])       # in the margin at the left edge


@pytest.mark.parametrize("size,scale", [((3, 3), 1.0), ((2, 3), 0.5), ((4, 2), 0.8)])
def test_roi_pool_gradcheck(size, scale):
    x = distinct((2, 6, 8, 3))
    check_functional(F.roi_pool_forward, F.roi_pool_backward, [x, GRAD_ROIS],
                     dict(output_size=size, spatial_scale=scale))


@pytest.mark.parametrize("size,scale,sampling_ratio,aligned", [
    ((3, 3), 1.0, -1, False), ((2, 3), 0.5, 2, True), ((3, 2), 0.8, 0, True), ((2, 2), 1.0, 1, False),
    ((1, 4), 0.7, 3, False)])
def test_roi_align_gradcheck(size, scale, sampling_ratio, aligned):
    x = np.random.default_rng(1).standard_normal((2, 6, 8, 3))
    check_functional(F.roi_align_forward, F.roi_align_backward, [x, GRAD_ROIS],
                     dict(output_size=size, spatial_scale=scale, sampling_ratio=sampling_ratio,
                          aligned=aligned))


class _WithRois(nn.Module):
    """A one-input wrapper of a RoI layer with fixed rois, for check_module."""

    def __init__(self, layer, rois):
        super().__init__()
        self.layer, self.rois = layer, rois

    def forward(self, x):
        return self.layer.forward(x, self.rois)

    def backward(self, dy):
        return self.layer.backward(dy)


@pytest.mark.parametrize("layer", [nn.RoIPool((2, 3), 0.5), nn.RoIAlign(3, 0.8, 2, True),
                                   nn.RoIAlign((2, 2), 1.0)])
def test_layers_gradcheck(layer):
    check_module(_WithRois(layer, GRAD_ROIS), distinct((2, 6, 8, 3), seed=3))


# ---------------------------------------------------------------------------
# the rules, by hand
# ---------------------------------------------------------------------------

def test_roi_pool_by_hand():
    x = np.arange(16.0).reshape(1, 4, 4, 1)          # x[0, h, w, 0] = 4 h + w
    out, cache = F.roi_pool_forward(x, [[0, 0, 0, 3, 3]], 2)   # inclusive: 4x4 pixels, bins of 2x2
    np.testing.assert_array_equal(out[0, :, :, 0], [[5, 7], [13, 15]])
    # corners are rounded half away from zero: 0.5 -> 1, 2.5 -> 3; 1.49 -> 1
    out, _ = F.roi_pool_forward(x, [[0, 0.5, 0.5, 2.5, 1.49]], 1)
    assert out[0, 0, 0, 0] == x[0, 1, 3, 0]          # rows 1..1, cols 1..3
    # a roi of a single pixel with a 2x2 output: every bin is that pixel
    out, cache = F.roi_pool_forward(x, [[0, 2, 1, 2, 1]], 2)
    np.testing.assert_array_equal(out[0, :, :, 0], np.full((2, 2), 6.0))
    dx = F.roi_pool_backward(np.ones((1, 2, 2, 1)), cache)
    assert dx[0, 1, 2, 0] == 4.0 and dx.sum() == 4.0  # all four bins send their gradient there


def test_roi_pool_whole_map_with_one_pixel_bins_is_the_identity():
    x = np.random.default_rng(0).standard_normal((2, 5, 7, 3))
    out, _ = F.roi_pool_forward(x, [[1, 0, 0, 6, 4]], (5, 7))
    np.testing.assert_array_equal(out[0], x[1])


def test_roi_pool_empty_bins_give_zero_and_no_gradient():
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 2)) - 10.0   # every value negative
    out, cache = F.roi_pool_forward(x, [[0, 2, 2, 5, 5]], 4)              # rows/cols 4 and 5 are off the map
    assert (out[0, :2, :2] < 0).all()                                      # bins on the map: their max
    assert (out[0, 2:] == 0).all() and (out[0, :, 2:] == 0).all()
    assert (cache.argmax[0, 2:] == -1).all()
    dx = F.roi_pool_backward(np.ones_like(out), cache)
    assert dx.sum() == 4 * 2                                               # four live bins, two channels


def test_roi_pool_ties_send_the_gradient_to_the_first_maximum():
    x = np.array([[1.0, 3.0], [3.0, 3.0]]).reshape(1, 2, 2, 1)
    for backend in BACKENDS:
        with kernels.use_backend(backend):
            out, cache = F.roi_pool_forward(x, [[0, 0, 0, 1, 1]], 1)
            dx = F.roi_pool_backward(np.ones((1, 1, 1, 1)), cache)
        np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 1], [0, 0]], err_msg=backend)


def test_roi_align_reproduces_a_linear_map_at_bin_centres():
    # bilinear sampling is exact on a linear function, and a bin's samples are symmetric
    # about its centre, so an interior roi gives f(bin centre) for any grid.
    h, w = 9, 11
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x = (0.7 * yy - 0.3 * xx + 2.0)[None, :, :, None]
    y1, x1, y2, x2 = 1.3, 2.1, 6.7, 8.4
    for aligned, sr in [(False, -1), (True, 2), (True, 1), (False, 3)]:
        out, _ = F.roi_align_forward(x, [[0, x1, y1, x2, y2]], (3, 4), 1.0, sr, aligned)
        o = 0.5 if aligned else 0.0
        cy = (y1 - o) + (np.arange(3) + 0.5) * (y2 - y1) / 3
        cx = (x1 - o) + (np.arange(4) + 0.5) * (x2 - x1) / 4
        np.testing.assert_allclose(out[0, :, :, 0], 0.7 * cy[:, None] - 0.3 * cx[None, :] + 2.0,
                                   rtol=1e-12, err_msg=f"aligned={aligned} sampling_ratio={sr}")


def test_roi_align_aligned_whole_map_is_the_identity():
    x = np.random.default_rng(0).standard_normal((1, 5, 6, 2))
    out, _ = F.roi_align_forward(x, [[0, 0, 0, 6, 5]], (5, 6), sampling_ratio=1, aligned=True)
    np.testing.assert_allclose(out[0], x[0], rtol=1e-12)


def test_roi_align_border_rules():
    x = np.arange(1.0, 13.0).reshape(1, 3, 4, 1)     # 3 rows, 4 cols
    one = dict(output_size=1, sampling_ratio=1, aligned=True)
    # a point in the margin (-1, 0] reads the border pixel; (H-1, H] reads the last row alone
    for (py, px), want in [((-0.6, 1.0), x[0, 0, 1, 0]), ((2.7, 3.4), x[0, 2, 3, 0]),
                           ((-0.99, -0.99), x[0, 0, 0, 0])]:
        # aligned, sampling_ratio 1, 1x1 output: the single sample is the roi's centre - 0.5
        roi = [0, px + 0.5 - 0.05, py + 0.5 - 0.05, px + 0.5 + 0.05, py + 0.5 + 0.05]
        out, _ = F.roi_align_forward(x, [roi], **one)
        assert out[0, 0, 0, 0] == pytest.approx(want), (py, px)
    # more than one pixel outside: 0 and no gradient
    out, cache = F.roi_align_forward(x, [[0, -1.3, 0.5, -1.1, 0.7]], **one)
    assert out[0, 0, 0, 0] == 0
    assert not F.roi_align_backward(np.ones_like(out), cache).any()


def test_roi_align_empty_grid_gives_zero():
    x = np.ones((1, 4, 4, 2))
    # aligned allows a zero-size roi; with sampling_ratio <= 0 its grid is ceil(0) = 0 samples
    out, cache = F.roi_align_forward(x, [[0, 1.0, 1.0, 1.0, 3.0]], 2, aligned=True)
    assert not out.any() and not F.roi_align_backward(np.ones_like(out), cache).any()
    # not aligned, the same roi is stretched to 1 pixel and samples the ones
    out, _ = F.roi_align_forward(x, [[0, 1.0, 1.0, 1.0, 3.0]], 2, aligned=False)
    np.testing.assert_allclose(out, 1.0)


def test_roi_align_sampling_ratio_nonpositive_means_ceil_of_roi_over_output():
    x = np.random.default_rng(0).standard_normal((1, 12, 12, 2))
    roi = [[0, 0.3, 1.1, 9.1, 6.4]]                   # h = 5.3 over 2 bins -> 3; w = 8.8 over 2 -> 5
    auto, _ = F.roi_align_forward(x, roi, 2, sampling_ratio=-1)
    zero, _ = F.roi_align_forward(x, roi, 2, sampling_ratio=0)
    np.testing.assert_array_equal(auto, zero)
    # torchvision's per-axis grid (3 x 5) is not any square grid
    for g in (2, 3, 4, 5):
        fixed, _ = F.roi_align_forward(x, roi, 2, sampling_ratio=g)
        assert not np.allclose(fixed, auto)


# ---------------------------------------------------------------------------
# shapes, dtypes, empty input
# ---------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 4),
       k=st.integers(0, 6), ph=st.integers(1, 5), pw=st.integers(1, 5), seed=st.integers(0, 99))
def test_output_shape_is_k_ph_pw_c(n, h, w, c, k, ph, pw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    rois = random_rois(rng, n, h, w, 1.0, k)
    for op in ("pool", "align"):
        out, dx = run_op(op, x, rois, np.ones((k, ph, pw, c), np.float32), (ph, pw))
        assert out.shape == (k, ph, pw, c) and out.dtype == np.float32
        assert dx.shape == x.shape and dx.dtype == np.float32


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_rois_gives_empty_output_and_zero_gradient(backend):
    x = np.ones((2, 4, 5, 3), np.float32)
    with kernels.use_backend(backend):
        for op in ("pool", "align"):
            out, dx = run_op(op, x, np.zeros((0, 5)), np.zeros((0, 2, 2, 3), np.float32), 2)
            assert out.shape == (0, 2, 2, 3) and dx.shape == x.shape and not dx.any()


def test_rois_are_cast_to_the_maps_dtype_and_may_be_integers_or_lists():
    x = np.random.default_rng(0).standard_normal((1, 6, 6, 2)).astype(np.float32)
    a, _ = F.roi_align_forward(x, [[0, 1, 1, 4, 5]], 2)
    b, _ = F.roi_align_forward(x, np.array([[0, 1, 1, 4, 5]], np.int64), 2)
    c, cache = F.roi_align_forward(x, np.array([[0, 1, 1, 4, 5]], np.float64), 2)
    assert a.dtype == b.dtype == c.dtype == np.float32 and cache.rois.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    dx = F.roi_align_backward(np.ones((1, 2, 2, 2)), cache)      # a float64 dout is cast
    assert dx.dtype == np.float32


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

X = np.zeros((2, 5, 5, 3))
ROI = [[0, 0, 0, 2, 2]]


@pytest.mark.parametrize("fwd", [F.roi_pool_forward, F.roi_align_forward])
@pytest.mark.parametrize("kwargs,error,match", [
    (dict(rois=[[0, 0, 0, 2]]), ValueError, r"rois: expected shape \(K, 5\).*received shape \(1, 4\)"),
    (dict(rois=[0, 0, 0, 2, 2]), ValueError, r"rois: expected a 2-D"),
    (dict(rois=[[0, 0, 0, 2, 2], [2, 0, 0, 2, 2]]), ValueError, r"rois: row 1 names image 2, but x holds 2"),
    (dict(rois=[[-1, 0, 0, 2, 2]]), ValueError, r"rois: row 0 names image -1"),
    (dict(rois=[[0.5, 0, 0, 2, 2]]), ValueError, r"rois: column 0 .* whole number, row 0 has 0.5"),
    (dict(rois=[[0, 0, 0, 2, 2], [0, 0, np.nan, 2, 2]]), ValueError, r"rois: every value must be finite, row 1"),
    (dict(rois=[[0, 0, 0, np.inf, 2]]), ValueError, r"rois: every value must be finite, row 0"),
    (dict(output_size=0), ValueError, r"output_size: expected an integer >= 1, received 0"),
    (dict(output_size=(2, 0)), ValueError, r"output_size: expected an integer >= 1, received 0"),
    (dict(output_size=2.5), TypeError, r"output_size"),
    (dict(x=np.zeros((5, 5, 3))), ValueError, r"x: expected a 4-D \(N, H, W, C\) array, received shape \(5, 5, 3\)"),
    (dict(x=np.zeros((1, 0, 5, 3))), ValueError, r"x: expected feature maps of at least 1x1"),
    (dict(x=np.zeros((1, 5, 5, 3), np.uint8)), TypeError, r"x: expected a floating-point array"),
    (dict(spatial_scale=0.0), ValueError, r"spatial_scale: expected a finite number > 0, received 0.0"),
    (dict(spatial_scale="1/16"), TypeError, r"spatial_scale"),
])
def test_bad_arguments_are_clear_errors(fwd, kwargs, error, match):
    args = dict(x=X, rois=ROI, output_size=2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fwd(**args)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(sampling_ratio=2.0), TypeError, r"sampling_ratio: expected an int .* received float 2.0"),
    (dict(sampling_ratio=True), TypeError, r"sampling_ratio: expected an int"),
    (dict(aligned=1), TypeError, r"aligned: expected True or False, received int 1"),
])
def test_roi_align_setting_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        F.roi_align_forward(X, ROI, 2, **kwargs)
    with pytest.raises(error, match=match.split(":")[0]):
        nn.RoIAlign(2, **kwargs)


def test_backward_errors():
    out, pool_cache = F.roi_pool_forward(X, ROI, 2)
    _, align_cache = F.roi_align_forward(X, ROI, 2)
    with pytest.raises(ValueError, match=r"dout: roi_pool_backward expected the shape of its forward output"):
        F.roi_pool_backward(np.zeros((1, 3, 3, 3)), pool_cache)
    with pytest.raises(ValueError, match=r"dout: roi_align_backward expected .* \(1, 2, 2, 3\)"):
        F.roi_align_backward(np.zeros((2, 2, 2, 3)), align_cache)
    with pytest.raises(TypeError, match="cache: expected the cache returned by roi_align_forward"):
        F.roi_align_backward(out, pool_cache)
    with pytest.raises(TypeError, match="cache: expected the cache returned by roi_pool_forward"):
        F.roi_pool_backward(out, align_cache)


# ---------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------

def test_layers_wrap_the_functional_ops():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 7, 4)).astype(np.float32)
    rois = random_rois(rng, 2, 6, 7, 0.5, 5)
    dy = rng.standard_normal((5, 3, 2, 4)).astype(np.float32)
    for layer, op, kw in [(nn.RoIPool((3, 2), 0.5), "pool", {}),
                          (nn.RoIAlign((3, 2), 0.5, 2, True), "align", dict(sampling_ratio=2, aligned=True))]:
        y = layer(x, rois)
        dx = layer.backward(dy)
        want_y, want_dx = run_op(op, x, rois, dy, (3, 2), 0.5, **kw)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(dx, want_dx)
        assert layer.parameters() == []
    assert repr(nn.RoIPool(7, 1 / 16)) == "RoIPool(output_size=(7, 7), spatial_scale=0.0625)"
    assert "sampling_ratio=2, aligned=True" in repr(nn.RoIAlign(14, 0.25, 2, True))


def test_layer_backward_before_forward_and_bad_settings():
    with pytest.raises(RuntimeError, match="RoIAlign.backward was called before forward"):
        nn.RoIAlign(2).backward(np.zeros((1, 2, 2, 1)))
    with pytest.raises(ValueError, match="output_size"):
        nn.RoIPool(0)
    with pytest.raises(ValueError, match="spatial_scale"):
        nn.RoIPool(2, spatial_scale=-1.0)



# ---------------------------------------------------------------------------
# benchmark script
# ---------------------------------------------------------------------------

def test_bench_roi_quick_runs():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_roi.py"), "--quick", "--no-torch"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "roi_align" in res.stdout and "roi_pool" in res.stdout and "DISAGREE" not in res.stdout
