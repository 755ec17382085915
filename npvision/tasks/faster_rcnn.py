"""Faster R-CNN on the synthetic scenes: RPN + RoI box head, trained jointly, scored like YOLO.

    >>> from npvision.tasks import run_task
    >>> m = run_task("faster-rcnn", out="npvision-out/faster-rcnn")    # a few CPU-minutes
    >>> m["map50"], m["map"], m["rpn_recall"]["100"]["recall"]

Data: the ``yolo`` task's scenes (:mod:`npvision.tasks._region_common`): ``n_train``
scenes from ``seed`` for training, each batch flipped at random; the fixed 500 test
scenes scored once at the end.

Recipe (:func:`train_faster_rcnn`): :class:`~npvision.detection.FasterRCNN` (backbone of
stride 4, anchors of sizes 12-28 pixels and ratio 1 -- the shapes' boxes are square
within 15 %, so the lecture's ratios 0.5 and 2 would never be an object's best anchor),
approximate joint training of the RPN loss and the Fast R-CNN loss, Adam with a linear
warm-up and a half-cosine decay, batches of ``batch_size`` images.

The result (``"metric": "map"``) holds ``map`` / ``map50`` / ``map75`` on the test
scenes, ``per_class_ap(50)``, ``rpn_recall`` (IoU 0.5 recall against 50, 100, 300 and
1000 proposals, and at IoU 0.7), ``test_ms_per_image`` (one image at a time, the full
pass), ``test_ms_per_image_without_proposals`` (the full pass minus the RPN head and
the proposal layer) and ``test_ms_breakdown``, ``train_seconds``, the machine and the
configuration. With ``out``: the detector folder (``npvision detect IMAGE --model
out``), ``predictions.png``, ``proposals.png`` (the RPN's top proposals),
``anchors.png``, ``curves.png``, ``history.json`` and ``metrics.json``.
"""

from __future__ import annotations

import os
import time

import numpy as np
from ..data.scenes import SHAPE_CLASSES
from ..detection.faster_rcnn import FasterRCNN
from ..detection.proposal_recall import proposal_recall
from ..detection.region_detector import RegionDetector
from ..train import History
from . import register_task
from ._region_common import (RECALL_COUNTS, SCENE_DEFAULTS, run_facts, score, time_detection, timed_training,
                             train_region_model, write_json)
from .yolo import scene_splits

__all__ = ["build_faster_rcnn", "train_faster_rcnn", "faster_rcnn_timings"]

_QUICK = dict(n_train=400, n_test=64, epochs=3, batch_size=8)

_DEFAULTS = dict(SCENE_DEFAULTS, n_train=4000, epochs=8, batch_size=8, lr=2e-3, warmup=0.5, weight_decay=0.0,
                 max_grad_norm=10.0, flips=True, widths=[16, 32, 64], strides=[2, 2, 1], stage_depth=2,
                 anchor_sizes=[12, 16, 20, 24, 28], aspect_ratios=[1.0], rpn_batch_size_per_image=256,
                 rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300, rpn_pre_nms_top_n_test=300,
                 rpn_post_nms_top_n_test=100, pooling="roi_pool", pool_size=4, hidden=256,
                 box_batch_size_per_image=64, eval_score_threshold=0.01, nms_iou=0.5, score_threshold=0.5)


def build_faster_rcnn(config: dict, rng=None) -> FasterRCNN:
    """The :class:`FasterRCNN` of a task configuration."""
    size = config["size"]
    return FasterRCNN(
        config["num_classes"], (size, size, 3),
        backbone=dict(widths=config["widths"], strides=config["strides"], stage_depth=config["stage_depth"]),
        rpn=dict(anchor_sizes=config["anchor_sizes"], aspect_ratios=config["aspect_ratios"],
                 batch_size_per_image=config["rpn_batch_size_per_image"],
                 pre_nms_top_n={"training": config["rpn_pre_nms_top_n_train"],
                                "testing": config["rpn_pre_nms_top_n_test"]},
                 post_nms_top_n={"training": config["rpn_post_nms_top_n_train"],
                                 "testing": config["rpn_post_nms_top_n_test"]}),
        roi_heads=dict(pooling=config["pooling"], pool_size=config["pool_size"], hidden=config["hidden"],
                       batch_size_per_image=config["box_batch_size_per_image"],
                       score_threshold=config["eval_score_threshold"], nms_threshold=config["nms_iou"]),
        rng=rng)


def train_faster_rcnn(model: FasterRCNN, config: dict, train, *, seed: int = 0, progress: bool = True) -> History:
    """Train ``model`` on the scenes ``train`` (module docstring); returns the per-epoch :class:`History`."""
    def step(images, boxes, classes, extras, rng):
        return model.train_step(images, boxes, classes, rng)

    return train_region_model(model, config, train, step, seed=seed, progress=progress, name="faster-rcnn")


