"""Small helpers shared by the task modules."""

from __future__ import annotations

import os

__all__ = ["load_average"]


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages (None where the OS has none).

    Tasks record it at the start and end of training next to their timings: a
    busy machine makes wall-clock times unreliable, and a reader should know."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):                               # not on every platform
        return None
