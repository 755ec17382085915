"""Box formats, normalization, areas, IoU / GIoU, clipping, and the errors for bad boxes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npvision.detection import (as_boxes, box_area, box_convert, box_iou, clip_boxes, denormalize_boxes,
                                generalized_box_iou, iou, normalize_boxes)

# ----------------------------------------------------------------------------- the course's iou


def test_course_iou_values():
    assert iou((2, 1, 4, 3), (1, 2, 3, 4)) == pytest.approx(1 / 7)            # 0.142857...
    assert iou((1, 2, 3, 4), (5, 6, 7, 8)) == 0.0                            # no intersection
    assert iou((1, 1, 2, 2), (2, 2, 3, 3)) == 0.0                            # touching at a vertex
    assert iou((1, 1, 3, 3), (2, 3, 3, 4)) == 0.0                            # touching along an edge
    assert iou(np.array([2, 1, 4, 3]), [[1, 2, 3, 4]]) == pytest.approx(1 / 7)  # (4,) and (1, 4) both work

def test_box_iou_matrix_by_hand():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], dtype=np.float32)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]], dtype=np.float32)
    got = box_iou(a, b)
    expected = np.array([[1 / 7, 1, 0], [0, 1 / 4, 0]])
    assert got.shape == (2, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# ----------------------------------------------------------------------------- formats

def test_box_convert_known_values_and_round_trips():
    xyxy = np.array([[10.0, 20.0, 50.0, 40.0]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "xywh"), [[10, 20, 40, 20]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "cxcywh"), [[30, 30, 40, 20]])
    np.testing.assert_array_equal(box_convert([[30, 30, 40, 20]], "cxcywh", "xyxy"), xyxy)
    np.testing.assert_array_equal(box_convert([[10, 20, 40, 20]], "xywh", "cxcywh"), [[30, 30, 40, 20]])
    out = box_convert(xyxy, "xyxy", "xyxy")
    assert out is not xyxy and np.array_equal(out, xyxy)
    assert box_convert(xyxy.astype(np.float32), "xyxy", "xywh").dtype == np.float32
    assert box_convert(np.zeros((0, 4)), "xywh", "xyxy").shape == (0, 4)


@st.composite
def xyxy_boxes(draw, max_n=8, lo=-100.0, hi=100.0):
    n = draw(st.integers(1, max_n))
    coord = st.floats(lo, hi, allow_nan=False, width=64)
    pts = np.array(draw(st.lists(st.tuples(coord, coord, coord, coord), min_size=n, max_size=n)))
    x1, x2 = np.minimum(pts[:, 0], pts[:, 2]), np.maximum(pts[:, 0], pts[:, 2])
    y1, y2 = np.minimum(pts[:, 1], pts[:, 3]), np.maximum(pts[:, 1], pts[:, 3])
    return np.stack([x1, y1, x2, y2], axis=1)


@settings(max_examples=60, deadline=None)
@given(xyxy_boxes(), st.sampled_from(["xywh", "cxcywh"]))
def test_convert_round_trip_property(boxes, fmt):
    back = box_convert(box_convert(boxes, "xyxy", fmt), fmt, "xyxy")
    np.testing.assert_allclose(back, boxes, atol=1e-9)


def test_normalize_denormalize():
    boxes = np.array([[10.0, 20.0, 50.0, 40.0]])
    norm = normalize_boxes(boxes, (100, 200))                               # (height, width)
    np.testing.assert_allclose(norm, [[0.05, 0.2, 0.25, 0.4]])
    np.testing.assert_allclose(denormalize_boxes(norm, (100, 200)), boxes)
    np.testing.assert_allclose(normalize_boxes([[0.5, 0.5, 0.2, 0.1]], (10, 10), fmt="cxcywh"),
                               [[0.05, 0.05, 0.02, 0.01]])
    with pytest.raises(ValueError, match="image_size"):
        normalize_boxes(boxes, (0, 10))


def test_area_and_clip():
    boxes = np.array([[-5.0, 2.0, 5.0, 4.0], [3.0, 3.0, 3.0, 9.0], [20.0, 20.0, 30.0, 25.0]])
    np.testing.assert_array_equal(box_area(boxes), [20, 0, 50])
    clipped = clip_boxes(boxes, (8, 10))                                    # height 8, width 10
    np.testing.assert_array_equal(clipped, [[0, 2, 5, 4], [3, 3, 3, 8], [10, 8, 10, 8]])
    np.testing.assert_array_equal(box_area(clipped), [10, 0, 0])             # outside -> zero area
    as_boxes(clipped)                                                       # never inverted


# ----------------------------------------------------------------------------- zero-area policy

def test_zero_area_boxes_have_iou_zero_never_nan():
    point = np.array([[1.0, 1.0, 1.0, 1.0]])
    line = np.array([[0.0, 1.0, 4.0, 1.0]])
    box = np.array([[0.0, 0.0, 2.0, 2.0]])
    for a in (point, line):
        for b in (point, line, box):
            assert box_iou(a, b)[0, 0] == 0.0
            g = generalized_box_iou(a, b)[0, 0]
            assert np.isfinite(g) and -1.0 <= g <= 1.0
    assert generalized_box_iou(point, point)[0, 0] == 0.0                   # enclosing area 0 too
    assert iou((1, 1, 1, 1), (1, 1, 1, 1)) == 0.0


# ----------------------------------------------------------------------------- IoU / GIoU properties

@settings(max_examples=80, deadline=None)
@given(xyxy_boxes(), xyxy_boxes())
def test_iou_and_giou_properties(a, b):
    ab, ba = box_iou(a, b), box_iou(b, a)
    np.testing.assert_allclose(ab, ba.T, atol=1e-12)                        # symmetry
    assert ((ab >= 0) & (ab <= 1 + 1e-12)).all()
    g = generalized_box_iou(a, b)
    np.testing.assert_allclose(g, generalized_box_iou(b, a).T, atol=1e-12)
    assert ((g >= -1 - 1e-12) & (g <= 1 + 1e-12)).all()
    assert (g <= ab + 1e-12).all()                                          # GIoU <= IoU
    # a box with itself: IoU 1 (and GIoU 1) unless it has no area
    self_iou = np.diag(box_iou(a, a))
    positive = box_area(a) > 0
    np.testing.assert_allclose(self_iou[positive], 1.0)
    np.testing.assert_allclose(np.diag(generalized_box_iou(a, a))[positive], 1.0)
    assert (self_iou[~positive] == 0).all()


def test_giou_far_apart_tends_to_minus_one():
    g = generalized_box_iou([[0, 0, 1, 1]], [[1000, 1000, 1001, 1001]])[0, 0]
    assert -1 < g < -0.99
    # touching, same size: IoU 0, enclosing box 2 x 1, union 2 -> GIoU 0
    assert generalized_box_iou([[0, 0, 1, 1]], [[1, 0, 2, 1]])[0, 0] == 0.0


def test_dtype_rules():
    f32 = np.array([[0, 0, 2, 2]], dtype=np.float32)
    f64 = np.array([[1, 1, 3, 3]], dtype=np.float64)
    assert box_iou(f32, f32).dtype == np.float32
    assert box_iou(f32, f64).dtype == np.float64
    assert box_area(np.array([[0, 0, 2, 3]])).dtype == np.float64            # ints -> float64
    assert box_iou(np.zeros((0, 4)), f64).shape == (0, 1)


# ----------------------------------------------------------------------------- errors

def test_bad_boxes_are_reported_with_argument_and_index():
    good = [[0, 0, 1, 1]]
    with pytest.raises(ValueError, match=r"b: box 2 = .* is inverted"):
        box_iou(good, [[0, 0, 1, 1], [0, 0, 2, 2], [3, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"a: box 1 has a NaN"):
        box_iou([[0, 0, 1, 1], [0, np.nan, 1, 1]], good)
    with pytest.raises(ValueError, match=r"a: expected an \(N, 4\) array .* shape \(4,\)"):
        box_iou(np.array([0.0, 0, 1, 1]), good)
    with pytest.raises(ValueError, match=r"boxes: expected an \(N, 4\) array of xywh boxes"):
        box_convert(np.zeros((2, 5)), "xywh", "xyxy")
    with pytest.raises(ValueError, match=r"boxes: box 0 .* w >= 0 and h >= 0 for xywh"):
        box_convert([[0, 0, -1, 2]], "xywh", "xyxy")
    with pytest.raises(ValueError, match="out_fmt"):
        box_convert(good, "xyxy", "yxyx")
    with pytest.raises(TypeError, match="boxes"):
        box_area(np.array([["a", "b", "c", "d"]]))
    with pytest.raises(ValueError, match=r"box1, box2: expected one box"):
        iou([[0, 0, 1, 1], [0, 0, 1, 1]], (0, 0, 1, 1))
    with pytest.raises(ValueError, match=r"boxes: box 0 has a NaN or infinite"):
        clip_boxes([[0, 0, np.inf, 1]], (10, 10))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_iou_of_huge_identical_boxes_is_one(dtype):
    """Their float32 areas overflow to inf; the IoU must still be 1, in the input's dtype."""
    big = np.array([[0.0, 0.0, 1e20, 1e20]], dtype=dtype)
    iou = box_iou(big, big)
    assert iou.dtype == dtype and iou[0, 0] == 1.0
    assert generalized_box_iou(big, big)[0, 0] == 1.0
