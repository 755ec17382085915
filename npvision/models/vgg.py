"""VGG (Simonyan & Zisserman, 2014): stacks of 3x3 "same" convolutions and 2x2 max pools.

VGG-16 (configuration D): 2x64, pool, 2x128, pool, 3x256, pool, 3x512, pool,
3x512, pool -> 7x7x512 at 224x224, then fc 25088 -> 4096 -> 4096 -> classes
with dropout: 138,357,544 parameters for 1000 classes. Each pool halves the
size and the channel count doubles, up to 512: the regularity the course
points out.

The first fully connected layer is sized from the input: it reads the
``(H/32, W/32, 512)`` map the features leave, flattened. torchvision's VGG
instead average-pools that map to 7x7 first (``AdaptiveAvgPool2d((7, 7))``),
so its classifier is 25,088 wide at any input size; ``adaptive_pool=(7, 7)``
does the same here (at 224x224 the pool changes nothing). Either way the
flattening is channels-last, ``(h, w, c)`` order, where torchvision's is
``(c, h, w)``: :func:`npvision.io.from_torch_state_dict` permutes that layer's
rows when it loads torchvision's weights.
"""

from __future__ import annotations

from .. import nn
from ..nn.init import as_rng
from ._common import ChainModel
from .registry import register

__all__ = ["VGG", "vgg11", "vgg16", "vgg19", "CONFIGS"]

# numbers are 3x3 conv output channels, "M" a 2x2 max pool
CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


class VGG(ChainModel):
    """VGG: ``(N, H, W, C) -> (N, num_classes)``.

    Children ``features, [avgpool,] flatten, classifier``, in order
    (torchvision's names and indices inside ``features`` and ``classifier``).
    Options: ``hidden=4096`` (width of the two hidden fully connected layers),
    ``dropout=0.5``, ``batch_norm=False`` (conv -> BN -> ReLU, torchvision's
    ``vgg16_bn``), ``conv_bias=None`` (the convs' biases: by default only
    without BatchNorm, whose beta makes them redundant; torchvision's ``vgg*_bn``
    keep them, so load those weights with ``conv_bias=True``), ``adaptive_pool=None`` or ``(7, 7)`` (an
    :class:`~npvision.nn.AdaptiveAvgPool2D` before the classifier, as
    torchvision), ``rng``. ``flat_shape`` is the ``(h, w, c)`` map the
    classifier flattens.
    """

    def __init__(self, config: list, num_classes: int = 1000, input_shape=(224, 224, 3),
                 hidden: int = 4096, dropout: float = 0.5, batch_norm: bool = False,
                 adaptive_pool=None, conv_bias: bool | None = None, rng=None):
        super().__init__()
        H, W, C = input_shape
        rng = as_rng(rng)  # one generator for all layers (an int seed must not restart per layer)
        layers, c, h, w = [], C, H, W
        conv_bias = not batch_norm if conv_bias is None else bool(conv_bias)
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2D(2))
                h, w = h // 2, w // 2
            else:
                layers.append(nn.Conv2D(c, v, 3, padding=1, bias=conv_bias, rng=rng,
                                        input_grad=bool(layers)))
                if batch_norm:
                    layers.append(nn.BatchNorm2D(v))
                layers.append(nn.ReLU(inplace=True))     # over the conv's (BN's) new output, as torchvision
                c = v
        if h < 1 or w < 1:
            raise ValueError(f"input_shape: this VGG halves the input {config.count('M')} times; "
                             f"it needs at least {2 ** config.count('M')} pixels, received {input_shape}")
        self.features = nn.Sequential(*layers)                    # (N, h, w, 512)
        if adaptive_pool is not None:
            self.avgpool = nn.AdaptiveAvgPool2D(adaptive_pool)    # (N, 7, 7, 512) for (7, 7)
            h, w = self.avgpool.output_size
        self.flat_shape = (h, w, c)
        self.flatten = nn.Flatten()                               # (N, h w c), (h, w, c) order
        self.classifier = nn.Sequential(
            nn.Linear(h * w * c, hidden, rng=rng), nn.ReLU(), nn.Dropout(dropout, rng=rng),
            nn.Linear(hidden, hidden, rng=rng), nn.ReLU(), nn.Dropout(dropout, rng=rng),
            nn.Linear(hidden, num_classes, rng=rng),
        )


def _factory(name):
    @register(name)
    def build(num_classes=1000, input_shape=(224, 224, 3), **options):
        return VGG(CONFIGS[name], num_classes, input_shape, **options)
    build.__name__ = name
    build.__doc__ = f"{name.upper()} (configuration {name[3:]} layers)."
    return build


vgg11 = _factory("vgg11")
vgg16 = _factory("vgg16")
vgg19 = _factory("vgg19")
