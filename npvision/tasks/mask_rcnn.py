"""``npvision train mask-rcnn``: Mask R-CNN on synthetic scenes of overlapping shapes.

Data: the YOLO task's scenes (:func:`npvision.tasks.yolo.scene_splits`): ``64 x 64``
RGB scenes of 2-4 shapes of 4 classes (circle, square, triangle, cross) that overlap,
every object keeping at least 40 % of its pixels visible; the instance masks are
the *visible* pixels (an occluded object's mask loses what lies under the object
on top), the boxes are the full shapes. Train and test scenes come from different
seeds (the test scenes from a fixed one) and never meet.

Why this size: the shapes are 13-29 pixels across, 3-7 cells of the stride-4 feature
map; 64 x 64 keeps a backbone pass cheap enough that the whole detector, RPN, box
branch and 28 x 28 mask branch, trains in minutes on two cores, and two to four
shapes per scene give occlusion in most scenes (the point of instance masks: a
semantic mask would merge two touching squares).

Model: :class:`npvision.detection.MaskRCNN` -- Faster R-CNN's backbone and RPN, a
RoIAlign box branch, and a mask branch (RoIAlign ``roi_size x roi_size`` -> convs ->
2x transpose conv -> one ``2 roi_size`` square logit map per class).

Training: the region tasks' loop (Adam with linear warm-up then half a cosine, per batch;
the gradient norm clipped), random left-right and top-bottom flips of each scene with its
boxes and masks.

Evaluation on the held-out scenes (COCO's conventions, at most 100 detections per
image): ``mask_map50`` / ``mask_map`` (``iou_type="segm"``: mask IoU), ``box_map50`` /
``box_map`` (box IoU), ``mask_iou_matched``: the mean mask IoU of the detections
(score >= 0.5) matched to an object at box IoU 0.5, and ``box_as_mask_map50``: the mask
AP@0.5 of the same detections with every mask replaced by its whole box -- what the
mask head has to beat.

The ablations (``benchmarks/train_mask_rcnn.md``): ``mask_pooling="roi_pool"`` and
``mask_loss="softmax"``.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ..data.scenes import SHAPE_CLASSES
from ..detection.evaluation import matched_mask_ious, mean_average_precision
from ..detection.masks import paste_masks
from ..train import History
from . import register_task
from ._common import load_average as _load_average
from ._region_common import machine, train_region_model
from .yolo import scene_splits

__all__ = ["build_mask_rcnn", "random_flips_with_masks", "train_mask_rcnn", "evaluate_mask_rcnn",
           "save_mask_rcnn", "load_mask_rcnn", "segment_instances", "MODEL_FILE"]

#: the file naming a Mask R-CNN folder (beside ``weights.npz``)
MODEL_FILE = "mask_rcnn.json"
_QUICK = dict(n_train=320, n_val=0, n_test=48, epochs=3, batch_size=8, warmup=0.2, lr=2e-3)


def build_mask_rcnn(config: dict, rng=None):
    """The :class:`~npvision.detection.MaskRCNN` of a task configuration."""
    from ..detection.mask_rcnn import MaskRCNN

    size = config["size"]
    mask_head = dict(pooling=config["mask_pooling"], loss=config["mask_loss"], roi_size=config["mask_roi_size"],
                     hidden=config["mask_hidden"], num_convs=config["mask_convs"])
    return MaskRCNN(config["num_classes"], (size, size, 3), roi_heads=dict(config["roi_heads"]),
                    rpn=dict(config["rpn"]), mask_head=mask_head, rng=rng)


def random_flips_with_masks(images, boxes, masks, rng):
    """Each scene flipped left-right and top-bottom with probability 1/2 each, with its boxes
    ``(K, 4)`` and masks ``(K, H, W)``."""
    h, w = images.shape[1:3]
    out_x, out_b, out_m = images.copy(), [], []
    for i, (do_h, do_v) in enumerate(rng.random((len(images), 2)) < 0.5):
        b, m = boxes[i].copy(), masks[i]
        if do_h:
            out_x[i] = out_x[i][:, ::-1]
            b = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)
            m = m[:, :, ::-1]
        if do_v:
            out_x[i] = out_x[i][::-1]
            b = np.stack([b[:, 0], h - b[:, 3], b[:, 2], h - b[:, 1]], axis=1)
            m = m[:, ::-1]
        out_b.append(b.astype(boxes[i].dtype))
        out_m.append(np.ascontiguousarray(m))
    return out_x, out_b, out_m


def train_mask_rcnn(model, config: dict, train, *, seed: int = 0, progress: bool = True) -> History:
    """Train ``model`` on the scenes ``train`` (the recipe of the module docstring).

    The region tasks' loop (:func:`npvision.tasks._region_common.train_region_model`: Adam,
    warm-up and half cosine per batch, gradient clipping) with the instance masks as the
    batch's extra; the flips are made here, because masks flip as images, not as boxes.
    """
    masks = [train.instance_masks(i) for i in range(len(train))]

    def step(images, boxes, classes, extras, rng):
        (batch_masks,) = extras
        if config["flips"]:
            images, boxes, batch_masks = random_flips_with_masks(images, boxes, batch_masks, rng)
        return model.train_step(images, boxes, classes, batch_masks, rng=rng)

    return train_region_model(model, dict(config, flips=False), train, step, extras=(masks,), seed=seed,
                              progress=progress, name="mask-rcnn")


def evaluate_mask_rcnn(detections, scenes) -> dict:
    """Mask and box AP (COCO conventions) and the matched detections' mask IoU on ``scenes``."""
    truth = scenes.instance_targets()
    segm = mean_average_precision(detections, truth, iou_type="segm")
    bbox = mean_average_precision(detections, truth, iou_type="bbox")
    matched = matched_mask_ious(detections, truth, iou_threshold=0.5, score_threshold=0.5)
    # the baseline a mask head has to beat: the same detections, each mask its whole (pixel-centre) box
    filled = [dict(d, masks=paste_masks(np.ones((len(d["boxes"]), 1, 1)), d["boxes"], scenes.images.shape[1:3]))
              for d in detections]
    boxes_as_masks = mean_average_precision(filled, truth, iou_type="segm", iou_thresholds=0.5)
    names = scenes.class_names
    return {"mask_map50": segm["map50"], "mask_map": segm["map"], "mask_map75": segm["map75"],
            "box_map50": bbox["map50"], "box_map": bbox["map"], "box_map75": bbox["map75"],
            "mask_per_class_ap50": {names[int(c)]: float(segm["ap"][k, 0])
                                    for k, c in enumerate(segm["classes"])},
            "box_as_mask_map50": boxes_as_masks["map50"],
            "mask_iou_matched": None if np.isnan(matched["mean_iou"]) else matched["mean_iou"],
            "matched_objects": matched["n_matched"],
            "test_objects": matched["n_ground_truth"]}


