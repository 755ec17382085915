"""The networks of the region-based detectors: one backbone, the RPN head, the box head.

R-CNN, Fast R-CNN and Faster R-CNN (:mod:`npvision.detection.rcnn`, ``fast_rcnn``,
``faster_rcnn``) are built from the same three pieces, so that they differ only in
*how regions reach the head* -- warped crops, RoI pooling of proposals, RoI pooling of
the RPN's own proposals -- and their speeds and accuracies compare like for like.

==============  =========================================================  =====================
network         layers                                                     output (64x64 image)
==============  =========================================================  =====================
RegionBackbone  3x3 conv s2 (3 -> 16), 3x3 (16 -> 16),                     (N, 16, 16, 64):
                3x3 conv s2 (16 -> 32), 3x3 (32 -> 32),                    stride 4
                3x3 (32 -> 64), 3x3 (64 -> 64); all conv-BN-ReLU
RPNHead         3x3 conv (64 -> 64) + ReLU, then one 1x1 conv to 5A        (N, 16, 16, 5 A)
                channels: A objectness logits, then 4 deltas per anchor
RoIBoxHead      flatten (P P C) -> fc 256 + ReLU -> fc 256 + ReLU          (R, 5 (K + 1))
                ("fc6", "fc7"), then one linear layer to K + 1 class
                logits and 4 (K + 1) class-specific box deltas
==============  =========================================================  =====================

Each head keeps npvision's one-input, one-output Module contract by packing its two
outputs into one array (a single 1x1 conv / linear layer with ``5 A`` / ``5 (K + 1)``
outputs is the same map as two separate ones): :meth:`RPNHead.split` and
:meth:`RoIBoxHead.split` take them apart, and ``backward`` takes the two gradients
packed the same way (:meth:`RPNHead.join`, :meth:`RoIBoxHead.join`).

The backbone's stride is 4 (two stride-2 convs), so the 13-29 pixel shapes of the
synthetic scenes cover 3-7 feature cells: enough for a 4x4 RoI pooling to see their
parts. Its receptive field is 35 pixels (43 with the RPN's 3x3 conv).
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ..nn.activations import ReLU
from ..nn.blocks.conv_bn import ConvBNAct
from ..nn.conv import Conv2D
from ..nn.init import as_rng
from ..nn.linear import Flatten, Linear
from ..nn.module import Module, Sequential

__all__ = ["RegionBackbone", "RPNHead", "RoIBoxHead"]


class RegionBackbone(Sequential):
    """Conv-BN-ReLU stages ``(N, H, W, 3) -> (N, H / stride, W / stride, widths[-1])``.

    ``widths`` and ``strides`` give each stage's channels and first-conv stride (each
    stage is ``stage_depth`` 3x3 convs); the defaults ``(16, 32, 64)`` and ``(2, 2, 1)``
    give stride 4 and 64 channels. The first conv does not compute the image gradient
    (``backward`` returns None). Attributes ``stride``, ``out_channels``, ``config``.
    """

    def __init__(self, widths=(16, 32, 64), strides=(2, 2, 1), stage_depth: int = 2,
                 in_channels: int = 3, rng=None, dtype=np.float32):
        widths = tuple(positive_int(w, "widths[i]") for w in widths)
        strides = tuple(positive_int(s, "strides[i]") for s in strides)
        if not widths or len(widths) != len(strides):
            raise ValueError(f"strides: expected one stride per stage ({len(widths)} widths), "
                             f"received {strides!r}")
        stage_depth = positive_int(stage_depth, "stage_depth")
        rng = as_rng(rng)
        layers, c_in = [], positive_int(in_channels, "in_channels")
        for s, (width, stride) in enumerate(zip(widths, strides)):
            layers.append(ConvBNAct(c_in, width, 3, stride=stride, input_grad=bool(layers),
                                    rng=rng, dtype=dtype))
            for _ in range(stage_depth - 1):
                layers.append(ConvBNAct(width, width, 3, rng=rng, dtype=dtype))
            c_in = width
        super().__init__(*layers)
        self.stride = int(np.prod(strides))
        self.out_channels = widths[-1]
        self.config = {"widths": list(widths), "strides": list(strides), "stage_depth": stage_depth,
                       "in_channels": in_channels}

    def feature_size(self, height: int, width: int) -> tuple[int, int]:
        """``(Hf, Wf)`` of the feature map of a ``height x width`` image (``ceil`` per stride-s conv)."""
        for layer in self:
            s = layer.conv.stride[0]
            height, width = -(-height // s), -(-width // s)
        return height, width


class RPNHead(Module):
    """The region proposal network's head: ``(N, Hf, Wf, C) -> (N, Hf, Wf, 5 A)``.

    A 3x3 conv with ReLU (the paper's "sliding window" over the feature map), then one
    1x1 conv whose first ``A`` channels are the objectness logits of the ``A`` anchors
    of each location and whose next ``4 A`` channels are their deltas (anchor ``a`` in
    channels ``A + 4a .. A + 4a + 3``). The output layer starts from ``N(0, 0.01^2)``
    weights and zero biases (as torchvision's).
    """

    def __init__(self, in_channels: int, num_anchors: int, mid_channels: int | None = None,
                 rng=None, dtype=np.float32):
        super().__init__()
        rng = as_rng(rng)
        self.num_anchors = positive_int(num_anchors, "num_anchors")
        mid = positive_int(in_channels if mid_channels is None else mid_channels, "mid_channels")
        self.conv = Conv2D(in_channels, mid, 3, padding=1, rng=rng, dtype=dtype)
        self.relu = ReLU()
        self.predict = Conv2D(mid, 5 * self.num_anchors, 1, rng=rng, dtype=dtype)
        self.predict.weight.data[...] = 0.01 * rng.standard_normal(self.predict.weight.shape)
        self.config = {"in_channels": in_channels, "num_anchors": self.num_anchors, "mid_channels": mid}

    def forward(self, features: np.ndarray) -> np.ndarray:
        """``features (N, Hf, Wf, C)`` -> packed ``(N, Hf, Wf, 5 A)``."""
        hidden = self.relu.forward(self.conv.forward(features))        # (N, Hf, Wf, mid)
        return self.predict.forward(hidden)                            # (N, Hf, Wf, 5 A)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        d = self.predict.backward(dout)
        d = self.relu.backward(d)
        return self.conv.backward(d)

    def split(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Packed ``(N, Hf, Wf, 5 A)`` -> objectness ``(N, Hf Wf A)``, deltas ``(N, Hf Wf A, 4)``.

        The flattening order (location row-major, then anchor) is the order of
        :func:`npvision.detection.anchor_boxes`, so row ``i`` belongs to anchor ``i``.
        """
        n, a = out.shape[0], self.num_anchors
        objectness = out[..., :a].reshape(n, -1)                        # (N, Hf, Wf, A) -> (N, Hf Wf A)
        deltas = out[..., a:].reshape(n, -1, 4)                         # (N, Hf, Wf, 4A) -> (N, Hf Wf A, 4)
        return objectness, deltas

    def join(self, d_objectness: np.ndarray, d_deltas: np.ndarray, feature_size) -> np.ndarray:
        """The inverse of :meth:`split` for gradients: -> ``(N, Hf, Wf, 5 A)``."""
        n, (hf, wf), a = d_objectness.shape[0], feature_size, self.num_anchors
        return np.concatenate([d_objectness.reshape(n, hf, wf, a),          # (N, Hf Wf A) -> (N, Hf, Wf, A)
                               d_deltas.reshape(n, hf, wf, 4 * a)], axis=3)  # (N, Hf Wf A, 4) -> (N, Hf, Wf, 4A)


class RoIBoxHead(Module):
    """The box head: pooled RoI features ``(R, P, P, C)`` -> packed ``(R, 5 (K + 1))``.

    ``flatten -> fc6 (hidden) -> ReLU -> fc7 (hidden) -> ReLU -> predict``; ``predict``'s
    first ``K + 1`` outputs are the class logits (column 0 the background), the next
    ``4 (K + 1)`` the class-specific deltas (class ``k`` in ``4k .. 4k + 3`` of that
    block). :meth:`features` gives the fc7 activations (R-CNN's SVM features).
    Output weights start from ``N(0, 0.01^2)`` for the logits and ``N(0, 0.001^2)`` for
    the deltas (torchvision's initialization of its predictor).
    """

    def __init__(self, in_channels: int, pool_size: int, num_classes: int, hidden: int = 256,
                 rng=None, dtype=np.float32):
        super().__init__()
        rng = as_rng(rng)
        self.num_classes = positive_int(num_classes, "num_classes")
        self.pool_size = positive_int(pool_size, "pool_size")
        hidden = positive_int(hidden, "hidden")
        k1 = self.num_classes + 1
        self.fc = Sequential(Flatten(),
                             Linear(pool_size * pool_size * in_channels, hidden, rng=rng, dtype=dtype), ReLU(),
                             Linear(hidden, hidden, rng=rng, dtype=dtype), ReLU())
        self.predict = Linear(hidden, 5 * k1, rng=rng, dtype=dtype)
        w = self.predict.weight.data
        w[:, :k1] = 0.01 * rng.standard_normal((hidden, k1))
        w[:, k1:] = 0.001 * rng.standard_normal((hidden, 4 * k1))
        self.config = {"in_channels": in_channels, "pool_size": self.pool_size,
                       "num_classes": self.num_classes, "hidden": hidden}

    def features(self, pooled: np.ndarray) -> np.ndarray:
        """fc7: ``(R, P, P, C) -> (R, hidden)`` (after its ReLU)."""
        return self.fc.forward(pooled)

    def forward(self, pooled: np.ndarray) -> np.ndarray:
        """``pooled (R, P, P, C)`` -> packed ``(R, 5 (K + 1))``."""
        return self.predict.forward(self.fc.forward(pooled))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self.fc.backward(self.predict.backward(dout))

    def split(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Packed ``(R, 5 (K + 1))`` -> class logits ``(R, K + 1)``, deltas ``(R, 4 (K + 1))``."""
        k1 = self.num_classes + 1
        return out[:, :k1], out[:, k1:]

    @staticmethod
    def join(d_logits: np.ndarray, d_deltas: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`split` for gradients: -> ``(R, 5 (K + 1))``."""
        return np.concatenate([d_logits, d_deltas], axis=1)
