"""YOLO math: target encoding and its inverse, the decoder, the loss and its gradient, post-processing."""

import numpy as np
import pytest

from npvision.detection import (batched_nms, decode_yolo, decode_yolo_targets, encode_yolo_targets,
                                mean_average_precision, yolo_boxes_to_corners, yolo_eval,
                                yolo_filter_boxes, yolo_head, yolo_loss, yolo_non_max_suppression,
                                yolo_postprocess)
from npvision.gradcheck import check_loss

ANCHORS = np.array([[0.1, 0.1], [0.3, 0.2], [0.4, 0.5]])
SIZE = (64, 64)


def logit(p):
    return np.log(p / (1 - p))


def output_from_targets(targets, noobj_logit=-30.0, class_logit=30.0):
    """A raw output that encodes ``targets`` exactly: inverse sigmoid of the offsets, the log
    sizes as they are, objectness and class logits very large where there is an object."""
    t = targets.astype(np.float64)
    out = np.zeros_like(t)
    m = t[..., 4] > 0.5
    out[..., 0] = np.where(m, logit(np.clip(t[..., 0], 1e-12, 1 - 1e-12)), 0.0)
    out[..., 1] = np.where(m, logit(np.clip(t[..., 1], 1e-12, 1 - 1e-12)), 0.0)
    out[..., 2:4] = t[..., 2:4]
    out[..., 4] = np.where(m, -noobj_logit, noobj_logit)
    out[..., 5:] = np.where(m[..., None], class_logit * (2 * t[..., 5:] - 1), 0.0)
    return out.reshape(t.shape[:3] + (-1,))                           # (N, S, S, B (5 + K))


# ----------------------------------------------------------------------------- encoding

def test_encode_layout_and_values():
    boxes = [np.array([[3.0, 4, 20, 30], [30, 30, 60, 50]])]
    t, where = encode_yolo_targets(boxes, [np.array([0, 2])], SIZE, 4, ANCHORS, 3, return_assignment=True)
    assert t.shape == (1, 4, 4, 3, 8) and t.dtype == np.float32
    # box 0: centre (11.5, 17) px -> (0.1796875, 0.265625) -> cell row 1, column 0
    # shape (17/64, 26/64): IoU with the anchors 0.1125.., 0.463.., 0.5398.. -> anchor 2
    assert where[0][0].tolist() == [1, 0, 2]
    cx, cy, w, h = 11.5 / 64, 17 / 64, 17 / 64, 26 / 64
    expected = [cx * 4 - 0, cy * 4 - 1, np.log(w / 0.4), np.log(h / 0.5), 1, 1, 0, 0]
    np.testing.assert_allclose(t[0, 1, 0, 2], expected, rtol=1e-6, atol=1e-6)
    assert where[0][1].tolist() == [2, 2, 2]
    assert np.count_nonzero(t[..., 4]) == 2                           # zeros elsewhere
    assert t[0, 2, 2, 2, 5 + 2] == 1


def test_encode_then_decode_gives_the_boxes_back():
    rng = np.random.default_rng(1)
    boxes, classes = [], []
    for _ in range(3):
        k = rng.integers(1, 5)
        xy = rng.uniform(0, 40, size=(k, 2))
        wh = rng.uniform(4, 24, size=(k, 2))
        boxes.append(np.concatenate([xy, xy + wh], axis=1))
        classes.append(rng.integers(0, 3, size=k))
    t, where = encode_yolo_targets(boxes, classes, SIZE, 8, ANCHORS, 3, return_assignment=True)
    back = decode_yolo_targets(t, ANCHORS, SIZE)
    out = output_from_targets(t)
    dec = decode_yolo(out, ANCHORS, 3)
    for n in range(3):
        kept = where[n][:, 0] >= 0
        order = np.lexsort(where[n][kept].T[::-1])                    # the decoder's (row, col, anchor) order
        np.testing.assert_allclose(back[n]["boxes"], boxes[n][kept][order], atol=1e-4)
        np.testing.assert_array_equal(back[n]["classes"], classes[n][kept][order])
        # the network decoder, on an output encoding the targets, gives the same boxes (fractions)
        i, j, a = where[n][kept].T
        np.testing.assert_allclose(dec["boxes"][n, i, j, a] * 64, boxes[n][kept], atol=1e-4)
        np.testing.assert_allclose(dec["class_probs"][n, i, j, a].argmax(-1), classes[n][kept])


