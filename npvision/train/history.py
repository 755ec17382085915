"""History: what happened during training, one number per epoch and per quantity.

``fit`` records, for every epoch, the mean training loss (``"loss"``), each
metric (``"accuracy"``, ...), the learning rate at the start of the epoch
(``"lr"``) and, when
validation data is given, the same quantities on it with a ``"val_"`` prefix::

    h = fit(...)
    h["val_loss"]             # [0.91, 0.55, 0.42, ...], one float per epoch
    h.best("val_accuracy")    # Best(epoch=7, value=0.975)  (epochs count from 0)
    h.to_dict()               # a plain dict of lists (JSON-friendly)

Whether a quantity is better when smaller or larger (``mode="auto"``):
names containing ``"loss"`` or ``"error"`` are minimized, everything else
(accuracy, IoU, mAP, ...) is maximized.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["History", "Best", "resolve_mode"]


class Best(NamedTuple):
    """The best epoch (0-based index into the history lists) and its value."""

    epoch: int
    value: float


def resolve_mode(name: str, mode: str = "auto") -> str:
    """``"min"`` or ``"max"`` for quantity ``name``; ``"auto"`` guesses from the name."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode: expected 'auto', 'min' or 'max', received {mode!r}")
    if mode != "auto":
        return mode
    lowered = name.lower()
    return "min" if ("loss" in lowered or "error" in lowered) else "max"


class History:
    """Per-epoch values, by name. ``len(history)`` is the number of epochs recorded."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self._epochs = 0

    def append(self, logs: dict) -> None:
        """Record one epoch. Every epoch must report the same names."""
        if self._epochs and set(logs) != set(self.history):
            raise ValueError(f"logs: epoch {self._epochs} reports {sorted(logs)}, earlier epochs "
                             f"reported {sorted(self.history)}")
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))
        self._epochs += 1

    def __len__(self) -> int:
        return self._epochs

    def __getitem__(self, name: str) -> list[float]:
        if name not in self.history:
            raise KeyError(f"{name!r} was not recorded; recorded: {sorted(self.history)}")
        return self.history[name]

    def __contains__(self, name: str) -> bool:
        return name in self.history

    def keys(self):
        return self.history.keys()

    def to_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.history.items()}

    def best(self, metric: str = "val_loss", mode: str = "auto") -> Best:
        """The epoch with the smallest (``"min"``) or largest (``"max"``) value of ``metric``.

        Ties go to the earliest epoch; NaN values never count as best.
        """
        values = self[metric]
        sign = 1.0 if resolve_mode(metric, mode) == "min" else -1.0
        finite = [(sign * v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not finite:
            raise ValueError(f"metric: every recorded value of {metric!r} is NaN")
        _, i = min(finite)
        return Best(i, values[i])

    def __eq__(self, other) -> bool:
        return isinstance(other, History) and self.history == other.history

    def __repr__(self) -> str:
        return f"History({self._epochs} epochs: {', '.join(self.history)})"

    def __str__(self) -> str:
        """A table: one row per epoch (numbered from 1), one column per quantity."""
        names = list(self.history)
        if not names:
            return "History(empty)"
        widths = [max(len(n), 10) for n in names]
        head = "epoch  " + "  ".join(n.rjust(w) for n, w in zip(names, widths))
        rows = [head]
        for i in range(self._epochs):
            cells = "  ".join(f"{self.history[n][i]:.6g}".rjust(w) for n, w in zip(names, widths))
            rows.append(f"{i + 1:5d}  {cells}")
        return "\n".join(rows)
