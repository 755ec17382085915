"""Precision / recall, AP in the three conventions, mAP, and the detection confusion matrix.

The small cases are computed by hand in the comments; the COCO numbers at the end
come from the official evaluation code (pycocotools) run on the same boxes.
"""

import numpy as np
import pytest

from npvision.detection import (COCO_IOU_THRESHOLDS, average_precision, detection_confusion_matrix,
                                match_detections, mean_average_precision, precision_recall,
                                precision_recall_curves)


def _det(boxes, scores, classes=None):
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    classes = np.zeros(len(boxes), dtype=int) if classes is None else np.asarray(classes)
    return {"boxes": boxes, "scores": np.asarray(scores, dtype=float), "classes": classes}


def _gt(boxes, classes=None):
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    classes = np.zeros(len(boxes), dtype=int) if classes is None else np.asarray(classes)
    return {"boxes": boxes, "classes": classes}


A, B, FAR = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]
# Ranked: TP (A), duplicate of A (FP), far away (FP), B slightly taller (IoU 100/110 = 0.909, TP)
# precision 1, 1/2, 1/3, 1/2 at recall 1/2, 1/2, 1/2, 1 -> interpolated: 1 up to recall 1/2, then 1/2.
MIXED = ([_det([A, A, FAR, [20, 20, 30, 31]], [0.9, 0.8, 0.7, 0.6])], [_gt([A, B])])


# ----------------------------------------------------------------------------- hand-computed AP

def test_ap_of_mixed_ranking_in_each_convention():
    dets, gts = MIXED
    # voc07: recall points 0, .1, ..., .5 (6 of them) have precision 1, .6 ... 1 (5) have 1/2.
    assert mean_average_precision(dets, gts, convention="voc07")["map"] == pytest.approx(8.5 / 11)
    # voc: area under the step curve = 0.5 * 1 + 0.5 * 0.5
    assert mean_average_precision(dets, gts, convention="voc")["map"] == pytest.approx(0.75)
    # coco at IoU 0.5: recall points 0, .01, ..., .5 (51) -> 1, .51 ... 1 (50) -> 1/2
    r = mean_average_precision(dets, gts, iou_thresholds=0.5, convention="coco")
    assert r["map"] == pytest.approx(76 / 101)


def test_coco_default_thresholds_and_per_threshold_entries():
    dets, gts = MIXED
    r = mean_average_precision(dets, gts)                             # coco, 0.50:0.05:0.95
    np.testing.assert_array_equal(r["iou_thresholds"], COCO_IOU_THRESHOLDS)
    # IoU(B, det) = 0.909: a TP at every threshold up to 0.90, a FP at 0.95 (AP 51/101 there).
    expected = {round(float(t), 6): (76 / 101 if t < 0.91 else 51 / 101) for t in COCO_IOU_THRESHOLDS}
    assert r["per_threshold"] == pytest.approx(expected)
    assert r["map"] == pytest.approx((9 * 76 + 51) / 101 / 10)
    assert r["map50"] == pytest.approx(76 / 101) and r["map75"] == pytest.approx(76 / 101)
    assert r["per_class"] == pytest.approx({0: r["map"]})
    assert r["ap"].shape == (1, 10) and r["classes"] == [0]


def test_recall_three_quarters_at_full_precision():
    gts = [_gt([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5], [6, 6, 7, 7]])]
    dets = [_det([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]], [0.9, 0.8, 0.7])]
    assert mean_average_precision(dets, gts, convention="voc07")["map"] == pytest.approx(8 / 11)
    assert mean_average_precision(dets, gts, convention="voc")["map"] == pytest.approx(0.75)
    assert mean_average_precision(dets, gts, 0.5, "coco")["map"] == pytest.approx(76 / 101)


@pytest.mark.parametrize("convention", ["voc07", "voc", "coco"])
def test_no_detections_gives_zero(convention):
    r = mean_average_precision([_det(np.zeros((0, 4)), [])], [_gt([A, B])], convention=convention)
    assert r["map"] == 0.0 and r["per_class"] == {0: 0.0}


