"""Gradient checking: compare a backward pass with central differences.

For a function ``f`` and an upstream gradient ``dout``, the scalar
``L(x) = sum(f(x) * dout)`` has gradient ``dL/dx`` equal to what ``backward``
should return for ``x``. The numerical estimate, one element at a time, is

    dL/dx_i  ~=  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

with error O(eps^2). In float64 with ``eps = 1e-6`` a correct backward agrees
to about 1e-8 or better; in float32 rounding swamps the difference, so check in
float64 (every function here casts to float64 first and says so if it can't).

The relative error reported is the one students know from the course:

    rel_error(a, b) = max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|)

next to the whole-array form of the course's ``gradient_check``,
``norm_error(a, b) = ||a - b|| / (||a|| + ||b||)``. An array passes when the
first is below ``tol`` (default 1e-6) or the second below ``norm_tol`` (1e-7):
one nearly-zero element must not fail a correct gradient on rounding noise.

Public helpers
--------------
``numerical_gradient(f, x, dout)``        the estimate for one array
``relative_error(a, b)``                   the error above
``check_functional(forward, backward, args)``  an ``<op>_forward`` / ``<op>_backward`` pair
``check_loss(loss_fn, x, *rest)``          a ``(loss, dx) = loss_fn(x, ...)`` function
``check_module(module, x)``                a :class:`npvision.nn.Module`: input and parameters

Each ``check_*`` returns a :class:`GradcheckReport` (name -> relative error)
and, when ``raise_on_fail`` (the default), raises :class:`GradientCheckError`
showing both gradients where they disagree most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "numerical_gradient",
    "relative_error",
    "norm_error",
    "check_functional",
    "check_loss",
    "check_module",
    "GradcheckReport",
    "GradientCheckError",
]


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with its numerical estimate."""


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(1e-8, |a| + |b|)``, elementwise, as in the course."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _check_eps(eps) -> float:
    """A finite step ``eps > 0`` (0 or NaN would make every estimate NaN and blame a correct backward)."""
    try:
        value = float(eps)
    except (TypeError, ValueError):
        raise TypeError(f"eps: expected a positive number such as 1e-6, received {eps!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"eps: expected a finite number > 0 such as 1e-6, received {eps!r}")
    return value


def numerical_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       dout: np.ndarray | None = None, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    ``x`` is perturbed in place one element at a time and restored; ``f`` must
    read ``x`` afresh on every call (closures over ``x`` do). ``dout`` defaults
    to ones (the gradient of ``sum(f(x))``); a scalar ``f`` needs no ``dout``.
    Shapes: ``x`` any, ``f(x)`` any, ``dout`` like ``f(x)``; result like ``x``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"x: numerical gradients need float64, received dtype {x.dtype}")
    eps = _check_eps(eps)
    if dout is not None:
        dout = np.asarray(dout, dtype=np.float64)
        out_shape = np.shape(f(x))
        if dout.shape != out_shape:
            raise ValueError(f"dout: has shape {dout.shape} but f(x) has shape {out_shape}; "
                             f"dout must have exactly the output's shape (it is not broadcast)")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        # copies: a forward may return a view of x, which the next perturbation would change
        x[i] = old + eps
        plus = np.array(f(x), dtype=np.float64, copy=True)
        x[i] = old - eps
        minus = np.array(f(x), dtype=np.float64, copy=True)
        x[i] = old
        diff = plus - minus
        grad[i] = np.sum(diff * (1.0 if dout is None else dout)) / (2 * eps)
        it.iternext()
    return grad


def norm_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / (||a|| + ||b||)`` (2-norms over the whole array), as in the course's gradient_check."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"norm_error: shapes differ, {a.shape} vs {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


@dataclass
class GradcheckReport:
    """Per checked array: the elementwise relative error and the whole-array norm error.

    An array passes when its relative error is at most ``tol``, or when its
    norm error is at most ``norm_tol``. The second rule keeps a correct gradient
    from failing on one element that is nearly zero: there the finite
    difference's own noise (about 1e-10 in float64) is a large fraction of the
    value. A wrong backward moves the norm error to 1e-3 or more.
    """

    errors: dict[str, float] = field(default_factory=dict)
    norm_errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-6
    norm_tol: float = 1e-7

    def ok(self, name: str) -> bool:
        return self.errors[name] <= self.tol or self.norm_errors[name] <= self.norm_tol

    @property
    def passed(self) -> bool:
        return all(self.ok(name) for name in self.errors)

    def __bool__(self) -> bool:
        """The verdict: ``assert check_functional(..., raise_on_fail=False)`` fails on a wrong gradient."""
        return self.passed

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __str__(self) -> str:
        rows = [f"  {name:<24s} {err:.3e}   {self.norm_errors[name]:.3e}   {'ok' if self.ok(name) else 'FAIL'}"
                for name, err in self.errors.items()]
        head = (f"  {'array':<24s} {'relative':<9s}   {'norm':<9s}   "
                f"(tol {self.tol:.0e} relative, or {self.norm_tol:.0e} norm)")
        return "gradient check:\n" + head + "\n" + "\n".join(rows)


