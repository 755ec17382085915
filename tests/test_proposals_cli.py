"""Pictures of selective search (npvision.viz.proposals) and the ``npvision proposals`` command."""

import json

import numpy as np
import pytest

from npvision import cli
from npvision.data import make_scenes
from npvision.detection import selective_search, selective_search_hierarchies
from npvision.viz.proposals import color_regions, plot_grouping_steps, plot_proposals, plot_segmentation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scene():
    s = make_scenes(1, size=(40, 56), min_objects=2, max_objects=3, seed=8)
    return s.images[0], s.boxes[0]


def test_color_regions_paints_each_region_one_colour():
    labels = np.array([[0, 0, 1], [2, 2, 1]])
    colours = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    np.testing.assert_array_equal(color_regions(labels, colours), colours[labels])
    painted = color_regions(labels)
    assert painted.shape == (2, 3, 3)
    assert np.array_equal(painted[0, 0], painted[0, 1]) and not np.array_equal(painted[0, 0], painted[0, 2])
    with pytest.raises(ValueError, match="labels: expected an"):
        color_regions(np.zeros((2, 2)))


def test_pictures_are_saved(tmp_path, scene):
    image, gt = scene
    h = selective_search_hierarchies(image, "single")[0]
    plot_segmentation(image, h.labels, tmp_path / "seg.png")
    fig = plot_grouping_steps(image, h, path=tmp_path / "steps.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1] == f"0 merges: {h.n_initial} regions" and titles[-1].endswith(" regions")
    fig = plot_proposals(image, selective_search(image), top=7, ground_truth=gt, path=tmp_path / "top.png")
    assert "top 7 of" in fig._suptitle.get_text()
    for name in ("seg.png", "steps.png", "top.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="steps: expected merge counts"):
        plot_grouping_steps(image, h, steps=[0, 10_000])
    with pytest.raises(ValueError, match="top: expected an int >= 1"):
        plot_proposals(image, selective_search(image), top=0)


def _write_scene(tmp_path, image):
    from matplotlib.image import imsave

    path = tmp_path / "scene.png"
    imsave(path, np.clip(image, 0, 1))
    return path


def test_command_prints_json_and_draws(tmp_path, scene, capsys):
    path = _write_scene(tmp_path, scene[0])
    out = tmp_path / "pics" / "p.png"
    assert cli.main(["proposals", str(path), "--mode", "single", "--top", "4", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert result["mode"] == "single" and (result["width"], result["height"]) == (56, 40)
    assert len(result["boxes_xyxy"]) == 4 and result["proposals"] >= 4 and result["seconds"] > 0
    for x0, y0, x1, y1 in result["boxes_xyxy"]:
        assert 0 <= x0 < x1 <= 56 and 0 <= y0 < y1 <= 40


def test_command_prints_a_table(tmp_path, scene, capsys):
    path = _write_scene(tmp_path, scene[0])
    assert cli.main(["proposals", str(path), "--top", "3", "--out", str(tmp_path / "p.png")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "proposals in" in lines[0] and "fast mode" in lines[0]
    assert [ln.split()[0] for ln in lines[1:]] == ["#1", "#2", "#3"]


@pytest.mark.parametrize("make,args,message,status", [
    (None, [], "no such image file", 1),
    (b"", [], "is empty (0 bytes)", 1),
    (b"this is not a picture", [], "could not read image file", 1),
    ("scene", ["--top", "0"], "--top: expected an integer >= 1", 2),      # a usage error, like argparse's
])
def test_command_errors_are_clear(tmp_path, scene, capsys, make, args, message, status):
    path = tmp_path / "input.png"
    if make == "scene":
        path = _write_scene(tmp_path, scene[0])
    elif make is not None:
        path.write_bytes(make)
    assert cli.main(["proposals", str(path), "--out", str(tmp_path / "p.png"), *args]) == status
    err = capsys.readouterr().err
    assert err.startswith("npvision proposals: error:") and message in err
    assert "Traceback" not in err


def test_benchmark_script_runs_quick(tmp_path):
    """benchmarks/bench_selective_search.py end to end on 3 tiny scenes (nothing timed or asserted on speed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "ss.json"
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_selective_search.py"), "--quick",
                           "--sizes", "64", "--modes", "single", "fast", "--json", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "held-out scenes: 3 of 64x64" in proc.stdout and "R@500" in proc.stdout
    table = json.loads(out.read_text())["tables"]["heldout_64"]
    for mode in ("single", "fast"):
        assert set(table[mode]["recall"]) == {"50", "100", "300", "500", "1000"}
        assert 0 <= table[mode]["recall"]["50"] <= table[mode]["recall"]["1000"] <= 1
