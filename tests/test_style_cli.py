"""``npvision style`` and ``npvision texture`` in a tiny, quick setting (32-pixel images, a few steps).

Two runs go through a subprocess exactly as a user types them; the rest call
``npvision.cli.main`` in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npvision import cli
from npvision.data import read_image
from npvision.io import save_weights
from npvision.models.vgg import vgg16

REPO = Path(__file__).resolve().parents[1]
QUICK = ["--size", "32", "--steps", "3"]


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def _check_outputs(summary: dict, out: Path):
    assert Path(summary["image"]) == out / "result.png" and Path(summary["image"]).exists()
    for name in ("strip.png", "costs.png", "result.json"):
        assert (out / name).exists(), name
    assert summary["seconds"] > 0
    assert summary["style_cost"] < summary["style_cost_start"]
    record = json.loads((out / "result.json").read_text())
    assert record["costs"]["style"][-1] == summary["style_cost"]


@pytest.mark.parametrize("command", ["texture", "style"])
def test_demo_as_a_user_types_it(tmp_path, command):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    out = tmp_path / command
    proc = subprocess.run([sys.executable, "-m", "npvision", command, "--demo", *QUICK, "--out", str(out),
                           "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = _last_json(proc.stdout)
    _check_outputs(summary, out)
    assert summary["kind"] == command
    assert set(summary) >= {"image", "content_cost", "style_cost", "tv_cost", "total_cost", "seconds"}
    if command == "texture":
        assert summary["content_cost"] == 0.0
        assert read_image(summary["image"]).shape[:2] == (32, 32)          # gravel is square
    else:
        assert read_image(summary["image"], channels=3).shape == (21, 32, 3)   # chelsea, long side 32


@pytest.mark.parametrize("extra", [["--optimizer", "adam", "--lr", "0.02"],
                                   ["--levels", "2", "--tv", "0.1", "--preserve-colour"],
                                   ["--network", "vgg19", "--pooling", "avg", "--style-layers",
                                    "block1_conv1,block2_conv1", "--content-layers", "block2_conv2"]])
def test_style_options(tmp_path, capsys, extra):
    out = tmp_path / "o"
    assert cli.main(["style", "coffee", "rocket", *QUICK, "--out", str(out), "--json", *extra]) == 0
    summary = _last_json(capsys.readouterr().out)
    _check_outputs(summary, out)


def test_image_files_and_the_text_summary(tmp_path, capsys):
    from npvision.style.commands import save_image

    rng = np.random.default_rng(0)
    content = save_image(str(tmp_path / "c.png"), rng.random((20, 30, 3)))
    style = save_image(str(tmp_path / "s.png"), rng.random((25, 25, 3)))
    assert cli.main(["style", content, style, *QUICK, "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "style: style cost" in text and "result.png" in text
    assert read_image(str(tmp_path / "o" / "result.png"), channels=3).shape == (21, 32, 3)


@pytest.mark.parametrize("argv, message", [
    (["texture", "gravel", "--steps", "0"], "--steps: expected an integer >= 1, received 0"),
    (["texture", "gravel", "--size", "-4"], "--size: expected an integer >= 1, received -4"),
    (["style", "chelsea", "gravel", "--levels", "0"], "--levels: expected an integer >= 1"),
    (["style", "chelsea", "gravel", "--beta", "-1"], "--beta: expected a number >= 0"),
    (["style", "chelsea", "no_such_image.png"], "STYLE: 'no_such_image.png' is neither an image file"),
    (["style", "chelsea"], "CONTENT and STYLE: give two images"),
    (["texture", "gravel", "--weights", "w.npz"], "--weights: only --network vgg19"),
    (["texture", "gravel", "--style-layers", "conv9x9", *QUICK], "no layer 'conv9x9'"),
    (["style", "chelsea", "gravel", "--network", "vgg19", "--content-layers", "block6_conv1", *QUICK],
     "no layer 'block6_conv1'"),
])
def test_errors_are_one_clear_line(tmp_path, capsys, argv, message):
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_weights_of_another_architecture_are_refused(tmp_path, capsys):
    path = save_weights(vgg16(num_classes=3, input_shape=(32, 32, 3), hidden=8), tmp_path / "vgg16.npz",
                        architecture="vgg16")
    assert cli.main(["texture", "gravel", "--network", "vgg19", "--weights", path, *QUICK,
                     "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "does not hold VGG-19 weights" in err and "'vgg16'" in err
    from npvision.io import to_torch_state_dict
    from npvision.models import create

    resnet = to_torch_state_dict(create("resnet18", num_classes=3, input_shape=(32, 32, 3)))
    np.savez(tmp_path / "resnet18.npz", **resnet)                # torchvision's layout, another network
    assert cli.main(["texture", "gravel", "--network", "vgg19", "--weights", str(tmp_path / "resnet18.npz"),
                     *QUICK, "--out", str(tmp_path / "o")]) == 1
    assert "has no key 'features.0.weight' (its first keys: conv1.weight" in capsys.readouterr().err
    assert cli.main(["texture", "gravel", "--network", "vgg19", "--weights", str(tmp_path / "none.pth"),
                     *QUICK, "--out", str(tmp_path / "o")]) == 1
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["bench_style_conv.py", "bench_style.py"])
def test_benchmark_scripts_run_quick(tmp_path, script):
    """The benchmark scripts do not rot (tiny shapes; nothing about speed is asserted)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), "--quick",
                           "--json", str(tmp_path / "b.json")] + (["--out", str(tmp_path / "o")]
                                                                 if script == "bench_style.py" else []),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "b.json").read_text())
    assert record["machine"]["cpu"] and (record.get("runs") or record.get("results"))
