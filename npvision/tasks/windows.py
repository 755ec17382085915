"""Sliding windows: train the course's window classifier, then detect with it, naive and convolutional.

Data (:func:`window_dataset`): 16x16 RGB crops cut from :func:`npvision.data.make_scenes`
scenes whose shapes are ``object_size`` = 12 to 16 pixels across (they fit the window), labelled

* *object class* ``k`` (0..3: circle, square, triangle, cross) for a window centred on
  object ``k``'s centre up to a jitter of ``jitter`` pixels (and no other centre that
  close);
* *background* (4) for a window with no object centre within ``margin`` pixels of its
  centre (Chebyshev distance): random windows, plus one "near miss" per object, shifted
  off it by ``margin`` to 8 pixels, so that the classifier learns *where* as well as *what*;
* windows in between are ambiguous and left out.

Three sets of scenes from different seeds: train (``n_train`` scenes from ``seed``), validation and a fixed test
set. Every training batch is flipped / quarter-turned at random (the four shapes keep
their class under the 8 symmetries of the square).

The model is :func:`npvision.detection.window_classifier` (conv 5x5 -> ReLU -> max-pool
2x2 -> FC -> ReLU -> FC, softmax cross-entropy), trained with Adam on a half cosine.
Reported:

``accuracy``            held-out window accuracy (test crops, all five classes);
``map50``               detection on held-out 64x64 scenes of 2-5 shapes:
                        :func:`~npvision.detection.fc_to_conv`, one forward pass per
                        scene (:func:`~npvision.detection.sliding_window_conv`), per-class
                        NMS, boxes of the per-class mean training box size centred on the
                        window (``box_fractions``); mAP at IoU 0.5;
``map50_window_boxes``  the same detections with the raw 16x16 windows as boxes;
``map50_class_agnostic``  the same with one NMS over all classes (``class_agnostic=True``);
``map50_multiscale``    96x96 scenes whose shapes are 12 to 32 pixels across, with
                        :func:`~npvision.detection.detect_multiscale` at ``scales`` (1, 0.75,
                        0.5): lower (about 0.5), since the classifier fires on parts of shapes
                        larger than the window, a view it never saw in training;
``max_abs_score_difference``  naive vs convolutional scores on the test scenes (float32);
``naive_ms``, ``conv_ms``, ``speedup``  median time of the per-window naive detector and of
                        the convolutional one on a 64x64 scene (``benchmarks/bench_sliding_window.py``
                        measures this properly).

Files written to ``out``: ``curves.png``, ``detections_<i>.png`` (three held-out scenes,
true and predicted boxes, class-agnostic NMS), ``score_map.png`` (1 - p(background) over a scene),
``weights.npz``, ``history.json`` and ``metrics.json``.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ..data import make_scenes
from ..data.scenes import SHAPE_CLASSES
from ..detection.evaluation import mean_average_precision
from ..detection.sliding_window import (detect_multiscale, fc_to_conv, sliding_window_conv,
                                        sliding_window_naive, window_classifier, window_detections)
from ..functional import softmax_cross_entropy
from ..io import save_weights
from ..optim import Adam, CosineDecay
from ..train import fit, predict
from . import register_task

__all__ = ["CLASS_NAMES", "window_dataset", "random_dihedral_batch", "box_fractions_of",
           "detect_scenes"]

#: the classifier's outputs: the four shapes, then the background (index 4)
CLASS_NAMES = tuple(SHAPE_CLASSES) + ("background",)

_TEST_SEED = 2_000_000_000          # fixed test scenes
_VAL_SEED_OFFSET = 1_000_000_000    # validation scenes: seed + this
_DETECT_SEED = 2_100_000_000        # fixed larger held-out scenes for detection
_MULTISCALE_SEED = 2_200_000_000    # fixed 96x96 scenes with shapes of 12 to 32 pixels
_QUICK = dict(n_train=80, n_val=20, n_test=40, n_detect=4, epochs=1, timing_rounds=1)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def _offset(window_centre: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Chebyshev distance from a window centre (2,) to every object centre (K, 2) -> (K,)."""
    return np.abs(centres - window_centre[None, :]).max(axis=1) if len(centres) else np.zeros(0)