def test_box_centre_on_a_cell_border():
    # centre x = 16 px = exactly the border between columns 1 and 2 of a 4-cell grid (16 px cells)
    t, where = encode_yolo_targets([np.array([[8.0, 8, 24, 40]])], [np.array([1])], SIZE, 4, ANCHORS, 2,
                                   return_assignment=True)
    i, j, a = where[0][0]
    assert (i, j) == (1, 1)                                           # y = 24 px -> row 1 (0.5 of it)
    t2, where2 = encode_yolo_targets([np.array([[0.0, 0, 32, 32]])], [np.array([1])], SIZE, 4, ANCHORS, 2,
                                     return_assignment=True)
    assert tuple(where2[0][0][:2]) == (1, 1)                          # centre (16, 16): the cell right/below
    assert t2[0, 1, 1, where2[0][0][2], 0] == 0.0 and t2[0, 1, 1, where2[0][0][2], 1] == 0.0
    back = decode_yolo_targets(t2, ANCHORS, SIZE)
    np.testing.assert_allclose(back[0]["boxes"], [[0, 0, 32, 32]], atol=1e-4)
    # a box touching the right/bottom image edges stays in the last cell
    _, w3 = encode_yolo_targets([np.array([[60.0, 60, 64, 64]])], [np.array([0])], SIZE, 4, ANCHORS, 2,
                                return_assignment=True)
    assert tuple(w3[0][0][:2]) == (3, 3)


def test_collision_rule():
    # two boxes of the same shape and centre: the second takes the next-best anchor of the cell
    same = np.array([[10.0, 10, 30, 24], [10, 10, 30, 24]])
    _, where = encode_yolo_targets([same], [np.array([0, 1])], SIZE, 2, ANCHORS, 2, return_assignment=True)
    assert where[0][0].tolist() == [0, 0, 1] and where[0][1].tolist() == [0, 0, 2]
    # more objects than anchors in one cell: the smallest is dropped, the larger win
    boxes = np.array([[2.0, 2, 6, 6], [1, 1, 30, 30], [0, 0, 20, 12], [3, 3, 12, 12]])
    t, where = encode_yolo_targets([boxes], [np.array([0, 1, 0, 1])], SIZE, 2, ANCHORS, 2,
                                   return_assignment=True)
    assert where[0][0].tolist() == [-1, -1, -1]                       # the 4x4 box: smallest, dropped
    assert sorted(where[0][1:, 2].tolist()) == [0, 1, 2]
    assert t[..., 4].sum() == 3
    # the largest box got its best anchor (the biggest), not a leftover
    assert where[0][1].tolist() == [0, 0, 2]


def test_empty_images_and_non_square_grid():
    t = encode_yolo_targets([np.zeros((0, 4)), np.array([[0.0, 0, 10, 10]])],
                            [np.zeros(0, dtype=int), np.array([1])], (32, 64), (2, 4), ANCHORS, 2)
    assert t.shape == (2, 2, 4, 3, 7)
    assert not t[0].any() and t[1, ..., 4].sum() == 1
    assert decode_yolo_targets(t, ANCHORS, (32, 64))[0]["boxes"].shape == (0, 4)
    np.testing.assert_allclose(decode_yolo_targets(t, ANCHORS, (32, 64))[1]["boxes"], [[0, 0, 10, 10]],
                               atol=1e-4)


def test_encode_rejects_bad_boxes_naming_image_and_box():
    good = np.array([[1.0, 1, 5, 5]])
    with pytest.raises(ValueError, match=r"boxes\[1\]: box 1 of image 1 .* outside"):
        encode_yolo_targets([good, np.array([[1.0, 1, 5, 5], [50, 50, 70, 60]])],
                            [np.array([0]), np.array([0, 0])], SIZE, 4, ANCHORS, 2)
    with pytest.raises(ValueError, match=r"box 0 of image 0 .* outside"):
        encode_yolo_targets([np.array([[-3.0, 1, 5, 5]])], [np.array([0])], SIZE, 4, ANCHORS, 2)
    with pytest.raises(ValueError, match="zero width or height"):
        encode_yolo_targets([np.array([[3.0, 1, 3, 5]])], [np.array([0])], SIZE, 4, ANCHORS, 2)
    with pytest.raises(ValueError, match=r"classes\[0\].*class 2"):
        encode_yolo_targets([good], [np.array([2])], SIZE, 4, ANCHORS, 2)
    with pytest.raises(ValueError, match=r"classes\[0\]: expected 1 class ids"):
        encode_yolo_targets([good], [np.array([0, 1])], SIZE, 4, ANCHORS, 2)
    with pytest.raises(TypeError, match="one .* array per image"):
        encode_yolo_targets(good, [np.array([0])], SIZE, 4, ANCHORS, 2)
    with pytest.raises(ValueError, match="anchors"):
        encode_yolo_targets([good], [np.array([0])], SIZE, 4, np.array([[0.1, -0.1]]), 2)
    # rounding-sized overhang is accepted (clipped)
    encode_yolo_targets([np.array([[-1e-5, 0, 64.00001, 10]])], [np.array([0])], SIZE, 4, ANCHORS, 2)


