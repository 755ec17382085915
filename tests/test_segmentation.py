"""Segmentation losses (gradient-checked), metrics on hand-computed masks, pictures, the task."""

import json
import os

import numpy as np
import pytest

import npvision.functional as F
from npvision.gradcheck import check_loss
from npvision.segmentation import (confusion_matrix, dice_cross_entropy_loss, mean_dice, mean_iou,
                                   per_class_dice, per_class_iou, pixel_accuracy, pixel_cross_entropy,
                                   segmentation_scores, soft_dice_loss)


def _logits_and_labels(seed=0, shape=(2, 3, 4), k=3):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape + (k,))
    labels = rng.integers(0, k, shape)
    return logits, labels


# --------------------------------------------------------------------------- losses
def test_pixel_cross_entropy_is_the_functional_one():
    logits, labels = _logits_and_labels()
    w = np.array([0.5, 1.0, 2.0])
    loss, d = pixel_cross_entropy(logits, labels, class_weights=w, ignore_index=None)
    ref, dref = F.softmax_cross_entropy(logits, labels, class_weights=w)
    assert loss == pytest.approx(ref)
    np.testing.assert_allclose(d, dref)


@pytest.mark.parametrize("weights, ignore", [(None, None), ([0.5, 1.0, 2.0], None), (None, -1),
                                             ([1.0, 3.0, 0.5], 255)])
def test_losses_gradcheck(weights, ignore):
    logits, labels = _logits_and_labels(seed=1)
    if ignore is not None:
        labels[0, 0, :2] = ignore
        labels[1, 2, 3] = ignore
    for fn in (pixel_cross_entropy, soft_dice_loss, dice_cross_entropy_loss):
        check_loss(fn, logits, labels, class_weights=weights, ignore_index=ignore, tol=1e-6)


def test_dice_by_hand_and_ignored_pixels_count_for_nothing():
    # two pixels, two classes, probabilities p = softmax(z)
    z = np.array([[[[0.0, np.log(3.0)], [np.log(3.0), 0.0]]]])      # p = [.25 .75], [.75 .25]
    y = np.array([[[1, 1]]])
    # class 0: I = 0, P = 1.0, T = 0 -> dice (0 + 1) / (1 + 0 + 1) = 0.5
    # class 1: I = 0.75 + 0.25 = 1, P = 1, T = 2 -> dice (2 + 1) / (1 + 2 + 1) = 0.75
    loss, _ = soft_dice_loss(z, y, smooth=1.0)
    assert loss == pytest.approx(1 - (0.5 + 0.75) / 2)
    # ignoring the second pixel: class 0: (0+1)/(0.25+0+1) = 0.8; class 1: (1.5+1)/(0.75+1+1)
    loss_ign, d = soft_dice_loss(z, np.array([[[1, -1]]]), smooth=1.0, ignore_index=-1)
    assert loss_ign == pytest.approx(1 - (0.8 + 2.5 / 2.75) / 2)
    np.testing.assert_array_equal(d[0, 0, 1], 0.0)
    # a confident, correct prediction has a Dice loss near 0, a wrong one near 1
    perfect = 20.0 * np.eye(3)[np.array([[[0, 1], [2, 1]]])]
    assert soft_dice_loss(perfect, np.array([[[0, 1], [2, 1]]]), smooth=1e-3)[0] < 1e-3
    assert soft_dice_loss(perfect, np.array([[[1, 2], [0, 2]]]), smooth=1e-3)[0] > 0.99


def test_losses_keep_dtype_and_check_their_inputs():
    logits, labels = _logits_and_labels()
    for fn in (pixel_cross_entropy, soft_dice_loss, dice_cross_entropy_loss):
        assert fn(logits.astype(np.float32), labels)[1].dtype == np.float32
        with pytest.raises(ValueError, match=r"labels: expected shape \(2, 3, 4\)"):
            fn(logits, labels[:, :2])
        with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
            fn(logits, np.where(labels == 0, 3, labels))
        with pytest.raises(TypeError, match="integer"):
            fn(logits, labels.astype(np.float64))
        with pytest.raises(ValueError, match="4-D"):
            fn(logits[0], labels[0])


