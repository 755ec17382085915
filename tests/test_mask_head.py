"""The mask branch: losses and head gradient-checked, pasting masks back, the softmax variant."""

import numpy as np
import pytest

from npvision.detection import (
    MaskHead,
    mask_loss,
    mask_loss_softmax,
    mask_probabilities,
    paste_masks,
)
from npvision.gradcheck import check_loss, check_module


def _inputs(p=3, m=5, k=4, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (p, m, m, k))
    labels = rng.integers(0, k, p)
    targets = rng.random((p, m, m))
    targets[0] = targets[0] > 0.5                  # hard 0/1 targets for one RoI, soft for the rest
    return logits, labels, targets


# ----------------------------------------------------------------------------- sigmoid loss

def test_mask_loss_gradient_check():
    logits, labels, targets = _inputs()
    check_loss(mask_loss, logits, labels, targets)


def test_mask_loss_uses_only_the_ground_truth_channel():
    logits, labels, targets = _inputs(p=4, k=3, seed=1)
    loss, d = mask_loss(logits, labels, targets)
    # by hand: BCE of the labelled channel, mean over P M M
    z = logits[np.arange(4), :, :, labels]                               # (P, M, M)
    s = 1 / (1 + np.exp(-z))
    expected = np.mean(-targets * np.log(s) - (1 - targets) * np.log(1 - s))
    assert loss == pytest.approx(expected, rel=1e-12)
    for p in range(4):
        other = [c for c in range(3) if c != labels[p]]
        assert not d[p][..., other].any()                                # other classes get no gradient
        assert d[p][..., labels[p]].any()
    # changing another class's logits changes nothing: classes do not compete
    moved = logits.copy()
    moved[0, :, :, (labels[0] + 1) % 3] += 5.0
    assert mask_loss(moved, labels, targets)[0] == loss


def test_mask_loss_with_no_positive_roi():
    loss, d = mask_loss(np.zeros((0, 4, 4, 2)), np.zeros(0, dtype=int), np.zeros((0, 4, 4)))
    assert loss == 0.0 and d.shape == (0, 4, 4, 2)


# ----------------------------------------------------------------------------- softmax loss

def test_softmax_mask_loss_gradient_check_and_value():
    logits, labels, targets = _inputs(k=5)                               # 4 classes + background
    check_loss(mask_loss_softmax, logits, labels, targets)
    loss, d = mask_loss_softmax(logits, labels, targets)
    pix = np.where(targets >= 0.5, labels[:, None, None] + 1, 0)         # (P, M, M)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(logp, pix[..., None], -1).mean()
    assert loss == pytest.approx(expected, rel=1e-12)
    # unlike the sigmoid loss every channel gets a gradient: classes compete for each pixel
    assert np.all(np.abs(d).sum(axis=(1, 2)) > 0)


def test_mask_probabilities_pick_the_class_channel():
    logits, labels, _ = _inputs(k=5)
    p = mask_probabilities(logits[..., :4], labels % 4, "sigmoid")
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-logits[np.arange(3), :, :, labels % 4])))
    q = mask_probabilities(logits, labels % 4, "softmax")
    soft = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(q, soft[np.arange(3), :, :, labels % 4 + 1])


# ----------------------------------------------------------------------------- the head

@pytest.mark.parametrize("loss, channels", [("sigmoid", 3), ("softmax", 4)])
def test_mask_head_shapes_and_gradient_check(loss, channels):
    head = MaskHead(in_channels=2, num_classes=3, hidden=3, num_convs=2, loss=loss, rng=0)
    rng = np.random.default_rng(1)
    for p in head.parameters():               # non-zero biases: no ReLU input sits exactly on its kink
        p.data += rng.normal(0, 0.3, p.data.shape).astype(p.data.dtype)
    x = rng.normal(size=(2, 4, 4, 2))
    assert head.forward(x.astype(np.float32)).shape == (2, 8, 8, channels)
    check_module(head, x)


def test_mask_head_trains_with_its_loss():
    # the loss and the head's backward together: gradient steps lower the loss
    rng = np.random.default_rng(0)
    head = MaskHead(in_channels=3, num_classes=2, hidden=8, num_convs=1, rng=0, dtype=np.float64)
    x = rng.normal(size=(4, 4, 4, 3))
    labels = np.array([0, 1, 1, 0])
    targets = np.zeros((4, 8, 8))
    targets[:, 2:6, 2:6] = 1.0
    first = None
    for _ in range(60):
        head.zero_grad()
        loss, d = mask_loss(head.forward(x), labels, targets)
        head.backward(d)
        for p in head.parameters():
            p.data -= 0.5 * p.grad
        first = loss if first is None else first
    assert loss < 0.5 * first


# ----------------------------------------------------------------------------- pasting

def test_pasted_mask_of_box_sized_target():
    """A target the size of its box (one grid cell per pixel), pasted at that box, is the target."""
    rng = np.random.default_rng(0)
    target = rng.random((7, 11)) < 0.5                        # 7 rows x 11 columns
    box = np.array([[5.0, 3.0, 16.0, 10.0]])                   # x1, y1, x2, y2: 11 wide, 7 tall
    pasted = paste_masks(target[None].astype(float), box, (20, 24))
    expected = np.zeros((20, 24), bool)
    expected[3:10, 5:16] = target
    np.testing.assert_array_equal(pasted[0], expected)


