"""npvision.face losses: the course's triplet-loss cases, naive loop twins, gradient checks, bad input."""

import os

import numpy as np
import pytest

from npvision.face import (batch_all_triplet_loss, batch_hard_triplet_loss, contrastive_loss,
                           pairwise_distances, pairwise_distances_backward, semi_hard_triplet_loss,
                           triplet_hinge, triplet_loss)
from npvision.gradcheck import check_functional, check_loss

DATA = os.path.join(os.path.dirname(__file__), "data")


# ---------------------------------------------------------------------------
# naive references: one triplet, one anchor, one pair at a time
# ---------------------------------------------------------------------------
def _dist(a, b, squared):
    s = float(np.sum((a - b) ** 2))
    return s if squared else np.sqrt(s)


def _pairwise_loops(e, squared):
    n = len(e)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = _dist(e[i], e[j], squared)
    return out


def _triplet_loops(a, p, n, alpha):
    return sum(max(_dist(a[i], p[i], True) - _dist(a[i], n[i], True) + alpha, 0.0) for i in range(len(a)))


def _batch_all_loops(e, y, margin, squared):
    total, count = 0.0, 0
    for a in range(len(e)):
        for p in range(len(e)):
            for n in range(len(e)):
                if a != p and y[a] == y[p] and y[n] != y[a]:
                    l = _dist(e[a], e[p], squared) - _dist(e[a], e[n], squared) + margin
                    if l > 0:
                        total, count = total + l, count + 1
    return total / count if count else 0.0


def _batch_hard_loops(e, y, margin, squared):
    losses = []
    for a in range(len(e)):
        pos = [_dist(e[a], e[p], squared) for p in range(len(e)) if p != a and y[p] == y[a]]
        neg = [_dist(e[a], e[n], squared) for n in range(len(e)) if y[n] != y[a]]
        if pos and neg:
            losses.append(max(max(pos) - min(neg) + margin, 0.0))
    return float(np.mean(losses))


def _semi_hard_loops(e, y, margin, squared):
    losses = []
    for a in range(len(e)):
        for p in range(len(e)):
            if p == a or y[p] != y[a]:
                continue
            d_ap = _dist(e[a], e[p], squared)
            negs = [_dist(e[a], e[n], squared) for n in range(len(e)) if y[n] != y[a]]
            farther = [d for d in negs if d > d_ap]
            d_an = min(farther) if farther else max(negs)
            losses.append(max(d_ap - d_an + margin, 0.0))
    return float(np.mean(losses))


def _contrastive_loops(f1, f2, same, margin):
    total = 0.0
    for i in range(len(f1)):
        d = _dist(f1[i], f2[i], False)
        total += 0.5 * d ** 2 if same[i] else 0.5 * max(margin - d, 0.0) ** 2
    return total / len(f1)


def _batch(seed=0, p=4, k=3, d=5):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(p), k)
    e = rng.standard_normal((p * k, d)) * 0.6 + rng.standard_normal((p, d))[labels]
    return e, labels


# ---------------------------------------------------------------------------
# the course's triplet_loss unit test
# ---------------------------------------------------------------------------
COURSE_CASES = [  # (anchor, positive, negative, alpha, expected), from the course's test cell
    ([1., 1.], [1., 1.], [1., 1.], 5, 5.0),
    ([1., 1.], [1., 1.], [0., 0.], 3, 1.0),
    ([1., 1.], [0., 0.], [1., 1.], 0, 2.0),
    ([0., 0.], [0., 0.], [0., 0.], -2, 0.0),
    ([[1., 0.], [1., 0.]], [[1., 0.], [1., 0.]], [[0., 1.], [0., 1.]], 3, 2.0),
    ([[1., 1.], [2., 0.]], [[0., 3.], [1., 1.]], [[1., 0.], [0., 1.]], 1, 5.0),
]


@pytest.mark.parametrize("a, p, n, alpha, expected", COURSE_CASES)
def test_course_hand_cases(a, p, n, alpha, expected):
    loss, _ = triplet_hinge(a, p, n, alpha)
    assert loss == expected
    if alpha >= 0:
        assert triplet_loss(a, p, n, margin=alpha)[0] == expected


def test_course_negative_alpha_case_is_refused_by_triplet_loss_only():
    with pytest.raises(ValueError, match="margin"):
        triplet_loss([0., 0.], [0., 0.], [0., 0.], margin=-2)
    assert triplet_hinge([0., 0.], [0., 0.], [0., 0.], -2)[0] == 0.0


