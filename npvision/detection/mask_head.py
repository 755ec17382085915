"""The mask branch of Mask R-CNN: targets, head, losses, and masks back in the image.

Mask R-CNN (He, Gkioxari, Dollar and Girshick, 2017) adds to Faster R-CNN a small
fully convolutional head that, for each RoI, predicts an ``M x M`` mask (M = 28)
*for every class*; only the channel of the RoI's class is used.

Mask targets
------------
A positive RoI ``b`` (matched to a ground-truth object ``g``) gets the target
``t = RoIAlign(mask_g, b, M x M)``: the ground-truth mask, as a 0/1 image, cropped
to the RoI and resampled to ``M x M`` (values in [0, 1] at the object's edge).
RoIAlign runs with ``aligned=True``: pixel ``(r, c)`` is the square
``[c, c+1) x [r, r+1)`` (centre ``c + 0.5``), and target cell ``(i, j)`` is centred
at ``(x1 + (j + 0.5) w / M, y1 + (i + 0.5) h / M)`` -- the grid
:func:`npvision.detection.masks.paste_masks` pastes back on.

The head (:class:`MaskHead`)
----------------------------
RoI features ``(P, S, S, C)`` (S = 14 in the paper) -> ``num_convs`` x (3x3 conv,
ReLU) -> 2x2 transpose conv with stride 2, ReLU -> 1x1 conv -> logits
``(P, 2S, 2S, K)``, one mask logit map per class (or ``K + 1`` for the softmax variant).

The losses
----------
- **per-class sigmoid** (the paper's choice, :func:`mask_loss`): with ``z`` the logits
  of the ground-truth class ``y_p``'s channel only,
  ``L = 1 / (P M^2) sum_p sum_ij BCE(sigmoid(z[p, i, j, y_p]), t[p, i, j])``;
  ``dL/dz[p, i, j, y_p] = (sigmoid(z) - t) / (P M^2)`` and 0 on every other channel:
  classes do not compete for a pixel, the box branch has already chosen the class.
- **softmax over classes** (the FCN-style alternative the paper ablates,
  :func:`mask_loss_softmax`): ``K + 1`` channels (0 = background), at each pixel
  the softmax cross-entropy against the label ``y_p + 1`` where ``t >= 0.5`` and 0
  elsewhere; the mask of class ``y`` is then ``softmax(z)[..., y + 1]``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .. import nn
from .._checks import _describe, as_float_array
from .boxes import as_boxes
from .masks import as_masks

__all__ = [
    "MASK_LOSSES",
    "MaskHead",
    "mask_loss",
    "mask_loss_softmax",
    "mask_probabilities",
    "mask_targets",
]

MASK_LOSSES = ("sigmoid", "softmax")


# ----------------------------------------------------------------------------- targets

def mask_targets(gt_masks, rois, matched, output_size: int = 28, sampling_ratio: int = 2) -> np.ndarray:
    """RoIAlign of each RoI's matched ground-truth mask: ``(P, M, M)`` float in [0, 1].

    ``gt_masks (G, H, W)`` bool (one image's objects), ``rois (P, 4)`` xyxy image
    pixels, ``matched (P,)`` int: the object each RoI was matched to. The masks are
    fed to RoIAlign as a batch of ``G`` one-channel images, and RoI ``p`` reads image
    ``matched[p]`` (``aligned=True``, ``sampling_ratio`` samples per bin and axis).
    """
    masks = as_masks(gt_masks, "gt_masks")
    boxes = as_boxes(rois, "rois")
    idx = np.asarray(matched)
    if idx.shape != (len(boxes),) or idx.dtype.kind not in "iu":
        raise ValueError(f"matched: expected ({len(boxes)},) ints (one object index per RoI), received "
                         f"{_describe(matched)}")
    if len(idx) and (idx.min() < 0 or idx.max() >= len(masks)):
        raise ValueError(f"matched: expected indices in [0, {len(masks)}) (the ground-truth masks), "
                         f"received values in [{idx.min()}, {idx.max()}]")
    if len(boxes) == 0:
        return np.zeros((0, output_size, output_size))
    x = masks.astype(np.float64)[..., None]                                    # (G, H, W, 1)
    rois5 = np.concatenate([idx[:, None].astype(np.float64), boxes], axis=1)   # (P, 5)
    t, _ = F.roi_align_forward(x, rois5, output_size, spatial_scale=1.0,
                               sampling_ratio=sampling_ratio, aligned=True)    # (P, M, M, 1)
    return np.clip(t[..., 0], 0.0, 1.0)                                        # (P, M, M)


# ----------------------------------------------------------------------------- the head

class MaskHead(nn.Module):
    """RoI features ``(P, S, S, C)`` -> mask logits ``(P, 2S, 2S, out_channels)``.

    ``num_convs`` 3x3 convolutions (``hidden`` channels, "same" padding, ReLU),
    a 2x2 transpose convolution with stride 2 (doubles the size, ReLU), and a
    1x1 convolution to ``num_classes`` maps (``loss="sigmoid"``) or
    ``num_classes + 1`` (``loss="softmax"``: channel 0 is background).
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64, num_convs: int = 4,
                 loss: str = "sigmoid", rng=None, dtype=np.float32):
        super().__init__()
        if loss not in MASK_LOSSES:
            raise ValueError(f"loss: expected one of {MASK_LOSSES}, received {loss!r}")
        if not isinstance(num_convs, numbers.Integral) or num_convs < 0:
            raise ValueError(f"num_convs: expected an int >= 0, received {num_convs!r}")
        rng = np.random.default_rng(rng)
        self.num_classes = int(num_classes)
        self.loss = loss
        layers, c = [], int(in_channels)
        for _ in range(int(num_convs)):
            layers += [nn.Conv2D(c, hidden, 3, padding="same", rng=rng, dtype=dtype), nn.ReLU()]
            c = hidden
        self.convs = nn.Sequential(*layers)
        self.upsample = nn.ConvTranspose2D(c, hidden, 2, stride=2, rng=rng, dtype=dtype)
        self.relu = nn.ReLU()
        out = self.num_classes + (1 if loss == "softmax" else 0)
        self.predictor = nn.Conv2D(hidden, out, 1, rng=rng, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        features = self.convs.forward(x)                      # (P, S, S, hidden)
        up = self.relu.forward(self.upsample.forward(features))  # (P, 2S, 2S, hidden)
        return self.predictor.forward(up)                     # (P, 2S, 2S, K or K + 1)

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        dup = self.predictor.backward(dlogits)
        dfeatures = self.upsample.backward(self.relu.backward(dup))
        return self.convs.backward(dfeatures)


# ----------------------------------------------------------------------------- losses

def _check_loss_inputs(logits, labels, targets, extra_channel: bool):
    z = as_float_array(logits, "mask_logits", ndim=4, layout="(P, M, M, K)")
    y = np.asarray(labels)
    t = as_float_array(targets, "targets", ndim=3, layout="(P, M, M)")
    p, mh, mw, k = z.shape
    k -= int(extra_channel)
    if y.shape != (p,) or y.dtype.kind not in "iu":
        raise ValueError(f"labels: expected ({p},) int class ids (one per positive RoI), received {_describe(labels)}")
    if p and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels: expected class ids in [0, {k}), received values in [{y.min()}, {y.max()}]")
    if t.shape != (p, mh, mw):
        raise ValueError(f"targets: expected shape {(p, mh, mw)} to match mask_logits, received {t.shape}")
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"targets: expected values in [0, 1], received [{t.min()}, {t.max()}]")
    return z, y.astype(np.int64), t