def test_paste_masks_resizes_bilinearly_and_clips():
    # a 2x2 grid pasted on a 4x4 box: pixel centres fall at grid coordinates 0.25, 0.75, 1.25, 1.75,
    # i.e. between the cells (edge cells clamped) -> bilinear values 0, 1/4, 3/4, 1 along a ramp
    ramp = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    pasted = paste_masks(ramp, [[0, 0, 4, 4]], (4, 4), threshold=0.5)
    assert pasted[0].tolist() == [[False, False, True, True]] * 4
    pasted = paste_masks(ramp, [[0, 0, 4, 4]], (4, 4), threshold=0.2)
    assert pasted[0].tolist() == [[False, True, True, True]] * 4
    # a box poking out of the image is cut; a zero-size box pastes nothing
    full = np.ones((2, 3, 3))
    out = paste_masks(full, [[-2, -2, 2, 2], [1, 1, 1, 3]], (4, 4))
    assert out[0].sum() == 4 and out[0][:2, :2].all() and not out[1].any()


def test_paste_masks_errors():
    with pytest.raises(ValueError, match=r"boxes: expected one box per mask \(2\), received 1"):
        paste_masks(np.zeros((2, 3, 3)), [[0, 0, 1, 1]], (4, 4))
    with pytest.raises(ValueError, match="image_size"):
        paste_masks(np.zeros((1, 3, 3)), [[0, 0, 1, 1]], (0, 4))
    with pytest.raises(ValueError, match="mask_probs"):
        paste_masks(np.zeros((3, 3)), [[0, 0, 1, 1]], (4, 4))


def test_loss_errors_name_the_argument():
    logits, labels, targets = _inputs()
    with pytest.raises(ValueError, match=r"labels: expected class ids in \[0, 4\)"):
        mask_loss(logits, labels + 4, targets)
    with pytest.raises(ValueError, match=r"targets: expected shape \(3, 5, 5\)"):
        mask_loss(logits, labels, targets[:, :4])
    with pytest.raises(ValueError, match=r"targets: expected values in \[0, 1\]"):
        mask_loss(logits, labels, targets * 3)
    with pytest.raises(ValueError, match="loss: expected one of"):
        MaskHead(4, 2, loss="hinge")


def test_paste_masks_covers_exactly_the_pixel_centres_inside_a_fractional_box():
    box = [[0.7, 1.2, 5.4, 3.6]]                 # centres 1.5..4.5 in x, 1.5..3.5 in y -> cols 1-4, rows 1-3
    out = paste_masks(np.ones((1, 4, 4)), box, (6, 7))
    expected = np.zeros((6, 7), bool)
    expected[1:4, 1:5] = True
    np.testing.assert_array_equal(out[0], expected)


# ----------------------------------------------------------------------------- targets (RoIAlign)

def test_mask_targets_of_a_box_sized_grid_are_the_mask():
    """One target cell per pixel of the box, one sample per cell: the target is the mask itself."""
    from npvision.detection import mask_targets

    rng = np.random.default_rng(3)
    gt = rng.random((2, 12, 14)) < 0.5
    rois = np.array([[2.0, 3.0, 9.0, 10.0], [0.0, 0.0, 7.0, 7.0]])       # 7 x 7 boxes
    t = mask_targets(gt, rois, np.array([1, 0]), output_size=7, sampling_ratio=1)
    assert t.shape == (2, 7, 7)
    np.testing.assert_array_equal(t[0], gt[1, 3:10, 2:9])                # RoI 0 reads object 1
    np.testing.assert_array_equal(t[1], gt[0, :7, :7])


def test_mask_targets_then_paste_give_back_the_scene_masks():
    from npvision.data import make_scenes
    from npvision.detection import mask_iou, mask_targets

    s = make_scenes(12, size=64, min_objects=2, max_objects=4, seed=4)
    ious = []
    for i in range(len(s)):
        gt = s.instance_masks(i)
        t = mask_targets(gt, s.boxes[i], np.arange(len(gt)), output_size=28)
        assert t.min() >= 0 and t.max() <= 1
        back = paste_masks(t, s.boxes[i], (64, 64))
        ious += np.diag(mask_iou(back, gt)).tolist()
    assert min(ious) > 0.99 and np.mean(ious) > 0.999          # measured: 0.9964 and 0.99991


def test_mask_targets_errors():
    from npvision.detection import mask_targets

    gt = np.zeros((2, 8, 8), bool)
    with pytest.raises(ValueError, match=r"matched: expected indices in \[0, 2\)"):
        mask_targets(gt, [[0, 0, 4, 4]], np.array([2]))
    with pytest.raises(ValueError, match=r"matched: expected \(1,\) ints"):
        mask_targets(gt, [[0, 0, 4, 4]], np.array([0.0]))
