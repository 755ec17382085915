"""Mask R-CNN: Faster R-CNN plus a mask for every detected object (He et al., 2017).

    >>> model = MaskRCNN(num_classes=4, input_shape=(64, 64, 3), rng=0)
    >>> loss, terms = model.train_step(images, gt_boxes, gt_classes, gt_masks, rng=rng)
    >>> optimizer.step()
    >>> found = model.detect_batch(images)   # {"boxes", "scores", "classes", "masks" (D, H, W)} per image

The paper's figure: Faster R-CNN's two stages, plus a third branch in parallel with
the box head::

    images (N, H, W, 3)
      -> backbone                                    features (N, Hf, Wf, C)
      -> rpn                                         proposals per image
      -> roi_heads  (RoIAlign P x P -> fc -> class, box)      the box branch, as Faster R-CNN
      -> mask_branch (RoIAlign S x S -> MaskHead -> (2S x 2S) per class)

**Training.** The mask branch trains on the *positive* RoIs the box branch sampled
(the same RoIs, each with its matched ground-truth object: the hook
``roi_heads.sampled``). Each one's target is its object's mask cut out by
RoIAlign (:func:`~npvision.detection.mask_targets`); the loss is the per-class
sigmoid cross-entropy on the object's class channel
(:func:`~npvision.detection.mask_loss`). The total is the paper's
``L = L_cls + L_box + L_mask`` (plus the RPN's two terms), and the backbone's
gradient is the sum of the three branches' (a visible ``+`` in :meth:`MaskRCNN.train_step`).

**Inference.** The box branch detects first (scores, per-class NMS); the mask branch
then runs on the *detected boxes* only (as in the paper: faster, and more accurate
than on the proposals), picks each box's class channel, and
:func:`~npvision.detection.paste_masks` resizes it into the box in the image
(bilinear, threshold 0.5).

**The ablations** (the paper's table 2): ``mask_head={"pooling": "roi_pool"}`` crops
the mask branch's features by RoI max pooling (corners rounded to the feature grid)
instead of RoIAlign; ``mask_head={"loss": "softmax"}`` replaces the per-class sigmoid
by a softmax over the classes at each pixel (classes then compete for pixels).
"""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from .._rng import as_rng
from ..nn.module import Module
from ..nn.roi import RoIAlign, RoIPool
from .faster_rcnn import FasterRCNN, _images, check_targets
from .mask_head import MASK_LOSSES, MaskHead, mask_loss, mask_loss_softmax, mask_probabilities, mask_targets
from .masks import as_masks, paste_masks

__all__ = ["MaskBranch", "MaskRCNN", "check_mask_targets"]

MASK_POOLINGS = ("roi_align", "roi_pool")


def check_mask_targets(gt_masks, gt_boxes, image_size) -> list[np.ndarray]:
    """One ``(G_i, H, W)`` bool mask stack per image, ``G_i`` its number of boxes, ``(H, W)`` the
    image size; ``gt_masks=None`` (boxes without masks) is an error for a mask model."""
    if gt_masks is None:
        raise ValueError("gt_masks: a mask model needs instance masks with its boxes (one (G_i, H, W) "
                         "bool array per image), received None; for boxes alone train a FasterRCNN")
    if len(gt_masks) != len(gt_boxes):
        raise ValueError(f"gt_masks: expected one mask stack per image ({len(gt_boxes)}), received "
                         f"{len(gt_masks)}")
    out = []
    for i, (m, b) in enumerate(zip(gt_masks, gt_boxes)):
        m = as_masks(m, f"gt_masks[{i}]", image_size=image_size)
        if len(m) != len(b):
            raise ValueError(f"gt_masks[{i}]: expected {len(b)} masks (one per box), received {len(m)}")
        out.append(m)
    return out


