"""The COCO-layout instance-label loader and its NumPy polygon rasterization.

Goldens: ``tests/data/coco_polygons.json`` and pycocotools' own masks of it
(``annToMask``), made by ``tests/data/make_coco_polygon_goldens.py`` run by hand.
"""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from npvision.data import load_coco_instances, polygons_to_mask, rasterize_polygon

DATA = Path(__file__).parent / "data"
LABELS = json.loads((DATA / "coco_polygons.json").read_text())


def centre_distance_to_outline(polygon, h, w):
    """Distance (H, W) from every pixel centre to the nearest edge of the polygon."""
    p = np.asarray(polygon, float).reshape(-1, 2)
    py, px = np.mgrid[0:h, 0:w] + 0.5
    d = np.full((h, w), np.inf)
    for a, b in zip(p, np.roll(p, -1, 0)):
        ab = b - a
        t = np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / (ab @ ab), 0, 1)
        d = np.minimum(d, np.hypot(px - a[0] - t * ab[0], py - a[1] - t * ab[1]))
    return d


# ----------------------------------------------------------------------------- the pixel rule

def test_rectangle_by_the_pixel_centre_rule():
    # [2, 8) x [1, 4): centres 2.5 .. 7.5 and 1.5 .. 3.5 are inside
    m = rasterize_polygon([2, 1, 8, 1, 8, 4, 2, 4], (6, 10))
    expected = np.zeros((6, 10), dtype=bool)
    expected[1:4, 2:8] = True
    np.testing.assert_array_equal(m, expected)
    # the same box with the other winding, and as a (V, 2) array
    np.testing.assert_array_equal(rasterize_polygon(np.array([[2, 1], [2, 4], [8, 4], [8, 1]]), (6, 10)), m)


def test_centres_on_the_outline_are_half_open():
    # edges through pixel centres: x from 2.5 to 5.5, y from 1.5 to 3.5. Left/top edges take
    # their centres, right/bottom ones do not, so two boxes sharing an edge never share a pixel.
    left = rasterize_polygon([2.5, 1.5, 5.5, 1.5, 5.5, 3.5, 2.5, 3.5], (6, 10))
    right = rasterize_polygon([5.5, 1.5, 8.5, 1.5, 8.5, 3.5, 5.5, 3.5], (6, 10))
    assert np.argwhere(left).min(0).tolist() == [1, 2] and np.argwhere(left).max(0).tolist() == [2, 4]
    assert not (left & right).any()
    assert (left | right).sum() == 2 * 6


def test_triangle_matches_the_scenes_half_plane_test_away_from_edges():
    # a pixel is inside a convex polygon when its centre is on the inner side of every edge
    tri = np.array([[1.3, 2.2], [17.8, 5.1], [6.4, 14.9]])
    m = rasterize_polygon(tri, (16, 20))
    py, px = np.mgrid[0:16, 0:20] + 0.5
    inner = np.ones((16, 20), bool)
    for a, b in zip(tri, np.roll(tri, -1, 0)):
        inner &= (b[0] - a[0]) * (py - a[1]) - (b[1] - a[1]) * (px - a[0]) >= 0
    np.testing.assert_array_equal(m, inner)
    assert 60 < m.sum() < 120


def test_union_of_parts_and_cut_at_the_image():
    a = [0, 0, 4, 0, 4, 4, 0, 4]
    b = [2, 2, 6, 2, 6, 6, 2, 6]
    m = polygons_to_mask([a, b], (8, 8))
    assert m.sum() == 16 + 16 - 4
    outside = rasterize_polygon([-5, -5, 3, -5, 3, 2, -5, 2], (4, 4))
    assert outside.sum() == 3 * 2 and outside[:2, :3].all()
    assert not rasterize_polygon([10, 10, 12, 10, 11, 12], (4, 4)).any()


# ----------------------------------------------------------------------------- against pycocotools

def test_agrees_with_pycocotools_ann_to_mask():
    """Deliberate difference: pycocotools snaps the outline to a 1/5-pixel grid; npvision tests
    exact pixel centres. The masks may differ only on pixels whose centre is within 0.15 px of an
    edge (measured: within 0.12 px; 19 of 761 pixels over the seven annotations)."""
    ref = np.load(DATA / "coco_polygon_masks.npz")
    labels = load_coco_instances(DATA / "coco_polygons.json")
    sizes = {img["id"]: (img["height"], img["width"]) for img in LABELS["images"]}
    order = {iid: i for i, iid in enumerate(labels.image_ids)}
    seen = {iid: 0 for iid in order}
    total_diff = 0
    for ann in LABELS["annotations"]:
        i = order[ann["image_id"]]
        mine = labels.masks[i][seen[ann["image_id"]]]
        seen[ann["image_id"]] += 1
        theirs = ref[f"ann{ann['id']}"].astype(bool)
        h, w = sizes[ann["image_id"]]
        assert mine.shape == theirs.shape == (h, w)
        diff = mine ^ theirs
        near = np.min([centre_distance_to_outline(p, h, w) for p in ann["segmentation"]], axis=0)
        assert np.all(near[diff] < 0.15), f"annotation {ann['id']}: a pixel away from the outline differs"
        assert diff.sum() <= 8                    # measured: at most 7 (of 151) on annotation 1
        total_diff += diff.sum()
    assert 0 < total_diff < 25          # they do differ (so the comparison is not vacuous), a little


