"""Week 2: ResNet's identity and convolutional blocks, and the data augmenter, the course's way.

The course builds ResNet-50 (He et al. 2015, the original "v1": the stride sits on
the first 1x1 convolution) from two blocks, written with Keras layers:

identity block, ``filters = (F1, F2, F3)`` with ``F3 = n_C`` of the input::

    X -> conv 1x1 F1 "valid" -> BN -> ReLU
      -> conv fxf F2 "same"  -> BN -> ReLU
      -> conv 1x1 F3 "valid" -> BN -> (+ X) -> ReLU           (m, n_H, n_W, F3)

convolutional block, stride ``s``::

    X -> conv 1x1 F1 stride s "valid" -> BN -> ReLU
      -> conv fxf F2 "same"  -> BN -> ReLU
      -> conv 1x1 F3 "valid" -> BN
    shortcut: conv 1x1 F3 stride s "valid" -> BN
    sum -> ReLU                                                (m, ceil(n_H / s), ceil(n_W / s), F3)

Keras' defaults are kept: every convolution has a bias (zeros), BatchNorm has
``epsilon = 1e-3`` and ``momentum = 0.99`` (npvision's ``BatchNorm2D``
defaults are PyTorch's 1e-5 and 0.9), and an even ``f`` with "same" padding puts
the extra row and column at the bottom and right. :class:`IdentityBlock` and
:class:`ConvolutionalBlock` are npvision Modules (forward, backward, trainable);
:func:`identity_block` and :func:`convolutional_block` are the course's functions:
build the block with fresh weights, run it on ``X`` in training or inference
mode, return the output, as a Keras functional call does.

Weights come from ``initializer(seed=0)`` for every convolution, as in the
course: an *initializer factory* taking a ``seed`` and returning a callable
``init(shape) -> array``. :func:`random_uniform`, :func:`glorot_uniform`,
:func:`he_normal` and :func:`constant` mirror Keras' names and distributions
(NumPy draws, so not Keras' numbers); a Keras initializer works too. With an
int seed every call of the returned initializer starts from that seed, so two
convolutions of the same shape get the same weights (as seeded Keras
initializers do).

The course's ``data_augmenter()`` returns a Keras ``Sequential`` of
``RandomFlip("horizontal")`` and ``RandomRotation(0.2)``; here it returns an
:class:`Augmenter` of :class:`RandomFlip` and :class:`RandomRotation`, which
draw on :mod:`npvision.data.augment` (each image its own random draw; rotation by
up to ``factor * 360`` degrees, filled by reflection like Keras' default).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import nn
from .._checks import _describe, as_float_array, positive_int
from .._rng import as_rng
from ..data import augment

__all__ = ["random_uniform", "glorot_uniform", "he_normal", "constant", "IdentityBlock",
           "ConvolutionalBlock", "identity_block", "convolutional_block", "RandomFlip",
           "RandomRotation", "Augmenter", "data_augmenter"]

# Keras' BatchNormalization defaults (npvision's BatchNorm2D has PyTorch's).
BN_EPS = 1e-3
BN_MOMENTUM = 0.99


# ----------------------------------------------------------------------------- initializers

class _Initializer:
    """``init(shape, dtype=None) -> array``: one seeded (or default-generator) draw per call."""

    def __init__(self, name: str, draw, seed=None):
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise TypeError(f"seed: expected None or an int, received {_describe(seed)}")
        self.name, self._draw, self.seed = name, draw, seed

    def __call__(self, shape, dtype=None) -> np.ndarray:
        rng = as_rng(None) if self.seed is None else np.random.default_rng(self.seed)
        out = self._draw(tuple(int(n) for n in shape), rng)
        return out.astype(dtype or np.float32, copy=False)

    def __repr__(self) -> str:
        return f"{self.name}(seed={self.seed})"


def random_uniform(minval: float = -0.05, maxval: float = 0.05, seed=None) -> _Initializer:
    """``U(minval, maxval)`` (Keras' ``RandomUniform`` defaults); the course's identity block default."""
    return _Initializer("random_uniform", lambda shape, rng: rng.uniform(minval, maxval, shape), seed)


def glorot_uniform(seed=None) -> _Initializer:
    """``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))`` (:func:`npvision.nn.init.glorot_uniform`)."""
    return _Initializer("glorot_uniform", lambda shape, rng: nn.init.glorot_uniform(shape, rng, np.float64),
                        seed)


def he_normal(seed=None) -> _Initializer:
    """``N(0, 2 / fan_in)`` (:func:`npvision.nn.init.he_normal`; Keras truncates its tails, this does not)."""
    return _Initializer("he_normal", lambda shape, rng: nn.init.he_normal(shape, rng, np.float64), seed)


def constant(value: float = 0.0, seed=None) -> _Initializer:
    """Every weight ``value`` (the course's tests use ``constant(value=1)``)."""
    return _Initializer("constant", lambda shape, rng: np.full(shape, float(value)), seed)


def _weight(initializer, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``initializer(seed=0)(shape)`` as an array of ``shape`` and ``dtype``, or a clear error."""
    if not callable(initializer):
        raise TypeError(f"initializer: expected a factory such as glorot_uniform (called as "
                        f"initializer(seed=0)), received {_describe(initializer)}")
    init = initializer(seed=0)
    w = np.asarray(init(shape))          # a Keras initializer returns a tensor: asarray reads it
    if w.shape != shape:
        raise ValueError(f"initializer: returned shape {w.shape} for a weight of shape {shape}")
    return w.astype(dtype)


def _conv(c_in: int, c_out: int, k: int, stride: int, padding: str, initializer, dtype) -> nn.Conv2D:
    conv = nn.Conv2D(c_in, c_out, k, stride=stride, padding=padding, bias=True, dtype=dtype)
    conv.weight.data = _weight(initializer, (k, k, c_in, c_out), dtype)   # (f, f, C_in, C_out)
    return conv


def _bn(c: int, dtype) -> nn.BatchNorm2D:
    return nn.BatchNorm2D(c, momentum=BN_MOMENTUM, eps=BN_EPS, dtype=dtype)


def _filters(filters) -> tuple[int, int, int]:
    try:
        f1, f2, f3 = filters
    except (TypeError, ValueError) as exc:
        raise TypeError(f"filters: expected three ints [F1, F2, F3], received {_describe(filters)}") from exc
    return (positive_int(f1, "filters[0] (F1)"), positive_int(f2, "filters[1] (F2)"),
            positive_int(f3, "filters[2] (F3)"))


# ----------------------------------------------------------------------------- the two blocks

class _MainPath(nn.Module):
    """The three convolutions both blocks share: ``bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))``."""

    def _build_main_path(self, in_channels: int, f: int, filters, s: int, initializer, dtype) -> int:
        f1, f2, f3 = _filters(filters)
        self.conv1 = _conv(in_channels, f1, 1, s, "valid", initializer, dtype)
        self.bn1 = _bn(f1, dtype)
        self.relu1 = nn.ReLU()
        self.conv2 = _conv(f1, f2, f, 1, "same", initializer, dtype)
        self.bn2 = _bn(f2, dtype)
        self.relu2 = nn.ReLU()
        self.conv3 = _conv(f2, f3, 1, 1, "valid", initializer, dtype)
        self.bn3 = _bn(f3, dtype)
        return f3

    def _main_forward(self, x):
        out = self.conv1.forward(x)
        out = self.bn1.forward(out)
        out = self.relu1.forward(out)
        out = self.conv2.forward(out)
        out = self.bn2.forward(out)
        out = self.relu2.forward(out)
        out = self.conv3.forward(out)
        return self.bn3.forward(out)

    def _main_backward(self, d_out):
        d_out = self.bn3.backward(d_out)
        d_out = self.conv3.backward(d_out)
        d_out = self.relu2.backward(d_out)
        d_out = self.bn2.backward(d_out)
        d_out = self.conv2.backward(d_out)
        d_out = self.relu1.backward(d_out)
        d_out = self.bn1.backward(d_out)
        return self.conv1.backward(d_out)


class IdentityBlock(_MainPath):
    """ResNet-50's identity block: ``(m, n_H, n_W, F3) -> (m, n_H, n_W, F3)``.

        out = relu(bn1(conv1(x)))       1x1, F1, "valid"
        out = relu(bn2(conv2(out)))     fxf, F2, "same"
        out = bn3(conv3(out))           1x1, F3, "valid"
        y   = relu(out + x)

    ``in_channels`` must equal ``F3`` (the sum needs equal shapes). Children:
    ``conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3, relu3``.
    """

    def __init__(self, in_channels: int, f: int, filters, initializer=random_uniform, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.f = positive_int(f, "f")
        if _filters(filters)[2] != self.in_channels:
            raise ValueError(f"filters: the identity block adds its input back, so F3 must equal the "
                             f"input's channels {self.in_channels}, received filters {list(filters)}")
        self._build_main_path(in_channels, f, filters, 1, initializer, dtype)
        self.relu3 = nn.ReLU()

    def forward(self, x):
        x_shortcut = x
        out = self._main_forward(x)
        out = out + x_shortcut
        return self.relu3.forward(out)

    def backward(self, dy):
        d_sum = self.relu3.backward(dy)
        d_out = d_sum                     # the sum hands its gradient unchanged to both of its terms
        d_shortcut = d_sum
        d_main = self._main_backward(d_out)
        return d_main + d_shortcut


class ConvolutionalBlock(_MainPath):
    """ResNet-50's convolutional block: ``(m, n_H, n_W, C) -> (m, ceil(n_H / s), ceil(n_W / s), F3)``.

        out = relu(bn1(conv1(x)))       1x1, F1, stride s, "valid"
        out = relu(bn2(conv2(out)))     fxf, F2, "same"
        out = bn3(conv3(out))           1x1, F3, "valid"
        shortcut = bn_shortcut(conv_shortcut(x))    1x1, F3, stride s, "valid"  (the course's X_shortcut)
        y   = relu(out + shortcut)

    Children: ``conv1, bn1, relu1, conv2, bn2, relu2, conv3, bn3, conv_shortcut,
    bn_shortcut, relu3``.
    """

    def __init__(self, in_channels: int, f: int, filters, s: int = 2, initializer=glorot_uniform,
                 dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.f = positive_int(f, "f")
        self.s = positive_int(s, "s")
        f3 = self._build_main_path(in_channels, f, filters, s, initializer, dtype)
        self.conv_shortcut = _conv(in_channels, f3, 1, s, "valid", initializer, dtype)
        self.bn_shortcut = _bn(f3, dtype)
        self.relu3 = nn.ReLU()

    def forward(self, x):
        x_shortcut = x
        out = self._main_forward(x)
        x_shortcut = self.conv_shortcut.forward(x_shortcut)
        x_shortcut = self.bn_shortcut.forward(x_shortcut)
        out = out + x_shortcut
        return self.relu3.forward(out)

    def backward(self, dy):
        d_sum = self.relu3.backward(dy)
        d_out = d_sum                     # the sum hands its gradient unchanged to both of its terms
        d_shortcut = d_sum
        d_shortcut = self.bn_shortcut.backward(d_shortcut)
        d_shortcut = self.conv_shortcut.backward(d_shortcut)
        d_main = self._main_backward(d_out)
        return d_main + d_shortcut


def _run(block: nn.Module, X: np.ndarray, training) -> np.ndarray:
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training: expected True or False, received {_describe(training)}")
    block.train() if training else block.eval()
    return block.forward(X)


def _block_input(X) -> np.ndarray:
    X = as_float_array(X, "X", ndim=4, layout="(m, n_H, n_W, n_C)")
    return np.ascontiguousarray(X)


def identity_block(X, f, filters, training=True, initializer=random_uniform):
    """The course's ``identity_block``: build an :class:`IdentityBlock` and run it on ``X``.

    ``X (m, n_H, n_W, n_C)``, ``f`` the middle convolution's window, ``filters = [F1, F2, F3]``
    with ``F3 = n_C``, ``training`` True (BatchNorm normalizes with the batch's mean
    and variance) or False (with its running statistics, which start at 0 and 1),
    ``initializer`` a factory called as ``initializer(seed=0)`` for every weight.
    Returns the block's output ``(m, n_H, n_W, F3)`` in ``X``'s dtype.
    """
    X = _block_input(X)
    block = IdentityBlock(X.shape[-1], f, filters, initializer=initializer, dtype=X.dtype)
    return _run(block, X, training)


def convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform):
    """The course's ``convolutional_block``: build a :class:`ConvolutionalBlock` and run it on ``X``.

    As :func:`identity_block`, with the stride ``s`` on the first convolution and on
    the shortcut's. Returns ``(m, floor((n_H - 1) / s) + 1, floor((n_W - 1) / s) + 1, F3)``.
    """
    X = _block_input(X)
    block = ConvolutionalBlock(X.shape[-1], f, filters, s, initializer=initializer, dtype=X.dtype)
    return _run(block, X, training)


# ----------------------------------------------------------------------------- the data augmenter

def _images(images) -> tuple[np.ndarray, bool]:
    x = as_float_array(images, "images", ndim=(3, 4), layout="(H, W, C) or (N, H, W, C)")
    return (x[None], True) if x.ndim == 3 else (x, False)


class RandomFlip:
    """Mirror each image with probability 1/2: ``mode`` ``"horizontal"`` (left-right),
    ``"vertical"`` or ``"horizontal_and_vertical"`` (Keras' ``RandomFlip``)."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal_and_vertical", rng=None):
        if mode not in self.MODES:
            raise ValueError(f"mode: expected one of {self.MODES}, received {mode!r}")
        self.mode, self.name, self.rng = mode, "random_flip", as_rng(rng)

    def __call__(self, images, training: bool = True) -> np.ndarray:
        x, single = _images(images)
        if not training:
            return images
        horizontal = self.mode != "vertical"
        vertical = self.mode != "horizontal"
        out = np.stack([augment.random_flip(img, self.rng, horizontal=horizontal, vertical=vertical).image
                        for img in x])                                     # (N, H, W, C)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomFlip({self.mode!r})"


class RandomRotation:
    """Rotate each image by an angle drawn from ``[-factor, factor] x 360`` degrees (Keras'
    ``RandomRotation(factor)``: ``factor`` is a fraction of a full turn), bilinear, the
    outside filled by reflection (Keras' default ``fill_mode``)."""

    def __init__(self, factor: float, fill_mode: str = "reflect", rng=None):
        if not isinstance(factor, numbers.Real) or isinstance(factor, bool) or not 0 <= factor <= 1:
            raise ValueError(f"factor: expected a fraction of a full turn in [0, 1], received {factor!r}")
        self.factor, self.fill_mode, self.name, self.rng = float(factor), fill_mode, "random_rotation", as_rng(rng)

    def __call__(self, images, training: bool = True) -> np.ndarray:
        x, single = _images(images)
        if not training:
            return images
        max_angle = 360.0 * self.factor
        out = np.stack([augment.random_rotation(img, self.rng, max_angle, mode=self.fill_mode).image
                        for img in x])                                     # (N, H, W, C)
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RandomRotation({self.factor})"


class Augmenter:
    """Random layers applied in order (the course's ``tf.keras.Sequential`` of augmentations).

    ``augmenter(images)`` augments a batch ``(N, H, W, C)`` or one image;
    ``augmenter(images, training=False)`` returns it unchanged. ``layers`` lists them.
    """

    def __init__(self, layers=()):
        self.layers = list(layers)

    def add(self, layer) -> None:
        self.layers.append(layer)

    def __call__(self, images, training: bool = True) -> np.ndarray:
        for layer in self.layers:
            images = layer(images, training=training)
        return images

    def __repr__(self) -> str:
        return f"Augmenter({self.layers!r})"


def data_augmenter(rng=None) -> Augmenter:
    """The course's ``data_augmenter()``: a horizontal flip, then a rotation of up to 0.2 turn (72 degrees)."""
    augmenter = Augmenter()
    augmenter.add(RandomFlip("horizontal", rng=rng))
    augmenter.add(RandomRotation(0.2, rng=rng))
    return augmenter
