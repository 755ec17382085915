"""The README's two quick-start commands, run one after the other in one fresh virtual environment.

The first installs npvision (a regular install) and runs the demo; the second
reinstalls it in editable mode with the test tools. Run in that order they once
broke the command: the demo's numba cache, written beside the installed
sources, outlived the uninstall and left an empty ``site-packages/npvision/``
that shadowed the editable install. This test replays the sequence on a copy of
the repository, then checks ``npvision --version`` and the demo again.

It installs from the same package index as CI's own ``pip install`` (about a
minute on 2 cores). Set ``NPVISION_SKIP_QUICKSTART=1`` to skip it while
iterating on something else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import npvision

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(bool(os.environ.get("NPVISION_SKIP_QUICKSTART")),
                                reason="NPVISION_SKIP_QUICKSTART is set")


def _copy_checkout(dest: Path) -> None:
    """The files a fresh clone has: git's list where there is a repository, else the tree minus caches."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        files = [f for f in listed.stdout.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = None
    if files:
        for f in files:
            if (REPO / f).is_file():
                (dest / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / f, dest / f)
    else:
        shutil.copytree(REPO, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build"))


def _run(cmd: str, cwd: Path, env: dict) -> str:
    """Run one shell line (as a user types it); fail with its output on a non-zero exit."""
    done = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, (f"`{cmd}` exited with {done.returncode}\n--- stdout ---\n"
                                  f"{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}")
    return done.stdout


def test_the_two_quick_start_lines_in_order(tmp_path):
    repo = tmp_path / "npvision"
    repo.mkdir()
    _copy_checkout(repo)
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "NUMBA_CACHE_DIR", "NPVISION_QUICK")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(sys.prefix))          # not this test's venv
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")                          # a user's first run: cold
    python = shutil.which("python3", path=env["PATH"]) or sys._base_executable
    venv = f"{python} -m venv .venv && . .venv/bin/activate"

    # README line 1, with the demo's --quick flag to keep CI short
    _run(f"{venv} && pip install . && npvision demo --quick", repo, env)
    # README line 2, without its final pytest (this test already runs inside one)
    _run(f'{venv} && pip install -e ".[test]"', repo, env)

    version = _run(". .venv/bin/activate && npvision --version", repo, env)
    assert version.strip() == f"npvision {npvision.__version__}"
    where = _run(". .venv/bin/activate && python -c 'import npvision; print(npvision.__file__)'", repo, env)
    assert Path(where.strip()).resolve() == (repo / "npvision" / "__init__.py").resolve()
    out = _run(". .venv/bin/activate && npvision demo --quick", repo, env)
    assert "held-out" in out or "accuracy" in out
