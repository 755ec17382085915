"""The tasks rcnn, fast-rcnn and faster-rcnn in quick mode (floors above a constant network), their
detector folders with 'npvision detect', and the benchmark script.

The floors (``benchmarks/region_quick_floors.py`` measures both ends, seed 0 for the constant):
a two-stage detector whose network is constant (every conv / linear layer fed zeros at test time)
still boxes every proposal with the same class scores, so its mAP@0.5 is not 0; each floor sits
between that score and the lowest of what quick training reaches over seeds 0-2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npvision.tasks import run_task

ROOT = Path(__file__).resolve().parent.parent
# task -> (floor on the held-out mAP@0.5 in quick mode, the two measurements it stands between)
FLOORS = {
    "faster-rcnn": (0.12, "constant network 0.004; trained 0.231, 0.241, 0.242 (seeds 0-2)"),
    "fast-rcnn": (0.18, "constant network 0.042; trained 0.385, 0.329, 0.427 (seeds 0-2)"),
    "rcnn": (0.09, "constant network 0.043; trained 0.141, 0.150, 0.234 (seeds 0-2)"),
}
RPN_RECALL_FLOOR = 0.85  # RPN recall@0.5 at 100 proposals, quick: constant RPN 0.072; trained 0.945-0.961 (seeds 0-2)
KEYS = ("map50", "map", "test_ms_per_image", "seconds", "train_seconds", "n_train", "n_test", "parameters")


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _floor(task, m):
    floor, note = FLOORS[task]
    assert m["map50"] >= floor, f"{task}: held-out mAP@0.5 {m['map50']:.4f} < floor {floor} ({note})"


@pytest.fixture(scope="module")
def faster_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("faster")
    return run_task("faster-rcnn", quick=True, progress=False, out=out), out


def test_faster_rcnn_quick_learns(faster_run):
    m, out = faster_run
    for k in KEYS + ("rpn_recall", "test_ms_per_image_without_proposals", "test_ms_breakdown"):
        assert k in m, k
    _floor("faster-rcnn", m)
    assert m["rpn_recall"]["100"]["recall"] >= RPN_RECALL_FLOOR, m["rpn_recall"]
    assert m["test_ms_per_image_without_proposals"] < m["test_ms_per_image"]
    for name in ("detector.json", "weights.npz", "predictions.png", "proposals.png", "anchors.png", "curves.png",
                 "metrics.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "detector.json").read_text())["kind"] == "faster-rcnn"


def test_fast_rcnn_quick_learns(tmp_path):
    m = run_task("fast-rcnn", quick=True, progress=False, out=tmp_path, proposal_cache=str(tmp_path / "cache"))
    for k in KEYS + ("test_ms_per_image_with_proposals", "ss_recall", "proposal_seconds_per_image"):
        assert k in m, k
    _floor("fast-rcnn", m)
    assert m["ss_recall"]["300"]["recall"] >= 0.9
    assert m["test_ms_per_image_with_proposals"] > m["test_ms_per_image"]
    assert len(list((tmp_path / "cache").iterdir())) == 2         # the training and the test scenes' proposals
    # a second run reads them: the seconds per image stored with them come back unchanged (a new search
    # would time itself anew)
    again = run_task("fast-rcnn", quick=True, progress=False, epochs=1, proposal_cache=str(tmp_path / "cache"))
    assert again["proposal_seconds_per_image"] == m["proposal_seconds_per_image"]
    assert again["train_proposal_seconds"] == m["train_proposal_seconds"]
    assert again["mean_proposals_per_image"] == m["mean_proposals_per_image"]


def test_rcnn_quick_learns(tmp_path):
    m = run_task("rcnn", quick=True, progress=False, out=tmp_path)
    for k in KEYS + ("svm_rounds", "stage_seconds", "test_ms_per_image_with_proposals"):
        assert k in m, k
    _floor("rcnn", m)
    assert json.loads((tmp_path / "detector.json").read_text())["kind"] == "rcnn"


def test_quick_settings_are_declared():
    """Quick mode comes from register_task(quick=...): an explicit option still wins over it."""
    from npvision.tasks import get_task

    for name in FLOORS:
        task = get_task(name)
        assert task.quick and task.quick["n_train"] < task.defaults["n_train"], name


def test_detect_command_with_region_detectors(tmp_path):
    """'npvision train faster-rcnn --quick --json' writes a folder that 'npvision detect' reads, like YOLO's."""
    from matplotlib.image import imsave

    from npvision.data import make_scenes

    proc = _run(["-m", "npvision", "train", "faster-rcnn", "--quick", "--epochs", "1", "--json", "--out", "frcnn"],
                tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["task"] == "faster-rcnn" and result["epochs"] == 1
    assert {"map50", "map", "test_ms_per_image", "seconds"} <= set(result)
    scene = make_scenes(1, size=(90, 120), seed=5).images[0]
    imsave(tmp_path / "scene.png", np.clip(scene, 0, 1))
    proc = _run(["-m", "npvision", "detect", "scene.png", "--model", "frcnn", "--out", "found.png",
                 "--score-threshold", "0.0", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["detections"] and (tmp_path / "found.png").is_file()
    for det in found["detections"]:
        x0, y0, x1, y1 = det["box_xyxy"]
        assert 0 <= x0 <= x1 <= 120 and 0 <= y0 <= y1 <= 90
        assert det["class"] in ("circle", "square", "triangle", "cross")


def test_benchmark_script(tmp_path):
    """The script trains the three tasks (here on a handful of scenes: it is the script that is tested) and
    prints the table; --from-json prints the same table from the saved results."""
    script = str(ROOT / "benchmarks" / "bench_region_detectors.py")
    tiny = ["--set", "n_train=16", "n_test=8", "epochs=1", "n_svm_images=8"]
    proc = _run([script, "--quick", *tiny, "--out", str(tmp_path), "--json", str(tmp_path / "all.json")], ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ("| R-CNN |", "| Fast R-CNN |", "| Faster R-CNN |", "| RPN |", "| selective search (fast) |"):
        assert row in proc.stdout, row
    data = json.loads((tmp_path / "all.json").read_text())
    assert set(data["results"]) == {"rcnn", "fast-rcnn", "faster-rcnn"}
    assert all(m["n_train"] == 16 and m["n_test"] == 8 for m in data["results"].values())
    again = _run([script, "--from-json", str(tmp_path / "all.json")], ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    table = proc.stdout[proc.stdout.index("| detector |"):].split("\n\n")[0]
    assert table in again.stdout
    bad = _run([script, "--set", "no_such_setting=1"], ROOT)
    assert bad.returncode != 0 and "no_such_setting" in bad.stderr
