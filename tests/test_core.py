"""The shared machinery: argument checks, the kernel table, lazy jit, gradcheck, initializers."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import npvision
from npvision import _checks, kernels
from npvision.gradcheck import (GradientCheckError, check_functional, check_loss, numerical_gradient,
                                relative_error)
from npvision.nn import init


# -- _checks ---------------------------------------------------------------------------------------

def test_integer_images_are_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"x: expected a floating-point array .* uint8"):
        _checks.as_float_array(np.zeros((1, 4, 4, 3), dtype=np.uint8), "x", ndim=4)


def test_wrong_ndim_names_argument_and_shapes():
    with pytest.raises(ValueError, match=r"x: expected a 4-D \(N, H, W, C\) array, received shape \(4, 4\)"):
        _checks.as_float_array(np.zeros((4, 4)), "x", ndim=4, layout="(N, H, W, C)")


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError)])
def test_positive_int(bad, exc):
    with pytest.raises(exc, match="stride"):
        _checks.positive_int(bad, "stride")


def test_resolve_padding_forms():
    r = _checks.resolve_padding
    assert r(2, "p", (5, 5), (3, 3)) == ((2, 2), (2, 2))
    assert r((1, 0), "p", (5, 5), (3, 3)) == ((1, 1), (0, 0))
    assert r(((0, 1), (2, 3)), "p", (5, 5), (3, 3)) == ((0, 1), (2, 3))
    assert r("valid", "p", (5, 5), (3, 3)) == ((0, 0), (0, 0))
    # TF "same": even kernel puts the extra row/col at the bottom/right
    assert r("same", "p", (6, 6), (4, 4)) == ((1, 2), (1, 2))
    # stride 2 on 7: out ceil(7/2)=4, total (4-1)*2+3-7 = 2
    assert r("same", "p", (7, 7), (3, 3), stride=(2, 2)) == ((1, 1), (1, 1))
    # dilation 2 of a 3-tap kernel spans 5
    assert r("same", "p", (8, 8), (3, 3), dilation=(2, 2)) == ((2, 2), (2, 2))
    with pytest.raises(ValueError, match=r"padding: unknown padding 'full'"):
        r("full", "padding", (5, 5), (3, 3))
    with pytest.raises(TypeError, match="padding"):
        r(1.0, "padding", (5, 5), (3, 3))
    with pytest.raises(ValueError, match="padding"):
        r(-1, "padding", (5, 5), (3, 3))


# -- kernel table ----------------------------------------------------------------------------------

def test_backend_switching_and_context_manager():
    assert npvision.get_backend() == "auto"
    with npvision.use_backend("naive"):
        assert npvision.get_backend() == "naive"
        with npvision.use_backend("numba"):
            assert npvision.get_backend() == "numba"
        assert npvision.get_backend() == "naive"
    assert npvision.get_backend() == "auto"
    npvision.set_backend("numpy")
    try:
        assert npvision.get_backend() == "numpy"
    finally:
        npvision.set_backend("auto")
    with pytest.raises(ValueError, match="backend: expected one of"):
        npvision.set_backend("cuda")


# Sequential loops with no vectorized form (a union-find over sorted edges) have a naive
# reference and a numba kernel only; their callers use the fastest one under "numpy".
# sequential by nature (union-find merges; one dual coordinate after another): no vectorized form
NAIVE_AND_NUMBA_ONLY = {"fh_segment", "svm_dual_cd_epoch"}


def test_every_op_has_every_backend():
    table = kernels.ops()
    assert table, "no kernels registered"
    for op, backends in table.items():
        expected = ("naive", "numba") if op in NAIVE_AND_NUMBA_ONLY else ("naive", "numba", "numpy")
        assert backends == expected, op
    for op, choice in kernels.fastest().items():
        assert choice in kernels.BACKENDS
        assert kernels.get(op, "auto") is kernels.get(op, choice)


def test_unknown_op_is_a_clear_error():
    with pytest.raises(KeyError, match="no kernel named 'conv9d'"):
        kernels.get("conv9d")


def test_import_is_lazy():
    code = "import sys, npvision; print('numba' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


_JIT_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {here!r})
    from npvision.kernels._jit import njit, prange

    @njit
    def twice(a, i):
        return 2.0 * a[i]

    @njit(parallel=True)
    def double_all(a):
        out = np.empty_like(a)
        for i in prange(a.shape[0]):
            out[i] = twice(a, i)
        return out

    r = double_all(np.arange(6.0))
    print(type(getattr(double_all, "_dispatcher", double_all)).__name__, r.tolist())
""")


