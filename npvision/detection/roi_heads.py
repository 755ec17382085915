"""The box branch every two-stage detector shares: RoI targets, RoI features, detections.

Fast R-CNN (Girshick, 2015) classifies and refines *proposals*: boxes that may
contain an object, from selective search (Fast R-CNN) or from the RPN (Faster R-CNN).

**Training targets** (:func:`roi_head_targets`, torchvision's
``select_training_samples``). The ground-truth boxes are added to each image's
proposals (so every object has at least one perfect RoI), every RoI is matched to
the ground truth at IoU 0.5 (foreground: label ``class + 1``; background: label 0,
the paper's ``[0.1, 0.5)`` lower bound dropped as torchvision does), then 64 RoIs per
image are sampled with at most a quarter foreground (the paper: 128 per image, 25 %),
and each foreground RoI's box is encoded against it with weights ``(10, 10, 5, 5)``.

**RoI features** (:class:`RoIBoxBranch`): RoI max pooling or RoIAlign of the
backbone's feature map at each RoI to a ``P x P`` grid (:mod:`npvision.functional`),
then :class:`~npvision.models.region_cnn.RoIBoxHead`: class logits and class-specific
deltas. Its backward returns the gradient of the feature map, so the backbone learns
through the pooling.

**Detections** (:func:`postprocess_detections`, torchvision's
``postprocess_detections``): softmax over the ``K + 1`` classes, decode each class's
box from the RoI, clip to the image, then treat every (RoI, class >= 1) pair as a
candidate: keep scores ``> score_threshold``, drop boxes narrower than ``1e-2``,
NMS per class at ``nms_threshold``, keep the best ``detections_per_image``. Classes
come out as ``0..K-1`` (npvision's labels), one lower than the head's.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, int_pair, positive_int
from .._rng import as_rng
from ..models.region_cnn import RoIBoxHead
from ..nn.module import Module
from ..nn.roi import RoIAlign, RoIPool
from .box_coder import decode_boxes, encode_boxes
from .boxes import as_boxes, box_iou, clip_boxes
from .matcher import BETWEEN_THRESHOLDS, match_boxes, sample_balanced
from .nms import batched_nms
from .rpn import _unit, remove_small_boxes

__all__ = ["roi_head_targets", "postprocess_detections", "RoIBoxBranch", "BOX_HEAD_WEIGHTS", "POOLINGS"]

#: how RoI features are cut out of the feature map: RoI max pooling or RoIAlign
POOLINGS = ("roi_pool", "roi_align")

#: the box head's encoding weights (torchvision's ``(10, 10, 5, 5)``)
BOX_HEAD_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def roi_head_targets(proposals, gt_boxes, gt_classes, fg_iou_threshold: float = 0.5,
                     bg_iou_threshold: float = 0.5, batch_size_per_image: int = 64,
                     positive_fraction: float = 0.25, weights=BOX_HEAD_WEIGHTS, rng=None,
                     add_gt_boxes: bool = True):
    """The RoIs one batch trains the box head on, with their labels and box targets.

    Parameters
    ----------
    proposals : list of ``N`` arrays ``(P_i, 4)`` xyxy.
    gt_boxes, gt_classes : lists of ``N`` arrays ``(G_i, 4)`` and ``(G_i,)`` (classes ``0..K-1``).
    fg_iou_threshold, bg_iou_threshold : foreground at IoU >= fg, background below bg.
    batch_size_per_image, positive_fraction : the sampler's.
    weights : the box coder's weights of the targets.
    add_gt_boxes : append the ground-truth boxes to the proposals first.

    Returns ``rois (R, 5)`` rows ``[image index, x1, y1, x2, y2]`` (the layout of
    :func:`npvision.functional.roi_pool_forward`), ``labels (R,)`` int64 in ``0..K``
    (0 background, ``class + 1`` foreground), ``target_deltas (R, 4)`` (zeros on
    background rows) and ``matched (R,)`` int64, the index of each foreground RoI's box
    in its image's ``gt_boxes`` (-1 on background rows; a mask head reads it); the
    images' sampled RoIs in order, each image's positives first.
    """
    if not (len(proposals) == len(gt_boxes) == len(gt_classes)):
        raise ValueError(f"proposals, gt_boxes, gt_classes: expected one entry per image each, received "
                         f"{len(proposals)}, {len(gt_boxes)}, {len(gt_classes)}")
    rng = as_rng(rng)
    rois, labels, targets, matched = [], [], [], []
    for i, (props, gt, cls) in enumerate(zip(proposals, gt_boxes, gt_classes)):
        props = as_boxes(props, f"proposals[{i}]").astype(np.float64)
        gt = as_boxes(gt, f"gt_boxes[{i}]").astype(np.float64)
        cls = np.asarray(cls, dtype=np.int64).reshape(-1)
        if len(cls) != len(gt):
            raise ValueError(f"gt_classes[{i}]: expected {len(gt)} classes (one per box), received {len(cls)}")
        if add_gt_boxes:
            props = np.concatenate([props, gt])                          # (P + G, 4)
        matches = match_boxes(box_iou(props, gt), fg_iou_threshold, bg_iou_threshold)    # (P,)
        lab = np.zeros(len(props), dtype=np.int64)                       # background ...
        fg = matches >= 0
        lab[fg] = cls[matches[fg]] + 1                                   # ... foreground: class + 1
        lab[matches == BETWEEN_THRESHOLDS] = -1                          # ignored: never sampled
        pos, neg = sample_balanced(lab, batch_size_per_image, positive_fraction, rng)
        keep = np.concatenate([pos, neg])
        t = np.zeros((len(keep), 4))
        if len(pos):
            t[:len(pos)] = encode_boxes(gt[matches[pos]], props[pos], weights)
        rois.append(np.concatenate([np.full((len(keep), 1), float(i)), props[keep]], axis=1))
        labels.append(lab[keep])
        targets.append(t)
        matched.append(np.where(lab[keep] > 0, matches[keep], -1))
    return (np.concatenate(rois), np.concatenate(labels).astype(np.int64), np.concatenate(targets),
            np.concatenate(matched).astype(np.int64))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))                         # (R, K + 1)
    return e / e.sum(axis=1, keepdims=True)


def postprocess_detections(class_logits, box_deltas, proposals, image_size, score_threshold: float = 0.05,
                           nms_threshold: float = 0.5, detections_per_image: int = 100,
                           weights=BOX_HEAD_WEIGHTS) -> dict:
    """One image's detections from the box head's outputs on its proposals.

    ``class_logits (R, K + 1)``, ``box_deltas (R, 4 (K + 1))``, ``proposals (R, 4)`` xyxy,
    ``image_size (H, W)``. Returns ``{"boxes": (D, 4), "scores": (D,), "classes": (D,)}``
    sorted by score, classes ``0..K-1`` (steps in the module docstring).
    """
    z = as_float_array(class_logits, "class_logits", ndim=2)
    r, k1 = z.shape
    d = as_float_array(box_deltas, "box_deltas", ndim=2)
    if d.shape != (r, 4 * k1):
        raise ValueError(f"box_deltas: expected shape ({r}, {4 * k1}), received {d.shape}")
    props = as_boxes(proposals, "proposals")
    if len(props) != r:
        raise ValueError(f"proposals: expected {r} boxes (one per row of class_logits), received {len(props)}")
    h, w = int_pair(image_size, "image_size")
    score_threshold = _unit(score_threshold, "score_threshold")
    nms_threshold = _unit(nms_threshold, "nms_threshold")
    top = positive_int(detections_per_image, "detections_per_image")
    if r == 0:
        return {"boxes": np.zeros((0, 4), z.dtype), "scores": np.zeros(0, z.dtype),
                "classes": np.zeros(0, np.int64)}
    boxes = decode_boxes(d, props.astype(d.dtype), weights)             # (R, 4 (K + 1))
    boxes = clip_boxes(boxes.reshape(-1, 4), (h, w)).reshape(r, k1, 4)  # (R, K + 1, 4)
    scores = _softmax(z)                                                # (R, K + 1)
    labels = np.broadcast_to(np.arange(k1), (r, k1))                    # (R, K + 1)
    boxes = boxes[:, 1:].reshape(-1, 4)                                 # background dropped: (R K, 4)
    scores = scores[:, 1:].reshape(-1)                                  # (R K,)
    labels = labels[:, 1:].reshape(-1)
    keep = np.flatnonzero(scores > score_threshold)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = remove_small_boxes(boxes, 1e-2)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = batched_nms(boxes, scores, labels, nms_threshold)[:top]
    return {"boxes": boxes[keep], "scores": scores[keep], "classes": (labels[keep] - 1).astype(np.int64)}


class RoIBoxBranch(Module):
    """RoI features and the box head: ``(features (N, Hf, Wf, C), rois (R, 5)) -> (R, 5 (K + 1))``.

    Parameters
    ----------
    in_channels : C, the feature map's channels.
    num_classes : K object classes (the head predicts K + 1 with the background).
    stride : input pixels per feature cell (``spatial_scale = 1 / stride``).
    pooling : ``"roi_pool"`` (Fast R-CNN's max pooling, corners rounded to the grid) or
        ``"roi_align"`` (Mask R-CNN's bilinear sampling, no rounding).
    pool_size : ``P``, the RoI grid (``P x P`` bins).
    sampling_ratio, aligned : RoIAlign's (ignored by RoI pooling).
    hidden : width of fc6 and fc7.
    batch_size_per_image, positive_fraction, fg_iou_threshold, bg_iou_threshold : training
        RoIs (:func:`roi_head_targets`).
    beta : smooth L1's switch point in :func:`~npvision.detection.fast_rcnn_loss`.
    score_threshold, nms_threshold, detections_per_image : :func:`postprocess_detections`.

    ``forward(features, rois)`` pools and runs :class:`~npvision.models.region_cnn.RoIBoxHead`;
    ``backward(dout)`` returns ``d features`` (the RoI coordinates get no gradient).
    :meth:`pool` alone gives the ``(R, P, P, C)`` RoI features; :meth:`train_step` and
    :meth:`detect` are the branch's two uses.
    """

    def __init__(self, in_channels: int, num_classes: int, stride: int, pooling: str = "roi_pool",
                 pool_size: int = 4, sampling_ratio: int = 2, aligned: bool = False, hidden: int = 256,
                 batch_size_per_image: int = 64, positive_fraction: float = 0.25,
                 fg_iou_threshold: float = 0.5, bg_iou_threshold: float = 0.5, beta: float = 1.0 / 9,
                 score_threshold: float = 0.05, nms_threshold: float = 0.5, detections_per_image: int = 100,
                 rng=None, dtype=np.float32):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {POOLINGS}, received {pooling!r}")
        self.pooling = pooling
        self.stride = positive_int(stride, "stride")
        self.pool_size = positive_int(pool_size, "pool_size")
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        if pooling == "roi_pool":
            self.pooler = RoIPool(self.pool_size, spatial_scale=1.0 / self.stride)
        else:
            self.pooler = RoIAlign(self.pool_size, 1.0 / self.stride, self.sampling_ratio, self.aligned)
        self.head = RoIBoxHead(in_channels, self.pool_size, num_classes, hidden, rng=rng, dtype=dtype)
        self.batch_size_per_image = positive_int(batch_size_per_image, "batch_size_per_image")
        self.positive_fraction = _unit(positive_fraction, "positive_fraction")
        self.fg_iou_threshold = _unit(fg_iou_threshold, "fg_iou_threshold")
        self.bg_iou_threshold = _unit(bg_iou_threshold, "bg_iou_threshold")
        self.beta = float(beta)
        self.score_threshold = _unit(score_threshold, "score_threshold")
        self.nms_threshold = _unit(nms_threshold, "nms_threshold")
        self.detections_per_image = positive_int(detections_per_image, "detections_per_image")
        self.config = {"in_channels": in_channels, "num_classes": self.head.num_classes, "stride": self.stride,
                       "pooling": pooling, "pool_size": self.pool_size, "sampling_ratio": self.sampling_ratio,
                       "aligned": self.aligned, "hidden": self.head.config["hidden"],
                       "batch_size_per_image": self.batch_size_per_image,
                       "positive_fraction": self.positive_fraction, "fg_iou_threshold": self.fg_iou_threshold,
                       "bg_iou_threshold": self.bg_iou_threshold, "beta": self.beta,
                       "score_threshold": self.score_threshold, "nms_threshold": self.nms_threshold,
                       "detections_per_image": self.detections_per_image}

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def pool(self, features: np.ndarray, rois: np.ndarray) -> np.ndarray:
        """RoI features ``(R, P, P, C)`` of ``features (N, Hf, Wf, C)`` at ``rois (R, 5)`` (image pixels)."""
        return self.pooler.forward(features, np.asarray(rois, dtype=features.dtype))

    def forward(self, features: np.ndarray, rois: np.ndarray) -> np.ndarray:
        return self.head.forward(self.pool(features, rois))           # (R, P, P, C) -> (R, 5 (K + 1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout (R, 5 (K + 1))`` -> ``d features (N, Hf, Wf, C)``."""
        d_pooled = self.head.backward(dout)                           # (R, P, P, C)
        return self.pooler.backward(d_pooled)                          # (N, Hf, Wf, C)

    def train_step(self, features: np.ndarray, proposals, gt_boxes, gt_classes, rng=None):
        """One training pass of the branch: ``(loss, d_features, terms)``.

        Samples RoIs from ``proposals`` (:func:`roi_head_targets`), pools and classifies
        them, takes :func:`~npvision.detection.fast_rcnn_loss` and its backward down to
        the feature map; the head's parameter gradients are accumulated.
        ``terms``: ``"classifier"``, ``"box"``, ``"rois"`` and ``"foreground"`` (counts).
        The sampled RoIs stay in ``self.sampled = (rois (R, 5), labels (R,), matched (R,))``
        (:func:`roi_head_targets`' outputs) for a branch that trains on the same RoIs.
        """
        from .two_stage_losses import fast_rcnn_loss

        rois, labels, targets, matched = roi_head_targets(
            proposals, gt_boxes, gt_classes, self.fg_iou_threshold, self.bg_iou_threshold,
            self.batch_size_per_image, self.positive_fraction, BOX_HEAD_WEIGHTS, rng)
        self.sampled = (rois, labels, matched)        # read by a mask branch (Mask R-CNN)
        out = self.forward(features, rois)                               # (R, 5 (K + 1))
        logits, deltas = self.head.split(out)
        loss, (d_logits, d_deltas), terms = fast_rcnn_loss(logits, deltas, labels, targets, self.beta)
        d_features = self.backward(self.head.join(d_logits, d_deltas))   # (N, Hf, Wf, C)
        terms = dict(terms, rois=len(rois), foreground=int((labels > 0).sum()))
        return loss, d_features, terms

    def detect(self, features: np.ndarray, proposals, image_size, score_threshold=None,
               nms_threshold=None) -> list[dict]:
        """Detections of each image from its proposals (``proposals[i]`` ``(P_i, 4)``): a dict per image."""
        boxes = [as_boxes(p, f"proposals[{i}]") for i, p in enumerate(proposals)]
        rois = np.concatenate([np.concatenate([np.full((len(b), 1), float(i)), b], axis=1)
                               for i, b in enumerate(boxes)]) if boxes else np.zeros((0, 5))
        s = self.score_threshold if score_threshold is None else score_threshold
        t = self.nms_threshold if nms_threshold is None else nms_threshold
        results = []
        if len(rois):
            logits, deltas = self.head.split(self.forward(features, rois))
        start = 0
        for b in boxes:
            stop = start + len(b)
            if len(b):
                results.append(postprocess_detections(logits[start:stop], deltas[start:stop], b, image_size,
                                                      s, t, self.detections_per_image))
            else:
                results.append({"boxes": np.zeros((0, 4), features.dtype), "scores": np.zeros(0, features.dtype),
                                "classes": np.zeros(0, np.int64)})
            start = stop
        return results
