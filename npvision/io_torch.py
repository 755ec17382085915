"""Weights from and to the PyTorch ecosystem: torchvision state dicts in npvision models.

Users who have PyTorch hold ImageNet-trained torchvision weights. Saved once as
an ``.npz`` where torchvision is installed, they run in npvision without it:

    # where torchvision is installed, once:
    import numpy as np, torchvision
    model = torchvision.models.resnet50(weights="IMAGENET1K_V2")
    np.savez("resnet50.npz", **{k: v.numpy() for k, v in model.state_dict().items()})

    # in npvision (no PyTorch needed):
    from npvision import models
    from npvision.io import load_torch_weights
    net = load_torch_weights(models.create("resnet50"), "resnet50.npz").eval()
    logits = net.forward(images)     # (N, 224, 224, 3), RGB in [0, 1] minus IMAGENET_MEAN, over IMAGENET_STD

``load_torch_weights`` also reads a ``.pth`` directly when PyTorch happens to be
installed. ``from_torch_state_dict(model, state_dict)`` takes the mapping
itself (NumPy arrays or tensors), ``to_torch_state_dict(model)`` goes the other
way (``torch_model.load_state_dict({k: torch.from_numpy(v) ...})``), and
``expected_torch_shapes(model)`` lists the keys and shapes a model expects.

Supported: :class:`~npvision.models.VGG` (vgg11/16/19, ``batch_norm`` too),
:class:`~npvision.models.AlexNet`, :class:`~npvision.models.ResNet`
(resnet18/34/50), :class:`~npvision.models.MobileNetV2` and
:class:`~npvision.models.EfficientNet` (B0..B7), each built with the same
options as the torchvision model (``num_classes=1000`` for ImageNet weights).

**Layouts.** Each array is converted; the dtype of the model is kept.

    array            torchvision            npvision               npvision from torchvision
    conv weight      (C_out, C_in, KH, KW)  (KH, KW, C_in, C_out)  w.transpose(2, 3, 1, 0)
    depthwise        (C M, 1, KH, KW)       (KH, KW, C, M)         w.reshape(C, M, KH, KW).transpose(2, 3, 0, 1)
    Linear weight    (D_out, D_in)          (D_in, D_out)          w.T
    BatchNorm        weight, bias           gamma, beta            as they are
                     running_mean, _var     running_mean, _var     as they are
                     num_batches_tracked    (not kept)             ignored; exported as 0
    every bias       (C,)                   (C,)                   as it is

Depthwise output channel ``c M + m`` is filter ``m`` of input channel ``c`` in
both libraries. **Flattening**: the first fully connected layer of VGG and
AlexNet reads a flattened ``(h, w, C)`` map. torchvision flattens it channels-first, npvision
channels-last, so that layer's input rows are permuted:

    npvision row (i w + j) C + c   =   torchvision column (c h + i) w + j

**Names.** VGG, AlexNet and ResNet use torchvision's module names in npvision
too (``features.28``, ``layer3.1.conv2``, ``downsample.0``, ``classifier.6``,
``fc``). MobileNet v2 and EfficientNet are renamed:

    npvision                         torchvision MobileNet v2          torchvision EfficientNet
    conv1 / stem  (.conv, .bn)       features.0.0, features.0.1        features.0.0, features.0.1
    stage s, block b: expand         features.i.conv.0.{0,1}           features.s.b.block.0.{0,1}
                      depthwise      features.i.conv.{0|1}.{0,1}       features.s.b.block.{0|1}.{0,1}
                      se.fc1, se.fc2 (none)                            features.s.b.block.{1|2}.fc1, .fc2
                      project        features.i.conv.{1|2}, .{2|3}     features.s.b.block.{2|3}.{0,1}
    conv_last / head                 features.18.0, features.18.1      features.8.0, features.8.1
    fc                               classifier.1                      classifier.1

(``i`` counts MobileNet v2's blocks from 1 across the stages; the indices in
braces shift by one when a block has no expansion, ``t = 1``.)

**Differences from torchvision, checked against torchvision 0.29 with the
goldens of tests/data/make_torchvision_goldens.py:**

* VGG and AlexNet: torchvision average-pools the features to 7x7 (AlexNet
  6x6, ``AdaptiveAvgPool2d``) before the classifier; npvision sizes the
  classifier from the input. At 224x224 they agree; for other sizes build the
  model with ``adaptive_pool=(7, 7)`` (AlexNet ``(6, 6)``).
* VGG with BatchNorm: npvision leaves out the convolutions' biases (BatchNorm's
  beta makes them redundant); torchvision's ``vgg*_bn`` keep them. Build those
  with ``batch_norm=True, conv_bias=True``; without it the loader's error says so.
* VGG and AlexNet: the flattening order, ``(c, h, w)`` against ``(h, w, c)``:
  the loader permutes the first fully connected layer (above).
* BatchNorm momentum: the same rule with the complementary number: npvision's
  ``momentum`` weights the old running value (0.9), PyTorch's the new batch
  (0.1). torchvision's EfficientNet-B5..B7 use PyTorch's 0.01: npvision's
  ``EfficientNet(bn_momentum=0.99)``, their default. Only training moves the
  running statistics; logits at evaluation agree either way.
* EfficientNet: torchvision trains with stochastic depth (block ``i`` of ``L``
  drops a sample's residual branch with probability ``0.2 i / L``); npvision's
  ``EfficientNet(stochastic_depth=0.2)`` does the same and is off by default.
  At evaluation it is the identity, so the logits agree either way.
* Identical in both, checked: BatchNorm epsilon (1e-5; EfficientNet-B5..B7
  1e-3), squeeze-excitation width (``C_in // 4`` of the block's input), SiLU in
  EfficientNet and its SE, ReLU6 in MobileNet v2, symmetric ``(k - 1) // 2``
  padding of every (stride-2 included) convolution, floor-mode pooling
  (``ceil_mode=False``), ResNet's -inf-padded 3x3/2 max pool, ResNet-50's stride
  on the 3x3 convolution (v1.5), and dropout rates (off at evaluation).

**Inputs.** torchvision's ImageNet weights expect RGB images in [0, 1],
normalized per channel: ``(x - IMAGENET_MEAN) / IMAGENET_STD`` (channels-last
here: ``(N, H, W, 3)`` where torchvision's is ``(N, 3, H, W)``).

**Errors.** Nothing is changed unless every check passes. A missing key, a key
the model has no place for, or an array of the wrong shape raises
:class:`~npvision.io.WeightsFileError` naming the key (and the expected and
received torchvision shapes); when the keys belong to another architecture the
message says which torchvision model they look like.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .io import WeightsFileError
from .models._common import make_divisible
from .models.alexnet import AlexNet
from .models.efficientnet import B0_SETTING, SCALING, EfficientNet
from .models.mobilenet import MobileNetV2
from .models.resnet import ResNet
from .models.vgg import VGG
from .nn.conv import Conv2D, DepthwiseConv2D
from .nn.linear import Linear
from .nn.module import Module
from .nn.norm import BatchNorm2D

__all__ = ["from_torch_state_dict", "to_torch_state_dict", "load_torch_weights",
           "expected_torch_shapes", "IMAGENET_MEAN", "IMAGENET_STD", "NPZ_SNIPPET"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)   # RGB, images in [0, 1]
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

NPZ_SNIPPET = ('import numpy as np, torchvision\n'
               'model = torchvision.models.resnet50(weights="IMAGENET1K_V2")   # or your own model\n'
               'np.savez("resnet50.npz", **{k: v.numpy() for k, v in model.state_dict().items()})')


# ---------------------------------------------------------------------------
# layouts: how one array is stored in torchvision and in npvision
# ---------------------------------------------------------------------------

class _Same:
    """Biases and BatchNorm vectors: the same array in both."""

    def torch_shape(self, shape):
        return tuple(shape)

    def to_torch(self, a):
        return a

    def from_torch(self, t, shape):
        return t


class _Conv:
    """Conv weight: npvision ``(KH, KW, C_in, C_out)``, torchvision ``(C_out, C_in, KH, KW)``."""

    def torch_shape(self, shape):
        kh, kw, c_in, c_out = shape
        return (c_out, c_in, kh, kw)

    def to_torch(self, a):
        return a.transpose(3, 2, 0, 1)                      # (KH, KW, Ci, Co) -> (Co, Ci, KH, KW)

    def from_torch(self, t, shape):
        return t.transpose(2, 3, 1, 0)                      # (Co, Ci, KH, KW) -> (KH, KW, Ci, Co)


class _Depthwise:
    """Depthwise weight: npvision ``(KH, KW, C, M)``, torchvision ``(C M, 1, KH, KW)`` (groups = C)."""

    def torch_shape(self, shape):
        kh, kw, c, m = shape
        return (c * m, 1, kh, kw)

    def to_torch(self, a):
        kh, kw, c, m = a.shape
        # (KH, KW, C, M) -> (C, M, KH, KW) -> (C M, 1, KH, KW): output channel c M + m
        return a.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)

    def from_torch(self, t, shape):
        kh, kw, c, m = shape
        # (C M, 1, KH, KW) -> (C, M, KH, KW) -> (KH, KW, C, M)
        return t.reshape(c, m, kh, kw).transpose(2, 3, 0, 1)


class _Linear:
    """Linear weight: npvision ``(D_in, D_out)``, torchvision ``(D_out, D_in)``."""

    def torch_shape(self, shape):
        return tuple(shape)[::-1]

    def to_torch(self, a):
        return a.T                                          # (D_in, D_out) -> (D_out, D_in)

    def from_torch(self, t, shape):
        return t.T                                          # (D_out, D_in) -> (D_in, D_out)


class _FlattenedLinear(_Linear):
    """The Linear layer after a flatten: its input rows follow ``(h, w, c)`` here, ``(c, h, w)`` there."""

    def __init__(self, h: int, w: int, c: int):
        self.h, self.w, self.c = h, w, c

    def to_torch(self, a):
        h, w, c, d_out = self.h, self.w, self.c, a.shape[1]
        # (h w c, D_out) -> (h, w, c, D_out) -> (D_out, c, h, w)
        t = a.reshape(h, w, c, d_out).transpose(3, 2, 0, 1)
        return t.reshape(d_out, c * h * w)                      # (D_out, c h w)

    def from_torch(self, t, shape):
        h, w, c, d_out = self.h, self.w, self.c, t.shape[0]
        # (D_out, c h w) -> (D_out, c, h, w) -> (h, w, c, D_out)
        a = t.reshape(d_out, c, h, w).transpose(2, 3, 1, 0)
        return a.reshape(h * w * c, d_out)                      # (h w c, D_out)


_SAME, _CONV, _DEPTHWISE, _LINEAR = _Same(), _Conv(), _Depthwise(), _Linear()


# ---------------------------------------------------------------------------
# names: torchvision's prefix of every npvision layer, per architecture
# ---------------------------------------------------------------------------
# Each function yields (torchvision prefix, npvision layer, layout of a Linear's
# weight or None) in torchvision's state-dict order.

def _features_classifier_layers(model):
    """VGG and AlexNet: torchvision's names are npvision's, ``features.<i>`` and ``classifier.<i>``."""
    for i, layer in enumerate(model.features):
        if isinstance(layer, (Conv2D, BatchNorm2D)):
            yield f"features.{i}", layer, None
    linears = [(i, layer) for i, layer in enumerate(model.classifier) if isinstance(layer, Linear)]
    for i, layer in linears:
        flattened = _FlattenedLinear(*model.flat_shape) if i == linears[0][0] else None
        yield f"classifier.{i}", layer, flattened


def _resnet_layers(model: ResNet):
    """torchvision's names are npvision's: ``conv1, bn1, layer<k>.<b>.conv1 ... downsample.<0|1>, fc``."""
    for name, layer in model.named_modules():
        if isinstance(layer, (Conv2D, BatchNorm2D, Linear)):
            yield name, layer, None


def _conv_bn(prefix: str, unit):
    """A ConvBNAct is torchvision's ``Conv2dNormActivation``: ``<prefix>.0`` conv, ``<prefix>.1`` BN."""
    yield f"{prefix}.0", unit.conv, None
    yield f"{prefix}.1", unit.bn, None


