"""Convolution kernels: forward, input gradient, weight and bias gradients (three backends each).

Every kernel works on a padded input ``xp``. Each also takes an optional
``pads = ((top, bottom), (left, right))``: then the forward and weight-gradient
kernels receive the *unpadded* input and pad it one block of images at a time
(:class:`_PaddedSource`), and the input-gradient kernels return only the
interior ``dx``; :mod:`npvision.functional.conv` always passes it, so that no
padded copy of the whole batch (or of its gradient) is made. Shapes and names::

    xp    (N, Hp, Wp, C)        the padded input
    w     (KH, KW, C, F)        the weight (F output channels)
    dout  (N, Ho, Wo, F)        the output, or its gradient
    stride (sh, sw), dilation (dh, dw): resolved pairs of ints

A tap ``(kh, kw)`` of output pixel ``(i, j)`` reads input pixel
``(i sh + kh dh, j sw + kw dw)``, so that

    out[n, i, j, f]  = sum_{kh, kw, c} xp[n, i sh + kh dh, j sw + kw dw, c] w[kh, kw, c, f]  (+ b[f])
    Ho               = floor((Hp - dh (KH - 1) - 1) / sh) + 1      (likewise Wo)

and, by the chain rule, each product ``xp * w`` sends ``dout`` back to both factors,
and the bias collects it whole:

    dxp[n, i sh + kh dh, j sw + kw dw, c] += dout[n, i, j, f] w[kh, kw, c, f]
    dw[kh, kw, c, f]                      += dout[n, i, j, f] xp[n, i sh + kh dh, j sw + kw dw, c]
    db[f]                                 += dout[n, i, j, f]

Ops: ``conv2d_forward(xp, w, stride, dilation, pads=None, bias=None)``,
``conv2d_backward_input(dout, w, xp_shape, stride, dilation, pads=None, bias=None)``
(a transpose conv's forward, hence its bias) and
``conv2d_backward_params(dout, xp, w_shape, stride, dilation, pads=None) -> (dw, db)``
(the bias gradient is summed from each block of ``dout`` while the weight gradient
has it in cache), and the two together,
``conv2d_backward(dout, x, w, stride, dilation, pads=None, need_input_grad=True) -> (dx, dw, db)``
(``dx`` None when not needed): the last two ops run one after the other, except where one
pass can serve both (the numba backend's direct loops share ``dout``'s planes). And
``conv2d_forward_and_params(xp, w, dout, stride, dilation, pads=None) -> (out, dw)``, the
forward and the weight gradient of one convolution from one set of im2col columns: a
transpose conv's two gradients (its ``dx`` is this conv's forward of ``dout``, its ``dw``
this conv's weight gradient with ``dout`` as the input).

The backward kernels take the output grid ``(Ho, Wo)`` from ``dout``; rows and
columns of ``xp`` that no window reaches get a zero gradient. The input-gradient
kernels also take an optional ``pads = ((top, bottom), (left, right))``: given it,
they return only the interior ``dx`` ``(N, Hp - top - bottom, Wp - left - right, C)``
that the caller wants, and the stride-1 path computes just that interior instead
of a padded gradient to be cropped (the padded copy would be the backward's
largest temporary).

Backends
--------
``naive``  the loops above, one output pixel and channel at a time (the course's
           ``conv_forward`` / ``conv_backward``): slow, and the reference.
``numpy``  im2col + BLAS. A strided *view* lists every window; copying it gives the
           columns matrix ``(N Ho Wo, KH KW C)`` (ordered kh, kw, c, like ``w``),
           and one matrix product with ``w.reshape(KH KW C, F)`` is the convolution.
           ``dw = columns^T @ dout``. For stride 1, ``dxp`` is a "full" convolution
           of ``dout`` (zero-padded by ``dh (KH-1)``) with the flipped kernel whose
           channel axes are swapped; for stride > 1 one product ``dout @ w^T``
           gives every tap's contribution, added into ``dxp`` one strided slice per
           tap (no ``np.add.at``, no zero-stuffing); when the windows tile the
           input (k = stride, a transpose conv's favourite) the taps are put in
           place by one reshape. 1x1 kernels skip im2col altogether.
           The batch is processed in blocks whose columns stay under
           ``COLUMNS_BUDGET`` bytes, so memory does not grow with N.
``numba``  Stride-1 kernels with few channels (an RGB stem, a 16-channel
           layer: :func:`_direct_fits`) are convolved directly over planar
           images (:mod:`npvision.kernels.direct`), both gradients from one pass.
           3x3 kernels at stride 1 (with at least ``WINOGRAD_MIN_CHANNELS``
           channels in and out) use Winograd's F(2x2, 3x3)
           (:mod:`npvision.kernels.winograd`): 16 small products instead of
           im2col's one, with 16/36 of its multiplies, between numba
           transforms of 4x4 tiles. Other kernels follow the numpy plan (its
           strided copy packs columns 2-3x faster than the numba loop that did
           it before), with the per-tap scatter of the strided input gradient
           and the bias add in numba. At
           stride 1 with fewer input than output channels (VGG's 3->64 stem,
           too wide for the direct loops) its input gradient also uses the
           scatter, which moves C instead of F channels per tap.

Threads: the blocks of columns (and Winograd's blocks of tiles) are dealt to
npvision's threads (:func:`npvision.kernels.blas.run_on_threads`), each packing
a block into its own workspace and multiplying it on one BLAS thread, so a
block goes from packing to product inside one core's cache.

``auto`` uses ``numba`` for all three ops (measured with
``benchmarks/bench_layers.py``; see ``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._padding import crop_hw, pad_hw, padded_grid, padded_shape
from .blas import matmul, run_on_threads, scratch, threads
from . import direct, winograd
from . import get, register
from ._jit import njit

__all__: list[str] = []

# Upper bound, in bytes, of one block of im2col columns (and of the per-tap
# gradient block in the strided input gradient). Small blocks bound the
# memory and stay in cache from packing to product (BLAS measured faster on
# ~3000-row blocks than on one 32768-row product). Tests lower it to exercise
# the blocking code.
COLUMNS_BUDGET = 4 * 2**20


def _out_size(n_padded: int, k: int, s: int, d: int) -> int:
    """floor((n_padded - d (k - 1) - 1) / s) + 1"""
    return (n_padded - d * (k - 1) - 1) // s + 1


# ---------------------------------------------------------------------------
# naive: the loops, as in the course
# ---------------------------------------------------------------------------

@register("conv2d_forward", "naive")
def conv2d_forward_naive(xp, w, stride, dilation, pads=None, bias=None):
    """out (N, Ho, Wo, F): one window times one filter per output number, plus ``bias[f]`` if given.

    With ``pads = ((top, bottom), (left, right))``, ``xp`` is the unpadded input: pad it first."""
    xp = _PaddedSource(xp, pads).whole()
    N, Hp, Wp, C = xp.shape
    KH, KW, _, F = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    Ho, Wo = _out_size(Hp, KH, sh, dh), _out_size(Wp, KW, sw, dw)
    out = np.zeros((N, Ho, Wo, F), dtype=xp.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                a_slice = xp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :]  # (KH, KW, C)
                for f in range(F):
                    out[n, i, j, f] = np.sum(a_slice * w[:, :, :, f])
                    if bias is not None:
                        out[n, i, j, f] += bias[f]
    return out


@register("conv2d_backward_input", "naive")
def conv2d_backward_input_naive(dout, w, xp_shape, stride, dilation, pads=None, bias=None):
    """dxp (xp_shape): each output's gradient flows back to the window it read.

    With ``pads = ((top, bottom), (left, right))`` the interior ``dx`` is returned."""
    N, Ho, Wo, F = dout.shape
    KH, KW = w.shape[:2]
    (sh, sw), (dh, dw) = stride, dilation
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                for f in range(F):
                    dxp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :] += w[:, :, :, f] * dout[n, i, j, f]
    return _crop(dxp, pads, bias)


@register("conv2d_backward_params", "naive")
def conv2d_backward_params_naive(dout, xp, w_shape, stride, dilation, pads=None):
    """(dw (KH, KW, C, F), db (F,)): each filter collects the windows weighted by its output's
    gradient, and its bias the gradients themselves.

    With ``pads``, ``xp`` is the unpadded input: pad it first."""
    xp = _PaddedSource(xp, pads).whole()
    N, Ho, Wo, F = dout.shape
    KH, KW = w_shape[:2]
    (sh, sw), (dh, dw) = stride, dilation
    dw_ = np.zeros(w_shape, dtype=dout.dtype)
    db = np.zeros(F, dtype=dout.dtype)
    for n in range(N):
        for i in range(Ho):
            vert_start = i * sh
            vert_end = vert_start + dh * (KH - 1) + 1
            for j in range(Wo):
                horiz_start = j * sw
                horiz_end = horiz_start + dw * (KW - 1) + 1
                a_slice = xp[n, vert_start:vert_end:dh, horiz_start:horiz_end:dw, :]  # (KH, KW, C)
                for f in range(F):
                    dw_[:, :, :, f] += a_slice * dout[n, i, j, f]
                    db[f] += dout[n, i, j, f]
    return dw_, db


# ---------------------------------------------------------------------------
# shared machinery of the GEMM backends
# ---------------------------------------------------------------------------

def _blocks(N: int, Ho: int, row_bytes: int, whole_images: bool = False, min_blocks: int = 1):
    """Split the output grid (N, Ho) into blocks whose columns fit COLUMNS_BUDGET.

    ``row_bytes`` is the size of the columns of one output row. Whole images are
    grouped when one image fits (blocks of nearly equal size), or when
    ``whole_images``; otherwise each image is cut into bands of rows. At least
    ``min_blocks`` blocks are made where the grid allows (so that every thread
    gets some: images are cut into bands if there are too few of them).
    Returns a list of ``(n0, n1, h0, h1)``; the slice ``a[n0:n1, h0:h1]`` of a
    C-contiguous (N, Ho, ...) array is contiguous.
    """
    if N == 0 or Ho == 0:
        return []                                                # an empty batch: nothing to do
    image_bytes = max(1, Ho * row_bytes)
    if (image_bytes <= COLUMNS_BUDGET and N >= min_blocks) or whole_images:
        per_block = max(1, COLUMNS_BUDGET // image_bytes)
        n_blocks = max(-(-N // per_block), min(N, min_blocks))
        per_block = -(-N // n_blocks)
        return [(n0, min(N, n0 + per_block), 0, Ho) for n0 in range(0, N, per_block)]
    band = max(1, COLUMNS_BUDGET // max(1, row_bytes))
    band = max(1, min(band, -(-Ho // -(-min_blocks // N))))        # enough bands for min_blocks
    return [(n, n + 1, h0, min(Ho, h0 + band)) for n in range(N) for h0 in range(0, Ho, band)]


def _min_blocks(macs: int) -> int:
    """Blocks to cut a product of ``macs`` multiply-adds into: two per thread when it is
    worth waking the other threads (about 0.1 ms each here), else one."""
    return 2 * threads() if macs >= PARALLEL_MACS else 1


#: convolutions with fewer multiply-adds run on the calling thread alone.
PARALLEL_MACS = 4_000_000


def _flat(a: np.ndarray, cols: int) -> np.ndarray:
    """A contiguous block seen as a matrix (rows, cols), without copying."""
    assert a.flags.c_contiguous, "a block must be contiguous to be viewed as a matrix"
    return a.reshape(-1, cols)


def _pack_numpy(xp, n0, n1, h0, h1, Wo, KH, KW, sh, sw, dh, dw, cols):
    """Copy the windows of output rows [h0, h1) of images [n0, n1) into ``cols``.

    ``cols`` (rows, KH KW C) row-major; row = ((n - n0) hb + (i - h0)) Wo + j.
    """
    C = xp.shape[3]
    s_n, s_h, s_w, s_c = xp.strides
    start = xp[n0:n1, h0 * sh:]                                  # (nb, Hp - h0 sh, Wp, C)
    windows = as_strided(start, shape=(n1 - n0, h1 - h0, Wo, KH, KW, C),
                         strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c),
                         writeable=False)                        # (nb, hb, Wo, KH, KW, C)
    np.copyto(cols.reshape(windows.shape), windows)


def _add_bias_numpy(block: np.ndarray, bias: np.ndarray) -> None:
    """block (rows, F) += bias (F,), NumPy broadcasting."""
    block += bias


@njit(nogil=True)
def _add_bias_numba(block, bias):
    """block (rows, F) += bias (F,): a compiled loop, 2.5x faster than NumPy's broadcast add on
    a block in cache (NumPy pays per row of F numbers)."""
    for i in range(block.shape[0]):
        row = block[i]
        for f in range(block.shape[1]):
            row[f] += bias[f]


def _scatter_numpy(dcols, dxp, n0, n1, h0, h1, Wo, KH, KW, sh, sw, dh, dw):
    """dxp[n, i sh + kh dh, j sw + kw dw, :] += dcols[n, i, j, kh, kw, :], one tap at a time."""
    C = dxp.shape[3]
    taps = dcols.reshape(n1 - n0, h1 - h0, Wo, KH, KW, C)        # (nb, hb, Wo, KH, KW, C)
    hb = h1 - h0
    for kh in range(KH):
        y0 = h0 * sh + kh * dh
        for kw in range(KW):
            x0 = kw * dw
            dxp[n0:n1, y0:y0 + (hb - 1) * sh + 1:sh, x0:x0 + (Wo - 1) * sw + 1:sw, :] += taps[:, :, :, kh, kw, :]


@njit(nogil=True)
def _scatter_numba_impl(dcols, dxp, n0, n1, h0, h1, Wo, KH, KW, sh, sw, dh, dw):
    # Windows of one image overlap: one thread scatters all of an image's blocks.
    C = dxp.shape[3]
    hb = h1 - h0
    for n in range(n0, n1):
        for i in range(h0, h1):
            for j in range(Wo):
                row = ((n - n0) * hb + (i - h0)) * Wo + j
                for kh in range(KH):
                    y = i * sh + kh * dh
                    for kw in range(KW):
                        x = j * sw + kw * dw
                        base = (kh * KW + kw) * C
                        for c in range(C):
                            dxp[n, y, x, c] += dcols[row, base + c]


def _scatter_numba(dcols, dxp, n0, n1, h0, h1, Wo, KH, KW, sh, sw, dh, dw):
    _scatter_numba_impl(dcols, dxp, n0, n1, h0, h1, Wo, KH, KW, sh, sw, dh, dw)


class _PaddedSource:
    """The padded input ``xp``, handed out a block of images at a time.

    Given ``pads = ((top, bottom), (left, right))``, ``x`` is the *unpadded*
    input and each block of images is zero-padded only when it is packed, so
    no padded copy of the whole batch is ever held (it would be the largest
    temporary of a forward or weight-gradient pass). With ``pads=None`` (or all
    zeros) ``x`` is used as it is.
    """

    def __init__(self, x: np.ndarray, pads):
        if pads is not None and pads[0] == (0, 0) and pads[1] == (0, 0):
            pads = None
        self.x, self.pads = x, pads
        self.shape = x.shape if pads is None else padded_shape(x.shape, pads)
        self._key, self._block = None, None

    def images(self, n0: int, n1: int):
        """``(array, first)``: padded images n0 .. n1-1 are ``array[first:first + n1 - n0]``."""
        if self.pads is None:
            return self.x, n0
        if self._key != (n0, n1):                                # bands of one image reuse it
            self._block = pad_hw(self.x[n0:n1], self.pads)
            self._key = (n0, n1)
        return self._block, 0

    def whole(self) -> np.ndarray:
        """The whole padded input (only the rare padded 1x1 convolution asks for it)."""
        return self.images(0, self.shape[0])[0]


def _im2col_gemm(xp, w, stride, dilation, pack, out=None, pads=None, bias=None, add=_add_bias_numpy,
                 dout=None):
    """out (N, Ho, Wo, F) = columns(xp) @ w.reshape(KH KW C, F) (+ bias), block by block.

    ``out``, if given, is a C-contiguous (N, Ho, Wo, F) array to write into.
    With ``pads``, ``xp`` is the unpadded input (see :class:`_PaddedSource`).
    ``bias`` (F,) is added to each block while it is still in cache.
    The blocks are shared out among the threads (:func:`run_on_threads`):
    each thread packs a block into its own workspace and multiplies it there.

    Given ``dout`` (N, Ho, Wo, F), the same columns also give the weight gradient
    ``dw = columns^T @ dout`` (KH, KW, C, F), and ``(out, dw)`` is returned: one packing
    for both products (a transpose conv's backward). Not for 1x1 kernels.
    """
    shape = _PaddedSource(xp, pads).shape
    N, Hp, Wp, C = shape
    KH, KW, _, F = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    Ho, Wo = _out_size(Hp, KH, sh, dh), _out_size(Wp, KW, sw, dw)
    if out is None:
        out = np.empty((N, Ho, Wo, F), dtype=xp.dtype)
    if KH == KW == 1:                                            # 1x1: the pixels are the columns
        assert dout is None, "1x1 kernels: run the forward and the weight gradient in turn"
        xp = _PaddedSource(xp, pads).whole()
        xs = np.ascontiguousarray(xp[:, :(Ho - 1) * sh + 1:sh, :(Wo - 1) * sw + 1:sw, :])  # (N, Ho, Wo, C)
        xs, out2 = xs.reshape(-1, C), out.reshape(-1, F)         # (N Ho Wo, C), (N Ho Wo, F)
        M = xs.shape[0]
        rows = max(1, min(-(-M // _min_blocks(M * C * F)), COLUMNS_BUDGET // 8 // (F * xs.itemsize)))
        bands = [slice(r, min(M, r + rows)) for r in range(0, M, rows)]   # output blocks of <= 512 KiB

        def product(share):
            for band in share:
                block = np.matmul(xs[band], w.reshape(C, F), out=out2[band])
                if bias is not None:
                    add(block, bias)                             # while the block is in cache

        run_on_threads(product, bands)
        return out
    K = KH * KW * C
    wmat = w.reshape(K, F)                                       # (KH KW C, F)
    macs = N * Ho * Wo * K * F * (1 if dout is None else 2)
    blocks = _blocks(N, Ho, Wo * K * xp.itemsize, min_blocks=_min_blocks(macs))

    def work(share):
        if dout is not None:                                     # this thread's share of dw
            dwmat, part = np.zeros((K, F), dtype=xp.dtype), np.empty((K, F), dtype=xp.dtype)
        for n0, n1, h0, h1, cols in _packed(xp, pads, share, Wo, (KH, KW), stride, dilation, pack):
            block = np.matmul(cols, wmat, out=_flat(out[n0:n1, h0:h1], F))
            if bias is not None:
                add(block, bias)
            if dout is not None:
                dwmat += np.matmul(cols.T, _flat(dout[n0:n1, h0:h1], F), out=part)   # (KH KW C, F)
        return None if dout is None else dwmat

    parts = run_on_threads(work, blocks)
    return out if dout is None else (out, sum(parts).reshape(w.shape))


def _most_rows(blocks, Wo: int) -> int:
    """The most column rows any of ``blocks`` needs (its workspace size, in rows)."""
    return max(((n1 - n0) * (h1 - h0) * Wo for n0, n1, h0, h1 in blocks), default=0)


def _packed(xp, pads, share, Wo, kernel_hw, stride, dilation, pack):
    """For each block ``(n0, n1, h0, h1)`` of ``share``: ``(n0, n1, h0, h1, cols)``, with ``cols``
    (rows, KH KW C) the block's im2col columns, packed into this thread's workspace (valid
    until the next block). With ``pads``, ``xp`` is the unpadded input and the images are
    padded here, one block at a time (:class:`_PaddedSource`)."""
    (KH, KW), (sh, sw), (dh, dw) = kernel_hw, stride, dilation
    K = KH * KW * xp.shape[3]
    source = _PaddedSource(xp, pads)
    workspace = scratch("im2col", _most_rows(share, Wo) * K, xp.dtype)
    for n0, n1, h0, h1 in share:
        rows = (n1 - n0) * (h1 - h0) * Wo
        cols = workspace[:rows * K].reshape(rows, K)             # (rows, KH KW C)
        src, first = source.images(n0, n1)
        pack(src, first, first + n1 - n0, h0, h1, Wo, KH, KW, sh, sw, dh, dw, cols)
        yield n0, n1, h0, h1, cols


def _backward_params(dout, xp, w_shape, stride, dilation, pack, pads=None):
    """(dw (KH, KW, C, F), db (F,)): dw = sum over blocks of columns^T @ dout, and db = the sum
    of dout's rows, each block's taken while the block is in cache (``pads``: see
    :class:`_PaddedSource`). Each thread sums the blocks of its share; the partial sums are
    added at the end.
    """
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w_shape
    sh, sw = stride
    if KH == KW == 1:
        xp = _PaddedSource(xp, pads).whole()
        xs = xp[:, :(Ho - 1) * sh + 1:sh, :(Wo - 1) * sw + 1:sw, :]      # (N, Ho, Wo, C)
        xs, d2 = np.ascontiguousarray(xs).reshape(-1, C), dout.reshape(-1, F)   # (N Ho Wo, C), (N Ho Wo, F)
        M = xs.shape[0]
        # each thread sums xs^T @ dout over its pixels (the long axis), a chunk of rows
        # at a time so that the chunk of dout is still in cache for its bias sum
        rows = max(1, COLUMNS_BUDGET // 4 // (F * xs.itemsize))
        chunks = [slice(r, min(M, r + rows)) for r in range(0, M, rows)]

        def sums(share):
            ones = np.ones((1, rows), dtype=dout.dtype)
            dwmat, db = np.zeros((C, F), dtype=dout.dtype), np.zeros((1, F), dtype=dout.dtype)
            for r in share:
                dwmat += np.matmul(xs[r].T, d2[r])                # (C, F)
                db += np.matmul(ones[:, :r.stop - r.start], d2[r])  # (1, F)
            return dwmat, db

        parts = run_on_threads(sums, chunks) if _min_blocks(M * C * F) > 1 else [sums(chunks)]
        return _add_parts(parts, w_shape)
    K = KH * KW * C
    blocks = _blocks(N, Ho, Wo * K * xp.itemsize, min_blocks=_min_blocks(N * Ho * Wo * K * F))

    def work(share):
        ones = np.ones((1, _most_rows(share, Wo)), dtype=dout.dtype)
        dwmat, part = np.zeros((K, F), dtype=dout.dtype), np.empty((K, F), dtype=dout.dtype)
        db = np.zeros((1, F), dtype=dout.dtype)
        for n0, n1, h0, h1, cols in _packed(xp, pads, share, Wo, (KH, KW), stride, dilation, pack):
            g = _flat(dout[n0:n1, h0:h1], F)                     # (rows, F)
            dwmat += np.matmul(cols.T, g, out=part)              # (KH KW C, F)
            db += np.matmul(ones[:, :len(cols)], g)              # (1, F)
        return dwmat, db

    return _add_parts(run_on_threads(work, blocks), w_shape)


def _add_parts(parts, w_shape):
    """(dw, db) from the threads' partial sums ``[(dw part, db part (1, F)), ...]``."""
    return sum(p[0] for p in parts).reshape(w_shape), sum(p[1] for p in parts).reshape(w_shape[3])


def _crop(dxp: np.ndarray, pads, bias=None) -> np.ndarray:
    """The interior ``dx`` of a padded gradient, C-contiguous (``pads=None`` keeps ``dxp`` whole),
    plus ``bias`` if given."""
    dx = dxp if pads is None else np.ascontiguousarray(crop_hw(dxp, pads))
    if bias is not None:
        dx += bias
    return dx


def _backward_input(dout, w, xp_shape, stride, dilation, pack, scatter, narrow_scatter=False,
                    pads=None, bias=None, add=_add_bias_numpy):
    """dxp (N, Hp, Wp, C), or its interior dx when ``pads`` is given: see the module docstring.

    ``narrow_scatter``: also use the per-tap scatter at stride 1 when the input
    has fewer channels than the output (an RGB stem), where the full
    convolution would pack F-channel columns only to produce C outputs.
    """
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    _, Hp, Wp, _ = xp_shape
    reach_h = (Ho - 1) * sh + dh * (KH - 1) + 1                  # rows some window touches
    reach_w = (Wo - 1) * sw + dw * (KW - 1) + 1
    if KH == KW == 1:                                            # 1x1: one product, placed on the grid
        d = matmul(dout.reshape(-1, F), w.reshape(C, F).T).reshape(N, Ho, Wo, C)
        if (sh, sw) == (1, 1) and (Hp, Wp) == (Ho, Wo):
            return _crop(d, pads, bias)
        dxp = np.zeros(xp_shape, dtype=dout.dtype)
        dxp[:, :reach_h:sh, :reach_w:sw, :] = d
        return _crop(dxp, pads, bias)
    if (sh, sw) == (1, 1) and not (narrow_scatter and C < F):
        # Full convolution: pad dout by the dilated kernel span minus one (and by
        # the unreached margin at the bottom/right), then correlate with the
        # kernel flipped in space and with its channel axes swapped:
        #     dxp[r, q] = sum_{kh, kw} doutp[r + kh dh, q + kw dw] . w_flip[kh, kw]
        # with doutp[R, Q] = dout[R - ph, Q - pw] (zero outside dout).
        # Only the interior rows r = t .. t+H-1 (and columns) are wanted when the
        # caller gives its padding, so doutp starts at row t and column l: the
        # product writes dx directly, with no padded gradient to crop.
        # The padding is done a block of images at a time, so that no padded
        # copy of the whole dout is ever held.
        ph, pw = dh * (KH - 1), dw * (KW - 1)
        (t, b), (l, r) = pads if pads is not None else ((0, 0), (0, 0))
        H, W = Hp - t - b, Wp - l - r                            # rows and columns returned
        w_flip = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))  # (KH, KW, F, C)
        dx = np.empty((N, H, W, C), dtype=dout.dtype)
        # dout row i lands on doutp row i + ph - t; keep the part inside 0 .. H+ph-1.
        off_h, off_w = ph - t, pw - l
        i0, i1 = max(0, -off_h), min(Ho, H + ph - off_h)
        j0, j1 = max(0, -off_w), min(Wo, W + pw - off_w)

        def work(share):                                         # whole images; _im2col_gemm runs serially here
            for n0, n1, _, _ in share:
                doutp = np.zeros((n1 - n0, H + ph, W + pw, F), dtype=dout.dtype)  # (nb, H + ph, W + pw, F)
                if i0 < i1 and j0 < j1:
                    doutp[:, i0 + off_h:i1 + off_h, j0 + off_w:j1 + off_w, :] = dout[n0:n1, i0:i1, j0:j1]
                _im2col_gemm(doutp, w_flip, (1, 1), dilation, pack, out=dx[n0:n1], bias=bias, add=add)

        image_blocks = _blocks(N, 1, H * W * KH * KW * F * dout.itemsize, whole_images=True,
                               min_blocks=_min_blocks(N * H * W * KH * KW * F * C))
        if len(image_blocks) >= threads():
            run_on_threads(work, image_blocks)
        else:                                                    # too few images: split each one's bands instead
            work(image_blocks)
        return dx
    # Strided: every tap's contribution is one column block of dout @ w^T,
    # added into the strided slice of dxp that tap touched.
    K = KH * KW * C
    wmat_t = w.reshape(K, F).T                                   # (F, KH KW C)
    if (KH, KW) == (sh, sw) and (dh, dw) == (1, 1):
        # Windows tile the input without overlap (transpose conv with k = stride):
        # output pixel (i, j)'s taps are the KH x KW patch of dxp at (i KH, j KW).
        # Blocks of output rows go to the threads; each multiplies its block and
        # puts the taps in place while they are still in its cache.
        exact = (Ho * KH, Wo * KW) == (Hp, Wp)
        dxp = (np.empty if exact else np.zeros)(xp_shape, dtype=dout.dtype)
        patches = dxp[:, :Ho * KH, :Wo * KW, :].reshape(N, Ho, KH, Wo, KW, C)   # a view of dxp

        def place(share):
            for n0, n1, h0, h1 in share:
                taps = np.matmul(_flat(dout[n0:n1, h0:h1], F), wmat_t)         # (rows, KH KW C)
                taps = taps.reshape(n1 - n0, h1 - h0, Wo, KH, KW, C)
                block = patches[n0:n1, h0:h1]                                    # (nb, hb, KH, Wo, KW, C)
                block[...] = taps.transpose(0, 1, 3, 2, 4, 5)
                if bias is not None and exact:
                    add(_flat(block, C), bias)                                   # in cache

        run_on_threads(place, _blocks(N, Ho, Wo * K * dout.itemsize, min_blocks=_min_blocks(N * Ho * Wo * F * K)))
        return _crop(dxp, pads, None if exact else bias)
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    blocks = _blocks(N, Ho, Wo * K * dout.itemsize, min_blocks=_min_blocks(N * Ho * Wo * F * K))
    # The windows of one image overlap, so all the blocks of an image go to the same
    # thread (images never share a pixel); each thread multiplies a block and scatters
    # it while the block is in its cache.
    images = {}
    for block in blocks:
        images.setdefault(block[:2], []).append(block)

    def work(share):
        workspace = scratch("scatter", _most_rows([b for bs in share for b in bs], Wo) * K, dout.dtype)
        for image_blocks in share:
            for n0, n1, h0, h1 in image_blocks:
                rows = (n1 - n0) * (h1 - h0) * Wo
                dcols = workspace[:rows * K].reshape(rows, K)    # (rows, KH KW C)
                np.matmul(_flat(dout[n0:n1, h0:h1], F), wmat_t, out=dcols)
                scatter(dcols, dxp, n0, n1, h0, h1, Wo, KH, KW, sh, sw, dh, dw)

    run_on_threads(work, list(images.values()))
    return _crop(dxp, pads, bias)