# --------------------------------------------------------------------------- metrics
# target          pred
# 0 0 1 1         0 1 1 1
# 0 0 1 1         0 0 1 0
# 2 2 2 2         2 2 0 2
TARGET = np.array([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]]])
PRED = np.array([[[0, 1, 1, 1], [0, 0, 1, 0], [2, 2, 0, 2]]])


def test_confusion_matrix_and_scores_by_hand():
    cm = confusion_matrix(PRED, TARGET, num_classes=4)
    expected = np.array([[3, 1, 0, 0],       # true 0: 3 right, 1 called 1
                         [1, 3, 0, 0],       # true 1: 3 right, 1 called 0
                         [1, 0, 3, 0],       # true 2: 3 right, 1 called 0
                         [0, 0, 0, 0]])      # class 3: absent everywhere
    np.testing.assert_array_equal(cm, expected)
    assert pixel_accuracy(PRED, TARGET) == pytest.approx(9 / 12)
    iou = per_class_iou(PRED, TARGET, 4)
    # class 0: TP 3, FP 2 (from 1 and 2), FN 1 -> 3/6; class 1: 3/(3+1+1); class 2: 3/(3+0+1)
    np.testing.assert_allclose(iou[:3], [3 / 6, 3 / 5, 3 / 4])
    assert np.isnan(iou[3])                                      # absent: not counted
    assert mean_iou(PRED, TARGET, 4) == pytest.approx((0.5 + 0.6 + 0.75) / 3)
    dice = per_class_dice(PRED, TARGET, 4)
    np.testing.assert_allclose(dice[:3], [6 / 9, 6 / 8, 6 / 7])
    assert mean_dice(PRED, TARGET, 4) == pytest.approx((6 / 9 + 6 / 8 + 6 / 7) / 3)
    scores = segmentation_scores(cm, ["bg", "a", "b", "c"])
    assert scores["per_class_iou"]["c"] is None
    assert scores["miou"] == pytest.approx(mean_iou(PRED, TARGET, 4))
    json.dumps(scores)                                           # JSON-able


def test_class_predicted_but_absent_from_truth_scores_zero():
    target = np.zeros((1, 2, 2), int)
    pred = np.array([[[0, 0], [0, 3]]])
    iou = per_class_iou(pred, target, 4)
    assert iou[0] == pytest.approx(3 / 4) and iou[3] == 0.0
    assert np.isnan(iou[1]) and np.isnan(iou[2])
    assert mean_iou(pred, target, 4) == pytest.approx((0.75 + 0.0) / 2)


def test_all_background_image():
    target = np.zeros((1, 5, 5), int)
    assert mean_iou(target, target, 5) == 1.0                    # only background is counted
    assert pixel_accuracy(target, target) == 1.0
    iou = per_class_iou(target, target, 5)
    assert iou[0] == 1.0 and np.all(np.isnan(iou[1:]))
    assert mean_dice(target, target, 5) == 1.0


def test_ignore_label():
    target = TARGET.copy()
    target[0, 0, :2] = 255                                       # two true-0 pixels unlabelled
    cm = confusion_matrix(PRED, target, 4, ignore_index=255)
    assert cm.sum() == 10 and cm[0, 0] == 2 and cm[0, 1] == 0    # (0,0)->0 and (0,1)->1 dropped
    assert pixel_accuracy(PRED, target, ignore_index=255) == pytest.approx(8 / 10)
    # predictions on ignored pixels do not matter
    other = PRED.copy()
    other[0, 0, :2] = 3
    np.testing.assert_array_equal(confusion_matrix(other, target, 4, ignore_index=255), cm)
    everything = np.full_like(TARGET, 255)
    with pytest.raises(ValueError, match="nothing to score"):
        mean_iou(PRED, everything, 4, ignore_index=255)
    with pytest.raises(ValueError, match="nothing to score"):
        pixel_accuracy(PRED, everything, ignore_index=255)


