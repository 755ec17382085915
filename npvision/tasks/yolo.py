"""YOLO on synthetic scenes: anchors, target encoding, training with flips, honest mAP.

    >>> from npvision.tasks import run_task
    >>> m = run_task("yolo", out="npvision-out/yolo")       # a few CPU-minutes
    >>> m["map50"], m["map"]                                  # held-out mAP@0.5, mAP@0.5:0.95

Data: :func:`npvision.data.make_scenes` draws ``size x size`` RGB scenes holding
``min_objects..max_objects`` shapes of ``num_classes`` classes (circle, square,
triangle, cross), overlapping (each keeps at least 40 % of its pixels visible).
Three sets from different seeds never share a scene:

===========  =========================================================================
train        ``n_train`` scenes from ``seed``; every batch shows each scene under a
             random left-right and a random top-bottom flip, the boxes moved with it
             (:func:`npvision.data.augment.hflip` / ``vflip``).
validation   ``n_val`` scenes: mAP after every epoch, for the training curves only
             (no model selection: the final weights are the reported ones).
test         ``n_test`` scenes from a fixed seed, the same for every run, scored once
             at the end: the reported ``map`` (0.5:0.95, COCO) and ``map50``.
===========  =========================================================================

Recipe, step by step (each a function below):

1. anchors: k-means with the ``1 - IoU`` distance on the training boxes' (w, h)
   (:func:`npvision.detection.kmeans_anchors`), ``anchors`` of them, sorted by area;
2. model: :class:`npvision.models.yolo.TinyYOLO` (stride 8: a 64x64 image gives an
   8x8 grid), output ``(N, S, S, B (5 + K))``;
3. each batch: flip, encode the boxes as YOLOv2 targets
   (:func:`npvision.detection.encode_yolo_targets`), forward, the YOLO loss and its
   gradient (:func:`npvision.detection.yolo_loss`; the paper's squared errors by default,
   which measured as good as a logistic objectness with cross-entropy classes, see
   ``benchmarks/train_yolo.md``), backward, Adam;
   the learning rate warms up linearly over ``warmup`` epochs, then follows a half
   cosine to 0 (both per batch);
4. evaluation: :func:`npvision.detection.yolo_postprocess` with a low score threshold
   (``eval_score_threshold``, 0.01: AP integrates over every operating point, so
   low-scoring boxes must be kept) and per-class NMS at ``nms_iou``, then
   :func:`npvision.detection.mean_average_precision` (COCO convention).

Defaults: 6000 training scenes of 64x64 pixels, 2..4 objects of 4 classes, 3 anchors,
TinyYOLO (297,483 parameters, 8x8 grid), 14 epochs of batches of 32, Adam at 2e-3.
Seed 0 reaches held-out mAP@0.5 0.926 and mAP@0.5:0.95 0.716 after about 340
CPU-seconds of training (``benchmarks/train_yolo.md``).

On a busy machine run it with ``OPENBLAS_NUM_THREADS=1``: with more runnable processes
than cores, OpenBLAS's threads wait on each other and an epoch measured about 3 times
slower than single-threaded.

The returned dict (``"metric": "map"``) holds ``map`` (mAP@0.5:0.95), ``map50``,
``map75``, ``per_class_ap50`` and ``per_class_ap`` (by class name), the detection
``confusion_matrix`` at IoU 0.5 and ``score_threshold`` (rows true class, columns
predicted, last row/column background: :func:`npvision.detection.detection_confusion_matrix`),
``anchors`` and their ``anchor_mean_iou`` on the training boxes, ``epochs``,
``n_train``, ``n_test``, ``parameters``, times, and the configuration.

With ``out`` the folder becomes a detector folder (:meth:`Detector.save`:
``weights.npz`` + ``detector.json``, for ``npvision detect IMAGE --model FOLDER``)
and receives ``predictions.png`` (held-out scenes, predicted vs true boxes),
``pr_curves.png`` (per class at IoU 0.5), ``curves.png`` (loss terms and val mAP),
``grid.png`` (the grid and anchors over a training scene), ``history.json`` and
``metrics.json``.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from tqdm import tqdm

from ..data import make_scenes
from ..data.augment import hflip, vflip
from ..data.scenes import SHAPE_CLASSES
from ..detection import anchors as _anchors
from ..detection import yolo as Y
from ..detection.detector import Detector
from ..detection.evaluation import (detection_confusion_matrix, mean_average_precision,
                                    precision_recall_curves)
from ..models import create
from ..optim import Adam, CosineDecay, LinearWarmup, clip_grad_norm
from ..train import History
from . import register_task
from ._common import load_average as _load_average

__all__ = ["scene_splits", "random_flips", "box_shapes", "build_yolo", "train_yolo", "evaluate_detector"]

_TEST_SEED = 2_000_000_000          # the fixed test scenes
_VAL_SEED_OFFSET = 1_000_000_000    # validation scenes: seed + this
_QUICK = dict(n_train=64, n_val=16, n_test=32, epochs=1, batch_size=16)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def scene_splits(config: dict, seed: int):
    """Train, validation and test :class:`~npvision.data.Scenes` (see the module docstring).

    ``n_val = 0`` gives ``None`` for the validation set (no per-epoch mAP).
    """
    classes = list(SHAPE_CLASSES[:config["num_classes"]])
    splits = []
    for n, s in ((config["n_train"], seed), (config["n_val"], seed + _VAL_SEED_OFFSET),
                 (config["n_test"], _TEST_SEED)):
        splits.append(None if n == 0 and s != seed and s != _TEST_SEED else
                      make_scenes(n, size=config["size"], min_objects=config["min_objects"],
                                  max_objects=config["max_objects"], classes=classes, seed=s))
    return splits


def random_flips(images: np.ndarray, boxes: list, rng: np.random.Generator):
    """Each image flipped left-right with probability 1/2 and top-bottom with probability 1/2.

    ``images (N, H, W, 3)``, ``boxes`` N arrays ``(K_i, 4)`` xyxy pixels -> flipped copies,
    the boxes moved with their image (``x -> W - x``, ``y -> H - y``).
    """
    out_x, out_b = np.empty_like(images), []
    flips = rng.random((len(images), 2)) < 0.5                         # (N, 2): [left-right, top-bottom]
    for i, (do_h, do_v) in enumerate(flips):
        x, b = images[i], boxes[i]
        if do_h:
            x, b = hflip(x, b)[:2]
        if do_v:
            x, b = vflip(x, b)[:2]
        out_x[i] = x
        out_b.append(b)
    return out_x, out_b


def box_shapes(scenes) -> np.ndarray:
    """Every box's ``(w, h)`` as fractions of the image: ``(M, 2)`` (the input of k-means)."""
    h, w = scenes.images.shape[1:3]
    boxes = np.concatenate([b for b in scenes.boxes if len(b)])        # (M, 4) xyxy pixels
    return np.stack([(boxes[:, 2] - boxes[:, 0]) / w, (boxes[:, 3] - boxes[:, 1]) / h], axis=1)


