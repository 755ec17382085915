"""The training loop: ``fit``, ``evaluate`` and ``predict``.

One epoch of mini-batch gradient descent, written out (this is all ``fit`` does,
plus bookkeeping)::

    model.train()                                   # BatchNorm uses batch stats, Dropout drops
    order = rng.permutation(N)                      # a new shuffle each epoch, from `seed`
    for each slice idx of `batch_size` indices in order:
        optimizer.zero_grad()                       # gradients accumulate: clear them
        xb = augment(x[idx], rng)                   # only if fit(..., augment=...) is given
        out = model.forward(xb)
        loss, dout = loss_fn(out, y[idx])           # e.g. F.softmax_cross_entropy
        model.backward(dout)                        # fills p.grad
        optimizer.step()                            # W <- W - update(p.grad)

then the epoch's numbers go into a :class:`~npvision.train.history.History`:
the loss and metrics averaged over the epoch's samples (each batch weighted
by its size), the same on the validation data (``"val_"`` prefix, computed in
eval mode after the epoch), and the learning rate.

Metrics are given by name or as functions ``metric(outputs, targets) -> float``
(averaged per batch, weighted by batch size). Built in:

``"accuracy"``   scores ``(N, ..., K)`` and integer labels ``(N, ...)``: ``argmax`` over
                 the last axis equals the label; one-hot/probability targets shaped
                 like the scores: the two ``argmax`` agree; a single logit per sample
                 (``(N,)`` or ``(N, 1)``) with 0/1 targets: ``(logit > 0) == (target > 0.5)``.
``"top5_accuracy"``  the label is among the 5 highest scores.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from tqdm import tqdm

from .._checks import as_float_array, positive_int
from ..nn.module import Module
from ..optim.clip import clip_grad_norm
from ..optim.optimizers import _real
from .callbacks import Callback
from .history import History

__all__ = ["fit", "evaluate", "predict", "accuracy", "top_k_accuracy", "METRICS"]


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------
def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of correct predictions (see the module docstring for the three cases)."""
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    if outputs.shape[:-1] == targets.shape and outputs.ndim >= 2 and outputs.shape[-1] > 1:
        return float(np.mean(np.argmax(outputs, axis=-1) == targets))        # labels
    if outputs.shape == targets.shape and outputs.ndim >= 2 and outputs.shape[-1] > 1:
        return float(np.mean(np.argmax(outputs, -1) == np.argmax(targets, -1)))  # one-hot
    if outputs.size == targets.size and (outputs.ndim == 1 or outputs.shape[-1] == 1):
        return float(np.mean((outputs.reshape(-1) > 0) == (targets.reshape(-1) > 0.5)))  # binary
    raise ValueError(f"accuracy: cannot match outputs of shape {outputs.shape} with targets of "
                     f"shape {targets.shape}; expected scores (N, ..., K) with labels (N, ...), "
                     f"one-hot targets shaped like the scores, or one logit per sample")


def top_k_accuracy(outputs: np.ndarray, targets: np.ndarray, k: int = 5) -> float:
    """Fraction of samples whose integer label is among the ``k`` largest scores."""
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    if outputs.shape[:-1] != targets.shape or outputs.ndim < 2:
        raise ValueError(f"top_k_accuracy: expected scores (N, ..., K) and labels (N, ...), "
                         f"received shapes {outputs.shape} and {targets.shape}")
    k = min(positive_int(k, "k"), outputs.shape[-1])
    top = np.argpartition(-outputs, k - 1, axis=-1)[..., :k]                # (N, ..., k)
    return float(np.mean(np.any(top == targets[..., None], axis=-1)))


def _top5(outputs, targets):
    return top_k_accuracy(outputs, targets, 5)


METRICS: dict[str, Callable] = {"accuracy": accuracy, "top5_accuracy": _top5}


def _resolve_metrics(metrics) -> list[tuple[str, Callable]]:
    """Names or functions (or ``(name, function)`` pairs) as ``[(name, function)]``."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    out = []
    for i, m in enumerate(metrics):
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"metrics[{i}]: unknown metric {m!r}; built in: {sorted(METRICS)}, "
                                 f"or pass a function metric(outputs, targets) -> float")
            out.append((m, METRICS[m]))
        elif isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1]):
            out.append(m)
        elif callable(m):
            out.append((getattr(m, "__name__", f"metric{i}"), m))
        else:
            raise TypeError(f"metrics[{i}]: expected a metric name, a function or (name, function), "
                            f"received {type(m).__name__}")
    names = [n for n, _ in out]
    if len(set(names)) != len(names) or "loss" in names or "lr" in names:
        raise ValueError(f"metrics: names must be distinct and not 'loss' or 'lr', received {names}")
    return out


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------
def _check_model(model) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an npvision.nn.Module, received {type(model).__name__}")


def _check_xy(x, y, xname: str, yname: str):
    x = as_float_array(x, xname)
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"{xname}: expected at least one sample, received shape {x.shape}")
    if y is None:
        return x, None
    y = np.asarray(y)
    if y.ndim < 1 or len(y) != len(x):
        raise ValueError(f"{yname}: has {len(y) if y.ndim else 0} samples (shape {y.shape}) but "
                         f"{xname} has {len(x)} (shape {x.shape}); they must match along axis 0")
    return x, y


def _progress_disable(progress) -> bool | None:
    """tqdm's ``disable``: True -> shown, False -> hidden, "auto" -> shown only on a terminal."""
    if progress is True:
        return False
    if progress is False:
        return True
    if progress == "auto":
        return None
    raise ValueError(f"progress: expected True, False or 'auto', received {progress!r}")


