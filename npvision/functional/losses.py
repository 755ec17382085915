"""Losses, each returning ``(loss, dpred)`` with a mean reduction.

``loss`` is a Python float; ``dpred = d loss / d pred`` has the shape and dtype
of the prediction, so it can be fed straight into the last layer's backward.

Softmax cross-entropy (classification, per-pixel segmentation)
--------------------------------------------------------------
For logits ``z`` with the ``K`` classes along ``axis`` and log-probabilities
computed stably by log-sum-exp (``m = max_k z_k``)::

    log p_k = z_k - m - log sum_j exp(z_j - m)

* integer ``labels`` ``y`` (one class per sample or pixel):
  ``loss = sum_i w_i (-log p_{i, y_i}) / sum_i w_i`` with ``w_i = class_weights[y_i]``
  (1 without weights) and ``w_i = 0`` where ``y_i == ignore_index``: the
  weighted mean of PyTorch's ``cross_entropy``. Gradient:
  ``dz_i = w_i (p_i - onehot(y_i)) / sum_j w_j``.
* float ``labels`` ``t`` shaped like the logits (probabilities, e.g. label
  smoothing): ``loss = mean_i ( -sum_k u_ik log p_ik )`` with ``u = w * t``
  (``u = t`` without weights). Gradient: ``dz_i = (p_i sum_k u_ik - u_i) / M``,
  which is ``(p_i - t_i) / M`` when the targets sum to 1.

Binary cross-entropy with logits
--------------------------------
``l = -y log s(z) - (1 - y) log(1 - s(z))`` simplifies to
``max(z, 0) - z y + log(1 + exp(-|z|))``, which never overflows;
``dl/dz = s(z) - y``.

Regression
----------
``mean_squared_error``: ``mean((p - t)^2)``, gradient ``2 (p - t) / n``.
``smooth_l1_loss`` (Huber-like, as PyTorch's, used for box regression), with
``d = p - t``: ``0.5 d^2 / beta`` if ``|d| < beta`` else ``|d| - 0.5 beta``;
gradient ``d / beta`` or ``sign(d)``, divided by ``n``. ``beta = 0`` is the L1 loss.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import as_float_array
from .activations import sigmoid_forward

__all__ = ["softmax_cross_entropy", "binary_cross_entropy_with_logits",
           "mean_squared_error", "smooth_l1_loss"]


def _same_shape(target: np.ndarray, pred: np.ndarray, name: str, pred_name: str) -> None:
    if target.shape != pred.shape:
        raise ValueError(f"{name}: expected the shape of {pred_name} {pred.shape}, received {target.shape}")


def _check_finite(x: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: contains NaN or infinite values")


# ---------------------------------------------------------------- cross-entropy

def _log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of ``z`` (M, K) via log-sum-exp."""
    shifted = z - z.max(axis=1, keepdims=True)                        # (M, K), <= 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (M, K)


def softmax_cross_entropy(logits, labels, axis=-1, *, class_weights=None, ignore_index=None):
    """Softmax cross-entropy, mean over samples (and pixels).

    Parameters
    ----------
    logits : float array with the ``K`` classes along ``axis``, e.g. (N, K) or per-pixel (N, H, W, K).
    labels : integer class indices shaped like ``logits`` without ``axis`` ((N,) or (N, H, W)),
        values in ``[0, K)`` (or ``ignore_index``); or float probabilities shaped like ``logits``.
    axis : int, the class axis.
    class_weights : optional (K,) non-negative float array, a weight per class.
    ignore_index : optional int; samples with this integer label add nothing to the loss
        or the mean's denominator (integer labels only).

    Returns
    -------
    (loss, dlogits): a float, and an array shaped like ``logits`` in its dtype.
    When every sample is ignored (or has weight 0) the loss is 0 with a zero gradient.
    """
    logits = as_float_array(logits, "logits")
    if logits.ndim == 0:
        raise ValueError("logits: expected an array with at least 1 dimension (the classes), received a 0-D array")
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"axis: expected an integer, received {type(axis).__name__} {axis!r}")
    if not -logits.ndim <= axis < logits.ndim:
        raise ValueError(f"axis: expected an axis in [{-logits.ndim}, {logits.ndim}) for logits of shape "
                         f"{logits.shape}, received {axis}")
    axis = int(axis) % logits.ndim
    k = logits.shape[axis]
    if k < 1:
        raise ValueError(f"logits: has no classes along axis {axis}, shape {logits.shape}")
    _check_finite(logits, "logits")

    weights = None
    if class_weights is not None:
        weights = as_float_array(class_weights, "class_weights", ndim=1)
        if weights.shape != (k,):
            raise ValueError(f"class_weights: expected shape ({k},) (one per class), received {weights.shape}")
        if np.any(weights < 0) or not np.all(np.isfinite(weights)):
            raise ValueError(f"class_weights: expected finite non-negative weights, received {weights}")
    if ignore_index is not None and (not isinstance(ignore_index, numbers.Integral)
                                     or isinstance(ignore_index, bool)):
        raise TypeError(f"ignore_index: expected an int or None, received {type(ignore_index).__name__} "
                        f"{ignore_index!r}")

    z = np.moveaxis(logits, axis, -1)                 # classes last: (..., K)
    z_shape = z.shape
    z = z.reshape(-1, k)                              # (M, K), one row per sample / pixel
    if z.shape[0] == 0:
        raise ValueError(f"logits: expected at least one sample, received shape {logits.shape}")
    log_p = _log_softmax(z)                           # (M, K)
    p = np.exp(log_p)                                 # (M, K)

    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        loss, dz = _ce_integer_labels(labels, logits.shape, axis, k, log_p, p, weights, ignore_index)
    elif labels.dtype.kind == "f":
        if ignore_index is not None:
            raise ValueError("ignore_index: only applies to integer class labels, but labels are float "
                             "probabilities")
        _same_shape(labels, logits, "labels", "logits (float labels are read as class probabilities)")
        _check_finite(labels, "labels")
        if np.any(labels < 0):
            raise ValueError(f"labels: probabilities must be non-negative, received a minimum of {labels.min()}")
        t = np.moveaxis(labels, axis, -1).reshape(-1, k)   # (M, K)
        u = t if weights is None else t * weights          # (M, K)
        m = z.shape[0]
        loss = -np.sum(u * log_p) / m
        dz = (p * u.sum(axis=1, keepdims=True) - u) / m    # (M, K)
    else:
        raise TypeError(f"labels: expected integer class indices or float probabilities, received dtype "
                        f"{labels.dtype}")

    dlogits = np.moveaxis(dz.reshape(z_shape), -1, axis)  # (..., K) -> logits' layout
    return float(loss), np.ascontiguousarray(dlogits, dtype=logits.dtype)


