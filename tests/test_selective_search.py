"""Selective search: region features and similarities by hand, histogram propagation, the
grouping against a brute-force oracle, the ranking, the public function and its errors,
and a quick recall floor on synthetic scenes."""

import numpy as np
import pytest

from npvision.data import make_scenes
from npvision.detection import (Hierarchy, Strategy, box_iou, felzenszwalb, hierarchical_grouping,
                                rank_proposals, region_adjacency, search_strategies, selective_search,
                                selective_search_hierarchies)
from npvision.detection import region_features as RF


@pytest.fixture(scope="module")
def scene():
    return make_scenes(1, size=32, min_objects=2, max_objects=3, seed=11).images[0].astype(np.float64)


def _features(img, k=30, min_size=5, space="hsv"):
    x = RF.to_color_space(img, space)
    labels = felzenszwalb(x, k=k, sigma=0.8, min_size=min_size)
    n = labels.max() + 1
    return x, labels, RF.color_histograms(x, labels, n), RF.texture_histograms(x, labels, n)


# ----------------------------------------------------------------------------- features by hand

def test_colour_histogram_by_hand():
    img = np.array([[[0.0], [0.5]],
                    [[0.99], [1.0]]])                                       # (2, 2, 1)
    labels = np.array([[0, 0], [1, 1]])
    hist = RF.color_histograms(img, labels, 2, n_bins=4)
    np.testing.assert_allclose(hist, [[0.5, 0, 0.5, 0], [0, 0, 0, 1]])
    three = RF.color_histograms(np.dstack([img, img, img]), labels, 2)      # 3 channels x 25 bins
    assert three.shape == (2, 75)
    np.testing.assert_allclose(three.sum(axis=1), 1.0)
    assert three[1, 24] == three[1, 49] == three[1, 74] == pytest.approx(1 / 3)


def test_similarities_by_hand():
    a = np.array([0.5, 0.5, 0.0, 0.0])
    b = np.array([0.0, 0.5, 0.5, 0.0])
    assert RF.color_similarity(a, b) == pytest.approx(0.5)
    assert RF.color_similarity(a, a) == pytest.approx(1.0)
    assert RF.texture_similarity(a, np.array([0, 0, 0.5, 0.5])) == 0.0
    np.testing.assert_allclose(RF.color_similarity(a, np.stack([a, b])), [1.0, 0.5])   # batched
    assert RF.size_similarity(10, 30, 100) == pytest.approx(0.6)
    # two 2x2 squares side by side fill their 2x4 box: nothing to fill, s_fill = 1
    left, right, corner = [0, 0, 1, 1], [0, 2, 1, 3], [2, 2, 3, 3]
    assert RF.fill_similarity(left, right, 4, 4, 64) == pytest.approx(1.0)
    # diagonal: their 4x4 box leaves 16 - 8 = 8 pixels empty
    assert RF.fill_similarity(left, corner, 4, 4, 64) == pytest.approx(1 - 8 / 64)
    assert RF.box_pixels(np.array([0, 0, 3, 3])) == 16


def test_texture_of_a_vertical_edge():
    img = np.zeros((9, 12, 1))
    img[:, 6:] = 1.0                                                        # dark left, bright right
    dx, dy = RF.gaussian_derivatives(img)
    assert dx[4, 5, 0] > 0.3 and np.abs(dy).max() < 1e-12
    ramp = np.tile(np.arange(12.0), (9, 1))[:, :, None] * 0.05              # f = 0.05 x
    np.testing.assert_allclose(RF.gaussian_derivatives(ramp)[0][:, 3:-3], 0.05, rtol=1e-12)
    labels = np.zeros((9, 12), dtype=np.int64)
    hist = RF.texture_histograms(img, labels, 1).reshape(8, 10)             # (orientations, bins)
    # d_o = cos(theta_o) d/dx: positive for 0, 45 and 315 degrees, never for 90..270
    assert hist[[0, 1, 7], 1:].sum() > 0
    assert hist[[2, 3, 4, 5, 6], 1:].sum() == 0
    assert hist[0, 9] > 0                                                   # the strongest response: the top bin


