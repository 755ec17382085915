"""RoI layers: RoIPool (Fast R-CNN) and RoIAlign (Mask R-CNN), no parameters.

Both cut a fixed ``PH x PW`` grid of features out of a feature map for every
region of interest, whatever its size; the math (torchvision's, exactly) is in
:mod:`npvision.functional.roi`.

Calling convention. These layers take two inputs, so they do not chain in a
:class:`~npvision.nn.Sequential`; a detector calls them between its backbone
and its head::

    pool = RoIPool(7, spatial_scale=1 / 16)
    y  = pool.forward(x, rois)    # x (N, H, W, C), rois (K, 5) [b, x1, y1, x2, y2] -> y (K, 7, 7, C)
    dx = pool.backward(dy)        # dy (K, 7, 7, C) -> dx (N, H, W, C)

``pool(x, rois)`` is ``pool.forward(x, rois)``. The rois are constants (box
coordinates, not activations): ``backward`` returns the gradient of ``x``
alone, as torchvision does (it gives the boxes no gradient). Each ``forward``
replaces the cache of the previous one.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import int_pair
from ..functional.roi import _check_aligned, _check_sampling_ratio, _check_scale
from ._layer import cache_of, check_input
from .module import Module

__all__ = ["RoIPool", "RoIAlign"]


class RoIPool(Module):
    """RoI max pooling: ``(x (N, H, W, C), rois (K, 5)) -> (K, PH, PW, C)``.

    Each roi's corners, times ``spatial_scale``, are rounded to whole pixels
    and its ``h x w`` pixels cut into ``PH x PW`` bins
    ``[floor(i h / PH), ceil((i + 1) h / PH))``; each output is its bin's
    maximum (0 for a bin wholly outside the map). The gradient goes to each
    bin's first maximum.
    """

    def __init__(self, output_size, spatial_scale: float = 1.0):
        super().__init__()
        self.output_size = int_pair(output_size, "output_size")
        self.spatial_scale = _check_scale(spatial_scale)
        self.cache = None

    def forward(self, x: np.ndarray, rois: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = F.roi_pool_forward(x, rois, self.output_size, self.spatial_scale)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy (K, PH, PW, C) -> dx (N, H, W, C)``: each bin's gradient to its maximum."""
        return F.roi_pool_backward(dy, cache_of(self))

    def __call__(self, x, rois):
        return self.forward(x, rois)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(Module):
    """RoIAlign: ``(x (N, H, W, C), rois (K, 5)) -> (K, PH, PW, C)``, bilinear and unrounded.

    Each output is the mean of a ``G x G`` grid of bilinear samples inside its
    bin (``G = sampling_ratio``, or ``ceil(roi_size / output_size)`` per axis
    when ``sampling_ratio <= 0``); ``aligned=True`` shifts the roi by half a
    pixel so that pixel centres sit at half-integers (Detectron2). The
    gradient of each sample goes to its four pixels with its bilinear weights.
    """

    def __init__(self, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
                 aligned: bool = False):
        super().__init__()
        self.output_size = int_pair(output_size, "output_size")
        self.spatial_scale = _check_scale(spatial_scale)
        self.sampling_ratio = _check_sampling_ratio(sampling_ratio)
        self.aligned = _check_aligned(aligned)
        self.cache = None

    def forward(self, x: np.ndarray, rois: np.ndarray) -> np.ndarray:
        x = check_input(x, self, 4, "(N, H, W, C)")
        y, self.cache = F.roi_align_forward(x, rois, self.output_size, self.spatial_scale,
                                            self.sampling_ratio, self.aligned)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """``dy (K, PH, PW, C) -> dx (N, H, W, C)``: each sample's share to its four pixels."""
        return F.roi_align_backward(dy, cache_of(self))

    def __call__(self, x, rois):
        return self.forward(x, rois)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
