"""Sliding-window detection, naive and convolutional.

    >>> clf = window_classifier(num_classes=4, window=16)   # train it on 16x16 crops first
    >>> scores, boxes = sliding_window_naive(clf, image, window=16, stride=2)
    >>> same, _ = sliding_window_conv(fc_to_conv(clf, window=16), image)   # one forward pass
    >>> detections = window_detections(same, boxes, score_threshold=0.5, iou_threshold=0.3)

The oldest way to turn an image *classifier* into a *detector*: slide a window of
``window`` pixels over the image in steps of ``stride``, classify every crop as one
of ``K`` object classes or background, keep the confident windows, and remove the
duplicates with non-maximum suppression.

Windows
-------
For an ``(H, W, C)`` image, a ``(w_h, w_w)`` window and stride ``(s_h, s_w)`` there are

    rows = floor((H - w_h) / s_h) + 1,        cols = floor((W - w_w) / s_w) + 1

windows; window ``(r, c)`` is the box ``(x0, y0, x1, y1) = (c s_w, r s_h, c s_w + w_w,
r s_h + w_h)`` (:func:`window_grid`). Every function here returns the scores as an
array ``(rows, cols, K + 1)`` of softmax probabilities, one vector per window, and the
window boxes ``(rows, cols, 4)``.

The naive detector
------------------
:func:`sliding_window_naive` crops every window with two Python loops and runs the
classifier on each crop. Neighbouring windows at stride 2 share 14 of their 16 columns,
yet every crop is convolved from scratch: the same products are computed again and
again.

The convolutional implementation
--------------------------------
A classifier made of *valid* convolutions and pools, then ``Flatten`` and fully
connected layers (the course's: conv 5x5 -> max-pool 2x2 -> FC -> FC -> softmax) can
be rewritten without its fully connected layers (:func:`fc_to_conv`):

* the first ``Linear`` after ``Flatten`` sees the whole ``(f_h, f_w, C)`` feature map of
  one window; it *is* a convolution whose kernel covers exactly that map, and
* every later ``Linear`` is a 1x1 convolution.

On a window-sized input the new network gives a ``1 x 1`` output equal to the
classifier's. On a larger image it slides by itself: its output is a map of
``rows x cols`` class vectors, one per window, at a stride equal to the product of
the strides of its layers (2 for the course's network: the pool's), and the
convolutions of overlapping windows are computed once (:func:`sliding_window_conv`).
With 16x16 windows on a 64x64 image (stride 2, 25 x 25 = 625 windows) the first
convolution computes a 60x60 map once instead of 625 maps of 12x12, 25 times
fewer products; the fully connected layers, now convolutions, cost the same as before.

Equality holds only if no layer pads: a padded layer would see zeros at every
window's border that the whole image does not have, so padded layers are refused.

Detections
----------
:func:`window_detections` turns a score map into the package's detection dict
``{"boxes" (M, 4), "scores" (M,), "classes" (M,)}``: each window's best object
class and its probability, a score threshold, then per-class NMS
(:func:`npvision.detection.batched_nms`). :func:`detect_multiscale` runs the
convolutional detector on resized copies of the image (an image pyramid), so
objects larger than the window are found at the scale where they fit it.
"""

from __future__ import annotations

import copy
import numbers
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from .. import functional as F
from .._checks import as_float_array, int_pair, positive_int, resolve_padding
from ..functional.shapes import conv_output_size
from ..nn.activations import LeakyReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh
from ..nn.conv import Conv2D
from ..nn.dropout import Dropout
from ..nn.init import as_rng
from ..nn.linear import Flatten, Identity, Linear
from ..nn.module import Module, Parameter, Sequential
from ..nn.norm import BatchNorm2D
from ..nn.pool import AvgPool2D, MaxPool2D
from .nms import batched_nms, nms

__all__ = ["window_classifier", "window_grid", "sliding_window_naive", "fc_to_conv",
           "sliding_window_conv", "window_detections", "detect_multiscale"]

# Layers that act on each position (or each channel) on its own: they give the same
# numbers on a window and on the same pixels inside a larger image.
_POINTWISE = (ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, SiLU, Dropout, Identity)


