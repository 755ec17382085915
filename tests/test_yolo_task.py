"""The YOLO network, the `yolo` task in quick mode, and the Detector (save/load, any image size)."""

import os

import numpy as np
import pytest

from npvision import models
from npvision.detection import Detector, load_detector
from npvision.detection.yolo import encode_yolo_targets
from npvision.gradcheck import check_module
from npvision.models.yolo import TinyYOLO
from npvision.nn.module import Module
from npvision.tasks import run_task
from npvision.tasks.yolo import random_flips


# ----------------------------------------------------------------------------- the network
@pytest.mark.parametrize("shape, anchors, classes, grid", [((64, 64, 3), 3, 4, (8, 8)),
                                                           ((32, 48, 3), 2, 3, (4, 6))])
def test_output_shape(shape, anchors, classes, grid):
    net = models.create("tiny_yolo", num_classes=classes, input_shape=shape, num_anchors=anchors,
                        widths=(4, 8, 8), neck=(8, 1), rng=0)
    x = np.random.default_rng(0).random((2,) + shape, dtype=np.float32)
    out = net.forward(x)
    assert out.shape == (2,) + grid + (anchors * (5 + classes),)
    assert out.dtype == np.float32
    assert net.grid_size(*shape[:2]) == grid
    assert net.backward(np.ones_like(out)) is None            # the stem skips d image


def test_objectness_bias_starts_low():
    net = TinyYOLO(2, num_anchors=2, input_shape=(16, 16, 3), widths=(4, 4), neck=(4, 0),
                   objectness_bias=-4.0, rng=0)
    assert np.all(net.head.bias.data[4::7] == -4.0)
    assert np.all(net.head.bias.data[np.r_[0:4, 5:11, 12:14]] == 0.0)


def test_bad_input_shape_is_named():
    with pytest.raises(ValueError, match="input_shape"):
        TinyYOLO(4, input_shape=(60, 64, 3))
    net = TinyYOLO(4, input_shape=(16, 16, 3), widths=(4, 4), neck=(4, 0))
    with pytest.raises(ValueError, match="multiples of 4"):
        net.forward(np.zeros((1, 18, 16, 3), np.float32))


def test_gradient_check_float64():
    net = TinyYOLO(2, num_anchors=1, input_shape=(8, 8, 2), widths=(2, 3), stage_depth=2, neck=(3, 1),
                   input_grad=True, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 2))
    report = check_module(net, x)
    assert report.errors                                       # every parameter and the input checked
    assert "input" in report.errors and len(report.errors) == 1 + len(net.parameters())


# ----------------------------------------------------------------------------- the task
def test_random_flips_move_the_boxes_with_the_image():
    rng = np.random.default_rng(0)
    images = rng.random((12, 6, 10, 3), dtype=np.float32)
    boxes = [np.array([[1.0, 2.0, 4.0, 5.0]]) + i * 0.1 for i in range(12)]
    out, moved = random_flips(images, boxes, np.random.default_rng(1))
    seen = set()
    for x, b, xf, bf in zip(images, boxes, out, moved):
        x0, y0, x1, y1 = b[0]
        for do_h in (False, True):
            for do_v in (False, True):
                expect = x[::-1 if do_v else 1, ::-1 if do_h else 1]
                if np.array_equal(xf, expect):
                    seen.add((do_h, do_v))
                    box = [10 - x1 if do_h else x0, 6 - y1 if do_v else y0,
                           10 - x0 if do_h else x1, 6 - y0 if do_v else y1]
                    np.testing.assert_allclose(bf[0], box, rtol=0, atol=1e-6)
                    break
            else:
                continue
            break
        else:
            raise AssertionError("an image came out as none of its four flips")
    assert len(seen) >= 3                                      # the flips really vary


def test_quick_task_keys_and_out_folder(tmp_path):
    m = run_task("yolo", quick=True, progress=False, out=tmp_path)
    for key in ("map", "map50", "per_class_ap", "per_class_ap50", "anchors", "anchor_mean_iou",
                "epochs", "n_train", "n_test", "parameters", "seconds"):
        assert key in m, key
    assert m["metric"] == "map" and 0.0 <= m["map"] <= m["map50"] <= 1.0
    assert len(m["anchors"]) == 3 and m["epochs"] == 1
    for name in ("weights.npz", "detector.json", "metrics.json", "predictions.png", "pr_curves.png",
                 "curves.png", "grid.png"):
        assert (tmp_path / name).is_file(), name
    det = load_detector(tmp_path)
    assert det.class_names == ("circle", "square", "triangle", "cross")


