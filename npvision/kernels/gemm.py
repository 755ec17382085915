"""im2col as one matrix product for the whole batch: the form for small maps with many channels.

The math is :mod:`npvision.kernels.reference.conv2d`'s and the matrices are im2col's
(:mod:`.im2col`): with ``columns (M, K)`` the windows of the whole batch, ``M = N Ho Wo``
rows and ``K = KH KW C`` numbers per window, ordered (kh, kw, c) like ``w``::

    out      = columns @ w.reshape(K, F)                 (M, F)    forward
    dw       = columns^T @ dout.reshape(M, F)            (K, F)    weight gradient
    dcolumns = dout.reshape(M, F) @ w.reshape(K, F)^T    (M, K)    input gradient, before
    dxp[n, i sh + kh dh, j sw + kw dw, :] += dcolumns[(n, i, j), (kh, kw, :)]   ... the scatter

What differs from :mod:`.im2col` is how the work is cut. im2col cuts the batch into blocks
of output rows, each packed and multiplied on one core: every block's product reads (and
BLAS re-packs) the whole weight matrix ``K x F``. When the batch has few output pixels per
filter (``M <= 4 F``: ResNet-18's 2x2 and 4x4 maps of 256-512 channels, VGG-16's 8x8 and
4x4 maps at batch 4) the weight matrix is the larger operand and those re-reads are most
of the time: measured on 2 cores, VGG's ``N4 512->512 4x4`` weight gradient took 10.7 ms
by blocks and 1.6 ms as one product. So here the batch's columns are packed once (each
thread a band of images) and each of the three products is one :func:`~.blas.matmul`,
which gives each thread a band of the larger operand (of ``w``'s columns, of ``dw``'s rows).
"""

from __future__ import annotations

import numpy as np

from .._padding import pad_hw
from .blas import channel_sums, matmul, run_on_threads, scratch
from . import im2col
from .im2col import NUMBA, Block, Movers, Taps, interior, pack_windows

__all__ = ["forward", "input_grad", "weight_grad"]


def _image_shares(N: int, macs: int) -> list:
    """One slice of images per item, for :func:`run_on_threads` (all on this thread if small)."""
    return [slice(n, n + 1) for n in range(N)] if macs >= im2col.PARALLEL_MACS else [slice(0, N)]


def pack_batch(x, w_shape, win, Ho: int, Wo: int) -> np.ndarray:
    """columns (N Ho Wo, KH KW C): the windows of every image of ``x`` (N, H, W, C) padded as ``win``
    says, row ``(n Ho + i) Wo + j``; each thread pads and packs a band of images. The array is
    this thread's workspace (valid until the next call)."""
    N = x.shape[0]
    KH, KW, C, F = w_shape
    taps = Taps(KH, KW, *win.stride, *win.dilation)
    K, per_image = KH * KW * C, Ho * Wo
    columns = scratch("gemm columns", N * per_image * K, x.dtype).reshape(N * per_image, K)   # (M, K)

    def pack(share):
        for images in share:
            xp = pad_hw(x[images], win.pads)                          # (nb, Hp, Wp, C)
            rows = columns[images.start * per_image:images.stop * per_image]
            pack_windows(xp, 0, Block(images.start, images.stop, 0, Ho), Wo, taps, rows)

    run_on_threads(pack, _image_shares(N, N * per_image * K * F))
    return columns


def forward(x, w, b, win, movers: Movers = NUMBA):
    """out (N, Ho, Wo, F) = columns @ w.reshape(KH KW C, F) (+ b): one product for the batch."""
    N = x.shape[0]
    KH, KW, C, F = w.shape
    Ho, Wo = win.out_hw(x.shape[1:3], (KH, KW))
    columns = pack_batch(x, w.shape, win, Ho, Wo)                     # (N Ho Wo, KH KW C)
    out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    matmul(columns, w.reshape(-1, F), out=out.reshape(-1, F))         # (N Ho Wo, F)
    if b is not None:
        movers.add_bias(out.reshape(-1, F), b)
    return out


def weight_grad(dout, x, w_shape, win):
    """(dw (KH, KW, C, F), db (F,)): dw = columns^T @ dout.reshape(N Ho Wo, F), one product for the
    batch, each thread a band of dw's rows; db = the sum of dout's rows."""
    N, Ho, Wo, F = dout.shape
    columns = pack_batch(x, w_shape, win, Ho, Wo)                     # (N Ho Wo, KH KW C)
    dout2 = dout.reshape(-1, F)                                       # (N Ho Wo, F)
    dw = matmul(columns.T, dout2)                                     # (KH KW C, F)
    return dw.reshape(w_shape), channel_sums(dout2)


def input_grad(dout, w, x_shape, win, b=None, movers: Movers = NUMBA):
    """dx (N, H, W, C) (plus ``b`` if given): dcolumns = dout @ w^T for the batch in one product,
    then each image's gradient columns added back into its windows (``movers.scatter``), the
    images dealt to the threads (images never share a pixel)."""
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w.shape
    K, per_image = KH * KW * C, Ho * Wo
    taps = Taps(KH, KW, *win.stride, *win.dilation)
    dcolumns = scratch("gemm dcolumns", N * per_image * K, dout.dtype).reshape(N * per_image, K)   # (M, K)
    matmul(dout.reshape(-1, F), w.reshape(K, F).T, out=dcolumns)     # (N Ho Wo, F) @ (F, KH KW C)
    dxp = np.zeros((N, *win.padded_hw(x_shape[1:3]), C), dtype=dout.dtype)   # (N, Hp, Wp, C)

    def scatter(share):
        for images in share:
            rows = dcolumns[images.start * per_image:images.stop * per_image]
            movers.scatter(rows, dxp, Block(images.start, images.stop, 0, Ho), Wo, taps)

    run_on_threads(scatter, _image_shares(N, N * per_image * K * F))
    return interior(dxp, win.pads, b, movers)
