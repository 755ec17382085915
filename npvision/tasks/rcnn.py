"""R-CNN on the synthetic scenes: warped regions, a fine-tuned CNN, per-class SVMs and ridge regressors.

    >>> from npvision.tasks import run_task
    >>> m = run_task("rcnn", out="npvision-out/rcnn", proposal_cache="npvision-out/cache")
    >>> m["map50"], m["test_ms_per_image"]

Data and proposals as the ``fast-rcnn`` task (the same scenes, selective search).

Recipe (:func:`train_rcnn`), the paper's three stages:

1. **fine-tune** the CNN (:class:`~npvision.detection.RCNN`: the shared backbone and box
   head on ``warp_size`` crops) as a ``K + 1``-way classifier: each batch takes
   ``batch_size`` images (flipped at random with their proposals), samples
   ``crops_per_image`` regions per image among the proposals and the ground-truth boxes
   (a quarter foreground: IoU >= 0.5 with a box, labelled with its class; the rest
   background), warps them and takes a softmax cross-entropy step (Adam, warm-up, cosine);
2. **SVMs**: fc7 features of every proposal and ground-truth box of ``n_svm_images``
   training scenes, scaled to a mean norm of 20 (the paper's ``feat_norm_mean``); for
   each class a hinge-loss SVM (C = 0.001, positives weighted 2, bias feature 10, as the
   paper's code) of the class's ground-truth boxes against the proposals with IoU < 0.3
   to all of its boxes, by hard-negative mining;
3. **box regression**: pool5 features (scaled the same way) of the proposals with IoU >=
   0.6 to a box, a ridge regression per class (lambda = 1000) onto the box's deltas.

The result (``"metric": "map"``): as the fast-rcnn task's (``test_ms_per_image`` is the
detector given its proposals; ``_with_proposals`` adds selective search), plus
``svm_rounds`` (hard-negative mining per class) and ``stage_seconds``.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from ..data.scenes import SHAPE_CLASSES
from ..detection.box_coder import encode_boxes
from ..detection.boxes import box_iou
from ..detection.linear_svm import hard_negative_svm
from ..detection.rcnn import RCNN, fit_ridge, warp_regions
from ..detection.region_detector import RegionDetector
from ..detection.roi_heads import roi_head_targets
from ..train import History
from . import register_task
from ._region_common import (PROPOSAL_DEFAULTS, SCENE_DEFAULTS, run_facts, score, selective_search_proposals,
                             time_detection, timed_training, train_region_model)
from .fast_rcnn import _write_outputs
from .yolo import scene_splits

__all__ = ["build_rcnn", "train_rcnn", "finetune_rcnn", "train_rcnn_svms", "train_rcnn_box_regressors"]

_QUICK = dict(n_train=96, n_test=32, epochs=2, batch_size=8, n_svm_images=64)
#: R-CNN's feature scaling: features are multiplied so that their mean L2 norm is this
FEATURE_NORM = 20.0

_DEFAULTS = dict(SCENE_DEFAULTS, **PROPOSAL_DEFAULTS, n_train=4000, epochs=4, batch_size=8, crops_per_image=16,
                 lr=2e-3, warmup=0.5, weight_decay=0.0, max_grad_norm=10.0, flips=True, widths=[16, 32, 64],
                 strides=[2, 2, 1], stage_depth=2, pool_size=4, hidden=256, warp_size=32, context=2.0,
                 n_svm_images=1000, svm_C=1e-3, svm_positive_weight=2.0, svm_rounds=6, svm_negative_iou=0.3,
                 ridge_lambda=1000.0, ridge_min_iou=0.6, eval_score_threshold=0.01, nms_iou=0.5,
                 score_threshold=0.5)


def build_rcnn(config: dict, rng=None) -> RCNN:
    """The :class:`RCNN` of a task configuration."""
    size = config["size"]
    return RCNN(config["num_classes"], (size, size, 3), warp_size=config["warp_size"], context=config["context"],
                backbone=dict(widths=config["widths"], strides=config["strides"], stage_depth=config["stage_depth"]),
                pool_size=config["pool_size"], hidden=config["hidden"],
                score_threshold=config["eval_score_threshold"], nms_threshold=config["nms_iou"], rng=rng)


def finetune_rcnn(model: RCNN, config: dict, train, proposals: list, *, seed: int = 0,
                  progress: bool = True) -> History:
    """Stage 1: the CNN as a ``K + 1``-way classifier of warped regions (module docstring)."""
    def step(images, boxes, classes, extras, rng):
        rois, labels, _, _ = roi_head_targets(extras[0], boxes, classes,
                                              batch_size_per_image=config["crops_per_image"], rng=rng)
        crops = np.concatenate([warp_regions(images[b], rois[rois[:, 0] == b, 1:], config["warp_size"],
                                             config["context"]) for b in range(len(images))])   # (R, S, S, 3)
        loss = model.finetune_step(crops.astype(np.float32), labels)
        return loss, {"loss": loss, "crops": len(crops)}

    return train_region_model(model, config, train, step, [proposals], seed=seed, progress=progress, name="rcnn")


def _region_features(model: RCNN, images, boxes_per_image, progress: bool, desc: str):
    """pool5 and fc7 of every box of every image, concatenated, and each row's image index."""
    pool5, fc7, owner = [], [], []
    for i in tqdm(range(len(images)), desc=desc, leave=False, disable=not progress):
        crops = warp_regions(images[i], boxes_per_image[i], model.warp_size, model.context)
        p5, f7 = model.crop_features(crops.astype(np.float32))
        pool5.append(p5)
        fc7.append(f7)
        owner.append(np.full(len(p5), i))
    return np.concatenate(pool5), np.concatenate(fc7), np.concatenate(owner)