def test_metric_errors():
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(PRED[:, :2], TARGET, 4)
    with pytest.raises(ValueError, match=r"target: expected labels in \[0, 3\)"):
        confusion_matrix(PRED, TARGET + 1, 3)
    with pytest.raises(ValueError, match=r"pred: expected labels in \[0, 3\)"):
        confusion_matrix(PRED + 1, TARGET, 3)
    with pytest.raises(TypeError, match="integer"):
        mean_iou(PRED.astype(float), TARGET, 4)


# --------------------------------------------------------------------------- pictures
def test_pictures(tmp_path):
    from npvision.viz.segmentation import (SEGMENTATION_PALETTE, colorize_mask, plot_class_iou,
                                           plot_segmentation)

    rgb = colorize_mask(TARGET[0], 4)
    assert rgb.shape == (3, 4, 3)
    np.testing.assert_allclose(rgb[2, 0], SEGMENTATION_PALETTE[2])
    with pytest.raises(ValueError, match="class ids"):
        colorize_mask(TARGET[0], 2)
    images = np.random.default_rng(0).random((1, 3, 4, 3))
    fig = plot_segmentation(images, TARGET, PRED, ["bg", "a", "b", "c"], path=tmp_path / "seg.png")
    assert len(fig.legends) == 1 and (tmp_path / "seg.png").stat().st_size > 0
    with pytest.raises(ValueError, match="true_masks"):
        plot_segmentation(images, TARGET[:, :2], PRED, ["bg", "a", "b", "c"])
    plot_class_iou([0.5, 0.6, np.nan, 0.75], ["bg", "a", "b", "c"], path=tmp_path / "iou.png")
    assert (tmp_path / "iou.png").stat().st_size > 0


# --------------------------------------------------------------------------- task and command
def test_unet_task_quick_and_segment_command(tmp_path):
    from npvision import cli
    from npvision.tasks import get_task, run_task
    from npvision.tasks.segment import build_segmenter, save_segmenter, segment_image

    m = run_task("unet", quick=True, progress=False, size=16, base_filters=2)
    assert 0.0 <= m["miou"] <= 1.0 and m["metric"] == "miou" and m["epochs"] == 1
    assert set(m["per_class_iou"]) == {"background", "circle", "square", "triangle", "cross"}
    assert m["n_test"] == 32 and m["parameters"] > 0

    config = dict(get_task("unet").defaults, base_filters=2)
    weights = save_segmenter(build_segmenter(config, rng=0), config, tmp_path / "weights.npz")
    import matplotlib.image as mpimg
    from npvision.data import make_scenes

    image_path = tmp_path / "scene.png"
    mpimg.imsave(image_path, make_scenes(1, size=(20, 30), seed=5).images[0])
    result = segment_image(image_path, weights, tmp_path / "mask.png")
    assert result["shape"] == [20, 30] and sum(result["pixels_per_class"].values()) == 600
    assert np.load(tmp_path / "mask.npy").shape == (20, 30)

    assert cli.main(["segment", str(image_path), "--weights", str(weights),
                     "--out", str(tmp_path / "cli.png")]) == 0
    assert os.path.exists(tmp_path / "cli.png")


def test_task_refuses_bad_masks():
    from npvision.tasks.segment import train_segmenter
    from npvision.segmentation import UNet

    x = np.zeros((2, 8, 8, 3), np.float32)
    good = np.zeros((2, 8, 8), np.int64)
    model = UNet(3, 5, depth=1, base_filters=2, rng=0)
    config = dict(epochs=1, lr=1e-3, batch_size=2, dice_weight=1.0)
    with pytest.raises(ValueError, match=r"train masks: expected shape \(2, 8, 8\)"):
        train_segmenter(model, config, [(x, good[:, :7]), (x, good), (x, good)], seed=0, progress=False)
    with pytest.raises(ValueError, match=r"validation masks: expected class labels in \[0, 5\)"):
        train_segmenter(model, config, [(x, good), (x, good + 5), (x, good)], seed=0, progress=False)
