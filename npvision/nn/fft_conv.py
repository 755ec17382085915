"""FFTConv2D: a stride-1 convolution layer computed through the FFT, for large kernels.

Same math, shapes and parameters as :class:`npvision.nn.Conv2D` with stride 1
and no dilation (``y[n, i, j, o] = b[o] + sum x_pad[n, i + kh, j + kw, c] w[kh, kw, c, o]``),
computed by :func:`npvision.functional.conv2d_fft_forward`: its cost does not
grow with the kernel, so a 55x55 kernel costs what a 3x3 one does.

The layer keeps the spectrum of its filters (``conj(FFT(w))`` on the grid of the
last input size) and reuses it while the weights stay the same, which is the
case when the filters are frozen and the input (an image being optimized) is
the variable. A change of the weights (an optimizer step, ``load_state_dict``)
is noticed by comparing with the copy the spectrum was made from.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import resolve_padding
from ..kernels.fft_conv import grid, weight_spectrum
from ._layer import accumulate, cache_of, check_input, param_as
from .conv import Conv2D

__all__ = ["FFTConv2D"]


class FFTConv2D(Conv2D):
    """2-D convolution at stride 1 through the FFT: ``(N, H, W, C_in) -> (N, H', W', C_out)``.

    ``H' = H + p_top + p_bottom - KH + 1``. A :class:`~npvision.nn.Conv2D` with
    stride 1 and no dilation (same parameters, same initialization, same
    ``state_dict``) whose forward and backward go through the FFT; ``padding``
    int, pair, explicit, ``"valid"`` or ``"same"``; ``input_grad=False`` skips
    ``dx``. Frozen weights (``weight.trainable = False``) skip ``dw`` as well.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, padding=0,
                 bias: bool = True, input_grad: bool = True, rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=padding, dilation=1,
                         bias=bias, input_grad=input_grad, rng=rng, dtype=dtype)
        self._spectrum = None          # (weights it was made from, (P, Q), spectrum)

    def _spectrum_for(self, x: np.ndarray, w: np.ndarray):
        pads = resolve_padding(self.padding, "padding", x.shape[1:3], self.kernel_size)
        PQ = grid(x.shape, w.shape, pads)
        kept = self._spectrum
        if kept is None or kept[1] != PQ or kept[0].dtype != w.dtype or not np.array_equal(kept[0], w):
            kept = self._spectrum = (w.copy(), PQ, weight_spectrum(w, *PQ))
        return kept[2]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, H, W, C_in) -> (N, H', W', C_out)``."""
        x = check_input(x, self, 4, "(N, H, W, C)", self.in_channels)
        w = param_as(self.weight, x.dtype)
        y, self.cache = F.conv2d_fft_forward(x, w, param_as(self.bias, x.dtype), padding=self.padding,
                                             spectrum=self._spectrum_for(x, w))
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """``dy (N, H', W', C_out) -> dx (N, H, W, C_in)`` (None with ``input_grad=False``)."""
        dx, dw, db = F.conv2d_fft_backward(dy, cache_of(self), need_input_grad=self.input_grad,
                                           need_weight_grad=self.weight.trainable)
        accumulate(self.weight, dw)
        if self.bias is not None and self.bias.trainable:
            accumulate(self.bias, db)
        return dx