def test_loaded_fields():
    labels = load_coco_instances(DATA / "coco_polygons.json")
    assert len(labels) == 2 and labels.image_ids == [10, 20]
    # classes numbered by increasing category id: 1 star, 5 blob, 9 box
    assert labels.class_names == ("star", "blob", "box") and labels.category_ids == (1, 5, 9)
    assert labels.classes[0].tolist() == [1, 1, 2, 0, 2] and labels.classes[1].tolist() == [0, 1]
    assert labels.masks[0].shape == (5, 40, 56) and labels.masks[1].shape == (2, 33, 30)
    assert labels.masks[0].dtype == bool and labels.boxes[0].dtype == np.float32
    np.testing.assert_allclose(labels.boxes[0][2], [30, 26, 50, 37])           # xywh -> xyxy
    # every mask lies within its (vertex) box
    for boxes, masks in zip(labels.boxes, labels.masks):
        for b, m in zip(boxes, masks):
            r, c = np.nonzero(m)
            assert np.all(c + 0.5 >= b[0]) and np.all(c + 0.5 <= b[2])
            assert np.all(r + 0.5 >= b[1]) and np.all(r + 0.5 <= b[3])
    t = labels.targets()
    assert set(t[0]) == {"boxes", "classes", "masks"} and labels.images is None


def test_images_read_from_a_folder_and_uncompressed_rle(tmp_path):
    import matplotlib.image as mpimg

    mpimg.imsave(tmp_path / "a.png", np.random.default_rng(0).random((5, 6, 3)))
    rle = {"size": [5, 6], "counts": [7, 3, 2, 3, 15]}     # column-major runs: 0s first
    data = {"images": [{"id": 1, "file_name": "a.png", "height": 5, "width": 6}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle}],
            "categories": [{"id": 1, "name": "thing"}]}
    labels = load_coco_instances(data, image_dir=tmp_path)
    assert labels.images[0].shape == (5, 6, 3)
    expected = np.zeros(30, bool)
    expected[7:10] = expected[12:15] = True
    np.testing.assert_array_equal(labels.masks[0][0], expected.reshape(6, 5).T)   # columns first
    np.testing.assert_array_equal(labels.boxes[0][0], [1, 2, 3, 5])               # tight box, no bbox given
    data["images"][0]["height"] = 4
    data["annotations"][0]["segmentation"] = [[0, 0, 2, 0, 2, 2]]
    with pytest.raises(ValueError, match=r"file 'a.png' is 5x6 but the labels \(and so the masks\) are 4x6"):
        load_coco_instances(data, image_dir=tmp_path)


# ----------------------------------------------------------------------------- errors

def _broken(change):
    data = copy.deepcopy(LABELS)
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3, 4]]),
     r"annotations\[0\] \(id 1\) segmentation\[0\]: a polygon needs at least three points \(6 numbers\), "
     r"received 2 points"),
    (lambda d: d["annotations"][1].update(segmentation=[[1, 2, "3", 4, 5, 6]]),
     r"annotations\[1\] \(id 2\) segmentation\[0\]: coordinate 2 is '3'; expected finite numbers"),
    (lambda d: d["annotations"][1].update(segmentation=[[1, 2, None, 4, 5, 6]]),
     r"coordinate 2 is None"),
    (lambda d: d["annotations"][1].update(segmentation=[[1, 2, float("nan"), 4, 5, 6]]),
     r"coordinate 2 is nan"),
    (lambda d: d["annotations"][1].update(segmentation=[[1, 2, 3, 4, 5, 6, 7]]),
     r"expected an even number of coordinates"),
    (lambda d: d["annotations"][2].update(image_id=99),
     r"annotations\[2\] \(id 3\): image_id 99 is not among the images' ids"),
    (lambda d: d["annotations"][2].update(category_id=4),
     r"annotations\[2\] \(id 3\): category_id 4 is not among the categories' ids \[1, 5, 9\]"),
    (lambda d: d["annotations"][3].update(segmentation={"size": [41, 56], "counts": [41 * 56]}),
     r"annotations\[3\] \(id 4\) segmentation: the mask's size \(41, 56\) differs from its image's size "
     r"\(40, 56\)"),
    (lambda d: d["annotations"][3].update(segmentation={"size": [40, 56], "counts": "abc"}),
     r"compressed RLE strings are not read"),
    (lambda d: d["annotations"][3].update(bbox=[1, 2, -3, 4]),
     r"bbox must be \[x, y, width, height\]"),
    (lambda d: d["annotations"][3].pop("segmentation"),
     r"annotations\[3\] \(id 4\): missing 'segmentation'"),
    (lambda d: d["images"][1].update(id=10), r"images\[1\]: duplicate image id 10"),
    (lambda d: d["images"][0].update(height=0), r"images\[0\]: height and width must be ints >= 1"),
    (lambda d: d.pop("categories"), r"source: missing 'categories'"),
])
def test_malformed_entries_get_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        load_coco_instances(_broken(change))


def test_bad_json_file(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_coco_instances(tmp_path / "x.json")
    with pytest.raises(ValueError, match="image_size"):
        rasterize_polygon([0, 0, 1, 0, 1, 1], (0, 4))
