"""Compare what a student's function returned with what the reference returned, in words.

:func:`compare` walks the expected value (an array, a number, a tuple of
outputs, a dict such as the course's ``hparameters``) and the received one side
by side and raises :class:`Mismatch` at the first difference, with a sentence a
student can act on:

* which output (``Z``, ``cache[0] (A_prev)``, ``dW``), named from the exercise's
  output names;
* a wrong type ("expected a NumPy array, received list");
* a wrong shape, dimension by dimension ("expected (2, 3, 4, 8), received
  (2, 5, 7, 8): n_H expected 3, received 5; n_W expected 4, received 7");
* wrong values: how many elements are wrong, and the first one in row-major
  order with its index, the expected and the received value.

Floats are compared with ``|received - expected| <= atol + rtol |expected|``:
``rtol = 1e-6, atol = 1e-9`` when the reference computed in float64, ``rtol = 1e-4,
atol = 1e-5`` in float32 (different but correct orders of summation differ by
about 1e-16 and 1e-7 relative). Booleans and integers must be equal; a boolean
output may come back as 0/1 numbers (the course's own tests accept that).
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

__all__ = ["Mismatch", "compare", "describe", "tolerances", "first_difference"]


class Mismatch(Exception):
    """A received output differs from the expected one; ``str()`` says how."""


def describe(v) -> str:
    """A short description of a value for a message: its type, and shape/dtype for arrays."""
    if isinstance(v, np.ndarray):
        return f"a NumPy array of shape {v.shape} and dtype {v.dtype}"
    if isinstance(v, (list, tuple)):
        return f"a {type(v).__name__} of {len(v)} item(s)"
    if isinstance(v, (np.generic, numbers.Number)):
        return f"{type(v).__name__} {v!r}"
    if v is None:
        return "None"
    return f"a {type(v).__module__}.{type(v).__qualname__}"


def tolerances(dtype) -> tuple[float, float]:
    """``(rtol, atol)`` for values the reference computed in ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return 1e-6, 1e-9
    return 1e-4, 1e-5


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (numbers.Integral, np.integer)):
        return str(int(v))
    return f"{float(v):.10g}"


def _index(name: str, idx: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in idx)}]"


def first_difference(expected: np.ndarray, received: np.ndarray, rtol: float, atol: float):
    """``(count, index)`` of the wrong elements (``index`` of the first, row-major), or ``(0, None)``."""
    if expected.dtype.kind in "biu" and received.dtype.kind in "biu":
        wrong = expected != received
    else:
        e = expected.astype(np.float64)
        r = received.astype(np.float64)
        both_nan = np.isnan(e) & np.isnan(r)
        with np.errstate(invalid="ignore"):
            wrong = ~(np.abs(r - e) <= atol + rtol * np.abs(e)) & ~both_nan
    count = int(np.count_nonzero(wrong))
    if count == 0:
        return 0, None
    return count, np.unravel_index(int(np.flatnonzero(wrong)[0]), wrong.shape)


def _shape_words(expected: tuple, received: tuple, axes: Sequence[str] | None) -> str:
    if len(expected) != len(received):
        return (f"expected {len(expected)} dimensions {expected}, received {len(received)} "
                f"dimensions {received}")
    names = list(axes) if axes and len(axes) == len(expected) else [f"axis {i}" for i in range(len(expected))]
    diffs = [f"{n} expected {e}, received {r}" for n, e, r in zip(names, expected, received) if e != r]
    return f"expected {expected}, received {received}: " + "; ".join(diffs)


def _as_array(received, name: str, expected: np.ndarray) -> np.ndarray:
    if isinstance(received, np.ndarray):
        return received
    if expected.ndim == 0 and isinstance(received, (numbers.Number, np.generic)):
        return np.asarray(received)
    raise Mismatch(f"output {name}: expected a NumPy array of shape {expected.shape}, received "
                   f"{describe(received)}")


