"""Classification with localization, exactly as the course defines it.

One image, at most one object. The network answers three questions at once:
*is there an object?* (``p_c``), *where is it?* (a box) and *which class is it?*
The course packs the answers into one target vector per image::

    y = [p_c, b_x, b_y, b_h, b_w, c_1, ..., c_K]                      (5 + K numbers)

- ``p_c``: 1 if the image holds an object, 0 if it is background only;
- ``(b_x, b_y)``: the box centre, ``(b_h, b_w)``: its height and width, all as
  fractions of the image, whose top-left corner is (0, 0) and bottom-right (1, 1):
  ``b_x = (x0 + x1) / 2 / W``, ``b_y = (y0 + y1) / 2 / H``,
  ``b_h = (y1 - y0) / H``, ``b_w = (x1 - x0) / W``;
- ``c_1..c_K``: the class, one-hot.

When ``p_c = 0`` the other components are "don't care": they are encoded as zeros
and the loss ignores them.

Pieces
------
:func:`encode_localization_targets`  boxes (N, 4) xyxy pixels + labels (N,) (-1: no object) -> y (N, 5+K)
:func:`decode_localization`          y (N, 5+K) -> p_c (N,), boxes (N, 4) xyxy pixels, labels (N,)
:func:`localization_loss`            the course's squared-error loss and its gradient
:func:`localization_logit_loss`      a practical variant (logistic p_c, softmax classes, masked box)
:func:`localization_probabilities`   the logit variant's outputs turned back into the y layout
:func:`localization_metrics`         mean IoU, class accuracy, p_c accuracy
:class:`LocalizationNet`             a ConvNet: shared trunk, then a p_c, a box and a class head
:func:`conv_trunk`                   the trunk (also used by :class:`~npvision.detection.LandmarkNet`)
:class:`SoftArgmax2D`                heatmaps -> expected (x, y) positions (the box and landmark heads)
:func:`standardize_images`           per-image, per-channel standardization of the inputs
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, positive_int
from ..nn.blocks.conv_bn import ConvBNAct
from ..nn.conv import Conv2D
from ..nn.init import as_rng
from ..nn.linear import Linear
from ..nn.module import Module, Sequential
from ..nn.pool import GlobalAvgPool2D, MaxPool2D
from .boxes import _image_size, as_boxes, clip_boxes

__all__ = ["encode_localization_targets", "decode_localization", "localization_loss",
           "localization_logit_loss", "localization_probabilities", "localization_metrics",
           "standardize_images", "SoftArgmax2D", "conv_trunk", "LocalizationNet"]


# ----------------------------------------------------------------------------- checks

def _as_labels(labels, name: str, n: int, num_classes: int) -> np.ndarray:
    """Integer class ids ``(n,)`` in ``-1..num_classes-1`` (-1: no object)."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class ids (-1 for no object), received dtype "
                        f"{labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) (one label per box), received {labels.shape}")
    bad = (labels < -1) | (labels >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: label {int(labels[i])} at index {i} is out of range; expected "
                         f"-1 (no object) or 0..{num_classes - 1}")
    return labels.astype(np.int64)


