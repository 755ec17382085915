"""Semantic segmentation: a U-Net (or the FCN baseline) trained on the synthetic scenes' masks.

Data: :func:`npvision.data.make_scenes` draws RGB scenes of coloured shapes; their
``masks`` (N, H, W) hold 0 for background and ``1..4`` for circle, square,
triangle and cross (the visible, top-most shape at each pixel). Three sets of
scenes, drawn from different seeds, never share a scene:

===========  =========================================================================
train        ``n_train`` scenes from ``seed``; every epoch sees each one under a random
             one of the 8 flips/quarter-turns (the classes are symmetric shapes, so
             the labels stay true).
validation   ``n_val`` scenes: after every epoch the mean IoU is measured on them and
             the weights of the best epoch are kept (a tie goes to the later epoch).
test         ``n_test`` scenes from a fixed seed, the same for every run, scored once
             at the end: the reported ``miou`` and ``per_class_iou``.
===========  =========================================================================

Loss: per-pixel cross-entropy plus ``dice_weight`` times the soft Dice loss
(:mod:`npvision.segmentation.losses`); Adam, learning rate on a half cosine to 0.
Metrics (:mod:`npvision.segmentation.metrics`) come from the test set's confusion
matrix; the mean IoU counts the background and every class present.

Tasks (settings are keyword options of :func:`npvision.tasks.run_task`):

``unet``   U-Net, depth 3, 16 base filters, BatchNorm (482,693 parameters), 2400 training
           scenes of 48x48 pixels, 6 epochs of batches of 16: held-out mean IoU about 0.93
           in about 5 CPU-minutes (``benchmarks/train_unet.md``).
``fcn``    the small FCN baseline (no skips) with the same data and budget.

On a busy machine run it with ``OPENBLAS_NUM_THREADS=1``: with more runnable
processes than cores, OpenBLAS's worker threads wait on each other and a step of
these small convolutions measured about 12 times slower than single-threaded.

Files written to ``out``: ``curves.png``, ``predictions.png`` (input, true mask,
predicted mask, with a legend), ``class_iou.png`` (per-class IoU bars),
``weights.npz`` (its metadata rebuilds the model: see :func:`load_segmenter`),
``history.json`` and ``metrics.json``.

Command line: ``npvision segment IMAGE --weights npvision-out/unet/weights.npz --out mask.png``
runs :func:`segment_image`.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ..data import make_scenes
from ..data.scenes import SHAPE_CLASSES
from ..io import read_weights, save_weights
from ..optim import Adam, CosineDecay
from ..segmentation.fcn import FCN
from ..segmentation.losses import check_labels, dice_cross_entropy_loss
from ..segmentation.metrics import confusion_matrix, segmentation_scores
from ..segmentation.unet import UNet
from ..train import History, fit, predict
from . import register_task
from ._common import load_average as _load_average

__all__ = ["CLASS_NAMES", "scene_splits", "random_dihedral", "build_segmenter", "train_segmenter",
           "predict_masks", "save_segmenter", "load_segmenter", "segment_image"]

#: names of the mask values 0..4
CLASS_NAMES = ("background",) + tuple(SHAPE_CLASSES)

_TEST_SEED = 2_000_000_000          # the fixed test scenes
_VAL_SEED_OFFSET = 1_000_000_000    # validation scenes: seed + this
_QUICK = dict(n_train=48, n_val=16, n_test=32, epochs=1)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def scene_splits(size: int, n_train: int, n_val: int, n_test: int, seed: int, max_objects: int = 3,
                 size_range=(0.2, 0.45)):
    """``(x, y)`` pairs for train, validation and test: images (n, size, size, 3), masks (n, size, size).

    ``max_objects`` and ``size_range`` (shape diameter as a fraction of ``size``) go to
    :func:`npvision.data.make_scenes`.
    """
    splits = []
    for n, s in ((n_train, seed), (n_val, seed + _VAL_SEED_OFFSET), (n_test, _TEST_SEED)):
        scenes = make_scenes(n, size=size, max_objects=max_objects, seed=s,
                             size_range=tuple(size_range))
        splits.append((scenes.images, scenes.masks))
    return splits


def random_dihedral(images: np.ndarray, masks: np.ndarray, rng: np.random.Generator):
    """Each image and its mask under one of the 8 flips / quarter-turns, drawn per image.

    ``images (N, H, W, C)``, ``masks (N, H, W)`` with ``H == W`` -> the same shapes (copies).
    """
    out_x, out_y = np.empty_like(images), np.empty_like(masks)
    for i, k in enumerate(rng.integers(0, 8, len(images))):
        x, y = np.rot90(images[i], k % 4, axes=(0, 1)), np.rot90(masks[i], k % 4, axes=(0, 1))
        if k >= 4:
            x, y = x[:, ::-1], y[:, ::-1]                         # mirror left-right
        out_x[i], out_y[i] = x, y
    return out_x, out_y


# ---------------------------------------------------------------------------
# model, training, prediction
# ---------------------------------------------------------------------------
def build_segmenter(config: dict, rng=None):
    """A :class:`UNet` or :class:`FCN` from a task configuration (the keys of the task defaults)."""
    arch = config.get("architecture", "unet")
    if arch == "unet":
        return UNet(3, len(CLASS_NAMES), depth=config["depth"], base_filters=config["base_filters"],
                    padding="same", upsampling=config["upsampling"], up_kernel=config["up_kernel"],
                    batchnorm=True, rng=rng)
    if arch == "fcn":
        return FCN(3, len(CLASS_NAMES), depth=config["depth"], base_filters=config["base_filters"],
                   rng=rng)
    raise ValueError(f"architecture: expected 'unet' or 'fcn', received {arch!r}")


def predict_masks(model, images, batch_size: int = 64) -> np.ndarray:
    """``images (N, H, W, C)`` -> predicted class per pixel ``(N, H, W)`` int64 (eval mode)."""
    logits = predict(model, images, batch_size=batch_size)       # (N, H, W, K)
    return np.argmax(logits, axis=-1)


def _scores(model, x, y, num_classes: int) -> dict:
    cm = confusion_matrix(predict_masks(model, x), y, num_classes)
    return segmentation_scores(cm, CLASS_NAMES)


def train_segmenter(model, config: dict, splits, *, seed: int, progress: bool = True):
    """Train ``model`` on ``splits`` (train, val, test) with the recipe of the module docstring.

    Returns ``(history, best_epoch)``; the model ends with the weights of the epoch
    whose validation mean IoU was highest (0-based ``best_epoch``).
    """
    (x_train, y_train), (x_val, y_val), _ = splits
    k = len(CLASS_NAMES)
    for name, (x, y) in (("train", splits[0]), ("validation", splits[1])):
        check_labels(y, x.shape[:3], k, name=f"{name} masks")
    epochs = config["epochs"]
    optimizer = Adam(model.parameters(), lr=config["lr"])
    schedule = CosineDecay(optimizer, total=epochs)
    rng = np.random.default_rng([seed, 1])

    def loss_fn(logits, masks):
        return dice_cross_entropy_loss(logits, masks, dice_weight=config["dice_weight"])

    history = History()
    best, best_epoch, best_state = -1.0, 0, None
    for epoch in range(epochs):
        start = time.perf_counter()
        x_aug, y_aug = random_dihedral(x_train, y_train, rng)
        logs = fit(model, loss_fn, optimizer, x_aug, y_aug, epochs=1, batch_size=config["batch_size"],
                   seed=rng, scheduler=schedule, progress=progress, metrics=("accuracy",))
        logs = {name: values[0] for name, values in logs.to_dict().items()}
        val = _scores(model, x_val, y_val, k)
        logs["val_miou"] = val["miou"]
        logs["val_pixel_accuracy"] = val["pixel_accuracy"]
        history.append(logs)
        if val["miou"] >= best:                                     # a tie goes to the later epoch
            best, best_epoch, best_state = val["miou"], epoch, model.state_dict()
        if progress:
            print(f"epoch {epoch + 1:3d}/{epochs}  loss {logs['loss']:.4f}  pixel acc "
                  f"{logs['accuracy']:.4f}  val mIoU {val['miou']:.4f}  lr {logs['lr']:.2e}  "
                  f"{time.perf_counter() - start:.1f}s", flush=True)
    model.load_state_dict(best_state)
    return history, best_epoch


def _segment_task(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    load_before = _load_average()
    splits = scene_splits(config["size"], config["n_train"], config["n_val"], config["n_test"], seed,
                          config["max_objects"], config["size_range"])
    model = build_segmenter(config, rng=np.random.default_rng([seed, 0]))
    start, cpu_start = time.perf_counter(), time.process_time()
    history, best_epoch = train_segmenter(model, config, splits, seed=seed, progress=progress)
    train_seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start                   # all threads of this process
    x_test, y_test = splits[2]
    predicted = predict_masks(model, x_test)
    scores = segmentation_scores(confusion_matrix(predicted, y_test, len(CLASS_NAMES)), CLASS_NAMES)
    size = config["size"]
    metrics = {
        "miou": scores["miou"],
        "mean_iou": scores["miou"],
        "per_class_iou": scores["per_class_iou"],
        "pixel_accuracy": scores["pixel_accuracy"],
        "mean_dice": scores["mean_dice"],
        "per_class_dice": scores["per_class_dice"],
        "confusion_matrix": scores["confusion_matrix"],
        "val_miou": history["val_miou"][best_epoch],
        "epochs": len(history), "best_epoch": best_epoch + 1,
        "n_train": len(splits[0][0]), "n_val": len(splits[1][0]), "n_test": len(x_test),
        "parameters": model.num_parameters(),
        "architecture": config["architecture"],
        "input_shape": [size, size, 3],
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(cpu_seconds, 2),
        "load_average": {"start": load_before, "end": _load_average()},
        "seed": seed, "quick": quick,
        "config": dict(config),
    }
    if out is not None:
        _write_outputs(out, model, config, history, x_test, y_test, predicted, scores, metrics)
    return metrics


def _write_outputs(out, model, config, history, x_test, y_test, predicted, scores, metrics) -> None:
    from ..viz.curves import plot_history
    from ..viz.segmentation import plot_class_iou, plot_segmentation

    name = config["architecture"]
    plot_history(history, os.path.join(out, "curves.png"), title=f"{name}: training curves")
    plot_segmentation(x_test[:6], y_test[:6], predicted[:6], CLASS_NAMES,
                      path=os.path.join(out, "predictions.png"),
                      title=f"{name}: held-out scenes (mIoU {scores['miou']:.3f})")
    iou = [np.nan if v is None else v for v in scores["per_class_iou"].values()]
    plot_class_iou(iou, CLASS_NAMES, path=os.path.join(out, "class_iou.png"),
                   title=f"{name}: per-class IoU on the test scenes")
    save_segmenter(model, config, os.path.join(out, "weights.npz"), miou=scores["miou"])
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(history.to_dict(), fh, indent=1)


_DEFAULTS = dict(size=48, n_train=2400, n_val=100, n_test=200, max_objects=3, size_range=[0.2, 0.45],
                 epochs=6, batch_size=16, lr=3e-3, dice_weight=1.0, depth=3, base_filters=16,
                 upsampling="transpose", up_kernel=2)


@register_task("unet", quick=_QUICK, metric="miou",
               description="U-Net on the synthetic scenes' masks (held-out mean IoU >= 0.85)",
               architecture="unet", **_DEFAULTS)
def unet_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """U-Net (depth 3, 16 base filters, BatchNorm) on 48x48 scenes, 5 classes."""
    if config["architecture"] != "unet":
        raise ValueError(f"architecture: the 'unet' task trains a U-Net, received {config['architecture']!r}")
    return _segment_task(config, seed=seed, out=out, quick=quick, progress=progress)


@register_task("fcn", quick=_QUICK, metric="miou",
               description="the small FCN baseline (no skip connections) on the same scenes",
               architecture="fcn", **_DEFAULTS)
def fcn_scenes(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """FCN baseline: the U-Net's encoder, a 1x1 classifier and one x8 transpose convolution."""
    if config["architecture"] != "fcn":
        raise ValueError(f"architecture: the 'fcn' task trains an FCN, received {config['architecture']!r}")
    return _segment_task(config, seed=seed, out=out, quick=quick, progress=progress)


