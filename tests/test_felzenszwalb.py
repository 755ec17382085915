"""Felzenszwalb-Huttenlocher graph segmentation: the pixel graph, the merging rule, its two
kernels (naive loop and numba) and scikit-image's partitions (goldens); colour conversions."""

from collections import deque
from pathlib import Path

import numpy as np
import pytest

import npvision
from npvision import kernels
from npvision.data import make_scenes
from npvision.data.color import LAB_RANGE, rgb_to_hsv, rgb_to_lab, rgb_to_rgi
from npvision.detection import felzenszwalb, grid_graph

GOLDENS = np.load(Path(__file__).resolve().parent / "data" / "selective_search_goldens.npz")


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two label images describe the same partition (a bijection between their labels)."""
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist()))
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def _components_are_connected(labels: np.ndarray) -> bool:
    """Every label's pixels form one 8-connected piece (breadth-first search)."""
    h, w = labels.shape
    seen = np.zeros_like(labels, dtype=bool)
    pieces = 0
    for r0 in range(h):
        for c0 in range(w):
            if seen[r0, c0]:
                continue
            pieces += 1
            seen[r0, c0] = True
            queue = deque([(r0, c0)])
            while queue:
                r, c = queue.popleft()
                for dr in (-1, 0, 1):
                    for dc in (-1, 0, 1):
                        rr, cc = r + dr, c + dc
                        if (0 <= rr < h and 0 <= cc < w and not seen[rr, cc]
                                and labels[rr, cc] == labels[r, c]):
                            seen[rr, cc] = True
                            queue.append((rr, cc))
    return pieces == len(np.unique(labels))


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(4, size=40, min_objects=2, max_objects=4, seed=3).images


# ----------------------------------------------------------------------------- the graph

