"""Digit classification: LeNet-5 and a 20-layer ResNet trained on the UCI handwritten digits.

The data (:func:`npvision.data.load_digits`, 1797 grey 8x8 images) is split three ways:

===========  =====================================================================
test         the fixed 20% split of ``load_digits("test")`` (359 images). Used once,
             at the end, to report ``accuracy``; never for training or for choosing
             weights.
validation   ``val_fraction`` of the rest (stratified, drawn from ``seed``): it picks
             the epoch whose weights are kept.
train        everything else (1294 images at ``val_fraction=0.1``).
===========  =====================================================================

Each epoch sees a freshly augmented copy of the training images (``fit``'s
``augment`` hook transforms every mini-batch as it is drawn): every image
gets its own random affine map (rotation up to ``max_angle`` degrees, scaling by
up to ``1 +- max_scale``, shift up to ``max_shift`` pixels), see
:func:`random_affine`. The learning rate follows a half cosine from ``lr`` to 0
over the epochs (after ``warmup`` epochs of linear warm-up, if any).

**Choosing the weights.** After every epoch the model is scored on the
validation split. The validation split is small (143 images), so one image more
or less is noise: the weights kept are those of the *latest* epoch whose
validation accuracy is within ``val_tolerance`` images (default 1) of the best
accuracy reached so far. Among near-ties the later epoch has trained longer, with
a smaller learning rate, and it generalizes at least as well in our runs
(``benchmarks/train_digits.md``); ``val_tolerance=0`` keeps the latest of the
exact ties.

Tasks (settings are the keyword options of :func:`npvision.tasks.run_task`):

``lenet5``          LeNet-5 (ReLU, max pooling) on 32x32 digits, Adam, 40 epochs.
``resnet-digits``   CIFAR-style ResNet-20 (19 conv layers + fc, BatchNorm) on 16x16
                    digits, Adam with warm-up, 20 epochs.

Files written to ``out``: ``curves.png`` (loss, accuracy and learning rate per
epoch), ``predictions.png`` (test images with their true and predicted labels;
mistakes in red), ``filters.png`` (the first conv layer's filters),
``weights.npz`` (:func:`npvision.io.save_weights`; load it into
``models.create(architecture, num_classes=10, input_shape=(size, size, 1))``),
``history.json`` (the per-epoch numbers) and ``metrics.json``.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from .. import functional as F
from .. import models
from .. import nn
from .._checks import nonnegative_int
from ..data import load_digits, stratified_split
from ..data._common import sample_bilinear
from ..io import save_weights
from ..optim import SGD, Adam, AdamW, CosineDecay, LinearWarmup
from ..train import Callback, evaluate, fit, predict
from . import register_task

__all__ = ["random_affine", "train_digit_classifier", "plot_predictions",
           "lenet5_digits", "resnet_digits"]

CLASS_NAMES = [str(d) for d in range(10)]

# quick=True: one epoch on this many images, so that a test runs in seconds
_QUICK_TRAIN, _QUICK_VAL, _QUICK_TEST = 256, 64, 128

_AUGMENT_DEFAULTS = dict(max_angle=15.0, max_shift=3.0, max_scale=0.15)


# ---------------------------------------------------------------------------
# augmentation
# ---------------------------------------------------------------------------
def random_affine(x: np.ndarray, rng: np.random.Generator, max_angle: float = 15.0,
                  max_shift: float = 3.0, max_scale: float = 0.15) -> np.ndarray:
    """A random rotation + scaling + shift of every image of a batch, each drawn on its own.

    ``x`` (N, H, W, C) -> (N, H, W, C), same dtype; pixels from outside the image are 0.
    For image ``n`` the forward map of pixel coordinates ``p = (x, y)`` about the
    centre ``c = (W/2, H/2)`` is

        p' = s R(theta) (p - c) + c + t,
        theta ~ U(-max_angle, max_angle) degrees,  s ~ U(1 - max_scale, 1 + max_scale),
        t ~ U(-max_shift, max_shift)^2 pixels,

    with ``R(theta) = [[cos, sin], [-sin, cos]]`` (counter-clockwise on screen, as
    :func:`npvision.data.rotation_matrix`). The output is computed by inverse mapping,
    as :func:`npvision.data.affine_warp` does for one image: output pixel centre ``p'``
    reads the input bilinearly at ``p = R(-theta) (p' - c - t) / s + c``
    (:func:`npvision.data._common.sample_bilinear`, zero outside the image).
    ``affine_warp`` and ``random_rotation`` apply *one* transform to a whole batch;
    here every image gets its own.
    """
    n, h, w, _ = x.shape
    theta = np.deg2rad(rng.uniform(-max_angle, max_angle, n))              # (N,)
    scale = rng.uniform(1.0 - max_scale, 1.0 + max_scale, n)                # (N,)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))                      # (N, 2) as (tx, ty)
    # float32 coordinates: exact to ~1e-5 pixel here, and half the memory traffic
    cos = (np.cos(theta) / scale).astype(np.float32)[:, None, None]         # (N, 1, 1)
    sin = (np.sin(theta) / scale).astype(np.float32)[:, None, None]         # (N, 1, 1)
    shift = shift.astype(np.float32)
    py, px = np.mgrid[0:h, 0:w].astype(np.float32) + np.float32(0.5)        # (H, W) pixel centres
    cx, cy = np.float32(w / 2.0), np.float32(h / 2.0)
    dx = px[None] - cx - shift[:, 0, None, None]                            # (N, H, W)
    dy = py[None] - cy - shift[:, 1, None, None]                            # (N, H, W)
    src_x = cx + cos * dx - sin * dy                                        # (N, H, W) source x
    src_y = cy + sin * dx + cos * dy                                        # (N, H, W) source y
    half = np.float32(0.5)
    return sample_bilinear(x, src_x - half, src_y - half,                   # index coordinates
                           mode="constant", fill=0.0)


# ---------------------------------------------------------------------------
# the training recipe shared by the digit tasks
# ---------------------------------------------------------------------------
def _digits_splits(size: int, val_fraction: float, seed: int, quick: bool):
    """``(x_train, y_train), (x_val, y_val), (x_test, y_test)``, images (N, size, size, 1)."""
    x, y = load_digits("train", size=size)              # the fixed train/test split (seed 0)
    x_test, y_test = load_digits("test", size=size)
    train_idx, val_idx = stratified_split(y, val_fraction, seed=seed)
    if quick:
        rng = np.random.default_rng(seed)
        train_idx = np.sort(rng.permutation(train_idx)[:_QUICK_TRAIN])
        val_idx = np.sort(rng.permutation(val_idx)[:_QUICK_VAL])
        keep = np.sort(rng.permutation(len(y_test))[:_QUICK_TEST])
        x_test, y_test = x_test[keep], y_test[keep]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), (x_test, y_test)


def _check_config(config: dict) -> None:
    """The settings this module reads itself (fit, the optimizers and the data loader check theirs)."""
    nonnegative_int(config["val_tolerance"], "val_tolerance")
    nonnegative_int(config["warmup"], "warmup")
    for key in _AUGMENT_DEFAULTS:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{key}: expected a number >= 0, received {value!r}")
    if config["max_scale"] >= 1:
        raise ValueError(f"max_scale: expected a value in [0, 1), received {config['max_scale']!r}")


def _make_optimizer(model, config: dict):
    name = config["optimizer"]
    params = model.parameters()
    if name == "adam":
        return Adam(params, lr=config["lr"])
    if name == "adamw":
        return AdamW(params, lr=config["lr"], weight_decay=config["weight_decay"])
    if name == "sgd":
        return SGD(params, lr=config["lr"], momentum=0.9, nesterov=True,
                   weight_decay=config["weight_decay"])
    raise ValueError(f"optimizer: expected 'adam', 'adamw' or 'sgd', received {name!r}")


def _make_schedule(optimizer, epochs: int, warmup: int):
    """Half a cosine down to 0 over the epochs, after ``warmup`` epochs of linear warm-up."""
    if warmup and warmup < epochs:
        return LinearWarmup(optimizer, warmup, then=CosineDecay(optimizer, total=epochs - warmup))
    return CosineDecay(optimizer, total=epochs)


class _LatestNearBest(Callback):
    """Keep the weights of the latest epoch within ``tolerance`` of the best validation
    accuracy so far; restore them when training ends. Optionally print one line per epoch.

    After training, ``best_epoch`` is that epoch (0-based). A near-tie goes to the
    later epoch (see the module docstring).
    """

    def __init__(self, tolerance: float, epochs: int, progress: bool) -> None:
        self.tolerance, self.epochs, self.progress = tolerance, epochs, progress

    def on_train_begin(self, model) -> None:
        self.top_acc, self.best_epoch, self.best_state = -1.0, None, None
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs, model):
        self.top_acc = max(self.top_acc, logs["val_accuracy"])
        if logs["val_accuracy"] >= self.top_acc - self.tolerance:
            self.best_epoch, self.best_state = epoch, model.state_dict()    # copies
        if self.progress:
            now = time.perf_counter()
            print(f"epoch {epoch + 1:3d}/{self.epochs}  loss {logs['loss']:.4f}  "
                  f"acc {logs['accuracy']:.4f}  val_loss {logs['val_loss']:.4f}  "
                  f"val_acc {logs['val_accuracy']:.4f}  lr {logs['lr']:.2e}  "
                  f"{now - self._start:.1f}s", flush=True)
            self._start = now
        return None

    def on_train_end(self, model, history) -> None:
        model.load_state_dict(self.best_state)


def train_digit_classifier(model, config: dict, *, seed: int, quick: bool = False,
                           progress: bool = True):
    """Train ``model`` on the digits with the recipe of the module docstring.

    ``config`` needs ``size, epochs, batch_size, optimizer, lr, weight_decay, warmup,
    val_fraction, val_tolerance, max_angle, max_shift, max_scale``. Returns
    ``(history, best_epoch, splits)``; the model ends with the weights of ``best_epoch``
    (0-based) and ``splits`` is ``(train, val, test)`` as ``(x, y)`` pairs.

    One call of :func:`npvision.train.fit`: every mini-batch is augmented by
    :func:`random_affine` (``fit(..., augment=...)``), drawing from the same seeded
    generator as the shuffling; the weights are chosen by a callback.
    """
    _check_config(config)
    splits = _digits_splits(config["size"], config["val_fraction"], seed, quick)
    (x_train, y_train), (x_val, y_val), _ = splits
    epochs = config["epochs"]
    optimizer = _make_optimizer(model, config)
    schedule = _make_schedule(optimizer, epochs, config["warmup"])
    ranges = {k: config[k] for k in _AUGMENT_DEFAULTS}

    def augment(x_batch, rng):                      # a new random view of every image
        return random_affine(x_batch, rng, **ranges)

    keep = _LatestNearBest(tolerance=config["val_tolerance"] / len(y_val) + 1e-9,  # accuracy units
                           epochs=epochs, progress=progress)
    history = fit(model, F.softmax_cross_entropy, optimizer, x_train, y_train, epochs=epochs,
                  batch_size=config["batch_size"], validation_data=(x_val, y_val),
                  seed=np.random.default_rng([seed, 1]), callbacks=[keep], scheduler=schedule,
                  progress=False, augment=augment)
    return history, keep.best_epoch, splits


# ---------------------------------------------------------------------------
# pictures and files
# ---------------------------------------------------------------------------
def _first_conv(model) -> nn.Conv2D:
    for _, module in model.named_modules():
        if isinstance(module, nn.Conv2D):
            return module
    raise ValueError(f"model: {type(model).__name__} has no Conv2D layer to draw filters from")


def plot_predictions(images, labels, predicted, path=None, max_images: int = 40,
                     class_names=CLASS_NAMES, title: str | None = None):
    """A grid of test images titled ``true / predicted``; the mistakes come first, in red.

    ``images`` (N, H, W, 1), ``labels`` and ``predicted`` (N,) ints. Shows the
    mistakes (up to three quarters of ``max_images``), then correct predictions in
    test-set order, ``max_images`` panels at most. Returns the matplotlib Figure.
    """
    from ..viz import show_images_grid

    wrong = np.flatnonzero(predicted != labels)[:(3 * max_images) // 4]
    right = np.flatnonzero(predicted == labels)
    shown = np.concatenate([wrong, right])[:max_images]                     # (K,) indices
    titles = [f"true {class_names[labels[i]]} / pred {class_names[predicted[i]]}" for i in shown]
    if title is None:
        n_wrong = int(np.sum(predicted != labels))
        title = f"test predictions: {n_wrong} mistake{'s' if n_wrong != 1 else ''} of {len(labels)} (red)"
    fig = show_images_grid(images[shown], titles=titles, ncols=8, panel_size=1.5,
                           vmin=0.0, vmax=1.0, suptitle=title)
    for k, ax in enumerate(fig.axes[:len(shown)]):
        if k < len(wrong):
            ax.title.set_color("red")
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(2)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _write_outputs(out: str, task: str, model, history, splits, predicted, extra: dict) -> None:
    from ..viz import plot_filters
    from ..viz.curves import plot_history

    x_test, y_test = splits[2]
    plot_history(history, os.path.join(out, "curves.png"),
                 title=f"{task}: training curves (weights kept from epoch {extra['best_epoch']})")
    plot_predictions(x_test, y_test, predicted, os.path.join(out, "predictions.png"))
    conv = _first_conv(model)
    plot_filters(conv.weight.data, os.path.join(out, "filters.png"),
                 title=f"{task}: first-layer filters")
    save_weights(model, os.path.join(out, "weights.npz"),
                 architecture=getattr(model, "architecture", None), extra=extra)
    with open(os.path.join(out, "history.json"), "w") as fh:
        json.dump(history.to_dict(), fh, indent=1)


def _classify(task: str, model, config: dict, *, seed, out, quick, progress) -> dict:
    """Train, pick the best epoch, score on the test split, write the files. -> metrics."""
    history, best_epoch, splits = train_digit_classifier(model, config, seed=seed, quick=quick,
                                                         progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    bs = max(config["batch_size"], 128)
    test = evaluate(model, F.softmax_cross_entropy, x_test, y_test, batch_size=bs)
    train = evaluate(model, None, x_train, y_train, batch_size=bs)        # un-augmented images
    predicted = np.argmax(predict(model, x_test, batch_size=bs), axis=-1)
    size = config["size"]
    metrics = {
        "accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "errors": int(np.sum(predicted != y_test)),
        "train_accuracy": train["accuracy"],
        "val_accuracy": history["val_accuracy"][best_epoch],
        "epochs": len(history),
        "best_epoch": best_epoch + 1,                       # counted from 1, as the curves
        "n_train": len(y_train), "n_val": len(y_val), "n_test": len(y_test),
        "parameters": model.num_parameters(),
        "architecture": getattr(model, "architecture", type(model).__name__),
        "input_shape": [size, size, 1],
        "seed": seed, "quick": quick,
        "config": dict(config),
    }
    if out is not None:
        extra = {"task": task, "classes": CLASS_NAMES, "input_shape": [size, size, 1],
                 "seed": seed, "best_epoch": best_epoch + 1, "accuracy": test["accuracy"]}
        _write_outputs(out, task, model, history, splits, predicted, extra)
    return metrics


# ---------------------------------------------------------------------------
# the registered tasks
# ---------------------------------------------------------------------------
@register_task("lenet5", quick=dict(epochs=1), metric="accuracy",
               description="LeNet-5 on the UCI digits upsampled to 32x32 (>= 98% test accuracy)",
               size=32, epochs=40, batch_size=32, optimizer="adam", lr=2e-3, weight_decay=0.0,
               warmup=0, val_fraction=0.1, val_tolerance=1, activation="relu", pool="max",
               **_AUGMENT_DEFAULTS)
def lenet5_digits(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """LeNet-5 (61,706 parameters), ReLU and max pooling, on 32x32 digits."""
    size = config["size"]
    model = models.create("lenet5", num_classes=10, input_shape=(size, size, 1),
                          activation=config["activation"], pool=config["pool"],
                          rng=np.random.default_rng([seed, 0]))
    return _classify("lenet5", model, config, seed=seed, out=out, quick=quick, progress=progress)


@register_task("resnet-digits", quick=dict(epochs=1), metric="accuracy",
               description="ResNet-20 (CIFAR-style, BatchNorm) on the UCI digits at 16x16",
               size=16, epochs=20, batch_size=64, optimizer="adam", lr=2e-3, weight_decay=0.0,
               warmup=1, val_fraction=0.1, val_tolerance=1, depth=20, width=16,
               max_angle=15.0, max_shift=1.5, max_scale=0.15)
def resnet_digits(config: dict, *, seed: int, out, quick: bool, progress: bool) -> dict:
    """CIFAR ResNet of ``depth = 6n + 2`` layers (default 20: 272,186 parameters at 1 channel)."""
    size = config["size"]
    model = models.create("resnet20", num_classes=10, input_shape=(size, size, 1),
                          depth=config["depth"], width=config["width"],
                          rng=np.random.default_rng([seed, 0]))
    return _classify("resnet-digits", model, config, seed=seed, out=out, quick=quick,
                     progress=progress)
