"""Measuring a face encoder honestly: verification pairs, 10-fold thresholds, ROC, VAL@FAR, one-shot.

Verification (is this pair one person?) is scored the way face benchmarks (LFW) do:

1. **Pairs.** :func:`make_verification_pairs` draws same-identity and
   different-identity pairs of held-out images in ``folds`` groups whose
   identities do not overlap, so no fold's threshold is fitted on the people
   it is scored on.
2. **Threshold by cross-validation.** :func:`kfold_verification`: for each fold,
   the distance threshold ``t`` that maximizes accuracy on the other nine folds is
   applied to this fold ("same" when ``d < t``); the report is the mean and the
   standard deviation of the ten fold accuracies. The threshold is never chosen on
   the pairs it is scored on.
3. **ROC and VAL@FAR.** :func:`roc_curve` gives, for every threshold, the true
   accept rate ``TAR = |same pairs with d < t| / |same pairs|`` against the false
   accept rate ``FAR = |different pairs with d < t| / |different pairs|``.
   :func:`val_at_far` reads the validation rate (FaceNet's VAL, the TAR) at the
   largest threshold whose FAR is at most a target such as 1e-3.

Recognition (who is this?) is scored by :func:`one_shot_accuracy`: in each of many
episodes, ``n_way`` held-out identities contribute one reference image each, and
a query image of one of them (never the reference itself) must be nearest to its
own identity's reference.

Every function takes distances or embeddings, so raw pixels can be scored the
same way (:func:`pixel_distances`): that is the baseline a trained encoder must beat.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, positive_int
from ..data._common import as_rng
from .distances import check_embeddings

__all__ = ["make_verification_pairs", "best_threshold", "kfold_verification", "roc_curve",
           "roc_auc", "val_at_far", "one_shot_accuracy", "pair_distances", "pixel_distances"]


def _labels(labels, n: int | None = None, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of identity labels, received shape {labels.shape}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name}: expected one label per embedding ({n}), received {len(labels)}")
    return labels


def _draw_pairs(group, members: dict, n_same: int, n_diff: int, rng, where: str):
    """``n_same`` same-identity and ``n_diff`` different-identity pairs of distinct images of
    the identities ``group``, no pair twice: ``(pairs (M, 2), same (M,))``."""
    multi = [i for i in group if len(members[i]) >= 2]
    if not multi or len(group) < 2:
        raise ValueError(f"labels: {where} needs two identities, one of them with two images; "
                         f"use more identities")
    seen, pairs, same = set(), [], []
    for want, is_same in ((n_same, True), (n_diff, False)):
        got, tries = 0, 0
        while got < want:
            tries += 1
            if tries > 100 * want + 1000:
                raise ValueError(f"labels: {where} has too few distinct "
                                 f"{'same' if is_same else 'different'}-identity pairs for {want}; "
                                 f"use more identities or images, or fewer pairs")
            if is_same:
                who = multi[rng.integers(len(multi))]
                a, b = rng.choice(members[who], 2, replace=False)
            else:
                p, q = rng.choice(group, 2, replace=False)
                a, b = rng.choice(members[p]), rng.choice(members[q])
            key = (min(a, b), max(a, b))
            if key not in seen:
                seen.add(key)
                pairs.append(key)
                same.append(is_same)
                got += 1
    return pairs, same


def make_verification_pairs(labels, n_same: int = 3000, n_diff: int = 3000, folds: int = 10,
                            seed=0, by_identity: bool = True) -> dict:
    """Same/different pairs of images, in identity-disjoint folds.

    The identities are shuffled and dealt into ``folds`` groups; fold ``f`` draws
    ``n_same / folds`` pairs of two different images of one of its identities and
    ``n_diff / folds`` pairs of images of two of its identities, without repeating a
    pair. With ``by_identity=False`` (too few identities, e.g. 5 digit classes) the
    pairs are drawn from all identities and dealt into the folds in turn.
    Returns ``{"pairs": (M, 2) int64 image indices, "same": (M,) bool,
    "fold": (M,) int64}``, ``M = n_same + n_diff`` (each rounded down to a multiple of folds).
    """
    labels = _labels(labels)
    folds = positive_int(folds, "folds")
    rng = as_rng(seed, "seed")
    ids = np.unique(labels)
    members = {i: np.flatnonzero(labels == i) for i in ids}
    per_same, per_diff = n_same // folds, n_diff // folds
    if not by_identity:
        pairs, same = _draw_pairs(ids, members, per_same * folds, per_diff * folds, rng, "the labels")
        fold = np.concatenate([np.arange(per_same * folds) % folds, np.arange(per_diff * folds) % folds])
    else:
        if len(ids) < 2 * folds:
            raise ValueError(f"labels: {len(ids)} identities cannot be dealt into {folds} folds of "
                             f"two identities or more; use by_identity=False or fewer folds")
        pairs, same, fold = [], [], []
        for f, group in enumerate(np.array_split(rng.permutation(ids), folds)):
            p, s = _draw_pairs(group, members, per_same, per_diff, rng, f"fold {f}")
            pairs += p
            same += s
            fold += [f] * len(p)
    return {"pairs": np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
            "same": np.asarray(same, dtype=bool), "fold": np.asarray(fold, dtype=np.int64)}


def pair_distances(embeddings, pairs) -> np.ndarray:
    """Plain L2 distance of every pair: ``(N, D)`` embeddings, ``(M, 2)`` indices -> ``(M,)``."""
    e = check_embeddings(embeddings)
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs: expected an (M, 2) array of indices, received shape {pairs.shape}")
    diff = e[pairs[:, 0]] - e[pairs[:, 1]]                         # (M, D)
    return np.sqrt(np.sum(diff * diff, axis=1))


def pixel_distances(images, pairs) -> np.ndarray:
    """The raw-pixel baseline: L2 distance between the flattened images of every pair."""
    images = as_float_array(images, "images")
    flat = images.reshape(len(images), -1).astype(np.float64)     # (N, H*W*C)
    return pair_distances(flat, pairs)


def _check_scores(distances, same):
    d = as_float_array(distances, "distances", ndim=1, layout="(M,)")
    same = np.asarray(same)
    if same.shape != d.shape:
        raise ValueError(f"same: expected one flag per distance {d.shape}, received shape {same.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("distances: contains NaN or infinite values")
    return d.astype(np.float64), same.astype(bool)


def best_threshold(distances, same) -> tuple[float, float]:
    """The threshold ``t`` maximizing the accuracy of "same iff ``d < t``", and that accuracy.

    Candidates are the midpoints between consecutive sorted distances (and one
    below the smallest, one above the largest); ties of accuracy go to the
    smallest threshold. ``O(M log M)``: with the distances sorted, predicting
    "same" for the first ``i`` of them scores
    ``(same among the first i) + (different among the rest)`` correct.
    """
    d, same = _check_scores(distances, same)
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], same[order]
    n = len(ds)
    same_before = np.concatenate([[0], np.cumsum(ss)])           # (n+1,) same pairs among the first i
    diff_after = np.sum(~ss) - np.concatenate([[0], np.cumsum(~ss)])  # (n+1,) different among the rest
    correct = same_before + diff_after                           # (n+1,) accuracy * n for "first i"
    # only cut between distinct values: a threshold cannot separate equal distances
    cut_ok = np.concatenate([[True], ds[1:] > ds[:-1], [True]])
    correct = np.where(cut_ok, correct, -1)
    i = int(np.argmax(correct))
    if i == 0:
        t = ds[0] - 1e-6 if n else 0.0
    elif i == n:
        t = ds[-1] + 1e-6
    else:
        t = 0.5 * (ds[i - 1] + ds[i])
    return float(t), float(correct[i] / n)


def kfold_verification(distances, same, fold) -> dict:
    """Accuracy with the threshold chosen on the other folds (see the module docstring).

    Returns ``{"accuracy": mean, "std": standard deviation (ddof=1) of the fold accuracies,
    "fold_accuracies": [...], "thresholds": [...], "threshold": mean threshold}``.
    """
    d, same = _check_scores(distances, same)
    fold = np.asarray(fold)
    if fold.shape != d.shape:
        raise ValueError(f"fold: expected one fold index per distance {d.shape}, received {fold.shape}")
    names = np.unique(fold)
    if len(names) < 2:
        raise ValueError(f"fold: cross-validation needs at least two folds, received {len(names)}")
    accs, thresholds = [], []
    for f in names:
        test = fold == f
        t, _ = best_threshold(d[~test], same[~test])
        accs.append(float(np.mean((d[test] < t) == same[test])))
        thresholds.append(t)
    return {"accuracy": float(np.mean(accs)), "std": float(np.std(accs, ddof=1)),
            "fold_accuracies": accs, "thresholds": thresholds, "threshold": float(np.mean(thresholds))}


def roc_curve(distances, same) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(far, tar, thresholds)``: for each threshold (the distinct distances, plus one above
    the largest), the rates of "same iff ``d < t``" on different and on same pairs.

    ``far`` and ``tar`` rise from 0 to 1 as the threshold grows.
    """
    d, same = _check_scores(distances, same)
    if same.all() or not same.any():
        raise ValueError("same: a ROC curve needs both same and different pairs")
    thresholds = np.concatenate([np.unique(d), [d.max() + 1e-6]])   # (T,)
    ds = np.sort(d[same])
    dd = np.sort(d[~same])
    tar = np.searchsorted(ds, thresholds, side="left") / len(ds)  # fraction with d < t
    far = np.searchsorted(dd, thresholds, side="left") / len(dd)
    return far, tar, thresholds