# ----------------------------------------------------------------------------- decoding

def test_decode_formulas_and_dtype():
    rng = np.random.default_rng(0)
    out = rng.standard_normal((2, 3, 4, 3 * 7)).astype(np.float32)
    d = decode_yolo(out, ANCHORS, 2)
    assert d["boxes"].shape == (2, 3, 4, 3, 4) and d["objectness"].shape == (2, 3, 4, 3)
    assert d["class_probs"].shape == (2, 3, 4, 3, 2)
    assert all(v.dtype == np.float32 for v in d.values())
    p = out.reshape(2, 3, 4, 3, 7).astype(np.float64)[1, 2, 3, 1]   # image 1, row 2, column 3, anchor 1
    sig = lambda v: 1 / (1 + np.exp(-v))                              # noqa: E731
    cx, cy = (3 + sig(p[0])) / 4, (2 + sig(p[1])) / 3
    w, h = 0.3 * np.exp(p[2]), 0.2 * np.exp(p[3])
    np.testing.assert_allclose(d["boxes"][1, 2, 3, 1], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2],
                               rtol=1e-5)
    np.testing.assert_allclose(d["objectness"][1, 2, 3, 1], sig(p[4]), rtol=1e-5)
    np.testing.assert_allclose(d["class_probs"][1, 2, 3, 1], np.exp(p[5:]) / np.exp(p[5:]).sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="21 channels"):
        decode_yolo(out[..., :20], ANCHORS, 2)
    with pytest.raises(TypeError, match="floating-point"):
        decode_yolo(out.astype(np.int32), ANCHORS, 2)


# ----------------------------------------------------------------------------- the loss

def one_object_case():
    """A 2x2 grid, B = 2 anchors, K = 2 classes, one object in cell (1, 0) at anchor 1."""
    anchors = np.array([[0.2, 0.2], [0.5, 0.4]])
    targets = np.zeros((1, 2, 2, 2, 7))
    targets[0, 1, 0, 1] = [0.25, 0.75, np.log(1.2), np.log(0.9), 1, 0, 1]
    out = np.zeros((1, 2, 2, 2, 7))
    out[0, 1, 0, 1] = [0.0, 1.0, 0.1, -0.2, 0.5, 0.3, -0.4]
    out[..., 4] += np.array([-1.0, 2.0])                              # the other anchors' objectness
    return anchors, targets, out


def test_loss_terms_by_hand():
    anchors, targets, out = one_object_case()
    s = lambda v: 1 / (1 + np.exp(-v))                                # noqa: E731
    loss, dout, terms = yolo_loss(out.reshape(1, 2, 2, 14), targets, anchors, return_terms=True)
    coord = 5.0 * ((s(0.0) - 0.25) ** 2 + (s(1.0) - 0.75) ** 2 + (0.1 - np.log(1.2)) ** 2
                   + (-0.2 - np.log(0.9)) ** 2)
    obj = (s(0.5 + 2.0) - 1) ** 2                                     # responsible: anchor 1, t_o = 2.5
    # no-object anchors: anchor 0 of all 4 cells (t_o = -1) and anchor 1 of the 3 other cells (t_o = 2)
    noobj = 0.5 * (4 * s(-1.0) ** 2 + 3 * s(2.0) ** 2)
    p = np.exp([0.3, -0.4]) / np.exp([0.3, -0.4]).sum()
    cls = (p[0] - 0) ** 2 + (p[1] - 1) ** 2
    assert terms["coord"] == pytest.approx(coord, rel=1e-12)
    assert terms["obj"] == pytest.approx(obj, rel=1e-12)
    assert terms["noobj"] == pytest.approx(noobj, rel=1e-12)
    assert terms["class"] == pytest.approx(cls, rel=1e-12)
    assert loss == pytest.approx(coord + obj + noobj + cls, rel=1e-12)
    assert dout.shape == (1, 2, 2, 14)
    # the logistic / cross-entropy options
    _, _, t2 = yolo_loss(out.reshape(1, 2, 2, 14), targets, anchors, objectness_loss="logistic",
                         class_loss="cross_entropy", return_terms=True)
    assert t2["obj"] == pytest.approx(-np.log(s(2.5)), rel=1e-12)
    assert t2["noobj"] == pytest.approx(0.5 * (4 * -np.log(1 - s(-1.0)) + 3 * -np.log(1 - s(2.0))), rel=1e-12)
    assert t2["class"] == pytest.approx(-np.log(p[1]), rel=1e-12)
    assert t2["coord"] == pytest.approx(coord, rel=1e-12)


