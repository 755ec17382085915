"""Optimizers, gradient clipping and learning-rate schedules (npvision.optim)."""

import math

import numpy as np
import pytest

from npvision.nn.module import Parameter
from npvision.optim import (SGD, Adam, AdamW, CosineDecay, ExponentialDecay, InverseTimeDecay,
                            LinearWarmup, RMSProp, StepDecay, clip_grad_norm, clip_grad_value,
                            global_grad_norm)


def make_param(values, grad, dtype=np.float64):
    p = Parameter(np.array(values, dtype=dtype))
    p.grad[...] = np.array(grad, dtype=dtype)
    return p


# ---------------------------------------------------------------------------
# first steps against values worked out by hand
# ---------------------------------------------------------------------------
def test_sgd_plain_step():
    p = make_param([1.0, -2.0], [0.5, 1.0])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, -2.1], rtol=0, atol=1e-15)


def test_sgd_momentum_two_steps():
    g = np.array([0.5, 1.0])
    p = make_param([1.0, -2.0], g)
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()                                      # v = g
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.1], atol=1e-15)
    opt.step()                                      # v = 0.9 g + g = 1.9 g
    np.testing.assert_allclose(p.data, [1.0 - 0.05 - 0.095, -2.0 - 0.1 - 0.19], atol=1e-15)


