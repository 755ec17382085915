"""The region proposal network: anchors scored and corrected, then filtered into proposals.

Faster R-CNN (Ren et al., 2015) replaces selective search by a small network that
slides over the backbone's feature map. At every location it looks at ``A`` anchors
(:class:`~npvision.detection.AnchorGenerator`) and predicts, for each, an objectness
logit ("is there an object here?") and four deltas that move the anchor onto the
object (:func:`~npvision.detection.decode_boxes`). Three steps, each a function here:

1. **targets** (:func:`rpn_targets`), training only: match anchors to ground truth
   (foreground IoU >= 0.7, background < 0.3, each box's best anchor kept:
   :func:`~npvision.detection.match_boxes`), sample 256 anchors per image of which at
   most half positive (:func:`~npvision.detection.sample_balanced`), encode the matched
   boxes as deltas;
2. **loss** (:func:`~npvision.detection.rpn_loss`): binary cross-entropy on the
   sampled anchors' objectness plus smooth L1 on the positives' deltas;
3. **proposals** (:func:`generate_proposals`, the "proposal layer"): decode every
   anchor, keep the ``pre_nms_top_n`` best by objectness (per feature level), clip to
   the image, drop boxes smaller than ``min_size``, NMS at ``nms_threshold``, keep the
   ``post_nms_top_n`` best. Exactly torchvision's ``filter_proposals``.

:class:`RegionProposalNetwork` bundles the head network
(:class:`npvision.models.region_cnn.RPNHead`), the anchor generator and these settings.
Proposals are treated as constants by the next stage: no gradient flows from the box
head into the RPN through the box coordinates ("approximate joint training").
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe, as_float_array, int_pair, nonnegative_int, positive_int
from .._rng import as_rng
from ..models.region_cnn import RPNHead
from ..nn.module import Module
from .anchor_generator import AnchorGenerator
from .box_coder import decode_boxes, encode_boxes
from .boxes import as_boxes, box_iou, clip_boxes
from .matcher import match_boxes, sample_balanced
from .nms import batched_nms
from .two_stage_losses import rpn_loss

__all__ = ["rpn_targets", "generate_proposals", "remove_small_boxes", "RegionProposalNetwork"]


def _unit(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], received {_describe(v)}")
    return float(v)


def remove_small_boxes(boxes: np.ndarray, min_size: float) -> np.ndarray:
    """Indices of the xyxy boxes with width and height both ``>= min_size``: ``(K,)`` int64."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return np.flatnonzero((w >= min_size) & (h >= min_size)).astype(np.int64)


def rpn_targets(anchors, gt_boxes, fg_iou_threshold: float = 0.7, bg_iou_threshold: float = 0.3,
                batch_size_per_image: int = 256, positive_fraction: float = 0.5, rng=None):
    """Training labels and regression targets of every anchor of every image.

    ``anchors (A, 4)`` xyxy (shared by the images); ``gt_boxes`` a list of ``N`` arrays
    ``(G_i, 4)``. Returns ``labels (N, A)`` int64 (1 sampled positive, 0 sampled
    negative, -1 not sampled: ignored, between the thresholds, or left out by the
    sampler) and ``target_deltas (N, A, 4)`` (:func:`encode_boxes` of each anchor's
    matched box with unit weights; zeros where there is no match).
    """
    anchors = as_boxes(anchors, "anchors")
    rng = as_rng(rng)
    labels = np.full((len(gt_boxes), len(anchors)), -1, dtype=np.int64)
    targets = np.zeros((len(gt_boxes), len(anchors), 4), dtype=anchors.dtype)
    for i, gt in enumerate(gt_boxes):
        gt = as_boxes(gt, f"gt_boxes[{i}]")
        matches = match_boxes(box_iou(anchors, gt), fg_iou_threshold, bg_iou_threshold,
                              allow_low_quality_matches=True)          # (A,)
        match_labels = np.where(matches >= 0, 1, np.where(matches == -1, 0, -1))
        pos, neg = sample_balanced(match_labels, batch_size_per_image, positive_fraction, rng)
        labels[i, pos] = 1
        labels[i, neg] = 0
        if len(pos):
            targets[i, pos] = encode_boxes(gt[matches[pos]], anchors[pos])
    return labels, targets


def _top_n_per_level(scores: np.ndarray, num_anchors_per_level, top_n: int) -> np.ndarray:
    """Indices of the ``top_n`` highest scores of each level (in decreasing score order), concatenated."""
    picked, start = [], 0
    for n in num_anchors_per_level:
        level = scores[start:start + n]
        order = np.argsort(-level, kind="stable")[:min(top_n, n)]      # (k,) best first
        picked.append(order + start)
        start += n
    return np.concatenate(picked)


