"""Classification with localization: the course's target vector, its loss, the network, the task,
and the empty scenes (``make_scenes(min_objects=0)``) that give the ``p_c = 0`` case."""

from __future__ import annotations

import numpy as np
import pytest

from npvision.data import make_scenes
from npvision.detection import (LocalizationNet, SoftArgmax2D, box_iou, decode_localization,
                                encode_localization_targets, localization_logit_loss,
                                localization_loss, localization_metrics, localization_probabilities,
                                standardize_images)
from npvision.gradcheck import check_loss, check_module
from npvision.tasks import run_task


# ----------------------------------------------------------------------------- empty scenes

def test_make_scenes_min_objects_zero_gives_empty_scenes():
    s = make_scenes(40, size=24, min_objects=0, max_objects=2, seed=3)
    empty = np.array([len(b) == 0 for b in s.boxes])
    assert 0 < empty.sum() < len(s)                        # both kinds occur
    assert np.all(s.labels[empty] == -1) and np.all(s.main_index[empty] == -1)
    assert np.all(s.main_boxes[empty] == 0) and np.all(s.landmarks[empty] == 0)
    assert np.all(s.masks[empty] == 0) and np.all(s.instances[empty] == 0)
    for i in np.flatnonzero(empty):
        assert s.boxes[i].shape == (0, 4) and s.boxes[i].dtype == np.float32
        assert s.classes[i].shape == (0,) and s.classes[i].dtype == np.int64
        assert s.object_landmarks[i].shape == (0, 5, 2)
    full = ~empty                                          # non-empty scenes are as before
    assert np.all(s.labels[full] >= 0)
    for i in np.flatnonzero(full):
        assert s.labels[i] == s.classes[i][s.main_index[i]]
        np.testing.assert_array_equal(s.main_boxes[i], s.boxes[i][s.main_index[i]])
    assert s.labels.dtype == np.int64 and s.main_boxes.dtype == np.float32


def test_make_scenes_min_objects_checks():
    with pytest.raises(ValueError, match="min_objects"):
        make_scenes(2, min_objects=-1)
    with pytest.raises(ValueError, match="max_objects"):
        make_scenes(2, min_objects=0, max_objects=0)


# ----------------------------------------------------------------------------- encoding

def test_encoding_by_hand():
    # a 40 (H) x 80 (W) image, one box 20 wide and 10 high centred at (30, 15), class 2 of 3
    y = encode_localization_targets([[20, 10, 40, 20], [5, 5, 9, 9]], [2, -1], (40, 80), 3)
    np.testing.assert_allclose(y[0], [1, 30 / 80, 15 / 40, 10 / 40, 20 / 80, 0, 0, 1])
    np.testing.assert_array_equal(y[1], np.zeros(8))       # no object: p_c = 0, the rest zeros
    assert y.dtype == np.float32 and y.shape == (2, 8)


def test_round_trip_on_scenes():
    s = make_scenes(30, size=(32, 40), min_objects=0, max_objects=1, seed=1)
    y = encode_localization_targets(s.main_boxes, s.labels, (32, 40), 4, dtype=np.float64)
    p_c, boxes, labels = decode_localization(y, (32, 40))
    np.testing.assert_array_equal(p_c, s.labels >= 0)
    np.testing.assert_array_equal(labels, s.labels)
    np.testing.assert_allclose(boxes, s.main_boxes, atol=1e-5)   # empty scenes: zero box both ways
    assert (s.labels < 0).any() and (s.labels >= 0).any()


def test_decode_threshold_and_negative_sizes():
    y = np.array([[0.4, 0.5, 0.5, -0.2, 0.5, 0.1, 0.9], [0.6, 0.5, 0.5, 0.5, 0.5, 0.9, 0.1]])
    p_c, boxes, labels = decode_localization(y, 10)
    np.testing.assert_array_equal(labels, [-1, 0])
    np.testing.assert_allclose(boxes[0], [2.5, 5, 7.5, 5])      # height -0.2 counts as 0
    assert decode_localization(y, 10, threshold=0.3)[2][0] == 1