# ---------------------------------------------------------------------------
# model, training, evaluation
# ---------------------------------------------------------------------------
def build_yolo(config: dict, rng=None):
    """The ``tiny_yolo`` network of a task configuration."""
    size = config["size"]
    return create("tiny_yolo", num_classes=config["num_classes"], input_shape=(size, size, 3),
                  num_anchors=config["anchors"], widths=tuple(config["widths"]),
                  stage_depth=config["stage_depth"], neck=tuple(config["neck"]), rng=rng)


def _loss_options(config: dict) -> dict:
    return dict(lambda_coord=config["lambda_coord"], lambda_noobj=config["lambda_noobj"],
                objectness_loss=config["objectness_loss"], class_loss=config["class_loss"],
                ignore_iou=config["ignore_iou"])


def train_yolo(model, anchors: np.ndarray, config: dict, train, val=None, *, seed: int = 0,
               progress: bool = True) -> History:
    """Train ``model`` on the scenes ``train`` with the recipe of the module docstring.

    ``anchors (B, 2)`` fractions of the image. ``val`` (Scenes or None): mAP@0.5 and
    mAP@0.5:0.95 after each epoch, recorded as ``val_map50`` and ``val_map``. Returns the per-epoch :class:`History`
    (``loss`` and its terms averaged over the epoch's batches, ``lr``, ``seconds``).
    """
    epochs, batch_size = config["epochs"], config["batch_size"]
    images, boxes, classes = train.images, train.boxes, train.classes
    n = len(images)
    size = images.shape[1:3]
    steps_per_epoch = -(-n // batch_size)
    total = epochs * steps_per_epoch
    warmup = min(max(1, int(round(config["warmup"] * steps_per_epoch))), total - 1) if total > 1 else 0
    optimizer = Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    if warmup:
        schedule = LinearWarmup(optimizer, warmup,
                                then=CosineDecay(optimizer, total=total - warmup, interval="batch"))
    else:
        schedule = CosineDecay(optimizer, total=max(total, 1), interval="batch")
    grid = model.grid_size(*size)[0]
    k = config["num_classes"]
    loss_options = _loss_options(config)
    rng = np.random.default_rng([seed, 1])
    history = History()
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        order = rng.permutation(n)
        sums = {"loss": 0.0}
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                   disable=not progress)
        for step in bar:
            idx = order[step * batch_size:(step + 1) * batch_size]
            xb, bb = images[idx], [boxes[i] for i in idx]
            if config["flips"]:
                xb, bb = random_flips(xb, bb, rng)
            targets = Y.encode_yolo_targets(bb, [classes[i] for i in idx], size, grid, anchors, k)
            output = model.forward(xb)                                  # (n, S, S, B (5 + K))
            loss, doutput, terms = Y.yolo_loss(output, targets, anchors, return_terms=True,
                                               **loss_options)
            model.zero_grad()
            model.backward(doutput)
            if config["max_grad_norm"]:
                clip_grad_norm(model.parameters(), config["max_grad_norm"])
            optimizer.step()
            schedule.step()
            sums["loss"] += float(loss)
            for name, value in terms.items():
                sums[f"loss_{name}"] = sums.get(f"loss_{name}", 0.0) + value
            if step % 20 == 0:
                bar.set_postfix(loss=f"{float(loss):.3f}", lr=f"{optimizer.lr:.1e}")
        logs = {name: value / steps_per_epoch for name, value in sums.items()}
        logs["lr"] = optimizer.lr
        if val is not None:
            detector = Detector(model, anchors, k, input_size=size)
            scores = evaluate_detector(detector, val, config)
            logs["val_map50"], logs["val_map"] = scores["map50"], scores["map"]
        logs["seconds"] = time.perf_counter() - start
        history.append(logs)
        if progress:
            extra = (f"  val mAP@0.5 {logs['val_map50']:.4f} mAP@0.5:0.95 {logs['val_map']:.4f}"
                     if val is not None else "")
            print(f"epoch {epoch + 1:3d}/{epochs}  loss {logs['loss']:.4f}{extra}  "
                  f"lr {optimizer.lr:.2e}  {logs['seconds']:.1f}s", flush=True)
    model.eval()
    return history


