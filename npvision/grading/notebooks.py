"""Release and grade assignment notebooks written with nbgrader's markers.

An instructor writes one *source* notebook with the solutions in it, marked as
nbgrader marks them, so the same file also works with nbgrader itself:

* in a solution cell, the answer between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION`` lines;
* in a test cell, tests the students may see, and tests they may not between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``;
* cell metadata, nbgrader's schema (``metadata.nbgrader``):

  ========================  ================================================================
  cell                      ``metadata.nbgrader``
  ========================  ================================================================
  solution                  ``{"solution": true, "grade": false, "locked": false,
                            "grade_id": "conv_forward_solution"}``
  graded test               ``{"solution": false, "grade": true, "locked": true,
                            "grade_id": "conv_forward", "points": 2}``
  locked (setup, text)      ``{"solution": false, "grade": false, "locked": true,
                            "grade_id": "setup"}``
  ========================  ================================================================

  A graded test cell is an exercise: it scores its ``points`` when it runs without
  an error, 0 otherwise. ``grade_id`` s are unique.

:func:`release` writes the students' notebook: every solution block becomes
``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (at the block's
indentation; ``YOUR ANSWER HERE`` in a markdown cell), every hidden-test block
disappears, outputs and execution counts are cleared, the metadata stays (the
grader matches cells by it).

:func:`grade` scores a student's submission against the source: it takes the
submission's cells, puts back the source's version of every graded and locked
cell (so the hidden tests run, and an edited or deleted test cell counts as the
original; a deleted one is noted), runs the result top to bottom in a fresh
kernel with a time limit per cell, and reports each exercise's points and
feedback (the ``AssertionError`` message of :func:`npvision.grading.check`). A
cell that raises, loops past the limit, or kills the kernel is reported, never
crashed on; a submission that is not a notebook scores 0 with the reason.

Grading needs ``nbformat``, ``nbclient``, ``ipykernel`` and ``jupyter_client`` (``pip install
"npvision[assignments]"``); releasing needs nothing beyond the standard library.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field

__all__ = ["release", "grade", "read_notebook", "graded_cells", "shipped_assignments", "assignment_path",
           "MARKERS", "MissingDependencyError"]

ASSIGNMENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "course",
                               "assignments")

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "YOUR ANSWER HERE"


class MissingDependencyError(ImportError):
    """Grading needs the optional dependencies of ``npvision[assignments]``."""


# ----------------------------------------------------------------------------- reading

def shipped_assignments() -> dict[str, str]:
    """The assignments shipped with npvision: name -> path of its source notebook."""
    return {name[:-len(".ipynb")]: os.path.join(ASSIGNMENTS_DIR, name)
            for name in sorted(os.listdir(ASSIGNMENTS_DIR)) if name.endswith(".ipynb")}


def assignment_path(source: str) -> str:
    """``source`` itself when it is a file, else the path of the shipped assignment of that name."""
    if os.path.isfile(source):
        return source
    shipped = shipped_assignments()
    if source in shipped:
        return shipped[source]
    raise FileNotFoundError(f"source: no notebook {source!r}, and no shipped assignment of that name "
                            f"(shipped: {', '.join(shipped)})")


def read_notebook(path: str) -> dict:
    """A notebook file as its JSON dict (nbformat 4), each cell's ``source`` joined into one string."""
    with open(path, encoding="utf-8") as fh:
        try:
            nb = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a notebook (invalid JSON: {exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        raise ValueError(f"{path}: not a Jupyter notebook in format 4 (no 'cells' list or 'nbformat': 4)")
    for cell in nb["cells"]:
        src = cell.get("source", "")
        cell["source"] = "".join(src) if isinstance(src, list) else str(src)
        cell.setdefault("metadata", {})
    return nb


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


@dataclass
class GradedCell:
    """A graded test cell of a source notebook."""

    grade_id: str
    points: float
    index: int
    source: str


def graded_cells(nb: dict) -> list[GradedCell]:
    """The graded test cells (``metadata.nbgrader.grade`` true), in order; checks ids and points."""
    cells, seen = [], set()
    for i, cell in enumerate(nb["cells"]):
        meta = _meta(cell)
        gid = meta.get("grade_id")
        if gid is not None:
            if gid in seen:
                raise ValueError(f"cell {i}: grade_id {gid!r} is used twice; each graded or locked cell needs "
                                 f"its own")
            seen.add(gid)
        if not meta.get("grade"):
            continue
        if not gid:
            raise ValueError(f"cell {i}: a graded cell (nbgrader grade: true) needs a grade_id")
        points = meta.get("points")
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0:
            raise ValueError(f"cell {i} ({gid!r}): expected a number of points >= 0 in its nbgrader metadata, "
                             f"received {points!r}")
        cells.append(GradedCell(gid, float(points), i, cell["source"]))
    return cells


# ----------------------------------------------------------------------------- release

def _strip_blocks(text: str, cell_type: str, where: str) -> tuple[str, int]:
    """Replace solution blocks by stubs and remove hidden-test blocks; returns ``(text, blocks)``."""
    out, open_marker, blocks = [], None, 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if open_marker:
                raise ValueError(f"{where}, line {number}: {stripped!r} inside an open {open_marker!r} block")
            if stripped == BEGIN_HIDDEN and cell_type != "code":
                raise ValueError(f"{where}, line {number}: hidden tests belong in a code cell")
            open_marker = stripped
            indent = line[:len(line) - len(line.lstrip())]
            if stripped == BEGIN_SOLUTION:
                out.extend([indent + s for s in CODE_STUB] if cell_type == "code" else [ANSWER_STUB])
            continue
        if stripped in (END_SOLUTION, END_HIDDEN):
            expected = BEGIN_SOLUTION if stripped == END_SOLUTION else BEGIN_HIDDEN
            if open_marker != expected:
                raise ValueError(f"{where}, line {number}: {stripped!r} without a matching {expected!r}")
            open_marker = None
            blocks += 1
            continue
        if open_marker is None:
            out.append(line)
    if open_marker:
        raise ValueError(f"{where}: {open_marker!r} is never closed")
    return "\n".join(out), blocks


def release_notebook(nb: dict, name: str = "the notebook") -> dict:
    """The students' version of a source notebook dict (a new dict; see the module docstring)."""
    out = copy.deepcopy(nb)
    graded_cells(out)                                          # ids unique, points valid
    blocks = 0
    for i, cell in enumerate(out["cells"]):
        where = f"{name}: cell {i}"
        if cell.get("cell_type") in ("code", "markdown"):
            cell["source"], n = _strip_blocks(cell["source"], cell["cell_type"], where)
            blocks += n
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    if blocks == 0:
        raise ValueError(f"{name}: no {BEGIN_SOLUTION!r} / {BEGIN_HIDDEN!r} markers found, so there is nothing "
                         f"to release; mark each answer with '{BEGIN_SOLUTION}' ... '{END_SOLUTION}' lines "
                         f"(nbgrader's markers)")
    return out


def _write(nb: dict, path: str) -> None:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        lines = cell["source"].split("\n")
        cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(nb, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def release(source: str, out_dir: str) -> str:
    """Write the students' version of ``source`` (a path or a shipped assignment's name) into ``out_dir``.

    Returns the path written (``out_dir/<source's file name>``). Raises ``ValueError``
    for a notebook without markers, unbalanced markers, or bad nbgrader metadata.
    """
    path = assignment_path(source)
    nb = release_notebook(read_notebook(path), os.path.basename(path))
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, os.path.basename(path))
    if os.path.abspath(target) == os.path.abspath(path):
        raise ValueError(f"--out: {out_dir!r} holds the source itself; releasing there would overwrite it")
    _write(nb, target)
    return target


# ----------------------------------------------------------------------------- grade

@dataclass
class _Run:
    """What happened to each cell of the notebook that was run."""

    status: list = field(default_factory=list)     # per cell: "ok", "error", "timeout", "not run"
    errors: list = field(default_factory=list)     # per cell: (ename, evalue) or None
    stdout: list = field(default_factory=list)     # per cell: printed text
    note: str | None = None

    def add(self, status: str, error=None, text: str = "") -> None:
        self.status.append(status)
        self.errors.append(error)
        self.stdout.append(text)


def _merge(source: dict, submission: dict, notes: list) -> dict:
    """The notebook to run: the submission's cells, with the source's graded and locked cells put back."""
    released = {_meta(c).get("grade_id"): c["source"] for c in release_notebook(source)["cells"]}
    protected = {}                                  # grade_id -> (index in source, cell)
    for i, cell in enumerate(source["cells"]):
        meta = _meta(cell)
        if meta.get("grade_id") and (meta.get("grade") or meta.get("locked")) and not meta.get("solution"):
            protected[meta["grade_id"]] = (i, cell)
    cells, found = [], set()
    for cell in submission["cells"]:
        gid = _meta(cell).get("grade_id")
        if gid in protected:
            if gid in found:
                notes.append(f"cell {gid!r} appears twice in the submission; the copy was dropped")
                continue
            found.add(gid)
            if cell.get("source", "") not in (released[gid], protected[gid][1]["source"]):
                notes.append(f"cell {gid!r} was edited in the submission; the source's version was run")
            cell = copy.deepcopy(protected[gid][1])
        cells.append(copy.deepcopy(cell))
    for gid, (i, cell) in protected.items():
        if gid in found:
            continue
        notes.append(f"cell {gid!r} was missing from the submission; the source's version was put back")
        before = [_meta(c).get("grade_id") for c in source["cells"][:i]]
        position = 0
        for prev in reversed(before):                 # after the nearest earlier cell that is still there
            ids = [_meta(c).get("grade_id") for c in cells]
            if prev and prev in ids:
                position = ids.index(prev) + 1
                break
        cells.insert(position, copy.deepcopy(cell))
    out = copy.deepcopy(submission)
    out["cells"] = cells
    return out


def _require_grading_dependencies():
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
        import ipykernel  # noqa: F401
        import jupyter_client  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"grading a notebook runs it in a Jupyter kernel, which needs nbformat, nbclient, ipykernel and "
            f"jupyter_client "
            f"({exc.name} is missing): pip install \"npvision[assignments]\"") from exc


def _kernel_manager(workdir: str, kernel_name: str | None):
    """A kernel running this interpreter (with this npvision importable), or an installed kernelspec."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager as KernelManager   # nbclient drives it asynchronously

    # ipc: local socket files, nothing on the network; their paths must fit a socket address (~107
    # bytes), so a long temporary folder falls back to tcp on the loopback interface
    ipc_base = os.path.join(workdir, ".kernel-ipc")
    transport = "ipc" if os.name == "posix" and len(ipc_base) + 4 <= 100 else "tcp"
    ip = ipc_base if transport == "ipc" else "127.0.0.1"
    # the connection file in the grading's own folder (not the system's temp folder): the kernel's command
    # line names that folder, so the process can be told apart from any other kernel
    connection_file = os.path.join(workdir, "kernel-connection.json")
    if kernel_name:
        return KernelManager(kernel_name=kernel_name, transport=transport, ip=ip, connection_file=connection_file)
    spec_dir = os.path.join(workdir, ".kernels", "npvision-grader")
    os.makedirs(spec_dir, exist_ok=True)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "npvision grader", "language": "python", "interrupt_mode": "message",
            "env": {"PYTHONPATH": pythonpath, "MPLBACKEND": "Agg"}}
    with open(os.path.join(spec_dir, "kernel.json"), "w") as fh:
        json.dump(spec, fh)
    ksm = KernelSpecManager(kernel_dirs=[os.path.dirname(spec_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name="npvision-grader", kernel_spec_manager=ksm, transport=transport,
                         ip=ip, connection_file=connection_file)


def _cell_result(cell) -> tuple[str, tuple[str, str] | None, str]:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            if o.get("ename") == "KeyboardInterrupt":
                return "timeout", ("CellTimeoutError", "interrupted"), text
            return "error", (o.get("ename", "Error"), o.get("evalue", "")), text
    return "ok", None, text


def _responds(client, grace: float) -> bool:
    """After a timeout and its interrupt: does the kernel come back and run ``pass`` within ``grace`` s?

    A cell that catches ``KeyboardInterrupt`` (``except:`` inside a loop) keeps
    the kernel busy after the interrupt; every later cell would then wait out its
    own timeout. The probe tells the two cases apart.
    """
    import nbformat

    probe = nbformat.v4.new_code_cell("pass")
    saved = client.timeout
    client.timeout = grace
    started = time.monotonic()
    try:
        client.execute_cell(probe, 0, store_history=False)
    except Exception:                               # a dead kernel, or one that stopped answering
        return False
    finally:
        client.timeout = saved
    status, _, _ = _cell_result(probe)
    return status == "ok" and time.monotonic() - started < grace


def _kill(km) -> None:
    """Stop the kernel process now (no graceful shutdown request: it may be stuck in a loop)."""
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
    except RuntimeError:                            # "No kernel is running!": already gone
        pass


def _execute(nb: dict, timeout: float, kernel_name: str | None, workdir: str) -> _Run:
    """Run every code cell of ``nb`` in a fresh kernel; at most ``timeout`` s per cell.

    A cell past its time is interrupted (``KeyboardInterrupt`` in the kernel) and
    reported as timed out; when the kernel does not come back from the interrupt
    (the cell catches it) it is killed and the cells after it are not run. The
    kernel never outlives this function: it is shut down immediately at the end,
    and killed if it is somehow still alive.
    """
    import nbclient
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    node = nbformat.from_dict(nb)
    for cell in node.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    timeout_error = {"ename": "CellTimeoutError", "evalue": f"the cell ran longer than {timeout:g} s and was "
                                                            f"interrupted", "traceback": []}
    km = _kernel_manager(workdir, kernel_name)
    client = nbclient.NotebookClient(node, km=km, timeout=timeout, allow_errors=True,
                                     interrupt_on_timeout=True, error_on_timeout=timeout_error,
                                     kernel_name=kernel_name or "npvision-grader", shutdown_kernel="immediate",
                                     resources={"metadata": {"path": workdir}})
    client.owns_km = True                 # so that leaving setup_kernel() shuts the kernel down
    grace = min(10.0, max(2.0, timeout))  # how long an interrupted kernel gets to come back
    run = _Run()
    try:
        with client.setup_kernel():
            for index, cell in enumerate(node.cells):
                if cell.cell_type != "code":
                    run.add("ok")
                    continue
                started = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except (CellTimeoutError, DeadKernelError) as exc:
                    why = "died" if isinstance(exc, DeadKernelError) else "stopped answering"
                    run.note = f"the kernel {why} while running cell {index}; the cells after it were not run"
                    run.add("error", (type(exc).__name__, (str(exc).splitlines() or [""])[0]))
                    break
                status, error, text = _cell_result(cell)
                if status == "ok" and time.monotonic() - started >= timeout:
                    status = "timeout"
                if status == "timeout":
                    error = ("CellTimeoutError", timeout_error["evalue"])
                run.add(status, error, text)
                if status == "timeout" and not _responds(client, grace):
                    run.note = (f"cell {index} did not stop when it was interrupted after {timeout:g} s (does it "
                                f"catch KeyboardInterrupt, e.g. a bare 'except:' in a loop?); the kernel was "
                                f"stopped and the cells after it were not run")
                    _kill(km)
                    break
    finally:
        _kill(km)
    while len(run.status) < len(node.cells):
        run.add("not run")
    return run


def grade(submission: str, source: str, timeout: float = 60.0, kernel_name: str | None = None) -> dict:
    """Run ``submission`` with the source's tests and score it; returns the report as a dict.

    ``source``: the instructor's notebook (a path, or a shipped assignment's name).
    ``timeout``: seconds allowed per cell. ``kernel_name``: an installed Jupyter
    kernel to use (default: a kernel running this Python, with this npvision).
    The report: ``score``, ``max_score``, ``exercises`` (per graded cell:
    ``grade_id``, ``points``, ``max_points``, ``passed``, ``feedback``), ``errors``
    (every cell that raised), ``notes`` (cells restored, a kernel that died, ...),
    ``seconds``.
    """
    started = time.monotonic()
    source_path = assignment_path(source)
    src = read_notebook(source_path)
    tests = graded_cells(src)
    if not tests:
        raise ValueError(f"{source_path}: no graded cells (nbgrader metadata with grade: true and points); "
                         f"nothing to score")
    report = {"submission": submission, "source": source_path, "score": 0.0,
              "max_score": sum(t.points for t in tests), "exercises": [], "errors": [], "notes": []}

    def zero(reason: str) -> dict:
        report["exercises"] = [{"grade_id": t.grade_id, "points": 0.0, "max_points": t.points, "passed": False,
                                "feedback": reason} for t in tests]
        report["notes"].append(reason)
        report["seconds"] = round(time.monotonic() - started, 2)
        return report

    try:
        sub = read_notebook(submission)
    except (OSError, ValueError) as exc:
        return zero(f"the submission could not be read: {exc}")
    _require_grading_dependencies()
    nb = _merge(src, sub, report["notes"])
    with tempfile.TemporaryDirectory(prefix="npvision-grade-") as workdir:
        run = _execute(nb, timeout, kernel_name, workdir)
    if run.note:
        report["notes"].append(run.note)
    ids = [_meta(c).get("grade_id") for c in nb["cells"]]
    for i, (status, error) in enumerate(zip(run.status, run.errors)):
        if error is not None:
            report["errors"].append({"cell": i, "grade_id": ids[i], "error": f"{error[0]}: {error[1]}"})
    previous = -1
    for t in tests:
        i = ids.index(t.grade_id)
        status, error, text = run.status[i], run.errors[i], run.stdout[i].strip()
        earlier = [f"cell {k}" + (f" ({ids[k]!r})" if ids[k] else "") + f" before this test "
                   + ("timed out" if run.status[k] == "timeout" else f"raised {run.errors[k][0]}: {run.errors[k][1]}")
                   for k in range(previous + 1, i) if run.errors[k] is not None]
        previous = i
        passed = status == "ok"
        if passed:
            feedback = text or "passed"
        elif status == "not run":
            feedback = "not run: " + (run.note or "an earlier cell stopped the notebook")
        elif status == "timeout":
            feedback = f"timed out: {error[1]}"
        else:
            feedback = f"{error[0]}: {error[1]}"
        if not passed and earlier and status != "not run":
            feedback += "\n(" + "; ".join(earlier) + ")"
        report["exercises"].append({"grade_id": t.grade_id, "points": t.points if passed else 0.0,
                                    "max_points": t.points, "passed": passed, "feedback": feedback})
    report["score"] = sum(e["points"] for e in report["exercises"])
    report["seconds"] = round(time.monotonic() - started, 2)
    return report


def format_report(report: dict) -> str:
    """The report as text: one line per exercise, then the feedback of those that failed."""
    lines = [f"{os.path.basename(str(report['submission']))}: {report['score']:g} / {report['max_score']:g} points"]
    for e in report["exercises"]:
        mark = "ok  " if e["passed"] else "FAIL"
        lines.append(f"  {mark} {e['grade_id']:<32s} {e['points']:g} / {e['max_points']:g}")
    for e in report["exercises"]:
        if not e["passed"]:
            lines.append(f"\n{e['grade_id']}:\n  " + re.sub(r"\n", "\n  ", e["feedback"]))
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)