def _compare(report: GradcheckReport, name: str, analytic, numeric, raise_on_fail: bool) -> None:
    if analytic is None:
        raise GradientCheckError(f"{name}: backward returned None but the input is differentiable")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise GradientCheckError(f"{name}: backward returned shape {analytic.shape}, "
                                 f"the input has shape {numeric.shape}")
    err = relative_error(analytic, numeric)
    report.errors[name] = err
    report.norm_errors[name] = norm_error(analytic, numeric)
    if not report.ok(name) and raise_on_fail:
        worst = tuple(int(i) for i in np.unravel_index(
            np.argmax(np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))),
            numeric.shape))
        with np.printoptions(precision=6, suppress=True, threshold=60, edgeitems=3):
            raise GradientCheckError(
                f"{name}: relative error {err:.3e} > tol {report.tol:.0e} and norm error "
                f"{report.norm_errors[name]:.3e} > {report.norm_tol:.0e}; worst at index {worst}: "
                f"analytic {analytic[worst]:.8g} vs numerical {numeric[worst]:.8g}\n"
                f"analytic gradient:\n{analytic}\nnumerical gradient:\n{numeric}")


def _to64(a):
    return a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


def check_functional(forward: Callable, backward: Callable, args: Sequence, kwargs: dict | None = None,
                     wrt: Sequence[int] | None = None, names: Sequence[str] | None = None,
                     seed: int = 0, eps: float = 1e-6, tol: float = 1e-6,
                     norm_tol: float = 1e-7, raise_on_fail: bool = True) -> GradcheckReport:
    """Check ``grads = backward(dout, forward(*args, **kwargs)[1])`` numerically.

    ``backward`` returns one gradient per differentiable array argument, in
    order (a lone array or a tuple). ``wrt`` gives the positions in ``args`` of
    those arguments; by default they are the first ``len(grads)`` float arrays.
    A returned ``None`` (``db`` when no bias was given) is skipped. Float arrays
    are cast to float64; ``dout`` is drawn from ``N(0, 1)`` with ``seed``.

    >>> check_functional(F.conv2d_forward, F.conv2d_backward, [x, w, b], dict(stride=2, padding=1))
    """
    kwargs = dict(kwargs or {})
    args = [_to64(a) for a in args]
    out, cache = forward(*args, **kwargs)
    rng = np.random.default_rng(seed)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if wrt is None:
        floats = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
        # an optional input left out (linear without b) comes back as a trailing None
        while len(grads) > len(floats) and grads[-1] is None:
            grads = tuple(grads[:-1])
        if len(grads) < len(floats):
            missing = [names[k] if names and k < len(names) else f"arg{pos}"
                       for k, pos in enumerate(floats) if k >= len(grads)]
            raise GradientCheckError(
                f"backward returned {len(grads)} gradient(s) but the op has {len(floats)} float array "
                f"inputs (positions {floats}); no gradient for {', '.join(missing)}. Return one "
                f"gradient per array input, or pass wrt=[...] with the positions of the "
                f"differentiable inputs when the others (indices, boxes) are not")
        wrt = floats[: len(grads)]
    if len(wrt) != len(grads):
        raise ValueError(f"wrt: backward returned {len(grads)} gradients but wrt names {len(wrt)} arguments")
    report = GradcheckReport(tol=tol, norm_tol=norm_tol)
    for k, (pos, g) in enumerate(zip(wrt, grads)):
        if g is None:
            continue
        x = args[pos]

        def f(_x, pos=pos):
            a = list(args)
            a[pos] = _x
            return forward(*a, **kwargs)[0]

        name = names[k] if names else f"arg{pos}"
        _compare(report, name, g, numerical_gradient(f, x, dout, eps), raise_on_fail)
    return report


def check_loss(loss_fn: Callable, x: np.ndarray, *rest, eps: float = 1e-6, tol: float = 1e-6,
               norm_tol: float = 1e-7, raise_on_fail: bool = True, **kwargs) -> GradcheckReport:
    """Check ``(loss, dx) = loss_fn(x, *rest, **kwargs)`` against d loss / d x."""
    x = _to64(x)
    _, dx = loss_fn(x, *rest, **kwargs)
    report = GradcheckReport(tol=tol, norm_tol=norm_tol)
    num = numerical_gradient(lambda _x: loss_fn(_x, *rest, **kwargs)[0], x, None, eps)
    _compare(report, "x", dx, num, raise_on_fail)
    return report


def check_module(module, x: np.ndarray, seed: int = 0, eps: float = 1e-6, tol: float = 1e-6,
                 norm_tol: float = 1e-7, check_input: bool = True, raise_on_fail: bool = True) -> GradcheckReport:
    """Check a Module's input gradient and every trainable parameter's gradient.

    The module is converted to float64 in place (``module.astype(np.float64)``)
    and its gradients are zeroed. It must be deterministic between calls: put
    Dropout in eval mode (or give it a fixed mask) before checking; BatchNorm
    in training mode is fine, but its running statistics move with each call.
    """
    module.astype(np.float64)
    x = _to64(np.asarray(x))
    module.zero_grad()
    out = module.forward(x)
    rng = np.random.default_rng(seed)
    dout = rng.standard_normal(np.shape(out))
    dx = module.backward(dout)
    analytic = {name: p.grad.copy() for name, p in module.named_parameters() if p.trainable}
    report = GradcheckReport(tol=tol, norm_tol=norm_tol)
    if check_input:
        _compare(report, "input", dx, numerical_gradient(module.forward, x, dout, eps), raise_on_fail)
    for name, p in module.named_parameters():
        if not p.trainable:
            continue
        num = numerical_gradient(lambda _w: module.forward(x), p.data, dout, eps)
        _compare(report, name, analytic[name], num, raise_on_fail)
    module.zero_grad()
    return report
