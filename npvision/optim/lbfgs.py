"""L-BFGS: a quasi-Newton minimizer for any function with a gradient (Nocedal & Wright, ch. 7).

Gradient descent steps along ``-g``. Newton's method steps along ``-H^{-1} g``
with ``H`` the Hessian, which a million-pixel image cannot store. L-BFGS keeps
only the last ``m`` steps ``s_k = x_{k+1} - x_k`` and gradient changes
``y_k = g_{k+1} - g_k`` and applies an approximation of ``H^{-1}`` built from
them with the *two-loop recursion* (Algorithm 7.4)::

    q = g
    for i = k-1, ..., k-m:   rho_i = 1 / (y_i . s_i);  a_i = rho_i (s_i . q);  q = q - a_i y_i
    r = gamma q,             gamma = (s_{k-1} . y_{k-1}) / (y_{k-1} . y_{k-1})
    for i = k-m, ..., k-1:   b = rho_i (y_i . r);  r = r + (a_i - b) s_i
    direction p = -r

Each step then searches along ``p`` for a step length ``t``:

* ``line_search="strong_wolfe"`` (the default; Algorithms 3.5 and 3.6): ``t`` must
  decrease ``f`` enough and flatten the slope,
  ``f(x + t p) <= f(x) + c1 t g.p`` (Armijo, ``c1 = 1e-4``) and
  ``|g(x + t p).p| <= c2 |g.p|`` (curvature, ``c2 = 0.9``). A bracketing phase
  grows ``t`` until an interval holds such a point, a zoom phase shrinks the
  interval with the minimizer of the cubic through its ends. The curvature
  condition guarantees ``y.s > 0``, so the inverse-Hessian estimate stays positive definite.
* ``line_search="armijo"``: backtracking, ``t = 1, 1/2, 1/4, ...`` until the
  Armijo condition holds. Simpler; a pair with ``y.s <= 0`` is then skipped.

The first step has no history: it goes along ``-g`` with ``t = min(1, 1 / ||g||_1)``
tried first (a unit step in ``x`` could be far too long).

    result = minimize_lbfgs(fun, x0, max_iter=200)       # fun(x) -> (f, g), g shaped like x
    result.x, result.f, result.n_iter, result.n_eval, result.converged, result.message

``x0`` may have any shape and float dtype; ``fun`` receives ``x`` in that shape and
dtype, while the updates and the history are kept in float64.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np

from .._checks import positive_int

__all__ = ["minimize_lbfgs", "LBFGSResult", "two_loop_direction"]


@dataclass
class LBFGSResult:
    """What :func:`minimize_lbfgs` found.

    ``x`` (shaped and typed like ``x0``), ``f`` and ``grad`` at it; ``n_iter``
    iterations and ``n_eval`` calls of ``fun``; ``converged`` is True when a
    tolerance (not a budget) stopped it; ``message`` says which; ``history``
    holds ``f`` after each iteration (``history[0]`` at ``x0``).
    """

    x: np.ndarray
    f: float
    grad: np.ndarray
    n_iter: int
    n_eval: int
    converged: bool
    message: str
    history: list = field(default_factory=list)


def two_loop_direction(g: np.ndarray, s_list, y_list) -> np.ndarray:
    """``-H_k g``: the L-BFGS direction from the stored pairs (oldest first), Algorithm 7.4.

    g : (n,) gradient; s_list, y_list : sequences of (n,) steps and gradient changes.
    With no pairs it is ``-g``.
    """
    q = g.copy()
    rhos = [1.0 / float(y @ s) for s, y in zip(s_list, y_list)]
    alphas = []
    for s, y, rho in zip(reversed(s_list), reversed(y_list), reversed(rhos)):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if s_list:
        s, y = s_list[-1], y_list[-1]
        q *= float(s @ y) / float(y @ y)                     # H_0 = gamma I
    for s, y, rho, a in zip(s_list, y_list, rhos, reversed(alphas)):
        b = rho * float(y @ q)
        q += (a - b) * s
    return -q


def _cubic_min(a, fa, ga, b, fb, gb, lo, hi) -> float:
    """The minimizer of the cubic with values fa, fb and slopes ga, gb at a and b, kept in [lo, hi].

    (Nocedal & Wright, eq. 3.59.) Falls back to the midpoint of [lo, hi] when the
    cubic has no minimum there.
    """
    d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - ga * gb
    if disc >= 0.0:
        d2 = math.copysign(math.sqrt(disc), b - a)
        denom = gb - ga + 2.0 * d2
        if denom != 0.0:
            t = b - (b - a) * (gb + d2 - d1) / denom
            if lo <= t <= hi and math.isfinite(t):
                return t
    return 0.5 * (lo + hi)


class _Line:
    """``phi(t) = f(x + t p)`` and its slope ``phi'(t) = g(x + t p) . p``, counting evaluations."""

    def __init__(self, evaluate, x, p):
        self.evaluate, self.x, self.p = evaluate, x, p
        self.n_eval = 0

    def __call__(self, t: float):
        self.n_eval += 1
        f, g = self.evaluate(self.x + t * self.p)
        return f, g, float(g @ self.p)