@pytest.mark.parametrize("space", ["hsv", "lab"])
def test_histogram_merge_equals_histogram_of_union(scene, space):
    x, labels, colour, texture = _features(scene, space=space)
    sizes = np.bincount(labels.ravel())
    i, j = region_adjacency(labels)[0]
    union = np.where(labels == j, i, labels)                                # j's pixels join i
    n = labels.max() + 1
    for hists, fn in ((colour, RF.color_histograms), (texture, RF.texture_histograms)):
        propagated = (sizes[i] * hists[i] + sizes[j] * hists[j]) / (sizes[i] + sizes[j])
        np.testing.assert_allclose(propagated, fn(x, union, n)[i], atol=1e-12)


def test_region_adjacency_by_hand():
    labels = np.array([[0, 0, 1],
                       [2, 3, 1],
                       [2, 2, 4]])
    pairs = region_adjacency(labels).tolist()
    # 1-2 and 3-4 touch only at a corner (8-neighbours); 0 and 4 never touch
    assert pairs == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [1, 4], [2, 3], [2, 4], [3, 4]]


# ----------------------------------------------------------------------------- the grouping

def _oracle_merges(x, labels, similarity):
    """Brute force: after each merge recompute every region's size, box and histograms from its
    pixels, every adjacency from the label image, every similarity, and take the best pair."""
    n = labels.max() + 1
    current = labels.copy()
    merges = []
    for step in range(n - 1):
        ids = np.unique(current)                                            # alive region ids
        dense = np.searchsorted(ids, current)                               # ids -> 0..m-1
        m = len(ids)
        colour = RF.color_histograms(x, dense, m)
        texture = RF.texture_histograms(x, dense, m)
        sizes, boxes = RF.region_sizes_and_boxes(dense, m)
        best, best_s = None, -np.inf
        for a, b in region_adjacency(dense).tolist():
            s = 0.0
            s += RF.color_similarity(colour[a], colour[b]) if "C" in similarity else 0
            s += RF.texture_similarity(texture[a], texture[b]) if "T" in similarity else 0
            s += RF.size_similarity(sizes[a], sizes[b], labels.size) if "S" in similarity else 0
            s += RF.fill_similarity(boxes[a], boxes[b], sizes[a], sizes[b], labels.size) if "F" in similarity else 0
            if s > best_s + 1e-9:
                best, best_s = (ids[a], ids[b]), s
        merges.append(sorted(best))
        current = np.where(np.isin(current, best), n + step, current)
    return merges


@pytest.mark.parametrize("similarity", ["CTSF", "TSF", "C", "F"])
def test_grouping_matches_the_brute_force_oracle(scene, similarity):
    x, labels, colour, texture = _features(scene[:20, :20], k=20, min_size=3)
    n = labels.max() + 1
    assert n >= 6
    h = hierarchical_grouping(labels, colour, texture, similarity)
    assert h.merges.tolist() == _oracle_merges(x, labels, similarity)


def test_hierarchy_has_n_minus_1_merges_and_ends_with_the_whole_image(scene):
    _, labels, colour, texture = _features(scene)
    n = labels.max() + 1
    h = hierarchical_grouping(labels, colour, texture, "CTSF")
    assert h.merges.shape == (n - 1, 2) and len(h.sizes) == len(h.boxes) == 2 * n - 1
    assert h.sizes[-1] == labels.size
    assert h.boxes[-1].tolist() == [0, 0, labels.shape[0] - 1, labels.shape[1] - 1]
    assert sorted(h.merges.ravel().tolist()) == list(range(2 * n - 2))      # every region merged once
    for s, (i, j) in enumerate(h.merges):
        assert i < n + s and j < n + s                                     # only existing regions
        assert h.sizes[n + s] == h.sizes[i] + h.sizes[j]
        # the merged pair touched in the segmentation of that moment
        before = h.labels_after(s)
        assert [i, j] in region_adjacency(before).tolist()
        after = h.labels_after(s + 1)
        assert np.array_equal(after == n + s, (before == i) | (before == j))
    np.testing.assert_array_equal(h.labels_after(0), labels)
    assert np.all(h.labels_after(n - 1) == 2 * n - 2)
    np.testing.assert_array_equal(h.positions(), np.arange(2 * n - 1, 0, -1))


