"""npvision.optim.minimize_lbfgs: exact minima of a quadratic and of Rosenbrock's function,
the two-loop recursion against the explicit BFGS inverse-Hessian update, both line searches."""

from __future__ import annotations

import numpy as np
import pytest

from npvision.optim import minimize_lbfgs, two_loop_direction
from npvision.optim.lbfgs import _armijo, _Line, _strong_wolfe


def rosenbrock(x):
    """sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum 0 at x = (1, ..., 1)."""
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * (b - a ** 2) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a ** 2)
    return f, g


def quadratic(n=20, seed=0, cond=100.0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.geomspace(1.0, cond, n)) @ Q.T          # SPD, condition number cond
    b = rng.standard_normal(n)
    x_star = np.linalg.solve(A, b)
    # 0.5 x^T A x - b^T x up to a constant, written around its minimizer so that f near
    # the minimum is a small number known to full relative precision
    return A, b, lambda x: (0.5 * (x - x_star) @ A @ (x - x_star), A @ (x - x_star))


@pytest.mark.parametrize("line_search", ["strong_wolfe", "armijo"])
def test_quadratic_reaches_the_exact_minimum(line_search):
    A, b, fun = quadratic()
    x_star = np.linalg.solve(A, b)
    res = minimize_lbfgs(fun, np.zeros(20), max_iter=300, line_search=line_search, tol_grad=1e-10,
                         tol_change=0.0)
    assert res.converged, res.message
    np.testing.assert_allclose(res.x, x_star, rtol=0, atol=1e-10)    # |x - x*| <= |g| / lambda_min
    assert res.f < 1e-20
    assert res.history[0] == pytest.approx(0.5 * b @ x_star) and res.history[-1] == res.f
    assert all(f1 <= f0 for f0, f1 in zip(res.history, res.history[1:]))   # monotone decrease


def test_quadratic_with_full_history_is_fast():
    # with exact line searches BFGS ends in n = 10 steps on a quadratic; inexact Wolfe steps
    # (c2 = 0.9) need more, but far fewer than steepest descent (about 115 at condition 10,
    # from its rate (k - 1) / (k + 1) = 0.82 per step)
    _, _, fun = quadratic(n=10, cond=10.0)
    res = minimize_lbfgs(fun, np.zeros(10), max_iter=100, history=10, tol_grad=1e-10,
                         tol_change=0.0)
    assert res.converged and res.n_iter <= 30, (res.n_iter, res.message)


@pytest.mark.parametrize("line_search", ["strong_wolfe", "armijo"])
def test_rosenbrock_reaches_ones(line_search):
    x0 = np.array([-1.2, 1.0, -1.2, 1.0, 0.5])
    res = minimize_lbfgs(rosenbrock, x0, max_iter=2000, max_eval=20000, line_search=line_search,
                         tol_grad=1e-9, tol_change=0.0)
    np.testing.assert_allclose(res.x, np.ones(5), atol=1e-6)
    assert res.f < 1e-12


def test_strong_wolfe_beats_gradient_descent_on_rosenbrock():
    x0 = np.array([-1.2, 1.0])
    res = minimize_lbfgs(rosenbrock, x0, max_iter=200, tol_grad=1e-8, tol_change=0.0)
    assert res.converged and res.n_iter < 60, (res.n_iter, res.n_eval)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)


def test_two_loop_equals_the_explicit_bfgs_update():
    rng = np.random.default_rng(1)
    n, m = 6, 4
    A, _, _ = quadratic(n=n, seed=3)
    S = [rng.standard_normal(n) for _ in range(m)]
    Y = [A @ s for s in S]                                     # y.s > 0 on an SPD quadratic
    g = rng.standard_normal(n)
    gamma = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
    H = gamma * np.eye(n)
    for s, y in zip(S, Y):                                     # H <- (I - r s y^T) H (I - r y s^T) + r s s^T
        r = 1.0 / (y @ s)
        V = np.eye(n) - r * np.outer(y, s)
        H = V.T @ H @ V + r * np.outer(s, s)
    np.testing.assert_allclose(two_loop_direction(g, S, Y), -H @ g, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(two_loop_direction(g, [], []), -g)


def test_line_searches_meet_their_conditions():
    _, _, fun = quadratic(n=8, seed=5)
    x = np.ones(8)
    f0, g0 = fun(x)
    p = -g0
    d0 = float(g0 @ p)
    t, f, g = _strong_wolfe(_Line(fun, x, p), f0, d0, 1e-3)
    assert f <= f0 + 1e-4 * t * d0                               # sufficient decrease
    assert abs(g @ p) <= 0.9 * abs(d0)                          # strong curvature condition
    t, f, g = _armijo(_Line(fun, x, p), f0, d0, 10.0)
    assert f <= f0 + 1e-4 * t * d0 and t < 10.0


def test_shape_dtype_callback_and_budget():
    calls = []

    def fun(x):
        assert x.shape == (2, 3) and x.dtype == np.float32
        return float(np.sum((x - 2.0) ** 2)), 2.0 * (x - 2.0)

    res = minimize_lbfgs(fun, np.zeros((2, 3), np.float32), max_iter=50,
                         callback=lambda k, x, f: calls.append((k, f)) or k == 2)
    assert res.x.shape == (2, 3) and res.x.dtype == np.float32
    assert [k for k, _ in calls] == [1, 2] and res.message == "stopped by the callback"
    res = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=3, max_eval=100)
    assert res.n_iter == 3 and not res.converged and "max_iter" in res.message
    res = minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=100, max_eval=10)
    assert res.n_eval <= 10 + 25 and "max_eval" in res.message


def test_errors():
    with pytest.raises(TypeError, match="x0: expected a floating-point array"):
        minimize_lbfgs(rosenbrock, np.array([1, 2]))
    with pytest.raises(ValueError, match="max_iter: expected an integer >= 1"):
        minimize_lbfgs(rosenbrock, np.zeros(2), max_iter=0)
    with pytest.raises(ValueError, match="line_search"):
        minimize_lbfgs(rosenbrock, np.zeros(2), line_search="exact")
    with pytest.raises(ValueError, match="fun: returned a gradient of shape"):
        minimize_lbfgs(lambda x: (0.0, np.zeros(3)), np.zeros(2))
    with pytest.raises(ValueError, match="finite value"):
        minimize_lbfgs(lambda x: (np.nan, np.zeros(2)), np.zeros(2))
