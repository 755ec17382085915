"""Mask R-CNN: the mask branch on the backbone's features, the model end to end, its errors, saving."""

import numpy as np
import pytest

from npvision.data import make_scenes
from npvision.detection import MaskBranch, MaskRCNN
from npvision.gradcheck import check_loss


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(6, size=64, min_objects=2, max_objects=4, seed=3)


def _small_model(**mask_head):
    return MaskRCNN(4, (64, 64, 3), backbone=dict(widths=[8, 8, 16]), roi_heads=dict(hidden=32),
                    mask_head=dict(dict(roi_size=7, hidden=8, num_convs=1), **mask_head), rng=0)


@pytest.mark.parametrize("pooling, loss", [("roi_align", "sigmoid"), ("roi_pool", "softmax")])
def test_mask_branch_gradient_reaches_the_features(pooling, loss):
    """d L_mask / d features through the head and RoIAlign (or RoI pooling), checked numerically."""
    rng = np.random.default_rng(0)
    branch = MaskBranch(3, 2, stride=4, pooling=pooling, roi_size=3, hidden=4, num_convs=1, loss=loss,
                        rng=0, dtype=np.float64)
    for p in branch.parameters():
        p.data += rng.normal(0, 0.3, p.data.shape)
    features = rng.normal(size=(2, 6, 6, 3))
    rois = np.array([[0, 2.3, 3.1, 17.5, 20.2], [1, 0.0, 4.4, 12.6, 22.0], [1, 6.2, 1.0, 23.0, 9.5]])
    masks = [rng.random((1, 24, 24)) < 0.5, rng.random((2, 24, 24)) < 0.5]

    def loss_of_features(f):
        loss, d_features, _ = branch.train_step(f, rois, np.array([1, 0, 1]), np.array([0, 1, 0]), masks)
        return loss, d_features

    check_loss(loss_of_features, features)


def test_train_step_and_detections_with_masks(scenes):
    model = _small_model()
    truth = scenes.instance_targets()
    loss, terms = model.train_step(scenes.images[:3], scenes.boxes[:3], scenes.classes[:3],
                                   [t["masks"] for t in truth[:3]], rng=0)
    assert np.isfinite(loss) and terms["mask_rois"] > 0 and terms["mask"] > 0
    assert loss == pytest.approx(terms["rpn_objectness"] + terms["rpn_box"] + terms["classifier"]
                                 + terms["box"] + terms["mask"], rel=1e-5)
    grads = {name: float(np.abs(p.grad).sum()) for name, p in model.named_parameters()}
    assert all(v > 0 for k, v in grads.items() if k.startswith("mask_branch.")), "the mask head learns"
    found = model.detect_batch(scenes.images[:2], score_threshold=0.0)
    for d in found:
        assert d["masks"].shape == (len(d["boxes"]), 64, 64) and d["masks"].dtype == bool
        assert d["mask_probs"].shape == (len(d["boxes"]), 14, 14)
        for box, m in zip(d["boxes"], d["masks"]):
            _, cols = np.nonzero(m)                                      # masks stay inside their box
            assert np.all(cols + 0.5 >= box[0]) and np.all(cols + 0.5 <= box[2])


def test_mask_loss_backpropagates_into_the_backbone(scenes):
    """The backbone's gradient is the sum of the branches': with the mask branch it changes."""
    truth = [t["masks"] for t in scenes.instance_targets()[:2]]
    grads = []
    for weight in (1.0, 0.0):
        model = _small_model()
        if weight == 0.0:                     # a mask head that outputs constants: no mask gradient
            for p in model.mask_branch.parameters():
                p.data[...] = 0.0
        model.train_step(scenes.images[:2], scenes.boxes[:2], scenes.classes[:2], truth, rng=0)
        grads.append(next(iter(model.backbone.parameters())).grad.copy())    # the first conv's weight
    assert not np.allclose(grads[0], grads[1])