def mask_loss(mask_logits, labels, targets):
    """Per-class sigmoid binary cross-entropy on the ground-truth class's channel (see the module docstring).

    ``mask_logits (P, M, M, K)``, ``labels (P,)`` int in ``[0, K)``, ``targets (P, M, M)``
    in [0, 1]. Returns ``(loss, dlogits)``, ``dlogits`` shaped like ``mask_logits`` and zero
    off the labelled channels. No positive RoI (``P = 0``) gives ``(0.0, zeros)``.
    """
    z, y, t = _check_loss_inputs(mask_logits, labels, targets, extra_channel=False)
    dz = np.zeros_like(z)
    if len(y) == 0:
        return 0.0, dz
    rows = np.arange(len(y))
    chosen = z[rows, :, :, y]                                  # (P, M, M) the gt class's logits
    loss, dchosen = F.binary_cross_entropy_with_logits(chosen, t.astype(z.dtype))
    dz[rows, :, :, y] = dchosen
    return loss, dz


def mask_loss_softmax(mask_logits, labels, targets):
    """Softmax over ``K + 1`` channels per pixel (0 = background): the ablation's alternative.

    Pixel label ``y_p + 1`` where ``targets >= 0.5``, else 0; mean softmax
    cross-entropy over the ``P M^2`` pixels. Returns ``(loss, dlogits)``.
    """
    z, y, t = _check_loss_inputs(mask_logits, labels, targets, extra_channel=True)
    if len(y) == 0:
        return 0.0, np.zeros_like(z)
    pixel_labels = np.where(t >= 0.5, y[:, None, None] + 1, 0)        # (P, M, M)
    return F.softmax_cross_entropy(z, pixel_labels, axis=-1)


def mask_probabilities(mask_logits, labels, loss: str = "sigmoid") -> np.ndarray:
    """Each RoI's mask for its (predicted) class: ``(P, M, M)`` probabilities.

    ``"sigmoid"``: ``sigmoid(z[p, :, :, y_p])``; ``"softmax"``: ``softmax(z[p])[:, :, y_p + 1]``.
    """
    if loss not in MASK_LOSSES:
        raise ValueError(f"loss: expected one of {MASK_LOSSES}, received {loss!r}")
    z = as_float_array(mask_logits, "mask_logits", ndim=4, layout="(P, M, M, K)")
    y = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(y))
    if loss == "sigmoid":
        return F.sigmoid_forward(z[rows, :, :, y])[0]
    shifted = z - z.max(axis=-1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=-1, keepdims=True)                                 # (P, M, M, K + 1)
    return p[rows, :, :, y + 1]