class MaskBranch(Module):
    """RoI features and the mask head: ``(features (N, Hf, Wf, C), rois (P, 5)) -> (P, M, M, K')``.

    Parameters
    ----------
    in_channels, num_classes, stride : the feature map's channels, K, its stride in pixels.
    pooling : ``"roi_align"`` (the paper's) or ``"roi_pool"`` (the ablation).
    roi_size : S, the RoI grid fed to the head; the masks are ``M = 2 S`` (S = 14: 28 x 28).
    sampling_ratio, aligned : RoIAlign's (``aligned=True``: pixel centres at ``+0.5``, the
        convention of :func:`mask_targets` and :func:`paste_masks`).
    hidden, num_convs : the head's width and depth (:class:`MaskHead`).
    loss : ``"sigmoid"`` (per-class, the paper's) or ``"softmax"`` (over classes, the ablation).
    """

    def __init__(self, in_channels: int, num_classes: int, stride: int, pooling: str = "roi_align",
                 roi_size: int = 14, sampling_ratio: int = 2, aligned: bool = True, hidden: int = 64,
                 num_convs: int = 4, loss: str = "sigmoid", rng=None, dtype=np.float32):
        super().__init__()
        if pooling not in MASK_POOLINGS:
            raise ValueError(f"pooling: expected one of {MASK_POOLINGS}, received {pooling!r}")
        if loss not in MASK_LOSSES:
            raise ValueError(f"loss: expected one of {MASK_LOSSES}, received {loss!r}")
        self.pooling = pooling
        self.stride = positive_int(stride, "stride")
        self.roi_size = positive_int(roi_size, "roi_size")
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        self.loss = loss
        self.num_classes = positive_int(num_classes, "num_classes")
        if pooling == "roi_pool":
            self.pooler = RoIPool(self.roi_size, spatial_scale=1.0 / self.stride)
        else:
            self.pooler = RoIAlign(self.roi_size, 1.0 / self.stride, self.sampling_ratio, self.aligned)
        self.head = MaskHead(in_channels, num_classes, hidden, num_convs, loss, rng=rng, dtype=dtype)
        self.config = {"pooling": pooling, "roi_size": self.roi_size, "sampling_ratio": self.sampling_ratio,
                       "aligned": self.aligned, "hidden": int(hidden), "num_convs": int(num_convs), "loss": loss}

    @property
    def mask_size(self) -> int:
        return 2 * self.roi_size

    def forward(self, features: np.ndarray, rois: np.ndarray) -> np.ndarray:
        """RoI features ``(P, S, S, C)`` of ``features`` at ``rois (P, 5)``, then the head: ``(P, 2S, 2S, K')``."""
        pooled = self.pooler.forward(features, np.asarray(rois, dtype=features.dtype))   # (P, S, S, C)
        return self.head.forward(pooled)

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        """``dlogits (P, 2S, 2S, K')`` -> ``d features (N, Hf, Wf, C)``."""
        d_pooled = self.head.backward(dlogits)                        # (P, S, S, C)
        return self.pooler.backward(d_pooled)

    def targets(self, rois: np.ndarray, matched: np.ndarray, gt_masks) -> np.ndarray:
        """``(P, M, M)`` mask targets of RoIs ``(P, 5)`` matched to objects ``matched (P,)`` of their image."""
        out = np.zeros((len(rois), self.mask_size, self.mask_size))
        image = rois[:, 0].astype(np.int64)
        for i in np.unique(image):
            rows = np.flatnonzero(image == i)
            out[rows] = mask_targets(gt_masks[i], rois[rows, 1:], matched[rows], self.mask_size)
        return out

    def train_step(self, features: np.ndarray, rois, classes, matched, gt_masks):
        """The branch's loss on positive RoIs and its backward: ``(loss, d_features, terms)``.

        ``rois (P, 5)`` ``[image, x1, y1, x2, y2]``, ``classes (P,)`` their objects' classes
        ``0..K-1``, ``matched (P,)`` their objects' indices in ``gt_masks[image]``.
        No positive RoI: loss 0 and a zero gradient.
        """
        rois = np.asarray(rois, dtype=np.float64).reshape(-1, 5)
        if len(rois) == 0:
            return 0.0, np.zeros_like(features), {"mask": 0.0, "mask_rois": 0}
        targets = self.targets(rois, np.asarray(matched, dtype=np.int64), gt_masks)  # (P, M, M)
        logits = self.forward(features, rois)                                       # (P, M, M, K')
        loss_fn = mask_loss if self.loss == "sigmoid" else mask_loss_softmax
        loss, dlogits = loss_fn(logits, np.asarray(classes, dtype=np.int64), targets.astype(logits.dtype))
        return loss, self.backward(dlogits), {"mask": loss, "mask_rois": len(rois)}

    def predict(self, features: np.ndarray, detections: list, image_size) -> list[dict]:
        """Add ``"masks"`` ``(D, H, W)`` bool and ``"mask_probs"`` ``(D, M, M)`` to each image's
        detections (boxes, classes), from the head on the detected boxes."""
        boxes = [np.asarray(d["boxes"], dtype=np.float64).reshape(-1, 4) for d in detections]
        rois = np.concatenate([np.concatenate([np.full((len(b), 1), float(i)), b], axis=1)
                               for i, b in enumerate(boxes)]) if boxes else np.zeros((0, 5))
        classes = np.concatenate([np.asarray(d["classes"], dtype=np.int64) for d in detections]) \
            if detections else np.zeros(0, np.int64)
        probs = np.zeros((0, self.mask_size, self.mask_size))
        if len(rois):
            probs = mask_probabilities(self.forward(features, rois), classes, self.loss)   # (D, M, M)
        out, start = [], 0
        for d, b in zip(detections, boxes):
            p = probs[start:start + len(b)]
            start += len(b)
            out.append(dict(d, masks=paste_masks(p, b, image_size), mask_probs=p))
        return out