def test_bad_instance_labels_get_clear_errors(scenes):
    model = _small_model()
    x, b, c = scenes.images[:2], scenes.boxes[:2], scenes.classes[:2]
    masks = [t["masks"] for t in scenes.instance_targets()[:2]]
    with pytest.raises(ValueError, match="gt_masks: a mask model needs instance masks"):
        model.train_step(x, b, c, None)
    with pytest.raises(ValueError, match=r"gt_masks\[1\]: expected masks of the image's size \(64, 64\), "
                                         r"received masks of size \(32, 64\)"):
        model.train_step(x, b, c, [masks[0], masks[1][:, :32]])
    with pytest.raises(ValueError, match=r"gt_masks\[0\]: expected \d+ masks \(one per box\)"):
        model.train_step(x, b, c, [masks[0][:1], masks[1]])
    with pytest.raises(ValueError, match="gt_masks: expected one mask stack per image"):
        model.train_step(x, b, c, masks[:1])
    with pytest.raises(ValueError, match="pooling: expected one of"):
        _small_model(pooling="max")


def test_save_and_load_give_the_same_masks(tmp_path, scenes):
    from npvision.tasks.mask_rcnn import load_mask_rcnn, save_mask_rcnn

    model = _small_model(loss="softmax")
    model.eval()
    save_mask_rcnn(model, tmp_path, ("circle", "square", "triangle", "cross"))
    again, info = load_mask_rcnn(tmp_path)
    assert info["class_names"][1] == "square" and again.mask_branch.loss == "softmax"
    a = model.detect_batch(scenes.images[:2], score_threshold=0.0)
    b = again.detect_batch(scenes.images[:2], score_threshold=0.0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["masks"], y["masks"])
    with pytest.raises(ValueError, match="not a Mask R-CNN folder"):
        load_mask_rcnn(tmp_path / "nothing")


def test_branch_targets_read_each_rois_own_image_and_object():
    from npvision.detection import mask_targets

    rng = np.random.default_rng(5)
    branch = MaskBranch(3, 2, stride=4, roi_size=4, hidden=2, num_convs=0, rng=0)
    masks = [rng.random((2, 16, 16)) < 0.5, rng.random((3, 16, 16)) < 0.5]
    rois = np.array([[1, 2.0, 3.0, 12.0, 14.0], [0, 1.0, 1.0, 9.0, 7.0], [1, 0.0, 5.0, 16.0, 16.0]])
    matched = np.array([2, 1, 0])
    t = branch.targets(rois, matched, masks)
    assert t.shape == (3, 8, 8)
    for k, (i, m) in enumerate(zip(rois[:, 0].astype(int), matched)):
        np.testing.assert_array_equal(t[k], mask_targets(masks[i][m:m + 1], rois[k:k + 1, 1:], np.array([0]), 8)[0])


@pytest.mark.parametrize("loss", ["sigmoid", "softmax"])
def test_predict_reads_the_detected_class_channel_and_pastes_it_in_the_box(loss):
    branch = MaskBranch(3, 2, stride=4, roi_size=4, hidden=2, num_convs=0, loss=loss, rng=0, dtype=np.float64)
    branch.head.predictor.weight.data[...] = 0.0
    # a constant mask per class: class 0 "everything", class 1 "nothing" (softmax: channel 0 is background)
    branch.head.predictor.bias.data[...] = [6.0, -6.0] if loss == "sigmoid" else [0.0, 6.0, -6.0]
    features = np.random.default_rng(0).normal(size=(1, 8, 8, 3))
    dets = [{"boxes": np.array([[2.0, 3.0, 10.0, 12.0], [4.0, 4.0, 20.0, 20.0]]), "classes": np.array([0, 1]),
             "scores": np.array([0.9, 0.8])}]
    out = branch.predict(features, dets, (32, 32))[0]
    expected = np.zeros((32, 32), bool)
    expected[3:12, 2:10] = True                                   # pixel centres inside box 0
    np.testing.assert_array_equal(out["masks"][0], expected)
    assert not out["masks"][1].any() and out["scores"][0] == 0.9
