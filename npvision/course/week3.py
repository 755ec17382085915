"""Week 3: YOLO's post-processing ("Car detection with YOLO") and U-Net's blocks, the course's way.

YOLO post-processing, with :mod:`npvision.detection` underneath
-----------------------------------------------------------------

=============================================  =================================================
course function                                npvision underneath
=============================================  =================================================
``iou(box1, box2)``                            :func:`npvision.detection.iou`
``yolo_filter_boxes(boxes, box_confidence,     :func:`npvision.detection.yolo_filter_boxes`
box_class_probs, threshold=.6)``
``yolo_boxes_to_corners(box_xy, box_wh)``      :func:`npvision.detection.yolo_boxes_to_corners`
``scale_boxes(boxes, image_shape)``            ``boxes * [h, w, h, w]``
``yolo_non_max_suppression(scores, boxes,      :func:`npvision.detection.nms`
classes, max_boxes=10, iou_threshold=0.5)``
``yolo_eval(yolo_outputs, image_shape=         the four above, in the course's order
(720, 1280), max_boxes=10,
score_threshold=.6, iou_threshold=.5)``
=============================================  =================================================

Where the course differs from npvision, these functions follow the course:

* **corner order.** ``iou`` takes ``(x1, y1, x2, y2)`` (npvision's ``xyxy``; the course's
  current notebook, checked against its test ``iou((2, 1, 4, 3), (1, 2, 3, 4)) = 1/7``).
  But ``yolo_boxes_to_corners`` returns ``(y1, x1, y2, x2)``, the order
  ``tf.image.non_max_suppression`` reads, and ``scale_boxes``,
  ``yolo_non_max_suppression`` and ``yolo_eval`` work in that order: the boxes
  ``yolo_eval`` returns are ``(y1, x1, y2, x2)`` pixels. npvision's own YOLO
  functions are ``xyxy`` throughout.
* **unordered corners.** TensorFlow's NMS takes "any diagonal pair of box
  corners" and sorts each pair itself; the course's tests feed it random normal
  numbers, so ``y2 < y1`` is common. :func:`yolo_non_max_suppression` sorts each
  pair the same way before calling npvision's NMS, which refuses inverted boxes,
  and returns the boxes as given. A box of zero (or, unordered, any degenerate)
  area overlaps nothing, as in both.
* **NMS across classes.** As the course's ``tf.image.non_max_suppression``, boxes
  suppress each other whatever their class (npvision's detector runs NMS per
  class, :func:`npvision.detection.batched_nms`); ``classes`` may be any numbers
  (the course's test passes floats) and come back unchanged.
* **no range checks on scores**: the course's test confidences and "probabilities"
  are normal draws (negative ones included); only the thresholds are checked (in [0, 1]).

U-Net's blocks, with :mod:`npvision.segmentation` underneath
-------------------------------------------------------------

``conv_block(inputs, n_filters=32, dropout_prob=0, max_pooling=True)`` returns
``(next_layer, skip_connection)``: two 3x3 "same" convolutions with ReLU
(:class:`npvision.segmentation.ConvBlock` without BatchNorm), dropout, and a 2x2
max-pool for ``next_layer`` when ``max_pooling``. ``upsampling_block(expansive_input,
contractive_input, n_filters=32)``: a 3x3 stride-2 transpose convolution
("same": ``H -> 2H``), concatenation ``[up, contractive_input]`` on the channels,
two 3x3 convolutions with ReLU (:class:`npvision.segmentation.UpBlock`). Like a
Keras functional call, each builds fresh layers and runs them once, in inference
mode (the dropout is off); the weights come from npvision's default generator
(``npvision.nn.init.seed(s)`` makes them reproducible) with npvision's
initialization (He normal; the course's transpose convolution uses Keras'
Glorot uniform). :class:`npvision.segmentation.UNet` is the trainable whole.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import detection, nn, segmentation
from .._checks import _describe, as_float_array, nonnegative_int, positive_int

__all__ = ["iou", "yolo_filter_boxes", "yolo_boxes_to_corners", "scale_boxes",
           "yolo_non_max_suppression", "yolo_eval", "conv_block", "upsampling_block"]


def _number(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, received {_describe(v)}")
    return float(v)


def _fraction(v, name: str) -> float:
    v = _number(v, name)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], received {v!r}")
    return v


# ----------------------------------------------------------------------------- YOLO

def iou(box1, box2):
    """Intersection over union of two boxes ``(x1, y1, x2, y2)``, a float.

    ``inter = max(0, min(x2) - max(x1)) * max(0, min(y2) - max(y1))``,
    ``IoU = inter / (area1 + area2 - inter)``. Boxes that only touch give 0, and
    so do two zero-area boxes (the course would divide by zero there).
    """
    return detection.iou(box1, box2)


def yolo_filter_boxes(boxes, box_confidence, box_class_probs, threshold=.6):
    """Keep the boxes whose best class score ``confidence x probability`` reaches ``threshold``.

    ``boxes (19, 19, 5, 4)``, ``box_confidence (19, 19, 5, 1)``, ``box_class_probs
    (19, 19, 5, 80)`` (any leading shape). Returns ``scores (D,)``, ``boxes (D, 4)``
    (as given, whatever their corner order) and ``classes (D,)`` int64, in row-major
    order of the leading axes, for the ``D`` boxes with score ``>= threshold``.
    """
    return detection.yolo_filter_boxes(boxes, box_confidence, box_class_probs,
                                       _number(threshold, "threshold"))


def yolo_boxes_to_corners(box_xy, box_wh):
    """Centres ``(x, y)`` and sizes ``(w, h)`` -> corners ``(y1, x1, y2, x2)``, shape ``(..., 4)``.

    The course's order (TensorFlow's NMS reads ``[y1, x1, y2, x2]``); npvision's
    :func:`npvision.detection.yolo_boxes_to_corners` gives ``(x1, y1, x2, y2)``.
    """
    xyxy = detection.yolo_boxes_to_corners(box_xy, box_wh)           # (..., 4) x1, y1, x2, y2
    return xyxy[..., [1, 0, 3, 2]]                                    # (..., 4) y1, x1, y2, x2


def _image_shape(image_shape) -> tuple[float, float]:
    try:
        h, w = (float(v) for v in image_shape)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"image_shape: expected (height, width), received {_describe(image_shape)}") from exc
    if not (np.isfinite(h) and np.isfinite(w) and h > 0 and w > 0):
        raise ValueError(f"image_shape: expected a positive (height, width), received {tuple(image_shape)!r}")
    return h, w


def scale_boxes(boxes, image_shape):
    """Fractions of the image -> pixels: ``boxes (..., 4) (y1, x1, y2, x2) * [h, w, h, w]``.

    ``image_shape = (height, width)``. The dtype of ``boxes`` is kept.
    """
    b = as_float_array(boxes, "boxes")
    if b.shape[-1:] != (4,):
        raise ValueError(f"boxes: expected shape (..., 4) (y1, x1, y2, x2), received {b.shape}")
    h, w = _image_shape(image_shape)
    return b * np.array([h, w, h, w], dtype=b.dtype)


def _ordered_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(D, 4)`` boxes ``(y1, x1, y2, x2)`` with any diagonal pair of corners -> xyxy, each pair sorted."""
    y_lo = np.minimum(boxes[:, 0], boxes[:, 2])
    y_hi = np.maximum(boxes[:, 0], boxes[:, 2])
    x_lo = np.minimum(boxes[:, 1], boxes[:, 3])
    x_hi = np.maximum(boxes[:, 1], boxes[:, 3])
    return np.stack([x_lo, y_lo, x_hi, y_hi], axis=1)                 # (D, 4) x1, y1, x2, y2


