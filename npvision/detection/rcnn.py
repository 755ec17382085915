"""R-CNN: regions with CNN features (Girshick, Donahue, Darrell and Malik, 2014).

    >>> model = RCNN(num_classes=4, input_shape=(64, 64, 3), rng=0)
    >>> crops = warp_regions(image, proposals, size=32)       # (K, 32, 32, 3): one per proposal
    >>> pool5, fc7 = model.crop_features(crops)              # (K, 1024), (K, 256)
    >>> found = model.detect(image, proposals)              # {"boxes", "scores", "classes"}

The first of the three region-based detectors, and the slowest, because the CNN runs
once *per region*::

    image -> selective search -> ~100 boxes
          -> each box warped to a fixed square (warp_regions), with a little context
          -> the CNN on every crop:  backbone -> 2x2 max pool ("pool5") -> fc6 -> fc7
          -> per class: a linear SVM on fc7 scores the crop,
                        a ridge regression on pool5 corrects the box
          -> per class NMS

Training has three separate stages (the paper's section 2.3 and appendix C; the
recipe is :func:`npvision.tasks.rcnn.train_rcnn`):

1. fine-tune the CNN as a ``K + 1``-way softmax classifier of warped regions
   (:meth:`RCNN.finetune_step`; regions with IoU >= 0.5 to a box are that box's class);
2. one linear SVM per class on fc7 (:func:`~npvision.detection.hard_negative_svm`):
   positives the ground-truth boxes, negatives the regions with IoU < 0.3 to every box
   of the class, mined hard;
3. one ridge regression per class from pool5 to the box deltas
   (:func:`fit_ridge`), on regions with IoU >= 0.6 to a box of the class.

The network is the backbone and box head the other two detectors use
(:mod:`npvision.models.region_cnn`): a crop of ``warp_size`` pixels gives a
``warp_size / 4`` feature map, which a fixed max pool brings to the head's ``P x P``
grid (RoI pooling of the whole crop would compute the same thing). The trained SVMs
and regressors are buffers of the module, saved with its weights.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._checks import _describe, as_float_array, positive_int
from ..data._common import sample_bilinear
from ..models._common import check_model_args
from ..models.region_cnn import RegionBackbone, RoIBoxHead
from ..nn.init import as_rng
from ..nn.module import Module
from ..nn.pool import MaxPool2D
from .box_coder import decode_boxes
from .boxes import as_boxes, clip_boxes
from .nms import batched_nms
from .rpn import remove_small_boxes

__all__ = ["warp_regions", "fit_ridge", "RCNN"]


def warp_regions(image, boxes, size: int = 32, context: float = 2.0) -> np.ndarray:
    """Each box of ``image (H, W, C)`` warped to ``size x size``: ``(K, size, size, C)``.

    R-CNN's "warp" (its appendix A): every region becomes the same square whatever its
    aspect ratio, after dilating it so that ``context`` pixels *of the warped square* on
    each side show the image around the box (the paper: 16 of 227). With
    ``s_x = (x2 - x1) / (size - 2 context)`` (likewise ``s_y``), output column ``j``
    samples the image at ``x = x1 - context s_x + (j + 1/2) s_x``, bilinearly
    (:func:`npvision.data._common.sample_bilinear`; outside the image the border pixel
    repeats). A zero-width box gives a constant column.
    """
    img = as_float_array(image, "image", ndim=3, layout="(H, W, C)")
    b = as_boxes(boxes, "boxes").astype(np.float64)
    size = positive_int(size, "size")
    if not isinstance(context, numbers.Real) or not 0 <= context < size / 2:
        raise ValueError(f"context: expected a number in [0, size / 2) = [0, {size / 2}), received {_describe(context)}")
    inner = size - 2.0 * context
    sx = (b[:, 2] - b[:, 0]) / inner                                  # (K,) image pixels per output pixel
    sy = (b[:, 3] - b[:, 1]) / inner
    grid = np.arange(size) + 0.5 - context                            # (size,) in output pixels from the box edge
    xs = b[:, 0, None] + grid[None, :] * sx[:, None]                  # (K, size) image x of each column
    ys = b[:, 1, None] + grid[None, :] * sy[:, None]                  # (K, size) image y of each row
    k = len(b)
    u = np.broadcast_to(xs[:, None, :], (k, size, size)) - 0.5        # (K, size, size) column index coords
    v = np.broadcast_to(ys[:, :, None], (k, size, size)) - 0.5        # (K, size, size) row index coords
    out = sample_bilinear(img[None], u.reshape(1, k * size, size), v.reshape(1, k * size, size),
                          mode="edge")                                # (1, K size, size, C)
    return out.reshape(k, size, size, img.shape[2])                   # (1, K size, size, C) -> (K, size, size, C)


def fit_ridge(x, targets, lam: float = 1000.0):
    """Ridge regression with an unpenalized intercept: ``(weight (d, m), intercept (m,))``.

    Minimizes ``|x W + b - T|^2 + lam |W|^2``: with the means ``x_m``, ``T_m`` removed,
    ``W = (X^T X + lam I)^-1 X^T T`` and ``b = T_m - x_m W`` (solved, not inverted).
    ``x (n, d)``, ``targets (n, m)``; ``lam > 0`` (R-CNN: 1000).
    """
    x = as_float_array(x, "x", ndim=2).astype(np.float64)
    t = as_float_array(targets, "targets", ndim=2).astype(np.float64)
    if len(x) != len(t) or len(x) == 0:
        raise ValueError(f"targets: expected one row per row of x ({len(x)} >= 1), received {len(t)}")
    if not isinstance(lam, numbers.Real) or not lam > 0:
        raise ValueError(f"lam: expected a positive number, received {_describe(lam)}")
    x_mean, t_mean = x.mean(axis=0), t.mean(axis=0)
    xc, tc = x - x_mean, t - t_mean
    gram = xc.T @ xc + lam * np.eye(x.shape[1])                        # (d, d)
    weight = np.linalg.solve(gram, xc.T @ tc)                          # (d, m)
    return weight, t_mean - x_mean @ weight


class RCNN(Module):
    """R-CNN's network, SVMs and box regressors (module docstring).

    Parameters
    ----------
    num_classes : K.
    input_shape : ``(H, W, 3)`` of the images it detects in.
    warp_size, context : :func:`warp_regions`'s; ``warp_size / backbone stride`` must be a
        multiple of the head's ``pool_size``.
    backbone : options of :class:`~npvision.models.region_cnn.RegionBackbone`.
    pool_size, hidden : the box head's grid and fc width.
    score_threshold, nms_threshold, detections_per_image : detection's post-processing
        (scores are ``sigmoid(SVM margin)``: 0.5 is the SVM's boundary).

    Buffers (set by training, saved with the weights): ``feature_scale`` (fc7 is
    multiplied by it before the SVMs), ``svm_weight (K, hidden)``, ``svm_bias (K,)``,
    ``ridge_weight (K, P P C, 4)``, ``ridge_bias (K, 4)``.
    """

    def __init__(self, num_classes: int, input_shape=(64, 64, 3), warp_size: int = 32, context: float = 2.0,
                 backbone=None, pool_size: int = 4, hidden: int = 256, score_threshold: float = 0.05,
                 nms_threshold: float = 0.5, detections_per_image: int = 100, rng=None, dtype=np.float32):
        super().__init__()
        num_classes, input_shape = check_model_args(num_classes, input_shape, "RCNN")
        rng = as_rng(rng)
        self.num_classes = num_classes
        self.input_shape = input_shape
        self.warp_size = positive_int(warp_size, "warp_size")
        self.context = float(context)
        self.backbone = RegionBackbone(**dict(backbone or {}), in_channels=input_shape[2], rng=rng, dtype=dtype)
        fmap = self.backbone.feature_size(self.warp_size, self.warp_size)[0]
        if fmap % pool_size:
            raise ValueError(f"warp_size: a {self.warp_size}-pixel crop gives a {fmap}x{fmap} feature map, "
                             f"not a multiple of pool_size {pool_size}")
        self.pool5 = MaxPool2D(fmap // pool_size)
        self.head = RoIBoxHead(self.backbone.out_channels, pool_size, num_classes, hidden, rng=rng, dtype=dtype)
        d5 = pool_size * pool_size * self.backbone.out_channels
        self.register_buffer("feature_scale", np.ones(1, dtype=np.float64))
        self.register_buffer("svm_weight", np.zeros((num_classes, hidden), dtype=np.float64))
        self.register_buffer("svm_bias", np.zeros(num_classes, dtype=np.float64))
        self.register_buffer("ridge_weight", np.zeros((num_classes, d5, 4), dtype=np.float64))
        self.register_buffer("ridge_bias", np.zeros((num_classes, 4), dtype=np.float64))
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.detections_per_image = positive_int(detections_per_image, "detections_per_image")
        self.config = {"num_classes": num_classes, "input_shape": list(input_shape), "warp_size": self.warp_size,
                       "context": self.context,
                       "backbone": {k: v for k, v in self.backbone.config.items() if k != "in_channels"},
                       "pool_size": pool_size, "hidden": hidden, "score_threshold": self.score_threshold,
                       "nms_threshold": self.nms_threshold, "detections_per_image": self.detections_per_image}

    @property
    def image_size(self) -> tuple[int, int]:
        return self.input_shape[0], self.input_shape[1]

    # ------------------------------------------------------------------ the CNN
    def forward(self, crops: np.ndarray) -> np.ndarray:
        """Warped crops ``(K, S, S, 3)`` -> the head's packed ``(K, 5 (K + 1))`` (fine-tuning)."""
        features = self.backbone.forward(crops)                         # (K, S/4, S/4, C)
        return self.head.forward(self.pool5.forward(features))          # (K, P, P, C) -> (K, 5 (K + 1))

    def backward(self, dout: np.ndarray):
        return self.backbone.backward(self.pool5.backward(self.head.backward(dout)))

    def finetune_step(self, crops, labels) -> float:
        """Softmax cross-entropy of the ``K + 1`` class logits on labelled crops; gradients accumulated.

        ``labels (K,)`` in ``0..K`` (0 background). The box outputs get no gradient (R-CNN
        fine-tunes a classifier only; its boxes come from the ridge regressors).
        """
        from ..functional.losses import softmax_cross_entropy

        self.train()
        logits, deltas = self.head.split(self.forward(crops))
        loss, d_logits = softmax_cross_entropy(logits, np.asarray(labels, dtype=np.int64))
        self.backward(self.head.join(d_logits, np.zeros_like(deltas)))
        return loss

    def crop_features(self, crops, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """``pool5 (K, P P C)`` and ``fc7 (K, hidden)`` of warped crops (eval mode)."""
        self.eval()
        pool5, fc7 = [], []
        for start in range(0, len(crops), batch_size):
            p5 = self.pool5.forward(self.backbone.forward(crops[start:start + batch_size]))   # (k, P, P, C)
            pool5.append(p5.reshape(len(p5), -1))                       # (k, P, P, C) -> (k, P P C)
            fc7.append(self.head.features(p5))                          # (k, hidden)
        if not pool5:
            d5 = self.ridge_weight.shape[1]
            return np.zeros((0, d5), np.float32), np.zeros((0, self.svm_weight.shape[1]), np.float32)
        return np.concatenate(pool5), np.concatenate(fc7)

    # ------------------------------------------------------------------ SVMs and box regression
    def svm_scores(self, fc7: np.ndarray) -> np.ndarray:
        """The SVM margins ``(K_regions, K)`` of fc7 features."""
        return (fc7.astype(np.float64) * self.feature_scale[0]) @ self.svm_weight.T + self.svm_bias

    def regress(self, pool5: np.ndarray, proposals: np.ndarray) -> np.ndarray:
        """Each class's corrected box of each proposal: ``(R, 4 K)`` xyxy."""
        deltas = np.einsum("rd,kdm->rkm", pool5.astype(np.float64), self.ridge_weight) + self.ridge_bias  # (R, K, 4)
        return decode_boxes(deltas.reshape(len(pool5), -1), proposals.astype(np.float64))      # (R, 4 K)

    # ------------------------------------------------------------------ detection
    def detect(self, image, proposals, score_threshold=None, nms_threshold=None) -> dict:
        """Detections in one ``image (H, W, 3)`` from its ``proposals (P, 4)`` (module docstring)."""
        image = as_float_array(image, "image", ndim=3)
        props = as_boxes(proposals, "proposals").astype(np.float64)
        s = self.score_threshold if score_threshold is None else float(score_threshold)
        t = self.nms_threshold if nms_threshold is None else float(nms_threshold)
        k = self.num_classes
        empty = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "classes": np.zeros(0, np.int64)}
        if len(props) == 0:
            return empty
        crops = warp_regions(image, props, self.warp_size, self.context)   # (P, S, S, 3)
        pool5, fc7 = self.crop_features(crops)
        scores = 1.0 / (1.0 + np.exp(-self.svm_scores(fc7)))             # (P, K)
        boxes = clip_boxes(self.regress(pool5, props).reshape(-1, 4), image.shape[:2])   # (P K, 4)
        labels = np.broadcast_to(np.arange(k), (len(props), k)).reshape(-1)             # (P K,)
        scores = scores.reshape(-1)
        keep = np.flatnonzero(scores > s)
        keep = keep[remove_small_boxes(boxes[keep], 1e-2)]
        if len(keep) == 0:
            return empty
        order = batched_nms(boxes[keep], scores[keep], labels[keep], t)[:self.detections_per_image]
        keep = keep[order]
        return {"boxes": boxes[keep], "scores": scores[keep], "classes": labels[keep].astype(np.int64)}

    def detect_batch(self, images, proposals, score_threshold=None, nms_threshold=None) -> list[dict]:
        """:meth:`detect` for each image with its proposals."""
        if len(images) != len(proposals):
            raise ValueError(f"proposals: expected one array per image ({len(images)}), received {len(proposals)}")
        return [self.detect(im, p, score_threshold, nms_threshold) for im, p in zip(images, proposals)]