def test_loss_is_a_batch_mean_and_lambdas_scale_their_terms():
    anchors, targets, out = one_object_case()
    o = out.reshape(1, 2, 2, 14)
    _, _, base = yolo_loss(o, targets, anchors, return_terms=True)
    _, _, two = yolo_loss(np.concatenate([o, o]), np.concatenate([targets, targets]), anchors,
                          return_terms=True)
    for k in base:
        assert two[k] == pytest.approx(base[k], rel=1e-12)            # mean over the batch
    weights = dict(lambda_coord=1.0, lambda_noobj=2.0, lambda_obj=3.0, lambda_class=0.25)
    _, _, w = yolo_loss(o, targets, anchors, return_terms=True, **weights)
    assert w["coord"] == pytest.approx(base["coord"] / 5.0, rel=1e-12)
    assert w["noobj"] == pytest.approx(base["noobj"] * 4.0, rel=1e-12)
    assert w["obj"] == pytest.approx(base["obj"] * 3.0, rel=1e-12)
    assert w["class"] == pytest.approx(base["class"] * 0.25, rel=1e-12)
    loss0, d0 = yolo_loss(o, targets, anchors, lambda_coord=0, lambda_noobj=0, lambda_obj=0, lambda_class=0)
    assert loss0 == 0 and not d0.any()


def test_zero_loss_when_the_output_encodes_the_targets():
    boxes = [np.array([[3.0, 4, 20, 30], [30, 30, 60, 50]]), np.array([[10.0, 12, 40, 44]])]
    t = encode_yolo_targets(boxes, [np.array([0, 2]), np.array([1])], SIZE, 4, ANCHORS, 3).astype(np.float64)
    out = output_from_targets(t)
    loss, dout = yolo_loss(out, t, ANCHORS)
    assert loss < 1e-20 and np.abs(dout).max() < 1e-12
    loss, _ = yolo_loss(out, t, ANCHORS, objectness_loss="logistic", class_loss="cross_entropy")
    assert loss < 1e-10                                               # log terms: exp(-30) level


@pytest.mark.parametrize("objectness_loss", ["squared", "logistic"])
@pytest.mark.parametrize("class_loss", ["squared", "cross_entropy"])
def test_loss_gradient_check(objectness_loss, class_loss):
    rng = np.random.default_rng(3)
    boxes = [np.array([[3.0, 4, 20, 30], [30, 30, 60, 50]]), np.zeros((0, 4))]
    t = encode_yolo_targets(boxes, [np.array([0, 2]), np.zeros(0, int)], SIZE, 3, ANCHORS, 3)
    out = rng.standard_normal((2, 3, 3, 3 * 8))
    weights = dict(lambda_coord=2.0, lambda_noobj=0.7, lambda_obj=1.3, lambda_class=0.8)
    check_loss(yolo_loss, out, t.astype(np.float64), ANCHORS, objectness_loss=objectness_loss,
               class_loss=class_loss, **weights)


