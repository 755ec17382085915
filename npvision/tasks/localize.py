"""Classification with localization, and landmark detection, on single-object synthetic scenes.

Both tasks draw their images from :func:`npvision.data.make_scenes` with one object
per image (``min_objects = max_objects = 1``). Three sets,
from different seeds, never share a scene:

===========  ========================================================================
train        ``n_train`` images from ``seed``; every mini-batch mirrors each image
             left-right with probability 1/2, moving its box or landmarks with it
             (:func:`npvision.data.augment.hflip`; landmarks with
             ``flip_order=SCENE_LANDMARK_HFLIP`` so "left" stays left).
validation   ``n_val`` images: scored after every epoch; the weights of the best epoch
             are kept (a tie goes to the later epoch): the highest mean IoU plus class
             accuracy for ``localization``, the lowest point error for ``landmarks``.
test         ``n_test`` images from a fixed seed, the same for every run, scored once.
===========  ========================================================================

``localization``
    :class:`~npvision.detection.LocalizationNet` predicts the course's
    ``y = [p_c, b_x, b_y, b_h, b_w, c_1..c_4]``. A fraction ``empty_fraction`` of every
    set is background-only images (``make_scenes(..., min_objects=0)``, ``p_c = 0``).
    ``loss="logits"`` (default) trains with
    :func:`~npvision.detection.localization_logit_loss` (logistic p_c, softmax classes,
    squared box error masked by p_c); ``loss="course"`` with the course's squared error
    :func:`~npvision.detection.localization_loss`. Reported: ``mean_iou`` (headline; the
    predicted box against the true one, over the object images), ``accuracy`` (class,
    object images), ``pc_accuracy`` (object or not, all images).
``landmarks``
    :class:`~npvision.detection.LandmarkNet` regresses the five landmarks of
    :data:`~npvision.data.scenes.SCENE_LANDMARK_NAMES` with
    :func:`~npvision.detection.landmark_loss`. Shapes are upright by default
    (``rotate=False``): for a square turned by a hair, *which* corner is the topmost
    flips from one side to the other, so with rotations the "top" landmark jumps by a
    side length under a change the pixels barely show. Reported: ``mean_point_error``
    (pixels, headline), ``per_landmark_error`` and ``baseline_point_error``, the error
    of always answering the training set's mean points.

Images are 32x32 pixels and shapes 0.3 to 0.6 of the side across (10 to 19 pixels) by
default; every image is standardized per channel
(:func:`~npvision.detection.standardize_images`) before it enters the network.
Training: Adam, learning rate on a half cosine to 0, mini-batches of ``batch_size``.

Files written to ``out``: ``curves.png``, ``predictions.png`` (held-out images with
true and predicted boxes or points), ``weights.npz`` (the configuration in its
metadata), ``history.json`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from tqdm import tqdm

from ..data import make_scenes
from ..data.augment import hflip
from ..data.scenes import SCENE_LANDMARK_HFLIP, SCENE_LANDMARK_NAMES, SHAPE_CLASSES
from ..detection.landmarks import (LandmarkNet, decode_landmarks, encode_landmarks, landmark_loss,
                                   point_errors)
from ..detection.localization import (LocalizationNet, decode_localization,
                                      encode_localization_targets, localization_logit_loss,
                                      localization_loss, localization_metrics,
                                      localization_probabilities, standardize_images)
from ..io import save_weights
from ..optim import Adam, CosineDecay
from ..train import History, predict
from . import register_task
from ._common import load_average as _load_average

__all__ = ["localization_data", "landmark_data", "train_with_batches"]

_TEST_SEED = 2_000_000_000          # the fixed test images
_VAL_SEED_OFFSET = 1_000_000_000    # validation images: seed + this
_EMPTY_SEED_OFFSET = 500_000_000    # the empty images of a set: its seed + this
_QUICK = dict(n_train=64, n_val=16, n_test=32, epochs=1)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def _empty_images(n: int, size: int, seed: int, background: str) -> np.ndarray:
    """``n`` background-only images (n, size, size, 3): the empty draws of
    ``make_scenes(..., min_objects=0, max_objects=1)``."""
    found, draw = [], 0
    while sum(len(f) for f in found) < n:
        s = make_scenes(2 * n + 8, size=size, min_objects=0, max_objects=1, seed=seed + draw,
                        background=background)
        found.append(s.images[s.labels < 0])
        draw += 1
    return np.concatenate(found)[:n]


def localization_data(n: int, size: int, seed: int, empty_fraction: float = 0.2,
                      size_range=(0.2, 0.45), rotate: bool = True, background: str = "gradient"):
    """``(images (n, S, S, 3), boxes (n, 4) xyxy pixels, labels (n,))``, about ``empty_fraction``
    of them without object (label -1, zero box), shuffled."""
    if not 0.0 <= empty_fraction < 1.0:
        raise ValueError(f"empty_fraction: expected a number in [0, 1), received {empty_fraction!r}")
    n_empty = int(round(n * empty_fraction))
    s = make_scenes(n - n_empty, size=size, min_objects=1, max_objects=1, seed=seed,
                    size_range=tuple(size_range), rotate=rotate, background=background)
    images, boxes, labels = s.images, s.main_boxes, s.labels
    if n_empty:
        images = np.concatenate([images, _empty_images(n_empty, size, seed + _EMPTY_SEED_OFFSET,
                                                       background)])
        boxes = np.concatenate([boxes, np.zeros((n_empty, 4), np.float32)])
        labels = np.concatenate([labels, np.full(n_empty, -1, np.int64)])
    order = np.random.default_rng([seed, 7]).permutation(n)
    return images[order], boxes[order], labels[order]


def landmark_data(n: int, size: int, seed: int, size_range=(0.2, 0.45), rotate: bool = False,
                  background: str = "gradient"):
    """``(images (n, S, S, 3), landmarks (n, 5, 2) pixels, labels (n,))`` of single-object scenes."""
    s = make_scenes(n, size=size, min_objects=1, max_objects=1, seed=seed,
                    size_range=tuple(size_range), rotate=rotate, background=background)
    return s.images, s.landmarks, s.labels


# ---------------------------------------------------------------------------
# the training loop
# ---------------------------------------------------------------------------
def train_with_batches(model, loss_fn, make_batch, n: int, config: dict, validate, *, seed: int,
                       progress: bool = True, best_key: str = "val_score", mode: str = "max"):
    """Mini-batch training where the targets move with the augmented images.

    ``make_batch(indices, rng) -> (x_batch, y_batch)`` builds each batch (augmentation
    included); ``loss_fn(outputs, y_batch) -> (loss, doutputs)``; ``validate(model) -> dict``
    runs after every epoch and its ``best_key`` picks the weights kept (``mode`` ``"max"``
    or ``"min"``; a tie goes to the later epoch). Adam with ``config["lr"]`` on a half
    cosine over ``config["epochs"]`` epochs of ``config["batch_size"]``.
    Returns ``(history, best_epoch)`` (0-based).
    """
    epochs, batch_size = config["epochs"], config["batch_size"]
    optimizer = Adam(model.parameters(), lr=config["lr"])
    schedule = CosineDecay(optimizer, total=epochs)
    rng = np.random.default_rng([seed, 1])
    history = History()
    best, best_epoch, best_state = None, 0, None
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        lr = optimizer.lr
        order = rng.permutation(n)
        total, count = 0.0, 0
        bar = tqdm(range(0, n, batch_size), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not progress, mininterval=0.5, leave=True, dynamic_ncols=True)
        for b in bar:
            xb, yb = make_batch(order[b:b + batch_size], rng)
            optimizer.zero_grad()
            out = model.forward(xb)
            loss, dout = loss_fn(out, yb)
            if not np.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss} at epoch {epoch + 1}; lower lr "
                                         f"(now {optimizer.lr:g})")
            model.backward(dout)
            optimizer.step()
            total, count = total + loss * len(xb), count + len(xb)
            bar.set_postfix(loss=f"{total / count:.4g}", refresh=False)
        bar.close()
        schedule.step()
        logs = {"loss": total / count, **validate(model), "lr": lr}
        history.append(logs)
        value = logs[best_key]
        if best is None or (value >= best if mode == "max" else value <= best):
            best, best_epoch, best_state = value, epoch, model.state_dict()
        if progress:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items())
            print(f"epoch {epoch + 1:3d}/{epochs}  {shown}  {time.perf_counter() - start:.1f}s", flush=True)
    model.load_state_dict(best_state)
    model.eval()
    return history, best_epoch


def _common_metrics(config, seed, quick, history, best_epoch, model, n_train, n_val, n_test,
                    seconds, cpu_seconds, load_before) -> dict:
    return {"epochs": len(history), "best_epoch": best_epoch + 1, "n_train": n_train, "n_val": n_val,
            "n_test": n_test, "parameters": model.num_parameters(),
            "input_shape": [config["size"], config["size"], 3],
            "train_seconds": round(seconds, 2), "train_cpu_seconds": round(cpu_seconds, 2),
            "load_average": {"start": load_before, "end": _load_average()},
            "seed": seed, "quick": quick, "config": dict(config)}


# ---------------------------------------------------------------------------
# classification with localization
# ---------------------------------------------------------------------------
def _predict_y(model, x, loss: str) -> np.ndarray:
    """Predictions in the course's layout (probabilities for the logit loss)."""
    y = predict(model, x, batch_size=128)
    return localization_probabilities(y) if loss == "logits" else y


