"""Feature extractors: networks that describe an image by the activations of named layers,
and send the gradients of costs on those activations back to the pixels.

Every extractor has the same two calls::

    acts = ext.forward(image, ["conv7x7", "conv23x23"])    # {name: (1, n_H, n_W, n_C)}
    d_image = ext.backward({"conv7x7": d7, "conv23x23": d23})  # shaped like image

``forward`` runs the network once, as deep as the deepest layer asked for, and
keeps what ``backward`` needs. ``backward`` makes one backward pass: the
gradient of each named layer is *added in* when the pass reaches that layer, so
the costs of several layers become one image gradient for the price of one
backward (not one backward per layer). Every module on the way returns its input
gradient, the first convolution included: here the image is the variable.

Two networks:

* :class:`RandomMultiScale` (the default, offline): one layer of random,
  untrained filters at several sizes, each followed by a ReLU (Ustyuzhaninov,
  Brendel, Gatys & Bethge, 2017: such a network synthesizes textures nearly as
  well as VGG's trained features, when its Gram matrices are matched). Seeded,
  so a result is reproducible. Layer names ``"conv3x3"``, ``"conv5x5"``, ...
* :func:`vgg19_features`: VGG-19's convolutional part (Gatys et al.'s network)
  with the course's (Keras's) layer names ``block1_conv1`` ... ``block5_conv4``,
  each the output of a convolution and its ReLU; max or average pooling. Random
  weights unless given a file of real VGG-19 weights.

Both take images in [0, 1] and normalize them first (``(x - mean) / std``, whose
gradient is ``d / std``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .. import nn
from .._checks import as_float_array, positive_int

__all__ = ["FeatureExtractor", "RandomMultiScale", "vgg19_features", "VGG19_LAYERS",
           "IMAGENET_MEAN", "IMAGENET_STD", "DEFAULT_KERNEL_SIZES"]

#: torchvision's ImageNet normalization, which its pretrained VGG-19 expects
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: the random network's filter sizes (Ustyuzhaninov et al.'s multi-scale model)
DEFAULT_KERNEL_SIZES = (3, 5, 7, 11, 15, 23, 37, 55)


class FeatureExtractor:
    """A chain of modules with names on some outputs, run forward and backward.

    ``stages`` is a list of ``(name or None, module)``: each module takes the
    previous one's output; a name labels that module's output.
    Attributes: ``layer_names`` (in forward order), ``in_channels``, ``mean``
    and ``std`` (per channel, applied to the image first).
    """

    def __init__(self, stages, in_channels: int, mean, std):
        self.stages = list(stages)
        self.in_channels = positive_int(in_channels, "in_channels")
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        self.layer_names = tuple(name for name, _ in self.stages if name is not None)
        self._depth = None          # index of the deepest stage the last forward ran
        self._asked: tuple = ()

    # -- checks ------------------------------------------------------------------
    def check_layers(self, layers) -> list[str]:
        """``layers`` as a list of known names, or a clear error naming the unknown one."""
        if isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise ValueError("layers: expected at least one layer name")
        for name in layers:
            if name not in self.layer_names:
                raise ValueError(f"layers: this {type(self).__name__} has no layer {name!r}; its layers "
                                 f"are {', '.join(self.layer_names)}")
        return layers

    def _image(self, image) -> np.ndarray:
        x = as_float_array(image, "image", ndim=(3, 4), layout="(H, W, C) or (1, H, W, C)")
        if x.ndim == 3:
            x = x[None]                                          # (H, W, C) -> (1, H, W, C)
        if x.shape[0] != 1 or x.shape[-1] != self.in_channels:
            raise ValueError(f"image: expected one image with {self.in_channels} channels, "
                             f"(1, H, W, {self.in_channels}), received shape {x.shape}")
        return x

    # -- the two passes ------------------------------------------------------------
    def forward(self, image, layers) -> dict:
        """The activations ``{name: (1, n_H, n_W, n_C)}`` of ``layers`` for one image (H, W, C)."""
        layers = self.check_layers(layers)
        x = self._image(image)
        self._shape = np.shape(image)
        x = (x - self.mean.astype(x.dtype)) / self.std.astype(x.dtype)     # normalized input
        depth = max(self._index(name) for name in layers)
        out = {}
        for i, (name, module) in enumerate(self.stages[:depth + 1]):
            x = module.forward(x)
            if name in layers:
                out[name] = x
        self._depth, self._asked = depth, tuple(layers)
        return {name: out[name] for name in layers}

    def backward(self, grads: dict) -> np.ndarray:
        """One backward pass from ``{name: dJ/d activation}`` to ``dJ/d image`` (shaped like the image).

        Every name must be among the layers of the last ``forward``. Going back
        from the deepest of them, the gradient of each named output is added
        to the gradient flowing through it.
        """
        if self._depth is None:
            raise RuntimeError(f"{type(self).__name__}.backward was called before forward")
        for name in grads:
            if name not in self._asked:
                raise ValueError(f"grads: layer {name!r} was not among the layers of the last "
                                 f"forward ({', '.join(self._asked)})")
        d = None
        for name, module in reversed(self.stages[:self._depth + 1]):
            if name in grads:
                g = np.asarray(grads[name])
                d = g if d is None else d + g                    # inject this layer's gradient
            if d is not None:
                d = module.backward(d)
        if d is None:
            raise ValueError("grads: expected a gradient for at least one layer")
        d = d / self.std.astype(d.dtype)                         # through (x - mean) / std
        return d.reshape(self._shape)

    def _index(self, name: str) -> int:
        for i, (n, _) in enumerate(self.stages):
            if n == name:
                return i
        raise ValueError(f"layers: no layer {name!r}")  # pragma: no cover - checked before

    def __repr__(self) -> str:
        return f"{type(self).__name__}(in_channels={self.in_channels}, layers={list(self.layer_names)})"


class RandomMultiScale(FeatureExtractor):
    """One layer of random filters at several sizes, each size a branch ``conv -> ReLU``.

    ``image (1, H, W, C) -> {"conv{k}x{k}": (1, H, W, filters)}`` ("same" padding),
    and for each size a coarse copy ``"conv{k}x{k}_avg{p}"``: the same activations
    averaged over ``p x p`` windows every ``p / 2`` pixels (half-overlapping, so that
    its gradient has no block edges), ``(1, (H - p) // (p / 2) + 1, ...)``. A content cost
    on a coarse copy fixes where things are, not how each pixel looks, which is
    what the deep layers of VGG do for Gatys et al.: this one-layer network has
    no deep layers, and its full-resolution features pin every pixel.

    The branches all read the (centred) image, so the image gradient is the sum
    of the asked branches' input gradients.

    Parameters
    ----------
    in_channels : channels of the images (3 colour, 1 grey).
    kernel_sizes : the filter sizes ``k`` (default 3, 5, 7, 11, 15, 23, 37, 55, as
        Ustyuzhaninov et al.'s multi-scale network).
    filters : filters per size.
    seed : the random filters' seed.
    pool : ``p``, the window of the coarse copies (even; stride ``p / 2``).
    fft_from : sizes ``k >= fft_from`` convolve through the FFT
        (:class:`npvision.nn.FFTConv2D`), smaller ones directly
        (:class:`npvision.nn.Conv2D`); the crossover measured in ``benchmarks/style.md``.
    dtype : float32 to synthesize, float64 to gradient-check.

    Each filter is drawn from ``N(0, 1)`` and scaled to unit norm, so every size
    responds to white noise with the same variance; there is no bias. The image
    is centred (``x - 0.5``) first. The filters are frozen (``trainable=False``).
    """

    def __init__(self, in_channels: int = 3, kernel_sizes: Sequence[int] = DEFAULT_KERNEL_SIZES,
                 filters: int = 64, seed: int = 0, pool: int = 8, fft_from: int = 11, dtype=np.float32):
        in_channels = positive_int(in_channels, "in_channels")
        filters = positive_int(filters, "filters")
        pool = positive_int(pool, "pool")
        if pool % 2:
            raise ValueError(f"pool: expected an even window (its stride is half of it), received {pool}")
        sizes = [positive_int(k, "kernel_sizes") for k in kernel_sizes]
        if not sizes or len(set(sizes)) != len(sizes):
            raise ValueError(f"kernel_sizes: expected distinct sizes, received {list(kernel_sizes)}")
        super().__init__([], in_channels, mean=[0.5] * in_channels, std=[1.0] * in_channels)
        rng = np.random.default_rng(seed)
        self.branches, self.pools = {}, {}
        for k in sizes:
            w = rng.standard_normal((k, k, in_channels, filters))           # (KH, KW, C, F)
            w /= np.sqrt(np.sum(w ** 2, axis=(0, 1, 2)))                   # unit norm per filter
            layer_cls = nn.FFTConv2D if k >= fft_from else nn.Conv2D
            conv = layer_cls(in_channels, filters, k, padding="same", bias=False, dtype=dtype)
            conv.weight.data = w.astype(dtype)
            conv.weight.grad = np.zeros_like(conv.weight.data)
            conv.weight.trainable = False
            self.branches[f"conv{k}x{k}"] = nn.Sequential(conv, nn.ReLU())
            self.pools[f"conv{k}x{k}_avg{pool}"] = (f"conv{k}x{k}", nn.AvgPool2D(pool, stride=pool // 2))
        self.layer_names = tuple(self.branches) + tuple(self.pools)
        self.kernel_sizes, self.filters, self.seed, self.pool = tuple(sizes), filters, seed, pool

    def forward(self, image, layers) -> dict:
        """Run only the branches the asked layers need (a coarse copy needs its branch)."""
        layers = self.check_layers(layers)
        x = self._image(image)
        self._shape = np.shape(image)
        x = x - self.mean.astype(x.dtype)                        # centred image
        needed = dict.fromkeys(self.pools[n][0] if n in self.pools else n for n in layers)
        full = {name: self.branches[name].forward(x) for name in needed}
        out = {}
        for name in layers:
            if name in self.pools:
                branch, pool = self.pools[name]
                out[name] = pool.forward(full[branch])           # (1, (H - p) // (p/2) + 1, ..., filters)
            else:
                out[name] = full[name]
        self._asked, self._depth = tuple(layers), 0
        return out

    def backward(self, grads: dict) -> np.ndarray:
        """The image gradient: the sum of the asked branches' input gradients.

        A coarse copy's gradient goes back through its pooling and joins its
        branch's own gradient before the branch's backward (one per branch).
        """
        if self._depth is None:
            raise RuntimeError("RandomMultiScale.backward was called before forward")
        per_branch = {}
        for name, g in grads.items():
            if name not in self._asked:
                raise ValueError(f"grads: layer {name!r} was not among the layers of the last "
                                 f"forward ({', '.join(self._asked)})")
            if name in self.pools:
                branch, pool = self.pools[name]
                g = pool.backward(np.asarray(g))                 # (1, H, W, filters)
            else:
                branch = name
            per_branch[branch] = g if branch not in per_branch else per_branch[branch] + g
        d = None
        for branch, g in per_branch.items():
            dx = self.branches[branch].backward(np.asarray(g))
            d = dx if d is None else d + dx                      # the image fed every branch
        if d is None:
            raise ValueError("grads: expected a gradient for at least one layer")
        return d.reshape(self._shape)

    def __repr__(self) -> str:
        return (f"RandomMultiScale(in_channels={self.in_channels}, kernel_sizes={self.kernel_sizes}, "
                f"filters={self.filters}, seed={self.seed}, pool={self.pool})")


# ---------------------------------------------------------------------------
# VGG-19
# ---------------------------------------------------------------------------
def _vgg_names(config) -> list:
    """Keras's names for VGG's feature modules: conv+ReLU outputs and pools, block by block."""
    names, block, conv = [], 1, 0
    for v in config:
        if v == "M":
            names.append(f"block{block}_pool")
            block, conv = block + 1, 0
        else:
            conv += 1
            names.append(f"block{block}_conv{conv}")
    return names


def _vgg19_layers() -> tuple:
    from ..models.vgg import CONFIGS
    return tuple(_vgg_names(CONFIGS["vgg19"]))


#: every layer name of :func:`vgg19_features`, in forward order
VGG19_LAYERS = _vgg19_layers()


def vgg19_features(weights=None, pooling: str = "max", seed: int = 0, dtype=np.float32) -> FeatureExtractor:
    """VGG-19's convolutional layers as a :class:`FeatureExtractor`, with Keras's layer names.

    ``block1_conv1`` ... ``block5_conv4`` are the outputs of each 3x3 convolution
    and its ReLU, ``block1_pool`` ... ``block5_pool`` those of the 2x2 pools.

    Parameters
    ----------
    weights : None (random He-initialized weights: for tests and shapes, not for
        pictures), or the path of real VGG-19 weights: a torchvision
        ``state_dict`` (``.pth``, or ``.npz`` of its arrays, loaded through
        :func:`npvision.io.load_torch_weights`) or an npvision weights file saved
        from ``npvision.models.vgg19``. A file of another architecture is refused
        with the key that does not fit.
    pooling : ``"max"`` (VGG's own) or ``"avg"`` (Gatys et al.: smoother images).
    seed : the random weights' seed.

    Images are normalized with torchvision's ImageNet mean and std.
    """
    from ..models.vgg import CONFIGS, VGG

    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling: expected 'max' or 'avg', received {pooling!r}")
    # the convolutional part is what is used: a 32x32 input keeps the classifier tiny
    model = VGG(CONFIGS["vgg19"], num_classes=1, input_shape=(32, 32, 3), hidden=1, rng=seed)
    if weights is not None:
        _load_vgg19_features(model.features, weights)
    model.astype(dtype)
    names = iter(_vgg_names(CONFIGS["vgg19"]))
    stages = []
    for module in model.features:
        if isinstance(module, nn.Conv2D):
            module.input_grad = True                 # the first conv too: the image is the variable
            for p in module.parameters():
                p.trainable = False
            stages.append((None, module))
        elif isinstance(module, nn.ReLU):
            stages.append((next(names), module))
        else:                                        # a 2x2 max pool
            pool = nn.AvgPool2D(2) if pooling == "avg" else module
            stages.append((next(names), pool))
    return FeatureExtractor(stages, 3, IMAGENET_MEAN, IMAGENET_STD)


def _load_vgg19_features(features, path) -> None:
    """Load the convolutional weights of a VGG-19 file into ``features`` (VGG-19's conv part).

    An npvision weights file (``npvision.io.save_weights``) is read directly. Any
    other file is a torchvision state dict (``.pth``, or ``.npz`` of its arrays):
    :func:`npvision.io.load_torch_weights` loads it into a whole VGG-19 built as
    torchvision builds it (``adaptive_pool=(7, 7)``; the classifier's width and
    classes read from an ``.npz``, else torchvision's 4096 and 1000), whose
    convolutional weights are then copied. Either way a file of another
    architecture fails naming the key that does not fit.
    """
    from .. import io
    from ..models.vgg import vgg19

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights: no such file {path!r}")
    prefix = "features."
    try:
        if path.endswith(".npz") and _is_npvision_file(path):
            state, meta = io.read_weights(path)
            arch = meta.get("architecture")
            if arch not in (None, "vgg19"):
                raise ValueError(f"it holds weights of architecture {arch!r} "
                                 f"(a {meta.get('model_class')}), not 'vgg19'")
        else:
            hidden, classes = 4096, 1000
            if path.endswith(".npz"):
                shapes = _npz_shapes(path)
                _check_conv_shapes(features, shapes)          # before building a 143M-parameter model
                fc0, fc6 = shapes.get("classifier.0.weight"), shapes.get("classifier.6.weight")
                if fc0 is not None and fc6 is not None and len(fc0) == len(fc6) == 2:
                    hidden, classes = fc0[0], fc6[0]
            model = vgg19(num_classes=classes, input_shape=(224, 224, 3), hidden=hidden,
                          adaptive_pool=(7, 7))
            io.load_torch_weights(model, path)
            state = model.state_dict()
        wanted = features.state_dict()
        conv = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        missing = [k for k in wanted if k not in conv]
        if missing:
            raise ValueError(f"its key {prefix + missing[0]!r} is missing ({len(missing)} of the "
                             f"{len(wanted)} VGG-19 convolution arrays are)")
        features.load_state_dict({k: conv[k] for k in wanted})
    except (KeyError, ValueError) as exc:                    # WeightsFileError is a ValueError
        why = str(exc)
        why = why[len(path) + 2:] if why.startswith(path + ": ") else why
        raise ValueError(f"weights: {path} does not hold VGG-19 weights that fit "
                         f"npvision.models.vgg19: {why}") from exc


def _check_conv_shapes(features, shapes: dict) -> None:
    """Every VGG-19 convolution key of torchvision's layout, with its (C_out, C_in, 3, 3) shape."""
    for name, p in features.named_parameters():
        key = "features." + name
        want = p.shape[::-1][:2] + p.shape[:2] if p.data.ndim == 4 else p.shape   # HWIO -> OIHW
        if key not in shapes:
            raise ValueError(f"it has no key {key!r} (its first keys: {', '.join(list(shapes)[:4])})")
        if tuple(shapes[key]) != tuple(want):
            raise ValueError(f"its {key!r} has shape {tuple(shapes[key])}, VGG-19's is {tuple(want)}")


def _is_npvision_file(path: str) -> bool:
    with np.load(path, allow_pickle=False) as f:
        return "__npvision__" in f.files


def _npz_shapes(path: str) -> dict:
    """``{key: shape}`` of an ``.npz``'s arrays, read from the headers only (no data)."""
    import zipfile

    shapes = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith(".npy"):
                continue
            with archive.open(name) as fh:
                version = np.lib.format.read_magic(fh)
                reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)
                shapes[name[:-4]] = reader(fh)[0]
    return shapes
