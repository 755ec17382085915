"""Learning-rate schedules: set ``optimizer.lr`` as training progresses.

A schedule reads the optimizer's learning rate once, at construction, as its
base rate ``alpha_0``; from then on it owns ``optimizer.lr``::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = CosineDecay(opt, total=30)       # sets opt.lr = alpha(0) = 0.1
    for epoch in range(30):
        train_one_epoch(...)
        sched.step()                          # t += 1, opt.lr = alpha(t)

``t`` counts epochs when ``interval="epoch"`` (the default) or optimizer steps
when ``interval="batch"``; :func:`npvision.train.fit` calls ``step()`` at the
matching moment. ``lr_at(t)`` is a pure function, handy to plot a schedule
before training (``sched.values(30)``).

The rules (``alpha_0`` the base rate):

=======================  ==============================================================
``StepDecay``            ``alpha_0 gamma^floor(t / step_size)``
``ExponentialDecay``     ``alpha_0 gamma^t``
``InverseTimeDecay``     ``alpha_0 / (1 + decay_rate floor(t / interval_length))``
                         (the course's ``schedule_lr_decay``; ``interval_length=1``
                         gives its ``update_lr``)
``CosineDecay``          ``min_lr + (alpha_0 - min_lr) (1 + cos(pi min(t, total) / total)) / 2``
``LinearWarmup``         ``alpha_0 (f + (1 - f) t / warmup)`` for ``t < warmup``, where
                         ``f = start_factor``; afterwards ``alpha_0``, or the schedule
                         ``then`` evaluated at ``t - warmup``
=======================  ==============================================================

Warm-up composes with any other schedule: build the other one first, on the
same optimizer, and pass it as ``then``::

    sched = LinearWarmup(opt, warmup=5, then=CosineDecay(opt, total=25))
"""

from __future__ import annotations

import math

from .._checks import nonnegative_int, positive_int
from .optimizers import _real

__all__ = ["LRSchedule", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay",
           "LinearWarmup"]


class LRSchedule:
    """Base class. Subclasses implement ``lr_at(t)`` from ``self.base_lr``."""

    def __init__(self, optimizer, interval: str = "epoch") -> None:
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"optimizer: expected an optimizer with an `lr` attribute, "
                            f"received {type(optimizer).__name__}")
        if interval not in ("epoch", "batch"):
            raise ValueError(f"interval: expected 'epoch' or 'batch', received {interval!r}")
        self.optimizer = optimizer
        self.interval = interval
        self.base_lr = float(optimizer.lr)
        self.t = 0

    def _start(self) -> None:
        """Called at the end of each subclass's ``__init__``: apply ``lr_at(0)``."""
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch (or batch) and set ``optimizer.lr``; returns the new rate."""
        self.t += 1
        self.optimizer.lr = self.lr_at(self.t)
        return self.optimizer.lr

    def values(self, n: int) -> list[float]:
        """``[lr_at(0), ..., lr_at(n - 1)]`` without touching the optimizer."""
        return [self.lr_at(t) for t in range(nonnegative_int(n, "n"))]

    def state_dict(self) -> dict:
        return {"schedule": type(self).__name__, "t": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        if state.get("schedule") != type(self).__name__:
            raise ValueError(f"state: was saved from a {state.get('schedule')} schedule, "
                             f"this is a {type(self).__name__}")
        self.t = nonnegative_int(state["t"], "state['t']")
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.t)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_lr={self.base_lr!r}, t={self.t}, interval={self.interval!r})"


class StepDecay(LRSchedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs: ``alpha_0 gamma^floor(t / step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, interval: str = "epoch"):
        super().__init__(optimizer, interval)
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = _real(gamma, "gamma", 0.0, 1.0, low_open=True, high_open=False)
        self._start()

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialDecay(LRSchedule):
    """``alpha_0 gamma^t``: a smooth version of :class:`StepDecay`."""

    def __init__(self, optimizer, gamma: float, interval: str = "epoch"):
        super().__init__(optimizer, interval)
        self.gamma = _real(gamma, "gamma", 0.0, 1.0, low_open=True, high_open=False)
        self._start()

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** t


class InverseTimeDecay(LRSchedule):
    """The course's decay: ``alpha_0 / (1 + decay_rate floor(t / interval_length))``."""

    def __init__(self, optimizer, decay_rate: float, interval_length: int = 1,
                 interval: str = "epoch"):
        super().__init__(optimizer, interval)
        self.decay_rate = _real(decay_rate, "decay_rate", 0.0)
        self.interval_length = positive_int(interval_length, "interval_length")
        self._start()

    def lr_at(self, t: int) -> float:
        return self.base_lr / (1.0 + self.decay_rate * (t // self.interval_length))


class CosineDecay(LRSchedule):
    """Half a cosine from ``alpha_0`` at ``t = 0`` down to ``min_lr`` at ``t = total``, then flat.

    ``alpha(t) = min_lr + (alpha_0 - min_lr) (1 + cos(pi min(t, total) / total)) / 2``
    """

    def __init__(self, optimizer, total: int, min_lr: float = 0.0, interval: str = "epoch"):
        super().__init__(optimizer, interval)
        self.total = positive_int(total, "total")
        self.min_lr = _real(min_lr, "min_lr", 0.0, self.base_lr, high_open=False)
        self._start()

    def lr_at(self, t: int) -> float:
        progress = min(t, self.total) / self.total          # 0 -> 1
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class LinearWarmup(LRSchedule):
    """Ramp linearly from ``start_factor alpha_0`` to ``alpha_0`` over ``warmup`` epochs (or steps).

    ``alpha(t) = alpha_0 (f + (1 - f) t / warmup)`` for ``t < warmup`` (``f = start_factor``),
    then ``alpha_0``, or ``then.lr_at(t - warmup)`` when another schedule ``then``
    (built on the same optimizer) should take over: the warm-up delays it by
    ``warmup``. Warm-up avoids the large, badly-aimed first updates of a fresh
    network with a high learning rate (Adam's moment estimates, BatchNorm's
    statistics and momentum all start cold).
    """

    def __init__(self, optimizer, warmup: int, then: LRSchedule | None = None,
                 start_factor: float = 0.1, interval: str | None = None):
        if then is not None:
            if not isinstance(then, LRSchedule):
                raise TypeError(f"then: expected an LRSchedule or None, received {type(then).__name__}")
            if then.optimizer is not optimizer:
                raise ValueError("then: must be built on the same optimizer as the warm-up")
            if interval is not None and interval != then.interval:
                raise ValueError(f"interval: {interval!r} differs from then.interval {then.interval!r}")
            interval = then.interval
        super().__init__(optimizer, interval or "epoch")
        self.then = then
        if then is not None:
            self.base_lr = then.base_lr
        self.warmup = positive_int(warmup, "warmup")
        self.start_factor = _real(start_factor, "start_factor", 0.0, 1.0, high_open=False)
        self._start()

    def lr_at(self, t: int) -> float:
        if t < self.warmup:
            f = self.start_factor
            return self.base_lr * (f + (1.0 - f) * t / self.warmup)
        if self.then is not None:
            return self.then.lr_at(t - self.warmup)
        return self.base_lr

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.then is not None:
            state["then"] = self.then.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if self.then is not None and "then" in state:
            self.then.load_state_dict(state["then"])
        super().load_state_dict(state)
