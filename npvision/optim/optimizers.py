"""Optimizers: the update rules of gradient descent, over a list of Parameters.

Every optimizer is used the same way, once per mini-batch::

    opt = Adam(model.parameters(), lr=1e-3)
    opt.zero_grad()              # gradients accumulate (+=), so clear them first
    out = model.forward(x)
    loss, dout = loss_fn(out, y)
    model.backward(dout)         # fills p.grad for every Parameter
    opt.step()                   # W <- W - (update computed from p.grad)

Notation (the course's): ``W`` a parameter, ``g = dL/dW`` its gradient,
``alpha`` the learning rate (``opt.lr``), ``t`` the number of updates made to
that parameter so far (1 for the first ``step``), ``v`` the moving average of
gradients (momentum, "first moment"), ``s`` the moving average of squared
gradients ("second moment"). All arithmetic is elementwise and happens in the
parameter's own dtype (float32 weights stay float32).

Parameters with ``trainable=False`` are skipped by ``step`` (their state is not
touched), so freezing a layer after building the optimizer works. The
learning rate ``opt.lr`` is a plain attribute: learning-rate schedules
(:mod:`npvision.optim.schedules`) set it between steps.

``state_dict()`` / ``load_state_dict()`` save and restore everything needed to
resume training exactly: the learning rate, the hyperparameters and each
parameter's moving averages and step count.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import kernels
from ..nn.module import Module, Parameter

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam", "AdamW"]


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------
def as_parameter_list(params, name: str = "params") -> list[Parameter]:
    """A Module, or an iterable of Parameters, as a list of distinct Parameters.

    A Parameter listed twice (a shared weight) is kept once, so it is updated
    once per step with its accumulated gradient.
    """
    if isinstance(params, Module):
        return params.parameters()
    if isinstance(params, Parameter):
        raise TypeError(f"{name}: expected a list of Parameters or a Module, received a single "
                        f"Parameter; wrap it in a list: [{name}]")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(f"{name}: expected a list of Parameters or a Module, "
                        f"received {type(params).__name__}") from None
    out: list[Parameter] = []
    seen: set[int] = set()
    for i, p in enumerate(items):
        if not isinstance(p, Parameter):
            raise TypeError(f"{name}[{i}]: expected a Parameter, received {type(p).__name__}")
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _real(v, name: str, low: float, high: float | None = None, *,
          low_open: bool = False, high_open: bool = True) -> float:
    """``v`` as a float in the interval ``[low, high)`` (ends as flagged), or a clear error."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{name}: expected a real number, received {type(v).__name__} {v!r}")
    v = float(v)
    ok = math.isfinite(v) and (v > low if low_open else v >= low)
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name}: expected a value in {left}{low:g}, {hi}{right}, received {v!r}")
    return v


