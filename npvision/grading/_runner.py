"""Run an exercise's test cases on a student's function and turn the first failure into feedback.

An :class:`Exercise` is a reference function, the names of its outputs, and a
function that lists its :class:`Case` s. A case is one call: its arguments, and
either the value the reference returns on them (the default) or a custom check.
For each case, in order:

1. the arguments are deep-copied twice, one copy for the reference and one for
   the student (a function that changes its input in place cannot corrupt the
   reference, and is reported);
2. ``setup()`` runs before each of the two calls (e.g. seeding npvision's
   default generator, so that layers built inside both draw the same weights);
3. the student's function is called (what it prints is swallowed, as is the
   reference's: the course's ``verify`` prints a line per call); an exception is
   reported with its type, its message and the line of the student's code it
   came from;
4. the output is compared with the reference's (:func:`~._compare.compare`),
   or the case's own ``check(received, expected)`` runs.

The first failing case raises :class:`GradingFailure` (an ``AssertionError``)
whose message names the exercise, the test (its number and what it does),
which output is wrong and how, and how to get the test's inputs back
(:func:`npvision.grading.case_inputs`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import numbers
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ._compare import Mismatch, compare

__all__ = ["Case", "Exercise", "GradingFailure", "run_exercise"]

_REFERENCE = object()          # "expected: call the reference"


class GradingFailure(AssertionError):
    """A student's function failed a test; the message is the feedback."""


@dataclass
class Case:
    """One test of an exercise.

    ``title``: what the test does, in words ("the course's check: seed 1, ...").
    ``args``/``kwargs``: the call. ``kind``: ``"course"``, ``"random"``, ``"edge"``
    or ``"gradient"`` (used to count them). ``expected``: the value to compare
    with (default: the reference's output on the same arguments). ``check``:
    instead of comparing, ``check(received, expected)`` raises :class:`Mismatch`.
    ``setup``: called before the reference's and before the student's call.
    ``hint``: one sentence appended to a failure's message.
    ``rtol``/``atol``: override the comparison's tolerances.
    """

    title: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "random"
    expected: Any = _REFERENCE
    check: Callable[[Any, Any], None] | None = None
    setup: Callable[[], None] | None = None
    hint: str | None = None
    rtol: float | None = None
    atol: float | None = None


@dataclass(frozen=True)
class Exercise:
    """An exercise of the course, as the grader knows it.

    ``reference``: npvision's version (in :mod:`npvision.course`). ``outputs``:
    names of what it returns (one name, or one per item of the returned tuple,
    an item being ``(name, sub_names)`` for a nested tuple such as a cache).
    ``cases``: a function returning the list of :class:`Case`. ``axes``: output
    name -> axis names, to spell out wrong shapes. ``week``: the course's week.
    """

    name: str
    reference: Callable
    outputs: tuple
    cases: Callable[[], Sequence[Case]]
    week: int
    axes: dict = field(default_factory=dict)


def _copy(value):
    return copy.deepcopy(value)


def _same(a, b) -> bool:
    """Are two argument values equal (arrays elementwise, NaN equal to NaN)?"""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f")))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (numbers.Number, np.generic, str, bytes, type(None))):
        return bool(a == b)
    return True                # other objects (a model, a layer): no value to compare, not checked


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))    # .../npvision


def _where(exc: BaseException) -> str:
    """`` (in f, line N: source)``: the innermost frame of the student's code (outside npvision)."""
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if not os.path.abspath(fr.filename).startswith(_PACKAGE + os.sep):
            line = (fr.line or "").strip()
            return f" (in {fr.name}, line {fr.lineno}: {line})" if line else f" (in {fr.name}, line {fr.lineno})"
    return ""


def _arg_names(func: Callable, n: int) -> list[str]:
    try:
        import inspect
        params = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params = []
    return [params[i] if i < len(params) else f"argument {i}" for i in range(n)]


def _expected(ex: Exercise, case: Case):
    """The value to compare with: the case's own, or the reference's output (after ``setup``)."""
    if case.expected is not _REFERENCE:
        return case.expected
    if case.setup:
        case.setup()
    with contextlib.redirect_stdout(io.StringIO()):      # the course's verify/who_is_it print; not here
        return ex.reference(*_copy(case.args), **_copy(case.kwargs))


def _run_student(ex: Exercise, case: Case, student: Callable, expected) -> None:
    """Call the student's function on fresh copies; raise Mismatch when its result is wrong."""
    args, kwargs = _copy(case.args), _copy(case.kwargs)
    if case.setup:
        case.setup()
    with contextlib.redirect_stdout(io.StringIO()):      # what it prints is not graded
        received = student(*args, **kwargs)
    for i, (before, after) in enumerate(zip(case.args, args)):
        if not _same(before, after):
            name = _arg_names(ex.reference, len(case.args))[i]
            raise Mismatch(f"your function changed its input {name} in place; compute on a copy "
                           f"(e.g. {name}.copy()) or into a new array")
    if case.check is not None:
        case.check(received, expected)
    else:
        single = len(ex.outputs) == 1 and not isinstance(expected, tuple)
        compare(expected, received, ex.outputs[0] if single else "the result",
                None if single else ex.outputs, ex.axes, case.rtol, case.atol)


def run_exercise(ex: Exercise, student: Callable, cases: Iterable[Case] | None = None) -> list[Case]:
    """Run every case; raise :class:`GradingFailure` at the first failure, else return the cases run."""
    if not callable(student):
        raise TypeError(f"student_function: expected your function {ex.name} (the function itself, "
                        f"without calling it), received {type(student).__name__} {student!r}")
    cases = list(ex.cases() if cases is None else cases)
    for number, case in enumerate(cases, start=1):
        head = f"{ex.name}: test {number} of {len(cases)} failed ({case.title})"
        tail = (f"\nTo rerun it: args, kwargs = npvision.grading.case_inputs({ex.name!r}, {number}); "
                f"{ex.name}(*args, **kwargs)")
        expected = _expected(ex, case)        # outside the try: a failure here is the grader's own
        try:
            _run_student(ex, case, student, expected)
        except Mismatch as exc:
            hint = f"\nHint: {case.hint}" if case.hint else ""
            raise GradingFailure(f"{head}:\n  {exc}{hint}{tail}") from None
        except Exception as exc:
            raise GradingFailure(f"{head}:\n  your function raised {type(exc).__name__}: {exc}"
                                 f"{_where(exc)}{tail}") from exc
    return cases