def test_loss_dtype_and_errors():
    anchors, targets, out = one_object_case()
    o32 = out.reshape(1, 2, 2, 14).astype(np.float32)
    loss, d = yolo_loss(o32, targets.astype(np.float32), anchors)
    assert d.dtype == np.float32 and isinstance(loss, float)
    with pytest.raises(ValueError, match="targets: expected shape"):
        yolo_loss(o32, targets[:, :1], anchors)
    with pytest.raises(ValueError, match="objectness_loss"):
        yolo_loss(o32, targets, anchors, objectness_loss="bce")
    with pytest.raises(ValueError, match="class_loss"):
        yolo_loss(o32, targets, anchors, class_loss="focal")
    with pytest.raises(ValueError, match="lambda_noobj"):
        yolo_loss(o32, targets, anchors, lambda_noobj=-1)


# ----------------------------------------------------------------------------- post-processing

def hand_made_output():
    """One image, 2x2 grid, one anchor (0.25 x 0.25 of a 100x100 image), K = 2.

    Cell (0, 0): class 0, objectness 0.9, centre (50 sigmoid(2), 25) px, 25 x 25 px.
    Cell (0, 1): class 0, objectness 0.8, centre (50 (1 + sigmoid(-2)), 25): IoU 0.35 with the first.
    Cell (1, 1): class 1, objectness 0.7, box [62.5, 62.5, 87.5, 87.5].
    Cell (1, 0): objectness 0.001.
    """
    out = np.full((1, 2, 2, 7), -10.0)
    out[0, 0, 0] = [2, 0, 0, 0, logit(0.9), 8, -8]
    out[0, 0, 1] = [-2, 0, 0, 0, logit(0.8), 8, -8]
    out[0, 1, 1] = [0, 0, 0, 0, logit(0.7), -8, 8]
    out[0, 1, 0] = [0, 0, 0, 0, logit(0.001), 8, -8]
    return out, np.array([[0.25, 0.25]])


def test_postprocess_hand_made():
    out, anchors = hand_made_output()
    x1 = 50 / (1 + np.exp(-2.0))                                      # the two centres, px
    x2 = 50 * (1 + 1 / (1 + np.exp(2.0)))
    iou = (25 - (x2 - x1)) / (25 + (x2 - x1))                         # same rows: IoU along x only
    assert 0.3 < iou < 0.5
    p = 1 / (1 + np.exp(-16))                                         # class prob of the winner
    # NMS at 0.5: the overlapping box survives (IoU ~0.33 <= 0.5)
    (r,) = yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=0.5, iou_threshold=0.5)
    np.testing.assert_allclose(r["boxes"], [[x1 - 12.5, 12.5, x1 + 12.5, 37.5], [x2 - 12.5, 12.5, x2 + 12.5, 37.5],
                                            [62.5, 62.5, 87.5, 87.5]], atol=1e-9)
    np.testing.assert_allclose(r["scores"], [0.9 * p, 0.8 * p, 0.7 * p], rtol=1e-12)
    assert r["classes"].tolist() == [0, 0, 1] and r["classes"].dtype == np.int64
    # NMS at 0.3: the second box of class 0 is suppressed by the first; class 1 is untouched
    (r,) = yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=0.5, iou_threshold=0.3)
    assert r["classes"].tolist() == [0, 1]
    np.testing.assert_allclose(r["scores"], [0.9 * p, 0.7 * p], rtol=1e-12)
    # threshold filtering, max_detections
    (r,) = yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=0.75, iou_threshold=0.5)
    assert r["scores"].tolist() == pytest.approx([0.9 * p, 0.8 * p])
    (r,) = yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=0.0, iou_threshold=0.5)
    assert len(r["scores"]) == 4 and r["scores"][-1] == pytest.approx(0.001 * p)
    (r,) = yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=0.0, max_detections=2)
    assert len(r["scores"]) == 2 and r["classes"].tolist() == [0, 0]
    (r,) = yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=0.99)
    assert r["boxes"].shape == (0, 4) and r["scores"].shape == (0,) and r["classes"].shape == (0,)


def test_postprocess_clips_and_feeds_map():
    out, anchors = hand_made_output()
    out[0, 1, 1, 2:4] = np.log(3.0)                                   # a 75x75 box centred at (75, 75)
    dets = yolo_postprocess(out.astype(np.float32), anchors, 2, (100, 100), score_threshold=0.5)
    assert dets[0]["boxes"].dtype == np.float32
    np.testing.assert_allclose(dets[0]["boxes"][-1], [37.5, 37.5, 100, 100], atol=1e-4)
    x1 = 50 / (1 + np.exp(-2.0))
    truth = [{"boxes": np.array([[x1 - 12.5, 12.5, x1 + 12.5, 37.5], [37.5, 37.5, 100, 100]]),
              "classes": np.array([0, 1])}]
    res = mean_average_precision(dets, truth, iou_thresholds=[0.5])
    assert res["map"] == pytest.approx(1.0)                           # the duplicate is a false positive last
    with pytest.raises(ValueError, match="score_threshold"):
        yolo_postprocess(out, anchors, 2, (100, 100), score_threshold=1.5)


