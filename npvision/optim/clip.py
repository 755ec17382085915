"""Gradient clipping: keep one bad mini-batch from throwing the weights far away.

Call between ``model.backward(...)`` and ``optimizer.step()``. Both functions
change ``p.grad`` in place, only for trainable parameters.

By global norm (the usual choice; keeps the direction of the whole update)::

    norm = sqrt( sum over parameters of sum(g^2) )
    if norm > max_norm:  g <- g * max_norm / (norm + 1e-6)     for every g

By value (each component separately; changes the direction)::

    g <- clip(g, -clip_value, +clip_value)
"""

from __future__ import annotations

import numpy as np

from .optimizers import _real, as_parameter_list

__all__ = ["global_grad_norm", "clip_grad_norm", "clip_grad_value"]


def _trainable(params) -> list:
    return [p for p in as_parameter_list(params) if p.trainable]


def global_grad_norm(params) -> float:
    """``sqrt(sum_p ||p.grad||^2)`` over the trainable parameters, computed in float64."""
    total = 0.0
    for p in _trainable(params):
        g = p.grad.astype(np.float64, copy=False)
        total += float(np.dot(g.ravel(), g.ravel()))
    return float(np.sqrt(total))


def clip_grad_norm(params, max_norm: float) -> float:
    """Rescale all gradients together so that their global L2 norm is at most ``max_norm``.

    ``params``: a Module or a list of Parameters. Returns the norm *before*
    clipping (useful to log: a norm that keeps hitting the limit means the
    learning rate is too high). A non-finite norm raises ``FloatingPointError``
    rather than silently writing NaN into every gradient.
    """
    max_norm = _real(max_norm, "max_norm", 0.0, low_open=True)
    norm = global_grad_norm(params)
    if not np.isfinite(norm):
        raise FloatingPointError(f"clip_grad_norm: the gradient norm is {norm}; some gradient "
                                 f"holds inf or NaN (the loss has diverged)")
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in _trainable(params):
            p.grad *= p.grad.dtype.type(scale)
    return norm


def clip_grad_value(params, clip_value: float) -> None:
    """Clip every gradient component into ``[-clip_value, clip_value]`` in place."""
    clip_value = _real(clip_value, "clip_value", 0.0, low_open=True)
    for p in _trainable(params):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
