"""The grader's tests for week 1, "Convolutional Model: Step by Step".

Every exercise gets, in this order: the course's own checks (its seeds, shapes
and hyperparameters, drawn with NumPy's legacy generator exactly as the
notebook and its ``public_tests.py`` draw them), random cases of several shapes
(odd sizes, strides 1 to 3, padding, windows as large as the image), edge
cases (ties in max pooling, overlapping windows), and for the two backward
passes a numerical gradient check (:mod:`npvision.gradcheck`) of the student's
gradients against central differences of the reference forward pass.

All random cases come from seeded generators: the grader asks the same
questions every time, and :func:`npvision.grading.case_inputs` hands any of
them back.
"""

from __future__ import annotations

import numpy as np

from .. import course
from ..gradcheck import numerical_gradient
from ._compare import Mismatch, compare, first_difference
from ._runner import Case

__all__ = ["zero_pad_cases", "conv_single_step_cases", "conv_forward_cases", "pool_forward_cases",
           "conv_backward_cases", "create_mask_from_window_cases", "distribute_value_cases",
           "pool_backward_cases"]

SIZE_HINT_CONV = ("output (h, w) reads the f x f window starting at row h * stride and column w * stride of the "
                  "padded input; n_H = floor((n_H_prev + 2 pad - f) / stride) + 1, n_W likewise")
SIZE_HINT_POOL = ("output (h, w) reads the f x f window starting at row h * stride and column w * stride, "
                  "one channel at a time; n_H = floor((n_H_prev - f) / stride) + 1 (no padding)")


def _legacy(seed: int) -> np.random.RandomState:
    """``np.random.seed(seed)`` without touching the global generator: the course's draws."""
    return np.random.RandomState(seed)


def _conv_inputs(rng, shape, f, n_c):
    m, h, w, c_prev = shape
    return (rng.standard_normal(shape), rng.standard_normal((f, f, c_prev, n_c)),
            rng.standard_normal((1, 1, 1, n_c)))


# (A_prev shape, f, n_C, pad, stride): odd sizes, strides 1-3, padding 0-2, a window as large as the image
RANDOM_CONV = [((1, 6, 5, 3), 3, 2, 0, 1), ((3, 7, 9, 2), 3, 4, 1, 2), ((2, 8, 6, 4), 2, 3, 2, 3),
               ((2, 5, 5, 1), 5, 2, 0, 1), ((1, 9, 7, 3), 4, 5, 1, 2), ((2, 4, 6, 2), 1, 3, 0, 2)]
# (A_prev shape, f, stride): odd sizes, overlapping (stride < f) and disjoint windows
RANDOM_POOL = [((2, 7, 5, 3), 3, 2), ((1, 6, 8, 2), 2, 2), ((3, 5, 7, 4), 2, 3), ((2, 6, 6, 1), 3, 1),
               ((1, 4, 5, 2), 1, 1)]


# ----------------------------------------------------------------------------- zero_pad

def zero_pad_cases() -> list[Case]:
    rng = np.random.default_rng(101)
    cases = [Case("the course's check: np.random.seed(1), X (4, 3, 3, 2), pad 3",
                  (_legacy(1).randn(4, 3, 3, 2), 3), kind="course"),
             Case("the course's second check: np.random.seed(1), X (5, 4, 4, 3), pad 2",
                  (_legacy(1).randn(5, 4, 4, 3), 2), kind="course")]
    for shape, pad in [((2, 5, 7, 3), 1), ((1, 4, 6, 1), 0), ((3, 2, 3, 4), 4)]:
        cases.append(Case(f"X {shape}, pad {pad}", (rng.standard_normal(shape), pad)))
    cases.append(Case("integer images, X (1, 3, 2, 3) of dtype int64, pad 1",
                      (rng.integers(0, 255, (1, 3, 2, 3)), 1), kind="edge"))
    return cases


# ----------------------------------------------------------------------------- conv_single_step

def _numpy_float(received, expected) -> None:
    if not isinstance(received, (np.float64, np.float32)):
        raise Mismatch(f"output Z: the course's test asks for a NumPy float (np.float64), received "
                       f"{type(received).__name__} {received!r}; np.sum(...) returns one, and a bias "
                       f"of shape (1, 1, 1) becomes a number with np.squeeze(b) or b.item()")
    compare(expected, received, "Z")


