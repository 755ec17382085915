"""A guided tour of npvision, run by ``npvision demo``.

Five steps, each printed as it happens:

1. **data**: the built-in UCI handwritten digits (8x8 grey, scaled to [0, 1]
   and upsampled to LeNet-5's 32x32).
2. **model**: LeNet-5 from :mod:`npvision.models`, with its layer-by-layer
   summary (output shapes, parameter counts: 61,706 in all).
3. **training**: the ``lenet5`` task of :mod:`npvision.tasks` (the same as
   ``npvision train lenet5``): Adam, augmentation, a progress bar per epoch,
   and the accuracy on held-out digits it never trained on.
4. **gradient check**: a Conv2D layer (stride 2, padding 1) and an
   overlapping max-pool, in float64, against central differences; the
   relative errors are printed (a correct backward gives about 1e-9 or less).
5. **pictures** saved into ``out_dir``: the training curves, a grid of test
   predictions (mistakes in red), the first layer's filters and feature maps,
   and four classic edge filters (vertical, horizontal, Sobel, Scharr) applied
   to a photograph shipped with npvision.

Call it from Python as ``npvision.tour.run(out_dir, seed=0, quick=True)``;
it returns a dict with the numbers and the paths of the pictures.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

__all__ = ["EDGE_FILTERS", "GRADCHECK_TOL", "to_grey", "apply_filters", "run"]

#: Classic 3x3 edge detectors, written as cross-correlation kernels (the way
#: ``conv2d_forward`` applies them). "vertical" responds to vertical edges
#: (a change from left to right), "horizontal" to horizontal ones.
EDGE_FILTERS: "OrderedDict[str, np.ndarray]" = OrderedDict([
    ("vertical", np.array([[1, 0, -1],
                           [1, 0, -1],
                           [1, 0, -1]], dtype=np.float64)),
    ("horizontal", np.array([[1, 1, 1],
                             [0, 0, 0],
                             [-1, -1, -1]], dtype=np.float64)),
    ("Sobel (vertical)", np.array([[1, 0, -1],
                                   [2, 0, -2],
                                   [1, 0, -1]], dtype=np.float64)),
    ("Scharr (vertical)", np.array([[3, 0, -3],
                                    [10, 0, -10],
                                    [3, 0, -3]], dtype=np.float64)),
])

#: A correct backward pass in float64 agrees with central differences to about
#: 1e-9; anything above this is reported as a failure.
GRADCHECK_TOL = 1e-6

# ITU-R BT.601 luma weights: grey = 0.299 R + 0.587 G + 0.114 B.
_LUMA = np.array([0.299, 0.587, 0.114])


def to_grey(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) RGB or (H, W) grey image -> (H, W) grey, same dtype."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[-1] == 3:
        return (image @ _LUMA.astype(image.dtype)).astype(image.dtype)   # (H, W, 3) @ (3,) -> (H, W)
    raise ValueError(f"image: expected (H, W) or (H, W, 3), received shape {image.shape}")


def apply_filters(grey: np.ndarray, filters) -> np.ndarray:
    """Cross-correlate one grey image with several 3x3 filters, 'same' size.

    ``grey`` (H, W); ``filters`` a sequence of K arrays (KH, KW). Returns
    (H, W, K): channel k is ``conv2d_forward`` of the image with filter k.
    """
    from . import functional as F

    grey = np.asarray(grey)
    w = np.stack([np.asarray(f, dtype=grey.dtype) for f in filters], axis=-1)   # (KH, KW, K)
    w = w[:, :, None, :]                                                        # (KH, KW, 1, K)
    out, _ = F.conv2d_forward(grey[None, :, :, None], w, padding="same")        # (1, H, W, K)
    return out[0]


def _pick_photo(preferred=("chelsea", "astronaut", "coffee", "camera")):
    """A shipped photograph's name, by preference."""
    from . import data

    names = list(data.list_images())
    for name in preferred:
        if name in names:
            return name
    if not names:
        raise FileNotFoundError("npvision.data.list_images() is empty: no photograph is shipped")
    return names[0]