def save_mask_rcnn(model, folder, class_names, score_threshold: float = 0.5) -> str:
    """Write ``weights.npz`` and ``mask_rcnn.json`` (the model's config, class names, threshold)."""
    from ..io import save_weights

    os.makedirs(folder, exist_ok=True)
    save_weights(model, os.path.join(folder, "weights.npz"))
    with open(os.path.join(folder, MODEL_FILE), "w") as fh:
        json.dump({"model": "mask_rcnn", "config": model.config, "class_names": list(class_names),
                   "score_threshold": score_threshold}, fh, indent=1)
    return folder


def load_mask_rcnn(folder):
    """``(model, info)`` from a folder written by :func:`save_mask_rcnn`."""
    from ..detection.mask_rcnn import MaskRCNN
    from ..io import load_weights

    path = os.path.join(os.fspath(folder), MODEL_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"model: {os.fspath(folder)!r} holds no {MODEL_FILE} (not a Mask R-CNN folder "
                         f"written by 'npvision train mask-rcnn --out DIR')")
    with open(path) as fh:
        info = json.load(fh)
    model = MaskRCNN(**info["config"])
    load_weights(model, os.path.join(os.fspath(folder), "weights.npz"))
    model.eval()
    return model, info


_DEFAULTS = dict(size=64, num_classes=4, min_objects=2, max_objects=4, n_train=6000, n_val=0, n_test=500,
                 epochs=6, batch_size=8, lr=1e-3, warmup=0.3, weight_decay=0.0, max_grad_norm=10.0, flips=True,
                 rpn={}, roi_heads={"pooling": "roi_align"},
                 mask_pooling="roi_align", mask_loss="sigmoid", mask_roi_size=14, mask_hidden=32, mask_convs=2,
                 eval_score_threshold=0.05, score_threshold=0.5)


@register_task("mask-rcnn", quick=_QUICK, metric="mask_map50",
               description="Mask R-CNN on overlapping shapes (held-out mask AP@0.5, box AP@0.5)", **_DEFAULTS)
def mask_rcnn_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """Mask R-CNN on 64x64 scenes of 2..4 overlapping shapes of 4 classes (module docstring)."""
    load_before = _load_average()
    train, _, test = scene_splits(dict(config, n_val=0), seed)
    model = build_mask_rcnn(config, rng=np.random.default_rng([seed, 0]))
    class_names = tuple(SHAPE_CLASSES[:config["num_classes"]])

    start, cpu_start = time.perf_counter(), time.process_time()
    history = train_mask_rcnn(model, config, train, seed=seed, progress=progress)
    train_seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    start = time.perf_counter()
    detections = model.detect_batch(test.images, score_threshold=config["eval_score_threshold"])
    test_seconds = time.perf_counter() - start
    metrics = dict(evaluate_mask_rcnn(detections, test),
                   epochs=len(history), n_train=len(train), n_test=len(test),
                   parameters=model.num_parameters(), train_seconds=round(train_seconds, 2),
                   train_cpu_seconds=round(cpu_seconds, 2),
                   test_ms_per_image=round(1000 * test_seconds / len(test), 2),
                   load_average={"start": load_before, "end": _load_average()}, machine=machine(),
                   seed=seed, quick=quick, config=dict(config))
    if out is not None:
        _write_outputs(out, model, class_names, history, test, detections, metrics, config)
    return metrics