def roc_auc(distances, same) -> float:
    """Area under the ROC curve: the chance that a random same pair is closer than a
    random different pair (ties count half)."""
    far, tar, _ = roc_curve(distances, same)
    return float(np.trapezoid(tar, far)) if hasattr(np, "trapezoid") else float(np.trapz(tar, far))


def val_at_far(distances, same, far: float = 1e-3) -> dict:
    """FaceNet's validation rate at a false accept rate: the TAR at the largest
    threshold whose FAR is at most ``far``.

    With ``n_d`` different pairs, at most ``floor(far * n_d)`` of them may fall below
    the threshold, so it is the ``(floor(far * n_d) + 1)``-th smallest different-pair
    distance ("same" means strictly below it). Returns ``{"val", "far", "threshold"}``,
    ``far`` the rate actually reached. Meaningful only when ``far * n_d`` is at least
    about 1 (1000 different pairs for 1e-3).
    """
    d, same = _check_scores(distances, same)
    if not 0 < far < 1:
        raise ValueError(f"far: expected a rate in (0, 1), received {far!r}")
    if same.all() or not same.any():
        raise ValueError("same: VAL@FAR needs both same and different pairs")
    dd = np.sort(d[~same])
    k = int(np.floor(far * len(dd)))
    t = dd[k] if k < len(dd) else dd[-1] + 1e-6
    return {"val": float(np.mean(d[same] < t)), "far": float(np.mean(dd < t)), "threshold": float(t)}