def run(out_dir: str = "npvision-out", seed: int = 0, quick: bool = False,
        log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Run the tour, printing each step with ``log``; return its numbers and picture paths.

    ``quick`` trains one epoch on a subset (seconds) instead of the full
    LeNet-5 run (about a minute on 2 cores). The returned dict has
    ``"training"`` (the metrics of the ``lenet5`` task: ``accuracy`` on held-out
    digits, ``seconds``, ...), ``"accuracy"``, ``"gradcheck"`` (name -> relative
    error), ``"gradcheck_passed"`` and ``"pictures"`` (name -> PNG path).
    """
    from . import data, io, models, nn, viz
    from . import functional as F
    from .gradcheck import check_functional, check_module
    from .kernels import get_backend
    from .tasks import TASKS, run_task

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, received {seed!r}")
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    result: dict = {"pictures": {}, "gradcheck": {}}
    log(f"npvision demo: seed {seed}, {'quick' if quick else 'full'} mode, "
        f"kernel backend {get_backend()!r}, pictures into {os.path.abspath(out_dir)}")

    # 1. data ------------------------------------------------------------------
    config = TASKS["lenet5"].defaults
    size = config["size"]
    x_test, y_test = data.load_digits(split="test", size=size)    # (N, 32, 32, 1) float32 in [0, 1]
    n_train = len(data.load_digits(split="train")[1])
    if quick:      # the quick run scores a subset of the test digits: announce the number it uses
        from .tasks.classify_digits import _QUICK_TEST, _QUICK_TRAIN

        amount = (f"quick mode uses {_QUICK_TRAIN} of the {n_train} training digits and "
                  f"{min(_QUICK_TEST, len(x_test))} of the {len(x_test)} held-out test digits")
    else:
        amount = (f"{n_train} to train on (a few held back for validation), "
                  f"{len(x_test)} held out for the test")
    log(f"\n[1/5] data: the UCI handwritten digits (CC BY 4.0), 8x8 grey upsampled to {size}x{size}, "
        f"pixels in [0, 1]: {amount}")

    # 2. model -----------------------------------------------------------------
    def lenet():
        return models.create("lenet5", num_classes=10, input_shape=(size, size, 1),
                             activation=config["activation"], pool=config["pool"])

    model = lenet()
    log(f"\n[2/5] model: LeNet-5 ({config['activation']}, {config['pool']} pooling)")
    for line in str(nn.summary(model, (size, size, 1))).splitlines():
        log(f"      {line}")

    # 3. training --------------------------------------------------------------
    log(f"\n[3/5] training: the 'lenet5' task (npvision train lenet5), "
        f"{'1 quick epoch on a subset' if quick else str(config['epochs']) + ' epochs'}")
    metrics = run_task("lenet5", seed=seed, out=out_dir, quick=quick, progress=progress)
    result.update(training=metrics, accuracy=metrics["accuracy"])
    log(f"      held-out accuracy: {metrics['accuracy']:.2%} on {metrics['n_test']} test digits "
        f"(chance: 10%), trained in {metrics['seconds']:.1f} s")

    # 4. gradient check ---------------------------------------------------------
    log("\n[4/5] gradient check in float64 (relative error of backward vs central differences):")
    conv = nn.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng)
    report = check_module(conv, rng.standard_normal((2, 5, 5, 2)), raise_on_fail=False)
    for name, err in report.errors.items():
        result["gradcheck"][f"Conv2D.{name}"] = err
        log(f"      Conv2D(2->3, 3x3, stride 2, pad 1) {name:<7s} {err:.2e}")
    report = check_functional(F.max_pool2d_forward, F.max_pool2d_backward,
                              [rng.standard_normal((2, 5, 5, 3))], dict(pool_size=2, stride=1),
                              names=["input"], raise_on_fail=False)
    for name, err in report.errors.items():
        result["gradcheck"][f"max_pool2d.{name}"] = err
        log(f"      max_pool2d(2x2, stride 1)          {name:<7s} {err:.2e}")
    worst = max(result["gradcheck"].values())
    result["gradcheck_passed"] = ok = worst <= GRADCHECK_TOL
    log(f"      worst {worst:.1e}: {'below' if ok else 'ABOVE'} {GRADCHECK_TOL:.0e}, so the "
        f"hand-written backward passes {'agree with' if ok else 'DISAGREE with'} "
        f"the numerical derivatives")

    # 5. pictures ---------------------------------------------------------------
    log("\n[5/5] pictures:")
    pics = result["pictures"]
    for name in ("curves", "predictions", "confusion", "filters"):  # written by the task
        path = os.path.join(out_dir, f"{name}.png")
        if os.path.exists(path):
            pics[name] = path

    trained = lenet()
    io.load_weights(trained, os.path.join(out_dir, "weights.npz"))
    trained.eval()
    digit = x_test[:1]                                            # (1, 32, 32, 1)
    conv1 = trained[0]
    fmap = trained[1].forward(conv1.forward(digit))               # (1, 28, 28, 6)
    pics["conv1_feature_maps"] = os.path.join(out_dir, "conv1_feature_maps.png")
    viz.plot_feature_maps(fmap, pics["conv1_feature_maps"], ncols=3,
                          title=f"LeNet-5 C1 after training, on a digit {y_test[0]}")

    photo_name = _pick_photo()
    info = data.image_info(photo_name)
    photo = data.load_image(photo_name)
    if quick:
        photo = photo[::2, ::2]                                   # (H/2, W/2[, 3]): fewer pixels
    grey = to_grey(photo).astype(np.float64)                      # (H, W)
    responses = apply_filters(grey, EDGE_FILTERS.values())        # (H, W, 4)
    pics["edges"] = os.path.join(out_dir, "edges.png")
    viz.show_images_grid([photo] + [responses[:, :, k] for k in range(responses.shape[-1])],
                         pics["edges"], ncols=5, colorbar=True, cmap="RdBu_r", symmetric=True,
                         titles=[f"{photo_name} (filtered in grey)"] + list(EDGE_FILTERS),
                         suptitle=f"edge filters on '{photo_name}' ({info['description']}; "
                                  f"{info['source']}, {info['license']})")
    for name, path in pics.items():
        log(f"      {name:<20s} {path}")
    log(f"      (photograph: {info['description']}, {info['source']}, licence {info['license']})")
    result["photo"] = photo_name
    log(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return result
