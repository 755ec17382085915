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

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (after the skips)
from jupyter_client.manager import KernelManager  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A KernelManager whose 'python3' kernel is this interpreter, with the test environment."""
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({sys.executable})",
        "language": "python",
        "env": {"NPVISION_QUICK": "1", "MPLBACKEND": "Agg", "PYTHONPATH": pythonpath},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


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
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{path.name}: commit notebooks with their outputs cleared"
    nb.cells.insert(0, _interpreter_check_cell())
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(tmp_path), timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        # The message holds the failing cell's source and its traceback (minus colour codes).
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        pytest.fail(f"{path.name} failed:\n{message}", pytrace=False)
