"""Releasing and grading assignment notebooks (``npvision assignment``), on the two shipped assignments.

Releasing is pure JSON work and fast, and needs nothing beyond the standard
library. Grading starts a Jupyter kernel (a few seconds each) and needs the
``[assignments]`` extra (nbformat, nbclient, ipykernel, jupyter_client): those
tests skip cleanly without it. The grading tests are grouped: the grading of
each source, one submission that breaks exactly one exercise, one that
raises, loops and deletes cells all at once, one whose loop swallows the
interrupt, one that kills its kernel.

Every grading runs ``npvision assignment grade --json`` in a child process
with an overall guard (:data:`GUARD` seconds): a grading that hangs fails its
test instead of hanging the suite, and the child's whole process group is
killed. The grader's working folder, where the kernel's connection file goes (and so
the kernel's command line), is made inside the test's own folder (``TMPDIR``),
so after each grading the test asserts that no process still names that
folder: no kernel survives a test (test_the_survivor_check_sees_a_live_process
shows the check sees a live process, and the swallowed-interrupt test that
the kernel's command line names the folder).
Run them under the shared lock while developing:
``flock /work/locks/heavy.lock python -m pytest tests/test_assignments.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import npvision

from npvision import cli
from npvision.grading import notebooks as nbs

SHIPPED = nbs.shipped_assignments()


def _solution_lines(nb: dict) -> list[str]:
    """Every non-blank line inside a solution or hidden-test block of a source notebook."""
    lines, inside = [], False
    for cell in nb["cells"]:
        for line in cell["source"].split("\n"):
            s = line.strip()
            if s in (nbs.BEGIN_SOLUTION, nbs.BEGIN_HIDDEN):
                inside = True
            elif s in (nbs.END_SOLUTION, nbs.END_HIDDEN):
                inside = False
            elif inside and s:
                lines.append(s)
    return lines


# ----------------------------------------------------------------------------- release (no kernel)
def test_two_assignments_ship():
    assert set(SHIPPED) == {"convolution_step_by_step", "yolo_postprocessing"}
    for path in SHIPPED.values():
        tests = nbs.graded_cells(nbs.read_notebook(path))
        assert len(tests) >= 6 and all(t.points > 0 for t in tests)


@pytest.mark.parametrize("name", list(SHIPPED))
def test_released_notebook_has_no_solution_and_no_hidden_test(name, tmp_path):
    source = nbs.read_notebook(SHIPPED[name])
    secret = _solution_lines(source)
    assert len(secret) > 20
    released = nbs.read_notebook(nbs.release(name, str(tmp_path)))
    text = "\n".join(c["source"] for c in released["cells"])
    for marker in nbs.MARKERS:
        assert marker not in text
    code_lines = {line.strip() for c in released["cells"] if c["cell_type"] == "code" for line in c["source"].split("\n")}
    leaked = [line for line in secret if line in code_lines]
    assert not leaked, leaked
    assert "grading.check(" not in "\n".join(c["source"] for c in released["cells"] if c["cell_type"] == "code")
    stubs = sum(c["source"].count("raise NotImplementedError()") for c in released["cells"] if c["cell_type"] == "code")
    assert stubs == sum(c["source"].count(nbs.BEGIN_SOLUTION) for c in source["cells"]) >= 6
    for cell in released["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert [c.get("metadata") for c in released["cells"]] == [c.get("metadata") for c in source["cells"]]


def test_release_keeps_the_indentation_of_the_block(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 3,
         "source": "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"},
        {"cell_type": "markdown", "metadata": {}, "source": "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"}]}
    out = nbs.release_notebook(nb)
    assert out["cells"][0]["source"] == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    assert out["cells"][1]["source"] == "Why?\nYOUR ANSWER HERE"
    assert out["cells"][0]["execution_count"] is None


def test_release_errors(tmp_path):
    plain = tmp_path / "plain.ipynb"
    plain.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                 "cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                            "execution_count": None, "source": "x = 1"}]}))
    with pytest.raises(ValueError, match="no '### BEGIN SOLUTION' / '### BEGIN HIDDEN TESTS' markers"):
        nbs.release(str(plain), str(tmp_path / "out"))
    unclosed = {"nbformat": 4, "metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                                          "source": "### BEGIN SOLUTION\nx = 1"}]}
    with pytest.raises(ValueError, match=r"cell 0: '### BEGIN SOLUTION' is never closed"):
        nbs.release_notebook(unclosed)
    stray = {"nbformat": 4, "metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                                       "source": "x = 1\n### END HIDDEN TESTS"}]}
    with pytest.raises(ValueError, match=r"cell 0, line 2: '### END HIDDEN TESTS' without a matching"):
        nbs.release_notebook(stray)
    (tmp_path / "bad.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match="not a notebook"):
        nbs.release(str(tmp_path / "bad.ipynb"), str(tmp_path / "out"))
    with pytest.raises(FileNotFoundError, match="no shipped assignment"):
        nbs.release("convolution_step_by_stepp", str(tmp_path / "out"))


def test_cli_release_and_list(tmp_path, capsys):
    assert cli.main(["assignment", "list"]) == 0
    assert "convolution_step_by_step" in capsys.readouterr().out
    assert cli.main(["assignment", "release", "yolo_postprocessing", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "yolo_postprocessing.ipynb").exists()
    plain = tmp_path / "plain.ipynb"
    plain.write_text(json.dumps({"nbformat": 4, "metadata": {}, "cells": []}))
    assert cli.main(["assignment", "release", str(plain), "--out", str(tmp_path / "o")]) == 1
    assert "no '### BEGIN SOLUTION'" in capsys.readouterr().err


def test_grading_without_the_extra_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(__import__("sys").modules, "nbclient", None)          # import nbclient -> ImportError
    with pytest.raises(nbs.MissingDependencyError, match=r'pip install "npvision\[assignments\]"'):
        nbs.grade(SHIPPED["yolo_postprocessing"], "yolo_postprocessing")
    assert cli.main(["assignment", "grade", SHIPPED["yolo_postprocessing"], "--source", "yolo_postprocessing"]) == 1
    assert "npvision[assignments]" in capsys.readouterr().err


# ----------------------------------------------------------------------------- grade (one kernel per grading)
def _has_grading_dependencies() -> bool:
    try:
        nbs._require_grading_dependencies()
    except nbs.MissingDependencyError:
        return False
    return True


needs_kernel = pytest.mark.skipif(not _has_grading_dependencies(),
                                  reason="grading needs the [assignments] extra (nbformat, nbclient, ipykernel, "
                                         "jupyter_client)")

GUARD = 90.0                          # seconds: no grading in these tests may take longer
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(npvision.__file__)))


def _processes_naming(text: str) -> list[str]:
    """Command lines of the running processes that mention ``text`` (Linux /proc; [] elsewhere)."""
    found = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def _grade(submission, source: str, tmp_path, timeout: float = 60.0) -> dict:
    """``npvision assignment grade SUBMISSION --source SOURCE --json`` in a child process, under the guard.

    Fails the test (never hangs) when the grading takes longer than GUARD s, and
    when a kernel process of this grading is still alive afterwards.
    """
    scratch = tmp_path / "g"                       # the grader's working folder, hence the kernel's
    scratch.mkdir(exist_ok=True)                   # connection file, land in here
    env = dict(os.environ, TMPDIR=str(scratch),
               PYTHONPATH=os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-m", "npvision", "assignment", "grade", str(submission), "--source", source,
           "--timeout", str(timeout), "--json"]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)         # its own process group, killed as one
    try:
        out, err = child.communicate(timeout=GUARD)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        pytest.fail(f"grading {submission} did not finish within the {GUARD:g} s guard")
    deadline = time.monotonic() + 5.0                       # a kernel whose parent died exits within ~1 s
    while _processes_naming(str(scratch)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_naming(str(scratch)) == [], "a kernel process outlived its grading"
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _grade_in_process(submission, source: str, tmp_path, timeout: float) -> dict:
    """``notebooks.grade`` called in this process (as a notebook server or a grading service would call it),
    in a daemon thread under the same guard; then the same no-survivor check.

    Here a leaked kernel would not be killed by its parent's exit (the parent is pytest), so this is
    the check that grade() itself stops its kernel.
    """
    import tempfile
    import threading

    scratch = tmp_path / "g"
    scratch.mkdir(exist_ok=True)
    result = {}

    def work():
        try:
            result["report"] = nbs.grade(str(submission), source, timeout=timeout)
        except BaseException as exc:            # handed to the test below
            result["error"] = exc

    saved, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(GUARD)
    finally:
        tempfile.tempdir = saved
    if worker.is_alive():
        pytest.fail(f"grading {submission} did not finish within the {GUARD:g} s guard")
    if "error" in result:
        raise result["error"]
    assert _processes_naming(str(scratch)) == [], "grade() returned with its kernel still alive"
    return result["report"]


def _with(path: str, edit) -> dict:
    nb = nbs.read_notebook(path)
    edit(nb["cells"])
    return nb


def _save(nb: dict, path) -> str:
    nbs._write(nb, str(path))
    return str(path)


def _cell(cells, grade_id):
    return next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _by_id(report) -> dict:
    return {e["grade_id"]: e for e in report["exercises"]}


@needs_kernel
@pytest.mark.parametrize("name", list(SHIPPED))
def test_grading_the_source_scores_full_marks(name, tmp_path):
    """Through the command line, as an instructor runs it."""
    report = _grade(SHIPPED[name], name, tmp_path)
    assert report["score"] == report["max_score"] > 0, report
    assert all(e["passed"] and "All tests passed" in e["feedback"] for e in report["exercises"])
    assert report["errors"] == [] and report["notes"] == []


@needs_kernel
def test_one_broken_exercise_scores_exactly_that_exercise_zero(tmp_path):
    """The released notebook filled in by a student whose pool_forward ignores the stride."""
    source = nbs.read_notebook(SHIPPED["convolution_step_by_step"])

    def edit(cells):
        sol = _cell(cells, "pool_forward_solution")
        sol["source"] = sol["source"].replace("h * stride:h * stride + f", "h:h + f")
        assert "h:h + f" in sol["source"]
        for c in cells:                                   # a student's copy: hidden tests stripped
            if c["metadata"].get("nbgrader", {}).get("grade"):
                c["source"] = nbs._strip_blocks(c["source"], "code", "test")[0]

    report = _grade(_save(_with(SHIPPED["convolution_step_by_step"], edit), tmp_path / "sub.ipynb"),
                    "convolution_step_by_step", tmp_path)
    scores = {e["grade_id"]: e["points"] for e in report["exercises"]}
    full = {t.grade_id: t.points for t in nbs.graded_cells(source)}
    assert scores == dict(full, pool_forward=0.0), report
    assert report["score"] == report["max_score"] - 2
    feedback = _by_id(report)["pool_forward"]["feedback"]
    assert feedback.startswith("GradingFailure: pool_forward: test 2 of 19 failed")   # a hidden test caught it
    assert [(e["grade_id"], e["error"]) for e in report["errors"]] == [("pool_forward", feedback)]


@needs_kernel
def test_hidden_tests_catch_what_visible_ones_do_not(tmp_path):
    """A mask that marks only the first maximum passes the visible tests, fails the hidden ties tests:
    its own, and pool_backward's, which calls it."""
    def edit(cells):
        sol = _cell(cells, "create_mask_from_window_solution")
        sol["source"] = sol["source"].replace("mask = x == np.max(x)",
                                              "mask = np.zeros(x.shape, bool)\n    mask.flat[np.argmax(x)] = True")

    report = _grade(_save(_with(SHIPPED["convolution_step_by_step"], edit), tmp_path / "sub.ipynb"),
                    "convolution_step_by_step", tmp_path)
    by_id = _by_id(report)
    assert [e["grade_id"] for e in report["exercises"] if not e["passed"]] == ["create_mask_from_window",
                                                                                "pool_backward"]
    assert "failed (ties in max pooling" in by_id["pool_backward"]["feedback"]
    assert re.search(r"GradingFailure: create_mask_from_window: test 8 of 9 failed \(a tie",
                     by_id["create_mask_from_window"]["feedback"])
    assert "expected True, received False" in by_id["create_mask_from_window"]["feedback"]


