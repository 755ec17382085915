"""Every notebook in ``notebooks/`` runs top to bottom without an error.

Each notebook is executed with nbclient in a fresh kernel, in quick mode
(``NPVISION_QUICK=1``: the notebooks use smaller sizes), with matplotlib's
non-interactive Agg backend, in a temporary working directory.

The kernel is the interpreter running these tests: the test writes its own
``python3`` kernelspec whose ``argv`` is ``sys.executable -m ipykernel_launcher``
(so a fresh virtualenv with ``ipykernel`` installed as a test dependency works
even when Jupyter's global ``python3`` kernel points elsewhere), puts the
repository first on the kernel's ``PYTHONPATH``, and runs a first, injected
cell that asserts the kernel's ``sys.executable`` is this interpreter.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell


def _load_regenerate():
    """``notebooks/regenerate.py``: the one definition of the kernel and of the code digest."""
    spec = importlib.util.spec_from_file_location("npvision_notebooks_regenerate", REPO / "notebooks" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regenerate = _load_regenerate()


def _interpreter_check_cell():
    # sys.prefix tells a virtualenv from the interpreter its python symlinks to.
    return nbformat.v4.new_code_cell(
        "import os, sys\n"
        f"assert os.path.abspath(sys.executable) == {os.path.abspath(sys.executable)!r}, "
        "sys.executable\n"
        f"assert os.path.abspath(sys.prefix) == {os.path.abspath(sys.prefix)!r}, sys.prefix\n"
        "assert os.environ.get('NPVISION_QUICK') == '1'\n"
        "import npvision\n"
        f"assert os.path.realpath(npvision.__file__).startswith({str(REPO)!r}), npvision.__file__\n")


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {REPO / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:                       # the stored full-run outputs are not the quick run's
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.insert(0, _interpreter_check_cell())
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        nb, km=regenerate.kernel_manager(tmp_path, quick=True), timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        # The message holds the failing cell's source and its traceback (minus colour codes).
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        pytest.fail(f"{path.name} failed:\n{message}", pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_stored_with_a_full_run_of_its_code(path: Path):
    """A reader browsing the notebook sees the outputs of a full run of the code it shows.

    ``python notebooks/regenerate.py NN`` stores them; a code cell edited afterwards changes the
    digest and fails here until the notebook is run again.
    """
    why = regenerate.stale(path)
    assert why is None, f"{path.name}: {why}; run: python notebooks/regenerate.py {path.name[:2]}"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
    assert not unrun, f"{path.name}: code cells {unrun} have no stored run"
    errors = [o.get("ename") for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: stored outputs hold errors {errors}"
    # npvision.viz's plot_* functions return a Figure without drawing it on screen: a cell that calls
    # one must display it (display(fig) or a last-line figure), or the student sees no picture
    plotters = "|".join(sorted(set(re.findall(r"^def (plot_\w+)\(", "".join(
        f.read_text() for f in (REPO / "npvision" / "viz").glob("*.py")), re.MULTILINE))))
    calls = re.compile(rf"(?<![\w.])({plotters})\(")
    blind = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and calls.search(c.source)
             and not any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert not blind, f"{path.name}: cells {blind} make a figure with npvision.viz but show no picture"
    bars = [o["text"][:60] for c in code for o in c.outputs if o.get("output_type") == "stream" and "\r" in o["text"]]
    assert not bars, f"{path.name}: stored progress bars kept their intermediate states: {bars}"


def test_code_digest_sees_code_edits_not_markdown():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# m"), nbformat.v4.new_code_cell("x = 1")])
    before = regenerate.code_digest(nb)
    nb.cells[0].source = "# other words"
    assert regenerate.code_digest(nb) == before
    nb.cells[1].source = "x = 2"
    assert regenerate.code_digest(nb) != before
    nb.cells.append(nbformat.v4.new_code_cell(""))
    assert regenerate.code_digest(nb) != regenerate.code_digest(nbformat.v4.new_notebook(cells=nb.cells[:2]))


def test_terminal_text_keeps_what_a_terminal_shows():
    assert regenerate.terminal_text("a\rab\rabc 100%\ndone\n") == "abc 100%\ndone\n"
    assert regenerate.terminal_text("x\r\n") == "x\n"
