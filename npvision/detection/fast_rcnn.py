"""Fast R-CNN: one CNN pass per image, RoI pooling of the proposals (Girshick, 2015).

    >>> model = FastRCNN(num_classes=4, input_shape=(64, 64, 3), rng=0)
    >>> loss, terms = model.train_step(images, proposals, gt_boxes, gt_classes, rng=rng)
    >>> found = model.detect_batch(images, proposals)      # proposals: selective search, per image

R-CNN runs its CNN on every warped region; Fast R-CNN runs it once on the whole image
and cuts each region's features out of the shared feature map::

    images (N, H, W, 3) -> backbone -> features (N, Hf, Wf, C)
    proposals (from outside: selective search) --\\
    features --> RoI pooling (P x P per proposal) --> fc6 -> fc7 -> class scores, class-specific deltas

and trains the whole network end to end with one multi-task loss
(:func:`~npvision.detection.fast_rcnn_loss`) on RoIs sampled from the proposals
(:func:`~npvision.detection.roi_head_targets`: 64 per image, a quarter foreground),
instead of R-CNN's three separate stages. The box branch is the same
:class:`~npvision.detection.RoIBoxBranch` Faster R-CNN uses; only where the proposals
come from differs.
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ..models._common import check_model_args
from ..models.region_cnn import RegionBackbone
from ..nn.init import as_rng
from ..nn.module import Module
from .faster_rcnn import _images, check_targets
from .roi_heads import RoIBoxBranch

__all__ = ["FastRCNN"]


class FastRCNN(Module):
    """Backbone + RoI box branch, proposals given by the caller (module docstring).

    Parameters
    ----------
    num_classes : K.
    input_shape : ``(H, W, 3)``.
    backbone : options of :class:`~npvision.models.region_cnn.RegionBackbone`.
    roi_heads : options of :class:`~npvision.detection.RoIBoxBranch` (``pooling``, ``pool_size``, ...).

    ``config`` rebuilds the model: ``FastRCNN(**config)``.
    """

    def __init__(self, num_classes: int, input_shape=(64, 64, 3), backbone=None, roi_heads=None, rng=None,
                 dtype=np.float32):
        super().__init__()
        num_classes, input_shape = check_model_args(num_classes, input_shape, "FastRCNN")
        rng = as_rng(rng)
        self.num_classes = num_classes
        self.input_shape = input_shape
        self.backbone = RegionBackbone(**dict(backbone or {}), in_channels=input_shape[2], rng=rng, dtype=dtype)
        self.roi_heads = RoIBoxBranch(self.backbone.out_channels, num_classes, self.backbone.stride,
                                      **dict(roi_heads or {}), rng=rng, dtype=dtype)
        self.config = {"num_classes": num_classes, "input_shape": list(input_shape),
                       "backbone": {k: v for k, v in self.backbone.config.items() if k != "in_channels"},
                       "roi_heads": {k: v for k, v in self.roi_heads.config.items()
                                     if k not in ("in_channels", "num_classes", "stride")}}

    @property
    def image_size(self) -> tuple[int, int]:
        return self.input_shape[0], self.input_shape[1]

    def train_step(self, images, proposals, gt_boxes, gt_classes, rng=None):
        """Forward, the multi-task loss and backward for one batch: ``(loss, terms)``.

        ``proposals``: one ``(P_i, 4)`` array per image. Gradients are added to ``p.grad``.
        """
        x = _images(images, self.input_shape)
        check_targets(x, gt_boxes, gt_classes, self.num_classes)
        if len(proposals) != len(x):
            raise ValueError(f"proposals: expected one array per image ({len(x)}), received {len(proposals)}")
        self.train()
        features = self.backbone.forward(x)                                      # (N, Hf, Wf, C)
        loss, d_features, terms = self.roi_heads.train_step(features, proposals, gt_boxes, gt_classes,
                                                            as_rng(rng))
        self.backbone.backward(d_features)
        terms["loss"] = loss
        return loss, terms

    def detect_batch(self, images, proposals, score_threshold=None, nms_threshold=None,
                     batch_size: int = 32) -> list[dict]:
        """Detections of ``images (N, H, W, 3)`` from their proposals: one dict per image."""
        x = _images(images, self.input_shape)
        if len(proposals) != len(x):
            raise ValueError(f"proposals: expected one array per image ({len(x)}), received {len(proposals)}")
        batch_size = positive_int(batch_size, "batch_size")
        self.eval()
        results = []
        for start in range(0, len(x), batch_size):
            features = self.backbone.forward(x[start:start + batch_size])       # (n, Hf, Wf, C)
            results.extend(self.roi_heads.detect(features, proposals[start:start + batch_size], self.image_size,
                                                 score_threshold, nms_threshold))
        return results
