"""An autograder for the course's exercises, with feedback a student can act on.

    >>> from npvision import grading
    >>> grading.check("conv_forward", conv_forward)          # your function
    conv_forward: All tests passed (11 tests: 5 from the course, 6 random)

:func:`check` runs the exercise's tests on the student's function and compares
every output with npvision's reference (:mod:`npvision.course`): the course's
own checks (its seeds, shapes, hyperparameters), random cases of several shapes
(odd sizes, strides 2 and 3, padding), edge cases (ties in max pooling, boxes
that do not overlap, a score exactly at the threshold, empty results) and, for
the backward passes, a numerical gradient check (:mod:`npvision.gradcheck`).
It returns quietly (after printing "All tests passed") when every test passes,
and raises ``AssertionError`` with the feedback at the first failure:

    conv_forward: test 1 of 11 failed (the course's check: np.random.seed(1), A_prev (2, 5, 7, 4), W (3, 3, 4, 8),
    pad 1, stride 2):
      output Z is wrong at 176 of 192 element(s); the first is Z[0, 0, 1, 0]: expected 4.676929284, received 7.13535781
    Hint: output (h, w) reads the f x f window starting at row h * stride and column w * stride of the padded
    input; n_H = floor((n_H_prev + 2 pad - f) / stride) + 1, n_W likewise
    To rerun it: args, kwargs = npvision.grading.case_inputs('conv_forward', 1); conv_forward(*args, **kwargs)

so it works unchanged in a notebook cell, under pytest, and in an nbgrader or
otter-grader test cell (an ``AssertionError`` is a failed test everywhere). A
function that raises is reported with its exception and the line of its code.

The exercises are a table, :data:`EXERCISES` (in :mod:`npvision.grading.exercises`):
one entry per exercise, so adding one is one entry; weeks 1 to 4, 27 exercises.

:mod:`npvision.grading.notebooks` releases and grades whole notebooks (the
``npvision assignment`` command).
"""

from __future__ import annotations

import difflib
from collections import Counter

from ._compare import Mismatch, compare
from ._runner import Case, Exercise, GradingFailure, run_exercise
from .exercises import EXERCISES

__all__ = ["check", "exercise_names", "get_exercise", "cases", "case_inputs", "EXERCISES",
           "Case", "Exercise", "GradingFailure", "Mismatch", "compare"]

_KIND_WORDS = {"course": "from the course", "random": "random", "edge": "edge case(s)",
               "gradient": "gradient check(s)"}


def exercise_names() -> list[str]:
    """Every exercise the grader knows, in the course's order."""
    return list(EXERCISES)


def get_exercise(exercise: str) -> Exercise:
    """The :class:`Exercise` of a course name, or a clear error (with a "did you mean")."""
    if not isinstance(exercise, str):
        raise TypeError(f"exercise: expected the exercise's course name as a string, e.g. 'conv_forward', "
                        f"received {type(exercise).__name__} {exercise!r}")
    if exercise in EXERCISES:
        return EXERCISES[exercise]
    close = difflib.get_close_matches(exercise, list(EXERCISES), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"exercise: unknown exercise {exercise!r}{hint} The exercises are: {', '.join(EXERCISES)}")


def cases(exercise: str) -> list[Case]:
    """The test cases of an exercise, in the order :func:`check` runs them."""
    return list(get_exercise(exercise).cases())


def case_inputs(exercise: str, number: int) -> tuple[tuple, dict]:
    """``(args, kwargs)`` of test ``number`` (1-based, as in the feedback) of ``exercise``.

    >>> args, kwargs = case_inputs("conv_forward", 6)
    >>> Z, cache = conv_forward(*args, **kwargs)
    """
    all_cases = cases(exercise)
    if not isinstance(number, int) or not 1 <= number <= len(all_cases):
        raise ValueError(f"number: expected a test number from 1 to {len(all_cases)} for {exercise!r}, "
                         f"received {number!r}")
    c = all_cases[number - 1]
    return c.args, dict(c.kwargs)


def _summary(ran: list[Case]) -> str:
    counts = Counter(c.kind for c in ran)
    parts = [f"{counts[k]} {_KIND_WORDS[k]}" for k in _KIND_WORDS if counts[k]]
    return f"{len(ran)} tests: {', '.join(parts)}"


def check(exercise: str, student_function, verbose: bool = True) -> None:
    """Grade ``student_function`` as the course's ``exercise``.

    Returns ``None`` (and prints "<exercise>: All tests passed (...)" when
    ``verbose``) if every test passes; raises ``AssertionError`` (a
    :class:`GradingFailure`) with the feedback at the first failing test.
    Unknown exercise names raise ``ValueError`` with the closest names.
    """
    ex = get_exercise(exercise)
    ran = run_exercise(ex, student_function)
    if verbose:
        print(f"{ex.name}: All tests passed ({_summary(ran)})")