def test_boxes_of_hierarchy_regions_are_the_boxes_of_their_pixels(scene):
    _, labels, colour, texture = _features(scene)
    h = hierarchical_grouping(labels, colour, texture, "TSF")
    n = h.n_initial
    for s in (0, n // 2, n - 2):
        mask = h.labels_after(s + 1) == n + s
        rows, cols = np.nonzero(mask)
        assert h.boxes[n + s].tolist() == [rows.min(), cols.min(), rows.max(), cols.max()]
        assert h.xyxy()[n + s].tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]


def test_single_region_gives_no_merges():
    labels = np.zeros((3, 4), dtype=np.int64)
    h = hierarchical_grouping(labels, np.ones((1, 75)) / 75, np.ones((1, 240)) / 240)
    assert h.merges.shape == (0, 2) and h.xyxy().tolist() == [[0, 0, 4, 3]]


# ----------------------------------------------------------------------------- ranking

def _hand_hierarchy(boxes_xyxy):
    """A chain hierarchy whose region r has the given xyxy box (only boxes and positions matter)."""
    b = np.asarray(boxes_xyxy, dtype=np.int64)
    inclusive = np.stack([b[:, 1], b[:, 0], b[:, 3] - 1, b[:, 2] - 1], axis=1)
    n = (len(b) + 1) // 2
    return Hierarchy(labels=np.arange(n).reshape(1, n), merges=np.zeros((n - 1, 2), dtype=np.int64),
                     similarities=np.zeros(n - 1), sizes=np.ones(len(b), dtype=np.int64), boxes=inclusive)


def test_ranking_is_rnd_times_position_then_duplicates_removed():
    h1 = _hand_hierarchy([[0, 0, 1, 1], [1, 0, 2, 1], [0, 0, 2, 1]])        # positions 3, 2, 1
    h2 = _hand_hierarchy([[0, 0, 1, 1], [5, 5, 6, 6], [0, 0, 2, 1]])        # shares two boxes with h1
    out = rank_proposals([h1, h2], seed=7)
    values = np.random.default_rng(7).random(6) * np.array([3, 2, 1, 3, 2, 1])
    every = np.concatenate([h1.xyxy(), h2.xyxy()])[np.argsort(values, kind="stable")]
    expected = []
    for box in every.tolist():
        if box not in expected:                                             # keep the best-ranked copy
            expected.append(box)
    assert out.tolist() == expected and len(out) == 4


# ----------------------------------------------------------------------------- the public function

def test_modes_have_the_papers_strategy_counts():
    assert len(search_strategies("single")) == 1
    fast = search_strategies("fast")
    assert len(fast) == 8 and {s.color_space for s in fast} == {"hsv", "lab"}
    assert {s.k for s in fast} == {50, 100} and {s.similarity for s in fast} == {"CTSF", "TSF"}
    assert len(search_strategies("quality")) == 80


def test_boxes_valid_distinct_inside_and_whole_image_included():
    img = make_scenes(1, size=(40, 56), min_objects=2, max_objects=3, seed=4).images[0]
    for mode in ("single", "fast"):
        boxes = selective_search(img, mode)
        assert boxes.dtype == np.float64 and boxes.ndim == 2 and boxes.shape[1] == 4
        assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 1] >= 0)
        assert np.all(boxes[:, 2] <= 56) and np.all(boxes[:, 3] <= 40)
        assert np.all(boxes[:, 2] > boxes[:, 0]) and np.all(boxes[:, 3] > boxes[:, 1])
        assert len(np.unique(boxes, axis=0)) == len(boxes)
        assert [0, 0, 56, 40] in boxes.tolist()
        assert np.array_equal(boxes, np.round(boxes))                      # whole pixels


def test_fast_pools_its_eight_hierarchies():
    img = make_scenes(1, size=32, seed=2).images[0]
    hs = selective_search_hierarchies(img, "fast")
    assert [h.strategy for h in hs] == search_strategies("fast")
    pooled = np.unique(np.concatenate([h.xyxy() for h in hs]), axis=0)
    boxes = selective_search(img, "fast")
    assert len(boxes) == len(pooled)
    assert {tuple(b) for b in boxes.tolist()} == {tuple(b) for b in pooled.tolist()}