def test_course_steps_agree_with_postprocess():
    rng = np.random.default_rng(5)
    out = rng.standard_normal((2, 4, 4, 3 * 7)) * 2
    box_xy, box_wh, conf, probs = yolo_head(out, ANCHORS, 2)
    assert box_xy.shape == (2, 4, 4, 3, 2) and conf.shape == (2, 4, 4, 3, 1)
    corners = yolo_boxes_to_corners(box_xy, box_wh)
    np.testing.assert_allclose(corners, decode_yolo(out, ANCHORS, 2)["boxes"], atol=1e-12)
    s, b, c = yolo_filter_boxes(corners[0], conf[0], probs[0], threshold=0.3)
    with pytest.raises(ValueError, match="swapped"):
        yolo_filter_boxes(conf[0], corners[0], probs[0])
    assert (s >= 0.3).all() and len(s) == len(b) == len(c)
    for per_class in (False, True):
        scores, boxes, classes = yolo_eval(tuple(a[1] for a in (box_xy, box_wh, conf, probs)), (50, 80),
                                           max_boxes=5, score_threshold=0.2, iou_threshold=0.4,
                                           per_class=per_class)
        assert len(scores) <= 5 and np.all(np.diff(scores) <= 0)
    # per-class yolo_eval equals yolo_postprocess before clipping (a grid of small, interior boxes)
    small = out.copy().reshape(2, 4, 4, 3, 7)
    small[..., 2:4] = -1.0
    small = small.reshape(2, 4, 4, 21)
    heads = yolo_head(small, ANCHORS, 2)
    scores, boxes, classes = yolo_eval(tuple(a[0] for a in heads), (50, 80), max_boxes=100,
                                       score_threshold=0.2, iou_threshold=0.4, per_class=True)
    (r,) = yolo_postprocess(small[:1], ANCHORS, 2, (50, 80), score_threshold=0.2, iou_threshold=0.4)
    np.testing.assert_allclose(r["scores"], scores)
    np.testing.assert_allclose(r["boxes"], np.clip(boxes, 0, [80, 50, 80, 50]))
    # class-agnostic NMS keeps a subset of per-class NMS's survivors' count at most
    s2, b2, c2 = yolo_non_max_suppression(scores, boxes, classes, max_boxes=100, iou_threshold=0.4)
    assert len(s2) <= len(scores)
    keep = batched_nms(boxes, scores, classes, 0.4)
    assert len(keep) == len(scores)


# ----------------------------------------------------------------------------- picture

