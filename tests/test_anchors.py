"""Anchors: centre-aligned shape IoU, k-means with the 1 - IoU distance, mean best IoU."""

import numpy as np
import pytest

from npvision.detection import box_iou, boxes_wh, kmeans_anchors, mean_best_iou, wh_iou


def clusters(seed=0, n=60, spread=0.03):
    """Shapes around three well-separated centres (a tall, a wide and a large box)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.08, 0.3], [0.3, 0.08], [0.6, 0.6]])
    wh = np.concatenate([c * (1 + spread * rng.standard_normal((n, 2))) for c in centres])
    return wh, centres


def test_wh_iou_matches_box_iou_of_centred_boxes():
    rng = np.random.default_rng(1)
    wh = rng.uniform(0.05, 0.9, size=(7, 2))
    anchors = rng.uniform(0.05, 0.9, size=(3, 2))
    centred = lambda s: np.concatenate([-s / 2, s / 2], axis=1)       # noqa: E731  (M, 4) at the origin
    np.testing.assert_allclose(wh_iou(wh, anchors), box_iou(centred(wh), centred(anchors)), rtol=1e-12)
    assert wh_iou(np.array([[0.2, 0.1]]), np.array([[0.1, 0.2]]))[0, 0] == pytest.approx(1 / 3)
    assert wh_iou(wh.astype(np.float32), anchors.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="wh: row 1"):
        wh_iou(np.array([[0.1, 0.1], [0.0, 0.2]]), anchors)
    with pytest.raises(ValueError, match=r"anchors: expected an \(M, 2\)"):
        wh_iou(wh, np.ones((3, 3)))


def test_boxes_wh():
    boxes = [np.array([[0.0, 0, 32, 16], [10, 10, 10, 20]]), np.zeros((0, 4)), np.array([[4.0, 8, 8, 72]])]
    np.testing.assert_allclose(boxes_wh(boxes, (128, 64)), [[0.5, 0.125], [1 / 16, 0.5]])  # zero width left out


def test_kmeans_recovers_separated_clusters():
    wh, centres = clusters()
    anchors = kmeans_anchors(wh, 3, seed=0)
    assert anchors.shape == (3, 2)
    areas = anchors.prod(axis=1)
    assert np.all(np.diff(areas) >= 0)                                # sorted by area
    # the two thin shapes have equal areas; match each anchor to its nearest true centre
    for c in centres:
        assert np.min(np.abs(anchors - c).max(axis=1) / c.max()) < 0.03
    assert mean_best_iou(wh, anchors) > 0.9


def test_kmeans_is_deterministic_for_a_seed():
    rng = np.random.default_rng(2)
    wh = rng.uniform(0.05, 0.6, size=(200, 2))
    a = kmeans_anchors(wh, 5, seed=7)
    np.testing.assert_array_equal(a, kmeans_anchors(wh, 5, seed=7))


def test_kmeans_k_versus_distinct_shapes():
    wh = np.array([[0.1, 0.2]] * 5 + [[0.3, 0.3]] * 5 + [[0.5, 0.1]] * 2)
    anchors = kmeans_anchors(wh, 3, seed=0)                           # k = distinct shapes: each its own
    np.testing.assert_allclose(anchors, [[0.1, 0.2], [0.5, 0.1], [0.3, 0.3]])
    assert mean_best_iou(wh, anchors) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="only 3 distinct shape"):
        kmeans_anchors(wh, 4)
    with pytest.raises(ValueError, match="k: expected an integer >= 1"):
        kmeans_anchors(wh, 0)


def test_mean_best_iou_range_and_growth_with_k():
    rng = np.random.default_rng(3)
    wh = np.exp(rng.normal(np.log(0.2), 0.5, size=(300, 2)))
    values = [mean_best_iou(wh, kmeans_anchors(wh, k, seed=0)) for k in (1, 2, 3, 5, 8)]
    assert all(0 <= v <= 1 for v in values)
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:])), values
    assert values[-1] > values[0] + 0.1
    # adding an anchor to a fixed set never lowers it
    base = kmeans_anchors(wh, 3, seed=0)
    assert mean_best_iou(wh, np.vstack([base, [[0.9, 0.05]]])) >= mean_best_iou(wh, base)


def test_kmeans_handles_an_empty_cluster(monkeypatch):
    # seed two identical centres: the second gets no members (argmax takes the first) and must
    # restart at the shape worst served, here the far outlier
    import npvision.detection.anchors as anchors_module

    wh = np.array([[0.1, 0.1]] * 50 + [[0.12, 0.1]] * 50 + [[0.9, 0.9]])
    seen = []

    def twin_seeds(data, k, rng):
        seen.append(k)
        return np.array([[0.1, 0.1], [0.1, 0.1], [0.12, 0.1]])

    monkeypatch.setattr(anchors_module, "_init_centres", twin_seeds)
    anchors = kmeans_anchors(wh, 3, seed=0, n_init=1)
    assert seen == [3]
    np.testing.assert_allclose(anchors[-1], [0.9, 0.9])
    assert len(np.unique(anchors, axis=0)) == 3


def test_plot_anchors_and_mean_iou_vs_k(tmp_path):
    from npvision.viz import plot_anchors, plot_mean_iou_vs_k

    wh, _ = clusters(n=20)
    anchors = kmeans_anchors(wh, 3)
    plot_anchors(wh, anchors, path=tmp_path / "anchors.png")
    assert (tmp_path / "anchors.png").stat().st_size > 0
    fig = plot_mean_iou_vs_k(wh, ks=(1, 2, 3))
    assert list(fig.values) == [1, 2, 3] and fig.values[3] > fig.values[1]
