"""The newcomer's path (issue 21): install extras, the command line's files, messages and exit codes.

Command-line runs use ``npvision.cli.main`` in-process where that is enough, and a
subprocess (``python -m npvision ...``, the repository first on ``PYTHONPATH``)
where the separation of stdout and stderr is the point.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npvision import cli

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    return env


def _run(args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "npvision", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


# -- installing ------------------------------------------------------------------------
def test_jupyter_extra_installs_what_the_notebooks_readme_runs():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    jupyter = cfg["options.extras_require"]["jupyter"].split()
    assert any(req.startswith("jupyterlab") for req in jupyter), jupyter
    readme = (REPO / "notebooks" / "README.md").read_text()
    assert 'pip install -e ".[jupyter]"' in readme and "jupyter lab notebooks/" in readme