def one_shot_accuracy(embeddings, labels, n_way: int, episodes: int = 2000, seed=0,
                      return_episodes: bool = False):
    """N-way one-shot recognition accuracy by nearest reference (plain L2).

    Each episode draws ``n_way`` distinct identities, one reference image of each,
    and one query: another image of one of them (chosen uniformly). The query is
    recognized when its nearest reference is its own identity's (ties count as a
    miss). ``embeddings`` ``(N, D)`` may be raw pixels flattened, for a baseline.
    With ``return_episodes`` also returns ``(query, references (E, n_way), target
    position (E,), predicted position (E,))`` image indices for pictures.
    """
    e = check_embeddings(embeddings)
    labels = _labels(labels, len(e))
    n_way = positive_int(n_way, "n_way")
    episodes = positive_int(episodes, "episodes")
    rng = as_rng(seed, "seed")
    ids = np.unique(labels)
    members = [np.flatnonzero(labels == i) for i in ids]
    multi = np.array([len(m) >= 2 for m in members])
    if n_way < 2 or len(ids) < n_way or not multi.any():
        raise ValueError(f"n_way: {n_way}-way one-shot needs n_way >= 2 identities, one of them with "
                         f"two images; received {len(ids)} identities, {int(multi.sum())} with two images")
    queries = np.empty(episodes, np.int64)
    refs = np.empty((episodes, n_way), np.int64)
    target = rng.integers(0, n_way, episodes)
    for k in range(episodes):
        first = rng.choice(np.flatnonzero(multi))                  # the query's identity
        others = rng.choice(np.setdiff1d(np.arange(len(ids)), [first]), n_way - 1, replace=False)
        chosen = np.insert(others, target[k], first)               # (n_way,) identity positions
        q, r = rng.choice(members[first], 2, replace=False)
        queries[k] = q
        refs[k] = [rng.choice(members[c]) for c in chosen]
        refs[k, target[k]] = r
    diff = e[refs] - e[queries][:, None, :]                        # (E, n_way, D)
    dist = np.sum(diff * diff, axis=-1)                            # (E, n_way)
    best = dist.min(axis=1, keepdims=True)
    unique_best = np.sum(dist == best, axis=1) == 1
    predicted = np.argmin(dist, axis=1)
    acc = float(np.mean((predicted == target) & unique_best))
    if return_episodes:
        return acc, (queries, refs, target, predicted)
    return acc
