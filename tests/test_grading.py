"""npvision.grading.check: the reference passes every exercise; typical student bugs fail with feedback.

Each exercise of the table is run on npvision's own version (which must pass)
and on at least two versions with a bug students really make (stride ignored,
padding applied twice, gradients summed over the wrong axis, corners in the
wrong order, a mask marking only the first maximum, ``=`` instead of ``+=``
where pooling windows overlap, ...). A bug must fail with a message naming the
test, the wrong output and its first wrong value (expected and received), or,
when the buggy code raises, the exception and the line that raised. The bugs and the
feedback each must produce are in ``tests/_student_bugs.py``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from npvision import course, grading

from _student_bugs import (BUGS, content_cost_first_output, conv_forward_stride_ignored, iou_no_clamp,
                           mask_first_maximum_only, nms_npvision_as_is, pool_backward_first_maximum_only,
                           triplet_loss_no_axis, triplet_loss_no_maximum, who_is_it_none_when_unknown,
                           yolo_filter_boxes_strictly_greater)


def test_every_exercise_has_bugs():
    assert set(BUGS) == set(grading.EXERCISES)
    assert all(len(bugs) >= 2 for bugs in BUGS.values())


@pytest.mark.parametrize("exercise", list(grading.EXERCISES))
def test_reference_passes(exercise, capsys):
    assert grading.check(exercise, grading.EXERCISES[exercise].reference) is None
    assert f"{exercise}: All tests passed" in capsys.readouterr().out


@pytest.mark.parametrize("exercise, bug, pattern",
                         [(ex, fn, pat) for ex, bugs in BUGS.items() for fn, pat in bugs],
                         ids=[f"{ex}-{fn.__name__}" for ex, bugs in BUGS.items() for fn, _ in bugs])
def test_bug_fails_with_feedback(exercise, bug, pattern):
    with pytest.raises(AssertionError) as info:
        grading.check(exercise, bug)
    message = str(info.value)
    assert re.match(rf"{exercise}: test \d+ of \d+ failed \(", message), message
    assert re.search(pattern, message, re.S), message
    assert f"npvision.grading.case_inputs({exercise!r}, " in message


def test_feedback_reruns_the_failing_case():
    """The message's 'To rerun it' line gives back the failing test's inputs."""
    with pytest.raises(AssertionError) as info:
        grading.check("conv_forward", conv_forward_stride_ignored)
    number = int(re.search(r"test (\d+) of", str(info.value)).group(1))
    args, kwargs = grading.case_inputs("conv_forward", number)
    Z_ref, _ = course.conv_forward(*args, **kwargs)
    Z_bug, _ = conv_forward_stride_ignored(*args, **kwargs)
    assert not np.allclose(Z_ref, Z_bug)


def test_a_student_function_that_raises_is_reported_with_its_line():
    def conv_forward(A_prev, W, b, hparameters):
        pad = hparameters["padding"]                   # the key is "pad"
        return A_prev, pad

    with pytest.raises(AssertionError) as info:
        grading.check("conv_forward", conv_forward)
    message = str(info.value)
    assert "your function raised KeyError: 'padding'" in message
    assert 'pad = hparameters["padding"]' in message and "in conv_forward, line" in message
    assert isinstance(info.value.__cause__, KeyError)


def test_a_function_that_changes_its_input_is_reported():
    def zero_pad(X, pad):
        X *= 1.0                                        # harmless, but in place
        X[0, 0, 0, 0] = 0.0
        return np.pad(course.zero_pad(X, pad), 0)

    with pytest.raises(AssertionError, match="changed its input X in place"):
        grading.check("zero_pad", zero_pad)


def test_wrong_number_of_outputs_is_spelled_out():
    def conv_forward(A_prev, W, b, hparameters):
        return course.conv_forward(A_prev, W, b, hparameters)[0]           # forgot the cache

    with pytest.raises(AssertionError, match=r"the result: expected 2 values \(Z, cache\), received a NumPy array"):
        grading.check("conv_forward", conv_forward)

    def conv_forward_short_cache(A_prev, W, b, hparameters):
        Z, cache = course.conv_forward(A_prev, W, b, hparameters)
        return Z, cache[:3]

    with pytest.raises(AssertionError, match=r"cache: expected 4 values \(A_prev, W, b, hparameters\), received 3"):
        grading.check("conv_forward", conv_forward_short_cache)


def test_gradient_check_catches_a_backward_that_matches_on_no_case_but_is_wrong():
    """A gradient off by a factor is reported by the exact comparison first; the gradient check
    is its own case: run it alone on a wrong dW."""
    ex = grading.get_exercise("conv_backward")
    gradient_cases = [c for c in ex.cases() if c.kind == "gradient"]
    assert len(gradient_cases) == 2

    def conv_backward(dZ, cache):
        dA, dW, db = course.conv_backward(dZ, cache)
        return dA, 2 * dW, db

    with pytest.raises(AssertionError, match=r"gradient check: dW is not the derivative .* numerical gradient"):
        grading._runner.run_exercise(ex, conv_backward, gradient_cases)
    grading._runner.run_exercise(ex, course.conv_backward, gradient_cases)


def test_unknown_exercise_names_suggest_the_closest():
    with pytest.raises(ValueError, match=r"unknown exercise 'conv_foward'; did you mean 'conv_forward'"):
        grading.check("conv_foward", course.conv_forward)
    with pytest.raises(ValueError, match=r"unknown exercise 'softmax'"):
        grading.check("softmax", print)
    with pytest.raises(TypeError, match="course name as a string"):
        grading.check(course.conv_forward, course.conv_forward)
    with pytest.raises(TypeError, match="the function itself, without calling it"):
        grading.check("conv_forward", None)


def test_every_course_exercise_is_graded():
    """The four weeks' exercises, as npvision.course lists them, all in the grader's table, in order."""
    from npvision.course import EXERCISES_BY_WEEK
    assert list(grading.EXERCISES) == [name for week in (1, 2, 3, 4) for name in EXERCISES_BY_WEEK[week]]
    assert len(grading.EXERCISES) == 27
    assert {ex.week for ex in grading.EXERCISES.values()} == {1, 2, 3, 4}


def test_the_grader_is_quiet_but_the_course_functions_print(capsys):
    """verify and who_is_it print as the course's do; grading them prints only the verdict."""
    grading.check("verify", course.verify)
    assert capsys.readouterr().out == "verify: All tests passed (5 tests: 2 from the course, 2 random, 1 edge case(s))\n"
    args, _ = grading.case_inputs("verify", 1)
    dist, door_open = course.verify(*args)
    assert door_open and capsys.readouterr().out == "It's younes, welcome in!\n"