def _stages(model, first: int = 1, last: int = 7) -> list:
    return [getattr(model, f"stage{s}") for s in range(first, last + 1)]


def _mobilenet_v2_layers(model: MobileNetV2):
    """``features.0`` stem, ``features.1..17`` the blocks, ``features.18`` last conv, ``classifier.1``."""
    yield from _conv_bn("features.0", model.conv1)
    blocks = [block for stage in _stages(model) for block in stage]
    for i, block in enumerate(blocks, start=1):
        units = [u for u in (block.expand, block.depthwise) if u is not None]
        for j, unit in enumerate(units):
            yield from _conv_bn(f"features.{i}.conv.{j}", unit)
        # the projection is a bare Conv2d and BatchNorm2d in torchvision's block, not a unit
        yield f"features.{i}.conv.{len(units)}", block.project.conv, None
        yield f"features.{i}.conv.{len(units) + 1}", block.project.bn, None
    yield from _conv_bn(f"features.{len(blocks) + 1}", model.conv_last)
    yield "classifier.1", model.fc, None


def _efficientnet_layers(model: EfficientNet):
    """``features.0`` stem, ``features.<s>.<b>.block`` the MBConvs, ``features.8`` head, ``classifier.1``."""
    yield from _conv_bn("features.0", model.stem)
    for s, stage in enumerate(_stages(model), start=1):
        for b, block in enumerate(stage):
            prefix, j = f"features.{s}.{b}.block", 0
            if block.expand is not None:
                yield from _conv_bn(f"{prefix}.{j}", block.expand)
                j += 1
            yield from _conv_bn(f"{prefix}.{j}", block.depthwise)
            j += 1
            if block.se is not None:
                yield f"{prefix}.{j}.fc1", block.se.fc1, None
                yield f"{prefix}.{j}.fc2", block.se.fc2, None
                j += 1
            yield from _conv_bn(f"{prefix}.{j}", block.project)
    yield from _conv_bn("features.8", model.head)
    yield "classifier.1", model.fc, None