def _fmt(logs: dict) -> dict:
    return {k: f"{v:.4g}" for k, v in logs.items()}


# ---------------------------------------------------------------------------
# evaluate / predict
# ---------------------------------------------------------------------------
def _batches(n: int, batch_size: int, order: np.ndarray | None = None):
    for start in range(0, n, batch_size):
        if order is None:
            yield slice(start, min(start + batch_size, n))            # a view, no copy
        else:
            yield order[start:start + batch_size]


class _Averages:
    """Sums of ``value * batch_size`` per name, divided by the sample count at the end."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict, n: int) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.count += n

    def means(self) -> dict:
        return {k: s / self.count for k, s in self.sums.items()}


def evaluate(model, loss_fn, x, y, batch_size: int = 128, metrics=("accuracy",)) -> dict:
    """Mean loss and metrics of ``model`` on ``(x, y)``, in eval mode, without training.

    ``loss_fn(outputs, targets) -> (loss, dlogits)``, or ``None`` to compute only
    the metrics. Returns ``{"loss": ..., "accuracy": ..., ...}`` (sample
    averages). The model's train/eval mode is restored afterwards.
    """
    _check_model(model)
    x, y = _check_xy(x, y, "x", "y")
    batch_size = positive_int(batch_size, "batch_size")
    metric_fns = _resolve_metrics(metrics)
    was_training = model.training
    model.eval()
    try:
        avg = _Averages()
        for idx in _batches(len(x), batch_size):
            out = model.forward(x[idx])
            values = {}
            if loss_fn is not None:
                values["loss"] = float(loss_fn(out, y[idx])[0])
            for name, fn in metric_fns:
                values[name] = fn(out, y[idx])
            avg.add(values, len(x[idx]))
        return avg.means()
    finally:
        model.train(was_training)


def predict(model, x, batch_size: int = 128) -> np.ndarray:
    """``model.forward`` over ``x`` in mini-batches, in eval mode; outputs stacked on axis 0.

    A model returning a tuple or list of arrays gets a tuple of stacked arrays.
    The model's train/eval mode is restored afterwards.
    """
    _check_model(model)
    x, _ = _check_xy(x, None, "x", "y")
    batch_size = positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    try:
        outs = [model.forward(x[idx]) for idx in _batches(len(x), batch_size)]
    finally:
        model.train(was_training)
    if isinstance(outs[0], (tuple, list)):
        return tuple(np.concatenate(parts, axis=0) for parts in zip(*outs))
    return np.concatenate(outs, axis=0)


# ---------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------
def _augmented(augment, xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``augment(xb, rng)``, checked to still be a batch of ``len(xb)`` samples."""
    out = np.asarray(augment(xb, rng))
    if out.ndim < 1 or len(out) != len(xb):
        raise ValueError(f"augment: returned shape {out.shape} for a batch of shape {xb.shape}; "
                         f"expected the same number of samples ({len(xb)}) along axis 0")
    return out