@pytest.mark.parametrize("disable", ["0", "1"])
def test_lazy_jit_compiles_nested_and_parallel_kernels(tmp_path, disable):
    script = tmp_path / "k.py"
    script.write_text(_JIT_SCRIPT.format(here=os.path.dirname(os.path.dirname(__file__))))
    env = dict(os.environ, NUMBA_DISABLE_JIT=disable, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    kind, values = out.stdout.split(" ", 1)
    assert values.strip() == "[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]"
    # with the JIT disabled numba hands back the plain function, so a debugger can step into it
    assert (kind == "function") == (disable == "1")


_LAYER_SCRIPT = textwrap.dedent("""
    import os, sys, numpy as np
    sys.path.insert(0, {here!r})
    from npvision.kernels._jit import njit, prange

    @njit(parallel=True)
    def inc(a):
        for i in prange(a.shape[0]):
            a[i] += 1.0

    inc(np.zeros(8))
    import numba
    print(numba.threading_layer(), os.environ.get("OMP_WAIT_POLICY", "-"))
""")


def _omp_loads():
    try:
        from numba.np.ufunc import omppool  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("user_env, layer, policy", [
    ({}, "workqueue", "-"),                                   # npvision's choice: no spinning threads
    ({"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "passive"}, "omp", "passive"),  # the user's
])
def test_threading_layer_choice(tmp_path, user_env, layer, policy):
    if layer == "omp" and not _omp_loads():
        pytest.skip("numba's OpenMP layer does not load here (no libgomp); npvision falls back to workqueue")
    script = tmp_path / "layer.py"
    script.write_text(_LAYER_SCRIPT.format(here=os.path.dirname(os.path.dirname(__file__))))
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY", "OMP_WAIT_POLICY",
                        "GOMP_SPINCOUNT", "NUMBA_DISABLE_JIT")}
    env.update(user_env, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == [layer, policy]


_CACHE_SCRIPT = textwrap.dedent("""
    import numpy as np
    import npvision.functional as F
    from npvision.kernels._jit import cache_dir
    x = np.random.default_rng(0).random((1, 6, 6, 2)).astype(np.float32)
    with __import__("npvision").use_backend("numba"):
        F.max_pool2d_forward(x, 2)
    print(cache_dir())
""")


def test_compiled_kernels_are_cached_outside_the_package(tmp_path):
    """numba's cache goes to a per-user folder, never into the installed package.

    A cache beside the sources survives ``pip uninstall`` and turns the left-over
    ``site-packages/npvision/`` into an empty namespace package that shadows a
    later editable install (the README's two quick-start lines, run in order)."""
    import shutil

    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "npvision")
    pkg_root = tmp_path / "site"
    shutil.copytree(src, pkg_root / "npvision", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}
    env.update(PYTHONPATH=str(pkg_root), XDG_CACHE_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], capture_output=True, text=True, env=env,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == str(tmp_path / "xdg" / "npvision" / "numba")
    in_package = [p for p in (pkg_root / "npvision").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert in_package == [], f"numba cache files written inside the package: {in_package}"
    cached = [p for p in (tmp_path / "xdg").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert cached, "no numba cache file was written to the per-user cache folder"


# -- gradcheck -------------------------------------------------------------------------------------

def _square_forward(x, w):
    return x * x * w, (x, w)


def _square_backward(dout, cache):
    x, w = cache
    return 2 * x * w * dout, x * x * dout


def _square_backward_wrong(dout, cache):
    x, w = cache
    return x * w * dout, x * x * dout


def test_relative_error_is_the_course_formula():
    a = np.array([1.0, 2.0, 0.0])
    b = np.array([1.0, 2.2, 0.0])
    assert relative_error(a, b) == pytest.approx(0.2 / 4.2)


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    g = numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-8)


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(np.sin, np.ones(3, dtype=np.float32))


def test_check_functional_passes_and_fails():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    report = check_functional(_square_forward, _square_backward, [x, w], names=["x", "w"])
    assert report.passed and set(report.errors) == {"x", "w"} and report.max_error < 1e-7
    with pytest.raises(GradientCheckError, match=r"x: relative error .* analytic .* numerical"):
        check_functional(_square_forward, _square_backward_wrong, [x, w], names=["x", "w"])
    report = check_functional(_square_forward, _square_backward_wrong, [x, w], raise_on_fail=False)
    assert not report.passed and report.errors["arg1"] < 1e-7


def test_check_loss():
    def loss(x, t):
        return 0.5 * np.sum((x - t) ** 2), x - t

    x, t = np.arange(4.0), np.ones(4)
    assert check_loss(loss, x, t).passed


# -- init ------------------------------------------------------------------------------------------

def test_initializers_are_reproducible_and_scaled():
    a = init.he_normal((3, 3, 64, 128), rng=7)
    b = init.he_normal((3, 3, 64, 128), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    assert a.std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.02)
    u = init.glorot_uniform((256, 512), rng=1)
    bound = np.sqrt(6 / (256 + 512))
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.99 * bound
    with pytest.raises(TypeError, match="rng"):
        init.he_normal((2, 2), rng="seed")


def test_a_nearly_zero_element_does_not_fail_a_correct_gradient():
    # d/dx of x**3 at x = 1e-3 is 3e-6; finite differences carry ~1e-10 of noise there
    def cube_forward(x):
        return x ** 3 + 1e3 * x, x

    def cube_backward(dout, x):
        return (3 * x ** 2 + 1e3) * dout

    def cube_backward_wrong(dout, x):
        return (2 * x ** 2 + 1e3) * dout     # off by x**2: tiny, but the norm error sees it

    x = np.array([1e-3, 0.5, -2.0, 3.0])
    report = check_functional(cube_forward, cube_backward, [x], raise_on_fail=False)
    assert report.passed, str(report)
    bad = check_functional(cube_forward, cube_backward_wrong, [x], raise_on_fail=False)
    assert not bad.passed and bad.norm_errors["arg0"] > 1e-7
    assert "norm" in str(report) and "ok" in str(report)


def test_a_report_is_true_only_when_the_check_passed():
    """``assert check_functional(..., raise_on_fail=False)`` must fail on a wrong gradient."""
    x, w = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -0.7])
    good = check_functional(_square_forward, _square_backward, [x, w], raise_on_fail=False)
    bad = check_functional(_square_forward, _square_backward_wrong, [x, w], raise_on_fail=False)
    assert bool(good) is True
    assert bool(bad) is False


