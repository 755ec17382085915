"""The region-based detectors' networks and models: gradients end to end, R-CNN's SVMs, warps and
ridge regression, and the detector folders (save, load, the kind, a wrong class count)."""

import json

import numpy as np
import pytest

from npvision import kernels
from npvision.detection import (FasterRCNN, FastRCNN, RCNN, RegionDetector, RoIBoxBranch, fit_ridge,
                                hard_negative_svm, load_detector, svm_objective, train_linear_svm, warp_regions)
from npvision.gradcheck import check_functional, check_module, numerical_gradient, relative_error
from npvision.models.region_cnn import RegionBackbone, RPNHead, RoIBoxHead


# ---------------------------------------------------------------- networks

def _off_the_kinks(module, rng):
    """Random biases: with zero biases a ReLU whose whole input row is 0 sits exactly on its kink."""
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            p.data[...] = rng.normal(0, 0.5, size=p.shape)
    return module


def test_heads_gradients_and_packing():
    rng = np.random.default_rng(0)
    head = _off_the_kinks(RPNHead(3, num_anchors=2, mid_channels=4, rng=0), rng)
    check_module(head, rng.normal(size=(2, 4, 5, 3)))
    out = head.forward(rng.normal(size=(2, 4, 5, 3)))
    assert out.shape == (2, 4, 5, 10)
    obj, deltas = head.split(out)
    assert obj.shape == (2, 40) and deltas.shape == (2, 40, 4)
    # anchor a of location (y, x) is row (y W + x) A + a, its deltas channels A + 4a .. A + 4a + 3
    np.testing.assert_array_equal(obj[1, (2 * 5 + 3) * 2 + 1], out[1, 2, 3, 1])
    np.testing.assert_array_equal(deltas[1, (2 * 5 + 3) * 2 + 1], out[1, 2, 3, 2 + 4:2 + 8])
    np.testing.assert_array_equal(head.join(obj, deltas, (4, 5)), out)

    box = _off_the_kinks(RoIBoxHead(3, 2, num_classes=3, hidden=5, rng=0), rng)
    check_module(box, rng.normal(size=(4, 2, 2, 3)))
    out = box.forward(rng.normal(size=(4, 2, 2, 3)))
    logits, d = box.split(out)
    assert logits.shape == (4, 4) and d.shape == (4, 16)
    np.testing.assert_array_equal(box.join(logits, d), out)


def test_backbone_shapes():
    bb = RegionBackbone(rng=0)
    assert bb.stride == 4 and bb.out_channels == 64
    assert bb.forward(np.zeros((1, 64, 48, 3), np.float32)).shape == (1, 16, 12, 64)
    assert bb.feature_size(64, 48) == (16, 12) and bb.feature_size(30, 30) == (8, 8)


@pytest.mark.parametrize("pooling", ["roi_pool", "roi_align"])
def test_roi_box_branch_gradient_reaches_the_feature_map(pooling):
    rng = np.random.default_rng(1)
    branch = _off_the_kinks(RoIBoxBranch(3, num_classes=2, stride=4, pooling=pooling, pool_size=2, hidden=6,
                                         rng=0, dtype=np.float64), rng)
    features = rng.normal(size=(2, 6, 6, 3))
    rois = np.array([[0, 2.0, 3.0, 17.0, 20.0], [1, 0.0, 0.0, 23.0, 23.0], [0, 9.0, 5.0, 14.0, 21.0]])

    def forward(f):
        return branch.forward(f, rois), None

    check_functional(forward, lambda dout, _: branch.backward(dout), [features])


def _tiny_scenes():
    from npvision.data import make_scenes

    return make_scenes(2, size=32, min_objects=1, max_objects=2, seed=3)


def _check_parameters(model, loss_of_model, names, picks=3):
    """Numerical d loss / d p at a few entries of each named parameter, against p.grad.

    The gradients are copied first: every evaluation of the loss runs a training step, which adds
    into p.grad again."""
    params = dict(model.named_parameters())
    analytics = {name: params[name].grad.copy() for name in names}
    for name in names:
        p = params[name]
        analytic = analytics[name]
        flat = p.data.reshape(-1)
        for j in np.linspace(0, flat.size - 1, picks).astype(int):
            def f(v, j=j):
                old = flat[j]
                flat[j] = v[0]
                value = loss_of_model()
                flat[j] = old
                return np.array(value)
            num = numerical_gradient(f, np.array([flat[j]]), None, 1e-6)[0]
            assert relative_error(np.array([analytic.reshape(-1)[j]]), np.array([num])) < 1e-5 or \
                abs(analytic.reshape(-1)[j] - num) < 1e-8, (name, j, analytic.reshape(-1)[j], num)


