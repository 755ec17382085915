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
semi_hard, random, contrastive, binary, softmax). Adam, learning rate on a half cosine to 0.

Metrics on the test people (:mod:`npvision.face.evaluation`): 10-fold verification
accuracy (threshold chosen on the other nine folds) and its standard deviation,
VAL at FAR 1e-3, ROC AUC, one-shot 5-way and 20-way accuracy, and the same
verification and one-shot numbers for raw pixels (the baseline).

Task ``face-digits``
--------------------
The same pipeline on real images: the built-in digits, an encoder trained on
classes 0-4 only, and one-shot recognition of classes 5-9, never seen in training:
``one_shot_5way`` uses one reference image per class. Five classes are too few to
learn what makes two handwritten shapes the same (an encoder trained on 0-4 alone
scores *below* raw pixels on 5-9, ``benchmarks/train_face.md``), so every batch also
holds synthetic pen-stroke glyphs (:mod:`npvision.data.glyphs`: strokes drawn and
degraded the way the UCI digits were, one class per glyph, ``glyphs`` of them):
``p_glyphs`` glyphs and ``p`` digit classes of 0-4, ``k`` images each, all randomly
rotated, scaled and shifted. The loss is the semi-hard triplet loss; the encoder
keeps the layout of its last feature map (``pool="flatten"``).

The recipe was chosen without looking at 5-9: ``benchmarks/tune_face_digits.py``
runs it on splits given by ``train_digits`` and ``test_digits`` (e.g. glyphs only,
one-shot on 0-4). Other options: ``test_shift`` (encode each image as the mean of
its encodings and those of its four ``test_shift``-pixel moves: still one image per
reference; off by default, it changed little), ``glyph_jitter``, ``glyph_family``
(glyphs in families of near-identical siblings), ``softmax_scale`` (for
``loss="softmax"``).

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
from ..data.glyphs import make_glyphs, render_glyphs
from ..face import (CosineSoftmaxHead, FaceEncoder, PairClassifier, embed, kfold_verification, make_verification_pairs,
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
                        history: dict, sample_images=None, sample_labels=None, seed: int = 0,
                        names: tuple[str, str] = ("person", "people")) -> None:
    """The pictures listed in the module docstring, into the folder ``out``; ``names``: what one
    identity and several are called in the titles (the digits task: a digit class)."""
    one, many = names
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
                  title=f"the hardest triplet\nof {len(worst)} held-out {many}")
    n_way = 5 if len(np.unique(labels)) >= 5 else len(np.unique(labels))
    _, (q, refs, target, pred) = one_shot_accuracy(embeddings, labels, n_way, 400, seed=seed + 7,
                                                   return_episodes=True)
    wrong = np.flatnonzero(pred != target)
    shown = np.concatenate([wrong[:3], np.flatnonzero(pred == target)])[:8]      # mistakes first
    plot_one_shot(images, q[shown], refs[shown], target[shown], pred[shown], os.path.join(out, "one_shot.png"),
                  title=f"{n_way}-way one-shot: query (blue), one reference per {one};\n"
                        f"green: true {one}, red: wrong pick ({len(wrong)} of 400 wrong)")
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


