"""A small YOLO network: conv-BN-leaky blocks, stride-2 downsampling, a 1x1 detection head.

The network maps an image to a grid of raw predictions (YOLOv2 layout, see
:mod:`npvision.detection.yolo` for what every number means)::

    x (N, H, W, 3)  ->  output (N, S_h, S_w, B * (5 + K)),   S = H / 2^len(widths)

viewed as ``(N, S_h, S_w, B, 5 + K)`` with ``[t_x, t_y, t_w, t_h, t_o, class logits]``
per anchor. It reads top to bottom like the tables of the YOLO papers:

=========  ===================================================  ===================
stage      layers                                               output (64x64 in)
=========  ===================================================  ===================
stage 1    3x3 conv stride 2 (3 -> 16), then 3x3 (16 -> 16)      (N, 32, 32, 16)
stage 2    3x3 conv stride 2 (16 -> 32), then 3x3 (32 -> 32)     (N, 16, 16, 32)
stage 3    3x3 conv stride 2 (32 -> 64), then 3x3 (64 -> 64)     (N, 8, 8, 64)
neck       ``neck`` 3x3 convs at the grid resolution             (N, 8, 8, 128)
head       1x1 conv with bias (128 -> B (5 + K))                 (N, 8, 8, B (5 + K))
=========  ===================================================  ===================

Every conv except the head is :class:`~npvision.nn.ConvBNAct` (conv without
bias -> BatchNorm -> leaky ReLU with slope 0.1, the Darknet choice). Each stage
halves the resolution with a stride-2 convolution instead of a max-pool, so the
downsampling is learned. Each output cell's receptive field covers most of a
64x64 image, so it sees whole objects.

The head's bias starts the objectness logit at ``objectness_bias`` (default
``-4``: ``sigmoid(-4) = 0.018``): almost every cell of a fresh network then
already says "no object", so the first batches are not spent pushing down
hundreds of empty anchors (the prior-probability bias of RetinaNet).

Shapes: stride ``2^len(widths)`` (8 with the defaults); ``H`` and ``W`` must be
multiples of it. The first conv does not compute the image gradient
(``backward`` returns ``None``) unless ``input_grad=True``.
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ..nn.activations import LeakyReLU
from ..nn.blocks.conv_bn import ConvBNAct
from ..nn.conv import Conv2D
from ..nn.init import as_rng
from ..nn.module import Module, Sequential
from ._common import check_model_args
from .registry import register

__all__ = ["TinyYOLO", "tiny_yolo"]


class _Leaky(LeakyReLU):
    """Leaky ReLU with Darknet's slope 0.1 (a class, so ConvBNAct can build it)."""

    def __init__(self):
        super().__init__(alpha=0.1)