def test_determinism_with_a_seed():
    img = make_scenes(1, size=48, min_objects=3, max_objects=4, seed=9).images[0]
    a = selective_search(img, "fast", seed=3)
    np.testing.assert_array_equal(a, selective_search(img, "fast", seed=3))
    b = selective_search(img, "fast", seed=4)
    assert not np.array_equal(a, b)                                         # another order
    assert sorted(map(tuple, a.tolist())) == sorted(map(tuple, b.tolist()))  # of the same boxes


def test_max_boxes_min_box_size_uint8_and_grey():
    img = make_scenes(1, size=32, seed=7).images[0]                         # has boxes 8 pixels wide
    boxes = selective_search(img, "single")
    np.testing.assert_array_equal(selective_search(img, "single", max_boxes=3), boxes[:3])
    big = selective_search(img, "single", min_box_size=8)
    wide_and_tall = np.all(boxes[:, 2:] - boxes[:, :2] >= 8, axis=1)
    np.testing.assert_array_equal(big, boxes[wide_and_tall])                # 8 pixels is enough
    assert 0 < len(big) < len(boxes) and np.any(boxes[wide_and_tall][:, 2:] - boxes[wide_and_tall][:, :2] == 8)
    u8 = np.round(img * 255).astype(np.uint8)
    np.testing.assert_array_equal(selective_search(u8, "single"),
                                  selective_search(u8.astype(np.float64) / 255, "single"))
    grey = img.mean(axis=2)
    np.testing.assert_array_equal(selective_search(grey, "single"),
                                  selective_search(np.dstack([grey] * 3), "single"))
    assert selective_search(np.full((1, 1, 3), 0.5)).tolist() == [[0, 0, 1, 1]]


@pytest.mark.parametrize("image,kwargs,err,match", [
    (np.zeros((0, 8, 3)), {}, ValueError, "empty image"),
    (np.zeros((8, 0)), {}, ValueError, "empty image"),
    (np.zeros((2, 8, 8, 3)), {}, ValueError, r"one image \(H, W, 3\)"),
    (np.zeros((8, 8, 4)), {}, ValueError, r"received shape \(8, 8, 4\)"),
    (np.zeros((8, 8, 3), dtype=np.int64), {}, TypeError, "uint8 values in 0..255"),
    (np.full((8, 8, 3), 200.0), {}, ValueError, "divide 8-bit values by 255"),
    (np.full((8, 8, 3), -0.5), {}, ValueError, r"in \[0, 1\]"),
    (np.full((8, 8, 3), np.nan), {}, ValueError, "finite"),
    (np.zeros((8, 8, 3)), {"mode": "slow"}, ValueError, "mode: expected one of"),
    (np.zeros((8, 8, 3)), {"mode": [Strategy("xyz", 50, "C")]}, ValueError, "colour space"),
    (np.zeros((8, 8, 3)), {"mode": [Strategy("hsv", 50, "CQ")]}, ValueError, "similarity"),
    (np.zeros((8, 8, 3)), {"max_boxes": 0}, ValueError, "max_boxes"),
    (np.zeros((8, 8, 3)), {"min_box_size": -1}, ValueError, "min_box_size"),
    (np.zeros((8, 8, 3)), {"seed": 1.5}, TypeError, "seed"),
    (np.zeros((8, 8, 3)), {"sigma": -1.0}, ValueError, "sigma"),
])
def test_clear_errors(image, kwargs, err, match):
    with pytest.raises(err, match=match):
        selective_search(image, **kwargs)


def test_recall_floor_on_a_few_scenes():
    """The issue's floor in small: ground-truth boxes found at IoU 0.5 within 500 proposals
    (the full measurement, 200 scenes: benchmarks/selective_search.md)."""
    scenes = make_scenes(8, size=128, min_objects=2, max_objects=4, seed=2_000_000_001)
    found = total = 0
    for img, gt in zip(scenes.images, scenes.boxes):
        boxes = selective_search(img, "fast", max_boxes=500)
        found += int((box_iou(gt, boxes).max(axis=1) >= 0.5).sum())
        total += len(gt)
    assert found / total >= 0.95
    # a constant guess (the whole image, or one box per image) is far below the floor
    whole = np.array([[0, 0, 128, 128]])
    baseline = sum(int((box_iou(gt, whole) >= 0.5).sum()) for gt in scenes.boxes) / total
    assert baseline < 0.2