_ARCHITECTURES = [(VGG, _features_classifier_layers), (AlexNet, _features_classifier_layers),
                  (ResNet, _resnet_layers), (MobileNetV2, _mobilenet_v2_layers),
                  (EfficientNet, _efficientnet_layers)]


# ---------------------------------------------------------------------------
# slots: one per torchvision key
# ---------------------------------------------------------------------------

class _Slot(NamedTuple):
    key: str                      # torchvision's key
    name: str | None              # npvision's state-dict name (None: num_batches_tracked, not kept)
    layout: object                # a layout above (None for num_batches_tracked)
    shape: tuple                  # npvision's shape
    hint: str                     # said when the shapes disagree


_BN_ARRAYS = [("weight", "gamma"), ("bias", "beta"), ("running_mean", "running_mean"),
              ("running_var", "running_var")]


def _describe(model) -> str:
    arch = getattr(model, "architecture", None)
    return type(model).__name__ + (f" ({arch!r})" if arch else "")


def _layer_slots(prefix: str, name: str, layer, linear_layout, hint: str) -> list[_Slot]:
    """The torchvision keys of one npvision layer (``prefix``: torchvision's, ``name``: npvision's)."""
    if isinstance(layer, BatchNorm2D):
        slots = [_Slot(f"{prefix}.{tv}", f"{name}.{ours}", _SAME, getattr(layer, ours).shape, "")
                 for tv, ours in _BN_ARRAYS]                     # a Parameter's or a buffer's shape
        return slots + [_Slot(f"{prefix}.num_batches_tracked", None, None, (), "")]
    if isinstance(layer, Conv2D):
        layout = _CONV
    elif isinstance(layer, DepthwiseConv2D):
        layout = _DEPTHWISE
    else:
        layout = linear_layout or _LINEAR
    slots = [_Slot(f"{prefix}.weight", f"{name}.weight", layout, layer.weight.shape, hint)]
    if layer.bias is not None:
        slots.append(_Slot(f"{prefix}.bias", f"{name}.bias", _SAME, layer.bias.shape, hint))
    return slots


