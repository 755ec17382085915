"""Fast R-CNN on the synthetic scenes: selective-search proposals, RoI pooling, one multi-task loss.

    >>> from npvision.tasks import run_task
    >>> m = run_task("fast-rcnn", out="npvision-out/fast-rcnn", proposal_cache="npvision-out/cache")
    >>> m["map50"], m["test_ms_per_image"], m["test_ms_per_image_with_proposals"]

Data: the ``yolo`` task's scenes; proposals from
:func:`~npvision.detection.selective_search` (``proposal_mode``, at most
``max_proposals`` per image), computed once for the training and the test scenes
(``proposal_cache``: a folder to keep them in, shared with the ``rcnn`` task).

Recipe (:func:`train_fast_rcnn`): :class:`~npvision.detection.FastRCNN` with the backbone
and box head of Faster R-CNN; each batch flips its images (and their proposals) at random,
samples 64 RoIs per image (a quarter foreground, the ground-truth boxes among the
candidates) and trains everything with the multi-task loss, Adam, warm-up and cosine.

The result (``"metric": "map"``): ``map`` / ``map50`` / ``map75`` on the 500 test scenes,
``test_ms_per_image`` (one image at a time, given its proposals: the paper's measure),
``test_ms_per_image_with_proposals`` (plus selective search), ``proposal_seconds_per_image``,
``ss_recall`` (selective search's recall at IoU 0.5 and 0.7 against 50-1000 proposals),
``train_seconds`` (the network; the training proposals' time is
``train_proposal_seconds``), the machine, the configuration.
"""

from __future__ import annotations

import os

import numpy as np

from ..data.scenes import SHAPE_CLASSES
from ..detection.fast_rcnn import FastRCNN
from ..detection.proposal_recall import proposal_recall
from ..detection.region_detector import RegionDetector
from ..train import History
from . import register_task
from ._region_common import (PROPOSAL_DEFAULTS, RECALL_COUNTS, SCENE_DEFAULTS, run_facts, score,
                             selective_search_proposals, time_detection, timed_training, train_region_model,
                             write_json)
from .yolo import scene_splits

__all__ = ["build_fast_rcnn", "train_fast_rcnn"]

_QUICK = dict(n_train=96, n_test=32, epochs=2, batch_size=8)

_DEFAULTS = dict(SCENE_DEFAULTS, **PROPOSAL_DEFAULTS, n_train=4000, epochs=8, batch_size=8, lr=2e-3, warmup=0.5,
                 weight_decay=0.0, max_grad_norm=10.0, flips=True, widths=[16, 32, 64], strides=[2, 2, 1],
                 stage_depth=2, pooling="roi_pool", pool_size=4, hidden=256, box_batch_size_per_image=64,
                 eval_score_threshold=0.01, nms_iou=0.5, score_threshold=0.5)


def build_fast_rcnn(config: dict, rng=None) -> FastRCNN:
    """The :class:`FastRCNN` of a task configuration."""
    size = config["size"]
    return FastRCNN(
        config["num_classes"], (size, size, 3),
        backbone=dict(widths=config["widths"], strides=config["strides"], stage_depth=config["stage_depth"]),
        roi_heads=dict(pooling=config["pooling"], pool_size=config["pool_size"], hidden=config["hidden"],
                       batch_size_per_image=config["box_batch_size_per_image"],
                       score_threshold=config["eval_score_threshold"], nms_threshold=config["nms_iou"]),
        rng=rng)


def train_fast_rcnn(model: FastRCNN, config: dict, train, proposals: list, *, seed: int = 0,
                    progress: bool = True) -> History:
    """Train ``model`` on the scenes ``train`` and their ``proposals``; the per-epoch :class:`History`."""
    def step(images, boxes, classes, extras, rng):
        return model.train_step(images, extras[0], boxes, classes, rng)

    return train_region_model(model, config, train, step, [proposals], seed=seed, progress=progress,
                              name="fast-rcnn")