def yolo_non_max_suppression(scores, boxes, classes, max_boxes=10, iou_threshold=0.5):
    """Non-max suppression over all boxes, then at most ``max_boxes`` of them.

    ``scores (D,)``, ``boxes (D, 4)`` ``(y1, x1, y2, x2)`` with any diagonal pair of
    corners (each pair is sorted before the IoUs), ``classes (D,)`` of any type.
    Greedy by decreasing score (ties: lower index first); a box is dropped when its
    IoU with a kept box exceeds ``iou_threshold``. Returns ``(scores, boxes,
    classes)`` of the kept boxes, best first, each as given (``tf.gather``).
    """
    s = as_float_array(scores, "scores", ndim=1)
    b = as_float_array(boxes, "boxes", ndim=2)
    c = np.asarray(classes)
    if b.shape != (len(s), 4) or c.shape != s.shape:
        raise ValueError(f"scores, boxes, classes: expected shapes (D,), (D, 4), (D,), received "
                         f"{s.shape}, {b.shape}, {c.shape}")
    max_boxes = nonnegative_int(max_boxes, "max_boxes")
    keep = detection.nms(_ordered_xyxy(b), s, _fraction(iou_threshold, "iou_threshold"))[:max_boxes]
    return s[keep], b[keep], c[keep]