def window_dataset(n_scenes: int, seed: int, window: int = 16, scene_size: int = 48,
                   object_size=(12, 16), jitter: int = 2, margin: int = 5, negatives: int = 2,
                   max_objects: int = 4):
    """Labelled window crops from ``n_scenes`` synthetic scenes (see the module docstring).

    Returns ``(crops (n, window, window, 3) float32, labels (n,) int64, boxes (n, 4) float32)``:
    labels 0..3 for the shapes, 4 for background; ``boxes`` is the object's box relative
    to its crop (``nan`` for background), used to learn the typical box size per class.
    ``object_size``: the shapes' outer diameter range in pixels.
    """
    lo, hi = object_size
    scenes = make_scenes(n_scenes, size=scene_size, max_objects=max_objects, min_objects=1, seed=seed,
                         size_range=(lo / scene_size, hi / scene_size))
    rng = np.random.default_rng([seed, 7])
    half = window / 2
    crops, labels, rel_boxes = [], [], []

    def take(img, top, left, label, box):
        if 0 <= top <= scene_size - window and 0 <= left <= scene_size - window:
            crops.append(img[top:top + window, left:left + window])       # (window, window, 3)
            labels.append(label)
            rel_boxes.append(box - np.array([left, top, left, top]) if box is not None
                             else np.full(4, np.nan))

    background = len(SHAPE_CLASSES)
    for i in range(n_scenes):
        img = scenes.images[i]
        centres = scenes.object_landmarks[i][:, 0, :]                     # (K, 2) (x, y)
        for k, (cx, cy) in enumerate(centres):
            # a positive: the window centred on object k, up to the jitter
            dx, dy = rng.integers(-jitter, jitter + 1, size=2)
            left, top = int(round(cx - half)) + dx, int(round(cy - half)) + dy
            d = _offset(np.array([left + half, top + half]), centres)
            if d[k] <= jitter + 0.5 and np.sum(d <= margin) == 1:
                take(img, top, left, int(scenes.classes[i][k]), scenes.boxes[i][k])
            # a near miss: the window pushed off object k by margin..8 pixels
            shift = rng.uniform(margin + 0.5, half, size=2) * rng.choice([-1, 1], size=2)
            shift[rng.integers(0, 2)] *= rng.uniform(0, 1)                # one axis may stay close
            left, top = int(round(cx - half + shift[0])), int(round(cy - half + shift[1]))
            if np.all(_offset(np.array([left + half, top + half]), centres) > margin):
                take(img, top, left, background, None)
        for _ in range(negatives):                                        # random background windows
            left, top = rng.integers(0, scene_size - window + 1, size=2)
            if np.all(_offset(np.array([left + half, top + half]), centres) > margin):
                take(img, int(top), int(left), background, None)
    return (np.stack(crops).astype(np.float32), np.array(labels, dtype=np.int64),
            np.stack(rel_boxes).astype(np.float32))