@register_task("fast-rcnn", metric="map",
               description="Fast R-CNN (selective search + RoI pooling) on multi-object scenes (held-out mAP)",
               **_DEFAULTS)
def fast_rcnn_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """Fast R-CNN on the 64x64 scenes of the yolo task; scored on the same 500 test scenes."""
    if quick:
        config = dict(config, **_QUICK)
    if not 1 <= config["num_classes"] <= len(SHAPE_CLASSES):
        raise ValueError(f"num_classes: expected 1..{len(SHAPE_CLASSES)}, received {config['num_classes']!r}")
    train, _, test = scene_splits(config, seed)
    class_names = tuple(SHAPE_CLASSES[:config["num_classes"]])
    train_props, train_ss_seconds = selective_search_proposals(train.images, config, progress, "train proposals")
    test_props, ss_seconds = selective_search_proposals(test.images, config, progress, "test proposals")
    model = build_fast_rcnn(config, rng=np.random.default_rng([seed, 0]))

    history, timing = timed_training(lambda: train_fast_rcnn(model, config, train, train_props, seed=seed,
                                                             progress=progress))

    detections = model.detect_batch(test.images, test_props, score_threshold=config["eval_score_threshold"])
    metrics = score(detections, test, class_names)
    timed = min(len(test), 200)
    ms = time_detection(lambda i: model.detect_batch(test.images[i:i + 1], test_props[i:i + 1]), timed)
    metrics.update({
        "test_ms_per_image": round(ms, 3),
        "test_ms_per_image_with_proposals": round(ms + 1000 * ss_seconds, 3),
        "proposal_seconds_per_image": round(ss_seconds, 5),
        "mean_proposals_per_image": float(np.mean([len(p) for p in test_props])),
        "ss_recall": {str(k): v for k, v in proposal_recall(test_props, test.boxes, RECALL_COUNTS, 0.5).items()},
        "ss_recall_iou70": {str(k): v for k, v in proposal_recall(test_props, test.boxes, RECALL_COUNTS, 0.7).items()},
        "pooling": config["pooling"], "train_proposal_seconds": round(train_ss_seconds * len(train), 2),
        **run_facts(history, train, test, model, timing, config, seed, quick),
    })
    if out is not None:
        detector = RegionDetector(model, "fast-rcnn", class_names, score_threshold=config["score_threshold"],
                                  proposal_mode=config["proposal_mode"], max_proposals=config["max_proposals"])
        detector.save(out)
        _write_outputs(out, "fast-rcnn", "Fast R-CNN", detector, history, test, detections, test_props, metrics)
    return metrics


def _write_outputs(out, name, title, detector, history, test, detections, proposals, metrics) -> None:
    """The pictures the fast-rcnn and rcnn tasks share: curves, predictions, selective search's proposals."""
    from ..viz.curves import plot_history
    from ..viz.proposals import plot_proposals
    from ..viz.region_detection import plot_prediction_grid

    plot_history({k: v for k, v in history.to_dict().items() if k != "seconds"},
                 os.path.join(out, "curves.png"), title=f"{name}: training curves")
    shown = min(8, len(test))
    plot_prediction_grid(test.images[:shown], detections[:shown], test.detection_targets()[:shown],
                         detector.class_names, os.path.join(out, "predictions.png"),
                         score_threshold=detector.score_threshold,
                         title=f"{title}, held-out scenes: predictions (score >= {detector.score_threshold}) "
                               f"vs truth (dashed); mAP@0.5 {metrics['map50']:.3f}")
    plot_proposals(test.images[0], proposals[0], top=20, ground_truth=test.boxes[0],
                   path=os.path.join(out, "proposals.png"),
                   title=f"selective search: the first 20 of {len(proposals[0])} proposals")
    write_json(os.path.join(out, "history.json"), history.to_dict())
