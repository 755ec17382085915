"""The tasks rcnn, fast-rcnn and faster-rcnn in quick mode (floors above chance), their detector
folders with 'npvision detect', and the benchmark script's quick run.

Chance here: an untrained Faster R-CNN scores mAP@0.5 about 0.01 on these scenes (measured: 0.013
with the quick settings and no training step), a detector that boxes nothing scores 0."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from npvision.tasks import run_task

ROOT = Path(__file__).resolve().parent.parent
FAST_FLOOR = 0.12            # fast-rcnn quick: measured ... (seeds 0, 1)
RCNN_FLOOR = 0.12            # rcnn quick: measured ...
KEYS = ("map50", "map", "test_ms_per_image", "seconds", "train_seconds", "n_train", "n_test", "parameters")


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_faster_rcnn_quick_learns(tmp_path):
    m = run_task("faster-rcnn", quick=True, progress=False, out=tmp_path)
    for k in KEYS + ("rpn_recall", "test_ms_per_image_without_proposals", "test_ms_breakdown"):
        assert k in m, k
    assert m["map50"] >= 0.12, m["map50"]                        # measured 0.22-0.23 (seeds 0, 1); chance 0.01
    assert m["rpn_recall"]["100"]["recall"] >= 0.85              # measured 0.95
    assert m["test_ms_per_image_without_proposals"] < m["test_ms_per_image"]
    for name in ("detector.json", "weights.npz", "predictions.png", "proposals.png", "anchors.png", "curves.png",
                 "metrics.json"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "detector.json").read_text())["kind"] == "faster-rcnn"


def test_fast_rcnn_quick_learns(tmp_path):
    m = run_task("fast-rcnn", quick=True, progress=False, out=tmp_path, proposal_cache=str(tmp_path / "cache"))
    for k in KEYS + ("test_ms_per_image_with_proposals", "ss_recall", "proposal_seconds_per_image"):
        assert k in m, k
    assert m["map50"] >= FAST_FLOOR, m["map50"]
    assert m["ss_recall"]["300"]["recall"] >= 0.9
    assert m["test_ms_per_image_with_proposals"] > m["test_ms_per_image"]
    assert len(list((tmp_path / "cache").iterdir())) == 2         # the training and the test scenes' proposals
    again = run_task("fast-rcnn", quick=True, progress=False, proposal_cache=str(tmp_path / "cache"))
    assert again["map50"] == m["map50"]                           # cached proposals: the same run


def test_rcnn_quick_learns(tmp_path):
    m = run_task("rcnn", quick=True, progress=False, out=tmp_path)
    for k in KEYS + ("svm_rounds", "stage_seconds", "test_ms_per_image_with_proposals"):
        assert k in m, k
    assert m["map50"] >= RCNN_FLOOR, m["map50"]
    assert json.loads((tmp_path / "detector.json").read_text())["kind"] == "rcnn"


def test_detect_command_with_region_detectors(tmp_path):
    """'npvision train faster-rcnn --quick' writes a folder that 'npvision detect' reads, like YOLO's."""
    from matplotlib.image import imsave

    from npvision.data import make_scenes

    proc = _run(["-m", "npvision", "train", "faster-rcnn", "--quick", "--json", "--out", "frcnn"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["task"] == "faster-rcnn" and {"map50", "map", "test_ms_per_image", "seconds"} <= set(result)
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


def test_benchmark_script_quick(tmp_path):
    proc = _run([str(ROOT / "benchmarks" / "bench_region_detectors.py"), "--quick", "--out", str(tmp_path),
                 "--json", str(tmp_path / "all.json")], ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| R-CNN |" in proc.stdout and "| Faster R-CNN |" in proc.stdout and "| RPN |" in proc.stdout
    data = json.loads((tmp_path / "all.json").read_text())
    assert set(data["results"]) == {"rcnn", "fast-rcnn", "faster-rcnn"}