@pytest.mark.parametrize("pooling", ["roi_pool", "roi_align"])
def test_faster_rcnn_train_step_gradient_end_to_end(pooling):
    """Both losses through both heads and the backbone (the + of the two branches).

    Approximate joint training gives the proposals' coordinates no gradient. With RoI pooling
    they are rounded to the grid, so that path is zero anyway; with RoIAlign it is not, so the
    numerical derivative is taken with the proposals of the initial weights held fixed, the
    exact function whose gradient the backward computes."""
    s = _tiny_scenes()
    model = FasterRCNN(4, (32, 32, 3), backbone=dict(widths=[4, 6], strides=[2, 2], stage_depth=1),
                       rpn=dict(anchor_sizes=(8, 14), aspect_ratios=(1.0,), batch_size_per_image=16,
                                pre_nms_top_n=20, post_nms_top_n=10),
                       roi_heads=dict(pooling=pooling, pool_size=2, hidden=5, batch_size_per_image=8),
                       rng=0, dtype=np.float64)
    x = s.images.astype(np.float64)
    model.eval()
    fixed = model.rpn.propose(model.rpn.forward(model.backbone.forward(x)), (32, 32), training=True)
    model.train()
    model.rpn.propose = lambda out, image_size, training=None: fixed          # proposals held fixed

    def loss_of_model():
        return model.train_step(x, s.boxes, s.classes, rng=np.random.default_rng(7))[0]

    model.zero_grad()
    loss_of_model()
    _check_parameters(model, loss_of_model, ["backbone.0.conv.weight", "backbone.1.bn.gamma",
                                             "rpn.head.predict.weight", "roi_heads.head.fc.1.weight",
                                             "roi_heads.head.predict.bias"])


def test_fast_rcnn_and_rcnn_gradients_end_to_end():
    s = _tiny_scenes()
    x = s.images.astype(np.float64)
    props = [np.array([[2.0, 3, 20, 22], [10, 8, 30, 28], [0, 0, 32, 32]])] * 2
    fast = FastRCNN(4, (32, 32, 3), backbone=dict(widths=[4, 6], strides=[2, 2], stage_depth=1),
                    roi_heads=dict(pool_size=2, hidden=5, batch_size_per_image=6), rng=0, dtype=np.float64)

    def fast_loss():
        return fast.train_step(x, props, s.boxes, s.classes, rng=np.random.default_rng(3))[0]

    fast.zero_grad()
    fast_loss()
    _check_parameters(fast, fast_loss, ["backbone.0.conv.weight", "roi_heads.head.predict.weight"])

    rcnn = RCNN(4, (32, 32, 3), warp_size=16, backbone=dict(widths=[4, 6], strides=[2, 2], stage_depth=1),
                pool_size=2, hidden=5, rng=0, dtype=np.float64)
    crops = np.random.default_rng(4).normal(size=(5, 16, 16, 3))
    labels = np.array([0, 1, 4, 2, 0])

    def rcnn_loss():
        from npvision.functional.losses import softmax_cross_entropy
        logits, _ = rcnn.head.split(rcnn.forward(crops))
        return softmax_cross_entropy(logits, labels)[0]

    rcnn.zero_grad()
    rcnn.finetune_step(crops, labels)
    _check_parameters(rcnn, rcnn_loss, ["backbone.1.conv.weight", "head.fc.3.weight", "head.predict.weight"])


# ---------------------------------------------------------------- R-CNN's pieces