# ---------------------------------------------------------------------------
# base class
# ---------------------------------------------------------------------------
class Optimizer:
    """Base class: holds the Parameters, the learning rate and per-parameter state.

    Subclasses implement ``_update(p, g, state)``, which changes ``p.data`` in
    place given its gradient ``g`` and its state dict (initially empty), and
    list their hyperparameter names in ``_hyper``.
    """

    _hyper: tuple[str, ...] = ()

    def __init__(self, params, lr: float) -> None:
        self.params = as_parameter_list(params)
        if not self.params:
            raise ValueError("params: received an empty list; the optimizer has nothing to train")
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]

    # ``lr`` is validated on every assignment, including a schedule's
    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _real(value, "lr", 0.0)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (frozen ones too)."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every trainable parameter once from its current gradient."""
        for i, p in enumerate(self.params):
            if not p.trainable:
                continue
            if p.grad.shape != p.data.shape:
                raise ValueError(f"params[{i}]: gradient has shape {p.grad.shape} but the "
                                 f"parameter has shape {p.data.shape}")
            try:
                self._update(p, p.grad, self.state[i])
            except FloatingPointError as exc:
                raise FloatingPointError(f"params[{i}] (shape {p.data.shape}): {exc}") from None

    def _update(self, p: Parameter, g: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def _zeros(self, state: dict, key: str, p: Parameter) -> np.ndarray:
        """``state[key]``, created as zeros shaped like ``p`` on first use."""
        if key not in state:
            state[key] = np.zeros_like(p.data)
        return state[key]

    # -- saving and resuming -------------------------------------------------
    def hyperparameters(self) -> dict:
        return {name: getattr(self, name) for name in self._hyper}

    def state_dict(self) -> dict:
        """Copies of everything needed to resume: type, lr, hyperparameters, per-parameter state."""
        return {
            "optimizer": type(self).__name__,
            "lr": self.lr,
            "hyperparameters": self.hyperparameters(),
            "state": [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                      for s in self.state],
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; checked completely before anything changes."""
        if not isinstance(state_dict, dict) or "state" not in state_dict:
            raise TypeError("state_dict: expected the dict returned by Optimizer.state_dict()")
        kind = state_dict.get("optimizer")
        if kind != type(self).__name__:
            raise ValueError(f"state_dict: was saved from a {kind} optimizer, "
                             f"this is a {type(self).__name__}")
        states = state_dict["state"]
        if len(states) != len(self.params):
            raise ValueError(f"state_dict: holds state for {len(states)} parameter(s), "
                             f"this optimizer has {len(self.params)} parameters")
        for i, (s, p) in enumerate(zip(states, self.params)):
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.shape != p.data.shape:
                    raise ValueError(f"state_dict: state[{i}][{k!r}] has shape {v.shape}, "
                                     f"parameter {i} has shape {p.data.shape}")
        self.lr = state_dict["lr"]
        for name, value in state_dict.get("hyperparameters", {}).items():
            if name in self._hyper:
                setattr(self, name, value)
        self.state = [{k: (np.array(v, dtype=p.data.dtype) if isinstance(v, np.ndarray) else v)
                       for k, v in s.items()} for s, p in zip(states, self.params)]

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr!r}, {hyper})"


def _one_pass_ok(w: np.ndarray, g: np.ndarray) -> bool:
    """The compiled one-pass update applies: C-contiguous float32/float64 arrays of one dtype."""
    return (w.dtype == g.dtype and w.dtype in (np.float32, np.float64) and w.flags.c_contiguous
            and g.flags.c_contiguous and w.flags.writeable)


def _squared(g: np.ndarray) -> np.ndarray:
    """``g * g`` for the second-moment optimizers, refusing a square that is not finite.

    In float32 a gradient above about 1.8e19 squares to ``inf``; ``g / sqrt(inf)``
    is then 0 and the parameter silently stops moving. Say so instead.
    """
    with np.errstate(over="ignore", invalid="ignore"):         # reported below, in words
        g2 = g * g
    if g2.size and not np.isfinite(g2.max()):
        if not np.all(np.isfinite(g)):
            raise FloatingPointError("gradient: contains NaN or inf; training has diverged (lower "
                                     "the learning rate or clip the gradients)")
        raise FloatingPointError(f"gradient: its square overflows {g.dtype} (largest |g| = "
                                 f"{float(np.max(np.abs(g))):.3g}, the limit is "
                                 f"{float(np.sqrt(np.finfo(g.dtype).max)):.3g}); clip the gradients "
                                 f"(fit(..., max_grad_norm=...)) or train in float64")
    return g2


# ---------------------------------------------------------------------------
# the update rules
# ---------------------------------------------------------------------------
class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum and L2 weight decay.

    Plain (``momentum=0``)::

        W <- W - alpha g

    Momentum (``momentum = beta > 0``), the "heavy ball" form of PyTorch and Keras::

        v <- beta v + g                 (v starts at 0)
        W <- W - alpha v

    The course writes momentum as an exponential average,
    ``v <- beta v + (1 - beta) g``; that ``v`` is exactly ``(1 - beta)`` times
    this one at every step, so the course's rule with learning rate ``alpha``
    equals this one with learning rate ``alpha (1 - beta)``.

    Nesterov (``nesterov=True``) takes the step from the look-ahead gradient::

        v <- beta v + g
        W <- W - alpha (g + beta v)

    ``weight_decay = lambda`` adds the gradient of ``lambda/2 ||W||^2`` first:
    ``g <- g + lambda W`` (L2 regularization, coupled with the gradient).
    """

    _hyper = ("momentum", "nesterov", "weight_decay")

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _real(momentum, "momentum", 0.0, 1.0)
        self.weight_decay = _real(weight_decay, "weight_decay", 0.0)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected True or False, received {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0, received momentum=0")
        self.nesterov = nesterov

    def step(self) -> None:
        """Update every trainable parameter once. With plain momentum and no weight decay, the
        parameters the one-pass kernel takes are updated together, in one call
        (``sgd_momentum_many_``); the others (and every other variant) one by one."""
        if not self.momentum or self.nesterov or self.weight_decay:
            return super().step()
        together = []                                 # (w, v, g) for the one-pass kernel
        for i, p in enumerate(self.params):
            if not p.trainable:
                continue
            g = p.grad
            if g.shape != p.data.shape:
                raise ValueError(f"params[{i}]: gradient has shape {g.shape} but the "
                                 f"parameter has shape {p.data.shape}")
            if _one_pass_ok(p.data, g):
                together.append((p.data, self._zeros(self.state[i], "v", p), g))
            else:
                self._update(p, g, self.state[i])
        if together:
            kernels.get("sgd_momentum_many_")(together, self.lr, self.momentum)

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum and not self.nesterov and _one_pass_ok(p.data, g):
            # v <- beta v + g;  W <- W - alpha v, in one pass over memory, in place
            kernels.get("sgd_momentum_")(p.data, self._zeros(state, "v", p), g, self.lr, self.momentum)
            return
        if self.momentum:
            v = self._zeros(state, "v", p)
            v *= self.momentum
            v += g                                   # v <- beta v + g
            g = g + self.momentum * v if self.nesterov else v
        p.data -= self.lr * g


class RMSProp(Optimizer):
    r"""RMSProp: divide each step by a running root-mean-square of the gradient.

    ::

        s <- beta s + (1 - beta) g^2          (s starts at 0)
        W <- W - alpha g / (sqrt(s) + eps)

    Directions with large, oscillating gradients get smaller steps. ``beta`` is
    PyTorch's ``alpha`` and Keras's ``rho``. ``weight_decay`` is L2 (coupled):
    ``g <- g + lambda W`` first.
    """

    _hyper = ("beta", "eps", "weight_decay")

    def __init__(self, params, lr: float = 0.001, beta: float = 0.9, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.beta = _real(beta, "beta", 0.0, 1.0)
        self.eps = _real(eps, "eps", 0.0, low_open=True)
        self.weight_decay = _real(weight_decay, "weight_decay", 0.0)

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        g2 = _squared(g)                            # checked before any state changes
        s = self._zeros(state, "s", p)
        s *= self.beta
        s += (1.0 - self.beta) * g2                 # s <- beta s + (1 - beta) g^2
        p.data -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    r"""Adam: momentum and RMSProp together, with bias correction.

    With ``t`` the update count of this parameter (1, 2, ...)::

        v <- beta1 v + (1 - beta1) g           (first moment, starts at 0)
        s <- beta2 s + (1 - beta2) g^2         (second moment, starts at 0)
        v_corrected = v / (1 - beta1^t)        (undo the pull towards 0 of the
        s_corrected = s / (1 - beta2^t)         zero start; matters for small t)
        W <- W - alpha v_corrected / (sqrt(s_corrected) + eps)

    The first step therefore moves every weight by about ``alpha`` against the
    sign of its gradient. ``weight_decay`` here is L2 (coupled: ``g <- g + lambda W``
    before the moments), as in PyTorch's ``Adam``; for decoupled decay use
    :class:`AdamW`.
    """

    _hyper = ("beta1", "beta2", "eps", "weight_decay")

    def __init__(self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.beta1 = _real(beta1, "beta1", 0.0, 1.0)
        self.beta2 = _real(beta2, "beta2", 0.0, 1.0)
        self.eps = _real(eps, "eps", 0.0, low_open=True)
        self.weight_decay = _real(weight_decay, "weight_decay", 0.0)

    def _adam_step(self, p, g, g2, state):
        t = state["t"] = state.get("t", 0) + 1
        v = self._zeros(state, "v", p)
        s = self._zeros(state, "s", p)
        v *= self.beta1
        v += (1.0 - self.beta1) * g                  # v <- beta1 v + (1 - beta1) g
        s *= self.beta2
        s += (1.0 - self.beta2) * g2                 # s <- beta2 s + (1 - beta2) g^2
        v_corrected = v / (1.0 - self.beta1 ** t)
        s_corrected = s / (1.0 - self.beta2 ** t)
        p.data -= self.lr * v_corrected / (np.sqrt(s_corrected) + self.eps)

    def _update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        self._adam_step(p, g, _squared(g), state)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter).

    The decay shrinks the weights directly instead of entering the gradient,
    so it is not rescaled by ``1 / sqrt(s)``::

        W <- W - alpha lambda W                (decay, before the Adam step)
        W <- W - alpha v_corrected / (sqrt(s_corrected) + eps)

    with ``v``, ``s`` and their corrections exactly as in :class:`Adam` (computed
    from the plain gradient ``g``). ``weight_decay = lambda`` defaults to 0.01,
    as in PyTorch.
    """

    def __init__(self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, beta1, beta2, eps, weight_decay)

    def _update(self, p, g, state):
        g2 = _squared(g)                                  # checked before W changes
        if self.weight_decay:
            p.data *= 1.0 - self.lr * self.weight_decay   # W <- W - alpha lambda W
        self._adam_step(p, g, g2, state)
