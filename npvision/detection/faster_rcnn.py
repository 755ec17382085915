"""Faster R-CNN: the network proposes its own regions (Ren, He, Girshick and Sun, 2015).

    >>> model = FasterRCNN(num_classes=4, input_shape=(64, 64, 3), rng=0)
    >>> loss, terms = model.train_step(images, gt_boxes, gt_classes, rng=rng)   # gradients accumulated
    >>> optimizer.step()
    >>> found = model.detect_batch(images)          # one {"boxes", "scores", "classes"} per image

One backbone pass feeds two heads (the paper's figure 2)::

    images (N, H, W, 3)
      -> backbone                               features (N, Hf, Wf, C)       stride 4
      -> rpn (RPNHead)                           packed (N, Hf, Wf, 5 A)
           -> proposal layer (no gradient)       proposals: (P_i, 4) per image
      -> roi_heads (RoI pool/align + box head)   (R, 5 (K + 1)) on sampled RoIs of the proposals

**Approximate joint training** (the paper's section 3.2, torchvision's and Detectron's
default): the RPN loss and the Fast R-CNN loss are added and trained in one backward
pass, but the proposals are treated as fixed boxes, so the box head's gradient reaches
the backbone only through the pooled features, never through the proposals'
coordinates. The backbone's gradient is the sum of the two branches' (a visible ``+``
in :meth:`FasterRCNN.heads_step`).

``pooling="roi_pool"`` (Fast R-CNN's RoI max pooling) or ``"roi_align"`` (Mask R-CNN's):
the flag of :class:`~npvision.detection.RoIBoxBranch`. The pieces are separate
attributes, ``backbone``, ``rpn``, ``roi_heads``, and :meth:`FasterRCNN.heads_step`
returns the gradient of the feature map, so a subclass adds a branch (a mask head on
RoIAlign features) by overriding ``heads_step`` and adding its own gradient.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, positive_int
from ..models._common import check_model_args
from ..models.region_cnn import RegionBackbone
from ..nn.init import as_rng
from ..nn.module import Module
from .roi_heads import RoIBoxBranch

__all__ = ["FasterRCNN", "check_targets"]


def check_targets(images: np.ndarray, gt_boxes, gt_classes, num_classes: int) -> None:
    """One ``(G_i, 4)`` box array and one ``(G_i,)`` class array per image, classes in ``0..K-1``."""
    n = len(images)
    if len(gt_boxes) != n or len(gt_classes) != n:
        raise ValueError(f"gt_boxes, gt_classes: expected one entry per image ({n}), received "
                         f"{len(gt_boxes)} and {len(gt_classes)}")
    for i, c in enumerate(gt_classes):
        c = np.asarray(c)
        if c.size and (c.dtype.kind not in "iu" or c.min() < 0 or c.max() >= num_classes):
            raise ValueError(f"gt_classes[{i}]: expected integer classes in [0, {num_classes}), "
                             f"received {c.tolist()}")


def _images(images, input_shape) -> np.ndarray:
    x = as_float_array(images, "images", ndim=4, layout="(N, H, W, 3)")
    if x.shape[1:] != tuple(input_shape):
        raise ValueError(f"images: expected (N, {', '.join(map(str, input_shape))}) (the model's input_shape), "
                         f"received shape {x.shape}")
    return x


class FasterRCNN(Module):
    """Backbone + region proposal network + RoI box branch (module docstring).

    Parameters
    ----------
    num_classes : K object classes.
    input_shape : ``(H, W, 3)`` of the images.
    backbone : options of :class:`~npvision.models.region_cnn.RegionBackbone`
        (``widths``, ``strides``, ``stage_depth``).
    rpn : options of :class:`~npvision.detection.RegionProposalNetwork` (``anchor_sizes``,
        ``aspect_ratios``, ``pre_nms_top_n``, ...).
    roi_heads : options of :class:`~npvision.detection.RoIBoxBranch` (``pooling``,
        ``pool_size``, ``hidden``, ...).

    ``config`` holds everything needed to rebuild the model: ``FasterRCNN(**config)``.
    """

    def __init__(self, num_classes: int, input_shape=(64, 64, 3), backbone=None, rpn=None, roi_heads=None,
                 rng=None, dtype=np.float32):
        super().__init__()
        from .rpn import RegionProposalNetwork

        num_classes, input_shape = check_model_args(num_classes, input_shape, "FasterRCNN")
        rng = as_rng(rng)
        self.num_classes = num_classes
        self.input_shape = input_shape
        self.backbone = RegionBackbone(**dict(backbone or {}), in_channels=input_shape[2], rng=rng, dtype=dtype)
        self.rpn = RegionProposalNetwork(self.backbone.out_channels, **dict(rpn or {}), rng=rng, dtype=dtype)
        self.roi_heads = RoIBoxBranch(self.backbone.out_channels, num_classes, self.backbone.stride,
                                      **dict(roi_heads or {}), rng=rng, dtype=dtype)
        backbone_config = {k: v for k, v in self.backbone.config.items() if k != "in_channels"}
        self.config = {"num_classes": num_classes, "input_shape": list(input_shape), "backbone": backbone_config,
                       "rpn": {k: v for k, v in self.rpn.config.items() if k != "in_channels"},
                       "roi_heads": {k: v for k, v in self.roi_heads.config.items()
                                     if k not in ("in_channels", "num_classes", "stride")}}

    @property
    def image_size(self) -> tuple[int, int]:
        return self.input_shape[0], self.input_shape[1]

    # ------------------------------------------------------------------ training
    def heads_step(self, features: np.ndarray, gt_boxes, gt_classes, rng=None):
        """Both heads on the feature map: ``(loss, d_features, terms)``, head gradients accumulated.

        The RPN's packed output gives its loss and, without gradient, the proposals the
        box branch trains on (approximate joint training).
        """
        rpn_out = self.rpn.forward(features)                                    # (N, Hf, Wf, 5 A)
        rpn_loss, d_rpn_out, rpn_terms = self.rpn.loss(rpn_out, gt_boxes, self.image_size, rng)
        proposals = [boxes for boxes, _ in self.rpn.propose(rpn_out, self.image_size, training=True)]
        box_loss, d_features_box, box_terms = self.roi_heads.train_step(features, proposals, gt_boxes,
                                                                        gt_classes, rng)
        d_features = self.rpn.backward(d_rpn_out) + d_features_box              # the two branches add up
        terms = {"rpn_objectness": rpn_terms["objectness"], "rpn_box": rpn_terms["box"],
                 "classifier": box_terms["classifier"], "box": box_terms["box"],
                 "proposals": float(np.mean([len(p) for p in proposals]))}
        return rpn_loss + box_loss, d_features, terms

    def train_step(self, images, gt_boxes, gt_classes, rng=None):
        """Forward, both losses and backward for one batch: ``(loss, terms)``.

        ``images (N, H, W, 3)``, ``gt_boxes`` / ``gt_classes``: one ``(G_i, 4)`` / ``(G_i,)``
        array per image (classes ``0..K-1``). Parameter gradients are *added* to ``p.grad``:
        zero them before, step the optimizer after.
        """
        x = _images(images, self.input_shape)
        check_targets(x, gt_boxes, gt_classes, self.num_classes)
        rng = as_rng(rng)
        self.train()
        features = self.backbone.forward(x)                                     # (N, Hf, Wf, C)
        loss, d_features, terms = self.heads_step(features, gt_boxes, gt_classes, rng)
        self.backbone.backward(d_features)
        terms["loss"] = loss
        return loss, terms

    # ------------------------------------------------------------------ inference
    def propose(self, images) -> list:
        """The RPN's test-time proposals: one ``(boxes (P, 4), scores (P,))`` pair per image."""
        x = _images(images, self.input_shape)
        self.eval()
        features = self.backbone.forward(x)
        return self.rpn.propose(self.rpn.forward(features), self.image_size, training=False)

    def detect_batch(self, images, score_threshold=None, nms_threshold=None, batch_size: int = 32) -> list[dict]:
        """Detections of ``images (N, H, W, 3)``: one ``{"boxes", "scores", "classes"}`` dict per image."""
        x = _images(images, self.input_shape)
        batch_size = positive_int(batch_size, "batch_size")
        self.eval()
        results = []
        for start in range(0, len(x), batch_size):
            features = self.backbone.forward(x[start:start + batch_size])       # (n, Hf, Wf, C)
            proposals = [b for b, _ in self.rpn.propose(self.rpn.forward(features), self.image_size, False)]
            results.extend(self.roi_heads.detect(features, proposals, self.image_size, score_threshold,
                                                 nms_threshold))
        return results