@pytest.mark.parametrize("convention", ["voc07", "voc", "coco"])
def test_no_ground_truth_gives_nan_and_classes_without_gt_are_ignored(convention):
    r = mean_average_precision([_det([A], [0.9])], [_gt(np.zeros((0, 4)))], convention=convention)
    assert np.isnan(r["map"]) and np.isnan(r["map50"]) and r["per_class"] == {}
    # Class 1 has detections but no ground truth: it changes nothing.
    dets, gts = MIXED
    extra = [_det(np.vstack([dets[0]["boxes"], [[0, 0, 5, 5]]]), np.append(dets[0]["scores"], 0.99),
                  [0, 0, 0, 0, 1])]
    assert (mean_average_precision(extra, gts, convention=convention)["map"]
            == pytest.approx(mean_average_precision(dets, gts, convention=convention)["map"]))


def test_perfect_detector_has_ap_one_and_images_are_independent():
    gts = [_gt([A], [0]), _gt([A, B], [1, 0])]
    dets = [_det([A], [0.3], [0]), _det([B, A], [0.2, 0.9], [0, 1])]
    for convention in ("voc07", "voc", "coco"):
        r = mean_average_precision(dets, gts, convention=convention)
        assert r["map"] == pytest.approx(1.0) and r["per_class"] == pytest.approx({0: 1.0, 1: 1.0})