# ---------------------------------------------------------------------------
# numpy and numba registrations (the same plan, different data movers)
# ---------------------------------------------------------------------------

def _both_gradients(backend: str):
    """The ``conv2d_backward`` op of ``backend``: its input-gradient and parameter ops in turn."""
    def conv2d_backward(dout, x, w, stride, dilation, pads=None, need_input_grad=True):
        """(dx or None, dw, db): ``conv2d_backward_params``, then ``conv2d_backward_input``."""
        dw, db = get("conv2d_backward_params", backend)(dout, x, w.shape, stride, dilation, pads)
        dx = None
        if need_input_grad:
            xp_shape = padded_shape(x.shape, pads) if pads is not None else x.shape
            dx = get("conv2d_backward_input", backend)(dout, w, xp_shape, stride, dilation, pads)
        return dx, dw, db
    return conv2d_backward


register("conv2d_backward", "naive")(_both_gradients("naive"))
register("conv2d_backward", "numpy")(_both_gradients("numpy"))


def _forward_then_params(backend: str):
    """The ``conv2d_forward_and_params`` op of ``backend``: its forward and weight-gradient ops
    in turn."""
    def conv2d_forward_and_params(xp, w, dout, stride, dilation, pads=None):
        """(out, dw): ``conv2d_forward``, then the dw of ``conv2d_backward_params``."""
        out = get("conv2d_forward", backend)(xp, w, stride, dilation, pads)
        dw, _ = get("conv2d_backward_params", backend)(dout, xp, w.shape, stride, dilation, pads)
        return out, dw
    return conv2d_forward_and_params


