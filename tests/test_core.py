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
NAIVE_AND_NUMBA_ONLY = {"fh_segment"}


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
    print(type(double_all._dispatcher).__name__, r.tolist())
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