def _shape_hint(model, linear_layout, is_classifier: bool) -> str:
    """What to change when a fully connected layer's shape disagrees."""
    if isinstance(linear_layout, _FlattenedLinear):
        h, w, c = linear_layout.h, linear_layout.w, linear_layout.c
        pool = (6, 6) if isinstance(model, AlexNet) else (7, 7)
        return (f"; this fully connected layer reads the flattened {h}x{w}x{c} features: torchvision "
                f"pools them to {pool[0]}x{pool[1]}, so build the model at input_shape=(224, 224, 3) or "
                f"with adaptive_pool={pool}, and hidden = the first number received")
    if is_classifier:
        return "; this is the classifier: build the model with num_classes = the first number received"
    return ""


def _slots(model) -> list[_Slot]:
    """Every torchvision key of ``model``'s counterpart, in torchvision's order, with its npvision array."""
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an npvision model (an npvision.nn.Module), "
                        f"received {type(model).__name__}")
    layers_of = next((fn for cls, fn in _ARCHITECTURES if isinstance(model, cls)), None)
    if layers_of is None:
        supported = ", ".join(cls.__name__ for cls, _ in _ARCHITECTURES)
        raise TypeError(f"model: torchvision weights can be loaded into {supported}; "
                        f"received a {type(model).__name__}")
    names = {id(m): n for n, m in model.named_modules()}
    layers = list(layers_of(model))
    classifier = [layer for _, layer, _ in layers if isinstance(layer, Linear)][-1]
    slots = []
    for prefix, layer, linear_layout in layers:
        hint = _shape_hint(model, linear_layout, layer is classifier)
        slots += _layer_slots(prefix, names[id(layer)], layer, linear_layout, hint)
    return slots