def faster_rcnn_timings(model: FasterRCNN, images: np.ndarray) -> dict:
    """Milliseconds per image, one image at a time: the full pass and its three stages.

    ``backbone`` (the feature map), ``proposals`` (RPN head + proposal layer) and ``box_head``
    (RoI pooling, the head, post-processing); ``total`` times the whole
    :meth:`~FasterRCNN.detect_batch` call.
    """
    model.eval()
    size = model.image_size
    stages = {"backbone": 0.0, "proposals": 0.0, "box_head": 0.0}

    def staged(i):
        t0 = time.perf_counter()
        features = model.backbone.forward(images[i:i + 1])
        t1 = time.perf_counter()
        props = [b for b, _ in model.rpn.propose(model.rpn.forward(features), size, training=False)]
        t2 = time.perf_counter()
        model.roi_heads.detect(features, props, size)
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    for i in range(min(2, len(images))):
        staged(i)
    for i in range(len(images)):
        for name, dt in zip(stages, staged(i)):
            stages[name] += 1000.0 * dt / len(images)
    total = time_detection(lambda i: model.detect_batch(images[i:i + 1]), len(images))
    return {"total": total, **stages}


@register_task("faster-rcnn", metric="map",
               description="Faster R-CNN (RPN + RoI box head) on multi-object scenes (held-out mAP@0.5:0.95)",
               **_DEFAULTS)
def faster_rcnn_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """Faster R-CNN on the 64x64 scenes of the yolo task; scored on the same 500 test scenes."""
    if quick:
        config = dict(config, **_QUICK)
    if not 1 <= config["num_classes"] <= len(SHAPE_CLASSES):
        raise ValueError(f"num_classes: expected 1..{len(SHAPE_CLASSES)}, received {config['num_classes']!r}")
    train, _, test = scene_splits(config, seed)
    model = build_faster_rcnn(config, rng=np.random.default_rng([seed, 0]))
    class_names = tuple(SHAPE_CLASSES[:config["num_classes"]])
    history, timing = timed_training(lambda: train_faster_rcnn(model, config, train, seed=seed, progress=progress))

    detections = model.detect_batch(test.images, score_threshold=config["eval_score_threshold"])
    metrics = score(detections, test, class_names)
    rpn = model.rpn
    saved = rpn.pre_nms_top_n["testing"], rpn.post_nms_top_n["testing"]
    rpn.pre_nms_top_n["testing"], rpn.post_nms_top_n["testing"] = 2000, max(RECALL_COUNTS)
    proposals = [b for b, _ in model.propose(test.images)]                 # up to 1000 per image
    rpn.pre_nms_top_n["testing"], rpn.post_nms_top_n["testing"] = saved
    recall = proposal_recall(proposals, test.boxes, RECALL_COUNTS, 0.5)
    recall70 = proposal_recall(proposals, test.boxes, RECALL_COUNTS, 0.7)
    timings = faster_rcnn_timings(model, test.images[:min(len(test), 200)])
    metrics.update({
        "rpn_recall": {str(k): v for k, v in recall.items()},
        "rpn_recall_iou70": {str(k): v for k, v in recall70.items()},
        "test_ms_per_image": round(timings["total"], 3),
        "test_ms_per_image_without_proposals": round(timings["total"] - timings["proposals"], 3),
        "test_ms_breakdown": {k: round(v, 3) for k, v in timings.items()}, "pooling": config["pooling"],
        **run_facts(history, train, test, model, timing, config, seed, quick),
    })
    if out is not None:
        detector = RegionDetector(model, "faster-rcnn", class_names, score_threshold=config["score_threshold"])
        _write_outputs(out, detector, history, train, test, detections, proposals, metrics)
    return metrics


def _write_outputs(out, detector, history, train, test, detections, proposals, metrics) -> None:
    from ..detection.matcher import match_boxes
    from ..detection.boxes import box_iou
    from ..viz.curves import plot_history
    from ..viz.proposals import plot_proposals
    from ..viz.region_detection import plot_anchors, plot_prediction_grid

    detector.save(out)
    model = detector.model
    plot_history({k: v for k, v in history.to_dict().items() if k not in ("seconds", "proposals")},
                 os.path.join(out, "curves.png"), title="faster-rcnn: training curves")
    shown = min(8, len(test))
    plot_prediction_grid(test.images[:shown], detections[:shown], test.detection_targets()[:shown],
                         detector.class_names, os.path.join(out, "predictions.png"),
                         score_threshold=detector.score_threshold,
                         title=f"Faster R-CNN, held-out scenes: predictions (score >= {detector.score_threshold}) "
                               f"vs truth (dashed); mAP@0.5 {metrics['map50']:.3f}")
    plot_proposals(test.images[0], proposals[0], top=20, ground_truth=test.boxes[0],
                   path=os.path.join(out, "proposals.png"),
                   title=f"RPN: the 20 best of {len(proposals[0])} proposals (brightest = best)")
    feature_size = model.backbone.feature_size(*model.image_size)
    anchors = model.rpn.anchors(feature_size, model.image_size)
    matches = match_boxes(box_iou(anchors, train.boxes[0]), model.rpn.fg_iou_threshold,
                          model.rpn.bg_iou_threshold, allow_low_quality_matches=True)
    plot_anchors(train.images[0], anchors, feature_size, model.rpn.num_anchors, train.boxes[0],
                 np.flatnonzero(matches >= 0), os.path.join(out, "anchors.png"),
                 locations=[(feature_size[0] // 2, feature_size[1] // 2)],
                 title=f"{len(anchors)} anchors, {model.rpn.num_anchors} per cell of the "
                       f"{feature_size[0]}x{feature_size[1]} map\n(centre cell's in colour; orange: positives)")
    write_json(os.path.join(out, "history.json"), history.to_dict())
