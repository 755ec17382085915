"""Tests of the synthetic scenes generator, npvision.data.scenes."""

import numpy as np
import pytest

from npvision.data import (SCENE_LANDMARK_HFLIP, SHAPE_CLASSES, Scenes, hflip, make_scenes)


@pytest.fixture(scope="module")
def multi():
    return make_scenes(120, size=48, min_objects=1, max_objects=4, seed=7, background="texture")


@pytest.fixture(scope="module")
def single():
    return make_scenes(80, size=40, min_objects=1, max_objects=1, seed=3)


def test_shapes_and_dtypes(multi):
    s = multi
    assert isinstance(s, Scenes) and len(s) == 120
    assert s.images.shape == (120, 48, 48, 3) and s.images.dtype == np.float32
    assert 0.0 <= s.images.min() and s.images.max() <= 1.0
    assert s.masks.shape == (120, 48, 48) and s.masks.dtype == np.int64
    assert s.instances.shape == (120, 48, 48)
    assert s.labels.shape == (120,) and s.labels.dtype == np.int64
    assert s.main_boxes.shape == (120, 4) and s.landmarks.shape == (120, 5, 2)
    assert s.class_names == SHAPE_CLASSES and s.num_classes == 4
    for b, c, lm in zip(s.boxes, s.classes, s.object_landmarks):
        k = len(c)
        assert 1 <= k <= 4
        assert b.shape == (k, 4) and b.dtype == np.float32
        assert c.dtype == np.int64 and lm.shape == (k, 5, 2)


def test_determinism_from_seed():
    a = make_scenes(10, size=32, max_objects=3, seed=11)
    b = make_scenes(10, size=32, max_objects=3, seed=11)
    c = make_scenes(10, size=32, max_objects=3, seed=12)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    for x, y in zip(a.boxes, b.boxes):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)


def test_masks_inside_boxes_and_consistent_with_classes(multi):
    s = multi
    cols = np.arange(48) + 0.5
    for i in range(len(s)):
        inst, mask = s.instances[i], s.masks[i]
        np.testing.assert_array_equal(mask == 0, inst == 0)
        for k, (box, cls) in enumerate(zip(s.boxes[i], s.classes[i])):
            rows, cc = np.nonzero(inst == k + 1)
            assert len(rows) > 0, "every object keeps visible pixels"
            x, y = cols[cc], cols[rows]                       # pixel centres
            assert np.all((x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3]))
            assert np.all(mask[rows, cc] == cls + 1)
            # the box is tight around the full shape: the visible part reaches into it
            assert box[2] - box[0] > 2 and box[3] - box[1] > 2


def test_boxes_and_landmarks_inside_image(multi, single):
    for s, size in ((multi, 48), (single, 40)):
        for b in s.boxes:
            assert np.all(b >= 0) and np.all(b <= size)
            assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
        assert np.all(s.landmarks >= 0) and np.all(s.landmarks <= size)


def test_landmarks_touch_their_box(single):
    lm, box = single.landmarks, single.main_boxes
    np.testing.assert_allclose(lm[:, 1, 1], box[:, 1], atol=1e-4)   # top point on y0
    np.testing.assert_allclose(lm[:, 2, 0], box[:, 2], atol=1e-4)   # right point on x1
    np.testing.assert_allclose(lm[:, 3, 1], box[:, 3], atol=1e-4)   # bottom point on y1
    np.testing.assert_allclose(lm[:, 4, 0], box[:, 0], atol=1e-4)   # left point on x0
    centre = lm[:, 0]
    assert np.all((centre[:, 0] > box[:, 0]) & (centre[:, 0] < box[:, 2]))
    # the centre pixel of a single shape belongs to it
    r, c = centre[:, 1].astype(int), centre[:, 0].astype(int)
    assert np.all(single.masks[np.arange(len(single)), r, c] == single.labels + 1)


def test_single_object_scenes(single):
    s = single
    for i in range(len(s)):
        assert len(s.classes[i]) == 1 and s.main_index[i] == 0
        assert s.labels[i] == s.classes[i][0]
        np.testing.assert_array_equal(s.main_boxes[i], s.boxes[i][0])
        np.testing.assert_array_equal(s.landmarks[i], s.object_landmarks[i][0])


def test_main_object_is_the_most_visible(multi):
    s = multi
    for i in range(len(s)):
        visible = [(s.instances[i] == k + 1).sum() for k in range(len(s.classes[i]))]
        assert s.main_index[i] == int(np.argmax(visible))
        assert s.labels[i] == s.classes[i][s.main_index[i]]
        np.testing.assert_array_equal(s.main_boxes[i], s.boxes[i][s.main_index[i]])


def test_class_and_object_counts():
    s = make_scenes(400, size=32, min_objects=2, max_objects=3, seed=5)
    counts = np.bincount(np.concatenate(s.classes), minlength=4)
    expected = counts.sum() / 4
    assert np.all(np.abs(counts - expected) < 0.15 * expected), counts
    n_obj = np.array([len(c) for c in s.classes])
    assert n_obj.min() >= 2 and n_obj.max() == 3
    only = make_scenes(30, size=32, max_objects=2, seed=1, classes=["circle", "triangle"])
    assert set(np.concatenate(only.classes).tolist()) == {0, 2}