def test_sgd_momentum_updates_many_parameters_at_once_as_one_by_one():
    """SGD's step hands the parameters to one multi-tensor kernel; a frozen one, a float64 one among
    float32 ones and a non-contiguous gradient must each get exactly the one-by-one update."""
    from npvision.nn.module import Parameter
    rng = np.random.default_rng(5)
    params = [Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(4,), (3, 5), (70000,)]]
    params.append(Parameter(rng.standard_normal(6)))                     # float64
    params.append(Parameter(rng.standard_normal((4, 3)).astype(np.float32)))
    frozen = Parameter(np.ones(3, np.float32), trainable=False)
    params.append(frozen)
    for p in params:
        p.grad = rng.standard_normal(p.shape).astype(p.data.dtype)
    params[4].grad = np.asfortranarray(params[4].grad)                  # not C-contiguous
    want = [p.data.copy() for p in params]
    vs = [np.zeros_like(p.data) for p in params]
    opt = SGD(params, lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.step()
        for i, p in enumerate(params):
            if p.trainable:
                vs[i] = (0.9 * vs[i] + p.grad).astype(p.data.dtype)
                want[i] = (want[i] - p.data.dtype.type(0.1) * vs[i]).astype(p.data.dtype)
    for p, w in zip(params, want):
        np.testing.assert_allclose(p.data, w, rtol=1e-6)
    np.testing.assert_array_equal(frozen.data, 1)


def test_zero_grad_is_written_on_first_use():
    """zero_grad() defers its zeros: reading grad shows them, the next accumulation copies."""
    from npvision.nn.module import Parameter
    p = Parameter(np.ones((2, 3)))
    p.accumulate_grad(np.full((2, 3), 2.0))
    p.zero_grad()
    p.accumulate_grad(np.arange(3.0))                                    # broadcast, as += does
    np.testing.assert_array_equal(p.grad, [[0, 1, 2], [0, 1, 2]])
    p.accumulate_grad(np.ones((2, 3)))
    np.testing.assert_array_equal(p.grad, [[1, 2, 3], [1, 2, 3]])
    p.zero_grad()
    np.testing.assert_array_equal(p.grad, 0)                             # read: the zeros are there
    p.zero_grad()
    p.grad += 5                                                          # direct use sees zeros too
    np.testing.assert_array_equal(p.grad, 5)


def test_sgd_nesterov_two_steps():
    p = make_param([0.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    opt.step()                                      # v = 1, step g + 0.9 v = 1.9
    np.testing.assert_allclose(p.data, [-0.19], atol=1e-15)
    opt.step()                                      # v = 1.9, step 1 + 0.9 * 1.9 = 2.71
    np.testing.assert_allclose(p.data, [-0.19 - 0.271], atol=1e-15)


def test_sgd_weight_decay_is_l2():
    p = make_param([2.0], [1.0])
    SGD([p], lr=0.1, weight_decay=0.5).step()       # g' = 1 + 0.5 * 2 = 2
    np.testing.assert_allclose(p.data, [1.8], atol=1e-15)


def test_rmsprop_first_step():
    p = make_param([1.0, 1.0], [2.0, -0.5])
    RMSProp([p], lr=0.01, beta=0.9, eps=0.0 + 1e-12).step()
    # s = 0.1 g^2, step = lr g / sqrt(0.1 g^2) = lr sign(g) / sqrt(0.1)
    np.testing.assert_allclose(p.data, [1 - 0.01 / math.sqrt(0.1), 1 + 0.01 / math.sqrt(0.1)],
                               rtol=1e-10)


def test_adam_two_steps_by_hand():
    p = make_param([0.0], [2.0])
    opt = Adam([p], lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    opt.step()
    # v = 0.2, s = 0.004; corrected 2 and 4 -> step 0.1 * 2 / (2 + 1e-8)
    np.testing.assert_allclose(p.data, [-0.1 * 2 / (2 + 1e-8)], rtol=1e-12)
    w1 = p.data.copy()
    p.grad[...] = -1.0
    opt.step()
    v2 = 0.9 * 0.2 + 0.1 * (-1.0)                    # 0.08
    s2 = 0.999 * 0.004 + 0.001 * 1.0                 # 0.004996
    v_hat, s_hat = v2 / (1 - 0.9 ** 2), s2 / (1 - 0.999 ** 2)
    np.testing.assert_allclose(p.data, w1 - 0.1 * v_hat / (math.sqrt(s_hat) + 1e-8), rtol=1e-12)
    assert abs(v_hat - 0.08 / 0.19) < 1e-15


def test_adamw_decay_is_decoupled():
    p = make_param([1.0, -1.0], [0.3, 0.3])
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    # decay first: W * (1 - 0.1 * 0.5), then Adam's first step ~ lr sign(g)
    np.testing.assert_allclose(p.data, [0.95 - 0.1, -0.95 - 0.1], rtol=1e-7)
    q = make_param([1.0, -1.0], [0.3, 0.3])
    Adam([q], lr=0.1, weight_decay=0.5).step()      # coupled: g' = 0.3 + 0.5 W, still ~ sign
    np.testing.assert_allclose(q.data, [0.9, -1.0 + 0.1], rtol=1e-7)


# ---------------------------------------------------------------------------
# general behaviour
# ---------------------------------------------------------------------------
OPTIMIZERS = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (RMSProp, dict(lr=0.02)),
    (Adam, dict(lr=0.1)),
    (AdamW, dict(lr=0.1, weight_decay=1e-4)),
]


@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_minimizes_a_quadratic(cls, kw):
    # f(W) = 1/2 sum a (W - c)^2, an elongated bowl; its minimum is W = c
    a = np.array([1.0, 4.0, 0.5])
    c = np.array([3.0, -1.0, 2.0])
    p = Parameter(np.zeros(3))
    opt = cls([p], **kw)
    f0 = 0.5 * np.sum(a * c ** 2)
    for _ in range(400):
        opt.zero_grad()
        p.grad += a * (p.data - c)
        opt.step()
    f = 0.5 * np.sum(a * (p.data - c) ** 2)
    assert f < 1e-3 * f0
    np.testing.assert_allclose(p.data, c, atol=0.05)


@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_keeps_float32_and_skips_frozen(cls, kw):
    p = make_param(np.ones((2, 3)), np.full((2, 3), 0.5), dtype=np.float32)
    frozen = make_param([1.0, 2.0], [1.0, 1.0], dtype=np.float32)
    frozen.trainable = False
    opt = cls([p, frozen], **kw)
    data = p.data
    opt.step()
    assert p.data.dtype == np.float32 and p.data is data      # updated in place
    assert np.all(p.data < 1)
    np.testing.assert_array_equal(frozen.data, [1.0, 2.0])
    opt.zero_grad()
    assert not p.grad.any() and not frozen.grad.any()


@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_state_dict_resumes_exactly(cls, kw):
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((6, 4))
    p = Parameter(rng.standard_normal(4))
    opt = cls([p], **kw)
    for g in grads[:3]:
        p.grad[...] = g
        opt.step()
    saved_w, saved_opt = p.data.copy(), opt.state_dict()
    for g in grads[3:]:
        p.grad[...] = g
        opt.step()
    q = Parameter(saved_w)
    opt2 = cls([q], **kw)
    opt2.load_state_dict(saved_opt)
    for g in grads[3:]:
        q.grad[...] = g
        opt2.step()
    np.testing.assert_array_equal(q.data, p.data)


def test_state_dict_mismatch_errors():
    p = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="Adam"):
        SGD([p], lr=0.1).load_state_dict(Adam([p]).state_dict())
    with pytest.raises(ValueError, match="2 parameters"):
        Adam([p, Parameter(np.zeros(1))]).load_state_dict(Adam([p]).state_dict())


def test_argument_errors():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="lr"):
        SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD([p], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        Adam([p, np.zeros(2)])
    with pytest.raises(TypeError, match="single Parameter"):
        Adam(p)
    with pytest.raises(ValueError, match="empty"):
        Adam([])
    with pytest.raises(ValueError, match="beta2"):
        Adam([p], beta2=1.0)
    opt = Adam([p])
    with pytest.raises(ValueError, match="lr"):
        opt.lr = float("nan")


def test_shared_parameter_updated_once():
    p = make_param([1.0], [1.0])
    SGD([p, p], lr=0.5).step()
    np.testing.assert_allclose(p.data, [0.5])


# ---------------------------------------------------------------------------
# clipping
# ---------------------------------------------------------------------------
def test_clip_grad_norm_global():
    a = make_param([0.0, 0.0], [3.0, 0.0])
    b = make_param([0.0], [4.0])
    frozen = make_param([0.0], [100.0])
    frozen.trainable = False
    assert global_grad_norm([a, b, frozen]) == pytest.approx(5.0)
    norm = clip_grad_norm([a, b, frozen], max_norm=1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(np.r_[a.grad, b.grad], [0.6, 0.0, 0.8], rtol=1e-6)
    assert frozen.grad[0] == 100.0
    # below the limit: untouched
    assert clip_grad_norm([a, b], max_norm=2.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(np.r_[a.grad, b.grad], [0.6, 0.0, 0.8], rtol=1e-6)


def test_clip_grad_norm_float32_and_nonfinite():
    a = make_param([0.0, 0.0], [30.0, 40.0], dtype=np.float32)
    clip_grad_norm([a], 5.0)
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad, [3.0, 4.0], rtol=1e-5)
    a.grad[0] = np.nan
    with pytest.raises(FloatingPointError, match="NaN"):
        clip_grad_norm([a], 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([a], 0.0)


def test_clip_grad_value():
    a = make_param([0.0, 0.0, 0.0], [-3.0, 0.2, 5.0])
    clip_grad_value([a], 1.0)
    np.testing.assert_array_equal(a.grad, [-1.0, 0.2, 1.0])


# ---------------------------------------------------------------------------
# schedules
# ---------------------------------------------------------------------------
def _opt(lr):
    return SGD([Parameter(np.zeros(1))], lr=lr)


def test_step_decay():
    opt = _opt(0.1)
    s = StepDecay(opt, step_size=3, gamma=0.5)
    np.testing.assert_allclose(s.values(8), [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert opt.lr == 0.1
    for _ in range(3):
        s.step()
    assert opt.lr == pytest.approx(0.05)


def test_exponential_and_inverse_time_decay():
    e = ExponentialDecay(_opt(0.1), gamma=0.9)
    assert e.lr_at(3) == pytest.approx(0.1 * 0.729)
    # the course's update_lr(0.5, epoch_num=2, decay_rate=1) = 0.5 / 3
    assert InverseTimeDecay(_opt(0.5), decay_rate=1.0).lr_at(2) == pytest.approx(0.5 / 3)
    # the course's schedule_lr_decay(0.5, epoch_num=100, decay_rate=0.3, time_interval=100)
    s = InverseTimeDecay(_opt(0.5), decay_rate=0.3, interval_length=100)
    assert s.lr_at(99) == 0.5
    assert s.lr_at(100) == pytest.approx(0.5 / 1.3)


def test_cosine_decay():
    opt = _opt(0.2)
    s = CosineDecay(opt, total=10, min_lr=0.02)
    assert s.lr_at(0) == pytest.approx(0.2)
    assert s.lr_at(5) == pytest.approx(0.11)                 # halfway: the mean
    assert s.lr_at(10) == pytest.approx(0.02)
    assert s.lr_at(25) == pytest.approx(0.02)                # flat after the end
    assert s.lr_at(2) == pytest.approx(0.02 + 0.18 * (1 + math.cos(math.pi * 0.2)) / 2)


def test_warmup_alone_and_composed():
    opt = _opt(1.0)
    w = LinearWarmup(opt, warmup=4, start_factor=0.2)
    assert opt.lr == pytest.approx(0.2)
    np.testing.assert_allclose(w.values(6), [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])

    opt = _opt(1.0)
    w = LinearWarmup(opt, warmup=4, start_factor=0.2, then=StepDecay(opt, step_size=2, gamma=0.5))
    np.testing.assert_allclose(w.values(9), [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.5, 0.5, 0.25])
    for t in range(1, 7):
        assert w.step() == pytest.approx(w.lr_at(t))
    assert opt.lr == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same optimizer"):
        LinearWarmup(_opt(1.0), warmup=2, then=StepDecay(opt, step_size=1))


def test_schedule_state_dict_and_errors():
    opt = _opt(1.0)
    s = CosineDecay(opt, total=10)
    for _ in range(4):
        s.step()
    state = s.state_dict()
    opt2 = _opt(1.0)
    s2 = CosineDecay(opt2, total=10)
    s2.load_state_dict(state)
    assert opt2.lr == opt.lr and s2.t == 4
    with pytest.raises(ValueError, match="interval"):
        StepDecay(_opt(1.0), step_size=2, interval="minute")
    with pytest.raises(ValueError, match="step_size"):
        StepDecay(_opt(1.0), step_size=0)


@pytest.mark.parametrize("cls", [Adam, AdamW, RMSProp])
def test_a_gradient_whose_square_overflows_is_an_error_not_a_frozen_weight(cls):
    """float32 squares of |g| > 1.8e19 are inf, and g / sqrt(inf) would leave W unchanged."""
    p = make_param([1.0, 2.0], [3e19, 1.0], dtype=np.float32)
    before = p.data.copy()
    opt = cls([make_param([0.0], [1.0], dtype=np.float32), p], lr=0.1)
    with pytest.raises(FloatingPointError, match=r"params\[1\] \(shape \(2,\)\): gradient: its square "
                                                 r"overflows float32 \(largest \|g\| = 3e\+19"):
        opt.step()
    np.testing.assert_array_equal(p.data, before)
    assert opt.state[1] == {}                                    # nothing half-updated
    p.grad[0] = np.nan
    with pytest.raises(FloatingPointError, match="contains NaN or inf"):
        opt.step()
    p64 = make_param([1.0], [3e19])                               # float64: fine, a normal step
    cls([p64], lr=0.1).step()
    assert np.isfinite(p64.data).all() and p64.data[0] < 1.0