@pytest.mark.parametrize("boxes, labels, match", [
    (np.zeros((2, 3)), [0, 1], "boxes"),                       # wrong shape
    ([[0, 0, 1, 1]], [4], "labels"),                           # label out of range for K = 4
    ([[0, 0, 1, 1]], [-2], "labels"),
    ([[0, 0, 1, 1]], [0.5], "labels"),                         # not an integer
    ([[0, 0, 1, 1]], [0, 1], "labels"),                        # one label per box
    ([[2, 0, 1, 1]], [0], "boxes"),                            # x2 < x1
])
def test_encoding_rejects_bad_inputs(boxes, labels, match):
    with pytest.raises((ValueError, TypeError), match=match):
        encode_localization_targets(boxes, labels, 8, 4)


# ----------------------------------------------------------------------------- the course's loss

def test_course_loss_by_hand():
    # K = 1 class; sample 1 has an object, sample 2 has none (only p_c counts there)
    y_true = np.array([[1.0, 0.5, 0.5, 0.2, 0.3, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    y_pred = np.array([[0.8, 0.4, 0.6, 0.2, 0.1, 0.5], [0.3, 9.0, -9.0, 9.0, 9.0, 9.0]])
    l1 = 0.2 ** 2 + 0.1 ** 2 + 0.1 ** 2 + 0 + 0.2 ** 2 + 0.5 ** 2
    l2 = 0.3 ** 2
    loss, grad = localization_loss(y_pred, y_true)
    assert loss == pytest.approx((l1 + l2) / 2)
    np.testing.assert_allclose(grad[0], (y_pred[0] - y_true[0]))          # 2 d / N with N = 2
    np.testing.assert_allclose(grad[1], [0.3, 0, 0, 0, 0, 0])


def test_logit_loss_by_hand():
    y_true = np.array([[1.0, 0.5, 0.5, 0.2, 0.3, 0.0, 1.0], [0.0] * 7])
    y_pred = np.array([[0.0, 0.4, 0.5, 0.2, 0.3, 1.0, 2.0], [0.0, 5, 5, 5, 5, 5, 5]])
    ce = -np.log(np.exp(2.0) / (np.exp(1.0) + np.exp(2.0)))
    expected = (np.log(2) + ce + 5.0 * 0.1 ** 2 + np.log(2)) / 2   # BCE(0, p) = log 2 for both
    loss, grad = localization_logit_loss(y_pred, y_true, box_weight=5.0)
    assert loss == pytest.approx(expected)
    np.testing.assert_allclose(grad[1], [0.25, 0, 0, 0, 0, 0, 0])         # (sigma(0) - 0) / 2
    np.testing.assert_allclose(grad[0, 1:5], [2 * 5 * -0.1 / 2, 0, 0, 0], atol=1e-12)


@pytest.mark.parametrize("loss_fn", [localization_loss, localization_logit_loss])
def test_losses_gradcheck(loss_fn):
    rng = np.random.default_rng(0)
    y_true = encode_localization_targets([[1, 2, 5, 7], [0, 0, 0, 0], [3, 1, 8, 4]], [2, -1, 0], 10, 3,
                                         dtype=np.float64)
    check_loss(loss_fn, rng.standard_normal(y_true.shape), y_true)


def test_losses_keep_dtype_and_reject_bad_targets():
    y = encode_localization_targets([[1, 2, 5, 7]], [1], 10, 2)
    _, grad = localization_loss(np.zeros_like(y), y)
    assert grad.dtype == np.float32
    bad = y.copy()
    bad[0, 0] = 0.5
    for fn in (localization_loss, localization_logit_loss):
        with pytest.raises(ValueError, match="p_c must be 0 or 1"):
            fn(np.zeros_like(y), bad)
        with pytest.raises(ValueError, match="y_true"):
            fn(np.zeros((1, 8), np.float32), y)                            # shapes differ
        with pytest.raises(ValueError, match="5 \\+ K"):
            fn(np.zeros((1, 5)), np.zeros((1, 5)))
    two_hot = y.copy()
    two_hot[0, 5:] = 1
    with pytest.raises(ValueError, match="one-hot"):
        localization_loss(np.zeros_like(y), two_hot)


def test_probabilities_and_metrics():
    z = np.array([[0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 3.0], [-4.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0]])
    y = localization_probabilities(z)
    assert y[0, 0] == pytest.approx(0.5) and y[1, 0] == pytest.approx(1 / (1 + np.exp(4)))
    np.testing.assert_allclose(y[:, 5:].sum(axis=1), 1.0)
    # true box (2.5, 2.5, 7.5, 7.5) on a 10x10 image: the prediction is exact
    scores = localization_metrics(y, [[2.5, 2.5, 7.5, 7.5], [0, 0, 0, 0]], [1, -1], 10)
    assert scores["mean_iou"] == pytest.approx(1.0) and scores["accuracy"] == 1.0
    assert scores["pc_accuracy"] == 1.0                    # 0.5 >= threshold says object; -4 says none
    shifted = localization_metrics(y, [[3.5, 2.5, 8.5, 7.5], [0, 0, 0, 0]], [0, -1], 10)
    expected = box_iou([[2.5, 2.5, 7.5, 7.5]], [[3.5, 2.5, 8.5, 7.5]])[0, 0]
    assert shifted["mean_iou"] == pytest.approx(expected) and shifted["accuracy"] == 0.0


# ----------------------------------------------------------------------------- the network

def test_model_shapes_and_dtype():
    model = LocalizationNet(4, channels=(4, 8), pools=1, rng=0)
    x = np.random.default_rng(0).random((3, 16, 16, 3), dtype=np.float32)
    y = model.forward(x)
    assert y.shape == (3, 9) and y.dtype == np.float32
    assert model.trunk.forward(x).shape == (3, 8, 8, 8)   # one pool: 16 -> 8
    # the box comes from the soft-argmax of 4 maps: centre inside the image, sizes within it
    assert np.all((y[:, 1:3] > 0) & (y[:, 1:3] < 1)) and np.all(np.abs(y[:, 3:5]) < 1)
    assert model.backward(np.ones_like(y)) is None          # the stem skips the image gradient
    assert all(np.any(p.grad != 0) for p in model.parameters())
    with pytest.raises(ValueError, match="columns"):
        model.backward(np.ones((3, 8), np.float32))
    with pytest.raises(ValueError, match="x"):
        model.forward(np.zeros((16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="multiples of 2"):
        model.forward(np.zeros((1, 15, 16, 3), np.float32))


def test_model_gradcheck_end_to_end():
    model = LocalizationNet(3, channels=(2, 3), pools=1, input_grad=True, rng=1, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((3, 8, 8, 3))
    report = check_module(model, x)
    assert report.passed and "input" in report.errors and "box_conv.weight" in report.errors


def test_soft_argmax_by_hand_and_gradcheck():
    layer = SoftArgmax2D()
    z = np.zeros((1, 4, 4, 2))
    z[0, 1, 3, 0] = 60.0                                    # channel 0: all mass on row 1, column 3
    out = layer.forward(z)                                  # channel 1: uniform -> the centre
    np.testing.assert_allclose(out, [[3.5 / 4, 1.5 / 4, 0.5, 0.5]], atol=1e-12)
    check_module(SoftArgmax2D(), np.random.default_rng(3).standard_normal((2, 3, 5, 2)))


def test_standardize_images():
    x = np.random.default_rng(0).random((2, 6, 5, 3), dtype=np.float32)
    s = standardize_images(x)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s.mean(axis=(1, 2)), 0, atol=1e-5)
    with pytest.raises(ValueError, match="images"):
        standardize_images(x[0])


# ----------------------------------------------------------------------------- the task

def test_localization_task_quick(tmp_path):
    m = run_task("localization", quick=True, progress=False, out=tmp_path)
    for key in ("mean_iou", "accuracy", "pc_accuracy", "n_train", "n_test", "parameters", "seconds"):
        assert key in m
    assert m["metric"] == "mean_iou" and 0.0 <= m["mean_iou"] <= 1.0 and m["n_test_empty"] > 0
    for name in ("metrics.json", "weights.npz", "predictions.png", "curves.png"):
        assert (tmp_path / name).exists()
    with pytest.raises(ValueError, match="loss"):
        run_task("localization", quick=True, progress=False, loss="hinge")
