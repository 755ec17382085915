"""Window: where a convolution's kernel reads, the one geometry argument of every convolution kernel.

A convolution (dense, depthwise or transposed) slides a ``KH x KW`` kernel over an
image ``x`` ``(N, H, W, C)`` padded with zeros to ``xp`` ``(N, Hp, Wp, C)``::

    pads      ((top, bottom), (left, right))   Hp = top + H + bottom,  Wp = left + W + right
    stride    (sh, sw)                          output pixel (i, j) starts at xp[i sh, j sw]
    dilation  (dh, dw)                          tap (kh, kw) reads xp[i sh + kh dh, j sw + kw dw]

    Ho = floor((Hp - dh (KH - 1) - 1) / sh) + 1          (Wo likewise)

Every convolution kernel takes its arrays first and then one :class:`Window`, in one
order: ``forward(x, w, b, win)``, ``backward(dout, x, w, win, need_input_grad)``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Window"]


class Window(NamedTuple):
    """Stride, dilation and zero padding of a convolution (see the module docstring)."""

    stride: tuple[int, int]                          # (sh, sw)
    dilation: tuple[int, int]                        # (dh, dw)
    pads: tuple[tuple[int, int], tuple[int, int]]    # ((top, bottom), (left, right))

    def padded_hw(self, hw) -> tuple[int, int]:
        """``(Hp, Wp)`` of an image of ``hw = (H, W)`` with the padding around it."""
        (t, b), (l, r) = self.pads
        return hw[0] + t + b, hw[1] + l + r

    def out_hw(self, hw, kernel_hw) -> tuple[int, int]:
        """``(Ho, Wo)`` of the convolution of an (unpadded) ``hw`` image with a ``kernel_hw`` kernel."""
        (hp, wp), (kh, kw) = self.padded_hw(hw), kernel_hw
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1

    def unpadded(self) -> "Window":
        """The same window without padding (for an input that is padded already)."""
        return self._replace(pads=((0, 0), (0, 0)))