def _ce_integer_labels(labels, logits_shape, axis, k, log_p, p, weights, ignore_index):
    """Weighted mean of ``-log p[i, y_i]`` over the non-ignored samples, and its gradient (M, K)."""
    expected = logits_shape[:axis] + logits_shape[axis + 1:]
    if labels.shape != expected:
        raise ValueError(f"labels: expected integer labels of shape {expected} (logits {logits_shape} "
                         f"without the class axis {axis}), or float probabilities of shape {logits_shape}; "
                         f"received shape {labels.shape}")
    y = labels.reshape(-1).astype(np.int64)           # (M,)
    keep = np.ones(y.shape, dtype=bool) if ignore_index is None else (y != ignore_index)
    bad = keep & ((y < 0) | (y >= k))
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        where = np.unravel_index(first, labels.shape) if labels.ndim else ()
        raise ValueError(f"labels: expected class indices in [0, K) with K = {k} classes, received "
                         f"{int(y[first])} at index {tuple(int(i) for i in where)}")
    y_safe = np.where(keep, y, 0)                     # any valid class for ignored rows (weight 0)
    rows = np.arange(y.shape[0])
    w = keep.astype(np.float64)                       # (M,)
    if weights is not None:
        w = w * weights[y_safe]
    total = w.sum()
    dz = np.zeros_like(p)
    if total == 0:
        return 0.0, dz
    nll = -log_p[rows, y_safe]                        # (M,)
    loss = np.sum(w * nll) / total
    dz[...] = p
    dz[rows, y_safe] -= 1.0                           # p - onehot(y)
    dz *= (w / total)[:, None]
    return loss, dz


# ---------------------------------------------------------------- binary cross-entropy

def binary_cross_entropy_with_logits(logits, targets):
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``targets`` in [0, 1].

    Parameters
    ----------
    logits : float array of any shape.
    targets : float array of the same shape, values in [0, 1].

    Returns ``(loss, dlogits)``, ``dlogits = (sigmoid(logits) - targets) / n``.
    """
    logits = as_float_array(logits, "logits")
    targets = as_float_array(targets, "targets")
    _same_shape(targets, logits, "targets", "logits")
    _check_finite(logits, "logits")
    if logits.size == 0:
        raise ValueError("logits: expected at least one element, received an empty array")
    if np.any(targets < 0) or np.any(targets > 1) or not np.all(np.isfinite(targets)):
        raise ValueError(f"targets: expected values in [0, 1], received values in "
                         f"[{targets.min()}, {targets.max()}]")
    n = logits.size
    per_element = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    s, _ = sigmoid_forward(logits)
    dlogits = (s - targets) / n
    return float(per_element.sum() / n), dlogits.astype(logits.dtype, copy=False)


# ---------------------------------------------------------------- regression

def _regression_inputs(pred, target):
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    _same_shape(target, pred, "target", "pred")
    if pred.size == 0:
        raise ValueError("pred: expected at least one element, received an empty array")
    return pred, target


def mean_squared_error(pred, target):
    """``mean((pred - target)^2)``; gradient ``2 (pred - target) / n``."""
    pred, target = _regression_inputs(pred, target)
    d = pred - target
    n = pred.size
    return float(np.sum(d * d) / n), (2 * d / n).astype(pred.dtype, copy=False)


def smooth_l1_loss(pred, target, beta=1.0):
    """Smooth L1 (PyTorch's definition), mean over elements.

    With ``d = pred - target``: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``.
    Gradient: ``d / beta`` where ``|d| < beta``, else ``sign(d)``; divided by ``n``.
    ``beta`` >= 0; ``beta = 0`` gives the L1 loss.
    """
    pred, target = _regression_inputs(pred, target)
    if not isinstance(beta, numbers.Real) or isinstance(beta, bool) or not beta >= 0:
        raise ValueError(f"beta: expected a real number >= 0, received {beta!r}")
    beta = float(beta)
    d = pred - target
    abs_d = np.abs(d)
    n = pred.size
    if beta == 0:
        return float(abs_d.sum() / n), (np.sign(d) / n).astype(pred.dtype, copy=False)
    quadratic = abs_d < beta
    per_element = np.where(quadratic, 0.5 * d * d / beta, abs_d - 0.5 * beta)
    grad = np.where(quadratic, d / beta, np.sign(d)) / n
    return float(per_element.sum() / n), grad.astype(pred.dtype, copy=False)
