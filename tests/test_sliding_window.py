"""Sliding windows: the naive and the convolutional detector agree window by window.

The classifier is the course's network (conv 5x5 -> ReLU -> max-pool 2x2 -> FC -> ReLU
-> FC) with random weights: equality of the two implementations is a property of the
arithmetic, not of training. Scores are softmax probabilities; with float64 they agree
to 1e-6 (in practice to ~1e-15), with float32 to ~1e-5.
"""

from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from npvision import nn
from npvision.detection import (batched_nms, detect_multiscale, fc_to_conv, sliding_window_conv,
                                sliding_window_naive, window_classifier, window_detections,
                                window_grid)

ROOT = Path(__file__).resolve().parent.parent


def _random_image(shape, dtype, seed=0):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def _classifier(dtype, seed=1, **kw):
    clf = window_classifier(4, 16, rng=seed, dtype=dtype, **kw)
    # non-zero biases, so that a forgotten bias in the conversion shows
    rng = np.random.default_rng(seed + 100)
    for p in clf.parameters():
        if p.data.ndim == 1:
            p.data[...] = rng.normal(0, 0.1, p.shape).astype(dtype)
    return clf


# ---------------------------------------------------------------------------
# equality of the two detectors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64, 64, 3), (37, 52, 3)], ids=["64x64", "37x52"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-6), (np.float32, 1e-5)], ids=["f64", "f32"])
def test_naive_and_convolutional_scores_agree(shape, dtype, tol):
    clf = _classifier(dtype)
    image = _random_image(shape, dtype)
    naive, naive_boxes = sliding_window_naive(clf, image, window=16, stride=2, batch_size=64)
    conv, conv_boxes = sliding_window_conv(fc_to_conv(clf, 16), image)
    rows, cols = (shape[0] - 16) // 2 + 1, (shape[1] - 16) // 2 + 1
    assert naive.shape == conv.shape == (rows, cols, 5)
    assert naive.dtype == conv.dtype == dtype
    np.testing.assert_allclose(conv, naive, rtol=0, atol=tol)
    np.testing.assert_array_equal(conv_boxes, naive_boxes)
    np.testing.assert_allclose(naive.sum(-1), 1.0, atol=tol)        # probabilities
    assert naive.std() > 1e-3                                       # not a constant map


def test_per_window_and_batched_naive_agree_and_crop_where_the_boxes_say():
    clf = _classifier(np.float64, hidden=(12, 10))                  # two hidden FC layers
    image = _random_image((22, 26, 3), np.float64, seed=3)
    one, boxes = sliding_window_naive(clf, image, stride=3)          # one forward per window
    many, _ = sliding_window_naive(clf, image, stride=3, batch_size=7)
    np.testing.assert_allclose(one, many, atol=1e-12)
    assert one.shape == (3, 4, 5)
    # window (r, c) is the classifier applied to the crop under its box
    x0, y0, x1, y1 = boxes[2, 1].astype(int)
    assert (x0, y0, x1, y1) == (3, 6, 19, 22)
    logits = clf.forward(image[None, y0:y1, x0:x1])[0]
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(one[2, 1], p / p.sum(), atol=1e-12)


def test_fc_to_conv_keeps_the_output_on_one_window_exactly():
    for dtype in (np.float64, np.float32):
        clf = _classifier(dtype, hidden=(20, 8))
        x = _random_image((3, 16, 16, 3), dtype, seed=5)
        conv = fc_to_conv(clf, 16)
        clf.eval(), conv.eval()
        y_fc = clf.forward(x)                                       # (3, 5)
        y_conv = conv.forward(x)                                    # (3, 1, 1, 5)
        assert y_conv.shape == (3, 1, 1, 5)
        np.testing.assert_allclose(y_conv[:, 0, 0], y_fc, rtol=1e-12 if dtype == np.float64 else 1e-5,
                                   atol=1e-12 if dtype == np.float64 else 1e-5)