def _strong_wolfe(line: _Line, f0: float, d0: float, t: float, c1=1e-4, c2=0.9, max_eval=25):
    """Algorithms 3.5 (bracket) and 3.6 (zoom). Returns ``(t, f, g)`` or None when it fails."""
    t_prev, f_prev, d_prev = 0.0, f0, d0
    g_prev = None
    for i in range(max_eval):
        f, g, d = line(t)
        if not math.isfinite(f) or f > f0 + c1 * t * d0 or (i > 0 and f >= f_prev):
            return _zoom(line, f0, d0, t_prev, f_prev, d_prev, g_prev, t, f, d, c1, c2, max_eval - i - 1)
        if abs(d) <= -c2 * d0:
            return t, f, g
        if d >= 0:
            return _zoom(line, f0, d0, t, f, d, g, t_prev, f_prev, d_prev, c1, c2, max_eval - i - 1)
        # still going down: extrapolate (the cubic's minimizer, between 1.1 t and 10 t)
        t_next = _cubic_min(t_prev, f_prev, d_prev, t, f, d, 1.1 * t, 10.0 * t) \
            if math.isfinite(f) else 2.0 * t
        t_prev, f_prev, d_prev, g_prev = t, f, d, g
        t = t_next
    return None


def _zoom(line, f0, d0, t_lo, f_lo, d_lo, g_lo, t_hi, f_hi, d_hi, c1, c2, budget):
    """Shrink ``[t_lo, t_hi]`` (``t_lo`` the best point so far) until a strong Wolfe point is found."""
    for _ in range(max(budget, 0)):
        lo, hi = min(t_lo, t_hi), max(t_lo, t_hi)
        width = hi - lo
        if width <= 1e-12 * max(1.0, hi):
            break
        if math.isfinite(f_hi) and math.isfinite(d_hi):
            t = _cubic_min(t_lo, f_lo, d_lo, t_hi, f_hi, d_hi, lo + 0.1 * width, hi - 0.1 * width)
        else:
            t = 0.5 * (lo + hi)
        f, g, d = line(t)
        if not math.isfinite(f) or f > f0 + c1 * t * d0 or f >= f_lo:
            t_hi, f_hi, d_hi = t, f, d
        else:
            if abs(d) <= -c2 * d0:
                return t, f, g
            if d * (t_hi - t_lo) >= 0:
                t_hi, f_hi, d_hi = t_lo, f_lo, d_lo
            t_lo, f_lo, d_lo, g_lo = t, f, d, g
    if g_lo is not None and t_lo > 0 and f_lo < f0:         # no Wolfe point, but a decrease: take it
        return t_lo, f_lo, g_lo
    return None


def _armijo(line: _Line, f0: float, d0: float, t: float, c1=1e-4, max_eval=30):
    """Backtracking: halve ``t`` until ``f(x + t p) <= f(x) + c1 t g.p``."""
    for _ in range(max_eval):
        f, g, _ = line(t)
        if math.isfinite(f) and f <= f0 + c1 * t * d0:
            return t, f, g
        t *= 0.5
    return None