# ---------------------------------------------------------------------------
# the classifier
# ---------------------------------------------------------------------------
def window_classifier(num_classes: int = 4, window: int = 16, channels: int = 3, filters: int = 16,
                      hidden=64, rng=None, dtype=np.float32) -> Sequential:
    """The course's window classifier: conv 5x5 -> ReLU -> max-pool 2x2 -> FC -> ... -> logits.

    ``(N, window, window, channels) -> (N, num_classes + 1)`` logits: the ``K`` object
    classes, then the background last (index ``K``). With ``window=16``::

        conv 5x5, filters   (N, 16, 16, 3)  -> (N, 12, 12, filters)     12 = 16 - 5 + 1
        max-pool 2x2        -> (N, 6, 6, filters)                         6 = 12 / 2
        flatten             -> (N, 6 * 6 * filters)
        FC + ReLU           -> (N, hidden)            (one per entry of ``hidden``)
        FC                  -> (N, K + 1)             softmax is applied by the detectors

    ``hidden``: an int or a sequence of ints, the widths of the hidden FC layers (the
    lecture's figure uses two of 400). Its effective stride as a sliding window is the
    pool's, 2. Children are named ``conv``, ``relu``, ``pool``, ``flatten``, ``fc1``,
    ``relu1``, ..., ``fc<n>``.
    """
    num_classes = positive_int(num_classes, "num_classes")
    window = positive_int(window, "window")
    channels = positive_int(channels, "channels")
    filters = positive_int(filters, "filters")
    widths = [hidden] if isinstance(hidden, numbers.Integral) else list(hidden)
    widths = [positive_int(h, "hidden") for h in widths]
    feature = (window - 5 + 1) // 2
    if feature < 1:
        raise ValueError(f"window: a 5x5 convolution and a 2x2 pool need a window of at least 6 "
                         f"pixels, received {window}")
    rng = as_rng(rng)                                    # one generator for every layer
    layers = OrderedDict()
    layers["conv"] = Conv2D(channels, filters, 5, input_grad=False, rng=rng, dtype=dtype)
    layers["relu"] = ReLU()
    layers["pool"] = MaxPool2D(2)
    layers["flatten"] = Flatten()
    width = feature * feature * filters                  # 6 * 6 * filters for a 16x16 window
    for i, h in enumerate(widths, start=1):
        layers[f"fc{i}"] = Linear(width, h, rng=rng, dtype=dtype)
        layers[f"relu{i}"] = ReLU()
        width = h
    layers[f"fc{len(widths) + 1}"] = Linear(width, num_classes + 1, rng=rng, dtype=dtype)
    return Sequential(layers)


# ---------------------------------------------------------------------------
# helpers: windows, input checks, geometry of a network
# ---------------------------------------------------------------------------
def _check_image(image) -> np.ndarray:
    return as_float_array(image, "image", ndim=3, layout="(H, W, C)")


