"""A guided tour of npvision, run by ``npvision demo``.

Five steps, each printed as it happens:

1. **data**: the built-in UCI handwritten digits (8x8 grey, scaled to [0, 1]).
2. **model**: a small ConvNet from :mod:`npvision.nn` layers, with the shape of
   the activation after every layer::

       (N, 8, 8, 1) -conv 3x3-> (N, 8, 8, 8) -relu-> -maxpool 2-> (N, 4, 4, 8)
       -conv 3x3-> (N, 4, 4, 16) -relu-> -maxpool 2-> (N, 2, 2, 16)
       -flatten-> (N, 64) -linear-> (N, 10) logits

3. **training**: forward, softmax cross-entropy, backward, Adam, for a few
   steps; the loss falls and the accuracy on held-out digits rises.
4. **gradient check**: a Conv2D layer (stride 2, padding 1) and an
   overlapping max-pool, in float64, against central differences; the
   relative errors are printed (a correct backward gives about 1e-9 or less).
5. **pictures** saved into ``out_dir``: a batch of digits with the model's
   predictions, the first conv layer's filters and feature maps, and four
   classic edge filters (vertical, horizontal, Sobel, Scharr) applied to a
   photograph shipped with npvision.

Call it from Python as ``npvision.tour.run(out_dir, seed=0, quick=True)``;
it returns a dict with the numbers and the paths of the pictures.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

__all__ = ["EDGE_FILTERS", "GRADCHECK_TOL", "to_grey", "apply_filters", "build_convnet", "run"]

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


def build_convnet(rng, dtype=np.float32):
    """The tour's ConvNet for 8x8x1 digits (see the module docstring for the shapes)."""
    from . import nn

    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2D(1, 8, 3, padding=1, rng=rng, dtype=dtype)),
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2D(2)),
        ("conv2", nn.Conv2D(8, 16, 3, padding=1, rng=rng, dtype=dtype)),
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2D(2)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(2 * 2 * 16, 10, rng=rng, dtype=dtype)),
    ]))


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
        log: Callable[[str], None] = print) -> dict:
    """Run the tour, printing each step with ``log``; return its numbers and picture paths.

    ``quick`` uses a smaller batch and fewer steps (a few seconds). The
    returned dict has ``"losses"`` (one per training step), ``"accuracy"``
    (on held-out digits), ``"gradcheck"`` (name -> relative error) and
    ``"pictures"`` (name -> path of a PNG in ``out_dir``) and
    ``"gradcheck_passed"`` (every error at most :data:`GRADCHECK_TOL`).
    """
    from . import data, nn, optim, viz
    from . import functional as F
    from .gradcheck import check_functional, check_module
    from .kernels import get_backend

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, received {seed!r}")
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    result: dict = {"pictures": {}, "gradcheck": {}}
    log(f"npvision demo: seed {seed}, {'quick' if quick else 'full'} mode, "
        f"kernel backend {get_backend()!r}, pictures into {os.path.abspath(out_dir)}")

    # 1. data ------------------------------------------------------------------
    x_train, y_train = data.load_digits(split="train")        # (N, 8, 8, 1) float32 in [0, 1]
    x_test, y_test = data.load_digits(split="test")
    log(f"\n[1/5] data: the UCI handwritten digits (CC BY 4.0), {x_train.shape[1:]} grey, "
        f"pixels in [0, 1]: {len(x_train)} to train on, {len(x_test)} held out")

    # 2. model -----------------------------------------------------------------
    model = build_convnet(rng)
    log(f"\n[2/5] model: {model.num_parameters()} parameters")
    x = x_train[:4]
    log(f"      {'input':<8s} {str(x.shape):<16s}")
    for name, layer in model.named_children():
        x = layer.forward(x)
        log(f"      {name:<8s} {str(x.shape):<16s} {type(layer).__name__}({layer.extra_repr()})")

    # 3. training --------------------------------------------------------------
    steps, batch = (15, 64) if quick else (150, 128)
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    log(f"\n[3/5] training: {steps} steps of Adam (lr 0.01), batches of {batch}: "
        f"forward, softmax cross-entropy, backward, update")
    for step in range(1, steps + 1):
        idx = rng.choice(len(x_train), size=batch, replace=False)
        opt.zero_grad()
        logits = model.forward(x_train[idx])                      # (batch, 10)
        loss, dlogits = F.softmax_cross_entropy(logits, y_train[idx])
        model.backward(dlogits)
        opt.step()
        losses.append(float(loss))
        if step == 1 or step == steps or step % max(1, steps // 5) == 0:
            log(f"      step {step:4d}  loss {float(loss):.4f}")
    model.eval()
    test_logits = model.forward(x_test)                           # (N_test, 10)
    accuracy = float(np.mean(np.argmax(test_logits, axis=1) == y_test))
    log(f"      held-out accuracy: {accuracy:.1%} (chance: 10%)")
    result.update(losses=losses, accuracy=accuracy)

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
    pred = np.argmax(test_logits[:12], axis=1)
    pics["digits"] = os.path.join(out_dir, "digits.png")
    viz.show_images_grid(x_test[:12], pics["digits"], ncols=6, panel_size=1.6,
                         titles=[f"label {t}, pred {p}" for t, p in zip(y_test[:12], pred)],
                         suptitle="held-out digits and the ConvNet's predictions")

    pics["conv1_filters"] = os.path.join(out_dir, "conv1_filters.png")
    viz.plot_filters(model.conv1.weight.data, pics["conv1_filters"], ncols=4,
                     title="conv1: the 8 learned 3x3 filters")

    digit = x_test[:1]                                            # (1, 8, 8, 1)
    fmap = model.relu1.forward(model.conv1.forward(digit))       # (1, 8, 8, 8)
    pics["conv1_feature_maps"] = os.path.join(out_dir, "conv1_feature_maps.png")
    viz.plot_feature_maps(fmap, pics["conv1_feature_maps"], ncols=4,
                          title=f"conv1 + ReLU on a digit {y_test[0]}")

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