def expected_torch_shapes(model) -> "OrderedDict[str, tuple]":
    """``{torchvision key: torchvision shape}``, in order: what ``from_torch_state_dict`` expects."""
    return OrderedDict((s.key, s.layout.torch_shape(s.shape) if s.layout else ()) for s in _slots(model))


# ---------------------------------------------------------------------------
# the public functions
# ---------------------------------------------------------------------------

def _as_numpy(value, key: str) -> np.ndarray:
    """A NumPy array from an array or a torch tensor (torch is never imported here)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):     # a torch.Tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":                  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    try:
        return np.asarray(value)
    except Exception as exc:
        raise TypeError(f"state_dict[{key!r}]: expected a NumPy array or a tensor, received "
                        f"{type(value).__name__}") from exc


def _listed(keys: list, what: str) -> str:
    """``"1 key <what>: 'a'"`` or ``"12 keys <what>: 'a', 'b', ... "`` (the first six)."""
    shown = ", ".join(repr(k) for k in keys[:6]) + (", ..." if len(keys) > 6 else "")
    return f"{len(keys)} key{'s' if len(keys) > 1 else ''} {what}: {shown}"


def from_torch_state_dict(model, state_dict):
    """Load a torchvision-layout ``state_dict`` into ``model`` (in place); returns ``model``.

    ``state_dict`` maps torchvision's key names (``"features.0.weight"``,
    ``"layer1.0.bn1.running_var"``, ...) to NumPy arrays or torch tensors, as
    ``torchvision_model.state_dict()`` or ``np.load("x.npz")`` give. Every
    array is converted to npvision's layout (see the module docstring) and cast
    to the model's dtype. ``num_batches_tracked`` entries may be present or not.

    Raises :class:`~npvision.io.WeightsFileError`, naming the key, when a key
    is missing, a key has no place in this model (then it also says which
    torchvision architecture the keys look like), or an array has the wrong
    shape (expected and received torchvision shapes); the model is then left
    unchanged. ``TypeError`` for a model of an unsupported class.
    """
    slots = _slots(model)
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict: expected a mapping from torchvision key names to arrays or "
                        f"tensors, received {type(state_dict).__name__}")
    expected = {s.key: s for s in slots}
    missing = [s.key for s in slots if s.name is not None and s.key not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    if missing or extra:
        parts = []
        if extra:
            parts.append("it has " + _listed(extra, "this model has no place for"))
        if missing:
            parts.append("it lacks " + _listed(missing, "this model needs"))
        guess = _guess_architecture(state_dict)
        same = guess is not None and guess == getattr(model, "architecture", None)
        looks = f"; its keys look like torchvision's {guess}" if guess and not same else ""
        if (isinstance(model, VGG) and extra and not missing
                and all(k.startswith("features.") and k.endswith(".bias") for k in extra)):
            looks += ("; torchvision's VGGs with BatchNorm keep their convolutions' biases: build the "
                      "model with conv_bias=True")
        raise WeightsFileError(f"state_dict: does not fit this {_describe(model)}: "
                               f"{'; '.join(parts)}{looks}")

    arrays = {}
    for s in slots:
        if s.name is None:                                        # num_batches_tracked
            continue
        a = _as_numpy(state_dict[s.key], s.key)
        want = s.layout.torch_shape(s.shape)
        if a.shape != want:
            raise WeightsFileError(f"state_dict[{s.key!r}]: has shape {a.shape}, this {_describe(model)} "
                                   f"expects {want} (torchvision's layout of npvision's {s.name!r}, "
                                   f"shape {s.shape}){s.hint}")
        if a.dtype.kind != "f":
            raise WeightsFileError(f"state_dict[{s.key!r}]: expected floating-point values, received "
                                   f"dtype {a.dtype}")
        arrays[s.name] = s.layout.from_torch(a, s.shape)
    model.load_state_dict(arrays, strict=True)     # casts to the model's dtype, copies
    return model


def to_torch_state_dict(model) -> "OrderedDict[str, np.ndarray]":
    """``model``'s weights as torchvision's state dict: ``{key: array}`` in torchvision's order.

    The exact inverse of :func:`from_torch_state_dict` (arrays in the model's
    dtype, C-contiguous copies; ``num_batches_tracked`` as an int64 zero, which
    PyTorch's ``load_state_dict`` expects). In PyTorch:
    ``tv_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``.
    """
    slots = _slots(model)
    current = {name: p.data for name, p in model.named_parameters()}
    current.update(model.named_buffers())
    out = OrderedDict()
    for s in slots:
        if s.name is None:
            out[s.key] = np.array(0, dtype=np.int64)
        else:
            out[s.key] = np.array(s.layout.to_torch(current[s.name]), order="C", copy=True)
    return out


def load_torch_weights(model, path):
    """Load torchvision weights from a file into ``model`` (in place); returns ``model``.

    ``path`` ending in ``.npz``: an archive of torchvision's keys, as the
    snippet in the module docstring writes (:data:`NPZ_SNIPPET`); read with
    NumPy alone. Any other file (``.pth``, ``.pt``, ...) is read with
    ``torch.load(path, map_location="cpu", weights_only=True)``, which needs
    PyTorch: without it an ``ImportError`` says how to make the ``.npz``. A
    checkpoint that wraps the state dict under ``"state_dict"`` or ``"model"``
    is unwrapped, and a ``"module."`` prefix on every key (``DataParallel``) is
    dropped. Then :func:`from_torch_state_dict`.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected a file path (str or os.PathLike), "
                        f"received {type(path).__name__}") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such weights file")
    state = _read_npz(path) if path.endswith(".npz") else _read_torch_file(path)
    try:
        return from_torch_state_dict(model, state)
    except WeightsFileError as exc:
        raise WeightsFileError(f"{path}: {exc}") from None


