"""Mask AP (``iou_type="segm"``), mask IoU and the per-instance mask IoU of matched detections.

The official numbers come from COCO's own evaluation code (pycocotools' COCOeval)
on hand-built cases, produced by ``tests/data/make_segm_goldens.py`` (run by hand in
the reference environment) and stored in ``tests/data/``.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from npvision.detection import (
    mask_iou,
    masks_to_boxes,
    matched_mask_ious,
    mean_average_precision,
    precision_recall_curves,
)

DATA = Path(__file__).parent / "data"
GOLDENS = json.loads((DATA / "segm_goldens.json").read_text())
CASE_NAMES = [k for k in GOLDENS if not k.startswith("_")]


def load_case(name):
    z = np.load(DATA / "segm_cases.npz")
    n = GOLDENS[name]["n_images"]
    dets = [{k: z[f"{name}__det{i}__{k}"] for k in ("masks", "boxes", "scores", "classes")} for i in range(n)]
    gts = [{k: z[f"{name}__gt{i}__{k}"] for k in ("masks", "boxes", "classes")} for i in range(n)]
    return dets, gts


# ----------------------------------------------------------------------------- mask IoU

def test_mask_iou_by_hand():
    a = np.zeros((2, 4, 5), dtype=bool)
    a[0, :2, :2] = True                         # 4 pixels
    a[1, 1:3, 1:4] = True                       # 6 pixels
    b = np.zeros((3, 4, 5), dtype=bool)
    b[0, :2, :2] = True                         # equal to a[0]
    b[1, 2:, :] = True                          # rows 2-3: 10 pixels, meets a[1] in 3
    # b[2] empty
    iou = mask_iou(a, b)
    assert iou.shape == (2, 3) and iou.dtype == np.float64
    np.testing.assert_array_equal(iou, [[1.0, 0.0, 0.0],
                                        [1 / 9, 3 / 13, 0.0]])   # a1 & b0: pixel (1,1) only
    assert mask_iou(b[2:], b[2:])[0, 0] == 0.0  # two empty masks: 0, no NaN
    assert mask_iou(a[:0], b).shape == (0, 3)


def test_mask_iou_matches_a_loop_and_is_symmetric():
    rng = np.random.default_rng(0)
    a, b = rng.random((4, 7, 9)) < 0.4, rng.random((5, 7, 9)) < 0.3
    loop = np.array([[(x & y).sum() / (x | y).sum() for y in b] for x in a])
    np.testing.assert_allclose(mask_iou(a, b), loop, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(mask_iou(a, b), mask_iou(b, a).T)


def test_masks_to_boxes():
    m = np.zeros((2, 6, 8), dtype=bool)
    m[0, 1:4, 2:7] = True
    np.testing.assert_array_equal(masks_to_boxes(m), [[2, 1, 7, 4], [0, 0, 0, 0]])


# ----------------------------------------------------------------------------- against COCOeval

@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_agrees_with_coco_official_evaluation(name, iou_type):
    dets, gts = load_case(name)
    ref = GOLDENS[name][iou_type]
    r = mean_average_precision(dets, gts, iou_type=iou_type)
    assert r["iou_type"] == iou_type
    assert abs(r["map"] - ref["map"]) <= 1e-12
    assert abs(r["map50"] - ref["map50"]) <= 1e-12
    assert abs(r["map75"] - ref["map75"]) <= 1e-12
    assert sorted(r["per_class"]) == sorted(int(k) for k in ref["per_class"])
    for k, v in ref["per_class"].items():
        assert abs(r["per_class"][int(k)] - v) <= 1e-12
    np.testing.assert_allclose(list(r["per_threshold"].values()), ref["per_threshold"], rtol=0, atol=1e-12)


def test_hand_case_covers_what_it_claims():
    dets, gts = load_case("hand")
    assert len(dets[1]["scores"]) == 0 and len(gts[1]["classes"]) == 1           # no detections
    assert 2 in dets[0]["classes"] and all(2 not in g["classes"] for g in gts)     # class without GT
    assert (gts[0]["masks"][0] & gts[0]["masks"][1]).any()                         # overlapping masks
    assert len(set(dets[0]["scores"])) < len(dets[0]["scores"])                     # tied scores
    assert not dets[2]["masks"][1].any()                                           # an empty mask
    iou = mask_iou(dets[3]["masks"][:1], gts[3]["masks"])[0]
    assert iou[0] == iou[1] > 0.5                                                  # a tied IoU
    r = mean_average_precision(dets, gts, iou_type="segm")
    assert r["per_class"].keys() == {0, 1}


def test_segm_differs_from_bbox_where_masks_do():
    # the random cases have discs: mask IoU and box IoU differ, and so do the official numbers
    dets, gts = load_case("random0")
    assert GOLDENS["random0"]["segm"]["map"] != pytest.approx(GOLDENS["random0"]["bbox"]["map"], abs=1e-3)
    assert (mean_average_precision(dets, gts, iou_type="segm")["map"]
            != pytest.approx(mean_average_precision(dets, gts, iou_type="bbox")["map"], abs=1e-3))


def test_masks_only_is_enough_for_segm():
    dets, gts = load_case("random1")
    strip = lambda items: [{k: v for k, v in d.items() if k != "boxes"} for d in items]
    full = mean_average_precision(dets, gts, iou_type="segm")
    assert mean_average_precision(strip(dets), strip(gts), iou_type="segm")["map"] == full["map"]
    curves = precision_recall_curves(strip(dets), strip(gts), iou_type="segm")
    assert set(curves) == set(full["per_class"])


def test_tied_iou_goes_to_the_last_ground_truth_as_in_cocoeval():
    from npvision.detection import match_detections
    a, b, d = [0, 0, 6, 4], [2, 0, 8, 4], [1, 0, 7, 4]            # IoU(d, a) = IoU(d, b) = 20/28
    assert match_detections([d, a], [0.9, 0.5], [a, b], 0.5, rule="coco")[1].tolist() == [1, 0]
    assert match_detections([d, a], [0.9, 0.5], [a, b], 0.5, rule="voc")[1].tolist() == [0, -1]


# ----------------------------------------------------------------------------- matched mask IoU

def test_matched_mask_ious():
    dets, gts = load_case("hand")
    r = matched_mask_ious(dets, gts, iou_threshold=0.5)
    # image 0: d0 -> g0 and d1 -> g1 (class 0), d3 -> g2 (class 1); image 3: D -> B, D2 -> A
    pairs = list(zip(r["image"].tolist(), r["detection"].tolist(), r["ground_truth"].tolist()))
    assert pairs == [(0, 0, 0), (0, 1, 1), (0, 3, 2), (3, 0, 1), (3, 1, 0)]
    for (i, d, g), iou in zip(pairs, r["ious"]):
        m, t = dets[i]["masks"][d], gts[i]["masks"][g]
        assert iou == pytest.approx((m & t).sum() / (m | t).sum(), abs=1e-15)
    assert r["n_matched"] == 5 and r["n_ground_truth"] == 6
    assert r["mean_iou"] == pytest.approx(r["ious"].mean())
    high = matched_mask_ious(dets, gts, score_threshold=0.8)
    # the input order does not matter, the scores do: reversed, the duplicate d2 (0.8) comes
    # first but is still visited after d0 and d1 (0.9)
    rev = [dict(dets[0], **{k: v[::-1] for k, v in dets[0].items()})] + dets[1:]
    back = matched_mask_ious(rev, gts)
    n0 = len(dets[0]["scores"])
    assert sorted((i, n0 - 1 - d if i == 0 else d, g) for i, d, g in
                  zip(back["image"], back["detection"], back["ground_truth"])) == sorted(pairs)
    # the class-1 hit (0.7) and D2 (0.5) drop out; D (0.85) still takes B
    assert list(zip(high["image"], high["detection"], high["ground_truth"])) == [(0, 0, 0), (0, 1, 1),
                                                                                  (3, 0, 1)]


# ----------------------------------------------------------------------------- errors

def test_bad_masks_get_clear_errors():
    dets, gts = load_case("hand")
    with pytest.raises(ValueError, match=r"detections\[0\]: expected a dict with keys \('masks'"):
        mean_average_precision([{k: v for k, v in d.items() if k != "masks"} for d in dets], gts,
                               iou_type="segm")
    small = [dict(d, masks=d["masks"][:, :8]) for d in dets]
    with pytest.raises(ValueError, match=r"detections\[0\]\['masks'\]: expected masks of the ground "
                                         r"truth's image size \(16, 16\), received size \(8, 16\)"):
        mean_average_precision(small, gts, iou_type="segm")
    bad = [dict(d, masks=d["masks"] * 2.0) if i == 0 else d for i, d in enumerate(dets)]
    with pytest.raises(ValueError, match=r"detections\[0\]\['masks'\]: expected bool masks .* 2\.0"):
        mean_average_precision(bad, gts, iou_type="segm")
    flat = [dict(d, masks=d["masks"][:, 0]) for d in dets]
    with pytest.raises(ValueError, match=r"detections\[0\]\['masks'\]: expected a 3-D \(K, H, W\)"):
        mean_average_precision(flat, gts, iou_type="segm")
    with pytest.raises(ValueError, match="iou_type: expected one of"):
        mean_average_precision(dets, gts, iou_type="mask")
    with pytest.raises(ValueError, match=r"detections\[0\]\['boxes'\]: expected one box per mask"):
        mean_average_precision([dict(dets[0], boxes=dets[0]["boxes"][:2])] + dets[1:], gts,
                               iou_type="segm")
    with pytest.raises(ValueError, match=r"ground_truths\[0\]: expected 'boxes' beside 'masks'"):
        matched_mask_ious(dets, [{k: v for k, v in g.items() if k != "boxes"} for g in gts])
    with pytest.raises(ValueError, match=r"a, b: expected masks of one size"):
        mask_iou(np.zeros((1, 3, 3), bool), np.zeros((1, 3, 4), bool))
