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
torchvision average-pools the features to 6x6 first (``AdaptiveAvgPool2d``),
so its classifier is 9216 wide at any size: ``adaptive_pool=(6, 6)`` does the
same here (at 224x224 it changes nothing), which
:func:`npvision.io.from_torch_state_dict` needs to load torchvision's weights
into a model built for another input size.
"""

from __future__ import annotations

from .. import nn
from ..functional.shapes import conv_output_size
from ..nn.init import as_rng
from ._common import ChainModel
from .registry import register

__all__ = ["AlexNet", "alexnet"]


class AlexNet(ChainModel):
    """AlexNet: ``(N, H, W, C) -> (N, num_classes)``.

    Children ``features, [avgpool,] flatten, classifier``, in order (torchvision's
    names and indices). Options: ``dropout=0.5``, ``hidden=4096`` (width of the
    two hidden fully connected layers), ``adaptive_pool=None`` or ``(6, 6)`` (an
    :class:`~npvision.nn.AdaptiveAvgPool2D` before the classifier, as
    torchvision), ``rng``. ``flat_shape`` is the ``(h, w, c)`` map the classifier flattens.
    """

    def __init__(self, num_classes: int = 1000, input_shape=(224, 224, 3), dropout: float = 0.5,
                 hidden: int = 4096, adaptive_pool=None, rng=None):
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
        if adaptive_pool is not None:
            self.avgpool = nn.AdaptiveAvgPool2D(adaptive_pool)    # (N, 6, 6, 256) for (6, 6)
            h, w = self.avgpool.output_size
        self.flat_shape = (h, w, 256)
        self.flatten = nn.Flatten()                               # (N, h w 256), (h, w, c) order
        self.classifier = nn.Sequential(
            nn.Dropout(dropout, rng=rng), nn.Linear(h * w * 256, hidden, rng=rng), nn.ReLU(),
            nn.Dropout(dropout, rng=rng), nn.Linear(hidden, hidden, rng=rng), nn.ReLU(),
            nn.Linear(hidden, num_classes, rng=rng),
        )


@register("alexnet")
def alexnet(num_classes=1000, input_shape=(224, 224, 3), **options):
    return AlexNet(num_classes, input_shape, **options)