class MaskRCNN(FasterRCNN):
    """Faster R-CNN (RoIAlign in the box branch by default) with a :class:`MaskBranch`.

    ``mask_head``: options of :class:`MaskBranch` (``pooling``, ``roi_size``, ``hidden``,
    ``num_convs``, ``loss``, ...). Everything else as :class:`FasterRCNN`;
    ``MaskRCNN(**model.config)`` rebuilds the model.
    """

    def __init__(self, num_classes: int, input_shape=(64, 64, 3), backbone=None, rpn=None, roi_heads=None,
                 mask_head=None, rng=None, dtype=np.float32):
        rng = as_rng(rng)
        roi_heads = {"pooling": "roi_align", **dict(roi_heads or {})}
        super().__init__(num_classes, input_shape, backbone, rpn, roi_heads, rng=rng, dtype=dtype)
        self.mask_branch = MaskBranch(self.backbone.out_channels, self.num_classes, self.backbone.stride,
                                      **dict(mask_head or {}), rng=rng, dtype=dtype)
        self.config["mask_head"] = dict(self.mask_branch.config)

    def train_step(self, images, gt_boxes, gt_classes, gt_masks=None, rng=None):
        """Forward, the four losses and backward for one batch: ``(loss, terms)``.

        As :meth:`FasterRCNN.train_step` plus ``gt_masks``: one ``(G_i, H, W)`` bool array
        per image, mask ``j`` the object of box ``j``. Gradients are added to ``p.grad``.
        """
        x = _images(images, self.input_shape)
        check_targets(x, gt_boxes, gt_classes, self.num_classes)
        masks = check_mask_targets(gt_masks, gt_boxes, self.image_size)
        rng = as_rng(rng)
        self.train()
        features = self.backbone.forward(x)                                     # (N, Hf, Wf, C)
        loss, d_features_det, terms = self.heads_step(features, gt_boxes, gt_classes, rng)
        rois, labels, matched = self.roi_heads.sampled                         # the box branch's RoIs
        positive = labels > 0
        mask_loss_value, d_features_mask, mask_terms = self.mask_branch.train_step(
            features, rois[positive], labels[positive] - 1, matched[positive], masks)
        self.backbone.backward(d_features_det + d_features_mask)               # the branches add up
        loss = loss + mask_loss_value
        terms.update(mask_terms, loss=loss)
        return loss, terms

    def detect_batch(self, images, score_threshold=None, nms_threshold=None, batch_size: int = 32) -> list[dict]:
        """Detections with masks: one ``{"boxes", "scores", "classes", "masks", "mask_probs"}`` per image."""
        x = _images(images, self.input_shape)
        batch_size = positive_int(batch_size, "batch_size")
        self.eval()
        results = []
        for start in range(0, len(x), batch_size):
            features = self.backbone.forward(x[start:start + batch_size])       # (n, Hf, Wf, C)
            proposals = [b for b, _ in self.rpn.propose(self.rpn.forward(features), self.image_size, False)]
            found = self.roi_heads.detect(features, proposals, self.image_size, score_threshold, nms_threshold)
            results.extend(self.mask_branch.predict(features, found, self.image_size))
        return results