register("conv2d_forward_and_params", "naive")(_forward_then_params("naive"))


@register("conv2d_forward_and_params", "numpy")
def conv2d_forward_and_params_numpy(xp, w, dout, stride, dilation, pads=None):
    """(out, dw) from one im2col packing per block (1x1 kernels: the two ops in turn)."""
    if w.shape[:2] == (1, 1):
        return _forward_then_params("numpy")(xp, w, dout, stride, dilation, pads)
    return _im2col_gemm(xp, w, stride, dilation, _pack_numpy, pads=pads, dout=dout)


@register("conv2d_forward", "numpy")
def conv2d_forward_numpy(xp, w, stride, dilation, pads=None, bias=None):
    """im2col by a strided view, then one GEMM per block."""
    return _im2col_gemm(xp, w, stride, dilation, _pack_numpy, pads=pads, bias=bias)


@register("conv2d_backward_input", "numpy")
def conv2d_backward_input_numpy(dout, w, xp_shape, stride, dilation, pads=None, bias=None):
    """Full convolution (stride 1) or GEMM + per-tap strided adds (stride > 1)."""
    return _backward_input(dout, w, xp_shape, stride, dilation, _pack_numpy, _scatter_numpy, pads=pads, bias=bias)


@register("conv2d_backward_params", "numpy")
def conv2d_backward_params_numpy(dout, xp, w_shape, stride, dilation, pads=None):
    """(columns^T @ dout, dout's row sums), accumulated over blocks."""
    return _backward_params(dout, xp, w_shape, stride, dilation, _pack_numpy, pads=pads)