def _as_y(y, name: str) -> np.ndarray:
    """A float ``(N, 5 + K)`` array with ``K >= 1``."""
    y = as_float_array(y, name, ndim=2, layout="(N, 5 + K)")
    if y.shape[1] < 6:
        raise ValueError(f"{name}: expected 5 + K columns [p_c, b_x, b_y, b_h, b_w, c_1..c_K] with "
                         f"K >= 1, received shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return y


def _as_targets(y_pred, y_true) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ``(y_pred, y_true, p_c)``: same shape, ``p_c`` exactly 0 or 1, one-hot classes."""
    y_pred = _as_y(y_pred, "y_pred")
    y_true = _as_y(y_true, "y_true")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: expected the shape of y_pred {y_pred.shape}, received {y_true.shape}")
    p = y_true[:, 0]
    bad = (p != 0) & (p != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"y_true: p_c must be 0 or 1, received {p[i]!r} in row {i}")
    c = y_true[p == 1, 5:]                                                    # (N_obj, K)
    if c.size and not (np.all((c == 0) | (c == 1)) and np.all(c.sum(axis=1) == 1)):
        raise ValueError("y_true: where p_c = 1 the class part c_1..c_K must be one-hot "
                         "(exactly one 1, the rest 0)")
    return y_pred, y_true, p


# ----------------------------------------------------------------------------- encoding

def encode_localization_targets(boxes, labels, image_size, num_classes: int,
                                dtype=np.float32) -> np.ndarray:
    """The course's target vectors ``y (N, 5 + K)`` for ``N`` images.

    ``boxes`` (N, 4) xyxy pixels, ``labels`` (N,) ints in ``0..K-1``, or -1 for an
    image without object (its box is ignored); ``image_size`` ``(H, W)`` (or one
    int for a square image); ``num_classes`` ``K``. Row ``i`` is
    ``[1, (x0+x1)/2W, (y0+y1)/2H, (y1-y0)/H, (x1-x0)/W, onehot(label)]`` for an
    object and all zeros without one.
    """
    k = positive_int(num_classes, "num_classes")
    h, w = _image_size((image_size, image_size) if np.isscalar(image_size) else image_size,
                       "image_size")
    b = as_boxes(boxes, "boxes")
    labels = _as_labels(labels, "labels", len(b), k)
    present = labels >= 0                                                     # (N,)
    y = np.zeros((len(b), 5 + k), dtype=dtype)
    y[:, 0] = present
    b = np.where(present[:, None], b, 0.0)                                    # (N, 4); absent -> 0
    y[:, 1] = (b[:, 0] + b[:, 2]) / 2 / w                                     # b_x, centre
    y[:, 2] = (b[:, 1] + b[:, 3]) / 2 / h                                     # b_y
    y[:, 3] = (b[:, 3] - b[:, 1]) / h                                         # b_h, height
    y[:, 4] = (b[:, 2] - b[:, 0]) / w                                         # b_w, width
    rows = np.flatnonzero(present)
    y[rows, 5 + labels[rows]] = 1.0
    return y


def decode_localization(y, image_size, threshold: float = 0.5):
    """Read ``y (N, 5 + K)`` back: ``(p_c (N,), boxes (N, 4) xyxy pixels, labels (N,))``.

    ``boxes = [(b_x - b_w/2) W, (b_y - b_h/2) H, (b_x + b_w/2) W, (b_y + b_h/2) H]``
    (a negative predicted size counts as 0); ``labels = argmax(c)`` where
    ``p_c >= threshold``, else -1. On the encoder's output this is the exact inverse of
    :func:`encode_localization_targets` (an image without object decodes to a zero box).
    Predictions from :class:`LocalizationNet` trained with :func:`localization_logit_loss`
    go through :func:`localization_probabilities` first.
    """
    y = _as_y(y, "y")
    h, w = _image_size((image_size, image_size) if np.isscalar(image_size) else image_size,
                       "image_size")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold: expected a number in [0, 1], received {threshold!r}")
    p_c = y[:, 0].copy()
    bx, by = y[:, 1], y[:, 2]
    bh, bw = np.maximum(y[:, 3], 0.0), np.maximum(y[:, 4], 0.0)
    boxes = np.stack([(bx - bw / 2) * w, (by - bh / 2) * h,
                      (bx + bw / 2) * w, (by + bh / 2) * h], axis=1)          # (N, 4)
    labels = np.where(p_c >= threshold, np.argmax(y[:, 5:], axis=1), -1).astype(np.int64)
    return p_c, boxes.astype(y.dtype, copy=False), labels


# ----------------------------------------------------------------------------- losses

def localization_loss(y_pred, y_true):
    """The course's loss, mean over the batch: ``(loss, dy_pred)``.

    For image ``i`` with target ``y_i`` and prediction ``yhat_i`` (5 + K numbers each)::

        l_i = sum_j (yhat_ij - y_ij)^2        if y_i0 = 1   (object: every component)
        l_i = (yhat_i0 - y_i0)^2              if y_i0 = 0   (no object: p_c alone)

        loss = (1/N) sum_i l_i

    Gradient: ``d loss / d yhat_ij = (2/N) m_ij (yhat_ij - y_ij)`` with the mask
    ``m_ij = 1`` when ``y_i0 = 1`` or ``j = 0``, else 0. Every output is linear here: the
    network regresses ``p_c`` and the one-hot classes directly.

    ``y_pred``, ``y_true`` (N, 5 + K); ``y_true``'s ``p_c`` must be exactly 0 or 1 and its
    classes one-hot where ``p_c = 1``. ``dy_pred`` has ``y_pred``'s dtype.
    """
    y_pred, y_true, p = _as_targets(y_pred, y_true)
    n = len(y_pred)
    mask = np.zeros_like(y_pred)                                              # (N, 5 + K)
    mask[p == 1] = 1.0
    mask[:, 0] = 1.0
    d = mask * (y_pred - y_true)
    loss = float(np.sum(d * d) / n)
    return loss, (2.0 * d / n).astype(y_pred.dtype, copy=False)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def localization_logit_loss(y_pred, y_true, box_weight: float = 5.0):
    """A variant that trains better: logistic ``p_c``, softmax classes, box masked by ``p_c``.

    Here ``y_pred = [z, b_x, b_y, b_h, b_w, s_1..s_K]`` holds *logits*: ``z`` for ``p_c``
    (probability ``sigma(z)``) and ``s`` for the classes (probabilities ``softmax(s)``);
    the box stays a plain regression. With ``p = y_true[:, 0]`` and class ``k_i``::

        l_i = BCE(z_i, p_i) + p_i * ( -log softmax(s_i)[k_i] + lambda * sum_(4 box terms) (bhat - b)^2 )
        BCE(z, p) = max(z, 0) - z p + log(1 + exp(-|z|))      (= -p log sigma(z) - (1-p) log(1 - sigma(z)))
        loss = (1/N) sum_i l_i,       lambda = box_weight

    Gradient (the usual "prediction minus target")::

        d/dz_i    = (sigma(z_i) - p_i) / N
        d/dbhat_i = 2 lambda p_i (bhat_i - b_i) / N
        d/ds_i    = p_i (softmax(s_i) - onehot(k_i)) / N

    Same shapes and checks as :func:`localization_loss`. Read predictions with
    :func:`localization_probabilities`.
    """
    y_pred, y_true, p = _as_targets(y_pred, y_true)
    lam = float(box_weight)
    if not lam >= 0:
        raise ValueError(f"box_weight: expected a number >= 0, received {box_weight!r}")
    n = len(y_pred)
    z = y_pred[:, 0]
    bce = np.maximum(z, 0) - z * p + np.log1p(np.exp(-np.abs(z)))            # (N,)
    sig = np.exp(-np.logaddexp(0.0, -z))                                     # sigma(z), stable
    d_box = y_pred[:, 1:5] - y_true[:, 1:5]                                   # (N, 4)
    log_p = _log_softmax(y_pred[:, 5:])                                       # (N, K)
    ce = -np.sum(y_true[:, 5:] * log_p, axis=1)                               # (N,); 0 where p = 0
    loss = np.sum(bce + p * (ce + lam * np.sum(d_box * d_box, axis=1))) / n
    grad = np.empty_like(y_pred)
    grad[:, 0] = (sig - p) / n
    grad[:, 1:5] = 2.0 * lam * p[:, None] * d_box / n
    grad[:, 5:] = p[:, None] * (np.exp(log_p) - y_true[:, 5:]) / n
    return float(loss), grad


def localization_probabilities(y_logits) -> np.ndarray:
    """Outputs trained with :func:`localization_logit_loss` -> the course's layout.

    ``[z, b, s] (N, 5 + K)`` -> ``[sigma(z), b, softmax(s)]`` (same shape and dtype).
    """
    y = _as_y(y_logits, "y_logits")
    out = y.copy()
    out[:, 0] = np.exp(-np.logaddexp(0.0, -y[:, 0]))
    out[:, 5:] = np.exp(_log_softmax(y[:, 5:]))
    return out


def localization_metrics(y_pred, boxes, labels, image_size, threshold: float = 0.5) -> dict:
    """Scores of predictions ``y_pred (N, 5 + K)`` (course layout, probabilities) on the truth.

    ``boxes`` (N, 4) xyxy pixels and ``labels`` (N,) (-1: no object). Returns

    - ``"mean_iou"``: mean IoU of the predicted box (clipped to the image) with the true
      box, over the images holding an object (whatever ``p_c`` was predicted);
    - ``"accuracy"``: class accuracy (``argmax c``) over the images holding an object;
    - ``"pc_accuracy"``: fraction of all images whose ``p_c >= threshold`` says correctly
      whether there is an object;
    - ``"ious"``: the per-image IoUs (object images only), a list.
    """
    y_pred = _as_y(y_pred, "y_pred")
    h, w = _image_size((image_size, image_size) if np.isscalar(image_size) else image_size,
                       "image_size")
    b = as_boxes(boxes, "boxes")
    labels = _as_labels(labels, "labels", len(b), y_pred.shape[1] - 5)
    if len(b) != len(y_pred):
        raise ValueError(f"boxes: expected {len(y_pred)} boxes (one per row of y_pred), received {len(b)}")
    p_c, pred_boxes, _ = decode_localization(y_pred, (h, w), threshold)
    obj = labels >= 0
    pred_boxes = clip_boxes(pred_boxes[obj], (h, w))                          # (N_obj, 4)
    ious = _paired_iou(pred_boxes, b[obj])                                   # (N_obj,)
    classes = np.argmax(y_pred[obj, 5:], axis=1)
    return {"mean_iou": float(ious.mean()) if len(ious) else float("nan"),
            "accuracy": float(np.mean(classes == labels[obj])) if obj.any() else float("nan"),
            "pc_accuracy": float(np.mean((p_c >= threshold) == obj)),
            "ious": ious.tolist()}


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` for xyxy boxes ``(N, 4)`` -> ``(N,)``: the diagonal of
    :func:`~npvision.detection.box_iou` without the ``N x N`` matrix (0 when the union is 0)."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    out = np.zeros(len(a), dtype=np.result_type(a.dtype, b.dtype))
    np.divide(inter, union, out=out, where=union > 0)
    return out


# ----------------------------------------------------------------------------- the network

def standardize_images(images, eps: float = 0.05) -> np.ndarray:
    """Per image and channel: subtract the mean over the pixels, divide by (std + ``eps``).

    ``(N, H, W, C) -> (N, H, W, C)``, same dtype. The scenes' random background and
    object colours then matter less than the shape; the networks here take
    standardized images (the tasks apply this to every image, train and test alike).
    """
    images = as_float_array(images, "images", ndim=4, layout="(N, H, W, C)")
    mean = images.mean(axis=(1, 2), keepdims=True)                            # (N, 1, 1, C)
    std = images.std(axis=(1, 2), keepdims=True)
    return ((images - mean) / (std + eps)).astype(images.dtype, copy=False)


def check_map_input(x, pools: int) -> np.ndarray:
    """The input of a soft-argmax network: ``(N, H, W, C)`` floats with ``H`` and ``W``
    multiples of ``2^pools``, so that the map's cells tile the image exactly and a
    fraction of the map is the same fraction of the image."""
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
    step = 2 ** pools
    if x.shape[1] % step or x.shape[2] % step:
        raise ValueError(f"x: height and width must be multiples of {step} (2^pools), received "
                         f"shape {x.shape}")
    return x


class SoftArgmax2D(Module):
    """Expected position under a spatial softmax: heatmaps ``(N, h, w, K) -> points (N, 2K)``.

    For each sample and channel ``k`` the scores ``z[i, j]`` become a distribution
    over the ``h x w`` cells, ``p[i, j] = exp(z[i, j]) / sum exp(z)``, and the point is its
    mean cell centre as a fraction of the map (so of the image)::

        x_k = sum_(i, j) p[i, j] (j + 0.5) / w,        y_k = sum_(i, j) p[i, j] (i + 0.5) / h
        out = [x_1, y_1, x_2, y_2, ..., x_K, y_K]

    A weighted mean of cell centres can land anywhere between them: sub-cell precision
    from a coarse map, and the same weights work wherever the object is (the "integral
    regression" of keypoint detection). Gradient, with upstream ``gx_k``, ``gy_k``::

        dz[i, j] = p[i, j] ( gx_k ((j + 0.5)/w - x_k) + gy_k ((i + 0.5)/h - y_k) )
    """

    def __init__(self):
        super().__init__()
        self.cache = None

    def forward(self, z: np.ndarray) -> np.ndarray:
        z = as_float_array(z, "z", ndim=4, layout="(N, h, w, K)")
        n, h, w, k = z.shape
        flat = z.reshape(n, h * w, k)                                         # (N, h w, K)
        flat = np.exp(flat - flat.max(axis=1, keepdims=True))
        p = (flat / flat.sum(axis=1, keepdims=True)).reshape(n, h, w, k)      # (N, h, w, K)
        xs = ((np.arange(w) + 0.5) / w).astype(z.dtype)                      # (w,) cell centres
        ys = ((np.arange(h) + 0.5) / h).astype(z.dtype)                      # (h,)
        ex = np.einsum("nijk,j->nk", p, xs)                                   # (N, K)
        ey = np.einsum("nijk,i->nk", p, ys)                                   # (N, K)
        self.cache = (p, xs, ys, ex, ey)
        return np.stack([ex, ey], axis=2).reshape(n, 2 * k)                   # (N, K, 2) -> (N, 2K)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("SoftArgmax2D.backward was called before forward")
        p, xs, ys, ex, ey = self.cache
        n, h, w, k = p.shape
        dy = as_float_array(dy, "dy", ndim=2, layout="(N, 2K)")
        if dy.shape != (n, 2 * k):
            raise ValueError(f"dy: expected the forward output's shape {(n, 2 * k)}, received {dy.shape}")
        g = dy.reshape(n, k, 2)                                               # (N, 2K) -> (N, K, 2)
        gx, gy = g[:, None, None, :, 0], g[:, None, None, :, 1]               # (N, 1, 1, K)
        dev_x = xs[None, None, :, None] - ex[:, None, None, :]                # (N, 1, w, K)
        dev_y = ys[None, :, None, None] - ey[:, None, None, :]                # (N, h, 1, K)
        return (p * (gx * dev_x + gy * dev_y)).astype(p.dtype, copy=False)   # (N, h, w, K)


def conv_trunk(in_channels: int = 3, channels=(16, 32, 64, 64), pools: int = 2,
               input_grad: bool = False, rng=None, dtype=np.float32) -> Sequential:
    """A fully convolutional trunk ``(N, S, S, C_in) -> (N, S / 2^pools, S / 2^pools, channels[-1])``.

    One [3x3 conv ("same"), BatchNorm, ReLU] unit per entry of ``channels``; the first
    ``pools`` units are each followed by a 2x2 max-pool. The output keeps a spatial map
    (8x8 for a 32x32 image and two pools), which the soft-argmax heads need: they read
    *where* on it things are. ``input_grad=False`` lets the stem skip the image gradient.
    """
    if not channels:
        raise ValueError(f"channels: expected at least one unit, received {channels!r}")
    if not 0 <= int(pools) <= len(channels):
        raise ValueError(f"pools: expected 0..{len(channels)} (one per unit at most), received {pools!r}")
    rng = as_rng(rng)
    layers, c = [], positive_int(in_channels, "in_channels")
    for i, c_out in enumerate(channels):
        layers.append(ConvBNAct(c, positive_int(c_out, "channels"), 3, input_grad=input_grad or i > 0,
                                rng=rng, dtype=dtype))
        if i < pools:
            layers.append(MaxPool2D(2))
        c = c_out
    return Sequential(*layers)


class LocalizationNet(Module):
    """A ConvNet for classification with localization: ``(N, S, S, 3) -> y (N, 5 + K)``.

    ::

        f          = trunk(x)                          (N, s, s, C)  shared feature map
        g          = mean of f over the s x s cells    (N, C)        what is there
        p_c        = pc_head(g)                        (N, 1)        object or not
        c          = class_head(g)                     (N, K)        class scores
        m          = SoftArgmax2D(box_conv(f))         (N, 8)        4 points: the object's
                                                                     left, top, right, bottom
        x0, y0, x1, y1 = m[x of left], m[y of top], m[x of right], m[y of bottom]
        box        = [(x0 + x1)/2, (y0 + y1)/2, y1 - y0, x1 - x0]   (N, 4)  b_x, b_y, b_h, b_w
        y          = concat([p_c, box, c], axis=1)     (N, 5 + K)    the course's layout

    ``box_conv`` is a 1x1 convolution giving 4 heatmaps; each edge of the box is the
    expected position of its heatmap (:class:`SoftArgmax2D`), so the box is as precise
    as a weighted mean of cell centres, not as coarse as one cell.

    ``p_c`` and ``c`` are linear: read as values by the course's :func:`localization_loss`
    or as logits by :func:`localization_logit_loss`. Backward is the forward read
    upwards: the concatenation's gradient is split into the three heads' parts, the box
    part goes back through the edge formulas (``d x0 = d b_x / 2 - d b_w``, ...), and
    the trunk receives the *sum* of the box branch's map gradient and the pooled
    branch's (each cell gets ``dg / (s s)``).
    """

    def __init__(self, num_classes: int = 4, in_channels: int = 3, channels=(16, 32, 64, 64),
                 pools: int = 2, input_grad: bool = False, rng=None, dtype=np.float32):
        super().__init__()
        rng = as_rng(rng)
        self.num_classes = positive_int(num_classes, "num_classes")
        self.pools = int(pools)
        self.trunk = conv_trunk(in_channels, channels, pools, input_grad, rng, dtype)
        c = int(channels[-1])
        self.pool = GlobalAvgPool2D()
        self.pc_head = Linear(c, 1, rng=rng, dtype=dtype)
        self.class_head = Linear(c, self.num_classes, rng=rng, dtype=dtype)
        self.box_conv = Conv2D(c, 4, 1, bias=False, rng=rng, dtype=dtype)   # softmax ignores a bias
        self.soft_argmax = SoftArgmax2D()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x (N, S, S, C) -> y (N, 5 + K)``."""
        x = check_map_input(x, self.pools)
        f = self.trunk.forward(x)                                             # (N, s, s, C)
        g = self.pool.forward(f)                                              # (N, C)
        m = self.soft_argmax.forward(self.box_conv.forward(f))                # (N, 8): x, y of 4 maps
        x0, y0, x1, y1 = m[:, 0], m[:, 3], m[:, 4], m[:, 7]                   # left.x, top.y, right.x, bottom.y
        box = np.stack([(x0 + x1) / 2, (y0 + y1) / 2, y1 - y0, x1 - x0], axis=1)   # (N, 4)
        return np.concatenate([self.pc_head.forward(g), box, self.class_head.forward(g)], axis=1)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """``dy (N, 5 + K) -> dx`` (None when the stem skips the input gradient)."""
        dy = as_float_array(dy, "dy", ndim=2, layout="(N, 5 + K)")
        if dy.shape[1] != 5 + self.num_classes:
            raise ValueError(f"dy: expected {5 + self.num_classes} columns, received shape {dy.shape}")
        d_pc, d_box, d_cls = dy[:, :1], dy[:, 1:5], dy[:, 5:]                 # the concat, split
        dbx, dby, dbh, dbw = d_box.T                                          # (N,) each
        dm = np.zeros((len(dy), 8), dtype=dy.dtype)                           # (N, 8)
        dm[:, 0] = dbx / 2 - dbw                                              # d x0 (left map's x)
        dm[:, 4] = dbx / 2 + dbw                                              # d x1 (right map's x)
        dm[:, 3] = dby / 2 - dbh                                              # d y0 (top map's y)
        dm[:, 7] = dby / 2 + dbh                                              # d y1 (bottom map's y)
        df_box = self.box_conv.backward(self.soft_argmax.backward(dm))        # (N, s, s, C)
        dg = (self.pc_head.backward(np.ascontiguousarray(d_pc))
              + self.class_head.backward(np.ascontiguousarray(d_cls)))        # (N, C)
        df = df_box + self.pool.backward(dg)                                  # both branches read f
        return self.trunk.backward(df)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"