def test_warp_regions_by_hand():
    image = np.arange(16 * 16 * 2, dtype=np.float64).reshape(16, 16, 2)
    # the whole image to half its size, no context: each output pixel is the mean of a 2x2 block
    out = warp_regions(image, [[0.0, 0, 16, 16]], size=8, context=0)
    np.testing.assert_allclose(out[0], image.reshape(8, 2, 8, 2, 2).mean(axis=(1, 3)))
    # a pixel-aligned box at scale 1 copies the pixels
    out = warp_regions(image, [[3.0, 5, 9, 11]], size=6, context=0)
    np.testing.assert_allclose(out[0], image[5:11, 3:9])
    # context: the box fills the inner 6 x 6 of an 8 x 8 crop, one pixel of image around it
    out = warp_regions(image, [[3.0, 5, 9, 11]], size=8, context=1)
    np.testing.assert_allclose(out[0], image[4:12, 2:10])
    with pytest.raises(ValueError, match="context: expected a number in \\[0, size / 2\\)"):
        warp_regions(image, [[0.0, 0, 4, 4]], size=8, context=4)
    with pytest.raises(ValueError, match="boxes: box 0 .* is inverted"):
        warp_regions(image, [[5.0, 0, 4, 4]])


def _two_clouds(seed=0, n_pos=60, n_neg=600, d=8):
    rng = np.random.default_rng(seed)
    pos = rng.normal(0.8, 1.0, size=(n_pos, d))
    neg = rng.normal(-0.8, 1.0, size=(n_neg, d))
    return pos, neg


def test_svm_kernel_numba_equals_naive():
    pos, neg = _two_clouds()
    x = np.concatenate([pos, neg])
    y = np.r_[np.ones(len(pos), int), -np.ones(len(neg), int)]
    with kernels.use_backend("naive"):
        a = train_linear_svm(x, y, C=0.05, positive_weight=2.0, rng=0, max_epochs=30)
    with kernels.use_backend("numba"):
        b = train_linear_svm(x, y, C=0.05, positive_weight=2.0, rng=0, max_epochs=30)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.bias == b.bias


def test_svm_is_optimal():
    """Dual coordinate descent reaches the hinge-loss optimum: KKT holds, and no nearby w is better."""
    pos, neg = _two_clouds(1)
    x = np.concatenate([pos, neg])
    y = np.r_[np.ones(len(pos)), -np.ones(len(neg))]
    C = 0.05
    svm = train_linear_svm(x, y.astype(int), C=C, tol=1e-6, max_epochs=5000, rng=0)
    best = svm_objective(svm, x, y, C)
    rng = np.random.default_rng(2)
    from npvision.detection.linear_svm import LinearSVM
    for _ in range(50):
        step = 1e-3 * rng.normal(size=len(svm.weight) + 1)
        other = LinearSVM(svm.weight + step[:-1], svm.bias + 10 * step[-1])
        assert svm_objective(other, x, y, C) >= best - 1e-9
    margins = y * svm.decision_function(x)
    assert (margins > 1 + 1e-3).sum() > 0.8 * len(y)                # most points are well outside the margin
    assert np.mean(np.sign(svm.decision_function(x)) == y) > 0.9


def test_hard_negative_mining_reaches_the_full_svm():
    pos, neg = _two_clouds(3, n_neg=3000)
    C = 0.05
    mined = hard_negative_svm(pos, neg, C=C, positive_weight=2.0, initial_negatives=100, rounds=10, tol=1e-6,
                              max_epochs=5000, rng=0)
    x = np.concatenate([pos, neg])
    y = np.r_[np.ones(len(pos)), -np.ones(len(neg))]
    weights = np.where(y > 0, 2.0, 1.0)
    full = train_linear_svm(x, y.astype(int), C=C, positive_weight=2.0, tol=1e-6, max_epochs=5000, rng=0)
    assert mined.history[0]["cache"] == 100 and mined.history[0]["hard_added"] > 0
    assert mined.history[-1]["hard_added"] == 0                           # converged: nothing hard is left out
    assert mined.history[-1]["cache"] < len(neg) / 3                      # ... having seen few negatives at once
    assert svm_objective(mined, x, y, C, weights) == pytest.approx(svm_objective(full, x, y, C, weights), rel=1e-4)


def test_fit_ridge_matches_the_normal_equations():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 6))
    t = x @ rng.normal(size=(6, 4)) + 3.0 + 0.1 * rng.normal(size=(50, 4))
    w, b = fit_ridge(x, t, lam=2.0)
    # [x 1] [W; b] with the penalty on W only: the normal equations of the augmented system
    xa = np.concatenate([x, np.ones((50, 1))], axis=1)
    penalty = np.diag([2.0] * 6 + [0.0])
    expected = np.linalg.solve(xa.T @ xa + penalty, xa.T @ t)
    np.testing.assert_allclose(w, expected[:6], atol=1e-10)
    np.testing.assert_allclose(b, expected[6], atol=1e-10)
    with pytest.raises(ValueError, match="lam: expected a positive number"):
        fit_ridge(x, t, lam=0.0)