def conv_single_step_cases() -> list[Case]:
    def course(seed, shape):
        r = _legacy(seed)
        return r.randn(*shape), r.randn(*shape), r.randn(1, 1, 1)

    rng = np.random.default_rng(102)
    cases = [Case("the course's check: np.random.seed(1), a_slice_prev and W (4, 4, 3), b (1, 1, 1)",
                  course(1, (4, 4, 3)), kind="course", check=_numpy_float),
             Case("the course's second check: np.random.seed(3), a_slice_prev and W (5, 5, 3)",
                  course(3, (5, 5, 3)), kind="course", check=_numpy_float)]
    for shape in [(3, 3, 2), (1, 1, 5), (5, 5, 1), (2, 3, 4)]:
        cases.append(Case(f"a_slice_prev and W {shape}, b (1, 1, 1)",
                          (rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal((1, 1, 1)))))
    return cases


# ----------------------------------------------------------------------------- conv_forward

def conv_forward_cases() -> list[Case]:
    r1 = _legacy(1)
    course1 = (r1.randn(2, 5, 7, 4), r1.randn(3, 3, 4, 8), r1.randn(1, 1, 1, 8))
    r3 = _legacy(3)
    a3, w3, b3 = r3.randn(2, 5, 7, 4), r3.randn(3, 3, 4, 8), r3.randn(1, 1, 1, 8)
    w5, b5 = r3.randn(5, 5, 4, 8), r3.randn(1, 1, 1, 8)
    old = _legacy(1)
    older = (old.randn(10, 4, 4, 3), old.randn(2, 2, 3, 8), old.randn(1, 1, 1, 8))
    cases = [
        Case("the course's check: np.random.seed(1), A_prev (2, 5, 7, 4), W (3, 3, 4, 8), pad 1, stride 2",
             (*course1, {"pad": 1, "stride": 2}), kind="course", hint=SIZE_HINT_CONV),
        Case("the course's test 2: np.random.seed(3), A_prev (2, 5, 7, 4), W (3, 3, 4, 8), pad 3, stride 1",
             (a3, w3, b3, {"pad": 3, "stride": 1}), kind="course", hint=SIZE_HINT_CONV),
        Case("the course's test 2: np.random.seed(3), A_prev (2, 5, 7, 4), W (3, 3, 4, 8), pad 0, stride 2",
             (a3, w3, b3, {"pad": 0, "stride": 2}), kind="course", hint=SIZE_HINT_CONV),
        Case("the course's test 2: np.random.seed(3), A_prev (2, 5, 7, 4), W (5, 5, 4, 8), pad 6, stride 1",
             (a3, w5, b5, {"pad": 6, "stride": 1}), kind="course", hint=SIZE_HINT_CONV),
        Case("the older notebook's check: np.random.seed(1), A_prev (10, 4, 4, 3), W (2, 2, 3, 8), pad 2, "
             "stride 2", (*older, {"pad": 2, "stride": 2}), kind="course", hint=SIZE_HINT_CONV),
    ]
    rng = np.random.default_rng(103)
    for shape, f, n_c, pad, stride in RANDOM_CONV:
        cases.append(Case(f"A_prev {shape}, W ({f}, {f}, {shape[3]}, {n_c}), pad {pad}, stride {stride}",
                          (*_conv_inputs(rng, shape, f, n_c), {"pad": pad, "stride": stride}),
                          hint=SIZE_HINT_CONV))
    return cases


# ----------------------------------------------------------------------------- pool_forward

def pool_forward_cases() -> list[Case]:
    course = _legacy(1).randn(2, 5, 5, 3)
    older = _legacy(1).randn(2, 4, 4, 3)
    cases = []
    for mode in ("max", "average"):
        for f, stride in ((3, 1), (3, 2), (2, 1)):
            cases.append(Case(f"the course's check: np.random.seed(1), A_prev (2, 5, 5, 3), f {f}, stride "
                              f"{stride}, mode {mode!r}", (course, {"stride": stride, "f": f}),
                              {"mode": mode}, kind="course", hint=SIZE_HINT_POOL))
        cases.append(Case(f"the older notebook's check: A_prev (2, 4, 4, 3), f 3, stride 2, mode {mode!r}",
                          (older, {"stride": 2, "f": 3}), {"mode": mode}, kind="course", hint=SIZE_HINT_POOL))
    rng = np.random.default_rng(104)
    for shape, f, stride in RANDOM_POOL:
        x = rng.standard_normal(shape)
        for mode in ("max", "average"):
            cases.append(Case(f"A_prev {shape}, f {f}, stride {stride}, mode {mode!r}",
                              (x, {"stride": stride, "f": f}), {"mode": mode}, hint=SIZE_HINT_POOL))
    cases.append(Case("the default mode: pool_forward(A_prev, hparameters) is max pooling",
                      (course, {"stride": 2, "f": 2}), kind="edge"))
    return cases