def generate_proposals(objectness, deltas, anchors, image_size, pre_nms_top_n: int = 1000,
                       post_nms_top_n: int = 1000, nms_threshold: float = 0.7, min_size: float = 1e-3,
                       score_threshold: float = 0.0, num_anchors_per_level=None):
    """The proposal layer: one ``(boxes (P, 4), scores (P,))`` pair per image.

    Parameters
    ----------
    objectness : ``(N, A)`` logits; deltas ``(N, A, 4)``; anchors ``(A, 4)`` xyxy.
    image_size : ``(H, W)``: proposals are clipped to ``[0, W] x [0, H]``.
    pre_nms_top_n : the best anchors by objectness kept per level before NMS.
    post_nms_top_n : proposals kept per image after NMS (best first).
    nms_threshold : NMS between proposals of the same level (IoU > it suppresses).
    min_size : proposals narrower or shorter than this (pixels) are dropped.
    score_threshold : proposals with ``sigmoid(objectness) < score_threshold`` are dropped.
    num_anchors_per_level : anchors per feature level (default: one level).

    ``scores`` are ``sigmoid(objectness)`` of the kept proposals, decreasing. Steps in the
    module docstring; this is torchvision's ``filter_proposals`` step for step.
    """
    obj = as_float_array(objectness, "objectness", ndim=2)
    n, a = obj.shape
    d = as_float_array(deltas, "deltas", ndim=3)
    if d.shape != (n, a, 4):
        raise ValueError(f"deltas: expected shape ({n}, {a}, 4) to match objectness, received {d.shape}")
    anchors = as_boxes(anchors, "anchors")
    if len(anchors) != a:
        raise ValueError(f"anchors: expected {a} anchors (one per objectness column), received {len(anchors)}")
    h, w = int_pair(image_size, "image_size")
    pre = positive_int(pre_nms_top_n, "pre_nms_top_n")
    post = positive_int(post_nms_top_n, "post_nms_top_n")
    t = _unit(nms_threshold, "nms_threshold")
    if not isinstance(min_size, numbers.Real) or not min_size >= 0:
        raise ValueError(f"min_size: expected a number >= 0, received {_describe(min_size)}")
    score_threshold = _unit(score_threshold, "score_threshold")
    levels_n = [a] if num_anchors_per_level is None else [nonnegative_int(v, "num_anchors_per_level[i]")
                                                          for v in num_anchors_per_level]
    if sum(levels_n) != a:
        raise ValueError(f"num_anchors_per_level: expected counts summing to the {a} anchors, "
                         f"received {list(num_anchors_per_level)}")
    level_of = np.repeat(np.arange(len(levels_n)), levels_n)            # (A,) level of each anchor

    results = []
    for i in range(n):
        keep = _top_n_per_level(obj[i], levels_n, pre)                  # (k,)
        boxes = decode_boxes(d[i, keep], anchors[keep].astype(d.dtype))  # (k, 4)
        scores = 1.0 / (1.0 + np.exp(-obj[i, keep].astype(np.float64)))  # sigmoid, (k,)
        level = level_of[keep]
        boxes = clip_boxes(boxes, (h, w))
        ok = remove_small_boxes(boxes, min_size)
        boxes, scores, level = boxes[ok], scores[ok], level[ok]
        ok = np.flatnonzero(scores >= score_threshold)
        boxes, scores, level = boxes[ok], scores[ok], level[ok]
        ok = batched_nms(boxes, scores, level, t)[:post]                # per level, best first
        results.append((boxes[ok], scores[ok].astype(obj.dtype)))
    return results