def _grid_size(hw: tuple[int, int], window: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """``(rows, cols)`` of the windows, or a ValueError when the image is smaller than one window."""
    (h, w), (wh, ww) = hw, window
    if h < wh or w < ww:
        raise ValueError(f"image: its size {h}x{w} is smaller than the {wh}x{ww} window; "
                         f"expected an image at least as large as the window")
    return (h - wh) // stride[0] + 1, (w - ww) // stride[1] + 1


def window_grid(image_size, window=16, stride=2) -> np.ndarray:
    """The boxes of every window, ``(rows, cols, 4)`` float64 xyxy pixels.

    ``image_size``: ``(H, W)`` (or an image's shape, whose first two entries are used);
    ``window``, ``stride``: an int or ``(h, w)``. Window ``(r, c)`` is
    ``(c s_w, r s_h, c s_w + w_w, r s_h + w_h)``, with
    ``rows = floor((H - w_h) / s_h) + 1`` and ``cols = floor((W - w_w) / s_w) + 1``.
    """
    if not isinstance(image_size, (tuple, list)) or len(image_size) < 2:
        raise TypeError(f"image_size: expected (H, W), received {image_size!r}")
    hw = (positive_int(image_size[0], "image_size"), positive_int(image_size[1], "image_size"))
    window, stride = int_pair(window, "window"), int_pair(stride, "stride")
    rows, cols = _grid_size(hw, window, stride)
    y0 = np.arange(rows, dtype=np.float64) * stride[0]                      # (rows,)
    x0 = np.arange(cols, dtype=np.float64) * stride[1]                      # (cols,)
    boxes = np.empty((rows, cols, 4))
    boxes[..., 0] = x0[None, :]
    boxes[..., 1] = y0[:, None]
    boxes[..., 2] = x0[None, :] + window[1]
    boxes[..., 3] = y0[:, None] + window[0]
    return boxes


def _ends_with_softmax(model) -> bool:
    return isinstance(model, Sequential) and len(model) > 0 and isinstance(model[-1], Softmax)


def _probabilities(outputs: np.ndarray, model) -> np.ndarray:
    """Softmax over the last axis, unless the model's last layer already is a Softmax."""
    if _ends_with_softmax(model):
        return outputs
    return F.softmax_forward(outputs, axis=-1)[0]


@contextmanager
def _eval_mode(model):
    """Run ``model`` in eval mode (Dropout off, BatchNorm's running statistics) and restore it."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _check_sequential(model, name: str) -> list[tuple[str, Module]]:
    if not isinstance(model, Sequential):
        raise TypeError(f"{name}: expected an npvision.nn.Sequential of layers, received "
                        f"{type(model).__name__}")
    return list(model.named_children())


def _layer_name(name: str, layer) -> str:
    return f"layer {name!r} ({type(layer).__name__})"


def _spatial_geometry(named_layers, window: tuple[int, int], model_name: str):
    """Follow a window through layers that keep the image layout.

    Returns ``(f_h, f_w, channels or None, (S_h, S_w))``: the feature map a single
    window produces and the total stride (the product of the layers' strides), which
    is the stride at which the network slides over a larger image. Raises for a layer
    that pads, and for a layer that is not a convolution, a pool, a BatchNorm or
    a pointwise layer.
    """
    h, w = window
    sh, sw = 1, 1
    channels = None
    for name, layer in named_layers:
        where = f"{model_name}: {_layer_name(name, layer)}"
        if isinstance(layer, Conv2D):
            pads = resolve_padding(layer.padding, "padding", (h, w), layer.kernel_size, layer.stride,
                                   layer.dilation)
            if pads != ((0, 0), (0, 0)):
                raise ValueError(f"{where} has padding={layer.padding!r}; sliding windows need "
                                 f"padding 0 ('valid'): a padded layer sees zeros at each window's "
                                 f"border that the whole image does not have, so the scores would differ")
            (kh, kw), (s1, s2), (d1, d2) = layer.kernel_size, layer.stride, layer.dilation
            h, w = conv_output_size(h, kh, s1, 0, d1), conv_output_size(w, kw, s2, 0, d2)
            sh, sw, channels = sh * s1, sw * s2, layer.out_channels
        elif isinstance(layer, (MaxPool2D, AvgPool2D)):
            pads = resolve_padding(layer.padding, "padding", (h, w), layer.pool_size, layer.stride)
            if pads != ((0, 0), (0, 0)):
                raise ValueError(f"{where} has padding={layer.padding!r}; sliding windows need "
                                 f"pools without padding")
            (kh, kw), (s1, s2) = layer.pool_size, layer.stride
            h, w = conv_output_size(h, kh, s1), conv_output_size(w, kw, s2)
            sh, sw = sh * s1, sw * s2
        elif isinstance(layer, BatchNorm2D):
            channels = layer.num_features
        elif isinstance(layer, _POINTWISE) or (isinstance(layer, Softmax) and layer.axis == -1):
            pass
        else:
            raise TypeError(f"{where} cannot slide over an image: expected only Conv2D, MaxPool2D, "
                            f"AvgPool2D, BatchNorm2D and pointwise layers "
                            f"({', '.join(t.__name__ for t in _POINTWISE)}) before Flatten")
        if h < 1 or w < 1:
            raise ValueError(f"{where}: the {window[0]}x{window[1]} window is too small for this "
                             f"network (the feature map would be {h}x{w})")
    return h, w, channels, (sh, sw)


# ---------------------------------------------------------------------------
# the naive detector
# ---------------------------------------------------------------------------
def sliding_window_naive(classifier, image, window=16, stride=2, batch_size: int = 1):
    """Crop every window and classify each crop: ``(scores (rows, cols, K+1), boxes (rows, cols, 4))``.

    ``classifier``: any Module mapping ``(N, w_h, w_w, C)`` windows to ``(N, K + 1)``
    class scores (logits, or probabilities if it ends with a Softmax layer); it runs
    in eval mode and its mode is restored. ``image`` ``(H, W, C)``; ``window``,
    ``stride``: int or ``(h, w)``. ``batch_size`` windows go through the classifier
    per call: 1 (the default) is the textbook detector, one forward pass per window;
    larger values only batch the same crops.

    Scores are softmax probabilities in the image's dtype; see :func:`window_grid`
    for the window count and the boxes.
    """
    if not isinstance(classifier, Module):
        raise TypeError(f"classifier: expected an npvision.nn.Module, received {type(classifier).__name__}")
    image = _check_image(image)
    window, stride = int_pair(window, "window"), int_pair(stride, "stride")
    batch_size = positive_int(batch_size, "batch_size")
    (wh, ww), (sh, sw) = window, stride
    rows, cols = _grid_size(image.shape[:2], window, stride)

    crops = []
    for r in range(rows):                                         # every window, one by one
        for c in range(cols):
            top, left = r * sh, c * sw
            crops.append(image[top:top + wh, left:left + ww, :])  # (w_h, w_w, C)
    crops = np.stack(crops)                                       # (rows * cols, w_h, w_w, C)

    outputs = []
    with _eval_mode(classifier):
        for start in range(0, len(crops), batch_size):
            out = np.asarray(classifier.forward(crops[start:start + batch_size]))
            if out.ndim != 2 or out.shape[0] != len(crops[start:start + batch_size]):
                raise ValueError(f"classifier: expected (N, K + 1) class scores for N windows of "
                                 f"{wh}x{ww}, received an output of shape {out.shape}")
            outputs.append(out)
    scores = _probabilities(np.concatenate(outputs), classifier)  # (rows * cols, K + 1)
    scores = scores.reshape(rows, cols, -1)                       # (rows, cols, K + 1)
    return scores, window_grid(image.shape, window, stride)


# ---------------------------------------------------------------------------
# FC -> conv, and the convolutional detector
# ---------------------------------------------------------------------------
def _linear_as_conv(layer: Linear, kernel_hw: tuple[int, int], channels: int) -> Conv2D:
    """A Conv2D computing ``layer`` on a ``kernel_hw x channels`` patch (weights copied)."""
    w = layer.weight.data                                         # (D_in, D_out)
    kh, kw = kernel_hw
    conv = Conv2D(channels, layer.out_features, (kh, kw), bias=layer.bias is not None, dtype=w.dtype)
    # Flatten reads an (f_h, f_w, C) map row-major, so input feature d of the Linear
    # is position (h, w, c) with d = (h f_w + w) C + c: a plain reshape of its rows.
    conv.weight = Parameter(w.reshape(kh, kw, channels, layer.out_features).copy())  # (f_h, f_w, C, D_out)
    if layer.bias is not None:
        conv.bias = Parameter(layer.bias.data.copy())             # (D_out,)
    return conv


def fc_to_conv(classifier, window=16) -> Sequential:
    """The convolutional twin of a window classifier: every ``Linear`` becomes a ``Conv2D``.

    ``classifier`` must be a :class:`~npvision.nn.Sequential`: valid (unpadded)
    ``Conv2D`` / ``MaxPool2D`` / ``AvgPool2D`` / ``BatchNorm2D`` / pointwise layers,
    one ``Flatten``, then ``Linear`` and pointwise layers (a final ``Softmax`` is
    kept). ``window``: the window size it classifies (int or ``(h, w)``).

    - The first ``Linear`` after ``Flatten`` takes the ``(f_h, f_w, C)`` feature map
      of one window (``(6, 6, 16)`` for the course's network on 16x16 windows),
      flattened row-major: channels-last, input feature ``d`` is position
      ``(h, w, c)`` with ``d = (h f_w + w) C + c``. Its weight ``(f_h f_w C, D_out)``
      is therefore, with a plain reshape, the weight ``(f_h, f_w, C, D_out)`` of a
      convolution whose kernel covers the whole map:
      ``y[o] = b[o] + sum_{h, w, c} x[h, w, c] W[(h f_w + w) C + c, o]`` is that
      convolution's output at position (0, 0). (A channels-first library flattens
      ``(c, h, w)`` and needs a transpose here.)
    - Every later ``Linear`` ``(D_in, D_out)`` becomes a 1x1 convolution with weight
      ``(1, 1, D_in, D_out)``: the same matrix applied at every position.

    The layers before ``Flatten`` are deep copies; the new weights are copies of the
    old ones (nothing is retrained, the numbers are the same). On a window-sized input
    the result gives ``(N, 1, 1, K + 1)`` equal to the classifier's ``(N, K + 1)``;
    on an ``(H, W)`` image it gives one vector per window. The returned Sequential
    keeps the children's names and carries ``window`` and ``stride`` (the product of
    the layers' strides) as attributes, which :func:`sliding_window_conv` reads.
    """
    named = _check_sequential(classifier, "classifier")
    window = int_pair(window, "window")
    flat = [i for i, (_, layer) in enumerate(named) if isinstance(layer, Flatten)]
    if len(flat) != 1:
        raise ValueError(f"classifier: expected exactly one Flatten between the convolutional part and "
                         f"the fully connected layers, found {len(flat)}")
    i = flat[0]
    fh, fw, channels, stride = _spatial_geometry(named[:i], window, "classifier")

    converted = OrderedDict((name, copy.deepcopy(layer)) for name, layer in named[:i])
    first = True
    for name, layer in named[i + 1:]:
        where = f"classifier: {_layer_name(name, layer)}"
        if isinstance(layer, Linear):
            if first:
                if channels is None:                               # no conv before Flatten
                    channels = layer.in_features // (fh * fw)
                if layer.in_features != fh * fw * channels:
                    raise ValueError(f"{where} expects {layer.in_features} inputs, but a {window[0]}x"
                                     f"{window[1]} window gives a {fh}x{fw}x{channels} feature map "
                                     f"({fh * fw * channels} values); is window={window} the size "
                                     f"the classifier was built for?")
                converted[name] = _linear_as_conv(layer, (fh, fw), channels)
                first = False
            else:
                converted[name] = _linear_as_conv(layer, (1, 1), layer.in_features)
        elif isinstance(layer, _POINTWISE):
            converted[name] = copy.deepcopy(layer)
        elif isinstance(layer, BatchNorm2D) and not first:         # per feature = per channel
            converted[name] = copy.deepcopy(layer)
        elif isinstance(layer, Softmax) and layer.axis in (-1, 1):
            converted[name] = Softmax(axis=-1)                     # the class axis stays last
        else:
            raise TypeError(f"{where} cannot be converted: after Flatten expected Linear, "
                            f"pointwise layers ({', '.join(t.__name__ for t in _POINTWISE)}), "
                            f"BatchNorm2D after a Linear, or a final Softmax")
    if first:
        raise ValueError("classifier: has no Linear layer after Flatten, nothing to convert")
    model = Sequential(converted)
    model.window, model.stride = window, stride
    model.train(classifier.training)
    return model


def sliding_window_conv(conv_model, image, window=None, stride=None):
    """Every window's scores in one forward pass: ``(scores (rows, cols, K+1), boxes (rows, cols, 4))``.

    ``conv_model``: the result of :func:`fc_to_conv` (or any Sequential of valid
    convolutions, pools and pointwise layers that maps a window to ``1 x 1``).
    ``window`` and ``stride`` default to the model's attributes; a ``stride`` that is
    not the network's own (the product of its layers' strides) is an error, because
    the convolutional implementation cannot choose its stride. ``image`` ``(H, W, C)``.
    The scores equal :func:`sliding_window_naive`'s window by window (same boxes).
    """
    named = _check_sequential(conv_model, "conv_model")
    image = _check_image(image)
    if window is None:
        window = getattr(conv_model, "window", None)
        if window is None:
            raise ValueError("window: conv_model has no 'window' attribute (it was not made by "
                             "fc_to_conv); pass window= the size the network classifies")
    window = int_pair(window, "window")
    fh, fw, _, own = _spatial_geometry(named, window, "conv_model")
    if (fh, fw) != (1, 1):
        raise ValueError(f"conv_model: maps a {window[0]}x{window[1]} window to a {fh}x{fw} map, "
                         f"expected 1x1 (convert the classifier with fc_to_conv(classifier, "
                         f"window={window[0]}))")
    if stride is not None and int_pair(stride, "stride") != own:
        raise ValueError(f"stride: the convolutional implementation slides at the network's own "
                         f"stride {own} (the product of its layers' strides), received {stride!r}; "
                         f"use sliding_window_naive for another stride")
    rows, cols = _grid_size(image.shape[:2], window, own)
    with _eval_mode(conv_model):
        out = conv_model.forward(image[None])                     # (1, rows, cols, K + 1)
    if out.shape[1] < rows or out.shape[2] < cols:                # cannot happen for valid layers
        raise RuntimeError(f"conv_model: produced a {out.shape[1]}x{out.shape[2]} map for "
                           f"{rows}x{cols} windows")
    # When the layers' floors drop a window's last pixels (e.g. an odd map into a 2x2 pool),
    # the network also answers for windows that stick out of the image by those pixels;
    # output (i, j) is always the window at (i S_h, j S_w), so keep the windows that fit.
    scores = _probabilities(out[0, :rows, :cols], conv_model)     # (rows, cols, K + 1)
    return scores, window_grid(image.shape, window, own)


# ---------------------------------------------------------------------------
# from scores to detections
# ---------------------------------------------------------------------------
def _candidates(scores, boxes, score_threshold: float, background: int, box_fractions=None):
    """Each window's best object class and its probability, above the threshold, and its box."""
    scores = as_float_array(scores, "scores")
    if scores.ndim < 2 or scores.shape[-1] < 2:
        raise ValueError(f"scores: expected (..., K + 1) class probabilities with K >= 1, received "
                         f"shape {scores.shape}")
    boxes = as_float_array(boxes, "boxes")
    if boxes.shape != scores.shape[:-1] + (4,):
        raise ValueError(f"boxes: expected shape {scores.shape[:-1] + (4,)} (one box per window), "
                         f"received {boxes.shape}")
    if not isinstance(score_threshold, numbers.Real) or not 0 <= score_threshold <= 1:
        raise ValueError(f"score_threshold: expected a number in [0, 1], received {score_threshold!r}")
    k1 = scores.shape[-1]
    if not isinstance(background, numbers.Integral) or not -k1 <= background < k1:
        raise ValueError(f"background: expected the index of the background class in "
                         f"[{-k1}, {k1}), received {background!r}")
    bg = int(background) % k1
    p = scores.reshape(-1, k1)                                    # (n_windows, K + 1)
    b = boxes.reshape(-1, 4)                                      # (n_windows, 4)
    objects = np.delete(np.arange(k1), bg)                        # (K,) indices of object classes
    best = np.argmax(p[:, objects], axis=1)                       # (n_windows,) 0..K-1
    best_p = p[np.arange(len(p)), objects[best]]
    keep = best_p >= score_threshold
    b, best_p, best = b[keep], best_p[keep], best[keep].astype(np.int64)
    if box_fractions is not None:
        frac = as_float_array(box_fractions, "box_fractions", ndim=2, layout="(K, 2)")
        if frac.shape != (k1 - 1, 2) or not np.all(frac > 0):
            raise ValueError(f"box_fractions: expected a ({k1 - 1}, 2) array of positive (width, "
                             f"height) fractions of the window, one row per object class, received "
                             f"shape {frac.shape}")
        centre = 0.5 * (b[:, :2] + b[:, 2:])                      # (m, 2) window centres
        half = 0.5 * frac[best] * (b[:, 2:] - b[:, :2])           # (m, 2) half sizes, in pixels
        b = np.concatenate([centre - half, centre + half], axis=1)  # (m, 4) xyxy
    return b, best_p, best


def _nms_dict(boxes, scores, classes, iou_threshold, class_agnostic: bool) -> dict:
    if class_agnostic:                                            # one NMS over every class
        keep = nms(boxes, scores, iou_threshold)
    else:
        keep = batched_nms(boxes, scores, classes, iou_threshold)
    return {"boxes": boxes[keep], "scores": scores[keep], "classes": classes[keep]}


def window_detections(scores, boxes, score_threshold: float = 0.5, iou_threshold: float = 0.3,
                      background: int = -1, box_fractions=None, class_agnostic: bool = False) -> dict:
    """Score map -> ``{"boxes" (M, 4), "scores" (M,), "classes" (M,) int64}``, best first.

    ``scores (rows, cols, K + 1)`` (or ``(n, K + 1)``) softmax probabilities and
    ``boxes (rows, cols, 4)`` from a sliding-window detector. For each window the
    object class ``c* = argmax_{c != background} p_c`` is taken with score ``p_{c*}``;
    windows with ``p_{c*} >= score_threshold`` are candidates, and per-class NMS
    (:func:`~npvision.detection.batched_nms`, ``IoU > iou_threshold`` suppresses)
    removes the duplicates. ``background``: the index of the background class
    (default the last). Returned class ids number the object classes ``0..K-1`` in
    order, skipping the background (with the background last they are the indices).

    ``box_fractions``: None (each detection's box is its window) or a ``(K, 2)`` array,
    per object class the ``(width, height)`` of the box to report as fractions of the
    window, centred on the window. A classifier says *what* is in a window, not how
    big it is; a per-class typical size (e.g. the training boxes' mean) gives tighter
    boxes than the window itself when objects are smaller than the window.

    ``class_agnostic=True`` runs one :func:`~npvision.detection.nms` over all classes
    instead: the windows around one object that the classifier labels differently
    (an off-centre circle called a square) then suppress each other too, at the price
    of also suppressing overlapping objects of different classes.
    """
    b, s, c = _candidates(scores, boxes, score_threshold, background, box_fractions)
    return _nms_dict(b, s, c, iou_threshold, bool(class_agnostic))


def detect_multiscale(conv_model, image, scales=(1.0,), score_threshold: float = 0.5,
                      iou_threshold: float = 0.3, background: int = -1, box_fractions=None,
                      class_agnostic: bool = False) -> dict:
    """Sliding windows over an image pyramid, then one per-class NMS over all scales.

    For each ``s`` in ``scales`` the image is resized to ``round(H s) x round(W s)``
    (:func:`npvision.data.augment.resize`, antialiased when shrinking), scored with
    :func:`sliding_window_conv`, and the candidate windows are mapped back to the
    original pixels (a window box divided by ``s``): at ``s = 0.5`` a 16x16 window
    covers 32x32 pixels of the image. Scales at which the image is smaller than the
    window are skipped. Returns ``{"boxes", "scores", "classes"}`` as
    :func:`window_detections` does (``box_fractions`` and ``class_agnostic`` as there;
    the fractions are relative to the window at each scale).
    """
    from ..data.augment import resize                             # data is a higher floor

    image = _check_image(image)
    if isinstance(scales, numbers.Real):
        scales = (scales,)
    scales = [float(s) for s in scales]
    if not scales or any(not s > 0 for s in scales):
        raise ValueError(f"scales: expected positive numbers, received {scales!r}")
    window = getattr(conv_model, "window", None)
    if window is not None:
        window = int_pair(window, "conv_model.window")
    h, w = image.shape[:2]
    all_b, all_s, all_c = [], [], []
    for s in scales:
        size = (max(1, int(round(h * s))), max(1, int(round(w * s))))
        if window is not None and (size[0] < window[0] or size[1] < window[1]):
            continue                                              # no window fits at this scale
        scaled = image if size == (h, w) else resize(image, size).image
        scores, boxes = sliding_window_conv(conv_model, scaled)
        b, sc, c = _candidates(scores, boxes, score_threshold, background, box_fractions)
        factor = np.array([w / size[1], h / size[0]] * 2)         # back to the original pixels
        all_b.append(b * factor), all_s.append(sc), all_c.append(c)
    if not all_b:
        raise ValueError(f"image: at every scale in {scales} the {h}x{w} image is smaller than "
                         f"the window {window}")
    return _nms_dict(np.concatenate(all_b), np.concatenate(all_s), np.concatenate(all_c), iou_threshold,
                     bool(class_agnostic))