def test_grid_graph_edges_and_weights_by_hand():
    img = np.array([[[0.0], [0.2]],
                    [[1.0], [0.2]]])                                       # (2, 2, 1)
    a, b, w = grid_graph(img)
    # right: 0-1, 2-3; down: 0-2, 1-3; down-right: 0-3; up-right: 2-1
    assert list(zip(a.tolist(), b.tolist())) == [(0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (2, 1)]
    np.testing.assert_allclose(w, 255 * np.array([0.2, 0.8, 1.0, 0.0, 0.2, 0.8]))
    rgb = np.zeros((1, 2, 3))
    rgb[0, 1] = [0.3, 0.4, 0.0]
    np.testing.assert_allclose(grid_graph(rgb)[2], [255 * 0.5])           # Euclidean over channels


@pytest.mark.parametrize("h,w", [(2, 2), (3, 5), (7, 4), (1, 6), (5, 1)])
def test_grid_graph_has_every_neighbour_pair_once(h, w):
    a, b, _ = grid_graph(np.zeros((h, w)))
    expected = 4 * h * w - 3 * (h + w) + 2 if min(h, w) >= 2 else h * w - 1
    assert len(a) == expected
    pairs = {tuple(sorted(p)) for p in zip(a.tolist(), b.tolist())}
    assert len(pairs) == expected
    for p, q in pairs:                                                     # 8-neighbours, distinct
        (rp, cp), (rq, cq) = divmod(p, w), divmod(q, w)
        assert max(abs(rp - rq), abs(cp - cq)) == 1


# ----------------------------------------------------------------------------- properties

def test_every_pixel_labelled_contiguous_first_appearance(scenes):
    for img in scenes:
        labels = felzenszwalb(img, k=50, sigma=0.8, min_size=10)
        assert labels.shape == img.shape[:2] and labels.dtype == np.int64
        n = labels.max() + 1
        assert set(np.unique(labels).tolist()) == set(range(n))             # every label used
        _, first = np.unique(labels.ravel(), return_index=True)
        assert np.all(np.diff(first) > 0)                                   # numbered by first appearance
        assert _components_are_connected(labels)


@pytest.mark.parametrize("min_size", [1, 5, 30, 100])
def test_min_size_is_respected(min_size):
    rng = np.random.default_rng(min_size)
    img = rng.random((30, 30, 3))                                          # pure noise: many tiny regions
    labels = felzenszwalb(img, k=20, sigma=0.0, min_size=min_size)
    sizes = np.bincount(labels.ravel())
    assert sizes.min() >= min_size
    if min_size == 1:
        assert labels.max() + 1 > 50                                       # no post-merge: noise stays split


def test_two_colour_image_splits_into_its_halves():
    img = np.zeros((12, 17, 3))
    img[:, 9:] = [0.9, 0.2, 0.1]
    # Blurred (sigma 0.8), the boundary becomes a ramp of 12-pixel columns, each a region of
    # its own; min_size 30 sends each of them to the closer half, along its lightest edge.
    for sigma, min_size in ((0.0, 5), (0.8, 30)):
        labels = felzenszwalb(img, k=100, sigma=sigma, min_size=min_size)
        assert labels.max() == 1
        assert np.all(labels[:, :9] == 0) and np.all(labels[:, 9:] == 1)


def test_uniform_image_is_one_region_and_k_sets_the_scale():
    assert felzenszwalb(np.full((9, 9, 3), 0.4), k=1.0).max() == 0
    rng = np.random.default_rng(0)
    img = rng.random((24, 24)) * 0.2
    counts = [felzenszwalb(img, k=k, sigma=0.0, min_size=1).max() + 1 for k in (1, 10, 100, 10_000)]
    assert counts[0] > counts[1] > counts[2] >= counts[3] == 1


@pytest.mark.parametrize("backend", ["naive", "numba"])
def test_merging_rule_by_hand(backend):
    # One row of 4 pixels: 0 | 10 | 10 | 40 (on the 0..255 scale). Edges 0-1 (10), 1-2 (0), 2-3 (30).
    img = np.array([[0.0, 10.0, 10.0, 40.0]]) / 255.0
    with npvision.use_backend(backend):
        # k = 20: 1-2 merge (0 <= 20); 0-1: w 10 <= min(tau(0) = 20, tau({1,2}) = 0 + 20 / 2 = 10)
        # -> merge (an equality: the test is <=), tau = 10 + 20 / 3 = 16.67; 2-3: 30 > 16.67 -> apart.
        np.testing.assert_array_equal(felzenszwalb(img, k=20, sigma=0, min_size=1), [[0, 0, 0, 1]])
        # k = 19: tau({1,2}) = 9.5 < 10 -> 0 stays alone.
        np.testing.assert_array_equal(felzenszwalb(img, k=19, sigma=0, min_size=1), [[0, 1, 1, 2]])
        # min_size 2 then merges the lone pixels 0 and 3 into their neighbours.
        np.testing.assert_array_equal(felzenszwalb(img, k=19, sigma=0, min_size=2), [[0, 0, 0, 0]])


# ----------------------------------------------------------------------------- kernels and references

def test_fh_segment_has_naive_and_numba_numba_fastest():
    assert kernels.ops()["fh_segment"] == ("naive", "numba")
    assert kernels.fastest()["fh_segment"] == "numba"


@pytest.mark.parametrize("k,sigma,min_size", [(50, 0.8, 10), (300, 0.0, 1), (10, 0.5, 25)])
def test_naive_and_numba_give_the_same_segmentation(scenes, k, sigma, min_size):
    rng = np.random.default_rng(1)
    images = list(scenes) + [rng.random((17, 23, 3)), rng.random((11, 8))]
    for img in images:
        with npvision.use_backend("naive"):
            slow = felzenszwalb(img, k=k, sigma=sigma, min_size=min_size)
        with npvision.use_backend("numba"):
            fast = felzenszwalb(img, k=k, sigma=sigma, min_size=min_size)
        np.testing.assert_array_equal(slow, fast)
        with npvision.use_backend("numpy"):                                # no numpy kernel: the fastest
            np.testing.assert_array_equal(felzenszwalb(img, k=k, sigma=sigma, min_size=min_size), fast)


@pytest.mark.parametrize("sigma", [0, 0.8])
@pytest.mark.parametrize("k", [50, 300])
def test_same_partitions_as_scikit_image(sigma, k):
    expected = GOLDENS[f"fh_{sigma}_{k}"]
    for scene, ref in zip(GOLDENS["scenes"], expected):
        ours = felzenszwalb(scene.astype(np.float64), k=k, sigma=sigma, min_size=10)
        assert ours.max() + 1 == ref.max() + 1
        assert _same_partition(ours, ref)


@pytest.mark.parametrize("bad,kwargs,err,match", [
    (np.zeros((0, 5, 3)), {}, ValueError, "at least one pixel"),
    (np.zeros((4, 4, 3, 1)), {}, ValueError, r"2-D or 3-D"),
    (np.zeros((4, 4), dtype=np.uint8), {}, TypeError, "floating-point"),
    (np.full((4, 4), np.nan), {}, ValueError, "finite"),
    (np.zeros((4, 4)), {"k": 0}, ValueError, "k: expected a number > 0"),
    (np.zeros((4, 4)), {"sigma": -1}, ValueError, "sigma: expected a number >= 0"),
    (np.zeros((4, 4)), {"min_size": 0}, ValueError, "min_size"),
])
def test_clear_errors(bad, kwargs, err, match):
    with pytest.raises(err, match=match):
        felzenszwalb(bad, **kwargs)


# ----------------------------------------------------------------------------- colour spaces

def test_hsv_and_lab_match_scikit_image():
    rgb = GOLDENS["rgb"]
    np.testing.assert_allclose(rgb_to_hsv(rgb), GOLDENS["hsv"], atol=1e-12)
    # scikit-image rounds the constants of the dark, linear segment of f (7.787 for 841/108 and
    # 0.008856 for (6/29)^3); npvision keeps the CIE's exact ones: 1e-5 apart in L*a*b* units.
    np.testing.assert_allclose(rgb_to_lab(rgb), GOLDENS["lab"], atol=3e-5)
    bright = rgb.min(axis=1) > 0.05                                         # f's cube-root segment only
    np.testing.assert_allclose(rgb_to_lab(rgb[bright]), GOLDENS["lab"][bright], atol=1e-10)


def test_colour_conversions_known_values():
    np.testing.assert_allclose(rgb_to_hsv([1.0, 0.0, 0.0]), [0, 1, 1])
    np.testing.assert_allclose(rgb_to_hsv([0.0, 0.5, 0.0]), [1 / 3, 1, 0.5])
    np.testing.assert_allclose(rgb_to_hsv([1.0, 0.0, 1.0]), [5 / 6, 1, 1])
    np.testing.assert_allclose(rgb_to_hsv([0.3, 0.3, 0.3]), [0, 0, 0.3])
    np.testing.assert_allclose(rgb_to_hsv([0.0, 0.0, 0.0]), [0, 0, 0])
    np.testing.assert_allclose(rgb_to_lab([1.0, 1.0, 1.0]), [100, 0, 0], atol=0.01)  # matrix rounding
    np.testing.assert_allclose(rgb_to_lab([0.0, 0.0, 0.0]), [0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(rgb_to_lab([1.0, 0.0, 0.0]), [53.24, 80.09, 67.20], atol=0.01)   # sRGB red
    np.testing.assert_allclose(rgb_to_rgi([0.2, 0.4, 0.6]), [1 / 6, 1 / 3, 0.4])
    np.testing.assert_allclose(rgb_to_rgi([0.0, 0.0, 0.0]), [1 / 3, 1 / 3, 0])


def test_lab_range_covers_the_srgb_gamut():
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 33)] * 3, indexing="ij"), -1).reshape(-1, 3)
    lab = rgb_to_lab(grid)
    for c, (lo, hi) in enumerate(LAB_RANGE):
        assert lo <= lab[:, c].min() and lab[:, c].max() <= hi
        assert hi - lo < 1.01 * (lab[:, c].max() - lab[:, c].min())       # and not much more


def test_colour_conversion_errors():
    with pytest.raises(ValueError, match=r"3 channels on the last axis"):
        rgb_to_hsv(np.zeros((4, 4, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        rgb_to_lab(np.zeros((2, 3), dtype=np.uint8))