# ----------------------------------------------------------------------------- conv_backward

def _gradient_check(forward, inputs: dict, upstream: np.ndarray, out_names: tuple[str, ...]):
    """A check comparing the student's gradients with central differences of ``forward``.

    ``forward(**inputs)`` returns the layer's output; ``L = sum(output * upstream)``;
    the student's ``k``-th returned gradient is compared with ``dL / d inputs[k]``
    (float64, ``eps = 1e-6``; relative tolerance 1e-6, the float64 check's usual).
    """
    def check(received, expected) -> None:
        grads = received if len(out_names) > 1 else (received,)
        if len(out_names) > 1 and (not isinstance(received, (tuple, list)) or len(received) != len(out_names)):
            raise Mismatch(f"expected {len(out_names)} gradients ({', '.join(out_names)}), received "
                           f"{type(received).__name__}")
        for (key, x), name, g in zip(inputs.items(), out_names, grads):
            x = x.copy()

            def f(_x, key=key):
                return forward(**dict(inputs, **{key: _x}))

            numeric = numerical_gradient(f, x, upstream)
            g = np.asarray(g, dtype=np.float64) if isinstance(g, np.ndarray) else g
            if not isinstance(g, np.ndarray) or g.shape != numeric.shape:
                compare(numeric, g, name)            # a shape or type message
            count, idx = first_difference(numeric, g, 1e-6, 1e-7)
            if count:
                where = f"{name}[{', '.join(str(int(i)) for i in idx)}]"
                raise Mismatch(f"gradient check: {name} is not the derivative of the forward pass at "
                               f"{count} of {g.size} element(s); the first is {where}: numerical gradient "
                               f"{numeric[idx]:.10g}, yours {g[idx]:.10g}")
    return check


def conv_backward_cases() -> list[Case]:
    old = _legacy(1)
    A, W, b = old.randn(10, 4, 4, 3), old.randn(2, 2, 3, 8), old.randn(1, 1, 1, 8)
    hp = {"pad": 2, "stride": 2}
    Z, cache = course.conv_forward(A, W, b, hp)
    cases = [Case("the course's check: np.random.seed(1), A_prev (10, 4, 4, 3), W (2, 2, 3, 8), pad 2, "
                  "stride 2, dZ = Z", (Z, cache), kind="course")]
    rng = np.random.default_rng(105)
    for shape, f, n_c, pad, stride in RANDOM_CONV:
        A, W, b = _conv_inputs(rng, shape, f, n_c)
        hp = {"pad": pad, "stride": stride}
        Z, cache = course.conv_forward(A, W, b, hp)
        cases.append(Case(f"A_prev {shape}, W ({f}, {f}, {shape[3]}, {n_c}), pad {pad}, stride {stride}, "
                          f"random dZ", (rng.standard_normal(Z.shape), cache)))
    for shape, f, n_c, pad, stride in [((2, 5, 6, 3), 3, 2, 1, 2), ((1, 6, 5, 2), 2, 3, 2, 3)]:
        A, W, b = _conv_inputs(rng, shape, f, n_c)
        hp = {"pad": pad, "stride": stride}
        Z, cache = course.conv_forward(A, W, b, hp)
        dZ = rng.standard_normal(Z.shape)
        check = _gradient_check(lambda A_prev, W, b, hp=hp: course.conv_forward(A_prev, W, b, hp)[0],
                                {"A_prev": A, "W": W, "b": b}, dZ, ("dA_prev", "dW", "db"))
        cases.append(Case(f"gradient check: A_prev {shape}, W ({f}, {f}, {shape[3]}, {n_c}), pad {pad}, "
                          f"stride {stride}: your dA_prev, dW and db against central differences of "
                          f"conv_forward", (dZ, cache), kind="gradient", expected=None, check=check))
    return cases


# ----------------------------------------------------------------------------- create_mask_from_window