class RegionProposalNetwork(Module):
    """The RPN: head network + anchors + target, loss and proposal settings.

    Parameters
    ----------
    in_channels : channels of the feature map it reads.
    anchor_sizes, aspect_ratios : one level of anchors (:class:`AnchorGenerator`).
    fg_iou_threshold, bg_iou_threshold : the matcher's (0.7, 0.3).
    batch_size_per_image, positive_fraction : the sampler's (256, 0.5).
    pre_nms_top_n, post_nms_top_n : ``{"training": n, "testing": n}`` (or one int for both).
    nms_threshold, min_size, score_threshold : the proposal layer's.
    beta : smooth L1's switch point in the loss.

    ``forward(features)`` is the head (packed ``(N, Hf, Wf, 5 A)``, see
    :class:`~npvision.models.region_cnn.RPNHead`); :meth:`propose` and :meth:`loss` read
    that output. ``backward(dout)`` is the head's backward.
    """

    def __init__(self, in_channels: int, anchor_sizes=(12, 20, 28), aspect_ratios=(0.5, 1.0, 2.0),
                 mid_channels: int | None = None, fg_iou_threshold: float = 0.7,
                 bg_iou_threshold: float = 0.3, batch_size_per_image: int = 256,
                 positive_fraction: float = 0.5, pre_nms_top_n=600, post_nms_top_n=300,
                 nms_threshold: float = 0.7, min_size: float = 1e-3, score_threshold: float = 0.0,
                 beta: float = 1.0 / 9, rng=None, dtype=np.float32):
        super().__init__()
        self.anchor_generator = AnchorGenerator((tuple(anchor_sizes),), (tuple(aspect_ratios),))
        self.head = RPNHead(in_channels, self.anchor_generator.num_anchors[0], mid_channels,
                            rng=rng, dtype=dtype)
        self.fg_iou_threshold = _unit(fg_iou_threshold, "fg_iou_threshold")
        self.bg_iou_threshold = _unit(bg_iou_threshold, "bg_iou_threshold")
        self.batch_size_per_image = positive_int(batch_size_per_image, "batch_size_per_image")
        self.positive_fraction = _unit(positive_fraction, "positive_fraction")
        self.pre_nms_top_n = self._both(pre_nms_top_n, "pre_nms_top_n")
        self.post_nms_top_n = self._both(post_nms_top_n, "post_nms_top_n")
        self.nms_threshold = _unit(nms_threshold, "nms_threshold")
        self.min_size = float(min_size)
        self.score_threshold = _unit(score_threshold, "score_threshold")
        self.beta = float(beta)
        self._anchor_cache: dict = {}
        self.config = {"in_channels": in_channels, "anchor_sizes": list(anchor_sizes),
                       "aspect_ratios": list(aspect_ratios), "mid_channels": self.head.config["mid_channels"],
                       "fg_iou_threshold": self.fg_iou_threshold, "bg_iou_threshold": self.bg_iou_threshold,
                       "batch_size_per_image": self.batch_size_per_image,
                       "positive_fraction": self.positive_fraction, "pre_nms_top_n": dict(self.pre_nms_top_n),
                       "post_nms_top_n": dict(self.post_nms_top_n), "nms_threshold": self.nms_threshold,
                       "min_size": self.min_size, "score_threshold": self.score_threshold, "beta": self.beta}

    @staticmethod
    def _both(v, name: str) -> dict:
        if isinstance(v, dict):
            if set(v) != {"training", "testing"}:
                raise ValueError(f"{name}: expected {{'training': n, 'testing': n}}, received {v!r}")
            return {k: positive_int(v[k], f"{name}[{k!r}]") for k in ("training", "testing")}
        n = positive_int(v, name)
        return {"training": n, "testing": n}

    @property
    def num_anchors(self) -> int:
        """``A``, anchors per feature-map location."""
        return self.head.num_anchors

    def anchors(self, feature_size, image_size) -> np.ndarray:
        """The ``(Hf Wf A, 4)`` anchors of a feature map (cached per sizes)."""
        key = (tuple(feature_size), tuple(image_size))
        if key not in self._anchor_cache:
            self._anchor_cache[key] = self.anchor_generator.anchors([tuple(feature_size)], tuple(image_size))
        return self._anchor_cache[key]

    def forward(self, features: np.ndarray) -> np.ndarray:
        return self.head.forward(features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self.head.backward(dout)

    def propose(self, out: np.ndarray, image_size, training: bool | None = None):
        """Proposals from the head's packed output: one ``(boxes (P, 4), scores (P,))`` per image."""
        mode = "training" if (self.training if training is None else training) else "testing"
        objectness, deltas = self.head.split(out)
        anchors = self.anchors(out.shape[1:3], image_size)
        return generate_proposals(objectness, deltas, anchors, image_size, self.pre_nms_top_n[mode],
                                  self.post_nms_top_n[mode], self.nms_threshold, self.min_size,
                                  self.score_threshold)

    def loss(self, out: np.ndarray, gt_boxes, image_size, rng=None):
        """``(loss, d_out, terms)`` of the head's packed output against the ground truth.

        ``gt_boxes``: one ``(G_i, 4)`` array per image. ``d_out`` is packed like ``out``,
        ready for :meth:`backward`; ``terms`` holds ``"objectness"`` and ``"box"``.
        """
        objectness, deltas = self.head.split(out)                       # (N, M), (N, M, 4)
        anchors = self.anchors(out.shape[1:3], image_size)
        labels, targets = rpn_targets(anchors, gt_boxes, self.fg_iou_threshold, self.bg_iou_threshold,
                                      self.batch_size_per_image, self.positive_fraction, rng)
        n, m = objectness.shape
        loss, (d_obj, d_del), terms = rpn_loss(objectness.reshape(-1), deltas.reshape(-1, 4),
                                               labels.reshape(-1), targets.reshape(-1, 4), self.beta)
        d_out = self.head.join(d_obj.reshape(n, m), d_del.reshape(n, m, 4), out.shape[1:3])
        return loss, d_out, terms