def _winograd_fits(w_shape, stride, dilation) -> bool:
    """F(2x2, 3x3) serves 3x3 kernels at stride 1 without dilation, when both channel counts
    reach WINOGRAD_MIN_CHANNELS (below that its 16 narrow products lose to im2col's one)."""
    KH, KW, C, F = w_shape
    return ((KH, KW) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and min(C, F) >= WINOGRAD_MIN_CHANNELS)


#: the fewest input and output channels for which the numba backend uses Winograd. Measured,
#: conv fwd+bwd N32 32x32 C->C: at 16 channels im2col is 9% faster; at 24 Winograd is 6%
#: faster, at 32 25%, at 64 2x.
WINOGRAD_MIN_CHANNELS = 24


def _direct_fits(w_shape, stride) -> bool:
    """The planar direct kernels serve stride-1 convolutions with few channels (an RGB or grey
    stem, the narrow layers of a small network), where im2col's columns (KH KW C wide) and
    its product (F wide) are too narrow for BLAS to run well."""
    KH, KW, C, F = w_shape
    return (tuple(stride) == (1, 1) and (KH, KW) != (1, 1) and C <= DIRECT_MAX_CHANNELS
            and (F <= 16 or C * F <= DIRECT_MAX_PAIRS))


#: the numba backend convolves directly (:mod:`npvision.kernels.direct`) at stride 1 when
#: C <= DIRECT_MAX_CHANNELS and F <= 16 or C F <= DIRECT_MAX_PAIRS. Measured, fwd+bwd at
#: N32 32x32 k3, direct / im2col: 1->16 0.55, 3->16 0.55, 16->16 0.70-0.74, 1->32 0.68,
#: 3->32 0.86, 4->32 0.90, 2->48 0.89; but 8->32 1.06, 16->32 1.06, 3->64 1.09, 8->64 1.45
#: (im2col's product gets wider with F, the direct loops do not).
DIRECT_MAX_CHANNELS = 16
DIRECT_MAX_PAIRS = 128