def evaluate_detector(detector: Detector, scenes, config: dict, detections=None) -> dict:
    """mAP of ``detector`` on ``scenes`` (COCO convention), with the low evaluation threshold."""
    if detections is None:
        detections = detector.detect_batch(scenes.images, score_threshold=config["eval_score_threshold"],
                                           iou_threshold=config["nms_iou"])
    return mean_average_precision(detections, scenes.detection_targets())


# ---------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------


_DEFAULTS = dict(size=64, num_classes=4, min_objects=2, max_objects=4, n_train=6000, n_val=200,
                 n_test=500, anchors=3, widths=[16, 32, 64], stage_depth=2, neck=[128, 2],
                 epochs=14, batch_size=32, lr=2e-3, warmup=0.5, weight_decay=0.0, max_grad_norm=10.0,
                 lambda_coord=5.0, lambda_noobj=0.5, objectness_loss="squared", class_loss="squared",
                 ignore_iou=None,
                 flips=True, eval_score_threshold=0.01, nms_iou=0.5, score_threshold=0.3)


@register_task("yolo", quick=_QUICK, metric="map",
               description="YOLO (anchors, grid 8x8) on multi-object scenes (held-out mAP@0.5:0.95)",
               **_DEFAULTS)
def yolo_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """TinyYOLO on 64x64 scenes of 2..4 shapes of 4 classes, 3 k-means anchors, an 8x8 grid."""
    if not 1 <= config["num_classes"] <= len(SHAPE_CLASSES):
        raise ValueError(f"num_classes: expected 1..{len(SHAPE_CLASSES)}, received {config['num_classes']!r}")
    load_before = _load_average()
    train, val, test = scene_splits(config, seed)
    wh = box_shapes(train)
    anchors = _anchors.kmeans_anchors(wh, config["anchors"], seed=seed)      # (B, 2) fractions
    model = build_yolo(config, rng=np.random.default_rng([seed, 0]))
    class_names = tuple(SHAPE_CLASSES[:config["num_classes"]])

    start, cpu_start = time.perf_counter(), time.process_time()
    history = train_yolo(model, anchors, config, train, val, seed=seed, progress=progress)
    train_seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start                   # all threads of this process

    size = config["size"]
    detector = Detector(model, anchors, config["num_classes"], class_names, (size, size),
                        score_threshold=config["score_threshold"], iou_threshold=config["nms_iou"])
    detections = detector.detect_batch(test.images, score_threshold=config["eval_score_threshold"],
                                       iou_threshold=config["nms_iou"])
    scores = evaluate_detector(detector, test, config, detections)
    ap50 = mean_average_precision(detections, test.detection_targets(), iou_thresholds=0.5)
    metrics = {
        "map": scores["map"], "map50": scores["map50"], "map75": scores["map75"],
        "per_class_ap": {class_names[int(c)]: v for c, v in scores["per_class"].items()},
        "per_class_ap50": {class_names[int(c)]: v for c, v in ap50["per_class"].items()},
        "confusion_matrix": detection_confusion_matrix(
            detections, test.detection_targets(), config["num_classes"], iou_threshold=0.5,
            score_threshold=config["score_threshold"]).tolist(),
        "anchors": anchors.tolist(),
        "anchor_mean_iou": float(_anchors.mean_best_iou(wh, anchors)),
        "grid": list(model.grid_size(size, size)),
        "epochs": len(history), "n_train": len(train), "n_val": 0 if val is None else len(val), "n_test": len(test),
        "test_objects": int(sum(len(b) for b in test.boxes)),
        "parameters": model.num_parameters(),
        "input_shape": [size, size, 3],
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(cpu_seconds, 2),
        "load_average": {"start": load_before, "end": _load_average()},
        "seed": seed, "quick": quick,
        "config": dict(config),
    }
    if out is not None:
        _write_outputs(out, detector, history, train, test, detections, metrics)
    return metrics


