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


# -- detect and segment: real paths, folders, resizing, the unfamiliar-image warning ---
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A quick YOLO and a quick U-Net trained by the command line, plus sample scenes and a photo."""
    import matplotlib.image as mpimg

    from npvision.data import load_image

    root = tmp_path_factory.mktemp("newcomer")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert cli.main(["train", "yolo", "--quick", "--epochs", "2"]) == 0
        assert cli.main(["train", "unet", "--quick"]) == 0
        assert cli.main(["sample-scene", "--out", "scene.png"]) == 0
        assert cli.main(["sample-scene", "--count", "2", "--size", "90", "120", "--out", "scenes"]) == 0
    finally:
        os.chdir(cwd)
    mpimg.imsave(root / "astronaut.png", load_image("astronaut")[::4, ::4])
    return root


def test_detect_writes_inside_a_folder_and_names_the_real_files(trained, capsys, monkeypatch):
    monkeypatch.chdir(trained)
    capsys.readouterr()
    os.makedirs("pictures", exist_ok=True)
    assert cli.main(["detect", "scene.png", "--out", "pictures", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["picture"] == os.path.join("pictures", "scene_detections.png")
    assert (trained / result["picture"]).read_bytes()[:8] == PNG_MAGIC
    assert not (trained / "pictures.png").exists()
    assert result["warning"] is None and "warning" not in captured.err      # a scene is familiar


def test_detect_over_several_images_and_a_folder(trained, capsys, monkeypatch):
    monkeypatch.chdir(trained)
    capsys.readouterr()
    assert cli.main(["detect", "scene.png", "scenes", "--score-threshold", "0.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    images = [r["image"] for r in out["results"]]
    assert images == ["scene.png", os.path.join("scenes", "scene-1.png"), os.path.join("scenes", "scene-2.png")]
    for r in out["results"]:
        assert os.path.isfile(r["picture"]) and os.path.dirname(r["picture"]) == "detections"
    # the second and third are 90x120: boxes in their own pixels
    for det in out["results"][1]["detections"]:
        x0, y0, x1, y1 = det["box_xyxy"]
        assert 0 <= x0 <= x1 <= 120 and 0 <= y0 <= y1 <= 90
    (trained / "taken").write_text("x")
    assert cli.main(["detect", "scene.png", "scenes", "--out", "taken"]) == 2
    assert "'taken' needs to be a folder" in capsys.readouterr().err
    assert cli.main(["detect", "scene.png"]) == 0
    text = capsys.readouterr().out
    assert "classes circle, square, triangle, cross" in text
    assert not re.search(r"\b1 objects\b", text)


def test_a_photograph_gets_a_warning_naming_the_training_data_and_classes(trained, capsys, monkeypatch):
    monkeypatch.chdir(trained)
    capsys.readouterr()
    assert cli.main(["detect", "astronaut.png", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    for text in (captured.err, result["warning"]):
        assert "looks unlike the images this model was trained on (synthetic 64x64 scenes" in text
        assert "circle, square, triangle, cross" in text
    assert cli.main(["segment", "astronaut.png", "--out", "seg.png"]) == 0
    err = capsys.readouterr().err
    assert "synthetic 48x48 scenes" in err and "circle, square, triangle, cross" in err


def test_segment_resizes_to_the_models_input_and_reports_the_real_paths(trained, capsys, monkeypatch):
    monkeypatch.chdir(trained)
    os.makedirs("masks", exist_ok=True)
    capsys.readouterr()
    image = os.path.join("scenes", "scene-1.png")
    assert cli.main(["segment", image, "--out", "masks", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["picture"] == os.path.join("masks", "scene-1_segmented.png")
    assert result["mask"] == os.path.join("masks", "scene-1_segmented.npy")
    assert (trained / result["picture"]).read_bytes()[:8] == PNG_MAGIC
    mask = np.load(trained / result["mask"])
    assert mask.shape == (90, 120) and result["shape"] == [90, 120]
    assert result["input_size"] == [48, 48]                          # the U-Net's training size
    assert sum(result["pixels_per_class"].values()) == 90 * 120
    assert cli.main(["segment", image, "--out", "one.png"]) == 0
    out = capsys.readouterr().out
    assert "wrote one.png and one.npy" in out
    assert cli.main(["segment", image, "--out", ""]) == 2


def test_val_reproduces_the_quick_yolo_and_unet_metrics(trained, capsys, monkeypatch):
    monkeypatch.chdir(trained)
    for task, keys in (("yolo", ("map", "map50", "map75")), ("unet", ("miou", "pixel_accuracy", "mean_dice"))):
        capsys.readouterr()
        assert cli.main(["val", task, "--json"]) == 0
        val = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        trained_metrics = json.loads((trained / "npvision-out" / task / "metrics.json").read_text())
        for key in keys:
            assert val[key] == trained_metrics[key], (task, key)
        assert val["n_test"] == trained_metrics["n_test"]


def test_segment_feeds_the_network_images_of_its_training_size(trained, monkeypatch, capsys):
    """As detect does: a 90x120 image reaches the U-Net as 48x48 (the size it was trained on)."""
    from npvision.segmentation.unet import UNet

    seen = []
    original = UNet.forward

    def recording(self, x):
        seen.append(x.shape)
        return original(self, x)

    monkeypatch.setattr(UNet, "forward", recording)
    monkeypatch.chdir(trained)
    assert cli.main(["segment", os.path.join("scenes", "scene-2.png"), "--out", "two.png"]) == 0
    assert seen == [(1, 48, 48, 3)]


def test_image_profile_flags_a_photograph_not_scenes_of_other_sizes():
    from npvision.data import load_image, make_scenes
    from npvision.data.profile import image_profile, unfamiliarity

    profile = image_profile(make_scenes(200, size=64, seed=1).images, "synthetic scenes")
    assert profile["statistics"] == ["brightness", "contrast", "colourfulness", "texture"]
    for size in ((32, 32), (90, 120), (300, 200)):
        flagged = [unfamiliarity(im, profile)["unfamiliar"] for im in make_scenes(20, size=size, seed=4).images]
        assert not any(flagged), size
    photo = unfamiliarity(load_image("astronaut"), profile)
    assert photo["unfamiliar"] and "texture" in photo["reason"] and photo["z"]["texture"] > 4
    grey = np.repeat(load_image("astronaut").mean(axis=-1, keepdims=True), 3, axis=-1)
    assert unfamiliarity(grey, profile)["z"]["colourfulness"] < -3


def test_readme_says_how_to_get_a_scene_for_detect():
    readme = (REPO / "README.md").read_text()
    lines = readme.splitlines()
    make = next(i for i, line in enumerate(lines) if line.startswith("npvision sample-scene --out scene.png"))
    use = next(i for i, line in enumerate(lines) if line.startswith("npvision detect scene.png"))
    assert make < use
    assert "sample-scene" in cli.COMMANDS and "val" in cli.COMMANDS