def _head(config, classes: int, rng):
    """The module trained along with the encoder: the logistic unit (binary), the proxies (softmax)."""
    if config["loss"] == "binary":
        return PairClassifier(config["embedding_dim"], "abs", rng=rng)
    if config["loss"] == "softmax":
        return CosineSoftmaxHead(config["embedding_dim"], classes, scale=config.get("softmax_scale", 16.0), rng=rng)
    return None


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
    head = _head(config, config["train_identities"], np.random.default_rng([seed, 5]))

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
def shift_images(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``x`` ``(N, H, W, C)`` moved ``dy`` pixels down and ``dx`` right, zeros coming in."""
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (abs(dy),) * 2, (abs(dx),) * 2, (0, 0)))   # (N, H + 2|dy|, W + 2|dx|, C)
    return padded[:, abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w]


def embed_shifted(encoder, x: np.ndarray, shift: int) -> np.ndarray:
    """Encodings averaged over each image and its four ``shift``-pixel moves, renormalized.

    ``shift=0`` is plain :func:`npvision.face.embed`. Test-time averaging of one
    image's encodings: every image (reference or query) is still encoded from itself
    alone, so one-shot stays one reference image per class::

        f'(x) = m / ||m||,   m = (f(x) + f(x up) + f(x down) + f(x left) + f(x right)) / 5
    """
    if shift == 0:
        return embed(encoder, x)
    moves = [(0, 0), (shift, 0), (-shift, 0), (0, shift), (0, -shift)]
    m = np.mean([embed(encoder, shift_images(x, dy, dx)) for dy, dx in moves], axis=0)   # (N, d)
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def _digit_split(train_digits, test_digits) -> tuple[list[int], list[int]]:
    """The digit classes to train on and to score on: disjoint, 2 test classes at least.

    The task's default trains on 0-4 and scores 5-9; ``benchmarks/tune_face_digits.py``
    chooses the recipe with other splits that never touch 5-9 (e.g. no digit in
    training, one-shot on 0-4).
    """
    train = [int(c) for c in train_digits]
    test = [int(c) for c in test_digits]
    if not set(train + test) <= set(range(10)) or len(set(train)) != len(train) or len(set(test)) != len(test):
        raise ValueError(f"train_digits, test_digits: expected distinct digit classes 0-9, received "
                         f"{train_digits!r} and {test_digits!r}")
    if set(train) & set(test) or len(test) < 2:
        raise ValueError(f"train_digits, test_digits: expected disjoint sets and 2 test classes at least "
                         f"(one-shot on classes never seen), received {train_digits!r} and {test_digits!r}")
    return train, test


@register_task("face-digits", metric="one_shot_5way",
               description="the face pipeline on digits: encoder trained on 0-4 (+ synthetic glyphs), "
                           "one-shot on unseen 5-9",
               epochs=5, steps_per_epoch=300, p=5, p_glyphs=20, glyphs=5000, k=4, lr=2e-3, loss="semi_hard",
               margin=None, width=16, embedding_dim=128, size=16, pool="flatten", pairs=2000, episodes=2000,
               max_angle=15.0, max_shift=2.0, max_scale=0.15, train_digits=(0, 1, 2, 3, 4),
               test_digits=(5, 6, 7, 8, 9), test_shift=0, glyph_jitter=0.05,
               glyph_family=1, softmax_scale=16.0,
               quick=dict(epochs=1, steps_per_epoch=40, pairs=600, episodes=500))
def face_digits_task(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    from .classify_digits import random_affine

    _check_loss(config)
    load_before = _load_average()
    train_digits, test_digits = _digit_split(config["train_digits"], config["test_digits"])
    images, labels = load_digits(size=config["size"])             # all 1797, (N, S, S, 1)
    seen = np.isin(labels, train_digits)
    x_train, y_train = images[seen], labels[seen]
    unseen = np.isin(labels, test_digits)
    x_test, y_test = images[unseen], labels[unseen]
    members = [np.flatnonzero(y_train == c) for c in train_digits]
    p, p_glyphs, k = config["p"], config["p_glyphs"], config["k"]
    if not 0 <= p <= len(train_digits) or p_glyphs < 0 or p + p_glyphs < 2:
        raise ValueError(f"p, p_glyphs: expected 0 <= p <= {len(train_digits)} digit classes (train_digits) "
                         f"and p_glyphs >= 0 glyphs, two classes at least per batch; received p={p}, "
                         f"p_glyphs={p_glyphs}")
    family = config["glyph_family"]
    if p_glyphs % family or config["glyphs"] % family:
        raise ValueError(f"glyph_family: expected a divisor of p_glyphs and glyphs (whole families in a batch), "
                         f"received glyph_family={family}, p_glyphs={p_glyphs}, glyphs={config['glyphs']}")
    glyphs = make_glyphs(config["glyphs"], np.random.default_rng([seed, 6]), family=family) if p_glyphs else None
    ranges = {key: config[key] for key in ("max_angle", "max_shift", "max_scale")}

    def next_batch(step, rng):                        # (p_glyphs glyphs + p digit classes) x K images
        images, labels = [], []
        if p_glyphs:
            first = rng.choice(len(glyphs) // family, p_glyphs // family, replace=False) * family
            g = np.repeat((first[:, None] + np.arange(family)).ravel(), k)     # whole families, K images each
            images.append(render_glyphs(glyphs, g, rng, size=config["size"], jitter=config["glyph_jitter"]))
            labels.append(g + len(train_digits))      # classes: the train digits, then the glyphs
        if p:
            classes = rng.choice(len(train_digits), p, replace=False)
            idx = np.concatenate([rng.choice(members[c], k, replace=False) for c in classes])
            images.append(x_train[idx])
            labels.append(np.repeat(classes, k))      # digit train_digits[c] is class c
        return random_affine(np.concatenate(images), rng, **ranges), np.concatenate(labels)

    encoder = FaceEncoder(1, config["width"], config["embedding_dim"], stem_stride=1,
                          nonnegative=config["loss"] == "binary", pool=config["pool"],
                          input_size=config["size"], rng=np.random.default_rng([seed, 4]))
    head = _head(config, len(train_digits) + (config["glyphs"] if p_glyphs else 0),
                 np.random.default_rng([seed, 5]))
    # pairs of the unseen classes: 5 classes cannot make identity-disjoint folds, so the
    # folds split the pairs (each image pair still unseen in training)
    pairs = make_verification_pairs(y_test, config["pairs"] // 2, config["pairs"] // 2, folds=10,
                                    seed=_TEST_SEED + 2, by_identity=False)

    start = time.perf_counter()
    history = _train_in_epochs(encoder, next_batch, config, seed, progress, head, None)
    train_seconds = time.perf_counter() - start
    e_test = embed_shifted(encoder, x_test, config["test_shift"])
    metrics = evaluate_encoder(e_test, y_test, pairs, config["episodes"], seed=_TEST_SEED, ways=(2, 5))
    metrics.setdefault("one_shot_5way", None)                     # fewer than 5 test_digits
    pixels = evaluate_encoder(x_test.reshape(len(x_test), -1), y_test, pairs, config["episodes"],
                              seed=_TEST_SEED, ways=(2, 5))
    result = dict(metrics)
    if config["test_shift"]:                                       # what the averaging adds
        plain = evaluate_encoder(embed(encoder, x_test), y_test, pairs, config["episodes"], seed=_TEST_SEED,
                                 ways=(2, 5))
        result.update({f"{key}_no_shift": plain.get(key) for key in ("one_shot_5way", "one_shot_2way",
                                                                     "verification_accuracy")})
    result.update({
        "pixel_baseline_accuracy": pixels["verification_accuracy"],
        "pixel_baseline_one_shot_5way": pixels.get("one_shot_5way"),
        "pixel_baseline_one_shot_2way": pixels["one_shot_2way"],
        "epochs": config["epochs"], "steps": config["epochs"] * config["steps_per_epoch"],
        "n_train": len(x_train), "n_test": len(x_test), "train_classes": train_digits,
        "train_glyphs": config["glyphs"] if p_glyphs else 0,
        "test_classes": test_digits, "parameters": encoder.num_parameters(),
        "train_seconds": round(train_seconds, 2), "loss": config["loss"], "margin": config["margin"],
        "load_average": {"start": load_before, "end": _load_average()}, "seed": seed, "quick": quick,
    })
    if out is not None:
        write_face_pictures(out, x_test, y_test, e_test, pairs, metrics, history, seed=seed,
                            names=("digit", "digits"))
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
