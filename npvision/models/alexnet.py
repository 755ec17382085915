"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012), single-tower, as in torchvision.

    input 224x224x3
    conv 11x11/4, 64, pad 2   -> 55x55x64    relu, maxpool 3/2 -> 27x27x64
    conv 5x5, 192, pad 2      -> 27x27x192   relu, maxpool 3/2 -> 13x13x192
    conv 3x3, 384, pad 1      -> 13x13x384   relu
    conv 3x3, 256, pad 1      -> 13x13x256   relu
    conv 3x3, 256, pad 1      -> 13x13x256   relu, maxpool 3/2 -> 6x6x256
    dropout, fc 9216 -> 4096, relu, dropout, fc 4096 -> 4096, relu, fc 4096 -> classes

61,100,840 parameters for 1000 classes. The first fully connected layer is
sized from ``input_shape`` (9216 inputs at 224x224), so smaller inputs work.
"""

from __future__ import annotations

from .. import nn
from ..functional.shapes import conv_output_size
from ..nn.init import as_rng
from ._common import ChainModel
from .registry import register

__all__ = ["AlexNet", "alexnet"]


class AlexNet(ChainModel):
    """AlexNet: ``(N, H, W, C) -> (N, num_classes)``; children ``features, flatten, classifier``, in order."""

    def __init__(self, num_classes: int = 1000, input_shape=(224, 224, 3), dropout: float = 0.5, rng=None):
        super().__init__()
        H, W, C = input_shape
        rng = as_rng(rng)  # one generator for all layers (an int seed must not restart per layer)
        self.features = nn.Sequential(
            nn.Conv2D(C, 64, 11, stride=4, padding=2, rng=rng, input_grad=False), nn.ReLU(),
            nn.MaxPool2D(3, stride=2),
            nn.Conv2D(64, 192, 5, padding=2, rng=rng), nn.ReLU(),
            nn.MaxPool2D(3, stride=2),
            nn.Conv2D(192, 384, 3, padding=1, rng=rng), nn.ReLU(),
            nn.Conv2D(384, 256, 3, padding=1, rng=rng), nn.ReLU(),
            nn.Conv2D(256, 256, 3, padding=1, rng=rng), nn.ReLU(),
            nn.MaxPool2D(3, stride=2),
        )
        h, w = H, W
        for k, s, p in [(11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 2, 0)]:
            h, w = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
        if h < 1 or w < 1:
            raise ValueError(f"input_shape: AlexNet needs inputs of at least 63x63, received {input_shape}")
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Dropout(dropout, rng=rng), nn.Linear(h * w * 256, 4096, rng=rng), nn.ReLU(),
            nn.Dropout(dropout, rng=rng), nn.Linear(4096, 4096, rng=rng), nn.ReLU(),
            nn.Linear(4096, num_classes, rng=rng),
        )


@register("alexnet")
def alexnet(num_classes=1000, input_shape=(224, 224, 3), **options):
    return AlexNet(num_classes, input_shape, **options)
