"""Face verification and one-shot recognition: a Siamese encoder trained with mined triplets.

Task ``face`` (``npvision train face``)
---------------------------------------
Data: synthetic people (:mod:`npvision.data.faces`), three disjoint groups drawn
from different seeds:

==============  ===================================================================
train           ``train_identities`` people from ``seed``; every step renders fresh
                images of ``p`` of them (``k`` each): new pose, light, expression
                and camera every time, so no image is seen twice.
validation      ``val_identities`` people from ``seed``, ``images_per_identity`` images
                each: one-shot 5-way accuracy after every epoch, for the curves only
                (the weights kept are the last ones).
test            ``test_identities`` people from a fixed seed, the same for every run,
                ``images_per_identity`` images each, scored once at the end.
==============  ===================================================================

Model: :class:`npvision.face.FaceEncoder` (a small ResNet ending in a 128-number
L2-normalized encoding). Loss: batch-all triplet loss with margin 0.2 over P x K
batches (:func:`npvision.face.train_encoder`; ``loss=`` picks another: batch_hard,
semi_hard, random, contrastive, binary). Adam, learning rate on a half cosine to 0.

Metrics on the test people (:mod:`npvision.face.evaluation`): 10-fold verification
accuracy (threshold chosen on the other nine folds) and its standard deviation,
VAL at FAR 1e-3, ROC AUC, one-shot 5-way and 20-way accuracy, and the same
verification and one-shot numbers for raw pixels (the baseline).

Task ``face-digits``
--------------------
The same pipeline on real images: the built-in digits, an encoder trained on
classes 0-4 only (every image of them, randomly rotated, scaled and shifted), and
one-shot recognition of classes 5-9, never seen in training: ``one_shot_5way``
uses one reference image per class.

Files written to ``out``: ``weights.npz`` (its metadata rebuilds the encoder:
:func:`load_face_model`; it also stores the chosen threshold), ``identities.png``
(sample people), ``distances.png``, ``roc.png``, ``embeddings.png``,
``hardest_triplets.png``, ``one_shot.png``, ``curves.png``, ``history.json``,
``metrics.json``. ``npvision verify`` and ``npvision who`` read the folder.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ..data import load_digits
from ..data.faces import make_face_dataset, make_face_identities, render_faces
from ..face import (FaceEncoder, PairClassifier, embed, kfold_verification, make_verification_pairs,
                    one_shot_accuracy, pair_distances, pairwise_distances, pixel_distances, roc_auc,
                    roc_curve, train_encoder, val_at_far)
from ..face.training import DEFAULT_MARGINS, LOSSES
from ..io import read_weights, save_weights
from . import register_task
from ._common import load_average as _load_average

__all__ = ["face_task", "face_digits_task", "evaluate_encoder", "load_face_model", "write_face_pictures"]

ARCHITECTURE = "face-encoder"
_TEST_SEED = 2_000_000_000          # the test people are the same in every run


# ---------------------------------------------------------------------------
# evaluation shared by both tasks
# ---------------------------------------------------------------------------
def evaluate_encoder(embeddings, labels, pairs: dict, episodes: int, seed: int = 0,
                     ways=(5, 20)) -> dict:
    """Verification (10-fold), VAL@FAR 1e-3, ROC AUC and one-shot accuracies of ``embeddings``.

    ``pairs`` comes from :func:`npvision.face.make_verification_pairs`. Works on raw
    pixels too (flattened images as the embeddings).
    """
    d = pair_distances(embeddings, pairs["pairs"])
    cv = kfold_verification(d, pairs["same"], pairs["fold"])
    val = val_at_far(d, pairs["same"], 1e-3)
    out = {"verification_accuracy": cv["accuracy"], "verification_std": cv["std"],
           "threshold": cv["threshold"], "val_at_far_1e-3": val["val"], "far_reached": val["far"],
           "roc_auc": roc_auc(d, pairs["same"])}
    n_ids = len(np.unique(labels))
    for n in ways:
        if n <= n_ids:
            out[f"one_shot_{n}way"] = one_shot_accuracy(embeddings, labels, n, episodes, seed=seed)
    return out


def write_face_pictures(out: str, images, labels, embeddings, pairs: dict, metrics: dict,
                        history: dict, sample_images=None, sample_labels=None, seed: int = 0) -> None:
    """The pictures listed in the module docstring, into the folder ``out``."""
    from ..viz.curves import plot_history
    from ..viz.face import (plot_distance_histograms, plot_embedding_projection, plot_identities,
                            plot_one_shot, plot_roc, plot_triplets)

    if sample_images is not None:
        plot_identities(sample_images, sample_labels, os.path.join(out, "identities.png"),
                        title="generated people: one row per person (fixed traits);\nevery photo a new "
                              "pose, light, expression, occlusion, blur, noise")
    d = pair_distances(embeddings, pairs["pairs"])
    plot_distance_histograms(d, pairs["same"], metrics["threshold"], os.path.join(out, "distances.png"),
                             title="held-out pairs: encoding distance (same when below the threshold)")
    far, tar, _ = roc_curve(d, pairs["same"])
    pix = pixel_distances(images, pairs["pairs"])
    p_far, p_tar, _ = roc_curve(pix, pairs["same"])
    plot_roc(far, tar, os.path.join(out, "roc.png"), val_point=(metrics["far_reached"], metrics["val_at_far_1e-3"]),
             baseline=(p_far, p_tar, "raw pixels"), title="ROC on held-out pairs")
    plot_embedding_projection(embeddings, labels, os.path.join(out, "embeddings.png"),
                              title="held-out encodings, 2-D PCA, one colour per identity")
    # the hardest triplet of each of 6 held-out identities (among the first 40): the anchor
    # whose farthest positive is farthest beyond its closest negative
    ids = np.unique(labels)[:40]
    sub = np.flatnonzero(np.isin(labels, ids))
    dist = pairwise_distances(embeddings[sub])
    same = labels[sub][:, None] == labels[sub][None, :]
    d_p = np.where(same, dist, -np.inf)
    d_n = np.where(~same, dist, np.inf)
    gap = d_p.max(axis=1) - d_n.min(axis=1)                        # (n,) large = hard
    order = np.argsort(-gap)
    _, first = np.unique(labels[sub][order], return_index=True)
    per_person = order[first]                                      # each identity's hardest anchor
    worst = per_person[np.argsort(-gap[per_person])][:6]
    plot_triplets(images, sub[worst], sub[d_p[worst].argmax(axis=1)], sub[d_n[worst].argmin(axis=1)],
                  d_p[worst].max(axis=1), d_n[worst].min(axis=1), os.path.join(out, "hardest_triplets.png"),
                  title="the hardest triplet\nof six held-out people")
    n_way = 5 if len(np.unique(labels)) >= 5 else len(np.unique(labels))
    _, (q, refs, target, pred) = one_shot_accuracy(embeddings, labels, n_way, 400, seed=seed + 7,
                                                   return_episodes=True)
    wrong = np.flatnonzero(pred != target)
    shown = np.concatenate([wrong[:3], np.flatnonzero(pred == target)])[:8]      # mistakes first
    plot_one_shot(images, q[shown], refs[shown], target[shown], pred[shown], os.path.join(out, "one_shot.png"),
                  title=f"{n_way}-way one-shot: query (blue), one reference per person;\n"
                        f"green: true person, red: wrong pick ({len(wrong)} of 400 wrong)")
    curves = {"loss": history["epoch_loss"]}
    if history.get("val_one_shot"):
        curves["val_one_shot_5way"] = history["val_one_shot"]
    plot_history(curves, os.path.join(out, "curves.png"), title="training")


def _steps_history(losses, steps_per_epoch: int) -> list[float]:
    return [float(np.mean(losses[i:i + steps_per_epoch])) for i in range(0, len(losses), steps_per_epoch)]


def _train_in_epochs(encoder, next_batch, config, seed, progress, head, on_epoch):
    """``epochs`` rounds of ``steps_per_epoch`` steps with one cosine schedule over all of them."""
    steps_per_epoch = config["steps_per_epoch"]
    steps = config["epochs"] * steps_per_epoch
    val = []

    def on_step(step, _loss):
        if step % steps_per_epoch == 0 and on_epoch is not None:
            val.append(on_epoch(step // steps_per_epoch))
            encoder.train()

    history = train_encoder(encoder, next_batch, steps, loss=config["loss"], margin=config["margin"],
                            lr=config["lr"], head=head, seed=np.random.default_rng([seed, 3]),
                            progress=progress, on_step=on_step)
    history["epoch_loss"] = _steps_history(history["loss"], steps_per_epoch)
    history["val_one_shot"] = val
    return history


def _check_loss(config):
    if config["loss"] not in LOSSES:
        raise ValueError(f"loss: expected one of {LOSSES}, received {config['loss']!r}")
    if config["margin"] is None:
        config["margin"] = DEFAULT_MARGINS[config["loss"]]


def _save(out, encoder, task, config, metrics, history, input_shape):
    extra = {"task": task, "encoder": encoder.config, "input_shape": list(input_shape),
             "threshold": metrics["threshold"], "config": config,
             "verification_accuracy": metrics["verification_accuracy"]}
    save_weights(encoder, os.path.join(out, "weights.npz"), architecture=ARCHITECTURE, extra=extra)
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump({k: history[k] for k in ("loss", "epoch_loss", "val_one_shot")}, fh)


# ---------------------------------------------------------------------------
# task "face": synthetic identities
# ---------------------------------------------------------------------------
@register_task("face", metric="verification_accuracy",
               description="Siamese face encoder, triplet loss with batch-all mining, synthetic people",
               epochs=4, steps_per_epoch=300, p=24, k=4, lr=2e-3, loss="batch_all", margin=None,
               width=32, embedding_dim=128, size=32, train_identities=2000, val_identities=60,
               test_identities=200, images_per_identity=10, pairs=6000, episodes=2000, nuisance=1.0,
               quick=dict(epochs=1, steps_per_epoch=40, p=16, k=4, train_identities=300, val_identities=20,
                          test_identities=60, images_per_identity=6, pairs=1200, episodes=500))
def face_task(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    _check_loss(config)
    load_before = _load_average()
    size, p, k = config["size"], config["p"], config["k"]
    train_people = make_face_identities(config["train_identities"], np.random.default_rng([seed, 0]))
    val_people = make_face_identities(config["val_identities"], np.random.default_rng([seed, 1]))
    test_people = make_face_identities(config["test_identities"], _TEST_SEED)
    x_val, y_val = make_face_dataset(val_people, config["images_per_identity"], np.random.default_rng([seed, 2]),
                                     size=size, nuisance=config["nuisance"])
    x_test, y_test = make_face_dataset(test_people, config["images_per_identity"], _TEST_SEED + 1,
                                       size=size, nuisance=config["nuisance"])
    pairs = make_verification_pairs(y_test, config["pairs"] // 2, config["pairs"] // 2, folds=10,
                                    seed=_TEST_SEED + 2)

    def next_batch(step, rng):                        # P people, K fresh images of each
        who = np.repeat(rng.choice(len(train_people), p, replace=False), k)
        return render_faces(train_people, who, seed=rng, size=size, nuisance=config["nuisance"]), who

    encoder = FaceEncoder(3, config["width"], config["embedding_dim"], stem_stride=2,
                          nonnegative=config["loss"] == "binary", rng=np.random.default_rng([seed, 4]))
    head = PairClassifier(config["embedding_dim"], "abs", rng=np.random.default_rng([seed, 5])) \
        if config["loss"] == "binary" else None

    def on_epoch(epoch):
        acc = one_shot_accuracy(embed(encoder, x_val), y_val, 5, 300, seed=epoch)
        if progress:
            print(f"epoch {epoch}/{config['epochs']}: validation one-shot 5-way {acc:.3f}", flush=True)
        return acc

    start = time.perf_counter()
    history = _train_in_epochs(encoder, next_batch, config, seed, progress, head, on_epoch)
    train_seconds = time.perf_counter() - start
    e_test = embed(encoder, x_test)
    metrics = evaluate_encoder(e_test, y_test, pairs, config["episodes"], seed=_TEST_SEED)
    pixels = evaluate_encoder(x_test.reshape(len(x_test), -1), y_test, pairs, config["episodes"],
                              seed=_TEST_SEED)
    result = dict(metrics)
    result.update({
        "pixel_baseline_accuracy": pixels["verification_accuracy"],
        "pixel_baseline_std": pixels["verification_std"],
        "pixel_baseline_val_at_far_1e-3": pixels["val_at_far_1e-3"],
        "pixel_baseline_one_shot_5way": pixels["one_shot_5way"],
        "pixel_baseline_one_shot_20way": pixels["one_shot_20way"],
        "margin_over_pixels": metrics["verification_accuracy"] - pixels["verification_accuracy"],
        "epochs": config["epochs"], "steps": config["epochs"] * config["steps_per_epoch"],
        "n_train": config["epochs"] * config["steps_per_epoch"] * p * k,
        "n_test": len(x_test), "train_identities": config["train_identities"],
        "test_identities": config["test_identities"], "test_pairs": len(pairs["same"]),
        "parameters": encoder.num_parameters(), "train_seconds": round(train_seconds, 2),
        "loss": config["loss"], "margin": config["margin"],
        "load_average": {"start": load_before, "end": _load_average()}, "seed": seed, "quick": quick,
    })
    if out is not None:
        samples, sample_labels = make_face_dataset(test_people.subset(np.arange(8)), 8, _TEST_SEED + 3,
                                                   size=size, nuisance=config["nuisance"])
        write_face_pictures(out, x_test, y_test, e_test, pairs, metrics, history, samples, sample_labels,
                            seed=seed)
        _save(out, encoder, "face", config, metrics, history, x_test.shape[1:])
    return result


# ---------------------------------------------------------------------------
# task "face-digits": train on digits 0-4, one-shot on 5-9
# ---------------------------------------------------------------------------
@register_task("face-digits", metric="one_shot_5way",
               description="the face pipeline on digits: encoder trained on 0-4, one-shot on unseen 5-9",
               epochs=4, steps_per_epoch=150, p=5, k=16, lr=2e-3, loss="batch_all", margin=None,
               width=16, embedding_dim=128, size=16, pairs=2000, episodes=2000,
               max_angle=15.0, max_shift=2.0, max_scale=0.15,
               quick=dict(epochs=1, steps_per_epoch=40, pairs=600, episodes=500))
def face_digits_task(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    from .classify_digits import random_affine

    _check_loss(config)
    load_before = _load_average()
    images, labels = load_digits(size=config["size"])             # all 1797, (N, S, S, 1)
    seen = labels < 5
    x_train, y_train = images[seen], labels[seen]
    x_test, y_test = images[~seen], labels[~seen]
    members = [np.flatnonzero(y_train == c) for c in range(5)]
    p, k = config["p"], config["k"]
    ranges = {key: config[key] for key in ("max_angle", "max_shift", "max_scale")}

    def next_batch(step, rng):                        # P digit classes x K augmented images
        classes = rng.choice(5, p, replace=False)
        idx = np.concatenate([rng.choice(members[c], k, replace=False) for c in classes])
        return random_affine(x_train[idx], rng, **ranges), y_train[idx]

    encoder = FaceEncoder(1, config["width"], config["embedding_dim"], stem_stride=1,
                          nonnegative=config["loss"] == "binary", rng=np.random.default_rng([seed, 4]))
    head = PairClassifier(config["embedding_dim"], "abs", rng=np.random.default_rng([seed, 5])) \
        if config["loss"] == "binary" else None
    # pairs of the unseen classes: 5 classes cannot make identity-disjoint folds, so the
    # folds split the pairs (each image pair still unseen in training)
    pairs = make_verification_pairs(y_test, config["pairs"] // 2, config["pairs"] // 2, folds=10,
                                    seed=_TEST_SEED + 2, by_identity=False)

    start = time.perf_counter()
    history = _train_in_epochs(encoder, next_batch, config, seed, progress, head, None)
    train_seconds = time.perf_counter() - start
    e_test = embed(encoder, x_test)
    metrics = evaluate_encoder(e_test, y_test, pairs, config["episodes"], seed=_TEST_SEED, ways=(2, 5))
    pixels = evaluate_encoder(x_test.reshape(len(x_test), -1), y_test, pairs, config["episodes"],
                              seed=_TEST_SEED, ways=(2, 5))
    result = dict(metrics)
    result.update({
        "pixel_baseline_accuracy": pixels["verification_accuracy"],
        "pixel_baseline_one_shot_5way": pixels["one_shot_5way"],
        "pixel_baseline_one_shot_2way": pixels["one_shot_2way"],
        "epochs": config["epochs"], "steps": config["epochs"] * config["steps_per_epoch"],
        "n_train": len(x_train), "n_test": len(x_test), "train_classes": [0, 1, 2, 3, 4],
        "test_classes": [5, 6, 7, 8, 9], "parameters": encoder.num_parameters(),
        "train_seconds": round(train_seconds, 2), "loss": config["loss"], "margin": config["margin"],
        "load_average": {"start": load_before, "end": _load_average()}, "seed": seed, "quick": quick,
    })
    if out is not None:
        write_face_pictures(out, x_test, y_test, e_test, pairs, metrics, history, seed=seed)
        _save(out, encoder, "face-digits", config, metrics, history, x_test.shape[1:])
    return result


# ---------------------------------------------------------------------------
# loading a trained encoder (npvision verify / who)
# ---------------------------------------------------------------------------
def load_face_model(path) -> tuple[FaceEncoder, dict]:
    """The encoder saved by ``npvision train face --out DIR``: ``(encoder, extra)``.

    ``path`` is the folder or its ``weights.npz``. ``extra`` holds ``input_shape``
    ``[S, S, C]`` and the ``threshold`` chosen by 10-fold cross-validation.
    """
    path = os.fspath(path)
    file = os.path.join(path, "weights.npz") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise FileNotFoundError(f"--model: {path!r} holds no weights.npz; train one with "
                                f"'npvision train face --out {path}'")
    state, meta = read_weights(file)
    if meta.get("architecture") != ARCHITECTURE:
        raise ValueError(f"--model: {file!r} holds weights of {meta.get('architecture')!r}, not a face "
                         f"encoder ({ARCHITECTURE!r})")
    extra = meta["extra"]
    encoder = FaceEncoder(**extra["encoder"])
    encoder.load_state_dict(state)
    encoder.eval()
    return encoder, extra