def test_duplicate_detection_is_a_false_positive():
    # two detections on one object: ranked TP then FP -> precision 1, 1/2 at recall 1 -> AP 1 (interp.)
    is_tp, matched = match_detections([A, A], [0.9, 0.8], [A])
    assert is_tp.tolist() == [True, False] and matched.tolist() == [0, -1]
    # the lower-scored one is the duplicate, whatever the input order
    is_tp, _ = match_detections([A, A], [0.8, 0.9], [A])
    assert is_tp.tolist() == [False, True]
    # but it costs AP when the object it duplicates ranks above a true positive
    r = mean_average_precision([_det([A, A, B], [0.9, 0.8, 0.7])], [_gt([A, B])], convention="voc")
    assert r["map"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_tied_scores_keep_input_order_then_image_order():
    # One object, two detections with equal scores: the first listed is ranked first.
    miss_first = [_det([FAR, A], [0.5, 0.5])]
    hit_first = [_det([A, FAR], [0.5, 0.5])]
    gts = [_gt([A])]
    assert mean_average_precision(miss_first, gts, convention="voc")["map"] == pytest.approx(0.5)
    assert mean_average_precision(hit_first, gts, convention="voc")["map"] == pytest.approx(1.0)
    # Across images, the earlier image wins the tie.
    dets = [_det([FAR], [0.5]), _det([A], [0.5])]
    assert mean_average_precision(dets, [_gt(np.zeros((0, 4))), _gt([A])], convention="voc")["map"] \
        == pytest.approx(0.5)


def test_coco_and_voc_matching_rules_differ():
    # det 2 overlaps the already matched A best (IoU 0.818) and the free C less (IoU 0.667).
    C = [3, 0, 13, 10]
    boxes, scores = [A, [1, 0, 11, 10]], [0.9, 0.8]
    assert match_detections(boxes, scores, [A, C], 0.5, rule="coco")[1].tolist() == [0, 1]
    assert match_detections(boxes, scores, [A, C], 0.5, rule="voc")[1].tolist() == [0, -1]
    dets, gts = [_det(boxes, scores)], [_gt([A, C])]
    assert mean_average_precision(dets, gts, 0.5, "coco")["map"] == pytest.approx(1.0)
    assert mean_average_precision(dets, gts, convention="voc")["map"] == pytest.approx(0.5)


def test_iou_exactly_at_threshold_coco_matches_voc_does_not():
    # IoU([0,0,10,10], [0,0,10,20]) = 100 / 200 = 0.5 exactly
    dets, gts = [_det([[0, 0, 10, 20]], [0.9])], [_gt([A])]
    assert mean_average_precision(dets, gts, 0.5, "coco")["map"] == 1.0        # IoU >= t
    assert mean_average_precision(dets, gts, 0.5, "voc")["map"] == 0.0         # IoU > t
    assert mean_average_precision(dets, gts, 0.5, "voc07")["map"] == 0.0


def test_max_detections_per_image_and_class():
    # 3 false alarms above the true positive: with max_detections=2 the TP is cut off.
    dets = [_det([FAR, FAR, FAR, A], [0.9, 0.8, 0.7, 0.1])]
    gts = [_gt([A])]
    assert mean_average_precision(dets, gts, 0.5, "coco", max_detections=2)["map"] == 0.0
    assert mean_average_precision(dets, gts, 0.5, "coco", max_detections=None)["map"] \
        == pytest.approx(0.25)


# ----------------------------------------------------------------------------- the building blocks

def test_precision_recall_and_average_precision_directly():
    precision, recall, ranked = precision_recall([False, True, True], [0.2, 0.9, 0.5], 4)
    np.testing.assert_allclose(precision, [1, 1, 2 / 3])
    np.testing.assert_allclose(recall, [0.25, 0.5, 0.5])
    np.testing.assert_allclose(ranked, [0.9, 0.5, 0.2])
    assert average_precision(precision, recall, "voc") == pytest.approx(0.5)
    assert average_precision(precision, recall, "voc07") == pytest.approx(6 / 11)
    assert average_precision(precision, recall, "coco") == pytest.approx(51 / 101)
    for convention in ("voc07", "voc", "coco"):
        assert average_precision([], [], convention) == 0.0
    # zero ground truth: recall stays 0
    assert precision_recall([False], [0.3], 0)[1].tolist() == [0.0]


def test_precision_recall_curves_per_class():
    dets, gts = MIXED
    curves = precision_recall_curves(dets, gts, 0.5, convention="voc")
    c = curves[0]
    np.testing.assert_allclose(c["precision"], [1, 1 / 2, 1 / 3, 1 / 2])
    np.testing.assert_allclose(c["recall"], [0.5, 0.5, 0.5, 1.0])
    assert c["ap"] == pytest.approx(0.75) and c["n_ground_truth"] == 2


def test_confusion_matrix_with_background():
    gts = [_gt([A, B, FAR], [0, 1, 1])]
    # A found as class 1 (confused), B found twice as class 1 (one duplicate), FAR missed,
    # a false alarm of class 0, and a low-score detection below score_threshold.
    dets = [_det([A, B, B, [80, 80, 90, 90], FAR], [0.9, 0.8, 0.7, 0.6, 0.01], [1, 1, 1, 0, 1])]
    m = detection_confusion_matrix(dets, gts, num_classes=2, score_threshold=0.1)
    expected = np.array([[0, 1, 0],    # true 0: A predicted as 1
                         [0, 1, 1],    # true 1: B right, FAR missed
                         [1, 1, 0]])   # background: the false alarm (0) and the duplicate (1)
    np.testing.assert_array_equal(m, expected)
    assert m.dtype == np.int64


# ----------------------------------------------------------------------------- errors

def test_bad_inputs_name_the_argument():
    dets, gts = MIXED
    with pytest.raises(ValueError, match="one dict per image"):
        mean_average_precision(dets + dets, gts)
    with pytest.raises(ValueError, match=r"detections\[0\].*keys"):
        mean_average_precision([{"boxes": [A]}], gts)
    bad = [_det([A], [0.9]), _det([A, [5, 5, 1, 1]], [0.9, 0.8])]
    with pytest.raises(ValueError, match=r"detections\[1\]\['boxes'\]: box 1 .*inverted"):
        mean_average_precision(bad, gts + gts)
    with pytest.raises(ValueError, match=r"detections\[0\]\['scores'\]: expected shape \(1,\)"):
        mean_average_precision([_det([A], [0.9, 0.1])], gts)
    with pytest.raises(ValueError, match="convention"):
        mean_average_precision(dets, gts, convention="coco2017")
    with pytest.raises(ValueError, match="iou_thresholds"):
        mean_average_precision(dets, gts, iou_thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="num_classes"):
        detection_confusion_matrix(dets, gts, num_classes=0)
    with pytest.raises(ValueError, match=r"ground_truths\[0\]\['classes'\]: expected ints in \[0, 1\)"):
        detection_confusion_matrix(dets, [_gt([A], [3])], num_classes=1)


# ----------------------------------------------------------------------------- against pycocotools

def coco_case(seed, n_images=8, n_classes=3, max_false=4):
    """Random detections and ground truth with near misses, duplicates, wrong classes, tied scores.

    Coordinates and scores are rounded to one decimal (so scores tie often).
    """
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(n_images):
        g = int(rng.integers(0, 6))
        xy = rng.uniform(0, 100, (g, 2))
        wh = rng.uniform(10, 50, (g, 2))
        gt_boxes = np.round(np.hstack([xy, xy + wh]), 1)                     # (g, 4)
        gt_classes = rng.integers(0, n_classes, g)
        found = rng.random(g) < 0.8
        copies = np.where(found, 1 + (rng.random(g) < 0.25), 0)             # some duplicates
        src = np.repeat(np.arange(g), copies)
        jitter = rng.normal(0, 3.0, (len(src), 4))
        d_boxes = gt_boxes[src] + jitter
        d_classes = np.where(rng.random(len(src)) < 0.85, gt_classes[src],
                             rng.integers(0, n_classes, len(src)))
        k = int(rng.integers(0, max_false))                                  # false alarms
        fxy = rng.uniform(0, 120, (k, 2))
        fwh = rng.uniform(5, 40, (k, 2))
        d_boxes = np.vstack([d_boxes, np.hstack([fxy, fxy + fwh])])
        d_classes = np.concatenate([d_classes, rng.integers(0, n_classes, k)])
        d_boxes = np.round(np.hstack([np.minimum(d_boxes[:, :2], d_boxes[:, 2:]),
                                      np.maximum(d_boxes[:, :2], d_boxes[:, 2:])]), 1)
        scores = np.round(rng.uniform(0.05, 1.0, len(d_boxes)), 1)          # one decimal: ties
        dets.append({"boxes": d_boxes, "scores": scores, "classes": d_classes})
        gts.append({"boxes": gt_boxes, "classes": gt_classes})
    return dets, gts


# Reference numbers produced with pycocotools 2.0.11 (COCOeval, iouType "bbox") on exactly these
# cases: the boxes converted to COCO's xywh, category id = class + 1, image id = index + 1, every
# ground truth iscrowd=0 with area w*h, every category listed; results read at area range "all",
# maxDets 100: stats[0] (AP@[.50:.95]), stats[1] (AP50), stats[2] (AP75), and per class the mean
# of eval["precision"][:, :, k, 0, 2] over entries > -1. (Script: pycocotools in a throwaway venv,
# `python -m venv /tmp/cocoenv --system-site-packages && /tmp/cocoenv/bin/pip install pycocotools`.)
COCO_REFERENCE = [
    # (case arguments, map, map50, map75, per class)
    (dict(seed=0), 0.21601510151015105, 0.4807755775577558, 0.15204020402040205,
     {0: 0.100990099009901, 1: 0.42214971497149717, 2: 0.12490549054905492}),
    (dict(seed=1), 0.1724009900990099, 0.30993766043271, 0.14906490649064907,
     {0: 0.2133250825082508, 1: 0.1627887788778878, 2: 0.14108910891089105}),
    (dict(seed=2), 0.17394625176803394, 0.4884488448844885, 0.03828382838283828,
     {0: 0.24257425742574257, 1: 0.20198019801980197, 2: 0.07728429985855728}),
    (dict(seed=3), 0.1383773853575834, 0.4033361669500283, 0.07719914848627721,
     {0: 0.19932343234323432, 1: 0.05538125241095538, 2: 0.16042747131856042}),
    # crowded: up to 300 false alarms per image, one class, so maxDets=100 cuts the ranking
    (dict(seed=5, n_images=3, n_classes=1, max_false=300), 0.012766793920771385,
     0.023961488707854448, 0.010630536737884316, {0: 0.012766793920771385}),
]


@pytest.mark.parametrize("case, ap, ap50, ap75, per_class", COCO_REFERENCE)
def test_coco_convention_agrees_with_pycocotools(case, ap, ap50, ap75, per_class):
    dets, gts = coco_case(**case)
    r = mean_average_precision(dets, gts)
    assert r["map"] == pytest.approx(ap, abs=1e-12)
    assert r["map50"] == pytest.approx(ap50, abs=1e-12)
    assert r["map75"] == pytest.approx(ap75, abs=1e-12)
    assert r["per_class"] == pytest.approx(per_class, abs=1e-12)


def test_crowded_case_really_exercises_max_detections():
    dets, gts = coco_case(seed=5, n_images=3, n_classes=1, max_false=300)
    assert max(len(d["boxes"]) for d in dets) > 100
    unlimited = mean_average_precision(dets, gts, max_detections=None)["map"]
    assert unlimited != pytest.approx(COCO_REFERENCE[-1][1], abs=1e-6)


def test_pictures_of_detections_and_pr_curves(tmp_path):
    from npvision.viz.boxes import plot_detections, plot_pr_curves

    dets, gts = MIXED
    fig = plot_detections(np.zeros((64, 64)), dets[0], gts[0], class_names=["thing"],
                          score_threshold=0.65, path=tmp_path / "det.png")
    assert len(fig.axes[0].patches) == 2 + 3                     # 2 true boxes, 3 scores >= 0.65
    assert any(t.get_text() == "thing 0.90" for t in fig.axes[0].texts)
    fig = plot_pr_curves(precision_recall_curves(dets, gts), ["thing"], path=tmp_path / "pr.png")
    assert "thing (AP 0.752)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert (tmp_path / "det.png").exists() and (tmp_path / "pr.png").exists()
    with pytest.raises(ValueError, match="image"):
        plot_detections(np.zeros((4, 4, 2)), dets[0])


# ----------------------------------------------------------------------------- silent wrong answers refused

@pytest.mark.parametrize("where", ["detections", "ground_truths"])
def test_nan_class_is_refused_naming_the_argument(where):
    dets, gts = [_det([A, B], [0.9, 0.8], [0.0, 1.0])], [_gt([A, B], [0.0, 1.0])]
    target = dets if where == "detections" else gts
    target[0]["classes"] = np.array([0.0, np.nan])
    with pytest.raises(ValueError, match=rf"{where}\[0\]\['classes'\]: entry 1 is nan"):
        mean_average_precision(dets, gts)
    target[0]["classes"] = np.array([0, None], dtype=object)
    with pytest.raises(ValueError, match=rf"{where}\[0\]\['classes'\]: entry 1 is None"):
        mean_average_precision(dets, gts)
    # names stay fine as labels
    named = [_det([A, B], [0.9, 0.8], ["cat", "dog"])], [_gt([A, B], ["cat", "dog"])]
    assert mean_average_precision(*named)["map"] == pytest.approx(1.0)


def test_average_precision_refuses_recall_above_one_or_decreasing():
    with pytest.raises(ValueError, match=r"recall: expected values in \[0, 1\].*1\.5 at rank 1"):
        average_precision([1.0, 1.0], [0.5, 1.5])
    with pytest.raises(ValueError, match=r"recall: expected a non-decreasing.*0\.75 at rank 0 then 0\.5 at rank 1"):
        average_precision([1.0, 0.5], [0.75, 0.5], "voc")
    with pytest.raises(ValueError, match=r"precision: expected values in \[0, 1\]"):
        average_precision([1.0, np.nan], [0.5, 1.0])
    with pytest.raises(ValueError, match=r"recall: expected values in \[0, 1\]"):
        average_precision([1.0], [-0.1], "voc07")
    # equal consecutive recalls (a false positive) are fine
    assert average_precision([1.0, 0.5], [0.5, 0.5], "voc") == pytest.approx(0.5)


def test_precision_recall_refuses_more_true_positives_than_ground_truths():
    with pytest.raises(ValueError, match=r"is_tp, n_ground_truth: 3 true positives but only 2"):
        precision_recall([True, True, True], [0.9, 0.8, 0.7], 2)
    with pytest.raises(ValueError, match=r"1 true positives but only 0"):
        precision_recall([True], [0.9], 0)
    _, recall, _ = precision_recall([True, True, False], [0.9, 0.8, 0.7], 2)
    assert recall.max() == 1.0
