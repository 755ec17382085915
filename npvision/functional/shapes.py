"""Output-size formulas of the sliding-window ops (property-tested in tests/test_shapes.py).

For an input of size ``n`` padded by ``p_lo + p_hi``, a window of ``k`` taps
spread by dilation ``d`` (it spans ``d (k - 1) + 1`` pixels) and stride ``s``:

    n_out = floor((n + p_lo + p_hi - d (k - 1) - 1) / s) + 1

which is the course's ``floor((n_H_prev + 2 pad - f) / stride) + 1`` when
``d = 1`` and the padding is symmetric. A transpose convolution inverts it:

    n_out = (n - 1) s - (p_lo + p_hi) + d (k - 1) + 1 + output_padding
"""

from __future__ import annotations

__all__ = ["conv_output_size", "conv_transpose_output_size"]


def conv_output_size(n: int, k: int, stride: int = 1, pad: tuple[int, int] | int = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis (may be <= 0: no window fits)."""
    lo, hi = (pad, pad) if isinstance(pad, int) else pad
    return (n + lo + hi - dilation * (k - 1) - 1) // stride + 1


def conv_transpose_output_size(n: int, k: int, stride: int = 1, pad: tuple[int, int] | int = 0,
                               dilation: int = 1, output_padding: int = 0) -> int:
    """Output length of a transpose convolution along one axis."""
    lo, hi = (pad, pad) if isinstance(pad, int) else pad
    return (n - 1) * stride - (lo + hi) + dilation * (k - 1) + 1 + output_padding