@register_task("localization", quick=_QUICK, metric="mean_iou",
               description="classification with localization: y = [p_c, box, classes] (mean IoU >= 0.8)",
               size=32, n_train=6000, n_val=300, n_test=500, empty_fraction=0.2,
               size_range=[0.3, 0.6], rotate=True, background="gradient", epochs=12, batch_size=32,
               lr=3e-3, loss="logits", box_weight=5.0, channels=[16, 32, 64, 64], pools=2)
def localization_task(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """LocalizationNet on 32x32 single-object scenes plus 20% empty images."""
    if config["loss"] not in ("logits", "course"):
        raise ValueError(f"loss: expected 'logits' or 'course', received {config['loss']!r}")
    load_before = _load_average()
    size, k = config["size"], len(SHAPE_CLASSES)
    common = dict(size=size, empty_fraction=config["empty_fraction"], size_range=config["size_range"],
                  rotate=config["rotate"], background=config["background"])
    x_train, b_train, l_train = localization_data(config["n_train"], seed=seed, **common)
    x_val, b_val, l_val = localization_data(config["n_val"], seed=seed + _VAL_SEED_OFFSET, **common)
    x_test, b_test, l_test = localization_data(config["n_test"], seed=_TEST_SEED, **common)
    images_test = x_test                                                # kept for the pictures
    x_train, x_val, x_test = (standardize_images(a) for a in (x_train, x_val, x_test))
    model = LocalizationNet(k, channels=tuple(config["channels"]), pools=config["pools"],
                            rng=np.random.default_rng([seed, 0]))
    if config["loss"] == "logits":
        def loss_fn(out, y):
            return localization_logit_loss(out, y, box_weight=config["box_weight"])
    else:
        loss_fn = localization_loss

    def make_batch(idx, rng):
        xb, bb = x_train[idx], b_train[idx]
        flip = rng.random(len(idx)) < 0.5                                  # mirror half the batch
        if flip.any():
            mirrored = hflip(xb[flip], boxes=bb[flip])
            xb[flip], bb[flip] = mirrored.image, mirrored.boxes
        return xb, encode_localization_targets(bb, l_train[idx], size, k)

    def validate(m):
        scores = localization_metrics(_predict_y(m, x_val, config["loss"]), b_val, l_val, size)
        return {"val_mean_iou": scores["mean_iou"], "val_accuracy": scores["accuracy"],
                "val_score": scores["mean_iou"] + scores["accuracy"]}

    start, cpu_start = time.perf_counter(), time.process_time()
    history, best_epoch = train_with_batches(model, loss_fn, make_batch, len(x_train), config, validate,
                                             seed=seed, progress=progress, best_key="val_score")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    y_test = _predict_y(model, x_test, config["loss"])
    scores = localization_metrics(y_test, b_test, l_test, size)
    ious = np.array(scores["ious"])
    metrics = {"mean_iou": scores["mean_iou"], "accuracy": scores["accuracy"],
               "pc_accuracy": scores["pc_accuracy"],
               "iou_at_least_0.5": float(np.mean(ious >= 0.5)),
               "iou_at_least_0.75": float(np.mean(ious >= 0.75)),
               "n_test_objects": int(np.sum(l_test >= 0)), "n_test_empty": int(np.sum(l_test < 0)),
               "loss": config["loss"], "val_mean_iou": history["val_mean_iou"][best_epoch],
               **_common_metrics(config, seed, quick, history, best_epoch, model, len(x_train),
                                 len(x_val), len(x_test), seconds, cpu_seconds, load_before)}
    if out is not None:
        from ..viz.curves import plot_history
        from ..viz.landmarks import plot_localization

        p_c, boxes, labels = decode_localization(y_test, size)
        plot_history(history, os.path.join(out, "curves.png"), title="localization: training curves")
        plot_localization(images_test[:12], b_test[:12], l_test[:12], boxes[:12], labels[:12], p_c[:12],
                          class_names=SHAPE_CLASSES, path=os.path.join(out, "predictions.png"),
                          title=f"held-out images: true (dashed) and predicted boxes, mean IoU "
                                f"{scores['mean_iou']:.3f}")
        _save(model, "localization-net", config, out, history, mean_iou=scores["mean_iou"])
    return metrics


# ---------------------------------------------------------------------------
# landmarks
# ---------------------------------------------------------------------------
@register_task("landmarks", quick=_QUICK, metric="mean_point_error",
               description="landmark detection: 5 (x, y) points per shape (mean error in pixels)",
               size=32, n_train=5000, n_val=300, n_test=500, size_range=[0.3, 0.6], rotate=False,
               background="gradient", epochs=8, batch_size=32, lr=3e-3, channels=[16, 32, 64, 64],
               pools=2)
def landmarks_task(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """LandmarkNet on 32x32 single-object scenes (upright shapes by default)."""
    load_before = _load_average()
    size = config["size"]
    common = dict(size=size, size_range=config["size_range"], rotate=config["rotate"],
                  background=config["background"])
    x_train, p_train, _ = landmark_data(config["n_train"], seed=seed, **common)
    x_val, p_val, _ = landmark_data(config["n_val"], seed=seed + _VAL_SEED_OFFSET, **common)
    x_test, p_test, _ = landmark_data(config["n_test"], seed=_TEST_SEED, **common)
    images_test = x_test                                                # kept for the pictures
    x_train, x_val, x_test = (standardize_images(a) for a in (x_train, x_val, x_test))
    k = p_train.shape[1]
    model = LandmarkNet(k, channels=tuple(config["channels"]), pools=config["pools"],
                        rng=np.random.default_rng([seed, 0]))

    def make_batch(idx, rng):
        xb, pb = x_train[idx], p_train[idx]
        flip = rng.random(len(idx)) < 0.5
        if flip.any():                          # mirror, and swap "left" and "right"
            mirrored = hflip(xb[flip], landmarks=pb[flip], flip_order=SCENE_LANDMARK_HFLIP)
            xb[flip], pb[flip] = mirrored.image, mirrored.landmarks
        return xb, encode_landmarks(pb, size)

    def points(m, x):
        return decode_landmarks(predict(m, x, batch_size=128), size)     # (N, K, 2) pixels

    def validate(m):
        return {"val_point_error": float(point_errors(points(m, x_val), p_val).mean())}

    start, cpu_start = time.perf_counter(), time.process_time()
    history, best_epoch = train_with_batches(model, landmark_loss, make_batch, len(x_train), config,
                                             validate, seed=seed, progress=progress,
                                             best_key="val_point_error", mode="min")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    pred = points(model, x_test)
    errors = point_errors(pred, p_test)                                  # (N, K)
    baseline = point_errors(np.broadcast_to(p_train.mean(axis=0), p_test.shape), p_test)
    names = SCENE_LANDMARK_NAMES if k == len(SCENE_LANDMARK_NAMES) else [f"p{i}" for i in range(k)]
    metrics = {"mean_point_error": float(errors.mean()),
               "median_point_error": float(np.median(errors)),
               "per_landmark_error": {n: float(e) for n, e in zip(names, errors.mean(axis=0))},
               "baseline_point_error": float(baseline.mean()),
               "within_1px": float(np.mean(errors <= 1.0)), "within_2px": float(np.mean(errors <= 2.0)),
               "units": f"pixels of {size}x{size} images",
               "val_point_error": history["val_point_error"][best_epoch],
               **_common_metrics(config, seed, quick, history, best_epoch, model, len(x_train),
                                 len(x_val), len(x_test), seconds, cpu_seconds, load_before)}
    if out is not None:
        from ..viz.curves import plot_history
        from ..viz.landmarks import plot_landmarks

        plot_history(history, os.path.join(out, "curves.png"), title="landmarks: training curves")
        plot_landmarks(images_test[:12], p_test[:12], pred[:12], names=names,
                       path=os.path.join(out, "predictions.png"),
                       title=f"held-out images: true (o) and predicted (x) landmarks, mean error "
                             f"{errors.mean():.2f} px")
        _save(model, "landmark-net", config, out, history, mean_point_error=float(errors.mean()))
    return metrics


def _save(model, architecture: str, config: dict, out: str, history, **extra) -> None:
    save_weights(model, os.path.join(out, "weights.npz"), architecture=architecture,
                 extra={"config": dict(config), "classes": list(SHAPE_CLASSES),
                        "landmarks": list(SCENE_LANDMARK_NAMES), **extra})
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(history.to_dict(), fh, indent=1)