# ----------------------------------------------------------------------------- the detector
class _FixedOutput(Module):
    """A stand-in network: always the same raw output (one confident box), whatever the input."""

    def __init__(self, output):
        super().__init__()
        self.output = output
        self.seen = None

    def forward(self, x):
        self.seen = x.shape
        return np.repeat(self.output, len(x), axis=0)


def _one_box_output(anchors):
    """A 4x4 grid, 1 class: the anchor of cell (1, 2) holds the box centred at (0.625, 0.375)."""
    boxes = [np.array([[20.0, 8.0, 60.0, 40.0]])]              # in a 64x64 image: w 0.625, h 0.5
    t = encode_yolo_targets(boxes, [np.array([0])], (64, 64), 4, anchors, 1)   # (1, 4, 4, 1, 6)
    out = np.full(t.shape, -12.0)
    s = np.clip(t[..., :2], 1e-6, 1 - 1e-6)
    out[..., :2] = np.log(s / (1 - s))                         # sigmoid^-1 of the offsets
    out[..., 2:4] = t[..., 2:4]
    out[..., 4] = np.where(t[..., 4] > 0, 12.0, -12.0)
    out[..., 5] = 0.0
    return out.reshape(1, 4, 4, 6)


def test_detect_returns_boxes_in_the_input_images_pixels():
    anchors = np.array([[0.5, 0.5]])
    det = Detector(_FixedOutput(_one_box_output(anchors)), anchors, 1, ["thing"], (64, 64),
                   score_threshold=0.5)
    found = det.detect(np.zeros((64, 64, 3), np.float32))
    np.testing.assert_allclose(found["boxes"], [[20, 8, 60, 40]], atol=1e-3)
    big = det.detect(np.zeros((96, 128, 3), np.float32))       # H 96, W 128: x * 2, y * 1.5
    assert det.model.seen == (1, 64, 64, 3)                    # resized to the input size
    np.testing.assert_allclose(big["boxes"], [[40, 12, 120, 60]], atol=1e-3)
    assert big["classes"].dtype == np.int64 and big["scores"][0] > 0.99


def test_detect_rejects_bad_images():
    anchors = np.array([[0.5, 0.5]])
    det = Detector(_FixedOutput(_one_box_output(anchors)), anchors, 1, input_size=64)
    with pytest.raises(ValueError, match="image"):
        det.detect(np.zeros((64, 64), np.float32))
    with pytest.raises(ValueError, match="input_size"):
        det.detect_batch(np.zeros((1, 32, 32, 3), np.float32))


def test_save_load_round_trip_gives_identical_detections(tmp_path):
    net = models.create("tiny_yolo", num_classes=2, input_shape=(32, 32, 3), num_anchors=2,
                        widths=(4, 8, 8), neck=(8, 1), objectness_bias=0.0, rng=3)
    x = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    net.train()
    net.forward(x)                                             # move the BatchNorm running stats
    anchors = np.array([[0.2, 0.3], [0.5, 0.4]])
    det = Detector(net, anchors, 2, ["a", "b"], (32, 32), score_threshold=0.05, iou_threshold=0.4)
    folder = det.save(tmp_path / "det")
    assert sorted(os.listdir(folder)) == ["detector.json", "weights.npz"]
    loaded = load_detector(folder)
    assert loaded.class_names == ("a", "b") and loaded.input_size == (32, 32)
    assert loaded.score_threshold == 0.05 and loaded.iou_threshold == 0.4
    np.testing.assert_array_equal(loaded.anchors, anchors)
    image = np.random.default_rng(1).random((40, 24, 3), dtype=np.float32)
    a, b = det.detect(image), loaded.detect(image)
    assert len(a["boxes"]) > 0
    for key in ("boxes", "scores", "classes"):
        np.testing.assert_array_equal(a[key], b[key])


def test_load_detector_errors_name_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_detector(missing)
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "detector.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"half.*weights\.npz"):
        load_detector(folder)
    (folder / "weights.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"detector\.json"):
        load_detector(folder)