def _write_outputs(out, detector: Detector, history: History, train, test, detections, metrics) -> None:
    from ..viz.boxes import draw_boxes, plot_pr_curves
    from ..viz.curves import plot_history
    from ..viz._figure import finish_figure
    from ..viz.yolo import plot_yolo_grid
    from matplotlib.figure import Figure

    detector.save(out)
    names = detector.class_names
    plot_history({k: v for k, v in history.to_dict().items() if k != "seconds"},
                 os.path.join(out, "curves.png"), title="yolo: training curves")

    # held-out predictions (solid, with scores) against the truth (dashed white)
    shown = min(8, len(test))
    fig = Figure(figsize=(3.0 * min(shown, 4), 3.2 * -(-shown // 4)))
    for i in range(shown):
        ax = fig.add_subplot(-(-shown // 4), min(shown, 4), i + 1)
        ax.imshow(np.clip(test.images[i], 0, 1), extent=(0, test.images.shape[2], test.images.shape[1], 0))
        draw_boxes(ax, test.boxes[i], colors="white", linestyle="--", linewidth=1.2, show_text=False)
        keep = detections[i]["scores"] >= detector.score_threshold
        draw_boxes(ax, detections[i]["boxes"][keep], detections[i]["classes"][keep],
                   detections[i]["scores"][keep], names, linewidth=1.5)
        ax.set_axis_off()
    finish_figure(fig, os.path.join(out, "predictions.png"),
                  f"held-out scenes: predictions (score >= {detector.score_threshold}) vs truth (dashed); "
                  f"mAP@0.5 {metrics['map50']:.3f}, mAP@0.5:0.95 {metrics['map']:.3f}", 100)

    curves = precision_recall_curves(detections, test.detection_targets(), iou_threshold=0.5)
    plot_pr_curves(curves, names, os.path.join(out, "pr_curves.png"),
                   title="precision-recall at IoU 0.5 (held-out scenes)")
    plot_yolo_grid(train.images[0], detector.model.grid_size(*train.images.shape[1:3])[0],
                   anchors=detector.anchors, boxes=train.boxes[0], classes=train.classes[0],
                   class_names=names, path=os.path.join(out, "grid.png"))
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(history.to_dict(), fh, indent=1)