def test_fc_to_conv_structure_weights_and_independence():
    clf = _classifier(np.float64)
    conv = fc_to_conv(clf)
    names = [n for n, _ in conv.named_children()]
    assert names == ["conv", "relu", "pool", "fc1", "relu1", "fc2"]     # Flatten is gone
    assert isinstance(conv.fc1, nn.Conv2D) and conv.fc1.weight.shape == (6, 6, 16, 64)
    assert isinstance(conv.fc2, nn.Conv2D) and conv.fc2.weight.shape == (1, 1, 64, 5)
    # channels-last flatten order: Linear row (h * 6 + w) * 16 + c is kernel entry (h, w, c)
    h, w, c, o = 4, 1, 9, 30
    assert conv.fc1.weight.data[h, w, c, o] == clf.fc1.weight.data[(h * 6 + w) * 16 + c, o]
    np.testing.assert_array_equal(conv.fc2.bias.data, clf.fc2.bias.data)
    assert conv.window == (16, 16) and conv.stride == (2, 2)
    # the converted model is independent: changing it leaves the classifier alone
    before = clf.fc1.weight.data.copy()
    conv.fc1.weight.data[...] = 0
    conv.conv.weight.data[...] = 0
    np.testing.assert_array_equal(clf.fc1.weight.data, before)
    assert np.any(clf.conv.weight.data != 0)


def test_a_classifier_ending_in_softmax_is_not_softmaxed_twice():
    base = _classifier(np.float64)
    with_softmax = nn.Sequential(OrderedDict(list(base.named_children()) + [("softmax", nn.Softmax())]))
    image = _random_image((30, 34, 3), np.float64)
    a, _ = sliding_window_naive(base, image, batch_size=100)
    b, _ = sliding_window_naive(with_softmax, image, batch_size=100)
    c, _ = sliding_window_conv(fc_to_conv(with_softmax), image)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a, c, atol=1e-12)


def test_window_grid_counts_and_boxes():
    boxes = window_grid((20, 23), window=(6, 8), stride=(3, 5))
    assert boxes.shape == ((20 - 6) // 3 + 1, (23 - 8) // 5 + 1, 4) == (5, 4, 4)
    np.testing.assert_array_equal(boxes[1, 2], [10, 3, 18, 9])
    assert window_grid((16, 16)).shape == (1, 1, 4)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
def test_image_smaller_than_the_window_is_refused():
    clf = _classifier(np.float64)
    small = _random_image((15, 40, 3), np.float64)
    with pytest.raises(ValueError, match="smaller than the 16x16 window"):
        sliding_window_naive(clf, small)
    with pytest.raises(ValueError, match="smaller than the 16x16 window"):
        sliding_window_conv(fc_to_conv(clf), small)


def test_bad_stride_and_window_are_refused():
    clf = _classifier(np.float64)
    image = _random_image((32, 32, 3), np.float64)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="stride"):
            sliding_window_naive(clf, image, stride=bad)
    with pytest.raises(TypeError, match="stride"):
        sliding_window_naive(clf, image, stride=1.5)
    with pytest.raises(ValueError, match="stride: the convolutional implementation slides at"):
        sliding_window_conv(fc_to_conv(clf), image, stride=4)
    with pytest.raises(ValueError, match="window"):
        fc_to_conv(clf, window=20)                                  # the FC expects a 6x6x16 map
    with pytest.raises(ValueError, match="image"):
        sliding_window_naive(clf, image[..., 0])                    # (H, W) instead of (H, W, C)
    with pytest.raises(TypeError, match="image"):
        sliding_window_naive(clf, (image * 255).astype(np.uint8))


