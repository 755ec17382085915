"""Name -> constructor registry for the classic ConvNets.

    >>> from npvision import models
    >>> net = models.create("resnet18", num_classes=10, input_shape=(32, 32, 3))
    >>> models.available()
    ['alexnet', 'efficientnet_b0', ..., 'vgg16']

Every constructor takes ``num_classes`` and ``input_shape`` ``(H, W, C)`` (the
fully connected layers of LeNet, AlexNet and VGG are sized from it; the others
end in global average pooling) plus its own keyword options, and returns a
:class:`npvision.nn.Module` whose ``architecture`` attribute is the registered
name (saved with the weights by :func:`npvision.io.save_weights`).
"""

from __future__ import annotations

import numbers

from typing import Callable

__all__ = ["register", "create", "available"]

_REGISTRY: dict[str, Callable] = {}


def register(name: str) -> Callable[[Callable], Callable]:
    """Decorator: make ``fn(num_classes, input_shape, **options)`` available as ``create(name)``."""
    def deco(fn: Callable) -> Callable:
        if _canonical(name) in {_canonical(k) for k in _REGISTRY}:
            raise ValueError(f"name: a model called {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn
    return deco


def _canonical(name: str) -> str:
    """``"ResNet-18"``, ``"resnet_18"`` and ``"resnet18"`` all give ``"resnet18"``."""
    return name.lower().replace("-", "").replace("_", "")


def available() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, num_classes: int | None = None, input_shape: tuple[int, int, int] | None = None,
           **options):
    """Build the model registered as ``name`` (case and ``-``/``_`` are ignored).

    ``num_classes`` and ``input_shape`` default to the model's own (its paper's):
    LeNet-5 is 32x32x1 with 10 classes, ResNet-20 32x32x3 with 10, the ImageNet
    networks 224x224x3 with 1000. Pass them to build another size.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a model name (str), received {type(name).__name__} {name!r}")
    keys = {_canonical(k): k for k in _REGISTRY}
    key = keys.get(_canonical(name))
    if key is None:
        raise ValueError(f"name: unknown model {name!r}; available: {', '.join(available())}")
    given = {}
    if num_classes is not None:
        if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes: expected an int >= 1 (how many classes {key} predicts), "
                             f"received {num_classes!r}")
        given["num_classes"] = int(num_classes)
    if input_shape is not None:
        if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
                and all(isinstance(v, int) and v > 0 for v in input_shape)):
            raise ValueError(f"input_shape: expected (H, W, C) positive ints, received {input_shape!r}")
        given["input_shape"] = tuple(input_shape)
    model = _REGISTRY[key](**given, **options)
    object.__setattr__(model, "architecture", key)
    return model
