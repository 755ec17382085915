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


# -- messages and exit codes ------------------------------------------------------------
def test_usage_errors_exit_2_with_plain_messages(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "lenet", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'lenet'; did you mean 'lenet5'?" in err and "name:" not in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "lenet5", "--epochs", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--epochs: expected an integer >= 1, received 0" in err and "None" not in err
    assert cli.main(["train", "lenet5", "--quick", "--out", ""]) == 2
    assert "--out: expected a path, received an empty string" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert cli.main(["train", "lenet5", "--quick", "--out", "afile"]) == 2
    err = capsys.readouterr().err
    assert "'afile' needs to be a folder" in err and "Errno" not in err
    assert cli.main(["sample-scene", "--out", "afile/scene.png"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert not any("afile" in p.name and p.is_dir() for p in tmp_path.iterdir())


def test_missing_models_say_how_to_train_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sample-scene"]) == 0
    capsys.readouterr()
    assert cli.main(["detect", "scene.png"]) == 1
    assert "train one first: 'npvision train yolo --out npvision-out/yolo'" in capsys.readouterr().err
    assert cli.main(["segment", "scene.png"]) == 1
    assert "train one first: 'npvision train unet --out npvision-out/unet'" in capsys.readouterr().err
    assert cli.main(["val", "lenet5"]) == 1
    assert "'npvision train lenet5 --out npvision-out/lenet5'" in capsys.readouterr().err


def test_plural_and_did_you_mean():
    from npvision._cli_helpers import did_you_mean, plural

    assert plural(1, "object") == "1 object" and plural(0, "object") == "0 objects"
    assert plural(2, "object") == "2 objects"
    assert did_you_mean("resnet", ["lenet5", "resnet-digits"]) == "; did you mean 'resnet-digits'?"
    assert did_you_mean("zzz", ["lenet5"]) == ""


def test_get_task_suggests_the_closest_name():
    from npvision.tasks import get_task

    with pytest.raises(ValueError, match="did you mean 'lenet5'"):
        get_task("lenet")


# -- sample scenes -------------------------------------------------------------------
def test_sample_scene_writes_the_pngs_it_names(tmp_path, capsys, monkeypatch):
    from npvision.data import read_image

    monkeypatch.chdir(tmp_path)
    assert cli.main(["sample-scene", "--out", "scene.png", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "wrote scene.png (64x64," in out and "npvision detect scene.png" in out
    assert read_image("scene.png", channels=3).shape == (64, 64, 3)
    assert cli.main(["sample-scene", "--count", "3", "--out", "many", "--size", "40", "50", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    paths = [s["path"] for s in info["scenes"]]
    assert paths == [os.path.join("many", f"scene-{k}.png") for k in (1, 2, 3)]
    for s in info["scenes"]:
        assert read_image(s["path"]).shape[:2] == (40, 50) and s["objects"]


# -- numbered runs, --json on stdout with progress on stderr, val = train ------------
def test_runs_are_numbered_json_is_last_stdout_line_and_val_reproduces_train(tmp_path):
    first = _run(["train", "lenet5", "--quick", "--json"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = _run(["train", "lenet5", "--quick", "--json", "--seed", "1"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    runs = tmp_path / "npvision-out"
    assert sorted(p.name for p in runs.iterdir()) == ["lenet5", "lenet5-2"]
    for proc in (first, second):
        assert proc.stdout.count("\n") == 1, "stdout holds only the JSON line"
        assert "epoch   1/1" in proc.stderr, "progress is shown on stderr"
    m1, m2 = (json.loads(p.stdout) for p in (first, second))
    assert m1 == json.loads((runs / "lenet5" / "metrics.json").read_text())
    assert m2 == json.loads((runs / "lenet5-2" / "metrics.json").read_text())
    assert m1["accuracy"] != m2["accuracy"] or m1["test_loss"] != m2["test_loss"]

    latest = _run(["val", "lenet5", "--json"], cwd=tmp_path)            # the latest run: lenet5-2
    assert latest.returncode == 0, latest.stderr
    again = _run(["val", "lenet5", "--model", "npvision-out/lenet5", "--json"], cwd=tmp_path)
    for proc, trained in ((latest, m2), (again, m1)):
        val = json.loads(proc.stdout.strip().splitlines()[-1])
        for key in ("accuracy", "test_loss", "errors", "train_accuracy", "n_test", "n_train"):
            assert val[key] == trained[key], key
    assert val["model"] == "npvision-out/lenet5"
    explicit = _run(["train", "lenet5", "--quick", "--json", "--out", "npvision-out/lenet5"], cwd=tmp_path)
    assert explicit.returncode == 0 and sorted(p.name for p in runs.iterdir()) == ["lenet5", "lenet5-2"]


def test_summary_method_in_the_readme_sense():
    from npvision.models import create

    assert "61,706" in str(create("lenet5").summary((32, 32, 1)))