def test_layers_that_cannot_be_converted_are_named():
    padded = nn.Sequential(nn.Conv2D(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 16 * 4, 5))
    with pytest.raises(ValueError, match="padding"):
        fc_to_conv(padded)
    gap = nn.Sequential(nn.Conv2D(3, 4, 3), nn.GlobalAvgPool2D(), nn.Linear(4, 5))
    with pytest.raises(ValueError, match="exactly one Flatten"):
        fc_to_conv(gap)
    odd = nn.Sequential(nn.Conv2D(3, 4, 5), nn.GlobalAvgPool2D(), nn.Flatten(), nn.Linear(4, 5))
    with pytest.raises(TypeError, match="GlobalAvgPool2D"):
        fc_to_conv(odd)
    no_fc = nn.Sequential(nn.Conv2D(3, 4, 5), nn.Flatten())
    with pytest.raises(ValueError, match="no Linear"):
        fc_to_conv(no_fc)
    with pytest.raises(TypeError, match="Sequential"):
        fc_to_conv(nn.Linear(3, 4))
    bn_on_flat = nn.Sequential(nn.Conv2D(3, 4, 5), nn.Flatten(), nn.BatchNorm2D(12 * 12 * 4),
                               nn.Linear(12 * 12 * 4, 5))
    with pytest.raises(TypeError, match="BatchNorm2D"):
        fc_to_conv(bn_on_flat)
    with pytest.raises(TypeError, match="conv_model"):
        sliding_window_conv(nn.Linear(3, 4), np.zeros((16, 16, 3)))


def test_batchnorm_dropout_and_a_stride_2_conv_convert():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2D(6, dtype=np.float64)
    bn.running_mean[...] = rng.normal(size=6)
    bn.running_var[...] = rng.uniform(0.5, 2, size=6)
    clf = nn.Sequential(nn.Conv2D(3, 6, 3, stride=2, dtype=np.float64, rng=1), bn, nn.ReLU(),
                        nn.MaxPool2D(2), nn.Flatten(), nn.Dropout(0.5, rng=2),
                        nn.Linear(3 * 3 * 6, 7, dtype=np.float64, rng=3), nn.Tanh(),
                        nn.Linear(7, 3, dtype=np.float64, rng=4))
    conv = fc_to_conv(clf, window=15)                               # 15 -> 7 -> 3
    # the pool drops the 15-pixel window's last 2 columns, so the network would also answer
    # for a window sticking out of the 33-pixel-wide image: sliding_window_conv must drop it
    assert conv.stride == (4, 4)
    image = _random_image((40, 33, 3), np.float64)
    a, ba = sliding_window_naive(clf, image, window=15, stride=4, batch_size=50)
    b, bb = sliding_window_conv(conv, image)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_array_equal(ba, bb)
    assert clf.training                                             # mode restored


# ---------------------------------------------------------------------------
# detections
# ---------------------------------------------------------------------------
def _score_map():
    """A 13x13 map, 3 object classes + background, with two strong windows of class 1 and 2."""
    scores = np.zeros((13, 13, 4))
    scores[..., 3] = 1.0                                            # background everywhere
    scores[1, 1] = [0.0, 0.9, 0.05, 0.05]
    scores[1, 2] = [0.0, 0.7, 0.2, 0.1]                             # overlaps (1, 1): suppressed
    scores[10, 10] = [0.1, 0.1, 0.8, 0.0]                          # far away: its own object
    return scores, window_grid((40, 40), 16, 2)


def test_window_detections_threshold_and_per_class_nms():
    scores, boxes = _score_map()
    det = window_detections(scores, boxes, score_threshold=0.5, iou_threshold=0.3)
    np.testing.assert_array_equal(det["classes"], [1, 2])
    np.testing.assert_allclose(det["scores"], [0.9, 0.8])
    np.testing.assert_array_equal(det["boxes"], [boxes[1, 1], boxes[10, 10]])
    # the same as thresholding by hand and calling batched_nms
    flat, b = scores.reshape(-1, 4), boxes.reshape(-1, 4)
    cls, p = flat[:, :3].argmax(1), flat[:, :3].max(1)
    keep = np.flatnonzero(p >= 0.5)
    ref = keep[batched_nms(b[keep], p[keep], cls[keep], 0.3)]
    np.testing.assert_array_equal(det["boxes"], b[ref])
    # background first: object classes are renumbered 0..K-1
    moved = np.roll(scores, 1, axis=-1)
    det0 = window_detections(moved, boxes, 0.5, 0.3, background=0)
    np.testing.assert_array_equal(det0["classes"], [1, 2])
    # class-agnostic NMS: a window of another class over the same object is suppressed too
    scores2 = scores.copy()
    scores2[1, 2] = [0.0, 0.2, 0.7, 0.1]                            # now class 2, overlapping (1, 1)
    per_class = window_detections(scores2, boxes, 0.5, 0.3)
    agnostic = window_detections(scores2, boxes, 0.5, 0.3, class_agnostic=True)
    assert len(per_class["boxes"]) == 3 and len(agnostic["boxes"]) == 2
    np.testing.assert_array_equal(agnostic["boxes"], [boxes[1, 1], boxes[10, 10]])
    # nothing above the threshold: empty, well-typed
    none = window_detections(scores, boxes, score_threshold=0.95)
    assert none["boxes"].shape == (0, 4) and none["classes"].dtype == np.int64


