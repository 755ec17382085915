"""Verification pairs, thresholds by cross-validation, ROC, VAL@FAR, one-shot accuracy."""

import numpy as np
import pytest

from npvision.face import (best_threshold, kfold_verification, make_verification_pairs,
                           one_shot_accuracy, pair_distances, pixel_distances, roc_auc, roc_curve,
                           val_at_far)


def _scores(seed=0, m=400):
    rng = np.random.default_rng(seed)
    same = rng.random(m) < 0.5
    d = np.where(same, rng.normal(0.8, 0.25, m), rng.normal(1.3, 0.25, m))
    return d, same


def _accuracy(d, same, t):
    return np.mean((d < t) == same)


def test_best_threshold_is_the_best_of_all_cuts():
    d, same = _scores()
    t, acc = best_threshold(d, same)
    assert acc == pytest.approx(_accuracy(d, same, t))
    ds = np.sort(d)
    cuts = np.concatenate([[ds[0] - 1], (ds[1:] + ds[:-1]) / 2, [ds[-1] + 1]])
    brute = max(_accuracy(d, same, c) for c in cuts)
    assert acc == pytest.approx(brute)


def test_best_threshold_by_hand():
    t, acc = best_threshold([0.1, 0.2, 0.5, 0.9], [True, True, False, False])
    assert t == pytest.approx(0.35) and acc == 1.0
    t, acc = best_threshold([0.3, 0.3, 0.6], [True, False, False])      # ties cannot be split
    assert acc == pytest.approx(2 / 3)


def test_kfold_picks_each_threshold_on_the_other_folds():
    d, same = _scores(1, 600)
    fold = np.arange(600) % 10
    r = kfold_verification(d, same, fold)
    loops = []
    for f in range(10):
        train = fold != f
        t, _ = best_threshold(d[train], same[train])
        assert r["thresholds"][f] == pytest.approx(t)
        loops.append(_accuracy(d[~train], same[~train], t))
    assert r["fold_accuracies"] == pytest.approx(loops)
    assert r["accuracy"] == pytest.approx(np.mean(loops))
    assert r["std"] == pytest.approx(np.std(loops, ddof=1))


def test_kfold_does_not_peek_at_the_scored_fold():
    # two folds with opposite best thresholds: fitting on the scored fold would give 1.0
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    same = np.array([1, 1, 0, 0, 1, 1, 1, 0], bool)
    fold = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    r = kfold_verification(d, same, fold)
    assert r["accuracy"] < 1.0


def test_roc_and_auc_by_counting():
    d, same = _scores(2, 300)
    far, tar, thr = roc_curve(d, same)
    for k in (0, 50, 120, len(thr) - 1):
        assert tar[k] == pytest.approx(np.mean(d[same] < thr[k]))
        assert far[k] == pytest.approx(np.mean(d[~same] < thr[k]))
    assert far[0] == 0 and tar[0] == 0 and far[-1] == 1 and tar[-1] == 1
    ds, dd = d[same], d[~same]
    mann_whitney = np.mean((ds[:, None] < dd[None, :]) + 0.5 * (ds[:, None] == dd[None, :]))
    assert roc_auc(d, same) == pytest.approx(mann_whitney)


def test_val_at_far_by_hand():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.15, 0.5, 0.6, 0.7, 0.8, 0.9])
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    # 6 different pairs: far=0.2 lets floor(1.2) = 1 through: threshold at the 2nd smallest (0.5)
    r = val_at_far(d, same, far=0.2)
    assert r["threshold"] == 0.5 and r["far"] == pytest.approx(1 / 6) and r["val"] == 1.0
    r = val_at_far(d, same, far=0.1)            # none may pass: threshold at 0.15
    assert r["threshold"] == 0.15 and r["far"] == 0.0 and r["val"] == 0.25


def test_make_verification_pairs_folds_are_identity_disjoint():
    labels = np.repeat(np.arange(40), 5)
    p = make_verification_pairs(labels, 200, 300, folds=10, seed=0)
    assert len(p["same"]) == 500 and p["same"].sum() == 200
    np.testing.assert_array_equal(labels[p["pairs"][:, 0]] == labels[p["pairs"][:, 1]], p["same"])
    assert np.all(p["pairs"][:, 0] != p["pairs"][:, 1])
    assert len({tuple(r) for r in p["pairs"]}) == 500                    # no pair twice
    owners = [set(labels[p["pairs"][p["fold"] == f].ravel()]) for f in range(10)]
    for f in range(10):
        for g in range(f + 1, 10):
            assert not owners[f] & owners[g]
    q = make_verification_pairs(np.repeat(np.arange(5), 20), 100, 100, folds=10, by_identity=False)
    assert np.bincount(q["fold"]).tolist() == [20] * 10


def test_one_shot_accuracy_extremes_and_loops():
    labels = np.repeat(np.arange(30), 4)
    perfect = np.eye(30)[labels]
    assert one_shot_accuracy(perfect, labels, 5, 300) == 1.0
    assert one_shot_accuracy(np.ones((120, 3)), labels, 5, 300) == 0.0          # all ties: misses
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((120, 8))
    acc, (q, refs, target, pred) = one_shot_accuracy(noise, labels, 20, 2000, seed=3, return_episodes=True)
    assert abs(acc - 1 / 20) < 0.02
    for k in range(40):
        assert labels[q[k]] == labels[refs[k, target[k]]] and q[k] != refs[k, target[k]]
        assert len(set(labels[refs[k]])) == 20
        dist = [np.sum((noise[q[k]] - noise[r]) ** 2) for r in refs[k]]
        assert pred[k] == int(np.argmin(dist))


def test_pixel_and_pair_distances():
    x = np.random.default_rng(0).random((4, 3, 3, 2))
    pairs = np.array([[0, 1], [2, 3]])
    np.testing.assert_allclose(pixel_distances(x, pairs),
                               [np.linalg.norm(x[0] - x[1]), np.linalg.norm(x[2] - x[3])])
    assert pair_distances(x.reshape(4, -1), pairs).shape == (2,)


def test_errors():
    with pytest.raises(ValueError, match="folds"):
        make_verification_pairs(np.repeat(np.arange(5), 3), 10, 10, folds=10)
    with pytest.raises(ValueError, match="same"):
        roc_curve([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="one flag per distance"):
        best_threshold([0.1, 0.2], [True])
    with pytest.raises(ValueError, match="two folds"):
        kfold_verification([0.1, 0.2], [True, False], [0, 0])
    with pytest.raises(ValueError, match="n_way"):
        one_shot_accuracy(np.eye(3), [0, 1, 2], 2)                                # no identity with 2 images
    with pytest.raises(ValueError, match="one label per embedding"):
        one_shot_accuracy(np.eye(3), [0, 1], 2)
    with pytest.raises(ValueError, match="far"):
        val_at_far([0.1, 0.2], [True, False], far=0)
