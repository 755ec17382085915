"""Landmark detection: the point encoding, the loss, the errors, the network and the task."""

from __future__ import annotations

import numpy as np
import pytest

from npvision.data import make_scenes
from npvision.data.augment import hflip
from npvision.data.scenes import SCENE_LANDMARK_HFLIP, SCENE_LANDMARK_NAMES
from npvision.detection import (LandmarkNet, decode_landmarks, encode_landmarks, landmark_loss,
                                mean_point_error, point_errors)
from npvision.gradcheck import check_loss, check_module
from npvision.tasks import run_task


def test_encoding_by_hand_and_round_trip():
    pts = np.array([[[10.0, 5.0], [30.0, 20.0]]])            # (1, 2, 2) on a 20 (H) x 40 (W) image
    y = encode_landmarks(pts, (20, 40))
    np.testing.assert_allclose(y, [[0.25, 0.25, 0.75, 1.0]])  # x / W, y / H, interleaved
    s = make_scenes(8, size=(24, 32), seed=2)
    np.testing.assert_allclose(decode_landmarks(encode_landmarks(s.landmarks, (24, 32)), (24, 32)),
                               s.landmarks, rtol=1e-6)
    assert encode_landmarks(s.landmarks, (24, 32)).dtype == np.float32


def test_loss_by_hand_and_gradcheck():
    pred = np.array([[0.5, 0.5, 0.2, 0.1]])
    true = np.array([[0.4, 0.5, 0.2, 0.4]])
    loss, grad = landmark_loss(pred, true)
    assert loss == pytest.approx((0.1 ** 2 + 0.3 ** 2) / 4)
    np.testing.assert_allclose(grad, 2 * (pred - true) / 4)
    rng = np.random.default_rng(0)
    check_loss(landmark_loss, rng.random((3, 10)), rng.random((3, 10)))


def test_point_errors():
    true = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [0, 0]], [[0, 1.0], [0, 0]]])
    np.testing.assert_allclose(point_errors(pred, true), [[5, 0], [1, 0]])
    assert mean_point_error(pred, true) == pytest.approx(1.5)


@pytest.mark.parametrize("call, match", [
    (lambda: encode_landmarks(np.zeros((2, 5, 3)), 8), "points"),          # not (x, y) pairs
    (lambda: encode_landmarks(np.zeros((5, 2)), 8), "points"),             # no batch axis
    (lambda: decode_landmarks(np.zeros((2, 5)), 8), "even"),
    (lambda: landmark_loss(np.zeros((2, 4)), np.zeros((2, 6))), "y_true"),
    (lambda: landmark_loss(np.zeros((2, 3)), np.zeros((2, 3))), "even"),
    (lambda: point_errors(np.zeros((1, 5, 2)), np.zeros((1, 4, 2))), "true"),
    (lambda: mean_point_error(np.full((1, 1, 2), np.nan), np.zeros((1, 1, 2))), "NaN"),
    (lambda: encode_landmarks(np.zeros((1, 1, 2)), (0, 8)), "image_size"),
])
def test_bad_inputs(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_hflip_keeps_the_landmark_order():
    """Mirroring with flip_order keeps "right" the rightmost point (SCENE_LANDMARK_NAMES order)."""
    s = make_scenes(6, size=32, min_objects=1, max_objects=1, seed=4, rotate=False)
    out = hflip(s.images, landmarks=s.landmarks, flip_order=SCENE_LANDMARK_HFLIP)
    right, left = SCENE_LANDMARK_NAMES.index("right"), SCENE_LANDMARK_NAMES.index("left")
    assert np.all(out.landmarks[:, right, 0] > out.landmarks[:, left, 0])
    np.testing.assert_allclose(out.landmarks[:, right, 0], 32 - s.landmarks[:, left, 0])


def test_model_shapes_and_gradcheck():
    model = LandmarkNet(5, channels=(4, 8), pools=1, rng=0)
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    y = model.forward(x)
    assert y.shape == (2, 10) and y.dtype == np.float32 and np.all((y > 0) & (y < 1))
    assert model.backward(np.ones_like(y)) is None
    tiny = LandmarkNet(2, channels=(2, 3), pools=1, input_grad=True, rng=1, dtype=np.float64)
    report = check_module(tiny, np.random.default_rng(2).standard_normal((2, 8, 8, 3)))
    assert report.passed and "input" in report.errors


def test_landmarks_task_quick(tmp_path):
    m = run_task("landmarks", quick=True, progress=False, out=tmp_path)
    assert m["metric"] == "mean_point_error" and m["mean_point_error"] > 0
    assert set(m["per_landmark_error"]) == set(SCENE_LANDMARK_NAMES)
    assert m["baseline_point_error"] > 0
    for name in ("metrics.json", "weights.npz", "predictions.png", "curves.png"):
        assert (tmp_path / name).exists()