def fit(model, loss_fn, optimizer, x_train, y_train, epochs: int, batch_size: int = 32,
        validation_data=None, metrics=("accuracy",), shuffle: bool = True, seed=0,
        callbacks=(), scheduler=None, progress=True, max_grad_norm: float | None = None,
        augment=None, epoch_label: tuple[int, int] | None = None) -> History:
    """Train ``model`` with mini-batch gradient descent; return the per-epoch :class:`History`.

    Parameters
    ----------
    model : Module
        ``forward(x_batch) -> outputs`` and ``backward(doutputs)``.
    loss_fn : callable
        ``(loss, doutputs) = loss_fn(outputs, targets)``, mean over the batch,
        e.g. ``F.softmax_cross_entropy``.
    optimizer : an :mod:`npvision.optim` optimizer over the model's parameters.
    x_train, y_train : arrays with the same first dimension ``N`` (float inputs;
        targets of whatever kind ``loss_fn`` takes).
    epochs, batch_size : ints >= 1. The last batch of an epoch may be smaller.
    validation_data : ``(x_val, y_val)`` or None; evaluated (eval mode) after every epoch.
    metrics : names or functions, see the module docstring.
    shuffle, seed : a new permutation of the samples every epoch, drawn from
        ``numpy.random.default_rng(seed)`` (or from ``seed`` if it is a Generator),
        so two runs from the same seed and initial weights are identical.
    callbacks : :class:`~npvision.train.callbacks.Callback` objects, e.g. ``EarlyStopping``.
    scheduler : an :mod:`npvision.optim.schedules` schedule on ``optimizer``; stepped after
        every epoch, or after every batch if its ``interval`` is ``"batch"``.
    progress : True shows a tqdm bar per epoch (loss and metrics so far), False
        hides it, ``"auto"`` shows it only on a terminal.
    epoch_label : ``(first, total)``: the bar of this call's epoch ``e`` (0-based) reads
        ``epoch {first + e}/{total}``, for a caller that runs its own epoch loop and calls
        ``fit(..., epochs=1)`` once per epoch (default: ``(1, epochs)``).
    max_grad_norm : if given, gradients are clipped to this global norm before each step.
    augment : None, or a function ``augment(x_batch, rng) -> x_batch`` applied to every
        training mini-batch just before its forward pass (never to the validation
        data). ``rng`` is fit's own seeded Generator (the one that shuffles), so a
        run with augmentation is still reproducible from ``seed``. Being per batch,
        each epoch sees a fresh random view of every sample. The result must hold
        the same number of samples as ``x_batch``.

    The model's train/eval mode is restored at the end. A non-finite loss stops
    training with ``FloatingPointError`` (lower the learning rate).
    """
    _check_model(model)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a function (outputs, targets) -> (loss, doutputs), "
                        f"received {type(loss_fn).__name__}")
    for method in ("step", "zero_grad"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"optimizer: expected an npvision.optim optimizer with {method}(), "
                            f"received {type(optimizer).__name__}")
    x_train, y_train = _check_xy(x_train, y_train, "x_train", "y_train")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise TypeError("validation_data: expected a pair (x_val, y_val) or None, received "
                            f"{type(validation_data).__name__}")
        x_val, y_val = _check_xy(validation_data[0], validation_data[1],
                                 "validation_data[0]", "validation_data[1]")
    metric_fns = _resolve_metrics(metrics)
    callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks or ())
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks[{i}]: expected a Callback, received {type(cb).__name__}")
    if scheduler is not None and getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError("scheduler: was built on a different optimizer than the one passed to fit")
    per_batch_schedule = scheduler is not None and getattr(scheduler, "interval", "epoch") == "batch"
    if max_grad_norm is not None:
        max_grad_norm = _real(max_grad_norm, "max_grad_norm", 0.0, low_open=True)
    if augment is not None and not callable(augment):
        raise TypeError(f"augment: expected None or a function (x_batch, rng) -> x_batch, "
                        f"received {type(augment).__name__}")
    disable = _progress_disable(progress)
    first, total = (1, epochs) if epoch_label is None else epoch_label
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    n = len(x_train)
    n_batches = math.ceil(n / batch_size)
    history = History()
    was_training = model.training
    for cb in callbacks:
        cb.on_train_begin(model)
    try:
        for epoch in range(epochs):
            model.train()
            lr = optimizer.lr
            order = rng.permutation(n) if shuffle else None
            avg = _Averages()
            bar = tqdm(total=n_batches, desc=f"epoch {first + epoch}/{total}", unit="batch",
                       disable=disable, mininterval=0.5, leave=True, dynamic_ncols=True)
            for b, idx in enumerate(_batches(n, batch_size, order)):
                xb, yb = x_train[idx], y_train[idx]
                if augment is not None:
                    xb = _augmented(augment, xb, rng)
                optimizer.zero_grad()
                out = model.forward(xb)
                loss, dout = loss_fn(out, yb)
                loss = float(loss)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"fit: the loss became {loss} at epoch {epoch + 1}, batch "
                                             f"{b + 1}; training diverged (try a lower learning rate "
                                             f"than {optimizer.lr:g} or max_grad_norm=...)")
                model.backward(dout)
                if max_grad_norm is not None:
                    clip_grad_norm(optimizer.params if hasattr(optimizer, "params") else model,
                                   max_grad_norm)
                optimizer.step()
                if per_batch_schedule:
                    scheduler.step()
                values = {"loss": loss}
                for name, fn in metric_fns:
                    values[name] = fn(out, yb)
                avg.add(values, len(xb))
                bar.set_postfix(_fmt(avg.means()), refresh=False)
                bar.update(1)

            logs = avg.means()
            if validation_data is not None:
                val = evaluate(model, loss_fn, x_val, y_val, batch_size, [m for m in metric_fns])
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = lr
            bar.set_postfix(_fmt({k: v for k, v in logs.items() if k != "lr"}), refresh=True)
            bar.close()
            history.append(logs)
            if scheduler is not None and not per_batch_schedule:
                scheduler.step()
            stop = [bool(cb.on_epoch_end(epoch, dict(logs), model)) for cb in callbacks]
            if any(stop):
                break
        for cb in callbacks:
            cb.on_train_end(model, history)
    finally:
        model.train(was_training)
    return history