@needs_kernel
def test_a_submission_that_raises_loops_and_deletes_cells_is_reported(tmp_path):
    """In one YOLO submission: iou raises, yolo_filter_boxes loops forever, the scale_boxes test cell
    and the yolo_eval solution cell are deleted, the setup cell is edited."""
    def edit(cells):
        _cell(cells, "iou_solution")["source"] = "def iou(box1, box2):\n    return 1 / 0\n"
        _cell(cells, "yolo_filter_boxes_solution")["source"] = "while True:\n    pass\n"
        cells.remove(_cell(cells, "scale_boxes"))
        cells.remove(_cell(cells, "yolo_eval_solution"))
        _cell(cells, "setup")["source"] += "\nnms = None"

    started = time.monotonic()
    report = _grade(_save(_with(SHIPPED["yolo_postprocessing"], edit), tmp_path / "sub.ipynb"),
                    "yolo_postprocessing", tmp_path, timeout=5)
    assert time.monotonic() - started < 45
    by_id = _by_id(report)
    assert not by_id["iou"]["passed"] and "ZeroDivisionError" in by_id["iou"]["feedback"]
    assert not by_id["yolo_filter_boxes"]["passed"] and "NameError" in by_id["yolo_filter_boxes"]["feedback"]
    assert "('yolo_filter_boxes_solution') before this test timed out" in by_id["yolo_filter_boxes"]["feedback"]
    assert any("CellTimeoutError" in e["error"] and e["grade_id"] == "yolo_filter_boxes_solution"
               for e in report["errors"]), report["errors"]
    assert by_id["scale_boxes"]["passed"]                 # its test cell was put back from the source
    assert not by_id["yolo_eval"]["passed"] and "NameError" in by_id["yolo_eval"]["feedback"]
    assert by_id["yolo_non_max_suppression"]["passed"]    # the edited setup cell was restored (nms works)
    assert report["score"] == 4.0
    notes = "\n".join(report["notes"])
    assert "cell 'scale_boxes' was missing from the submission" in notes
    assert "cell 'setup' was edited in the submission" in notes