def yolo_eval(yolo_outputs, image_shape=(720, 1280), max_boxes=10, score_threshold=.6, iou_threshold=.5):
    """One image's YOLO outputs -> its final ``(scores, boxes, classes)``.

    ``yolo_outputs = (box_xy, box_wh, box_confidence, box_class_probs)``, shapes
    ``(19, 19, 5, 2)``, ``(19, 19, 5, 2)``, ``(19, 19, 5, 1)``, ``(19, 19, 5, 80)``
    (fractions of the image); ``image_shape = (height, width)`` in pixels. The
    course's four steps: :func:`yolo_boxes_to_corners`, :func:`yolo_filter_boxes`
    with ``score_threshold``, :func:`scale_boxes`, :func:`yolo_non_max_suppression`.
    The boxes come back as ``(y1, x1, y2, x2)`` pixels, not clipped.
    """
    if not isinstance(yolo_outputs, (tuple, list)) or len(yolo_outputs) != 4:
        raise TypeError("yolo_outputs: expected a tuple (box_xy, box_wh, box_confidence, box_class_probs), "
                        f"received {_describe(yolo_outputs)}")
    box_xy, box_wh, box_confidence, box_class_probs = yolo_outputs
    boxes = yolo_boxes_to_corners(box_xy, box_wh)
    scores, boxes, classes = yolo_filter_boxes(boxes, box_confidence, box_class_probs, score_threshold)
    boxes = scale_boxes(boxes, image_shape)
    return yolo_non_max_suppression(scores, boxes, classes, max_boxes, iou_threshold)


# ----------------------------------------------------------------------------- U-Net

def _feature_map(x, name: str) -> np.ndarray:
    return np.ascontiguousarray(as_float_array(x, name, ndim=4, layout="(m, n_H, n_W, n_C)"))


def conv_block(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):
    """U-Net's encoder step: ``(next_layer, skip_connection)``.

    ``inputs (m, n_H, n_W, n_C)``; ``skip_connection (m, n_H, n_W, n_filters)`` is
    two 3x3 "same" convolutions with ReLU (then dropout, off at inference);
    ``next_layer`` is its 2x2 max-pool ``(m, n_H // 2, n_W // 2, n_filters)`` when
    ``max_pooling``, else ``skip_connection`` itself.
    """
    x = _feature_map(inputs, "inputs")
    n_filters = positive_int(n_filters, "n_filters")
    rate = _number(dropout_prob, "dropout_prob")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout_prob: expected a probability in [0, 1), received {dropout_prob!r}")
    block = segmentation.ConvBlock(x.shape[-1], n_filters, padding="same", batchnorm=False, dropout=rate,
                                   dtype=x.dtype)
    block.eval()
    skip_connection = block.forward(x)                                # (m, n_H, n_W, n_filters)
    if not max_pooling:
        return skip_connection, skip_connection
    next_layer = nn.MaxPool2D(2).forward(skip_connection)             # (m, n_H // 2, n_W // 2, n_filters)
    return next_layer, skip_connection


def upsampling_block(expansive_input, contractive_input, n_filters=32):
    """U-Net's decoder step: up-sample, concatenate the skip, convolve.

    ``expansive_input (m, h, w, C)`` from the level below, ``contractive_input
    (m, 2h, 2w, C_skip)`` the skip connection of this level. Returns
    ``(m, 2h, 2w, n_filters)``: ``conv(conv([transpose_conv(expansive_input),
    contractive_input]))``, the transpose convolution 3x3 with stride 2 and "same"
    padding, each convolution 3x3 "same" with ReLU.
    """
    x = _feature_map(expansive_input, "expansive_input")
    skip = _feature_map(contractive_input, "contractive_input")
    n_filters = positive_int(n_filters, "n_filters")
    m, h, w, _ = x.shape
    if skip.shape[:3] != (m, 2 * h, 2 * w):
        raise ValueError(f"contractive_input: expected shape ({m}, {2 * h}, {2 * w}, C) to match the "
                         f"up-sampled expansive_input {x.shape} (2h, 2w), received {skip.shape}")
    block = segmentation.UpBlock(x.shape[-1], skip.shape[-1], n_filters, padding="same", batchnorm=False,
                                 upsampling="transpose", up_kernel=3, dtype=x.dtype)
    block.eval()
    return block.forward(x, skip)                                     # (m, 2h, 2w, n_filters)