TIES_HINT = ("the course's mask is x == np.max(x): every element equal to the maximum is True "
             "(np.argmax would keep only the first)")


def create_mask_from_window_cases() -> list[Case]:
    rng = np.random.default_rng(106)
    cases = [Case("the course's check: np.random.seed(1), x (2, 3)", (_legacy(1).randn(2, 3),), kind="course"),
             Case("the course's second check: x = [[-1, 2, 3], [2, -3, 2], [1, 5, -2]]",
                  (np.array([[-1, 2, 3], [2, -3, 2], [1, 5, -2]]),), kind="course")]
    for shape in [(3, 3), (2, 2), (4, 1), (1, 1), (5, 4)]:
        cases.append(Case(f"x {shape}", (rng.standard_normal(shape),)))
    cases += [Case("a tie: x = [[1, 3], [3, 0]] has its maximum twice", (np.array([[1.0, 3.0], [3.0, 0.0]]),),
                   kind="edge", hint=TIES_HINT),
              Case("a constant window: every element is the maximum", (np.full((2, 2), 0.5),),
                   kind="edge", hint=TIES_HINT)]
    return cases


# ----------------------------------------------------------------------------- distribute_value

def distribute_value_cases() -> list[Case]:
    cases = [Case("the course's check: dz = 2, shape (2, 2)", (2, (2, 2)), kind="course"),
             Case("the course's second check: dz = 100, shape (10, 10)", (100, (10, 10)), kind="course")]
    for dz, shape in [(1.5, (3, 3)), (-2.0, (2, 5)), (7, (1, 1)), (3, (3, 2))]:
        cases.append(Case(f"dz = {dz}, shape {shape}", (dz, shape),
                          hint="each element is dz / (n_H * n_W): the average's gradient, spread evenly"))
    return cases


# ----------------------------------------------------------------------------- pool_backward

def pool_backward_cases() -> list[Case]:
    r = _legacy(1)
    A = r.randn(5, 5, 3, 2)
    hp = {"stride": 1, "f": 2}
    _, cache = course.pool_forward(A, hp)
    dA = r.randn(5, 4, 2, 2)                      # drawn after the forward pass, as in the course
    cases = [Case(f"the course's check: np.random.seed(1), A_prev (5, 5, 3, 2), f 2, stride 1, mode {mode!r}",
                  (dA, cache), {"mode": mode}, kind="course") for mode in ("max", "average")]
    rng = np.random.default_rng(107)
    for shape, f, stride in RANDOM_POOL:
        A = rng.standard_normal(shape)
        hp = {"stride": stride, "f": f}
        out, cache = course.pool_forward(A, hp)
        dA = rng.standard_normal(out.shape)
        overlap = " (overlapping windows: their gradients add up)" if stride < f else ""
        for mode in ("max", "average"):
            cases.append(Case(f"A_prev {shape}, f {f}, stride {stride}, mode {mode!r}{overlap}",
                              (dA, cache), {"mode": mode},
                              hint="use += where windows overlap" if overlap else None))
    for mode in ("max", "average"):
        A = rng.standard_normal((2, 5, 6, 2))
        hp = {"stride": 1, "f": 3}
        out, cache = course.pool_forward(A, hp)
        dA = rng.standard_normal(out.shape)
        check = _gradient_check(lambda A_prev, hp=hp, mode=mode: course.pool_forward(A_prev, hp, mode)[0],
                                {"A_prev": A}, dA, ("dA_prev",))
        cases.append(Case(f"gradient check: A_prev (2, 5, 6, 2), f 3, stride 1, mode {mode!r}: your dA_prev "
                          f"against central differences of pool_forward", (dA, cache), {"mode": mode},
                          kind="gradient", expected=None, check=check))
    ties = np.array([[1.0, 4.0, 4.0], [0.0, 2.0, 4.0], [4.0, 1.0, 3.0]])[None, :, :, None]   # (1, 3, 3, 1)
    _, cache = course.pool_forward(ties, {"stride": 1, "f": 2})
    cases.append(Case("ties in max pooling: A_prev (1, 3, 3, 1) = [[1, 4, 4], [0, 2, 4], [4, 1, 3]], f 2, "
                      "stride 1; a window whose maximum appears twice sends its gradient to both",
                      (np.array([[1.0, 2.0], [3.0, 4.0]])[None, :, :, None], cache), {"mode": "max"},
                      kind="edge", hint=TIES_HINT))
    return cases
