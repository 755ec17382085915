"""Landmark detection: a ConvNet that regresses K (x, y) points.

The course's example is a face: 64 points along the eyes, nose and mouth, always
*in the same order*, so output unit ``2k`` is always "the x of landmark k". Here
the synthetic scenes of :func:`npvision.data.make_scenes` supply five landmarks per
object, in the order of :data:`npvision.data.scenes.SCENE_LANDMARK_NAMES`:
``centre, top, right, bottom, left``. A left-right mirror changes what "right" and
"left" mean, so augmenting with :func:`npvision.data.augment.hflip` must pass
``flip_order=SCENE_LANDMARK_HFLIP`` to keep the order consistent.

Layout of the network's output and of the targets (fractions of the image, like the
box of :mod:`~npvision.detection.localization`; (0, 0) is the top-left corner of the
image and (1, 1) its bottom-right one)::

    y = [x_1 / W, y_1 / H, x_2 / W, y_2 / H, ..., x_K / W, y_K / H]        (N, 2K)

Pieces
------
:func:`encode_landmarks`    points (N, K, 2) pixels -> y (N, 2K) fractions
:func:`decode_landmarks`    y (N, 2K) -> points (N, K, 2) pixels, the exact inverse
:func:`landmark_loss`       mean squared error over the 2K coordinates, with its gradient
:func:`point_errors`        Euclidean distance of each predicted point to the true one, (N, K)
:func:`mean_point_error`    their mean, in pixels
:class:`LandmarkNet`        the ConvNet: :func:`~npvision.detection.conv_trunk`, heatmaps, soft-argmax
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array, positive_int
from ..nn.conv import Conv2D
from ..nn.init import as_rng
from ..nn.module import Module
from .boxes import _image_size
from .localization import SoftArgmax2D, check_map_input, conv_trunk

__all__ = ["encode_landmarks", "decode_landmarks", "landmark_loss", "point_errors",
           "mean_point_error", "LandmarkNet"]


def _size(image_size) -> tuple[float, float]:
    return _image_size((image_size, image_size) if np.isscalar(image_size) else image_size,
                       "image_size")


def _as_points(points, name: str) -> np.ndarray:
    """A finite float ``(N, K, 2)`` array of (x, y) points."""
    points = as_float_array(points, name, ndim=3, layout="(N, K, 2)")
    if points.shape[2] != 2:
        raise ValueError(f"{name}: expected (x, y) pairs on the last axis, shape (N, K, 2), "
                         f"received {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return points


def encode_landmarks(points, image_size) -> np.ndarray:
    """``points (N, K, 2)`` (x, y) pixels -> ``y (N, 2K)``: ``y[:, 2k] = x_k / W``,
    ``y[:, 2k + 1] = y_k / H``. ``image_size`` is ``(H, W)`` or one int."""
    points = _as_points(points, "points")
    h, w = _size(image_size)
    scale = np.array([w, h], dtype=points.dtype)
    return (points / scale).reshape(len(points), -1)                          # (N, K, 2) -> (N, 2K)


def decode_landmarks(y, image_size) -> np.ndarray:
    """``y (N, 2K)`` fractions -> ``points (N, K, 2)`` pixels; the inverse of :func:`encode_landmarks`."""
    y = as_float_array(y, "y", ndim=2, layout="(N, 2K)")
    if y.shape[1] % 2 or y.shape[1] == 0:
        raise ValueError(f"y: expected an even, non-zero number of columns (x, y per landmark), "
                         f"received shape {y.shape}")
    h, w = _size(image_size)
    scale = np.array([w, h], dtype=y.dtype)
    return y.reshape(len(y), -1, 2) * scale                                   # (N, 2K) -> (N, K, 2)


def landmark_loss(y_pred, y_true):
    """Mean squared error over every coordinate: ``(loss, dy_pred)``.

    For ``N`` samples of ``D = 2K`` coordinates::

        loss = (1 / (N D)) sum_(i, j) (yhat_ij - y_ij)^2
        d loss / d yhat_ij = 2 (yhat_ij - y_ij) / (N D)

    ``y_pred``, ``y_true`` (N, 2K), the layout of :func:`encode_landmarks`.
    """
    y_pred = as_float_array(y_pred, "y_pred", ndim=2, layout="(N, 2K)")
    y_true = as_float_array(y_true, "y_true", ndim=2, layout="(N, 2K)")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: expected the shape of y_pred {y_pred.shape}, received {y_true.shape}")
    if y_pred.shape[1] % 2 or y_pred.size == 0:
        raise ValueError(f"y_pred: expected an even, non-zero number of columns (x, y per landmark) "
                         f"and at least one sample, received shape {y_pred.shape}")
    if not (np.all(np.isfinite(y_pred)) and np.all(np.isfinite(y_true))):
        raise ValueError("y_pred/y_true: contain NaN or infinite values")
    d = y_pred - y_true
    return float(np.sum(d * d) / d.size), (2.0 * d / d.size).astype(y_pred.dtype, copy=False)


def point_errors(pred, true) -> np.ndarray:
    """``||pred[i, k] - true[i, k]||_2`` for points ``(N, K, 2)`` -> ``(N, K)`` (pixels in, pixels out)."""
    pred = _as_points(pred, "pred")
    true = _as_points(true, "true")
    if pred.shape != true.shape:
        raise ValueError(f"true: expected the shape of pred {pred.shape}, received {true.shape}")
    return np.sqrt(np.sum((pred - true) ** 2, axis=-1))


def mean_point_error(pred, true) -> float:
    """Mean Euclidean distance between predicted and true points ``(N, K, 2)`` (same units)."""
    return float(point_errors(pred, true).mean())


class LandmarkNet(Module):
    """``(N, S, S, 3) -> y (N, 2K)``: a fully convolutional
    :func:`~npvision.detection.conv_trunk`, a 1x1 convolution giving one heatmap per
    landmark, and :class:`~npvision.detection.SoftArgmax2D` reading each heatmap's
    expected position as fractions of the image::

        f = trunk(x)                    (N, s, s, C)
        h = heat_conv(f)                (N, s, s, K)     one heatmap per landmark
        y = SoftArgmax2D(h)             (N, 2K)          [x_1/W, y_1/H, ..., x_K/W, y_K/H]

    Read the points with :func:`decode_landmarks`; train with :func:`landmark_loss`.
    The 1x1 convolution has no bias: a constant added to a heatmap leaves its softmax
    unchanged.
    """

    def __init__(self, num_landmarks: int = 5, in_channels: int = 3, channels=(16, 32, 64, 64),
                 pools: int = 2, input_grad: bool = False, rng=None, dtype=np.float32):
        super().__init__()
        rng = as_rng(rng)
        self.num_landmarks = positive_int(num_landmarks, "num_landmarks")
        self.pools = int(pools)
        self.trunk = conv_trunk(in_channels, channels, pools, input_grad, rng, dtype)
        self.heat_conv = Conv2D(int(channels[-1]), self.num_landmarks, 1, bias=False, rng=rng,
                                dtype=dtype)
        self.soft_argmax = SoftArgmax2D()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x (N, S, S, C) -> y (N, 2K)``."""
        x = check_map_input(x, self.pools)
        return self.soft_argmax.forward(self.heat_conv.forward(self.trunk.forward(x)))

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """``dy (N, 2K) -> dx`` (None when the stem skips the input gradient)."""
        return self.trunk.backward(self.heat_conv.backward(self.soft_argmax.backward(dy)))

    def extra_repr(self) -> str:
        return f"num_landmarks={self.num_landmarks}"