def test_circle_area_and_occlusion_order():
    s = make_scenes(20, size=64, min_objects=1, max_objects=1, seed=2, classes=["circle"])
    for b, m in zip(s.main_boxes, s.masks):
        r = (b[2] - b[0]) / 2
        assert abs((m > 0).sum() - np.pi * r * r) < 2 * np.pi * r + 4   # within the rim
    # later objects are drawn on top, and none is hidden below min_visible of its area
    s = make_scenes(40, size=32, min_objects=3, max_objects=3, seed=4, classes=["circle"],
                    size_range=(0.4, 0.6), min_visible=0.5)
    for inst, boxes in zip(s.instances, s.boxes):
        r = (boxes[:, 2] - boxes[:, 0]) / 2
        area = np.pi * r ** 2
        visible = np.array([(inst == k + 1).sum() for k in range(3)])
        assert abs(visible[2] - area[2]) < 2 * np.pi * r[2] + 4         # the top one is whole
        assert np.all(visible >= 0.5 * area - 2 * np.pi * r - 4)


def test_hflip_with_landmark_order_keeps_meaning(single):
    i = 0
    out = hflip(single.images[i], boxes=single.main_boxes[i], landmarks=single.landmarks[i],
                flip_order=SCENE_LANDMARK_HFLIP)
    np.testing.assert_allclose(out.landmarks[2, 0], out.boxes[2], atol=1e-4)   # right on x1
    np.testing.assert_allclose(out.landmarks[4, 0], out.boxes[0], atol=1e-4)   # left on x0


def test_detection_targets_and_scene(multi):
    t = multi.detection_targets()
    assert len(t) == len(multi) and set(t[0]) == {"boxes", "classes"}
    d = multi.scene(3)
    assert d["image"].shape == (48, 48, 3) and d["label"] == multi.labels[3]


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(n=2, size=4), dict(n=2, min_objects=3, max_objects=2),
                                    dict(n=2, size_range=(0.5, 0.2)), dict(n=2, background="stripes"),
                                    dict(n=2, classes=["hexagon"]), dict(n=2, classes=[])])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        make_scenes(**kwargs)


def test_crowded_scenes_leave_out_objects_but_keep_labels_aligned():
    # big shapes that must stay 90% visible: many placements fail and are left out
    s = make_scenes(40, size=32, min_objects=1, max_objects=5, seed=9, size_range=(0.5, 0.7),
                    min_visible=0.9)
    n_obj = np.array([len(c) for c in s.classes])
    assert n_obj.min() >= 1 and n_obj.max() < 5
    for i in range(len(s)):
        ids = np.unique(s.instances[i])
        np.testing.assert_array_equal(ids, np.arange(n_obj[i] + 1))   # ids follow boxes[i]
        for k, c in enumerate(s.classes[i]):
            assert np.all(s.masks[i][s.instances[i] == k + 1] == c + 1)


# ----------------------------------------------------------------------------- instance masks

def test_instance_masks_view(multi):
    s = multi
    targets = s.instance_targets()
    assert len(targets) == len(s)
    for i in (0, 5, 17):
        m = s.instance_masks(i)
        assert m.dtype == bool and m.shape == (len(s.classes[i]), 48, 48)
        assert not (m.sum(0) > 1).any()                       # visible masks never overlap
        np.testing.assert_array_equal(m.any(0), s.instances[i] > 0)
        for k in range(len(m)):
            np.testing.assert_array_equal(m[k], s.instances[i] == k + 1)
            rows, cols = np.nonzero(m[k])
            b = s.boxes[i][k]                                 # every pixel centre inside the box
            assert np.all((cols + 0.5 >= b[0]) & (cols + 0.5 <= b[2]))
            assert np.all((rows + 0.5 >= b[1]) & (rows + 0.5 <= b[3]))
        assert targets[i]["masks"].shape == m.shape and targets[i]["classes"] is s.classes[i]


def test_hidden_pixels_belong_to_an_object_drawn_later():
    # Circles can be redrawn from their box: every pixel of a circle's full disc is either
    # visible as that circle or covered by an object drawn after it (on top), never by one
    # drawn before it, and never background.
    s = make_scenes(150, size=48, min_objects=3, max_objects=4, seed=2, classes=["circle", "square"])
    py, px = np.mgrid[0:48, 0:48] + 0.5
    hidden_seen = 0
    for i in range(len(s)):
        for k, (b, c) in enumerate(zip(s.boxes[i], s.classes[i])):
            if c != 0:
                continue
            cx, cy, r = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, (b[2] - b[0]) / 2
            d = np.hypot(px - cx, py - cy)
            disc, outside = d <= r - 1e-3, d > r + 1e-3      # away from the rim (float rounding)
            owner = s.instances[i]
            assert np.all(owner[disc] > 0)                    # no background inside a drawn disc
            assert np.all(owner[disc] >= k + 1)               # itself, or an object on top of it
            assert not np.any((owner == k + 1) & outside)     # its visible pixels lie in its disc
            hidden_seen += np.count_nonzero(owner[disc] > k + 1)
    assert hidden_seen > 200                                  # the scenes really overlap
