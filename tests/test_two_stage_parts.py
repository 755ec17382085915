"""The pieces every two-stage detector shares: box coder, anchors, matcher, sampler, losses,
the proposal layer, RoI targets, post-processing and proposal recall.

Reference values come from torchvision 0.29.1 (tests/data/two_stage_goldens.npz, written by
tests/data/make_two_stage_goldens.py); gradients are checked against central differences.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npvision.detection import (BOX_SCALE_CLAMP, AnchorGenerator, anchor_boxes, box_iou, decode_boxes,
                                encode_boxes, fast_rcnn_loss, generate_proposals, match_boxes,
                                postprocess_detections, proposal_recall, roi_head_targets, rpn_loss,
                                rpn_targets, sample_balanced)
from npvision.detection.anchor_generator import base_anchors
from npvision.gradcheck import check_loss

GOLDENS = np.load(os.path.join(os.path.dirname(__file__), "data", "two_stage_goldens.npz"))


def random_boxes(rng, n, scale=60.0):
    xy = rng.uniform(0, scale, size=(n, 2))
    wh = rng.uniform(2, scale / 2, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


# ---------------------------------------------------------------- box coder

@pytest.mark.parametrize("name,weights", [("unit", (1, 1, 1, 1)), ("head", (10, 10, 5, 5))])
def test_box_coder_matches_torchvision(name, weights):
    g = GOLDENS
    np.testing.assert_allclose(encode_boxes(g["coder_gt"], g["coder_ref"], weights), g[f"coder_encode_{name}"],
                               rtol=1e-12, atol=1e-12)
    # class-specific deltas (40, 12): 3 boxes per reference, some above the clamp
    np.testing.assert_allclose(decode_boxes(g[f"coder_deltas_{name}"], g["coder_ref"], weights),
                               g[f"coder_decode_{name}"], rtol=1e-12, atol=1e-9)


def test_encode_decode_round_trip_is_exact():
    rng = np.random.default_rng(0)
    gt, ref = random_boxes(rng, 200), random_boxes(rng, 200)
    for weights in ((1, 1, 1, 1), (10, 10, 5, 5), (2.0, 3.0, 0.5, 7.0)):
        t = encode_boxes(gt, ref, weights)
        np.testing.assert_allclose(decode_boxes(t, ref, weights), gt, rtol=0, atol=1e-12)
    t32 = encode_boxes(gt.astype(np.float32), ref.astype(np.float32))
    assert t32.dtype == np.float32
    np.testing.assert_allclose(decode_boxes(t32, ref.astype(np.float32)), gt, atol=1e-4)


def test_encode_by_hand_and_the_clamp():
    # reference 10x20 at (0, 0); target 20x10 shifted by (5, 10): t = (0.5 + ..., ...)
    ref = np.array([[0.0, 0, 10, 20]])
    gt = np.array([[0.0, 15, 20, 25]])                        # centre (10, 20) vs (5, 10)
    np.testing.assert_allclose(encode_boxes(gt, ref), [[0.5, 0.5, math.log(2), math.log(0.5)]])
    np.testing.assert_allclose(encode_boxes(gt, ref, (10, 10, 5, 5)),
                               [[5.0, 5.0, 5 * math.log(2), 5 * math.log(0.5)]])
    # a huge scale is clamped at log(1000/16): the box grows 62.5 times, never infinitely
    big = decode_boxes(np.array([[0.0, 0, 50.0, -5.0]]), ref)
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(big[0, 2] - big[0, 0], 10 * math.exp(BOX_SCALE_CLAMP))
    np.testing.assert_allclose(big[0, 2] - big[0, 0], 625.0)
    np.testing.assert_allclose(big[0, 3] - big[0, 1], 20 * math.exp(-5.0))     # clamped from above only


def test_box_coder_errors():
    ref = np.array([[0.0, 0, 10, 10]])
    with pytest.raises(ValueError, match="boxes: box 0 .* zero width or height"):
        encode_boxes(np.array([[1.0, 1, 1, 5]]), ref)
    with pytest.raises(ValueError, match="proposals: box 0 .* is inverted"):
        encode_boxes(ref, np.array([[5.0, 0, 1, 10]]))
    with pytest.raises(ValueError, match="proposals: expected one reference per box"):
        encode_boxes(np.ones((2, 4)) * [0, 0, 1, 1], ref)
    with pytest.raises(ValueError, match="deltas: expected an \\(N, 4\\) or \\(N, 4 K\\)"):
        decode_boxes(np.zeros((1, 6)), ref)
    with pytest.raises(ValueError, match="deltas: row 0 has a NaN"):
        decode_boxes(np.array([[0.0, np.nan, 0, 0]]), ref)
    with pytest.raises(ValueError, match="weights: expected four positive"):
        encode_boxes(ref, ref, (1, 1, 0, 1))
    with pytest.raises(ValueError, match="proposals: expected 2 reference boxes"):
        decode_boxes(np.zeros((2, 4)), ref)


# ---------------------------------------------------------------- anchors

ANCHOR_CASES = [((64, 64), (16, 16), (12, 20, 28), (0.5, 1.0, 2.0)),
                ((64, 48), (8, 6), (16, 32), (1.0,)),
                ((100, 60), (13, 7), (10, 15, 25), (0.7, 1.3))]


@pytest.mark.parametrize("case", range(len(ANCHOR_CASES)))
def test_anchors_match_torchvision(case):
    image, feat, sizes, ratios = ANCHOR_CASES[case]
    got = AnchorGenerator((sizes,), (ratios,)).anchors(feat, image)
    np.testing.assert_array_equal(got, GOLDENS[f"anchors_{case}"])
    stride = (image[0] // feat[0], image[1] // feat[1])
    np.testing.assert_array_equal(anchor_boxes(feat, stride, sizes, ratios), got)


def test_anchor_order_and_shape_by_hand():
    a = anchor_boxes((2, 3), 8, (16,), (0.5, 2.0))            # 2 x 3 locations, A = 2
    assert a.shape == (12, 4)
    # ratio 0.5 (h / w): w = 16 / sqrt(0.5) = 22.6 -> half 11.3 -> 11; h = 11.3 -> half 5.66 -> 6
    np.testing.assert_array_equal(a[0], [-11, -6, 11, 6])
    np.testing.assert_array_equal(a[1], [-6, -11, 6, 11])    # ratio 2: the tall one, same location
    np.testing.assert_array_equal(a[2], [-11 + 8, -6, 11 + 8, 6])   # next location: x + stride
    np.testing.assert_array_equal(a[3 * 2], [-11, -6 + 8, 11, 6 + 8])  # row 1 starts at location 3
    # halves round to even: size 5, ratio 1 -> [-2.5, ...] -> -2
    np.testing.assert_array_equal(base_anchors((5,), (1.0,)), [[-2, -2, 2, 2]])


@settings(max_examples=40, deadline=None)
@given(hf=st.integers(1, 9), wf=st.integers(1, 9), stride=st.integers(1, 16),
       n_sizes=st.integers(1, 4), n_ratios=st.integers(1, 3))
def test_anchor_count_formula(hf, wf, stride, n_sizes, n_ratios):
    sizes = tuple(8 * (i + 1) for i in range(n_sizes))
    ratios = tuple(0.5 * (i + 1) for i in range(n_ratios))
    a = anchor_boxes((hf, wf), stride, sizes, ratios)
    assert a.shape == (hf * wf * n_sizes * n_ratios, 4)
    centres = ((a[:, :2] + a[:, 2:]) / 2).reshape(hf, wf, -1, 2)       # (Hf, Wf, A, 2)
    np.testing.assert_allclose(centres[..., 0], np.arange(wf)[None, :, None] * stride * np.ones_like(centres[..., 0]))
    np.testing.assert_allclose(centres[..., 1], np.arange(hf)[:, None, None] * stride * np.ones_like(centres[..., 1]))


def test_anchor_generator_errors_when_levels_do_not_match():
    gen = AnchorGenerator(((16, 32),), ((1.0,),))
    assert gen.num_anchors == (2,)
    with pytest.raises(ValueError, match="1 level\\(s\\) of sizes .* but 2 feature map\\(s\\)"):
        gen.anchors([(16, 16), (8, 8)], (64, 64))
    with pytest.raises(ValueError, match="aspect_ratios: expected one sequence of ratios per feature level"):
        AnchorGenerator(((16,), (32,), (64,)), ((1.0,), (0.5, 2.0)))
    two = AnchorGenerator(((16,), (32,)), ((1.0, 2.0),))          # one set of ratios shared by both levels
    assert two.num_anchors == (2, 2)
    assert two.anchors([(4, 4), (2, 2)], (32, 32)).shape == ((16 + 4) * 2, 4)
    with pytest.raises(ValueError, match="sizes\\[0\\]: expected a non-empty sequence of positive"):
        AnchorGenerator(((16, -2),))
    with pytest.raises(ValueError, match="larger than the 8x8 image"):
        gen.anchors([(16, 16)], (8, 8))


# ---------------------------------------------------------------- matcher and sampler

@pytest.mark.parametrize("name,args", [("rpn", (0.7, 0.3, True)), ("rpn_strict", (0.7, 0.3, False)),
                                       ("head", (0.5, 0.5, False))])
def test_matcher_matches_torchvision(name, args):
    got = match_boxes(GOLDENS["match_iou"], *args)
    np.testing.assert_array_equal(got, GOLDENS[f"match_{name}"])


def test_matcher_rules_by_hand():
    iou = np.array([[0.80, 0.10],    # foreground, box 0
                    [0.50, 0.20],    # between 0.3 and 0.7: ignored
                    [0.10, 0.20],    # background
                    [0.10, 0.45],    # box 1's best anchor: rescued as a low-quality match
                    [0.05, 0.45]])   # tied for box 1's best: rescued too
    np.testing.assert_array_equal(match_boxes(iou, 0.7, 0.3), [0, -2, -1, -2, -2])
    np.testing.assert_array_equal(match_boxes(iou, 0.7, 0.3, allow_low_quality_matches=True), [0, -2, -1, 1, 1])
    assert np.all(match_boxes(np.zeros((3, 0)), 0.7, 0.3) == -1)          # no ground truth: all background
    # a box overlapping nothing rescues nothing (torchvision would make every anchor positive)
    np.testing.assert_array_equal(match_boxes(np.array([[0.9, 0.0], [0.1, 0.0]]), 0.7, 0.3, True), [0, -1])
    with pytest.raises(ValueError, match="low_threshold: expected <= high_threshold"):
        match_boxes(iou, 0.3, 0.7)


def test_sampler_balances_and_is_seeded():
    labels = np.array([1] * 30 + [0] * 500 + [-1] * 40)
    pos, neg = sample_balanced(labels, 64, 0.25, rng=3)
    assert len(pos) == 16 and len(neg) == 48
    assert np.all(labels[pos] == 1) and np.all(labels[neg] == 0)
    assert len(np.unique(neg)) == 48                                      # without replacement
    pos2, neg2 = sample_balanced(labels, 64, 0.25, rng=3)
    np.testing.assert_array_equal(neg, neg2)
    pos, neg = sample_balanced(labels, 256, 0.5, rng=0)                   # too few positives: negatives fill
    assert len(pos) == 30 and len(neg) == 226
    pos, neg = sample_balanced(np.array([0, 0, -1]), 8, 0.5, rng=0)
    assert len(pos) == 0 and len(neg) == 2
    with pytest.raises(ValueError, match="positive_fraction: expected a number in \\[0, 1\\]"):
        sample_balanced(labels, 8, 1.5)


# ---------------------------------------------------------------- losses

def test_losses_match_torchvision():
    g = GOLDENS
    _, _, terms = fast_rcnn_loss(g["head_logits"], g["head_deltas"], g["head_labels"], g["head_targets"])
    np.testing.assert_allclose([terms["classifier"], terms["box"]], g["head_loss"], rtol=1e-12)
    _, _, terms = rpn_loss(g["rpn_objectness"], g["rpn_deltas"], g["rpn_labels"], g["rpn_targets"])
    np.testing.assert_allclose([terms["objectness"], terms["box"]], g["rpn_loss"], rtol=1e-12)


def _loss_inputs(rng, r=12, k1=4):
    logits = rng.normal(size=(r, k1))
    deltas = rng.normal(0, 0.5, size=(r, 4 * k1))
    labels = rng.integers(0, k1, size=r)
    labels[:3] = 0
    labels[3] = 2
    targets = rng.normal(0, 0.5, size=(r, 4))
    return logits, deltas, labels, targets


@pytest.mark.parametrize("beta", [1.0 / 9, 1.0])
def test_fast_rcnn_loss_gradients(beta):
    logits, deltas, labels, targets = _loss_inputs(np.random.default_rng(1))
    check_loss(lambda z: (lambda out: (out[0], out[1][0]))(fast_rcnn_loss(z, deltas, labels, targets, beta)), logits)
    check_loss(lambda d: (lambda out: (out[0], out[1][1]))(fast_rcnn_loss(logits, d, labels, targets, beta)), deltas)


def test_fast_rcnn_loss_only_the_own_class_box_learns():
    logits, deltas, labels, targets = _loss_inputs(np.random.default_rng(2))
    _, (_, dd), terms = fast_rcnn_loss(logits, deltas, labels, targets)
    dd = dd.reshape(len(labels), -1, 4)
    for i, u in enumerate(labels):
        others = [k for k in range(dd.shape[1]) if k != u or u == 0]
        assert np.all(dd[i, others] == 0)                                  # background rows: nothing at all
        if u > 0:
            assert np.any(dd[i, u] != 0)
    # the box term by hand: smooth L1 (beta 1/9) of the own-class deltas, summed, over R
    own = deltas.reshape(len(labels), -1, 4)[np.arange(len(labels)), labels][labels > 0]
    d = np.abs(own - targets[labels > 0])
    expected = np.where(d < 1 / 9, 0.5 * d * d * 9, d - 0.5 / 9).sum() / len(labels)
    assert terms["box"] == pytest.approx(expected, rel=1e-12)


def test_rpn_loss_gradients_and_ignored_anchors():
    rng = np.random.default_rng(3)
    a = 30
    obj = rng.normal(size=a)
    deltas = rng.normal(0, 0.3, size=(a, 4))
    labels = np.full(a, -1)
    labels[:6] = 1
    labels[6:20] = 0
    targets = rng.normal(0, 0.3, size=(a, 4))
    check_loss(lambda o: (lambda out: (out[0], out[1][0]))(rpn_loss(o, deltas, labels, targets)), obj)
    check_loss(lambda d: (lambda out: (out[0], out[1][1]))(rpn_loss(obj, d, labels, targets)), deltas)
    _, (d_obj, d_del), terms = rpn_loss(obj, deltas, labels, targets)
    assert np.all(d_obj[20:] == 0) and np.all(d_del[6:] == 0)            # ignored and negative rows
    p = 1 / (1 + np.exp(-obj[:20]))
    y = (labels[:20] == 1).astype(float)
    assert terms["objectness"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-10)
    loss, grads, _ = rpn_loss(obj, deltas, np.full(a, -1), targets)       # nothing sampled
    assert loss == 0.0 and not np.any(grads[0]) and not np.any(grads[1])


def test_loss_errors():
    logits, deltas, labels, targets = _loss_inputs(np.random.default_rng(4))
    with pytest.raises(ValueError, match="box_deltas: expected shape \\(12, 16\\)"):
        fast_rcnn_loss(logits, deltas[:, :8], labels, targets)
    with pytest.raises(ValueError, match="labels: expected values in \\[0, 3\\], received 7"):
        fast_rcnn_loss(logits, deltas, np.where(labels == 2, 7, labels), targets)
    with pytest.raises(ValueError, match="labels: expected values in \\[-1, 1\\]"):
        rpn_loss(np.zeros(3), np.zeros((3, 4)), np.array([0, 2, 1]), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="beta: expected a number >= 0"):
        fast_rcnn_loss(logits, deltas, labels, targets, beta=-1)


# ---------------------------------------------------------------- targets, proposals, post-processing

def test_rpn_targets_label_and_encode():
    anchors = anchor_boxes((8, 8), 8, (16, 24), (1.0,))                  # 128 anchors on a 64x64 image
    gt = np.array([[10.0, 12, 30, 34], [40, 40, 60, 58]])
    labels, targets = rpn_targets(anchors, [gt, np.zeros((0, 4))], batch_size_per_image=32, rng=0)
    assert labels.shape == (2, 128) and targets.shape == (2, 128, 4)
    assert 1 <= (labels[0] == 1).sum() <= 16 and (labels[0] >= 0).sum() == 32
    iou = box_iou(anchors, gt)
    pos = np.flatnonzero(labels[0] == 1)
    # every positive is >= 0.7 or some box's best anchor; its target decodes onto that box
    best_of_box = iou.max(axis=0)
    assert np.all((iou[pos].max(axis=1) >= 0.7) | np.any(iou[pos] == best_of_box, axis=1))
    np.testing.assert_allclose(decode_boxes(targets[0, pos], anchors[pos]), gt[iou[pos].argmax(axis=1)], atol=1e-4)
    assert np.all(iou[labels[0] == 0].max(axis=1) < 0.3)
    assert (labels[1] == 1).sum() == 0 and (labels[1] == 0).sum() == 32   # no boxes: all negatives


def test_proposal_layer_matches_torchvision():
    g = GOLDENS
    anchors = AnchorGenerator(((12, 20, 28),), ((0.5, 1.0, 2.0),)).anchors((12, 12), (48, 48))
    results = generate_proposals(g["prop_objectness"], g["prop_deltas"], anchors, (48, 48), pre_nms_top_n=300,
                                 post_nms_top_n=100, nms_threshold=0.7, min_size=0.5, score_threshold=0.05)
    for i, (boxes, scores) in enumerate(results):
        assert boxes.shape == g[f"prop_boxes_{i}"].shape
        np.testing.assert_allclose(boxes, g[f"prop_boxes_{i}"], atol=1e-5)    # float32 exp, rounding
        np.testing.assert_allclose(scores, g[f"prop_scores_{i}"], rtol=1e-6)
        assert np.all(boxes[:, 2] - boxes[:, 0] >= 0.5) and np.all(boxes >= 0) and np.all(boxes <= 48)


def test_postprocess_matches_torchvision():
    g = GOLDENS
    found = postprocess_detections(g["post_logits"], g["post_deltas"], g["post_proposals"], (48, 48),
                                   score_threshold=0.05, nms_threshold=0.5, detections_per_image=30)
    np.testing.assert_allclose(found["boxes"], g["post_boxes"], atol=1e-5)
    np.testing.assert_allclose(found["scores"], g["post_scores"], rtol=1e-6)
    np.testing.assert_array_equal(found["classes"], g["post_labels"] - 1)      # npvision classes start at 0


def test_roi_head_targets():
    rng = np.random.default_rng(5)
    gt = [np.array([[10.0, 10, 30, 30], [34, 30, 60, 50]]), np.array([[5.0, 5, 20, 25]])]
    cls = [np.array([2, 0]), np.array([3])]
    props = [random_boxes(rng, 40, 40.0), random_boxes(rng, 30, 40.0)]
    rois, labels, targets, matched = roi_head_targets(props, gt, cls, batch_size_per_image=16, rng=0)
    assert rois.shape[1] == 5 and len(rois) == len(labels) == len(targets) == len(matched) == 32
    assert set(np.unique(rois[:, 0])) == {0.0, 1.0}
    for r, lab, t, m in zip(rois, labels, targets, matched):
        b = int(r[0])
        if lab > 0:
            assert lab == cls[b][m] + 1
            assert box_iou(r[None, 1:], gt[b][m][None])[0, 0] >= 0.5
            np.testing.assert_allclose(decode_boxes(t[None], r[None, 1:], (10, 10, 5, 5))[0], gt[b][m], atol=1e-9)
        else:
            assert m == -1 and not np.any(t)
            assert box_iou(r[None, 1:], gt[b]).max() < 0.5
    assert (labels > 0).sum() <= 2 * 4                                     # at most a quarter foreground
    # the ground-truth boxes themselves are candidates: with no proposals they are the positives
    rois, labels, _, _ = roi_head_targets([np.zeros((0, 4))], [gt[0]], [cls[0]], rng=0)
    np.testing.assert_array_equal(np.sort(labels), [1, 3])


def test_proposal_recall_by_hand():
    gt = [np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0.0, 0, 8, 8]])]
    props = [np.array([[0.0, 0, 10, 9], [50, 50, 60, 60], [20, 20, 30, 31]]), np.array([[30.0, 30, 40, 40]])]
    r = proposal_recall(props, gt, counts=(1, 2, 3, 10))
    assert r[1]["recall"] == pytest.approx(1 / 3) and r[2]["recall"] == pytest.approx(1 / 3)
    assert r[3]["recall"] == pytest.approx(2 / 3) and r[10]["recall"] == pytest.approx(2 / 3)
    assert r[2]["mean_proposals"] == 1.5 and r[10]["mean_proposals"] == 2.0     # (2 + 1) / 2, (3 + 1) / 2
    assert proposal_recall(props, gt, counts=(3,), iou_threshold=0.95)[3]["recall"] == 0.0
