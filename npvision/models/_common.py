"""Small helpers shared by the model files (private).

* :func:`check_model_args` validates ``num_classes`` and ``input_shape`` for
  models that are built directly (``create`` validates ``input_shape`` too).
* :class:`ChainModel` is the base of the models that are one chain of named
  layers (AlexNet, VGG, GoogLeNet, MobileNet, EfficientNet): ``forward`` runs
  the children in the order ``__init__`` assigned them, ``backward`` runs
  them in reverse, so each model's ``__init__`` reads like its paper's table.
* :func:`make_divisible` is the channel-rounding rule of MobileNet v2 and
  EfficientNet: round ``v`` to the nearest multiple of ``divisor`` (at least
  ``divisor``), going one multiple up if rounding lost more than 10 %.

      make_divisible(32 * 0.25)  = 8       make_divisible(1280 * 1.1) = 1408
      make_divisible(35.2)       = 32      (32 >= 0.9 * 35.2, kept)
      make_divisible(12)         = 16      (12 + 4 = 16; 16 // 8 * 8 = 16)
"""

from __future__ import annotations

import numbers

from .._checks import positive_int
from ..nn.module import Sequential

__all__: list[str] = []


def check_model_args(num_classes, input_shape, model: str) -> tuple[int, tuple[int, int, int]]:
    """``num_classes`` a positive int and ``input_shape`` an ``(H, W, C)`` of positive ints."""
    num_classes = positive_int(num_classes, "num_classes")
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                    for v in input_shape)):
        raise ValueError(f"input_shape: {model} expects (H, W, C) positive ints, received {input_shape!r}")
    return num_classes, tuple(int(v) for v in input_shape)


class ChainModel(Sequential):
    """A model whose children run one after another, in the order they were assigned.

    :class:`~npvision.nn.Sequential`'s forward and backward, but the layers keep their own names
    (``conv1``, ``stage3``, ``fc``), so parameter names read
    ``"stage3.0.project.bn.gamma"`` rather than ``"3.0.project.bn.gamma"``.
    A subclass assigns its layers in ``__init__`` in forward order and writes
    no ``forward``/``backward`` of its own:

        y = child_k( ... child_2(child_1(x)))
        dx = child_1.backward( ... child_k.backward(dy))

    The first layer of an image model does not compute ``d image``, so
    ``backward`` then returns None.
    """


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``v`` rounded to a multiple of ``divisor``, never below ``min_value`` nor below ``0.9 v``.

    ``new = max(min_value, floor((v + divisor / 2) / divisor) * divisor)``, and
    ``new += divisor`` when ``new < 0.9 v``. ``min_value`` defaults to ``divisor``.
    """
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"v: expected a positive number of channels, received {v!r}")
    divisor = positive_int(divisor, "divisor")
    min_value = divisor if min_value is None else positive_int(min_value, "min_value")
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # rounding down must not remove more than 10 %
        new_v += divisor
    return new_v