def random_dihedral_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each square crop of ``x (N, h, h, C)`` under one of the 8 flips / quarter-turns."""
    out = np.empty_like(x)
    for i, k in enumerate(rng.integers(0, 8, len(x))):
        y = np.rot90(x[i], k % 4, axes=(0, 1))
        out[i] = y[:, ::-1] if k >= 4 else y                               # mirror left-right
    return out


def box_fractions_of(labels: np.ndarray, boxes: np.ndarray, num_classes: int, window: int) -> np.ndarray:
    """Per class, the mean ``(width, height)`` of the positives' boxes as fractions of the window.

    ``(num_classes, 2)``; a class without positives gets the whole window (1, 1).
    Widths and heights are averaged over both (the crops are rotated at random).
    """
    out = np.ones((num_classes, 2))
    for c in range(num_classes):
        b = boxes[labels == c]                                             # (n_c, 4)
        if len(b):
            side = 0.5 * ((b[:, 2] - b[:, 0]).mean() + (b[:, 3] - b[:, 1]).mean())
            out[c] = side / window
    return out


# ---------------------------------------------------------------------------
# detection on larger scenes
# ---------------------------------------------------------------------------
def detect_scenes(conv_model, images, score_threshold: float = 0.5, iou_threshold: float = 0.3,
                  box_fractions=None, class_agnostic: bool = False) -> list[dict]:
    """One ``{"boxes", "scores", "classes"}`` per image of ``images (N, H, W, 3)``."""
    out = []
    for image in images:
        scores, boxes = sliding_window_conv(conv_model, image)            # (rows, cols, 5), (rows, cols, 4)
        out.append(window_detections(scores, boxes, score_threshold, iou_threshold,
                                     box_fractions=box_fractions, class_agnostic=class_agnostic))
    return out


def _median_ms(fn, rounds: int) -> float:
    fn()                                                                   # warm up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


# ---------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------
_DEFAULTS = dict(window=16, filters=24, hidden=96, object_size=[12, 16], n_train=2500, n_val=150,
                 n_test=300, n_detect=50, detect_size=64, epochs=20, batch_size=64, lr=3e-3,
                 score_threshold=0.5, iou_threshold=0.3, scales=[1.0, 0.75, 0.5], timing_rounds=5)


@register_task("sliding-windows", quick=_QUICK, metric="accuracy",
               description="window classifier on scene crops; naive vs convolutional sliding windows",
               **_DEFAULTS)
def sliding_windows(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """Train the window classifier, then detect on held-out scenes with its convolutional twin."""
    window = config["window"]
    k = len(SHAPE_CLASSES)
    lo, hi = config["object_size"]
    x_train, y_train, b_train = window_dataset(config["n_train"], seed, window, object_size=(lo, hi))
    x_val, y_val, _ = window_dataset(config["n_val"], seed + _VAL_SEED_OFFSET, window, object_size=(lo, hi))
    x_test, y_test, _ = window_dataset(config["n_test"], _TEST_SEED, window, object_size=(lo, hi))

    model = window_classifier(k, window, filters=config["filters"], hidden=config["hidden"],
                              rng=np.random.default_rng([seed, 0]))
    optimizer = Adam(model.parameters(), lr=config["lr"])
    start = time.perf_counter()
    history = fit(model, softmax_cross_entropy, optimizer, x_train, y_train, epochs=config["epochs"],
                  batch_size=config["batch_size"], validation_data=(x_val, y_val), seed=[seed, 1],
                  scheduler=CosineDecay(optimizer, total=config["epochs"]), progress=progress,
                  augment=random_dihedral_batch)
    train_seconds = time.perf_counter() - start
    model.eval()
    accuracy = float(np.mean(np.argmax(predict(model, x_test), -1) == y_test))
    train_accuracy = float(np.mean(np.argmax(predict(model, x_train), -1) == y_train))

    # detection on larger held-out scenes, with the convolutional implementation
    size = config["detect_size"]
    scenes = make_scenes(config["n_detect"], size=size, min_objects=2, max_objects=5, seed=_DETECT_SEED,
                         size_range=(lo / size, hi / size))
    conv_model = fc_to_conv(model, window)
    fractions = box_fractions_of(y_train, b_train, k, window)
    thr, iou = config["score_threshold"], config["iou_threshold"]
    dets = detect_scenes(conv_model, scenes.images, thr, iou, box_fractions=fractions)
    raw = detect_scenes(conv_model, scenes.images, thr, iou)
    agnostic = detect_scenes(conv_model, scenes.images, thr, iou, box_fractions=fractions,
                             class_agnostic=True)
    truth = scenes.detection_targets()
    map50 = mean_average_precision(dets, truth, iou_thresholds=[0.5])["map"]
    map50_raw = mean_average_precision(raw, truth, iou_thresholds=[0.5])["map"]
    map50_agnostic = mean_average_precision(agnostic, truth, iou_thresholds=[0.5])["map"]

    # larger shapes, found at the scale where they fit the window
    big = make_scenes(config["n_detect"], size=96, min_objects=2, max_objects=4, seed=_MULTISCALE_SEED,
                      size_range=(lo / 96, 2 * hi / 96))
    multi = [detect_multiscale(conv_model, image, config["scales"], thr, iou, box_fractions=fractions)
             for image in big.images]
    map50_multi = mean_average_precision(multi, big.detection_targets(), iou_thresholds=[0.5])["map"]

    # the two implementations agree, and the convolutional one is faster
    diff = 0.0
    for image in scenes.images[:4]:
        a, _ = sliding_window_naive(model, image, window, conv_model.stride)   # one pass per window
        b, _ = sliding_window_conv(conv_model, image)
        diff = max(diff, float(np.abs(a - b).max()))
    image = scenes.images[0]
    rounds = config["timing_rounds"]
    naive_ms = _median_ms(lambda: sliding_window_naive(model, image, window, conv_model.stride), rounds)
    conv_ms = _median_ms(lambda: sliding_window_conv(conv_model, image), max(rounds, 5))

    metrics = {
        "accuracy": accuracy, "train_accuracy": train_accuracy,
        "val_accuracy": history["val_accuracy"][-1],
        "map50": map50, "map50_window_boxes": map50_raw, "map50_class_agnostic": map50_agnostic,
        "map50_multiscale": map50_multi,
        "box_fractions": fractions.tolist(),
        "max_abs_score_difference": diff,
        "naive_ms": round(naive_ms, 2), "conv_ms": round(conv_ms, 3),
        "speedup": round(naive_ms / conv_ms, 1),
        "epochs": len(history), "n_train": len(x_train), "n_val": len(x_val), "n_test": len(x_test),
        "n_detect_scenes": len(scenes), "parameters": model.num_parameters(),
        "train_seconds": round(train_seconds, 2), "seed": seed, "quick": quick,
        "class_names": list(CLASS_NAMES), "config": dict(config),
    }
    if out is not None:
        _write_outputs(out, model, config, history, scenes, agnostic, conv_model, metrics)
    return metrics


def _write_outputs(out, model, config, history, scenes, dets, conv_model, metrics) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    from ..viz.boxes import plot_detections
    from ..viz.curves import plot_history

    matplotlib.use("Agg", force=False)
    plot_history(history, os.path.join(out, "curves.png"), title="window classifier: training curves")
    for i in range(min(3, len(scenes))):
        plot_detections(scenes.images[i], dets[i], scenes.detection_targets()[i],
                        class_names=SHAPE_CLASSES, path=os.path.join(out, f"detections_{i}.png"),
                        title=f"held-out scene {i}: sliding windows + class-agnostic NMS")
    scores, _ = sliding_window_conv(conv_model, scenes.images[0])
    fig = Figure(figsize=(8, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.imshow(scenes.images[0])
    ax1.set_title("scene")
    (sh, sw), w = conv_model.stride, config["window"]
    top, left = (w - sh) / 2, (w - sw) / 2              # cell (r, c) spans its window's centre +- s/2
    extent = (left, left + sw * scores.shape[1], top + sh * scores.shape[0], top)
    heat = 1 - scores[..., -1]                                             # (rows, cols)
    ax2.imshow(scenes.images[0])
    im = ax2.imshow(heat, extent=extent, alpha=np.clip(heat, 0.0, 0.9), vmin=0, vmax=1, cmap="magma")
    ax2.set_xlim(0, scenes.images[0].shape[1])
    ax2.set_ylim(scenes.images[0].shape[0], 0)
    ax2.set_title("1 - p(background) at each window centre")
    fig.colorbar(im, ax=ax2, fraction=0.046)
    fig.savefig(os.path.join(out, "score_map.png"), dpi=100)
    save_weights(model, os.path.join(out, "weights.npz"), architecture="window-classifier",
                 extra={"task": "sliding-windows", "classes": list(CLASS_NAMES),
                        "config": dict(config), "box_fractions": metrics["box_fractions"]})
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(history.to_dict(), fh, indent=1)
