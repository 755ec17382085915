"""The ``npvision`` command: help, the demo, the command registry, a cheap import.

The demo runs in a subprocess exactly as a user runs it (``python -m
npvision demo --quick --out DIR``), with the repository first on
``PYTHONPATH`` so the tests work whether or not npvision is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


# -- help ------------------------------------------------------------------------
def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: npvision" in out
    for name, cmd in cli.COMMANDS.items():
        assert name in out
    assert "demo" in cli.COMMANDS


def test_demo_help_explains_its_options(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--out", "--seed", "--quick"):
        assert option in out


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "usage: npvision" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_help(tmp_path):
    proc = _run(["-m", "npvision", "--help"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout


def test_console_script_help(tmp_path):
    exe = shutil.which("npvision")
    if exe is None:
        pytest.skip("the npvision console script is not installed (pip install -e .)")
    proc = subprocess.run([exe, "--help"], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout


# -- the registry ------------------------------------------------------------------
def test_register_command_plugs_in_a_new_subcommand(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    seen = {}

    def configure(parser):
        parser.add_argument("task")
        parser.add_argument("--epochs", type=int, default=1)

    def run(args):
        seen.update(task=args.task, epochs=args.epochs)
        return 3

    cli.register_command("fit", help="train a model", configure=configure, run=run)
    assert cli.main(["fit", "digits", "--epochs", "2"]) == 3
    assert seen == {"task": "digits", "epochs": 2}
    with pytest.raises(ValueError, match="already registered"):
        cli.register_command("fit", help="again", configure=configure, run=run)
    with pytest.raises(ValueError, match="name"):
        cli.register_command("--bad", help="x", configure=configure, run=run)


def test_errors_are_reported_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))

    def run(args):
        raise ValueError("seed: expected an int")

    cli.register_command("boom", help="fails", configure=lambda p: None, run=run)
    assert cli.main(["boom"]) == 1
    assert "npvision boom: error: seed: expected an int" in capsys.readouterr().err


# -- the demo ------------------------------------------------------------------------
def test_demo_quick_writes_its_pictures(tmp_path):
    """The whole tour, as a user runs it: exit 0, its PNGs, small gradient errors, an accuracy."""
    proc = _run(["-m", "npvision", "demo", "--quick", "--out", "tmp", "--seed", "1"],
                cwd=tmp_path)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = tmp_path / "tmp"
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["conv1_feature_maps.png", "curves.png", "edges.png", "filters.png",
                    "predictions.png"]
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
        assert os.path.join("tmp", name) in proc.stdout, f"the demo should say where {name} is"
    assert (out / "weights.npz").exists() and (out / "metrics.json").exists()
    lines = [line.strip() for line in proc.stdout.splitlines()]
    # It prints the gradient-check errors (conv input, weight, bias; pool input), all small.
    errors = [float(line.split()[-1]) for line in lines
              if line.startswith(("Conv2D(", "max_pool2d("))]
    assert len(errors) == 4, proc.stdout
    assert max(errors) < 1e-6, proc.stdout
    # One quick epoch already beats chance (10%) clearly on held-out digits.
    acc = [line for line in lines if line.startswith("held-out accuracy:")]
    assert len(acc) == 1, proc.stdout
    assert float(acc[0].split()[2].rstrip("%")) > 30, proc.stdout
    assert "61,706" in proc.stdout or "61706" in proc.stdout, "the LeNet-5 summary shows its total"


def test_demo_arguments_reach_the_tour(monkeypatch):
    from npvision import tour

    calls = []
    monkeypatch.setattr(tour, "run", lambda **kw: calls.append(kw) or {})
    assert cli.main(["demo"]) == 0
    assert cli.main(["demo", "--out", "pics", "--seed", "7", "--quick"]) == 0
    assert calls == [dict(out_dir="npvision-out", seed=0, quick=False, progress=True),
                     dict(out_dir="pics", seed=7, quick=True, progress=True)]
    # A failed gradient check makes the command fail.
    monkeypatch.setattr(tour, "run", lambda **kw: {"gradcheck_passed": False})
    assert cli.main(["demo"]) == 1


def test_demo_rejects_a_bad_seed(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--seed", "zero"])
    assert exc.value.code == 2
    assert "--seed" in capsys.readouterr().err


def test_tour_rejects_a_bad_seed(tmp_path):
    from npvision import tour

    with pytest.raises(TypeError, match="seed"):
        tour.run(out_dir=str(tmp_path), seed="zero", log=lambda s: None)


# -- importing npvision is cheap -------------------------------------------------------
def test_import_npvision_loads_neither_numba_nor_matplotlib(tmp_path):
    code = ("import sys, npvision, npvision.cli\n"
            "heavy = sorted(m for m in ('numba', 'matplotlib', 'torch', 'scipy') if m in sys.modules)\n"
            "print(','.join(heavy))\n")
    proc = _run(["-c", code], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"import npvision pulled in: {proc.stdout.strip()}"


def test_importing_viz_does_not_import_matplotlib(tmp_path):
    code = "import sys, npvision.viz\nprint('matplotlib' in sys.modules)\n"
    proc = _run(["-c", code], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# -- the pictures ---------------------------------------------------------------------
def test_viz_functions_save_pngs_and_validate(tmp_path):
    import numpy as np

    from npvision import viz

    rng = np.random.default_rng(0)
    fig = viz.plot_feature_maps(rng.random((2, 6, 6, 5)), tmp_path / "a" / "maps.png", sample=1)
    assert (tmp_path / "a" / "maps.png").read_bytes()[:8] == PNG_MAGIC
    assert sum(ax.get_visible() for ax in fig.axes if ax.images) == 5
    viz.plot_filters(rng.standard_normal((3, 3, 3, 4)), tmp_path / "rgb.png")
    viz.plot_filters(rng.standard_normal((5, 5, 2, 3)), tmp_path / "grey.png", in_channel=1)
    viz.show_images_grid([rng.random((4, 4)), rng.random((4, 4, 3))], tmp_path / "grid.png",
                         titles=["grey", "rgb"], colorbar=True)
    for name in ("rgb.png", "grey.png", "grid.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="activations"):
        viz.plot_feature_maps(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="activations"):
        viz.plot_feature_maps(np.zeros((1, 4, 4, 2), dtype=bool))
    with pytest.raises(ValueError, match="sample"):
        viz.plot_feature_maps(np.zeros((1, 4, 4, 2)), sample=1)
    with pytest.raises(ValueError, match="w"):
        viz.plot_filters(np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="in_channel"):
        viz.plot_filters(np.zeros((3, 3, 2, 4)), in_channel=2)
    with pytest.raises(ValueError, match="titles"):
        viz.show_images_grid([np.zeros((3, 3))], titles=["a", "b"])
    with pytest.raises(ValueError, match=r"images\[0\]"):
        viz.show_images_grid([np.zeros((3, 3, 2))])


# -- train -------------------------------------------------------------------------
def test_train_quick_json_prints_metrics_on_the_last_line(tmp_path):
    import json

    proc = _run(["-m", "npvision", "train", "lenet5", "--quick", "--epochs", "6", "--json", "--out", "run"],
                cwd=tmp_path)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert metrics["task"] == "lenet5" and metrics["seconds"] > 0 and metrics["epochs"] == 6
    assert metrics["accuracy"] >= 0.5                 # a constant prediction scores 0.117 (test_task_floors)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics


def test_train_unknown_task_lists_the_tasks(capsys):
    assert cli.main(["train", "no-such-task", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "no-such-task" in err and "lenet5" in err


def test_train_help_lists_every_task(capsys):
    from npvision.tasks import TASKS

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for name in TASKS:
        assert name in out


# -- detect ----------------------------------------------------------------------
def test_detect_runs_a_trained_detector_on_an_image_of_another_size(tmp_path):
    """'npvision train yolo --quick' writes a detector folder; 'npvision detect' reads it,
    runs it on a PNG of a different size and reports boxes in that image's pixels."""
    import json

    import numpy as np
    from matplotlib.image import imsave

    from npvision.data import make_scenes

    proc = _run(["-m", "npvision", "train", "yolo", "--quick", "--json", "--out", "yolo"], cwd=tmp_path)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    scene = make_scenes(1, size=(90, 120), seed=5).images[0]
    imsave(tmp_path / "scene.png", np.clip(scene, 0, 1))
    proc = _run(["-m", "npvision", "detect", "scene.png", "--model", "yolo", "--out", "found.png",
                 "--score-threshold", "0.0", "--json"], cwd=tmp_path)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / "found.png").read_bytes()[:8] == PNG_MAGIC
    assert result["detections"], "a score threshold of 0 keeps at least one box"
    for det in result["detections"]:
        x0, y0, x1, y1 = det["box_xyxy"]
        assert 0 <= x0 <= x1 <= 120 and 0 <= y0 <= y1 <= 90
        assert det["class"] in ("circle", "square", "triangle", "cross") and 0 <= det["score"] <= 1


def test_detect_without_a_trained_model_says_how_to_get_one(tmp_path, capsys):
    (tmp_path / "img.png").write_bytes(b"")
    code = cli.main(["detect", str(tmp_path / "img.png"), "--model", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert code == 1 and "nothing" in err
