"""Callbacks: code that ``fit`` runs at fixed moments of training.

A callback subclasses :class:`Callback` and overrides any of::

    on_train_begin(model)                  before the first epoch
    on_epoch_end(epoch, logs, model)       after each epoch; ``logs`` holds that epoch's
                                           numbers ({"loss": ..., "val_loss": ..., "lr": ...});
                                           return True to stop training
    on_train_end(model, history)           after the last epoch (also after an early stop)

Two are provided:

* :class:`BestWeights` keeps a copy of the weights from the best epoch so far
  (by a monitored quantity) and puts them back into the model at the end.
* :class:`EarlyStopping` stops when the monitored quantity has not improved for
  ``patience`` epochs, and (``restore_best=True``) restores the best weights.

"Improved" means ``value < best - min_delta`` in ``"min"`` mode and
``value > best + min_delta`` in ``"max"`` mode; ``"auto"`` picks the mode from
the name (``*loss*`` -> min, else max).
"""

from __future__ import annotations

import math

from .._checks import nonnegative_int
from ..optim.optimizers import _real
from .history import resolve_mode

__all__ = ["Callback", "BestWeights", "EarlyStopping"]


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, model) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict, model) -> bool | None:
        return None

    def on_train_end(self, model, history) -> None:
        pass


class BestWeights(Callback):
    """Remember the weights of the best epoch; restore them when training ends.

    ``monitor``: a name in the epoch logs (``"val_loss"``, ``"val_accuracy"``,
    ``"loss"``, ...). After training, ``best_epoch`` (0-based) and ``best``
    hold the winner. The copy is ``model.state_dict()`` (parameters and
    buffers such as BatchNorm's running statistics).
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0,
                 restore: bool = True) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: expected a name such as 'val_loss', received {monitor!r}")
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta = _real(min_delta, "min_delta", 0.0)
        self.restore = bool(restore)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state = None

    def on_train_begin(self, model) -> None:
        self._reset()

    def _value(self, epoch: int, logs: dict) -> float:
        if self.monitor not in logs:
            hint = (" (validation metrics need fit(..., validation_data=(x_val, y_val)))"
                    if self.monitor.startswith("val_") else "")
            raise ValueError(f"monitor: {self.monitor!r} is not among the quantities logged at epoch "
                             f"{epoch}: {sorted(logs)}{hint}")
        return float(logs[self.monitor])

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _observe(self, epoch: int, logs: dict, model) -> bool:
        """Compare this epoch with the best so far; keep its weights if better. True if improved."""
        value = self._value(epoch, logs)
        if not self._improved(value):
            return False
        self.best, self.best_epoch = value, epoch
        self.best_state = model.state_dict()                # copies
        return True

    def on_epoch_end(self, epoch, logs, model):
        self._observe(epoch, logs, model)
        return None

    def on_train_end(self, model, history) -> None:
        if self.restore and self.best_state is not None:
            model.load_state_dict(self.best_state)


class EarlyStopping(BestWeights):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs in a row.

    With ``restore_best=True`` the model ends with the weights of its best
    epoch (not the last, ``patience`` epochs past its best). ``stopped_epoch``
    is the 0-based epoch after which training stopped, or ``None`` if it ran
    to the end.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: str = "auto",
                 min_delta: float = 0.0, restore_best: bool = True) -> None:
        super().__init__(monitor, mode, min_delta, restore=restore_best)
        self.patience = nonnegative_int(patience, "patience")

    def _reset(self) -> None:
        super()._reset()
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs, model):
        if self._observe(epoch, logs, model):
            self.wait = 0
            return None
        self.wait += 1                                    # epochs since the last improvement
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return None

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, mode={self.mode!r}, "
                f"min_delta={self.min_delta}, restore_best={self.restore})")