def test_a_missing_gradient_fails_naming_the_input():
    def forward(x, w):
        return x * w, (x, w)

    def backward_only_dx(dout, cache):
        return dout * cache[1]                       # dw forgotten

    x, w = np.array([0.3, -1.2]), np.array([1.5, 0.5])
    with pytest.raises(GradientCheckError, match=r"no gradient for w\b.*wrt="):
        check_functional(forward, backward_only_dx, [x, w], names=["x", "w"])
    # naming the differentiable inputs says the rest are not: then it checks
    report = check_functional(forward, backward_only_dx, [x, w], wrt=[0])
    assert report.passed and set(report.errors) == {"arg0"}


@pytest.mark.parametrize("eps", [0.0, float("nan"), -1e-6, float("inf")])
def test_a_step_that_is_not_positive_and_finite_is_refused(eps):
    with pytest.raises(ValueError, match="eps: expected a finite number > 0"):
        numerical_gradient(np.sin, np.ones(3), eps=eps)


def test_dout_of_another_shape_is_refused_not_broadcast():
    with pytest.raises(ValueError, match=r"dout: has shape \(1,\) but f\(x\) has shape \(3,\)"):
        numerical_gradient(np.sin, np.ones(3), np.ones(1))


def test_norm_error_refuses_different_shapes():
    from npvision.gradcheck import norm_error

    with pytest.raises(ValueError, match="shapes differ"):
        norm_error(np.ones(3), np.ones((3, 1)))


def test_a_failed_check_names_the_worst_index_in_plain_ints():
    x, w = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -0.7])
    with pytest.raises(GradientCheckError) as info:
        check_functional(_square_forward, _square_backward_wrong, [x, w])
    assert "worst at index (" in str(info.value) and "np.int64" not in str(info.value)


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d", "depthwise_conv2d", "max_pool2d", "relu",
                                "batchnorm", "linear"])
def test_float16_is_refused_the_same_clear_way_by_every_op(op):
    import npvision.functional as F

    x = np.ones((1, 4, 4, 2), np.float16)
    calls = {
        "conv2d": lambda: F.conv2d_forward(x, np.ones((3, 3, 2, 2), np.float32)),
        "conv_transpose2d": lambda: F.conv_transpose2d_forward(x, np.ones((2, 2, 2, 2), np.float32), stride=2),
        "depthwise_conv2d": lambda: F.depthwise_conv2d_forward(x, np.ones((3, 3, 2, 1), np.float32)),
        "max_pool2d": lambda: F.max_pool2d_forward(x, 2),
        "relu": lambda: F.relu_forward(x),
        "batchnorm": lambda: F.batchnorm_forward(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), True),
        "linear": lambda: F.linear_forward(x.reshape(1, -1), np.ones((32, 2)), np.zeros(2)),
    }
    with pytest.raises(TypeError, match=r"x: expected dtype float32 or float64, received float16"):
        calls[op]()


@pytest.mark.parametrize("backward", ["relu", "leaky_relu", "silu", "softmax", "linear", "batchnorm", "conv2d",
                                      "conv_transpose2d", "split", "dropout"])
def test_a_wrong_cache_is_named_not_unpacked(backward):
    import npvision.functional as F

    for wrong in (None, (np.ones(2), 2.0, 3.0, 4.0, 5.0), {"x": np.ones(2)}):
        if backward == "dropout" and wrong is None:
            continue                                             # None is dropout's inference cache
        with pytest.raises(TypeError, match=rf"cache: expected the cache returned by {backward}_forward"):
            getattr(F, f"{backward}_backward")(np.ones((1, 2, 2, 2)), wrong)
    _, conv_cache = F.conv2d_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 2)))
    if backward == "conv_transpose2d":
        with pytest.raises(TypeError, match="received a cache of conv2d_forward"):
            F.conv_transpose2d_backward(np.ones((1, 2, 2, 2)), conv_cache)