def _write_outputs(out, model, class_names, history, test, detections, metrics, config) -> None:
    from ..viz.curves import plot_history
    from ..viz.instances import plot_instances

    save_mask_rcnn(model, out, class_names, config["score_threshold"])
    plot_history({k: v for k, v in history.to_dict().items() if k not in ("seconds", "proposals", "mask_rois")},
                 os.path.join(out, "curves.png"), title="mask-rcnn: training curves")
    # the held-out scenes with the most objects: overlaps
    busiest = np.argsort([-len(c) for c in test.classes], kind="stable")[:8]
    truth = test.instance_targets()
    shown = [detections[i] for i in busiest]
    threshold, note = picture_threshold(shown, sum(len(test.classes[i]) for i in busiest), config["score_threshold"])
    plot_instances(test.images[busiest], shown, [truth[i] for i in busiest], class_names,
                   os.path.join(out, "predictions.png"), score_threshold=threshold,
                   title=f"held-out scenes (score >= {threshold:.2f}{note}); mask AP@0.5 "
                         f"{metrics['mask_map50']:.3f}, box AP@0.5 {metrics['box_map50']:.3f}")
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(history.to_dict(), fh, indent=1)


def picture_threshold(detections, n_objects: int, threshold: float) -> tuple[float, str]:
    """The score threshold to draw ``detections`` at, and a note for the title.

    ``threshold`` when some detection reaches it. A short (quick) run is not that
    confident yet, and a picture of nothing teaches nothing: then the threshold is the
    score of the ``n_objects``-th best detection, so about as many boxes as there are
    objects are drawn, and the note says so.
    """
    scores = np.sort(np.concatenate([np.asarray(d["scores"], dtype=np.float64).ravel() for d in detections]
                                    + [np.zeros(0)]))[::-1]
    if scores.size == 0 or scores[0] >= threshold:
        return float(threshold), ""
    nth = float(scores[min(max(n_objects, 1), scores.size) - 1])
    return nth, f": none reached {threshold}, the best {min(max(n_objects, 1), scores.size)} drawn"


def segment_instances(image_path, model_dir, out_path, score_threshold=None) -> dict:
    """Instance segmentation of an image file with a trained Mask R-CNN; save a picture.

    The image (read as RGB in [0, 1], any size) is resized to the model's input size
    (antialiased bilinear) and detected there; each instance's mask probabilities are
    then pasted at its box scaled back to the image's own pixels, so the masks come
    out at the image's resolution. ``out_path`` receives the picture (every instance
    in its own colour with its class and score) and ``<out_path without extension>.npz``
    the masks ``(D, H, W)`` bool, boxes, scores and classes. Returns a JSON-able summary.
    """
    from ..data import read_image
    from ..data.augment import resize
    from ..detection.masks import paste_masks
    from ..viz.instances import plot_instances

    model, info = load_mask_rcnn(model_dir)
    names = info["class_names"]
    threshold = info["score_threshold"] if score_threshold is None else float(score_threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"score_threshold: expected a number in [0, 1], received {threshold}")
    image = read_image(image_path, channels=3)                              # (H, W, 3)
    h, w = image.shape[:2]
    mh, mw = model.image_size
    small = resize(image, (mh, mw)).image                                   # (mh, mw, 3)
    found = model.detect_batch(small[None], score_threshold=threshold)[0]
    scale = np.array([w / mw, h / mh, w / mw, h / mh])
    boxes = found["boxes"] * scale                                          # (D, 4) in the image's pixels
    masks = paste_masks(found["mask_probs"], boxes, (h, w))                 # (D, H, W)
    result = {"boxes": boxes, "scores": found["scores"], "classes": found["classes"], "masks": masks}
    out_path = os.fspath(out_path)
    plot_instances(image[None], [result], class_names=names, path=out_path, ncols=1,
                   panel_size=max(4.5, min(8.0, w / 30)),
                   title=f"{os.path.basename(os.fspath(image_path))}: {len(boxes)} instance"
                         f"{'' if len(boxes) == 1 else 's'}")
    masks_path = os.path.splitext(out_path)[0] + ".npz"
    np.savez_compressed(masks_path, **result)
    instances = [{"class": names[int(c)], "score": round(float(s), 4),
                  "box_xyxy": [round(float(v), 1) for v in b], "pixels": int(m.sum())}
                 for b, s, c, m in zip(boxes, found["scores"], found["classes"], masks)]
    return {"image": os.fspath(image_path), "picture": out_path, "masks": masks_path, "shape": [h, w],
            "model": "mask_rcnn",
            "instances": instances}
