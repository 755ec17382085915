"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998), with full connectivity.

    input 32x32x1
    C1  conv 5x5, 6 maps           -> 28x28x6     (156 parameters)
    S2  pool 2x2, stride 2         -> 14x14x6
    C3  conv 5x5, 16 maps          -> 10x10x16    (2,416; the paper's sparse C3 table has 1,516)
    S4  pool 2x2, stride 2         -> 5x5x16
    C5  fully connected 400 -> 120                (48,120)
    F6  fully connected 120 -> 84                 (10,164)
    out fully connected 84 -> 10                  (850)
                                   total 61,706

The paper squashes with a scaled tanh and subsamples with trainable average
pooling; the course's version uses tanh (or ReLU) with average or max pooling.
``activation`` and ``pool`` choose; the parameter count does not change.
"""

from __future__ import annotations

from .. import nn
from ..functional.shapes import conv_output_size
from ..nn.init import as_rng
from .registry import register

__all__ = ["LeNet5", "lenet5"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
_POOLS = {"avg": nn.AvgPool2D, "max": nn.MaxPool2D}


class LeNet5(nn.Sequential):
    def __init__(self, num_classes: int = 10, input_shape=(32, 32, 1), activation: str = "tanh",
                 pool: str = "avg", rng=None):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, received {activation!r}")
        if pool not in _POOLS:
            raise ValueError(f"pool: expected one of {sorted(_POOLS)}, received {pool!r}")
        H, W, C = input_shape
        rng = as_rng(rng)  # one generator for all layers (an int seed must not restart per layer)
        act, Pool = _ACTIVATIONS[activation], _POOLS[pool]
        h, w = H, W
        for _ in range(2):  # conv 5x5 then pool 2x2 stride 2, twice
            h, w = conv_output_size(h, 5) // 2, conv_output_size(w, 5) // 2
        if h < 1 or w < 1:
            raise ValueError(f"input_shape: LeNet-5 needs inputs of at least 16x16, received {input_shape}")
        super().__init__(
            nn.Conv2D(C, 6, 5, rng=rng, input_grad=False),  # C1
            act(),
            Pool(2),                                          # S2
            nn.Conv2D(6, 16, 5, rng=rng),                     # C3
            act(),
            Pool(2),                                          # S4
            nn.Flatten(),
            nn.Linear(h * w * 16, 120, rng=rng),              # C5
            act(),
            nn.Linear(120, 84, rng=rng),                      # F6
            act(),
            nn.Linear(84, num_classes, rng=rng),              # output (logits)
        )


@register("lenet5")
def lenet5(num_classes=10, input_shape=(32, 32, 1), **options):
    return LeNet5(num_classes, input_shape, **options)