def minimize_lbfgs(fun: Callable, x0, max_iter: int = 100, history: int = 10,
                   line_search: str = "strong_wolfe", tol_grad: float = 1e-7,
                   tol_change: float = 1e-9, max_eval: int | None = None,
                   callback: Callable | None = None) -> LBFGSResult:
    """Minimize ``f`` with L-BFGS from ``x0``.

    Parameters
    ----------
    fun : callable ``fun(x) -> (f, g)``: the value (a real number) and the gradient
        (shaped like ``x``) at ``x``, which has ``x0``'s shape and dtype.
    x0 : float array, any shape.
    max_iter : iterations (each one line search); ``max_eval`` caps calls of ``fun``
        (default ``max_iter * 5 / 4``, as PyTorch).
    history : ``m``, the number of ``(s, y)`` pairs kept.
    line_search : ``"strong_wolfe"`` (default) or ``"armijo"`` (backtracking).
    tol_grad : stop when ``max |g| <= tol_grad``.
    tol_change : stop when an iteration lowers ``f`` by less than
        ``tol_change * max(1, |f|)`` or moves ``x`` by less than ``tol_change`` (max norm).
    callback : ``callback(k, x, f)`` after iteration ``k`` (1, 2, ...) with ``x``
        shaped like ``x0``; returning True stops the run.
    """
    x0 = np.asarray(x0)
    if x0.dtype.kind != "f":
        raise TypeError(f"x0: expected a floating-point array, received dtype {x0.dtype}")
    if x0.size == 0:
        raise ValueError("x0: expected at least one element, received an empty array")
    max_iter = positive_int(max_iter, "max_iter")
    history = positive_int(history, "history")
    max_eval = positive_int(max_eval, "max_eval") if max_eval is not None else max_iter * 5 // 4 + 1
    if line_search not in ("strong_wolfe", "armijo"):
        raise ValueError(f"line_search: expected 'strong_wolfe' or 'armijo', received {line_search!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable or None, received {type(callback).__name__}")
    shape, dtype = x0.shape, x0.dtype

    def evaluate(v: np.ndarray):
        f, g = fun(v.reshape(shape).astype(dtype, copy=False))
        f = float(f)
        g = np.asarray(g, dtype=np.float64)
        if g.size != v.size:
            raise ValueError(f"fun: returned a gradient of shape {g.shape} for x of shape {shape}")
        return f, g.reshape(-1)

    x = x0.astype(np.float64).reshape(-1)
    f, g = evaluate(x)
    if not math.isfinite(f):
        raise ValueError(f"fun: returned f = {f} at x0; the starting point must have a finite value")
    n_eval, k = 1, 0
    s_hist: deque = deque(maxlen=history)
    y_hist: deque = deque(maxlen=history)
    trace = [f]
    message, converged = f"reached max_iter = {max_iter}", False
    search = _strong_wolfe if line_search == "strong_wolfe" else _armijo

    while True:
        if float(np.max(np.abs(g))) <= tol_grad:
            message, converged = f"gradient below tol_grad = {tol_grad:g}", True
            break
        if k >= max_iter:
            break
        if n_eval >= max_eval:
            message = f"reached max_eval = {max_eval}"
            break
        p = two_loop_direction(g, list(s_hist), list(y_hist))
        d0 = float(g @ p)
        if d0 >= 0:                                          # not a descent direction: start afresh
            s_hist.clear(), y_hist.clear()
            p, d0 = -g, -float(g @ g)
        t0 = min(1.0, 1.0 / float(np.sum(np.abs(g)))) if not s_hist else 1.0
        line = _Line(evaluate, x, p)
        found = search(line, f, d0, t0)
        n_eval += line.n_eval
        if found is None:
            if s_hist:                                       # retry once along -g without history
                s_hist.clear(), y_hist.clear()
                continue
            message = "the line search found no decrease"
            break
        t, f_new, g_new = found
        s = t * p
        y = g_new - g
        if float(y @ s) > 1e-10 * float(y @ y):              # keep H positive definite
            s_hist.append(s)
            y_hist.append(y)
        x = x + s
        k += 1
        small_f = abs(f - f_new) < tol_change * max(1.0, abs(f_new))
        small_x = float(np.max(np.abs(s))) < tol_change
        f, g = f_new, g_new
        trace.append(f)
        if callback is not None and callback(k, x.reshape(shape).astype(dtype), f):
            message = "stopped by the callback"
            break
        if small_f or small_x:
            message, converged = f"change below tol_change = {tol_change:g}", True
            break

    return LBFGSResult(x=x.reshape(shape).astype(dtype), f=f, grad=g.reshape(shape).astype(dtype),
                       n_iter=k, n_eval=n_eval, converged=converged, message=message, history=trace)