@register("conv2d_forward", "numba", fastest=True)
def conv2d_forward_numba(xp, w, stride, dilation, pads=None, bias=None):
    """Direct planar loops for a stride-1 stem, Winograd F(2x2, 3x3) for 3x3 stride-1 kernels,
    else im2col and one GEMM per block."""
    if _direct_fits(w.shape, stride):
        return direct.conv_forward(xp, w, dilation, pads, bias)
    if _winograd_fits(w.shape, stride, dilation):
        t, l, Hp, Wp = padded_grid(xp.shape, pads)
        return winograd.conv3x3_forward(xp, w, t, l, Hp - 2, Wp - 2, bias=bias)
    return _im2col_gemm(xp, w, stride, dilation, _pack_numpy, pads=pads, bias=bias, add=_add_bias_numba)


@register("conv2d_backward_input", "numba", fastest=True)
def conv2d_backward_input_numba(dout, w, xp_shape, stride, dilation, pads=None, bias=None):
    """Winograd on dout for 3x3 stride 1 (the full convolution with the flipped kernel);
    the planar full correlation for a stride-1 stem; otherwise as the numpy kernel, with a
    numba per-tap scatter."""
    if _direct_fits(w.shape, stride):
        return direct.conv_backward_input(dout, w, xp_shape, dilation, pads, bias)
    if _winograd_fits(w.shape, stride, dilation):
        (t, b), (l, r) = pads if pads is not None else ((0, 0), (0, 0))
        H, W = xp_shape[1] - t - b, xp_shape[2] - l - r
        w_flip = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))  # (3, 3, F, C)
        # dx[r, q] = sum doutp[r + kh, q + kw] . w_flip[kh, kw], doutp[R] = dout[R - (2 - t)]
        return winograd.conv3x3_forward(dout, w_flip, 2 - t, 2 - l, H, W, bias=bias)
    return _backward_input(dout, w, xp_shape, stride, dilation, _pack_numpy, _scatter_numba,
                           narrow_scatter=True, pads=pads, bias=bias, add=_add_bias_numba)