def _norm_scale(features: np.ndarray) -> float:
    """The factor that makes the mean L2 norm of the rows ``FEATURE_NORM``."""
    return FEATURE_NORM / max(float(np.linalg.norm(features, axis=1).mean()), 1e-12)


def train_rcnn_svms(model: RCNN, config: dict, images, gt_boxes, gt_classes, proposals, *, seed: int = 0,
                    progress: bool = True) -> list[dict]:
    """Stage 2: per-class linear SVMs on fc7 by hard-negative mining; written into the model's buffers.

    Returns one dict per class: its positives, negatives and the mining rounds.
    """
    k = model.num_classes
    gt_rows = [np.asarray(b, np.float64).reshape(-1, 4) for b in gt_boxes]
    prop_rows = [np.asarray(p, np.float64).reshape(-1, 4) for p in proposals]
    _, gt_fc7, gt_owner = _region_features(model, images, gt_rows, progress, "rcnn gt features")
    _, prop_fc7, prop_owner = _region_features(model, images, prop_rows, progress, "rcnn proposal features")
    scale = _norm_scale(np.concatenate([gt_fc7, prop_fc7]))
    model.feature_scale[...] = scale
    gt_class = np.concatenate([np.asarray(c, np.int64).reshape(-1) for c in gt_classes])
    # best IoU of each proposal with the boxes of each class of its image: (P_total, K)
    best = np.zeros((len(prop_fc7), k))
    start = 0
    for i, props in enumerate(prop_rows):
        stop = start + len(props)
        if len(props) and len(gt_rows[i]):
            iou = box_iou(props, gt_rows[i])                                   # (P_i, G_i)
            for c in range(k):
                mine = np.asarray(gt_classes[i]) == c
                if mine.any():
                    best[start:stop, c] = iou[:, mine].max(axis=1)
        start = stop
    rng = np.random.default_rng([seed, 2])
    report = []
    for c in range(k):
        positives = gt_fc7[gt_class == c] * scale
        negatives = prop_fc7[best[:, c] < config["svm_negative_iou"]] * scale
        svm = hard_negative_svm(positives, negatives, C=config["svm_C"], positive_weight=config["svm_positive_weight"],
                                rounds=config["svm_rounds"], rng=rng)
        model.svm_weight[c] = svm.weight
        model.svm_bias[c] = svm.bias
        report.append({"positives": int(len(positives)), "negatives": int(len(negatives)), "rounds": svm.history})
    return report