@needs_kernel
def test_a_kernel_that_dies_and_an_unreadable_submission(tmp_path):
    def edit(cells):
        _cell(cells, "iou_solution")["source"] = "import os\nos._exit(1)\n"

    report = _grade(_save(_with(SHIPPED["yolo_postprocessing"], edit), tmp_path / "sub.ipynb"),
                    "yolo_postprocessing", tmp_path, timeout=20)
    by_id = _by_id(report)
    assert by_id["yolo_filter_boxes"]["passed"] and report["score"] == 2.0
    assert all(e["feedback"].startswith("not run: the kernel died") for g, e in by_id.items()
               if g != "yolo_filter_boxes")
    (tmp_path / "broken.ipynb").write_text("{ not a notebook")
    report = _grade(tmp_path / "broken.ipynb", "yolo_postprocessing", tmp_path)
    assert report["score"] == 0 and "could not be read" in report["notes"][0]


def _tiny_source() -> dict:
    """Two exercises: f doubles, g triples; a solution cell and a graded test cell each."""
    def code(source, meta):
        return {"cell_type": "code", "metadata": {"nbgrader": meta}, "outputs": [], "execution_count": None,
                "source": source}

    def solution(gid):
        return {"grade_id": gid, "solution": True, "grade": False, "locked": False}

    def test(gid):
        return {"grade_id": gid, "solution": False, "grade": True, "locked": True, "points": 1}

    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        code("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n", solution("f_sol")),
        code("assert f(2) == 4\nprint('f: All tests passed')\n", test("f")),
        code("def g(x):\n    ### BEGIN SOLUTION\n    return 3 * x\n    ### END SOLUTION\n", solution("g_sol")),
        code("assert g(2) == 6\nprint('g: All tests passed')\n", test("g"))]}