@register("conv2d_backward", "numba", fastest=True)
def conv2d_backward_numba(dout, x, w, stride, dilation, pads=None, need_input_grad=True):
    """(dx or None, dw, db): the direct loops in one pass for a stride-1 stem (dout's planes made
    once per image for both gradients), else the two numba ops in turn."""
    if _direct_fits(w.shape, stride):
        return direct.conv_backward(dout, x, w, dilation, pads, need_input_grad)
    return _both_gradients("numba")(dout, x, w, stride, dilation, pads, need_input_grad)


@register("conv2d_forward_and_params", "numba", fastest=True)
def conv2d_forward_and_params_numba(xp, w, dout, stride, dilation, pads=None):
    """(out, dw) from one im2col packing per block, where the forward is im2col's; the two ops
    in turn where Winograd or the direct loops take the shape, and for 1x1 kernels."""
    if w.shape[:2] == (1, 1) or _direct_fits(w.shape, stride) or _winograd_fits(w.shape, stride, dilation):
        return _forward_then_params("numba")(xp, w, dout, stride, dilation, pads)
    return _im2col_gemm(xp, w, stride, dilation, _pack_numpy, pads=pads, dout=dout)


@register("conv2d_backward_params", "numba", fastest=True)
def conv2d_backward_params_numba(dout, xp, w_shape, stride, dilation, pads=None):
    """Direct planar sums for a stride-1 stem, Winograd for 3x3 stride 1, else as the numpy
    kernel: (dw, db)."""
    if _direct_fits(w_shape, stride):
        return direct.conv_backward_params(dout, xp, w_shape, dilation, pads)
    if _winograd_fits(w_shape, stride, dilation):
        t, l, _, _ = padded_grid(xp.shape, pads)
        return winograd.conv3x3_backward_params(dout, xp, t, l)
    return _backward_params(dout, xp, w_shape, stride, dilation, _pack_numpy, pads=pads)