def test_plot_yolo_grid(tmp_path):
    from npvision.viz import plot_yolo_grid

    image = np.random.default_rng(0).uniform(size=(64, 48, 3)).astype(np.float32)
    boxes = np.array([[3.0, 4, 20, 30], [30, 30, 46, 50]])
    fig = plot_yolo_grid(image, (8, 6), ANCHORS, boxes, np.array([0, 2]), ["a", "b", "c"],
                         path=tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0
    ax = fig.axes[0]
    assert len(ax.lines) >= 7 + 5                                     # the grid's inner lines
    with pytest.raises(ValueError, match="anchor_cell"):
        plot_yolo_grid(image, 4, ANCHORS, anchor_cell=(4, 0))


def test_loss_ignore_iou():
    # a second anchor of the responsible cell predicting the same box as the responsible one
    anchors, targets, out = one_object_case()
    sig = lambda v: 1 / (1 + np.exp(-v))                              # noqa: E731
    out[0, 1, 0, 0, :4] = [logit(0.25), logit(0.75), np.log(1.2 * 0.5 / 0.2), np.log(0.9 * 0.4 / 0.2)]
    o = out.reshape(1, 2, 2, 14)
    _, d_all, base = yolo_loss(o, targets, anchors, return_terms=True)
    _, d_ign, ign = yolo_loss(o, targets, anchors, ignore_iou=0.6, return_terms=True)
    # that anchor (t_o = -1) is the only one left out of the no-object term
    assert ign["noobj"] == pytest.approx(base["noobj"] - 0.5 * sig(-1.0) ** 2, rel=1e-12)
    assert d_ign[0, 1, 0, 4] == 0 and d_all[0, 1, 0, 4] != 0
    for k in ("coord", "obj", "class"):
        assert ign[k] == base[k]
    # an untrained output with overflowing sizes is no problem
    wild = o.copy()
    wild[..., 2] = 1000.0
    loss, _ = yolo_loss(wild, targets, anchors, ignore_iou=0.5)
    assert np.isfinite(loss)
    with pytest.raises(ValueError, match="ignore_iou"):
        yolo_loss(o, targets, anchors, ignore_iou=1.5)


def test_loss_ignore_iou_keeps_an_anchor_exactly_at_the_threshold():
    """Left out only when IoU > ignore_iou: a box with IoU exactly 0.5 still counts at 0.5.

    Every number is a dyadic fraction, so the IoU is exactly 1/2 in floating point:
    4x4 grid, the true box (anchor 0, 0.25 x 0.25) centred in cell (1, 1); anchor 1
    (0.5 x 0.25) of that cell predicts the same centre with twice the width."""
    anchors = np.array([[0.25, 0.25], [0.5, 0.25]])
    targets = np.zeros((1, 4, 4, 2, 6))
    targets[0, 1, 1, 0] = [0.5, 0.5, 0.0, 0.0, 1.0, 1.0]                # x, y, log w/a, log h/a, obj, class
    output = np.zeros((1, 4, 4, 2 * 6))                                 # sigmoid(0) = 0.5, exp(0) = 1
    from npvision.detection.yolo import _best_truth_iou

    assert _best_truth_iou(output.reshape(1, 4, 4, 2, 6), targets, anchors)[0, 1, 1, 1] == 0.5
    terms = {thr: yolo_loss(output, targets, anchors, ignore_iou=thr, return_terms=True)[2]["noobj"]
             for thr in (None, 0.5, 0.49)}
    assert terms[0.5] == terms[None]                                    # on the threshold: kept
    assert terms[0.49] == pytest.approx(terms[None] - 0.5 * 0.5 ** 2)   # above it: left out


def test_loss_ignore_iou_gradient_check():
    rng = np.random.default_rng(4)
    boxes = [np.array([[3.0, 4, 30, 34], [30, 30, 60, 50]])]
    t = encode_yolo_targets(boxes, [np.array([0, 2])], SIZE, 2, ANCHORS, 3).astype(np.float64)
    out = output_from_targets(t, noobj_logit=-1.0, class_logit=1.0) + 0.1 * rng.standard_normal((1, 2, 2, 24))
    o5 = out.reshape(1, 2, 2, 3, 8)
    o5[0, 0, 0, 1, :4] = o5[0, 0, 0, 2, :4] + [0, 0, np.log(0.4 / 0.3), np.log(0.5 / 0.2)]  # a near-copy
    from npvision.detection.yolo import _best_truth_iou

    best = _best_truth_iou(o5, t, ANCHORS)
    assert ((best > 0.6) & (t[..., 4] == 0)).any()                    # something is ignored
    assert np.abs(best - 0.6).min() > 1e-3                            # and nothing sits on the jump
    check_loss(yolo_loss, out, t, ANCHORS, ignore_iou=0.6, objectness_loss="logistic")


def test_loss_and_targets_refuse_what_would_be_silently_wrong():
    anchors = np.array([[0.25, 0.25], [0.5, 0.25]])
    targets = np.zeros((1, 4, 4, 2, 6))
    targets[0, 1, 1, 0] = [0.5, 0.5, 0.0, 0.0, 2.0, 1.0]                # objectness 2
    with pytest.raises(ValueError, match=r"targets: the objectness target .* must be 0 or 1.*received 2\.0"):
        yolo_loss(np.zeros((1, 4, 4, 12)), targets, anchors)
    with pytest.raises(ValueError, match="output: an empty batch"):
        yolo_loss(np.zeros((0, 4, 4, 12)), np.zeros((0, 4, 4, 2, 6)), anchors)
    with pytest.raises(ValueError, match=r"anchors: row 0 = \[16\.0, 32\.0\] is larger than the image.*fractions"):
        encode_yolo_targets([np.array([[1.0, 1, 9, 9]])], [np.array([0])], (64, 64), 4, [[16, 32], [8, 8]], 1)