def test_course_random_tensors_give_the_course_number():
    # tensors drawn by TensorFlow exactly as the course's cell draws them (make_face_goldens.py)
    g = np.load(os.path.join(DATA, "face_course_triplet.npz"))
    loss, _ = triplet_loss(g["anchor"], g["positive"], g["negative"])      # alpha = 0.2, float32
    assert f"{loss:.4f}" == "527.2598"                                       # the course's printout
    assert loss == pytest.approx(float(g["tf_loss"]), rel=1e-6)
    a, p, n = (g[k].astype(np.float64) for k in ("anchor", "positive", "negative"))
    assert triplet_loss(a, p, n)[0] == pytest.approx(_triplet_loops(a, p, n, 0.2), rel=1e-12)


# ---------------------------------------------------------------------------
# values against the loops, hand cases
# ---------------------------------------------------------------------------
def test_pairwise_distances_match_loops():
    e, _ = _batch(1)
    for squared in (False, True):
        np.testing.assert_allclose(pairwise_distances(e, squared=squared), _pairwise_loops(e, squared),
                                   atol=1e-12)
    other = np.random.default_rng(2).standard_normal((4, e.shape[1]))
    loops = np.array([[_dist(a, b, False) for b in other] for a in e])
    np.testing.assert_allclose(pairwise_distances(e, other), loops, atol=1e-12)


@pytest.mark.parametrize("squared", [False, True])
def test_pairwise_backward_gradcheck(squared):
    e, _ = _batch(3)
    w = np.random.default_rng(4).standard_normal((len(e), len(e)))

    def loss(x):
        d = pairwise_distances(x, squared=squared)
        return float(np.sum(w * d)), pairwise_distances_backward(w, x, d, squared)

    check_loss(loss, e)


def test_triplet_matches_loops_and_gradcheck():
    rng = np.random.default_rng(5)
    a, p, n = (rng.standard_normal((6, 4)) for _ in range(3))
    assert triplet_loss(a, p, n, 0.5)[0] == pytest.approx(_triplet_loops(a, p, n, 0.5), rel=1e-12)

    def fwd(a_, p_, n_):
        loss, grads = triplet_loss(a_, p_, n_, 0.5)
        return np.array(loss), grads

    check_functional(fwd, lambda dout, grads: tuple(float(dout) * g for g in grads), [a, p, n])


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("fn, loops, margin", [
    (batch_all_triplet_loss, _batch_all_loops, 0.7),
    (batch_hard_triplet_loss, _batch_hard_loops, 0.7),
    (semi_hard_triplet_loss, _semi_hard_loops, 1.0),
])
def test_mining_losses_match_loops_and_gradcheck(fn, loops, margin, squared):
    for seed in (0, 1, 2):
        e, y = _batch(seed)
        loss, _ = fn(e, y, margin=margin, squared=squared)
        assert loss == pytest.approx(loops(e, y, margin, squared), rel=1e-10)
        assert loss > 0
        check_loss(lambda x: fn(x, y, margin=margin, squared=squared), e)


def test_mining_with_unequal_identity_sizes_and_string_labels():
    rng = np.random.default_rng(7)
    y = np.array(["ana", "ana", "ana", "bo", "bo", "cy", "di", "di"])       # cy: a singleton
    e = rng.standard_normal((8, 3))
    for fn, loops in ((batch_all_triplet_loss, _batch_all_loops), (batch_hard_triplet_loss, _batch_hard_loops),
                      (semi_hard_triplet_loss, _semi_hard_loops)):
        assert fn(e, y, margin=0.5)[0] == pytest.approx(loops(e, y, 0.5, fn is semi_hard_triplet_loss),
                                                        rel=1e-10)
        check_loss(lambda x: fn(x, y, margin=0.5), e)


def test_batch_hard_by_hand():
    # 1-D embeddings: identity 0 at 0 and 1, identity 1 at 3 and 6
    e = np.array([[0.], [1.], [3.], [6.]])
    y = np.array([0, 0, 1, 1])
    # anchor 0: hardest pos 1, hardest neg 3 -> 1 - 3 + 1 = -1 -> 0
    # anchor 1: pos 1, neg 2 -> 1 - 2 + 1 = 0 -> 0
    # anchor 3 (x=3): pos 3, neg 2 -> 3 - 2 + 1 = 2;  anchor 6: pos 3, neg 5 -> -1 -> 0
    loss, de = batch_hard_triplet_loss(e, y, margin=1.0)
    assert loss == pytest.approx(2 / 4)
    # only anchor x=3 is active, with dL/dD(3,6) = 1/4 and dL/dD(3,1) = -1/4; dD(3,6)/dx = -1 at 3,
    # +1 at 6; dD(3,1)/dx = +1 at 3, -1 at 1
    np.testing.assert_allclose(de[:, 0], [0.0, 0.25, -0.5, 0.25], atol=1e-12)


