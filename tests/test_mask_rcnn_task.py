"""The mask-rcnn task (quick mode, with a floor) and ``npvision segment --model DIR``."""

import json
import os

import numpy as np
import pytest

from npvision import cli


# Quick mode (320 scenes, 3 epochs, about 20 s) measured mask AP@0.5 0.183 and box AP@0.5 0.224 on
# its 48 test scenes (seed 0; the task is deterministic). A model that finds nothing, or boxes at
# random, scores about 0 (0.003 after 24 untrained steps); the floor leaves a margin of 3.5x.
QUICK_FLOOR = 0.05


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from npvision.tasks import run_task

    out = tmp_path_factory.mktemp("mask-rcnn")
    return run_task("mask-rcnn", quick=True, progress=False, out=str(out)), out


def test_quick_task_beats_its_floor(quick_run):
    m, out = quick_run
    for key in ("mask_map50", "mask_map", "box_map50", "seconds", "box_as_mask_map50", "mask_iou_matched"):
        assert key in m
    assert m["metric"] == "mask_map50" and m["quick"] and m["n_test"] == 48 and m["n_train"] == 320
    assert m["mask_map50"] > QUICK_FLOOR and m["box_map50"] > QUICK_FLOOR
    # even this short run's masks beat its own boxes filled in as masks (measured 0.183 vs 0.116)
    assert m["mask_map50"] > m["box_as_mask_map50"]
    assert json.loads((out / "metrics.json").read_text())["mask_map50"] == m["mask_map50"]
    for name in ("weights.npz", "mask_rcnn.json", "predictions.png", "curves.png"):
        assert (out / name).exists()


def test_segment_command_draws_instances_and_keeps_the_unet_path(quick_run, tmp_path, capsys):
    import matplotlib.image as mpimg

    from npvision.data import make_scenes

    _, out = quick_run
    image = make_scenes(1, size=(80, 96), min_objects=2, max_objects=3, seed=9).images[0]
    path = tmp_path / "scene.png"
    mpimg.imsave(path, image)
    assert cli.main(["segment", str(path), "--model", str(out), "--out", str(tmp_path / "inst.png"),
                     "--score-threshold", "0.0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == "mask_rcnn" and result["shape"] == [80, 96]
    assert result["picture"] == str(tmp_path / "inst.png") and result["masks"] == str(tmp_path / "inst.npz")
    saved = np.load(tmp_path / "inst.npz")
    assert saved["masks"].shape == (len(result["instances"]), 80, 96)       # at the image's resolution
    assert (tmp_path / "inst.png").exists()
    assert all(r["class"] in ("circle", "square", "triangle", "cross") for r in result["instances"])
    # a folder that is neither a Mask R-CNN nor holds U-Net weights: a clear error, exit code 1
    assert cli.main(["segment", str(path), "--model", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 1
    assert "holds neither mask_rcnn.json" in capsys.readouterr().err

    # the U-Net path through --model DIR
    from npvision.tasks import get_task
    from npvision.tasks.segment import build_segmenter, save_segmenter

    config = dict(get_task("unet").defaults, base_filters=2)
    unet_dir = tmp_path / "unet"
    os.makedirs(unet_dir)
    save_segmenter(build_segmenter(config, rng=0), config, unet_dir / "weights.npz")
    assert cli.main(["segment", str(path), "--model", str(unet_dir), "--out", str(tmp_path / "sem.png")]) == 0
    assert np.load(tmp_path / "sem.npy").shape == (80, 96)


def test_picture_threshold_draws_the_best_boxes_when_none_is_confident():
    from npvision.tasks.mask_rcnn import picture_threshold

    confident = [{"scores": np.array([0.9, 0.2])}, {"scores": np.array([0.4])}]
    assert picture_threshold(confident, 3, 0.5) == (0.5, "")
    timid = [{"scores": np.array([0.3, 0.05])}, {"scores": np.array([0.2, 0.1])}, {"scores": np.zeros(0)}]
    threshold, note = picture_threshold(timid, 3, 0.5)
    assert threshold == 0.1 and "none reached 0.5" in note          # the 3 best: 0.3, 0.2, 0.1
    assert picture_threshold(timid, 10, 0.5)[0] == 0.05               # fewer detections than objects
    assert picture_threshold([{"scores": np.zeros(0)}], 2, 0.5) == (0.5, "")