# ---------------------------------------------------------------------------
# weights files, and segmenting one image file with trained weights
# ---------------------------------------------------------------------------
def save_segmenter(model, config: dict, path, **extra) -> str:
    """Save ``model`` with the configuration that rebuilds it (:func:`load_segmenter`)."""
    meta = {"task": config["architecture"], "classes": list(CLASS_NAMES), "config": dict(config),
            "input_shape": [config["size"], config["size"], 3], **extra}
    return save_weights(model, path, architecture=config["architecture"], extra=meta)


def load_segmenter(weights_path):
    """Rebuild the model saved by the ``unet``/``fcn`` task in ``weights_path``; return ``(model, extra)``."""
    state, meta = read_weights(weights_path)
    extra = meta.get("extra", {})
    if "config" not in extra or "classes" not in extra:
        raise ValueError(f"weights_path: {os.fspath(weights_path)!r} was not written by the 'unet' or "
                         f"'fcn' task (its metadata has no model configuration)")
    model = build_segmenter(extra["config"])
    model.load_state_dict(state)
    model.eval()
    return model, extra


def segment_image(image_path, weights_path, out_path) -> dict:
    """Predict the class of every pixel of an image file; save a picture; return a summary.

    The image (PNG/JPEG, read as RGB in [0, 1]) is padded by edge replication to
    the next size the network takes (a multiple of ``2^depth``), segmented at its
    own resolution (the shapes should be about as many pixels across as in the
    training scenes), and cropped back. ``out_path`` receives the image, the
    colour-coded mask and a legend side by side (any format matplotlib writes;
    ``.png`` recommended), and ``<out_path without extension>.npy`` the mask itself.
    Returns ``{"image", "mask", "shape", "pixels_per_class"}``.
    """
    from ..data import read_image
    from ..viz.segmentation import plot_segmentation

    model, extra = load_segmenter(weights_path)
    classes = extra["classes"]
    image = read_image(image_path, channels=3)                      # (H, W, 3) float32
    h, w = image.shape[:2]
    step = 2 ** model.depth
    ph, pw = (-h) % step, (-w) % step
    padded = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="edge")  # (H + ph, W + pw, 3)
    logits = model.forward(padded[None])                            # (1, H + ph, W + pw, K)
    mask = np.argmax(logits[0, :h, :w], axis=-1)                    # (H, W)
    out_path = os.fspath(out_path)
    folder = os.path.dirname(out_path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    plot_segmentation(image[None], None, mask[None], classes, path=out_path,
                      title=f"npvision segment: {os.path.basename(os.fspath(image_path))}")
    np.save(os.path.splitext(out_path)[0] + ".npy", mask)
    counts = np.bincount(mask.ravel(), minlength=len(classes))
    return {"image": os.fspath(image_path), "mask": out_path, "shape": [h, w],
            "pixels_per_class": {c: int(n) for c, n in zip(classes, counts)}}