def test_window_detections_box_fractions_and_errors():
    scores, boxes = _score_map()
    det = window_detections(scores, boxes, 0.5, 0.3, box_fractions=[[1, 1], [0.5, 0.25], [1, 1]])
    x0, y0 = boxes[1, 1, :2]
    np.testing.assert_allclose(det["boxes"][0], [x0 + 4, y0 + 6, x0 + 12, y0 + 10])
    with pytest.raises(ValueError, match="box_fractions"):
        window_detections(scores, boxes, box_fractions=[[1, 1]])
    with pytest.raises(ValueError, match="boxes"):
        window_detections(scores, boxes[:2])
    with pytest.raises(ValueError, match="score_threshold"):
        window_detections(scores, boxes, score_threshold=1.5)
    with pytest.raises(ValueError, match="background"):
        window_detections(scores, boxes, background=4)


def test_detect_multiscale_maps_boxes_back_to_the_image():
    clf = _classifier(np.float64)
    conv = fc_to_conv(clf)
    image = _random_image((40, 48, 3), np.float64)
    # at scale 1 it is exactly the single-scale detector
    single = window_detections(*sliding_window_conv(conv, image), 0.0, 0.5)
    multi = detect_multiscale(conv, image, scales=(1.0,), score_threshold=0.0, iou_threshold=0.5)
    np.testing.assert_allclose(multi["boxes"], single["boxes"])
    # at scale 0.5 the image is 20x24: 3x5 windows of 32x32 original pixels
    half = detect_multiscale(conv, image, scales=(0.5,), score_threshold=0.0, iou_threshold=1.0)
    assert len(half["boxes"]) == 3 * 5
    np.testing.assert_allclose(half["boxes"][:, 2:] - half["boxes"][:, :2], 32.0)
    assert half["boxes"].min() >= 0 and half["boxes"][:, 2].max() <= 48 and half["boxes"][:, 3].max() <= 40
    with pytest.raises(ValueError, match="scales"):
        detect_multiscale(conv, image, scales=(0.0,))
    with pytest.raises(ValueError, match="smaller than the window"):
        detect_multiscale(conv, image, scales=(0.1,))


# ---------------------------------------------------------------------------
# the task and the benchmark, in quick mode
# ---------------------------------------------------------------------------
def test_task_quick_mode_returns_its_keys(tmp_path):
    from npvision.tasks import run_task

    m = run_task("sliding-windows", quick=True, progress=False, out=tmp_path)
    for key in ("accuracy", "map50", "map50_window_boxes", "speedup", "naive_ms", "conv_ms",
                "max_abs_score_difference", "epochs", "n_train", "n_test", "parameters"):
        assert key in m, key
    assert 0 <= m["accuracy"] <= 1 and 0 <= m["map50"] <= 1
    assert m["max_abs_score_difference"] < 1e-5
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "detections_0.png").exists()
    assert (tmp_path / "score_map.png").exists() and (tmp_path / "weights.npz").exists()


def test_benchmark_quick_mode_runs():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_sliding_window.py"), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "speed-up" in proc.stdout and "max |naive - conv|" in proc.stdout