def train_rcnn_box_regressors(model: RCNN, config: dict, images, gt_boxes, gt_classes, proposals, *,
                              progress: bool = True) -> list[int]:
    """Stage 3: per-class ridge regression from pool5 to the box deltas; the regions used per class."""
    rows, targets, classes = [], [], []
    for i, props in enumerate(proposals):
        gt = np.asarray(gt_boxes[i], np.float64).reshape(-1, 4)
        props = np.asarray(props, np.float64).reshape(-1, 4)
        if not len(gt) or not len(props):
            rows.append(props[:0])
            continue
        iou = box_iou(props, gt)                                                # (P_i, G_i)
        near = iou.max(axis=1) >= config["ridge_min_iou"]
        match = iou.argmax(axis=1)[near]
        rows.append(props[near])
        targets.append(encode_boxes(gt[match], props[near]))
        classes.append(np.asarray(gt_classes[i], np.int64)[match])
    pool5, _, _ = _region_features(model, images, rows, progress, "rcnn regression features")
    scale = _norm_scale(pool5)
    targets, classes = np.concatenate(targets), np.concatenate(classes)
    counts = []
    for c in range(model.num_classes):
        mine = classes == c
        counts.append(int(mine.sum()))
        if mine.sum() < 2:
            continue
        weight, bias = fit_ridge(pool5[mine] * scale, targets[mine], config["ridge_lambda"])
        model.ridge_weight[c] = weight * scale                                  # applied to unscaled pool5
        model.ridge_bias[c] = bias
    return counts


def train_rcnn(model: RCNN, config: dict, train, proposals: list, *, seed: int = 0, progress: bool = True):
    """The three stages in order; ``(history of stage 1, svm report, regressor counts, seconds per stage)``."""
    seconds = {}
    start = time.perf_counter()
    history = finetune_rcnn(model, config, train, proposals, seed=seed, progress=progress)
    seconds["finetune"] = time.perf_counter() - start
    m = min(config["n_svm_images"], len(train))
    subset = (train.images[:m], train.boxes[:m], train.classes[:m], proposals[:m])
    start = time.perf_counter()
    svms = train_rcnn_svms(model, config, *subset, seed=seed, progress=progress)
    seconds["svms"] = time.perf_counter() - start
    start = time.perf_counter()
    regressors = train_rcnn_box_regressors(model, config, *subset, progress=progress)
    seconds["box_regression"] = time.perf_counter() - start
    model.eval()
    return history, svms, regressors, seconds


@register_task("rcnn", metric="map",
               description="R-CNN (warped regions, per-class SVMs, ridge box regression) on scenes (held-out mAP)",
               **_DEFAULTS)
def rcnn_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """R-CNN on the 64x64 scenes of the yolo task; scored on the same 500 test scenes."""
    if quick:
        config = dict(config, **_QUICK)
    if not 1 <= config["num_classes"] <= len(SHAPE_CLASSES):
        raise ValueError(f"num_classes: expected 1..{len(SHAPE_CLASSES)}, received {config['num_classes']!r}")
    train, _, test = scene_splits(config, seed)
    class_names = tuple(SHAPE_CLASSES[:config["num_classes"]])
    train_props, train_ss_seconds = selective_search_proposals(train.images, config, progress, "train proposals")
    test_props, ss_seconds = selective_search_proposals(test.images, config, progress, "test proposals")
    model = build_rcnn(config, rng=np.random.default_rng([seed, 0]))

    (history, svms, regressors, stage_seconds), timing = timed_training(
        lambda: train_rcnn(model, config, train, train_props, seed=seed, progress=progress))

    detections = model.detect_batch(test.images, test_props, score_threshold=config["eval_score_threshold"])
    metrics = score(detections, test, class_names)
    timed = min(len(test), 100)
    ms = time_detection(lambda i: model.detect(test.images[i], test_props[i]), timed)
    metrics.update({
        "test_ms_per_image": round(ms, 3),
        "test_ms_per_image_with_proposals": round(ms + 1000 * ss_seconds, 3),
        "proposal_seconds_per_image": round(ss_seconds, 5),
        "mean_proposals_per_image": float(np.mean([len(p) for p in test_props])),
        "svm_rounds": {class_names[c]: s for c, s in enumerate(svms)},
        "box_regression_regions": {class_names[c]: n for c, n in enumerate(regressors)},
        "stage_seconds": {k: round(v, 2) for k, v in stage_seconds.items()},
        "train_proposal_seconds": round(train_ss_seconds * len(train), 2),
        **run_facts(history, train, test, model, timing, config, seed, quick),
    })
    if out is not None:
        detector = RegionDetector(model, "rcnn", class_names, score_threshold=config["score_threshold"],
                                  proposal_mode=config["proposal_mode"], max_proposals=config["max_proposals"])
        detector.save(out)
        _write_outputs(out, "rcnn", "R-CNN", detector, history, test, detections, test_props, metrics)
    return metrics
