"""Run the notebooks in full mode and store each with its outputs, so a reader sees every picture.

The notebooks in this folder are committed with the outputs of a full run (``NPVISION_QUICK``
unset: the real sizes and training lengths), made by this script and nothing else::

    python notebooks/regenerate.py              # every notebook (tens of minutes on 2 cores)
    python notebooks/regenerate.py 11 13        # only those whose names start with 11 or 13
    python notebooks/regenerate.py --check      # which stored notebooks are out of date (no run)

Each notebook runs top to bottom in a fresh kernel of this interpreter (the folder's parent
first on ``PYTHONPATH``, so the checkout's npvision is the one imported), in a temporary working
directory, with matplotlib's inline backend. A failing cell stops the script and the notebook
file is left as it was. What is stored:

* the outputs, with progress bars reduced to what a terminal would end up showing (the last
  state of each ``\\r``-rewritten line) and no per-cell timestamps;
* ``metadata["npvision"]``: ``code_sha256`` (a digest of the code cells' sources, see
  :func:`code_digest`), ``mode`` ("full"), the seconds the run took, the date, the CPU and the
  npvision version. ``tests/test_notebooks.py`` checks the digest against the cells, so a code
  cell edited without running this script fails the suite; the same test runs every notebook
  again in quick mode from a copy with the outputs cleared.

Requires nbformat, nbclient and ipykernel (``pip install -e ".[test]"`` has them).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
INLINE = "module://matplotlib_inline.backend_inline"


def notebooks(prefixes=()) -> list[Path]:
    """The notebooks of this folder, sorted; with ``prefixes``, those whose names start with one."""
    paths = sorted(HERE.glob("*.ipynb"))
    if prefixes:
        chosen = [p for p in paths if any(p.name.startswith(str(x)) for x in prefixes)]
        unknown = [x for x in prefixes if not any(p.name.startswith(str(x)) for p in paths)]
        if unknown:
            raise SystemExit(f"notebooks: no notebook name starts with {', '.join(map(repr, unknown))}; "
                             f"expected one of: {', '.join(p.name[:2] for p in paths)}")
        paths = chosen
    return paths


def code_digest(nb) -> str:
    """SHA-256 of the code cells' sources, in order (markdown edits do not change a code output)."""
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
               for c in nb["cells"] if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(sources).encode("utf-8")).hexdigest()


def kernel_manager(spec_root: Path, *, quick: bool):
    """A KernelManager whose ``python3`` kernel is this interpreter with the checkout importable.

    ``quick``: ``NPVISION_QUICK=1`` and the Agg backend (the tests); otherwise full mode with
    inline figures (the stored outputs).
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = Path(spec_root) / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": pythonpath, "MPLBACKEND": "Agg" if quick else INLINE}
    if quick:
        env["NPVISION_QUICK"] = "1"
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python 3 ({sys.executable})", "language": "python", "env": env}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    # local socket files rather than TCP ports when their path fits a socket address (~107 bytes)
    ipc = Path(spec_root) / "ipc"
    if os.name == "posix" and len(str(ipc)) + 4 <= 100:
        return KernelManager(kernel_name="python3", kernel_spec_manager=ksm, transport="ipc", ip=str(ipc))
    return KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


def terminal_text(text: str) -> str:
    """What a terminal shows of ``text``: each line's last ``\\r``-separated state (progress bars)."""
    lines = text.split("\n")
    shown = []
    for line in lines:
        parts = [p for p in line.split("\r") if p]
        shown.append(parts[-1] if parts else "")
    return "\n".join(shown)


def _tidy(nb) -> None:
    """Progress bars to their last state; no timestamps; colour codes out of stream text."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        for out in cell.outputs:
            if out.get("output_type") == "stream":
                out["text"] = re.sub(r"\x1b\[[0-9;]*m", "", terminal_text(out["text"]))


def _cpu() -> str:
    """The CPU's model name, as the benchmark records give it (``benchmarks/_common.py``)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from _common import cpu_model
    finally:
        sys.path.pop(0)
    return cpu_model()


def run_full(path: Path, *, timeout: float = 3600.0) -> float:
    """Run ``path`` in full mode and store it with its outputs; the seconds it took."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory(prefix="npvision-nb-") as tmp:
        workdir = Path(tmp) / "cwd"
        workdir.mkdir()
        client = nbclient.NotebookClient(nb, km=kernel_manager(Path(tmp), quick=False), timeout=timeout,
                                         kernel_name="python3", record_timing=False,
                                         resources={"metadata": {"path": str(workdir)}})
        started = time.perf_counter()
        client.execute()                      # raises CellExecutionError naming the cell
        seconds = time.perf_counter() - started
    _tidy(nb)
    import npvision

    nb.metadata["npvision"] = {
        "mode": "full", "code_sha256": code_digest(nb), "seconds": round(seconds, 1),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu(), "cpus": os.cpu_count(), "npvision": npvision.__version__,
    }
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def stale(path: Path) -> str | None:
    """Why the stored outputs of ``path`` are not those of its current code, or None."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("npvision")
    if not meta:
        return "no stored full run"
    if meta.get("mode") != "full":
        return f"stored run is in mode {meta.get('mode')!r}, expected 'full'"
    if meta.get("code_sha256") != code_digest(nb):
        return "code cells changed since the stored run"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these (e.g. 03 11)")
    parser.add_argument("--check", action="store_true", help="list out-of-date notebooks; run nothing")
    parser.add_argument("--stale", action="store_true", help="run only the out-of-date notebooks")
    args = parser.parse_args(argv)
    paths = notebooks(args.prefixes)
    if args.check or args.stale:
        reasons = {p: stale(p) for p in paths}
        for p, why in reasons.items():
            print(f"{p.name}: {why or 'up to date'}")
        if args.check:
            return 1 if any(reasons.values()) else 0
        paths = [p for p, why in reasons.items() if why]
    total = 0.0
    for path in paths:
        print(f"{path.name}: running in full mode ...", flush=True)
        seconds = run_full(path)
        total += seconds
        print(f"{path.name}: stored with outputs ({seconds:.0f} s)", flush=True)
    print(f"{len(paths)} notebook(s), {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