def _read_npz(path: str) -> dict:
    import zipfile
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "__npvision__" in archive.files:
                raise WeightsFileError(f"{path}: is an npvision weights file (written by save_weights), "
                                       f"not torchvision's keys; load it with npvision.io.load_weights")
            return {k: archive[k] for k in archive.files}
    except WeightsFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise WeightsFileError(f"{path}: cannot be read as an .npz archive; it is truncated or corrupt "
                               f"({type(exc).__name__}: {exc})") from exc


def _read_torch_file(path: str) -> dict:
    try:
        import torch
    except ImportError:
        raise ImportError(f"{path}: reading a PyTorch file needs PyTorch, which is not installed. Where "
                          f"PyTorch is, save the weights as .npz once and load that instead:\n"
                          f"{NPZ_SNIPPET}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsFileError(f"{path}: torch.load could not read it as a state dict "
                               f"({type(exc).__name__}: {exc})") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping):
        raise WeightsFileError(f"{path}: holds a {type(obj).__name__}, not a state dict (a mapping from "
                               f"key names to tensors)")
    if obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


# ---------------------------------------------------------------------------
# which torchvision model do these keys come from? (for error messages)
# ---------------------------------------------------------------------------

_RESNETS = {((2, 2, 2, 2), False): "resnet18", ((3, 4, 6, 3), False): "resnet34",
            ((3, 4, 6, 3), True): "resnet50", ((3, 4, 23, 3), True): "resnet101",
            ((3, 8, 36, 3), True): "resnet152"}
