"""What the three region-based detector tasks share: data, proposals, flips, schedule, scoring.

The tasks ``rcnn``, ``fast-rcnn`` and ``faster-rcnn`` train on the scenes of the
``yolo`` task (:func:`npvision.tasks.yolo.scene_splits`: 64x64 scenes of 2-4 shapes of
4 classes) and are scored on the *same* 500 held-out test scenes (fixed seed
2,000,000,000), with the same backbone (:mod:`npvision.models.region_cnn`), so their
numbers compare with each other and with YOLO's.

Timing protocol (:func:`time_detection`): each test image alone (a batch of one), eval
mode, after a warm-up; "without proposals" times the detector given its proposals
(selective search's for R-CNN and Fast R-CNN, as the papers measure), "with proposals"
adds the proposal step's own time per image (selective search; for Faster R-CNN its
RPN is inside the detector, so both numbers are the same full pass, and the RPN's
share is reported apart).
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np
from tqdm import tqdm

from ..detection.evaluation import mean_average_precision
from ..optim import Adam, CosineDecay, LinearWarmup, clip_grad_norm
from ..train import History
from ._common import load_average

__all__: list[str] = []

#: the data settings every region task shares (the yolo task's scenes; no validation split)
SCENE_DEFAULTS = dict(size=64, num_classes=4, min_objects=2, max_objects=4, n_val=0, n_test=500)
#: selective search as R-CNN and Fast R-CNN use it (``proposal_cache``: a folder, or None)
PROPOSAL_DEFAULTS = dict(proposal_mode="fast", max_proposals=300, proposal_cache=None)
#: the numbers of proposals recall is reported at
RECALL_COUNTS = (50, 100, 300, 1000)


# ---------------------------------------------------------------------------
# flips
# ---------------------------------------------------------------------------
def _hflip_boxes(b: np.ndarray, w: int) -> np.ndarray:
    """``(x1, y1, x2, y2) -> (W - x2, y1, W - x1, y2)``."""
    return np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1) if len(b) else b


def _vflip_boxes(b: np.ndarray, h: int) -> np.ndarray:
    """``(x1, y1, x2, y2) -> (x1, H - y2, x2, H - y1)``."""
    return np.stack([b[:, 0], h - b[:, 3], b[:, 2], h - b[:, 1]], axis=1) if len(b) else b


def flip_batch(images: np.ndarray, rng: np.random.Generator, *box_lists):
    """Flip each image left-right and top-bottom with probability 1/2 each, its boxes with it.

    ``images (N, H, W, 3)``; each of ``box_lists`` holds N ``(K_i, 4)`` xyxy arrays (ground
    truth, proposals, ...) moved with their image (as :func:`npvision.data.augment.hflip`).
    Returns ``(images, *box_lists)``.
    """
    h, w = images.shape[1:3]
    out = images.copy()
    lists = [list(bl) for bl in box_lists]
    flips = rng.random((len(images), 2)) < 0.5                          # (N, 2): [left-right, top-bottom]
    for i, (do_h, do_v) in enumerate(flips):
        if do_h:
            out[i] = out[i, :, ::-1]
            for bl in lists:
                bl[i] = _hflip_boxes(np.asarray(bl[i]), w)
        if do_v:
            out[i] = out[i, ::-1]
            for bl in lists:
                bl[i] = _vflip_boxes(np.asarray(bl[i]), h)
    return (out, *lists)


# ---------------------------------------------------------------------------
# selective search proposals, cached
# ---------------------------------------------------------------------------
def _cache_key(images: np.ndarray, mode: str, max_proposals: int) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest()[:16]
    return f"ss_{mode}_{max_proposals}_{len(images)}_{digest}.npz"


def selective_search_proposals(images: np.ndarray, config: dict, progress: bool = True, desc: str = "proposals"):
    """Selective-search proposals of every image: ``(list of (P_i, 4) arrays, seconds per image)``.

    With ``config["proposal_cache"]`` (a folder) the boxes are read from / written to a file
    named after the images' contents, so two tasks on the same scenes search once; the
    seconds per image are then those measured when the file was written (stored in it).
    """
    from ..detection.selective_search import selective_search

    mode, top = config["proposal_mode"], config["max_proposals"]
    cache = config.get("proposal_cache")
    path = os.path.join(cache, _cache_key(images, mode, top)) if cache else None
    if path and os.path.isfile(path):
        with np.load(path) as data:
            counts = data["counts"]
            flat = data["boxes"]
            seconds = float(data["seconds_per_image"])
        return np.split(flat, np.cumsum(counts)[:-1]), seconds
    proposals = []
    start = time.perf_counter()
    for image in tqdm(images, desc=desc, leave=False, disable=not progress):
        proposals.append(selective_search(image, mode=mode, max_boxes=top))
    seconds = (time.perf_counter() - start) / max(len(images), 1)
    if path:
        os.makedirs(cache, exist_ok=True)
        np.savez_compressed(path, boxes=np.concatenate(proposals), counts=np.array([len(p) for p in proposals]),
                            seconds_per_image=seconds)
    return proposals, seconds


# ---------------------------------------------------------------------------
# training schedule
# ---------------------------------------------------------------------------
def warmup_cosine(optimizer, total_steps: int, warmup_steps: int):
    """Linear warm-up over ``warmup_steps`` then a half cosine to 0, both per batch."""
    warmup_steps = min(max(warmup_steps, 0), max(total_steps - 1, 0))
    if warmup_steps:
        return LinearWarmup(optimizer, warmup_steps,
                            then=CosineDecay(optimizer, total=total_steps - warmup_steps, interval="batch"))
    return CosineDecay(optimizer, total=max(total_steps, 1), interval="batch")


def train_region_model(model, config: dict, train, step, extras=(), *, seed: int = 0, progress: bool = True,
                       name: str = "train") -> History:
    """The training loop the three tasks share; ``step`` is what differs.

    Each epoch visits the scenes ``train`` in a random order, in batches of
    ``config["batch_size"]``; each batch is flipped at random (``config["flips"]``: images,
    boxes and every list of ``extras``, e.g. the proposals, move together), gradients are
    zeroed, ``loss, terms = step(images, boxes, classes, extras_of_batch, rng)`` runs the
    forward and backward passes, the gradient norm is clipped at ``config["max_grad_norm"]``
    and Adam steps (``lr``, ``weight_decay``) under a linear warm-up of ``warmup`` epochs and a
    half cosine, per batch. Returns the per-epoch means of ``terms`` (and ``lr``, ``seconds``).
    """
    epochs, batch_size = config["epochs"], config["batch_size"]
    n = len(train)
    steps_per_epoch = -(-n // batch_size)
    optimizer = Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    schedule = warmup_cosine(optimizer, epochs * steps_per_epoch, int(round(config["warmup"] * steps_per_epoch)))
    rng = np.random.default_rng([seed, 1])
    history = History()
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(n)
        sums: dict = {}
        bar = tqdm(range(steps_per_epoch), desc=f"{name} epoch {epoch + 1}/{epochs}", leave=False,
                   disable=not progress)
        for s in bar:
            idx = order[s * batch_size:(s + 1) * batch_size]
            images, boxes = train.images[idx], [train.boxes[i] for i in idx]
            batch_extras = [[extra[i] for i in idx] for extra in extras]
            if config["flips"]:
                images, boxes, *batch_extras = flip_batch(images, rng, boxes, *batch_extras)
            model.zero_grad()
            loss, terms = step(images, boxes, [train.classes[i] for i in idx], batch_extras, rng)
            if config["max_grad_norm"]:
                clip_grad_norm(model.parameters(), config["max_grad_norm"])
            optimizer.step()
            schedule.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if s % 20 == 0:
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{optimizer.lr:.1e}")
        logs = {k: v / steps_per_epoch for k, v in sums.items()}
        logs["lr"] = optimizer.lr
        logs["seconds"] = time.perf_counter() - start
        if progress:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k not in ("seconds", "lr"))
            print(f"{name} epoch {epoch + 1:3d}/{epochs}  {shown}  lr {optimizer.lr:.2e}  {logs['seconds']:.1f}s",
                  flush=True)
        history.append(logs)
    model.eval()
    return history


# ---------------------------------------------------------------------------
# scoring and timing
# ---------------------------------------------------------------------------
def score(detections: list, test, class_names) -> dict:
    """mAP@0.5:0.95 (COCO), mAP@0.5 and mAP@0.75 and the per-class APs of ``detections`` on ``test``."""
    truth = test.detection_targets()
    coco = mean_average_precision(detections, truth)
    ap50 = mean_average_precision(detections, truth, iou_thresholds=0.5)
    return {"map": coco["map"], "map50": coco["map50"], "map75": coco["map75"],
            "per_class_ap": {class_names[int(c)]: v for c, v in coco["per_class"].items()},
            "per_class_ap50": {class_names[int(c)]: v for c, v in ap50["per_class"].items()}}


def time_detection(detect_one, n_images: int, warmup: int = 2) -> float:
    """Milliseconds per image of ``detect_one(i)`` over images ``0..n_images-1`` (after ``warmup`` calls)."""
    for i in range(min(warmup, n_images)):
        detect_one(i)
    start = time.perf_counter()
    for i in range(n_images):
        detect_one(i)
    return 1000.0 * (time.perf_counter() - start) / max(n_images, 1)


def run_facts(history, train, test, model, timing: dict, config: dict, seed: int, quick: bool) -> dict:
    """The entries every region task's result carries besides its scores and test times.

    ``timing``: ``train_seconds``, ``train_cpu_seconds``, ``load_start``, ``load_after_training``.
    """
    return {"epochs": len(history), "n_train": len(train), "n_test": len(test),
            "test_objects": int(sum(len(b) for b in test.boxes)), "parameters": model.num_parameters(),
            "train_seconds": round(timing["train_seconds"], 2), "train_cpu_seconds": round(timing["train_cpu_seconds"], 2),
            "load_average": {"start": timing["load_start"], "after_training": timing["load_after_training"],
                             "end": load_average()},
            "machine": machine(), "seed": seed, "quick": quick, "config": dict(config)}


def timed_training(train_fn):
    """Run ``train_fn()``; return its result and the ``timing`` dict :func:`run_facts` reads."""
    load_start = load_average()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = train_fn()
    timing = {"train_seconds": time.perf_counter() - start, "train_cpu_seconds": time.process_time() - cpu_start,
              "load_start": load_start, "load_after_training": load_average()}
    return result, timing


def machine() -> dict:
    """The CPU model, its avx2 / avx512f flags and the BLAS thread setting (for the timing record)."""
    info = {"cpu": None, "avx2": None, "avx512f": None,
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
        for line in text.splitlines():
            if line.startswith("model name") and info["cpu"] is None:
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                info["avx2"], info["avx512f"] = "avx2" in flags, "avx512f" in flags
                break
    except OSError:
        pass
    return info


def write_json(path: str, value) -> None:
    with open(path, "w") as fh:
        json.dump(value, fh, indent=1)
        fh.write("\n")