class TinyYOLO(Module):
    """The small YOLO network of the module docstring.

    Parameters
    ----------
    num_classes : K, the number of object classes.
    num_anchors : B, anchors per grid cell.
    input_shape : (H, W, C); H and W multiples of the stride ``2^len(widths)``.
    widths : channels of each downsampling stage (each stage: a stride-2 3x3 conv and
        ``stage_depth - 1`` stride-1 3x3 convs).
    stage_depth : convs per stage (>= 1).
    neck : (channels, count): ``count`` 3x3 convs at the grid resolution.
    objectness_bias : initial bias of every anchor's objectness logit ``t_o``.
    input_grad : compute ``d loss / d image`` in ``backward`` (only for gradient checks).
    rng, dtype : initial weights' source and the parameters' float type.

    Attributes: ``stride``, ``num_classes``, ``num_anchors``, ``config`` (the keyword
    options that rebuild the network: ``TinyYOLO(**config)``), ``grid_size(H, W)``.
    """

    def __init__(self, num_classes: int, num_anchors: int = 3, input_shape=(64, 64, 3),
                 widths=(16, 32, 64), stage_depth: int = 2, neck=(128, 2),
                 objectness_bias: float = -4.0, input_grad: bool = False, rng=None,
                 dtype=np.float32):
        super().__init__()
        num_classes, input_shape = check_model_args(num_classes, input_shape, "TinyYOLO")
        self.num_classes = num_classes
        self.num_anchors = positive_int(num_anchors, "num_anchors")
        widths = tuple(positive_int(w, "widths[i]") for w in widths)
        if not widths:
            raise ValueError("widths: expected at least one stage, received an empty sequence")
        stage_depth = positive_int(stage_depth, "stage_depth")
        if not (isinstance(neck, (tuple, list)) and len(neck) == 2):
            raise ValueError(f"neck: expected (channels, count), received {neck!r}")
        neck_channels = positive_int(neck[0], "neck[0]")
        neck_count = int(neck[1])
        if neck_count < 0:
            raise ValueError(f"neck: count must be >= 0, received {neck[1]!r}")
        self.stride = 2 ** len(widths)
        h, w, c = input_shape
        if h % self.stride or w % self.stride:
            raise ValueError(f"input_shape: H and W must be multiples of the network stride "
                             f"{self.stride}, received {input_shape}")
        self.input_shape = input_shape
        #: the options that rebuild this network (saved by :class:`npvision.detection.Detector`)
        self.config = {"num_classes": num_classes, "num_anchors": self.num_anchors,
                       "input_shape": list(input_shape), "widths": list(widths),
                       "stage_depth": stage_depth, "neck": [neck_channels, neck_count]}
        rng = as_rng(rng)

        layers = []
        c_in = c
        for s, width in enumerate(widths):
            layers.append(ConvBNAct(c_in, width, 3, stride=2, activation=_Leaky,
                                    input_grad=input_grad or s > 0, rng=rng, dtype=dtype))
            for _ in range(stage_depth - 1):
                layers.append(ConvBNAct(width, width, 3, activation=_Leaky, rng=rng, dtype=dtype))
            c_in = width
        self.backbone = Sequential(*layers)             # (N, H, W, C) -> (N, S_h, S_w, widths[-1])
        neck_layers = []
        for _ in range(neck_count):
            neck_layers.append(ConvBNAct(c_in, neck_channels, 3, activation=_Leaky, rng=rng, dtype=dtype))
            c_in = neck_channels
        self.neck = Sequential(*neck_layers)            # (N, S_h, S_w, neck_channels)
        per_anchor = 5 + num_classes
        self.head = Conv2D(c_in, self.num_anchors * per_anchor, 1, rng=rng, dtype=dtype)
        # A small start for the head (predictions near the anchors' centres and sizes) and the
        # objectness prior: bias of channel a * (5 + K) + 4 is t_o of anchor a.
        self.head.weight.data *= 0.1
        self.head.bias.data[4::per_anchor] = objectness_bias

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """``(S_h, S_w) = (H / stride, W / stride)`` for an input of ``height x width``."""
        return height // self.stride, width // self.stride

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x (N, H, W, C)`` -> raw ``output (N, H / stride, W / stride, B (5 + K))``."""
        if x.ndim != 4 or x.shape[1] % self.stride or x.shape[2] % self.stride:
            raise ValueError(f"x: expected (N, H, W, C) with H and W multiples of {self.stride}, "
                             f"received shape {x.shape}")
        features = self.backbone.forward(x)             # (N, S_h, S_w, widths[-1])
        features = self.neck.forward(features)          # (N, S_h, S_w, neck_channels)
        return self.head.forward(features)              # (N, S_h, S_w, B (5 + K))

    def backward(self, doutput: np.ndarray):
        """``d loss / d output`` -> ``d loss / d x`` (``None`` unless built with ``input_grad``)."""
        d = self.head.backward(doutput)
        d = self.neck.backward(d)
        return self.backbone.backward(d)


@register("tiny_yolo")
def tiny_yolo(num_classes: int = 4, input_shape=(64, 64, 3), num_anchors: int = 3, **options) -> TinyYOLO:
    """``TinyYOLO(num_classes, num_anchors, input_shape, **options)``: the registry entry."""
    return TinyYOLO(num_classes, num_anchors=num_anchors, input_shape=input_shape, **options)