def test_semi_hard_prefers_the_closest_farther_negative_by_hand():
    # anchor 0 at 0, its positive at 2 (d_ap = 4 squared); negatives at 1 (closer), 3 and 5
    e = np.array([[0.], [2.], [1.], [3.], [5.]])
    y = np.array([0, 0, 1, 2, 3])
    loss, _ = semi_hard_triplet_loss(e, y, margin=10.0, squared=True)
    # pair (0,1): semi-hard negative 3 (d = 9 > 4): 4 - 9 + 10 = 5
    # pair (1,0): d_ap = 4; negatives of 2 at d 1, 1, 9: none > 4 except 9 -> 4 - 9 + 10 = 5
    assert loss == pytest.approx(5.0)
    # no negative farther than the positive: the farthest one is used
    e2 = np.array([[0.], [10.], [1.], [2.]])
    loss2, _ = semi_hard_triplet_loss(e2, np.array([0, 0, 1, 1]), margin=0.0, squared=False)
    # pairs of identity 0: (0,1): d_ap 10, negs 1, 2 -> farthest 2 -> 8; (1,0): negs 9, 8, none > 10 -> 9 -> 1
    # pairs of identity 1: (2,3): d_ap 1, negs 1, 9 -> semi-hard 9 -> -8 -> 0; (3,2): negs 2, 8 -> 2 -> 0
    assert loss2 == pytest.approx((8 + 1) / 4)


def test_batch_all_averages_over_active_triplets_only():
    e = np.array([[0.], [0.1], [5.], [5.1]])
    y = np.array([0, 0, 1, 1])
    assert batch_all_triplet_loss(e, y, margin=0.2)[0] == 0.0               # all easy
    loss, de = batch_all_triplet_loss(e, y, margin=10.0)
    # all 8 triplets active: mean of d_ap - d_an + 10
    assert loss == pytest.approx(_batch_all_loops(e, y, 10.0, False))
    assert np.any(de != 0)


def test_contrastive_matches_loops_and_gradcheck():
    rng = np.random.default_rng(9)
    f1, f2 = rng.standard_normal((8, 4)), rng.standard_normal((8, 4))
    same = np.array([1, 0, 1, 0, 0, 1, 0, 0], bool)
    for margin in (1.0, 3.0):       # 3.0: every different pair inside the margin
        assert contrastive_loss(f1, f2, same, margin)[0] == pytest.approx(
            _contrastive_loops(f1, f2, same, margin), rel=1e-12)

        def fwd(a, b, margin=margin):
            loss, grads = contrastive_loss(a, b, same, margin)
            return np.array(loss), grads

        check_functional(fwd, lambda dout, grads: tuple(float(dout) * g for g in grads), [f1, f2])


def test_contrastive_gradient_is_zero_at_zero_distance_of_a_different_pair():
    f = np.ones((1, 3))
    loss, (d1, d2) = contrastive_loss(f, f.copy(), [0], margin=1.0)
    assert loss == pytest.approx(0.5) and np.all(d1 == 0) and np.all(d2 == 0)


def test_float32_is_kept():
    e, y = _batch(0)
    e = e.astype(np.float32)
    for fn in (batch_all_triplet_loss, batch_hard_triplet_loss, semi_hard_triplet_loss):
        assert fn(e, y)[1].dtype == np.float32
    assert triplet_loss(e[:3], e[3:6], e[6:9])[1][0].dtype == np.float32


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def test_bad_input_is_named():
    e, y = _batch(0)
    with pytest.raises(ValueError, match="width"):
        triplet_loss(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="negative"):
        triplet_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="width"):
        contrastive_loss(np.zeros((2, 3)), np.zeros((2, 5)), [1, 0])
    with pytest.raises(ValueError, match="width"):
        pairwise_distances(np.zeros((2, 3)), np.zeros((2, 4)))
    for fn in (batch_all_triplet_loss, batch_hard_triplet_loss, semi_hard_triplet_loss):
        with pytest.raises(ValueError, match="same identity"):
            fn(e, np.zeros(len(e), int))
        with pytest.raises(ValueError, match="singletons"):
            fn(e, np.arange(len(e)))
        with pytest.raises(ValueError, match="one label per embedding"):
            fn(e, y[:-1])
        with pytest.raises(ValueError, match="margin"):
            fn(e, y, margin=-0.1)
        with pytest.raises(ValueError, match="NaN"):
            fn(np.full_like(e, np.nan), y)
    with pytest.raises(ValueError, match="margin"):
        contrastive_loss(e[:2], e[2:4], [1, 0], margin=-1)
    with pytest.raises(ValueError, match="same"):
        contrastive_loss(e[:2], e[2:4], [1, 2])
    with pytest.raises(TypeError, match="floating-point"):
        triplet_loss(np.zeros((2, 3), np.uint8), np.zeros((2, 3)), np.zeros((2, 3)))
