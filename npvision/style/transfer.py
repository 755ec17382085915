"""The image optimization loop: texture synthesis and neural style transfer.

The generated image ``G`` is the variable. Each step runs the feature extractor
once on ``G``, computes the costs of its chosen layers, and sends their
gradients back through one backward pass to the pixels::

    J(G) = alpha J_content(C, G) + beta J_style(S, G) + tv TV(G)
    J_content = sum_l  w_l J_content^[l]          (content layers)
    J_style   = sum_l  lambda_l J_style^[l]        (style layers)

* :func:`style_transfer` (Gatys, Ecker & Bethge 2016): content plus style,
  starting from the content image plus uniform noise in [-0.25, 0.25] (the course's start).
* :func:`texture_synthesis` (Gatys, Ecker & Bethge 2015): style only, starting from noise.

Two optimizers:

* ``"adam"``, as the course: Adam on the pixels (learning rate 0.01, images in
  [0, 1]), the image clipped to [0, 1] after every step.
* ``"lbfgs"``, as Gatys et al.: :func:`npvision.optim.minimize_lbfgs` (strong
  Wolfe line search) on the whole image; pixels may leave [0, 1] on the way and
  the result is clipped at the end. One step is one L-BFGS iteration (about one
  evaluation of ``J`` and its gradient; a line search occasionally needs more).

Layer weights. With ``normalize=True`` (the default) each layer's cost is
divided by its value for an all-zero activation, ``||a_C||^2 / (4 n_H n_W n_C)``
and ``||G_S / (n_H n_W)||^2 / (4 n_C^2)``: every layer then counts as its
*relative* squared error (1 at the start of a black image, 0 when matched),
whatever its size or the scale of its activations, and ``alpha``, ``beta`` mean
the same for every network. ``normalize=False`` keeps the course's raw costs.

Options: ``preserve_colour`` transfers the style to the luminance only (Gatys
et al., "Preserving color in neural artistic style transfer", 2016): content
and style become their Y channel (YIQ), the style's luminance is shifted to the
content's mean and spread, the transfer runs on one channel, and the content's I
and Q put the colours back. ``levels`` > 1 runs coarse to fine: at half, then
full size (three levels: a quarter, a half, full), each level starting from the
previous result enlarged.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .._checks import positive_int
from ..data.augment import resize
from ..optim import Adam, minimize_lbfgs
from ..nn.module import Parameter
from .costs import _layer_style_cost_from_target, _style_target, content_cost, total_cost, total_variation
from .extractors import FeatureExtractor, RandomMultiScale, vgg19_features

__all__ = ["style_transfer", "texture_synthesis", "StyleResult", "StyleObjective", "check_unit_image",
           "build_extractor", "default_layers", "resize_long_side", "reflect_pad_backward", "COURSE_STYLE_LAYERS", "COURSE_CONTENT_LAYER", "rgb_to_yiq", "yiq_to_rgb"]

#: the course's STYLE_LAYERS and content layer (VGG-19)
COURSE_STYLE_LAYERS = [("block1_conv1", 0.2), ("block2_conv1", 0.2), ("block3_conv1", 0.2),
                       ("block4_conv1", 0.2), ("block5_conv1", 0.2)]
COURSE_CONTENT_LAYER = "block5_conv4"

#: RGB -> YIQ (NTSC): Y is the luminance, I and Q the colour
_YIQ = np.array([[0.299, 0.587, 0.114],
                 [0.596, -0.274, -0.322],
                 [0.211, -0.523, 0.312]])


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
def check_unit_image(image, name: str) -> np.ndarray:
    """An image of floats in [0, 1] as ``(H, W, C)`` float32 (grey ``(H, W)`` becomes ``(H, W, 1)``).

    Refuses integer images (divide 8-bit pixels by 255 first), NaNs, values
    outside [0, 1] and batches of more than one image, naming ``name``.
    """
    arr = np.asarray(image)
    if arr.dtype.kind in "biu":
        raise TypeError(f"{name}: expected an image of floats in [0, 1], received dtype {arr.dtype}; "
                        f"convert 8-bit pixels with {name}.astype(np.float32) / 255")
    if arr.dtype.kind != "f":
        raise TypeError(f"{name}: expected an image of floats in [0, 1], received dtype {arr.dtype}")
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"{name}: expected one image, received a batch of {arr.shape[0]}")
        arr = arr[0]                                             # (1, H, W, C) -> (H, W, C)
    if arr.ndim == 2:
        arr = arr[:, :, None]                                    # (H, W) -> (H, W, 1)
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"{name}: expected an image (H, W), (H, W, C) or (1, H, W, C), "
                         f"received shape {np.shape(image)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name}: expected values in [0, 1], received values from {lo:g} to {hi:g}; "
                         f"divide 8-bit pixels by 255")
    return np.ascontiguousarray(arr, dtype=np.float32)


def resize_long_side(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` (H, W, C) resized so that its longer side is ``size`` pixels (aspect kept)."""
    h, w = image.shape[:2]
    if max(h, w) == size:
        return image
    scale = size / max(h, w)
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    return np.clip(resize(image, shape).image, 0.0, 1.0)