_VGGS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}


def _guess_architecture(state: Mapping) -> str | None:
    """The torchvision architecture whose state-dict keys these are, when recognizable."""
    keys = [k for k in state if isinstance(k, str)]
    ndim = {k: np.ndim(state[k]) if not hasattr(state[k], "dim") else state[k].dim() for k in keys}
    if "fc.weight" in ndim and "layer1.0.conv1.weight" in ndim:
        blocks = tuple(len({k.split(".")[1] for k in keys if k.startswith(f"layer{i}.")})
                       for i in range(1, 5))
        bottleneck = "layer1.0.conv3.weight" in ndim
        kind = "Bottleneck" if bottleneck else "BasicBlock"
        return _RESNETS.get((blocks, bottleneck), f"ResNet with {kind}s {list(blocks)}")
    if "classifier.6.weight" in ndim and "classifier.1.weight" in ndim:
        return "alexnet"
    if "classifier.6.weight" in ndim:
        convs = sum(1 for k in keys if k.startswith("features.") and k.endswith(".weight") and ndim[k] == 4)
        bn = "_bn" if any(k.endswith("running_mean") for k in keys) else ""
        return _VGGS[convs] + bn if convs in _VGGS else f"VGG with {convs} convolutions"
    if "features.1.conv.0.0.weight" in ndim and "classifier.1.weight" in ndim:
        return "mobilenet_v2"
    if "features.1.0.block.0.0.weight" in ndim:
        blocks = len({tuple(k.split(".")[1:3]) for k in keys if ".block." in k})
        stem = np.shape(state["features.0.0.weight"])[0] if "features.0.0.weight" in ndim else None
        for phi, (width, depth, _, _) in SCALING.items():
            if (blocks == sum(math.ceil(n * depth) for *_, n in B0_SETTING)
                    and stem == make_divisible(32 * width, 8)):
                return f"efficientnet_b{phi}"
        return "EfficientNet (not one of B0..B7)"
    return None