def test_case_inputs_checks_the_number():
    args, kwargs = grading.case_inputs("zero_pad", 1)
    assert args[0].shape == (4, 3, 3, 2) and args[1] == 3 and kwargs == {}
    with pytest.raises(ValueError, match="from 1 to 6"):
        grading.case_inputs("zero_pad", 7)


def test_each_edge_case_catches_its_bug_on_its_own():
    """The edge cases (and the course's small hand-made checks) are not redundant: each alone fails the
    bug it targets."""
    def only(exercise, words):
        return [c for c in grading.cases(exercise) if words in c.title]

    targets = [("yolo_non_max_suppression", "corners in no order", nms_npvision_as_is),
               ("pool_backward", "ties in max pooling", pool_backward_first_maximum_only),
               ("create_mask_from_window", "a tie", mask_first_maximum_only),
               ("yolo_filter_boxes", "exactly at the threshold", yolo_filter_boxes_strictly_greater),
               ("iou", "far apart on x only", iou_no_clamp),
               ("triplet_loss", "one active, alpha 1", triplet_loss_no_axis),
               ("triplet_loss", "alpha -2", triplet_loss_no_maximum),
               ("who_is_it", "a stranger", who_is_it_none_when_unknown),
               ("compute_content_cost", "(1, 8, 8, 3), (1, 5, 3, 2)", content_cost_first_output)]
    for exercise, words, bug in targets:
        cases = only(exercise, words)
        assert len(cases) == 1, (exercise, words)
        with pytest.raises(AssertionError):
            grading._runner.run_exercise(grading.get_exercise(exercise), bug, cases)
        grading._runner.run_exercise(grading.get_exercise(exercise), grading.EXERCISES[exercise].reference, cases)