def reflect_pad_backward(grad: np.ndarray, pad: int) -> np.ndarray:
    """The adjoint of ``np.pad(x, ((p, p), (p, p), (0, 0)), mode="reflect")``.

    ``grad`` (H + 2p, W + 2p, C) -> (H, W, C): padded row ``i`` (``-p <= i < H + p``)
    copies row ``|i|`` below 0 and ``2 (H - 1) - i`` past ``H - 1`` (likewise the
    columns), so each pixel receives the sum of the gradients of all its copies.
    """
    p = int(pad)
    H, W = grad.shape[0] - 2 * p, grad.shape[1] - 2 * p

    def source(n):
        i = np.abs(np.arange(-p, n + p))                       # (n + 2p,) mirrored at 0
        return np.where(i >= n, 2 * (n - 1) - i, i)            # ... and at n - 1

    rows = np.zeros((H,) + grad.shape[1:], grad.dtype)         # (H, W + 2p, C)
    np.add.at(rows, source(H), grad)
    out = np.zeros((H, W) + grad.shape[2:], grad.dtype)        # (H, W, C)
    np.add.at(out, (slice(None), source(W)), rows)
    return out


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> (H, W, 3) YIQ: Y = 0.299 R + 0.587 G + 0.114 B, I and Q the colour."""
    return image @ _YIQ.T.astype(image.dtype)


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    """The inverse of :func:`rgb_to_yiq`."""
    return image @ np.linalg.inv(_YIQ).T.astype(image.dtype)


def build_extractor(network: str = "random", in_channels: int = 3, weights=None, seed: int = 0,
                    pooling: str = "max", **options) -> FeatureExtractor:
    """``"random"``: :class:`RandomMultiScale` (``options``: ``kernel_sizes``, ``filters``);
    ``"vgg19"``: :func:`vgg19_features` (3 channels; ``weights`` a file or None)."""
    if network == "random":
        if weights is not None:
            raise ValueError("weights: the random network has no weights file; use network='vgg19'")
        return RandomMultiScale(in_channels, seed=seed, **options)
    if network == "vgg19":
        return vgg19_features(weights=weights, pooling=pooling, seed=seed)
    raise ValueError(f"network: expected 'random' or 'vgg19', received {network!r}")


def default_layers(extractor: FeatureExtractor) -> tuple[list, list]:
    """``(content_layers, style_layers)`` as ``[(name, weight)]`` for a network.

    VGG-19: the course's (``block5_conv4``; ``block1_conv1`` ... ``block5_conv1``
    at 0.2 each). The random network: every filter size for the style, equally
    weighted, and for the content the coarse copy of the 11x11 filters'
    responses (``conv11x11_avg8``): the layout of the photograph without its
    pixels, which is what lets the texture in (a full-resolution content layer
    pins every pixel; see the notebook's section on the layers chosen).
    """
    if isinstance(extractor, RandomMultiScale):
        sizes = [f"conv{k}x{k}" for k in extractor.kernel_sizes]
        middle = "conv11x11" if "conv11x11" in sizes else sizes[len(sizes) // 2]
        return [(f"{middle}_avg{extractor.pool}", 1.0)], [(n, 1.0 / len(sizes)) for n in sizes]
    return [(COURSE_CONTENT_LAYER, 1.0)], list(COURSE_STYLE_LAYERS)


def _as_weighted(layers, what: str) -> list:
    """Layer names, or ``(name, weight)`` pairs, as ``[(name, float)]`` (names alone: equal weights)."""
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError(f"{what}: expected at least one layer")
    if all(isinstance(l, str) for l in layers):
        return [(l, 1.0 / len(layers)) for l in layers]
    out = []
    for item in layers:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], numbers.Real) and np.isfinite(item[1]) and item[1] >= 0):
            raise ValueError(f"{what}: expected layer names or (name, weight >= 0) pairs, "
                             f"received {item!r}")
        out.append((item[0], float(item[1])))
    return out


def _real(v, name: str, low: float = 0.0) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v) or v < low:
        raise ValueError(f"{name}: expected a finite number >= {low:g}, received {v!r}")
    return float(v)


# ---------------------------------------------------------------------------
# the objective: one forward, the costs, one backward
# ---------------------------------------------------------------------------
class StyleObjective:
    """``J(G)`` and ``dJ/dG`` for one resolution; the targets are computed once, here.

    ``StyleObjective(extractor, content, style, content_layers, style_layers, alpha, beta, tv,
    normalize)`` with images ``(H, W, C)`` in [0, 1] (``content`` None for a texture) and layers
    as ``[(name, weight)]``. Calling it on an image ``G`` (H, W, C) returns
    ``(J, dJ/dG, parts)``: ``J = alpha J_content + beta J_style + tv TV(G)``, the gradient
    shaped like ``G`` (one forward and one backward through the extractor), and
    ``parts = {"content", "style", "tv", "total"}``. This is the function both
    optimizers minimize; the notebook gradient-checks it.

    ``pad`` > 0 mirrors every image by ``pad`` pixels on each side (``np.pad`` with
    ``mode="reflect"``) before the extractor, so pixels at the border are seen with a
    neighbourhood like the others' instead of the filters' zero padding; the
    gradient of the mirrored copies is added back to the pixels they copy
    (:func:`reflect_pad_backward`).
    """

    def __init__(self, extractor, content, style, content_layers, style_layers, alpha, beta, tv,
                 normalize, pad: int = 0):
        self.extractor, self.alpha, self.beta, self.tv = extractor, alpha, beta, tv
        self.pad = int(pad)
        content = None if content is None else self._padded(content)
        style = self._padded(style)
        self.content_layers = content_layers if content is not None else []
        self.style_layers = style_layers
        self.layers = list(dict.fromkeys([n for n, _ in self.content_layers] +
                                         [n for n, _ in self.style_layers]))
        self.a_C, self.w_C = {}, {}
        if self.content_layers:
            acts = extractor.forward(content, [n for n, _ in self.content_layers])
            for name, w in self.content_layers:
                self.a_C[name] = acts[name].copy()
                ref = float(np.sum(acts[name].astype(np.float64) ** 2)) / (4 * acts[name].size)
                self.w_C[name] = w / ref if normalize and ref > 0 else w
        self.targets, self.w_S = {}, {}
        acts = extractor.forward(style, [n for n, _ in self.style_layers])
        for name, w in self.style_layers:
            target, n_C = _style_target(acts[name])           # G_S / (n_H n_W), (n_C, n_C)
            self.targets[name] = target
            ref = float(np.sum(target.astype(np.float64) ** 2)) / (4 * n_C ** 2)
            self.w_S[name] = w / ref if normalize and ref > 0 else w

    def _padded(self, image: np.ndarray) -> np.ndarray:
        if not self.pad:
            return image
        p = self.pad
        if p >= min(image.shape[:2]):
            raise ValueError(f"pad: expected fewer than {min(image.shape[:2])} pixels (the image's shorter "
                             f"side), received {p}")
        return np.pad(image, ((p, p), (p, p), (0, 0)), mode="reflect")   # (H+2p, W+2p, C)

    def __call__(self, image: np.ndarray):
        """``(J, dJ/dimage, parts)`` for an image (H, W, C); ``parts`` has the three costs."""
        acts = self.extractor.forward(self._padded(image), self.layers)
        grads = {}
        J_content = J_style = 0.0
        for name, w in self.w_C.items():
            J, d = content_cost(self.a_C[name], acts[name])
            J_content += w * J
            grads[name] = (self.alpha * w) * d
        for name, w in self.w_S.items():
            J, d = _layer_style_cost_from_target(self.targets[name], acts[name], acts[name].shape)
            J_style += w * J
            d = (self.beta * w) * d
            grads[name] = grads[name] + d if name in grads else d
        grad = self.extractor.backward(grads)                     # (H, W, C), like image (padded)
        if self.pad:
            grad = reflect_pad_backward(grad, self.pad)           # (H+2p, W+2p, C) -> (H, W, C)
        J = total_cost(J_content, J_style, self.alpha, self.beta)
        J_tv = 0.0
        if self.tv:
            J_tv, d_tv = total_variation(image)
            J += self.tv * J_tv
            grad = grad + self.tv * d_tv
        return float(J), grad, {"content": J_content, "style": J_style, "tv": J_tv, "total": float(J)}


# ---------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------
@dataclass
class StyleResult:
    """What :func:`style_transfer` / :func:`texture_synthesis` made.

    ``image`` (H, W, C) float32 in [0, 1] (or (H, W, 1) for grey);
    ``costs``: ``{"content", "style", "tv", "total"}``, one value per evaluation of
    ``J`` in order (the first at the starting image of each level);
    ``steps_at``: the step each of those values belongs to, counted over all
    levels; ``snapshots``: ``[(step, image)]`` from the start to the end;
    ``seconds``; ``settings``: the arguments that made it.
    """

    image: np.ndarray
    costs: dict = field(default_factory=dict)
    steps_at: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    def final_costs(self) -> dict:
        """The costs of the result: ``{"content", "style", "tv", "total"}`` at the last evaluation."""
        return {k: v[-1] for k, v in self.costs.items()}


def _run_level(objective, x0, steps, optimizer, lr, snap_at, record, bar):
    """Optimize from ``x0`` for ``steps`` steps; ``record(step, parts, image_or_None)`` logs."""
    if optimizer == "adam":
        p = Parameter(x0.copy())
        opt = Adam([p], lr=lr, eps=1e-7)                         # Keras's epsilon, as the course
        for step in range(1, steps + 1):
            _, grad, parts = objective(p.data)
            record(step - 1, parts, p.data if step == 1 else None)
            p.grad[...] = grad
            opt.step()
            np.clip(p.data, 0.0, 1.0, out=p.data)                # the course's clip_0_1 after every step
            bar.update(1)
            bar.set_postfix(_postfix(parts))
            if step in snap_at:
                record.snapshot(step, p.data)
        _, _, parts = objective(p.data)
        record(steps, parts, None)
        return p.data

    evaluated = []                    # (f, parts) of this iteration's evaluations

    def fun(x):
        J, grad, parts = objective(x)
        evaluated.append((J, parts))
        return J, grad

    def callback(k, x, f):
        # the accepted point is the evaluation whose J is f (usually the line search's last)
        parts = next((p for J, p in reversed(evaluated) if J == f), evaluated[-1][1])
        evaluated.clear()
        record(k, parts, None)
        bar.update(1)
        bar.set_postfix(_postfix(parts))
        if k in snap_at:
            record.snapshot(k, np.clip(x, 0.0, 1.0))
        return False

    _, _, parts0 = objective(x0)
    record(0, parts0, x0)
    res = minimize_lbfgs(fun, x0, max_iter=steps, max_eval=steps * 2, tol_grad=0.0, tol_change=0.0,
                         callback=callback)
    bar.update(steps - res.n_iter)
    return np.clip(res.x, 0.0, 1.0)


def _postfix(parts: dict) -> dict:
    return {k: f"{parts[k]:.3g}" for k in ("content", "style", "tv")}


class _Recorder:
    """Collects the costs per step and the snapshots, across levels."""

    def __init__(self):
        self.costs = {"content": [], "style": [], "tv": [], "total": []}
        self.steps_at, self.snapshots, self.offset = [], [], 0

    def __call__(self, step, parts, image):
        for k in self.costs:
            self.costs[k].append(float(parts[k]))
        self.steps_at.append(self.offset + step)
        if image is not None and not self.snapshots:
            self.snapshots.append((0, np.clip(image, 0.0, 1.0).copy()))

    def snapshot(self, step, image):
        self.snapshots.append((self.offset + step, np.clip(image, 0.0, 1.0).copy()))


def _synthesize(content, style, *, network, extractor, weights, pooling, content_layers, style_layers, alpha,
                beta, tv, optimizer, steps, lr, size, levels, preserve_colour, normalize, seed,
                n_snapshots, progress, kind, noise=0.25, pad=0):
    t_start = time.perf_counter()
    steps = positive_int(steps, "steps")
    levels = positive_int(levels, "levels")
    n_snapshots = positive_int(n_snapshots, "n_snapshots")
    alpha, beta, tv, lr = _real(alpha, "alpha"), _real(beta, "beta"), _real(tv, "tv"), _real(lr, "lr")
    noise = _real(noise, "noise")
    if not isinstance(pad, numbers.Integral) or isinstance(pad, bool) or pad < 0:
        raise ValueError(f"pad: expected an integer >= 0, received {pad!r}")
    if lr == 0:
        raise ValueError("lr: expected a number > 0, received 0")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer: expected 'adam' or 'lbfgs', received {optimizer!r}")
    style = check_unit_image(style, "style")
    if content is not None:
        content = check_unit_image(content, "content")
        if content.shape[2] != style.shape[2]:
            raise ValueError(f"content, style: have {content.shape[2]} and {style.shape[2]} channels; "
                             f"give both in colour (H, W, 3) or both grey (convert a grey image "
                             f"with np.repeat(image[..., None], 3, axis=-1))")
    if size is not None:
        size = positive_int(size, "size")
        style = resize_long_side(style, size)
        if content is not None:
            content = resize_long_side(content, size)
    channels = style.shape[2]
    colour = None
    if preserve_colour:
        if channels != 3:
            raise ValueError("preserve_colour: needs colour images (H, W, 3)")
        if content is None:
            raise ValueError("preserve_colour: needs a content image (it keeps the content's colours)")
        content_yiq, style_y = rgb_to_yiq(content), rgb_to_yiq(style)[..., :1]
        y_c = content_yiq[..., :1]
        # the style's luminance moved to the content's mean and spread (luminance matching)
        style_y = (style_y - style_y.mean()) * (y_c.std() / max(style_y.std(), 1e-6)) + y_c.mean()
        colour = content_yiq[..., 1:]
        content, style = y_c, np.clip(style_y, 0.0, 1.0).astype(np.float32)
        channels = 1
    if extractor is None:
        extractor = build_extractor(network, in_channels=channels, weights=weights, seed=seed,
                                    pooling=pooling)
    if extractor.in_channels != channels:
        if extractor.in_channels == 3 and channels == 1:
            extractor = _GreyToColour(extractor)
        else:
            raise ValueError(f"extractor: takes {extractor.in_channels}-channel images but the images "
                             f"have {channels}")
    c_default, s_default = default_layers(extractor.inner if isinstance(extractor, _GreyToColour) else extractor)
    content_layers = _as_weighted(content_layers if content_layers is not None else c_default,
                                  "content_layers")
    style_layers = _as_weighted(style_layers if style_layers is not None else s_default, "style_layers")
    extractor.check_layers([n for n, _ in content_layers] + [n for n, _ in style_layers])

    rng = np.random.default_rng(seed)
    final_shape = (content if content is not None else style).shape
    scales = [0.5 ** (levels - 1 - i) for i in range(levels)]
    per_level = [steps] * levels
    total_steps = sum(per_level)
    # snapshots at n_snapshots evenly spaced steps (plus the start)
    snap_steps = {int(round(v)) for v in np.linspace(0, total_steps, n_snapshots + 1)[1:]}
    record = _Recorder()
    x = None
    from tqdm import tqdm        # the text bar everywhere (tqdm.auto wants ipywidgets in a notebook)

    with tqdm(total=total_steps, desc=kind, disable=not progress, leave=False) as bar:
        for level, (scale, n_steps) in enumerate(zip(scales, per_level)):
            h, w = (max(8, round(final_shape[0] * scale)), max(8, round(final_shape[1] * scale)))
            c_l = None if content is None else _resized(content, (h, w))
            s_l = _resized(style, (max(8, round(style.shape[0] * scale)), max(8, round(style.shape[1] * scale))))
            if x is None:
                if c_l is not None:                              # the course's start: content + noise
                    x = np.clip(c_l + rng.uniform(-noise, noise, c_l.shape), 0.0, 1.0)
                else:                                            # texture: noise around the style's mean
                    x = np.clip(s_l.mean(axis=(0, 1)) + rng.uniform(-noise, noise, (h, w, channels)), 0, 1)
            else:
                x = _resized(x, (h, w))
            x = x.astype(np.float32)
            objective = StyleObjective(extractor, c_l, s_l, content_layers, style_layers, alpha, beta, tv,
                                       normalize, pad=min(pad, min(h, w) - 1, min(s_l.shape[:2]) - 1))
            snap_at = {s - record.offset for s in snap_steps if 0 < s - record.offset <= n_steps}
            x = _run_level(objective, x, n_steps, optimizer, lr, snap_at, record, bar)
            record.offset += n_steps

    image = x
    if colour is not None:
        image = np.clip(yiq_to_rgb(np.concatenate([x, colour], axis=2)), 0.0, 1.0)
        record.snapshots = [(s, np.clip(yiq_to_rgb(np.concatenate([_resized(im, colour.shape[:2]), colour],
                                                                    axis=2)), 0, 1))
                            for s, im in record.snapshots]
    settings = dict(kind=kind, optimizer=optimizer, steps=steps, levels=levels, alpha=alpha, beta=beta,
                    tv=tv, lr=lr, seed=seed, normalize=normalize, preserve_colour=bool(preserve_colour), pad=pad,
                    network=repr(extractor), content_layers=content_layers, style_layers=style_layers,
                    size=list(image.shape[:2]))
    return StyleResult(image=image.astype(np.float32), costs=record.costs, steps_at=record.steps_at,
                       snapshots=record.snapshots, seconds=time.perf_counter() - t_start, settings=settings)


def _resized(image: np.ndarray, hw) -> np.ndarray:
    if tuple(image.shape[:2]) == tuple(hw):
        return image
    return np.clip(resize(image, tuple(hw)).image, 0.0, 1.0).astype(np.float32)


class _GreyToColour(FeatureExtractor):
    """A 3-channel extractor fed a grey image: the channel repeated, its gradients summed back."""

    def __init__(self, inner: FeatureExtractor):
        self.inner, self.in_channels, self.layer_names = inner, 1, inner.layer_names

    def check_layers(self, layers):
        return self.inner.check_layers(layers)

    def forward(self, image, layers):
        x = np.asarray(image)
        return self.inner.forward(np.repeat(x, 3, axis=-1), layers)   # (.., 1) -> (.., 3)

    def backward(self, grads):
        return self.inner.backward(grads).sum(axis=-1, keepdims=True)  # one pixel fed three channels

    def __repr__(self):
        return f"grey -> {self.inner!r}"


def style_transfer(content, style, *, network: str = "random", extractor=None, weights=None,
                   pooling: str = "max", content_layers=None, style_layers=None, alpha: float = 10.0, beta: float = 40.0,
                   tv: float = 0.0, optimizer: str = "lbfgs", steps: int = 200, lr: float = 0.01,
                   size: int | None = None, levels: int = 1, preserve_colour: bool = False,
                   normalize: bool = True, noise: float = 0.25, pad: int = 0, seed: int = 0,
                   n_snapshots: int = 6, progress: bool = True) -> StyleResult:
    """Paint ``content`` in the style of ``style``: minimize ``alpha J_content + beta J_style + tv TV``.

    content, style : float images in [0, 1], (H, W, 3) colour or (H, W) grey, with
        the same number of channels (sizes may differ).
    network : ``"random"`` (the default, offline) or ``"vgg19"``; ``extractor`` a
        ready :class:`FeatureExtractor` instead; ``weights`` a VGG-19 weights file;
        ``pooling`` VGG-19's ``"max"`` or ``"avg"``.
    content_layers, style_layers : layer names (equal weights) or ``(name, weight)``
        pairs; default :func:`default_layers` (the course's for VGG-19).
    alpha, beta, tv : the weights of the three costs (the course's 10 and 40).
    optimizer : ``"lbfgs"`` (Gatys et al.) or ``"adam"`` (the course's, with ``lr``).
    steps : steps per level; size : the longer side of the result in pixels
        (default: the content's own); levels, preserve_colour, normalize : see the
        module docstring. noise : the start is the content plus uniform noise in
        ``[-noise, noise]`` (the course's 0.25). pad : mirror the images by this many
        pixels before the extractor (:class:`StyleObjective`). seed : the noise and the random network.
    Returns a :class:`StyleResult`.
    """
    return _synthesize(content, style, network=network, extractor=extractor, weights=weights,
                       pooling=pooling, content_layers=content_layers, style_layers=style_layers, alpha=alpha,
                       beta=beta, tv=tv, optimizer=optimizer, steps=steps, lr=lr, size=size,
                       levels=levels, preserve_colour=preserve_colour, normalize=normalize,
                       seed=seed, n_snapshots=n_snapshots, progress=progress, kind="style", noise=noise,
                       pad=pad)


def texture_synthesis(style, *, network: str = "random", extractor=None, weights=None,
                      pooling: str = "max", style_layers=None, beta: float = 1.0, tv: float = 0.0, optimizer: str = "lbfgs",
                      steps: int = 200, lr: float = 0.01, size: int | None = None, levels: int = 1,
                      normalize: bool = True, pad: int = 0, seed: int = 0, n_snapshots: int = 6,
                      progress: bool = True) -> StyleResult:
    """A new image with the texture of ``style``: minimize ``beta J_style + tv TV`` from noise.

    The result has the (resized) style image's size and channels (a grey texture
    gives a grey result). Other arguments as :func:`style_transfer`.
    """
    return _synthesize(None, style, network=network, extractor=extractor, weights=weights,
                       pooling=pooling, content_layers=None, style_layers=style_layers, alpha=0.0, beta=beta, tv=tv,
                       optimizer=optimizer, steps=steps, lr=lr, size=size, levels=levels,
                       preserve_colour=False, normalize=normalize, seed=seed, n_snapshots=n_snapshots,
                       progress=progress, kind="texture", pad=pad)