@needs_kernel
def test_a_loop_that_swallows_the_interrupt_gets_its_kernel_killed(tmp_path):
    """A loop that catches KeyboardInterrupt keeps the kernel busy after the timeout's interrupt: the
    kernel is killed, the rest is reported as not run, and the grading still ends in seconds."""
    src = _save(_tiny_source(), tmp_path / "source.ipynb")
    sub = _tiny_source()
    sub["cells"][0]["source"] = (f"with open({str(tmp_path / 'kernel-cmdline')!r}, 'wb') as out:\n"
                                 f"    out.write(open('/proc/self/cmdline', 'rb').read())\n"
                                 "import time\nwhile True:\n    try:\n        time.sleep(60)\n"
                                 "    except KeyboardInterrupt:\n        pass\n")
    started = time.monotonic()
    report = _grade_in_process(_save(sub, tmp_path / "sub.ipynb"), src, tmp_path, timeout=2)
    assert time.monotonic() - started < 40
    assert report["score"] == 0 and report["max_score"] == 2
    assert [e["error"] for e in report["errors"]] == ["CellTimeoutError: the cell ran longer than 2 s and was "
                                                      "interrupted"]
    assert report["errors"][0]["grade_id"] == "f_sol"
    for e in report["exercises"]:
        assert e["feedback"].startswith("not run: cell 0 did not stop when it was interrupted after 2 s"), e
    assert "the kernel was stopped" in report["notes"][-1]
    if os.path.isdir("/proc"):                # the survivor check of _grade looked for the right process
        assert str(tmp_path / "g") in (tmp_path / "kernel-cmdline").read_bytes().decode()


def test_the_survivor_check_sees_a_live_process(tmp_path):
    """The no-kernel-survives check of _grade can fail: it finds a process that names the folder."""
    marker = str(tmp_path / "g")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        deadline = time.monotonic() + 5
        while not _processes_naming(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_processes_naming(marker)) == 1
    finally:
        child.kill()
        child.wait()
    assert _processes_naming(marker) == []