# ---------------------------------------------------------------- detector folders

@pytest.mark.parametrize("kind,cls", [("rcnn", RCNN), ("fast-rcnn", FastRCNN), ("faster-rcnn", FasterRCNN)])
def test_region_detector_folder_round_trip(tmp_path, kind, cls):
    model = cls(4, (32, 32, 3), backbone=dict(widths=[4, 8], strides=[2, 2], stage_depth=1), rng=0)
    if kind == "rcnn":
        model.svm_weight[...] = np.random.default_rng(0).normal(size=model.svm_weight.shape)
    det = RegionDetector(model, kind, class_names=("a", "b", "c", "d"), score_threshold=0.0, max_proposals=50)
    det.save(tmp_path)
    info = json.loads((tmp_path / "detector.json").read_text())
    assert info["kind"] == kind and info["version"] == 2
    assert (info["proposals"] is None) == (kind == "faster-rcnn")
    again = load_detector(tmp_path)
    assert isinstance(again, RegionDetector) and again.kind == kind and again.class_names == ("a", "b", "c", "d")
    image = np.random.default_rng(1).random((40, 50, 3))
    a, b = det.detect(image), again.detect(image)
    np.testing.assert_allclose(a["scores"], b["scores"])
    np.testing.assert_allclose(a["boxes"], b["boxes"])
    assert np.all(a["boxes"][:, [0, 2]] <= 50) and np.all(a["boxes"][:, [1, 3]] <= 40)   # the caller's pixels
    with pytest.raises(ValueError, match=f"num_classes: asked for 5 classes, but the {kind} detector .* "
                                         f"trained for 4 \\(a, b, c, d\\)"):
        load_detector(tmp_path, num_classes=5)


def test_yolo_folders_still_load(tmp_path):
    from npvision.detection import Detector
    from npvision.models import create

    model = create("tiny_yolo", num_classes=2, input_shape=(32, 32, 3), widths=(4, 8, 8), neck=(8, 1))
    Detector(model, [[0.2, 0.2], [0.4, 0.4], [0.6, 0.6]], 2, input_size=(32, 32)).save(tmp_path)
    info = json.loads((tmp_path / "detector.json").read_text())
    assert info["kind"] == "yolo"
    del info["kind"]                                                   # a folder from before the kinds
    (tmp_path / "detector.json").write_text(json.dumps(info))
    det = load_detector(tmp_path)
    assert type(det).__name__ == "Detector"
    with pytest.raises(ValueError, match="num_classes: asked for 3 classes, but the yolo detector"):
        load_detector(tmp_path, num_classes=3)
    info["kind"] = "mask-rcnn"
    (tmp_path / "detector.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="unknown detector kind 'mask-rcnn'"):
        load_detector(tmp_path)


def test_region_detector_argument_errors():
    model = FastRCNN(4, (32, 32, 3), backbone=dict(widths=[4, 8], strides=[2, 2], stage_depth=1), rng=0)
    with pytest.raises(TypeError, match="model: a 'faster-rcnn' detector needs a FasterRCNN, received FastRCNN"):
        RegionDetector(model, "faster-rcnn")
    with pytest.raises(ValueError, match="kind: expected one of"):
        RegionDetector(model, "yolo")
    with pytest.raises(ValueError, match="class_names: expected 4 names"):
        RegionDetector(model, "fast-rcnn", class_names=("a", "b"))
    with pytest.raises(ValueError, match="gt_classes\\[0\\]: expected integer classes in \\[0, 4\\)"):
        model.train_step(np.zeros((1, 32, 32, 3)), [np.zeros((0, 4))], [np.zeros((0, 4))], [np.array([4])])
    with pytest.raises(ValueError, match="images: expected \\(N, 32, 32, 3\\)"):
        model.detect_batch(np.zeros((1, 16, 16, 3)), [np.zeros((0, 4))])
    with pytest.raises(ValueError, match="pooling: expected one of"):
        RoIBoxBranch(8, 2, 4, pooling="max")