def _compare_array(expected: np.ndarray, received, name: str, axes, rtol, atol) -> None:
    r = _as_array(received, name, expected)
    if r.shape != expected.shape:
        raise Mismatch(f"output {name} has the wrong shape: {_shape_words(expected.shape, r.shape, axes)}")
    if expected.dtype.kind == "b":
        if r.dtype.kind not in "biuf":
            raise Mismatch(f"output {name}: expected booleans (True/False), received dtype {r.dtype}")
        if r.dtype.kind == "f" and not np.isin(r, (0.0, 1.0)).all():
            raise Mismatch(f"output {name}: expected booleans (True/False), received other numbers "
                           f"(dtype {r.dtype})")
        r = r.astype(bool)
    elif r.dtype.kind not in "biuf":
        raise Mismatch(f"output {name}: expected numbers, received an array of dtype {r.dtype}")
    rtol_, atol_ = tolerances(expected.dtype) if rtol is None else (rtol, atol)
    count, idx = first_difference(expected, r, rtol_, atol_)
    if count:
        where = _index(name, idx) if expected.ndim else name
        raise Mismatch(f"output {name} is wrong at {count} of {expected.size} element(s); the first is "
                       f"{where}: expected {_fmt(expected[idx])}, received {_fmt(r[idx])}")


def _compare_number(expected, received, name: str, rtol, atol) -> None:
    if isinstance(received, np.ndarray) and received.size == 1 and received.ndim > 0:
        raise Mismatch(f"output {name}: expected a single number, received an array of shape "
                       f"{received.shape} (convert it, e.g. float(...) or np.squeeze)")
    if not isinstance(received, (numbers.Number, np.generic, np.ndarray)) or np.ndim(received) != 0:
        raise Mismatch(f"output {name}: expected a number, received {describe(received)}")
    dtype = np.asarray(expected).dtype
    _compare_array(np.asarray(expected), np.asarray(received), name, None,
                   *((rtol, atol) if rtol is not None else tolerances(dtype if dtype.kind == "f" else np.float64)))


def compare(expected: Any, received: Any, name: str = "the result", names: Any = None,
            axes: dict | None = None, rtol: float | None = None, atol: float | None = None) -> None:
    """Raise :class:`Mismatch` at the first difference between ``received`` and ``expected``.

    ``names`` names the parts of a tuple output: a sequence with one entry per
    item, each a string or ``(name, sub_names)`` for a nested tuple (a cache).
    ``axes`` maps an output's name to the names of its axes, used to spell out a
    wrong shape (``{"Z": ("m", "n_H", "n_W", "n_C")}``). ``rtol``/``atol``
    override the dtype's tolerances.
    """
    _compare(expected, received, name, name, names, axes or {}, rtol, atol)


def _compare(expected, received, label: str, key: str, names, axes: dict, rtol, atol) -> None:
    """``label`` names the value in messages (``cache[0] (A_prev)``), ``key`` in ``axes`` (``A_prev``)."""
    if isinstance(expected, tuple):
        listing = _listing(names, len(expected))
        if not isinstance(received, (tuple, list)):
            raise Mismatch(f"{label}: expected {len(expected)} values {listing}, received {describe(received)}")
        if len(received) != len(expected):
            raise Mismatch(f"{label}: expected {len(expected)} values {listing}, received {len(received)}")
        for i, (e, r) in enumerate(zip(expected, received)):
            part, sub = _part(names, i)
            if label == "the result":
                item = part or f"value {i}"
            else:
                item = f"{label}[{i}]" + (f" ({part})" if part else "")
            _compare(e, r, item, part or item, sub, axes, rtol, atol)
        return
    if isinstance(expected, dict):
        if not isinstance(received, dict):
            raise Mismatch(f"output {label}: expected a dict with the keys {sorted(expected)}, "
                           f"received {describe(received)}")
        if set(received) != set(expected):
            raise Mismatch(f"output {label}: expected the keys {sorted(expected)}, received {sorted(received)}")
        for k in expected:
            _compare(expected[k], received[k], f"{label}[{k!r}]", k, None, axes, rtol, atol)
        return
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        _compare_array(expected, received, label, axes.get(key), rtol, atol)
        return
    if isinstance(expected, (numbers.Number, np.generic, np.ndarray)):
        _compare_number(expected, received, label, rtol, atol)
        return
    if expected != received:
        raise Mismatch(f"output {label}: expected {expected!r}, received {received!r}")


def _part(names, i: int):
    """``(name, sub_names)`` of item ``i`` (``(None, None)`` when unnamed)."""
    if not names or i >= len(names):
        return None, None
    entry = names[i]
    if isinstance(entry, tuple):
        return entry[0], entry[1]
    return entry, None


def _listing(names, n: int) -> str:
    if not names:
        return ""
    return "(" + ", ".join(_part(names, i)[0] or "?" for i in range(n)) + ")"
