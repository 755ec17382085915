"""im2col + GEMM: a convolution as matrix products over copies of its windows, block by block.

The math is :mod:`npvision.kernels.reference.conv2d`'s; this file only computes it fast.
Copying every window of ``xp`` into one row of a ``columns`` matrix ``(N Ho Wo, KH KW C)``
(ordered kh, kw, c, like ``w``) turns the convolution into one matrix product::

    out  = columns @ w.reshape(KH KW C, F)                         (N Ho Wo, F)
    dw   = columns^T @ dout.reshape(N Ho Wo, F)                    (KH KW C, F)
    dcolumns = dout @ w.reshape(KH KW C, F)^T                      (N Ho Wo, KH KW C)

and ``dxp`` is ``dcolumns`` added back into the windows they came from. A 1x1 kernel needs
no copy: its pixels are the columns. The input gradient has three faster forms
(:func:`input_grad_full`, :func:`input_grad_tiles`, :func:`input_grad_scatter`); which one
a shape uses is :mod:`npvision.kernels.conv_plan`'s choice.

Blocks. The columns are ``KH KW`` times larger than the input, so the batch is processed in
blocks of output rows (:class:`Block`) whose columns stay under :data:`COLUMNS_BUDGET`
bytes: the memory stays bounded, and a block is packed, multiplied and (for the gradient)
scattered while it is in one core's cache. The blocks are dealt to npvision's threads
(:func:`npvision.kernels.blas.run_on_threads`), each packing into a workspace of its own and
multiplying on one BLAS thread. The zero padding is made one block of images at a time
(:class:`PaddedImages`): no padded copy of the whole batch is ever held.

Movers. The ``numpy`` and ``numba`` backends run the same plan with different data movers
(:class:`Movers`): both copy windows with NumPy's strided copy (2-3x faster than a
compiled loop here), the numba one scatters gradient columns and adds the bias with
compiled loops.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._padding import crop_hw, pad_hw
from ._jit import njit
from .blas import add_up, matmul, run_on_threads, scratch, threads

__all__ = ["forward", "forward_and_weight_grad", "weight_grad", "grads_1x1", "backward_1x1", "input_grad_1x1", "input_grad_full",
           "input_grad_tiles", "input_grad_scatter", "interior", "Movers", "NUMPY", "NUMBA", "COLUMNS_BUDGET"]

#: Upper bound, in bytes, of one block of im2col columns (and of the gradient columns in the
#: strided input gradient). Small blocks bound the memory and stay in cache from packing to
#: product (BLAS measured faster on ~3000-row blocks than on one 32768-row product). Tests
#: lower it to exercise the blocking.
COLUMNS_BUDGET = 4 * 2**20

#: convolutions with fewer multiply-adds run on the calling thread alone (waking a sleeping
#: thread cost about 0.1 ms here; see blas.SMALL_MACS).
PARALLEL_MACS = 4_000_000


class Block(NamedTuple):
    """Output rows ``h0 .. h1-1`` of images ``n0 .. n1-1``: ``a[n0:n1, h0:h1]`` of a C-contiguous
    ``(N, Ho, ...)`` array is contiguous."""

    n0: int
    n1: int
    h0: int
    h1: int


class Taps(NamedTuple):
    """The kernel's size, stride and dilation: tap ``(kh, kw)`` of output ``(i, j)`` reads input
    pixel ``(i sh + kh dh, j sw + kw dw)``."""

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int


# ---------------------------------------------------------------------------
# moving data: windows to columns, gradient columns back to windows, bias
# ---------------------------------------------------------------------------

def pack_windows(xp, first: int, block: Block, Wo: int, taps: Taps, columns) -> None:
    """Copy the windows of ``block`` (images ``xp[first:]`` onwards) into ``columns`` (rows, KH KW C),
    row ``((n - n0) hb + (i - h0)) Wo + j``, by one strided copy."""
    C = xp.shape[3]
    s_n, s_h, s_w, s_c = xp.strides
    nb, hb = block.n1 - block.n0, block.h1 - block.h0
    start = xp[first:first + nb, block.h0 * taps.sh:]                  # (nb, Hp - h0 sh, Wp, C)
    windows = as_strided(start, shape=(nb, hb, Wo, taps.kh, taps.kw, C),
                         strides=(s_n, s_h * taps.sh, s_w * taps.sw, s_h * taps.dh, s_w * taps.dw, s_c),
                         writeable=False)                               # (nb, hb, Wo, KH, KW, C)
    np.copyto(columns.reshape(windows.shape), windows)


def scatter_numpy(dcolumns, dxp, block: Block, Wo: int, taps: Taps) -> None:
    """dxp[n, i sh + kh dh, j sw + kw dw, :] += dcolumns[row of (n, i, j), (kh, kw, :)], one tap at a time."""
    C = dxp.shape[3]
    nb, hb = block.n1 - block.n0, block.h1 - block.h0
    per_tap = dcolumns.reshape(nb, hb, Wo, taps.kh, taps.kw, C)        # (nb, hb, Wo, KH, KW, C)
    for kh in range(taps.kh):
        y0 = block.h0 * taps.sh + kh * taps.dh
        for kw in range(taps.kw):
            x0 = kw * taps.dw
            dxp[block.n0:block.n1, y0:y0 + (hb - 1) * taps.sh + 1:taps.sh,
                x0:x0 + (Wo - 1) * taps.sw + 1:taps.sw, :] += per_tap[:, :, :, kh, kw, :]


@njit(nogil=True)
def scatter_numba(dcolumns, dxp, block, Wo, taps):
    """As :func:`scatter_numpy`, compiled: each gradient column is added into its window."""
    C = dxp.shape[3]
    hb = block.h1 - block.h0
    for n in range(block.n0, block.n1):
        for i in range(block.h0, block.h1):
            for j in range(Wo):
                row = dcolumns[((n - block.n0) * hb + (i - block.h0)) * Wo + j]   # (KH KW C,)
                for kh in range(taps.kh):
                    y = i * taps.sh + kh * taps.dh
                    for kw in range(taps.kw):
                        dx = dxp[n, y, j * taps.sw + kw * taps.dw]                 # (C,)
                        tap = row[(kh * taps.kw + kw) * C:(kh * taps.kw + kw + 1) * C]
                        for c in range(C):
                            dx[c] += tap[c]


def add_bias_numpy(block_out, bias) -> None:
    """block_out (rows, F) += bias (F,), NumPy broadcasting."""
    block_out += bias


@njit(nogil=True)
def add_bias_numba(block_out, bias):
    """block_out (rows, F) += bias (F,): a compiled loop, 2.5x faster than NumPy's broadcast add on
    a block in cache (NumPy pays per row of F numbers)."""
    for i in range(block_out.shape[0]):
        row = block_out[i]
        for f in range(block_out.shape[1]):
            row[f] += bias[f]


class Movers(NamedTuple):
    """How a backend moves data: ``scatter(dcolumns, dxp, block, Wo, taps)`` and
    ``add_bias(block_out, bias)`` (windows are always packed by :func:`pack_windows`)."""

    scatter: Callable
    add_bias: Callable


NUMPY = Movers(scatter_numpy, add_bias_numpy)
NUMBA = Movers(scatter_numba, add_bias_numba)


# ---------------------------------------------------------------------------
# blocks and padded images
# ---------------------------------------------------------------------------

def blocks(N: int, Ho: int, row_bytes: int, macs: int, whole_images: bool = False) -> list[Block]:
    """The output grid (N, Ho) cut into blocks whose columns fit COLUMNS_BUDGET.

    ``row_bytes`` is the size of the columns of one output row and ``macs`` the multiply-adds
    of the whole product: from :data:`PARALLEL_MACS` on, at least two blocks per thread are
    made where the grid allows (images are cut into bands of rows if there are too few of
    them). Whole images are grouped when one image fits (blocks of nearly equal size), or
    when ``whole_images``.
    """
    if N == 0 or Ho == 0:
        return []                                                # an empty batch: nothing to do
    min_blocks = 2 * threads() if macs >= PARALLEL_MACS else 1
    image_bytes = max(1, Ho * row_bytes)
    if (image_bytes <= COLUMNS_BUDGET and N >= min_blocks) or whole_images:
        per_block = max(1, COLUMNS_BUDGET // image_bytes)
        n_blocks = max(-(-N // per_block), min(N, min_blocks))
        per_block = -(-N // n_blocks)
        return [Block(n0, min(N, n0 + per_block), 0, Ho) for n0 in range(0, N, per_block)]
    band = max(1, COLUMNS_BUDGET // max(1, row_bytes))
    band = max(1, min(band, -(-Ho // -(-min_blocks // N))))        # enough bands for min_blocks
    return [Block(n, n + 1, h0, min(Ho, h0 + band)) for n in range(N) for h0 in range(0, Ho, band)]


def _as_matrix(a: np.ndarray, cols: int) -> np.ndarray:
    """A contiguous block seen as a matrix (rows, cols), without copying."""
    assert a.flags.c_contiguous, "a block must be contiguous to be viewed as a matrix"
    return a.reshape(-1, cols)


class PaddedImages:
    """The zero-padded input ``xp``, handed out a block of images at a time.

    ``x`` is the unpadded input; each block of images is padded only when it is packed, so
    no padded copy of the whole batch is ever held (it would be the largest temporary of a
    forward or weight-gradient pass). Without padding ``x`` is used as it is.
    """

    def __init__(self, x: np.ndarray, pads):
        self.x = x
        self.pads = None if pads == ((0, 0), (0, 0)) else pads
        (t, b), (l, r) = pads
        self.shape = (x.shape[0], x.shape[1] + t + b, x.shape[2] + l + r, x.shape[3])
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
        """The whole padded input (only a padded 1x1 convolution asks for it)."""
        return self.images(0, self.shape[0])[0]


def _most_rows(share, Wo: int) -> int:
    """The most column rows any block of ``share`` needs (its workspace size, in rows)."""
    return max(((b.n1 - b.n0) * (b.h1 - b.h0) * Wo for b in share), default=0)


def _packed(source: PaddedImages, share, Wo: int, taps: Taps):
    """For each block of ``share``: ``(block, columns)``, the block's im2col columns (rows, KH KW C)
    packed into this thread's workspace (valid until the next block)."""
    K = taps.kh * taps.kw * source.shape[3]
    workspace = scratch("im2col", _most_rows(share, Wo) * K, source.x.dtype)
    for block in share:
        rows = (block.n1 - block.n0) * (block.h1 - block.h0) * Wo
        columns = workspace[:rows * K].reshape(rows, K)           # (rows, KH KW C)
        src, first = source.images(block.n0, block.n1)
        pack_windows(src, first, block, Wo, taps, columns)
        yield block, columns


# ---------------------------------------------------------------------------
# forward, weight gradient, and the two together
# ---------------------------------------------------------------------------

def forward(x, w, b, win, movers: Movers = NUMBA, out=None):
    """out (N, Ho, Wo, F) = columns(xp) @ w.reshape(KH KW C, F) (+ b), block by block.

    ``out``, if given, is a C-contiguous (N, Ho, Wo, F) array to write into. The bias is added
    to each block right after its product, while the block is in cache.
    """
    N = x.shape[0]
    KH, KW, C, F = w.shape
    Ho, Wo = win.out_hw(x.shape[1:3], (KH, KW))
    if out is None:
        out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    if KH == KW == 1:                                            # 1x1: the pixels are the columns
        pixels, out2 = _pixels_1x1(x, win, Ho, Wo), out.reshape(-1, F)   # (N Ho Wo, C), (N Ho Wo, F)
        M = pixels.shape[0]
        parts = 2 * threads() if M * C * F >= PARALLEL_MACS else 1
        rows = max(1, min(-(-M // parts), COLUMNS_BUDGET // 8 // (F * pixels.itemsize)))
        bands = [slice(r, min(M, r + rows)) for r in range(0, M, rows)]   # output blocks of <= 512 KiB

        def product(share):
            for band in share:
                block_out = np.matmul(pixels[band], w.reshape(C, F), out=out2[band])
                if b is not None:
                    movers.add_bias(block_out, b)                # while the block is in cache

        run_on_threads(product, bands)
        return out
    taps = Taps(KH, KW, *win.stride, *win.dilation)
    K = KH * KW * C
    wmat = w.reshape(K, F)                                       # (KH KW C, F)
    source = PaddedImages(x, win.pads)

    def work(share):
        for block, columns in _packed(source, share, Wo, taps):
            block_out = np.matmul(columns, wmat, out=_as_matrix(out[block.n0:block.n1, block.h0:block.h1], F))
            if b is not None:
                movers.add_bias(block_out, b)

    run_on_threads(work, blocks(N, Ho, Wo * K * x.itemsize, N * Ho * Wo * K * F))
    return out


def weight_grad(dout, x, w_shape, win):
    """(dw (KH, KW, C, F), db (F,)): dw = the sum over blocks of columns^T @ dout, and db the sum of
    dout's rows, each block's taken while it is in cache. Each thread sums its share of the
    blocks; the partial sums are added at the end."""
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w_shape
    if KH == KW == 1:
        return grads_1x1(dout, x, w_shape, win)[1:]
    taps = Taps(KH, KW, *win.stride, *win.dilation)
    K = KH * KW * C
    source = PaddedImages(x, win.pads)

    def work(share):
        ones = np.ones((1, _most_rows(share, Wo)), dtype=dout.dtype)
        dwmat, part = np.empty((K, F), dtype=dout.dtype), np.empty((K, F), dtype=dout.dtype)
        db = np.zeros((1, F), dtype=dout.dtype)
        for i, (block, columns) in enumerate(_packed(source, share, Wo, taps)):
            g = _as_matrix(dout[block.n0:block.n1, block.h0:block.h1], F)   # (rows, F)
            if i == 0:                                              # the first block's written,
                np.matmul(columns.T, g, out=dwmat)                  # (KH KW C, F)
            else:                                                   # the others added to it
                dwmat += np.matmul(columns.T, g, out=part)
            db += np.matmul(ones[:, :len(columns)], g)              # (1, F)
        if not share:                                               # an empty batch: no blocks
            dwmat[...] = 0
        return dwmat, db

    return _add_parts(run_on_threads(work, blocks(N, Ho, Wo * K * x.itemsize, N * Ho * Wo * K * F)), w_shape)


def _pixels_1x1(x, win, Ho: int, Wo: int) -> np.ndarray:
    """(N Ho Wo, C): the input pixels a 1x1 kernel reads (``x`` itself at stride 1 without padding)."""
    sh, sw = win.stride
    xp = PaddedImages(x, win.pads).whole()
    pixels = np.ascontiguousarray(xp[:, :(Ho - 1) * sh + 1:sh, :(Wo - 1) * sw + 1:sw, :])  # (N, Ho, Wo, C)
    return pixels.reshape(-1, x.shape[3])


def grads_1x1(dout, x, w_shape, win, w=None):
    """1x1 kernels, in one pass over ``dout``: ``(d, dw, db)``.

    d (N, Ho, Wo, C) = dout @ w^T is the gradient at the pixels the kernel read (None when ``w``
    is None), dw (1, 1, C, F) = pixels^T @ dout and db (F,) the sum of dout's rows. ``dout`` is
    taken a chunk of rows at a time and its three products made while the chunk is in cache, so
    dout is read from memory once, not once per gradient. Each thread sums dw over its chunks;
    the partial sums are added at the end.
    """
    N, Ho, Wo, F = dout.shape
    C = w_shape[2]
    pixels, dout2 = _pixels_1x1(x, win, Ho, Wo), dout.reshape(-1, F)   # (N Ho Wo, C), (N Ho Wo, F)
    M = pixels.shape[0]
    d = None if w is None else np.empty((N, Ho, Wo, C), dtype=dout.dtype)
    d2, wT = (None, None) if w is None else (d.reshape(-1, C), w.reshape(C, F).T)   # (N Ho Wo, C), (F, C)
    rows = max(1, COLUMNS_BUDGET // 8 // (F * pixels.itemsize))       # a chunk of dout: <= 512 KiB
    chunks = [slice(r, min(M, r + rows)) for r in range(0, M, rows)]

    def sums(share):
        if not share:                                        # an empty batch
            return np.zeros((C, F), dtype=dout.dtype), np.zeros((1, F), dtype=dout.dtype)
        ones = np.ones((1, min(rows, M)), dtype=dout.dtype)
        first, rest = share[0], share[1:]
        if d2 is not None:
            np.matmul(dout2[first], wT, out=d2[first])
        dwmat = np.matmul(pixels[first].T, dout2[first])     # (C, F): the first chunk's, written
        db = np.matmul(ones[:, :first.stop - first.start], dout2[first])   # (1, F)
        part = np.empty_like(dwmat) if rest else None
        for r in rest:                                       # the others added to it
            if d2 is not None:
                np.matmul(dout2[r], wT, out=d2[r])
            dwmat += np.matmul(pixels[r].T, dout2[r], out=part)
            db += np.matmul(ones[:, :r.stop - r.start], dout2[r])
        return dwmat, db

    macs = M * C * F * (1 if w is None else 2)
    parts = run_on_threads(sums, chunks, split=macs >= PARALLEL_MACS)
    return (d, *_add_parts(parts, w_shape))


def backward_1x1(dout, x, w, win, need_input_grad=True):
    """``(dx or None, dw, db)`` of a 1x1 kernel from one pass over ``dout`` (:func:`grads_1x1`),
    ``dx`` placed on the strided grid of the padded input like :func:`input_grad_1x1`'s."""
    d, dw, db = grads_1x1(dout, x, w.shape, win, w if need_input_grad else None)
    return (None if d is None else _placed_1x1(d, x.shape, win)), dw, db


def _add_parts(parts, w_shape):
    """(dw, db) from the threads' partial sums ``[(dw part, db part (1, F)), ...]``."""
    return add_up([p[0] for p in parts]).reshape(w_shape), add_up([p[1] for p in parts]).reshape(w_shape[3])


def forward_and_weight_grad(x, w, dout, win):
    """(out, dw): the forward of ``x`` and the weight gradient for ``dout``, from one packing of
    the columns per block (a transpose convolution's two gradients multiply the same columns).
    1x1 kernels run the two in turn."""
    if w.shape[:2] == (1, 1):
        return forward(x, w, None, win), weight_grad(dout, x, w.shape, win)[0]
    N = x.shape[0]
    KH, KW, C, F = w.shape
    Ho, Wo = win.out_hw(x.shape[1:3], (KH, KW))
    taps = Taps(KH, KW, *win.stride, *win.dilation)
    K = KH * KW * C
    wmat = w.reshape(K, F)                                       # (KH KW C, F)
    out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    source = PaddedImages(x, win.pads)

    def work(share):
        dwmat, part = np.zeros((K, F), dtype=x.dtype), np.empty((K, F), dtype=x.dtype)
        for block, columns in _packed(source, share, Wo, taps):
            np.matmul(columns, wmat, out=_as_matrix(out[block.n0:block.n1, block.h0:block.h1], F))
            dwmat += np.matmul(columns.T, _as_matrix(dout[block.n0:block.n1, block.h0:block.h1], F), out=part)
        return dwmat

    parts = run_on_threads(work, blocks(N, Ho, Wo * K * x.itemsize, 2 * N * Ho * Wo * K * F))
    return out, add_up(parts).reshape(w.shape)


# ---------------------------------------------------------------------------
# the input gradient: four ways to add each output's gradient back into its window
# ---------------------------------------------------------------------------
# Each returns the interior dx (N, H, W, C) of the padded gradient (x_shape is the
# unpadded input's shape) and adds ``b`` (C,) to every pixel when it is given: a transpose
# convolution's forward pass is this computation, and adds its bias while a block is in cache.

def interior(dxp: np.ndarray, pads, b=None, movers: Movers = NUMBA) -> np.ndarray:
    """The C-contiguous interior ``dx`` of a padded gradient, plus ``b`` if given."""
    dx = dxp if pads == ((0, 0), (0, 0)) else np.ascontiguousarray(crop_hw(dxp, pads))
    if b is not None:
        movers.add_bias(dx.reshape(-1, dx.shape[3]), b)
    return dx


def input_grad_1x1(dout, w, x_shape, win, b=None, movers: Movers = NUMBA):
    """1x1 kernels: one product ``dout @ w^T``, placed on the strided grid of the padded input."""
    N, Ho, Wo, F = dout.shape
    C = w.shape[2]
    d = matmul(dout.reshape(-1, F), w.reshape(C, F).T).reshape(N, Ho, Wo, C)     # (N, Ho, Wo, C)
    return _placed_1x1(d, x_shape, win, b, movers)


def _placed_1x1(d, x_shape, win, b=None, movers: Movers = NUMBA) -> np.ndarray:
    """dx (N, H, W, C): a 1x1 kernel's gradient ``d`` (N, Ho, Wo, C) at the pixels it read, put on
    the strided grid of the padded input (zeros between), cropped, plus ``b`` if given."""
    N, Ho, Wo, C = d.shape
    sh, sw = win.stride
    Hp, Wp = win.padded_hw(x_shape[1:3])
    if (sh, sw) == (1, 1) and (Hp, Wp) == (Ho, Wo):
        return interior(d, win.pads, b, movers)
    dxp = np.zeros((N, Hp, Wp, C), dtype=d.dtype)
    dxp[:, :(Ho - 1) * sh + 1:sh, :(Wo - 1) * sw + 1:sw, :] = d
    return interior(dxp, win.pads, b, movers)


def input_grad_full(dout, w, x_shape, win, b=None, movers: Movers = NUMBA):
    """Stride 1: a "full" convolution of ``dout`` with the kernel flipped in space and its channel
    axes swapped::

        dxp[r, q] = sum_{kh, kw} doutp[r + kh dh, q + kw dw] . w_flip[kh, kw]

    with ``doutp`` ``dout`` framed by ``dh (KH - 1)`` zero rows (``dw (KW - 1)`` columns). Only the
    interior rows are wanted, so ``doutp`` starts at the padding's top row and left column: the
    products write ``dx`` directly. ``doutp`` is made a block of images at a time."""
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w.shape
    dh, dw = win.dilation
    ph, pw = dh * (KH - 1), dw * (KW - 1)
    (t, _), (l, _) = win.pads
    H, W = x_shape[1:3]
    w_flip = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))   # (KH, KW, F, C)
    dx = np.empty((N, H, W, C), dtype=dout.dtype)
    # dout row i lands on doutp row i + ph - t; keep the part inside 0 .. H + ph - 1
    off_h, off_w = ph - t, pw - l
    i0, i1 = max(0, -off_h), min(Ho, H + ph - off_h)
    j0, j1 = max(0, -off_w), min(Wo, W + pw - off_w)
    full = win._replace(stride=(1, 1), pads=((0, 0), (0, 0)))

    def work(share):                                             # whole images; forward runs serially here
        for block in share:
            doutp = np.zeros((block.n1 - block.n0, H + ph, W + pw, F), dtype=dout.dtype)  # (nb, H + ph, W + pw, F)
            if i0 < i1 and j0 < j1:
                doutp[:, i0 + off_h:i1 + off_h, j0 + off_w:j1 + off_w, :] = dout[block.n0:block.n1, i0:i1, j0:j1]
            forward(doutp, w_flip, b, full, movers, out=dx[block.n0:block.n1])

    image_blocks = blocks(N, 1, H * W * KH * KW * F * dout.itemsize, N * H * W * KH * KW * F * C,
                          whole_images=True)
    if len(image_blocks) >= threads():
        run_on_threads(work, image_blocks)
    else:                                                        # too few images: split each one's bands instead
        work(image_blocks)
    return dx


def input_grad_tiles(dout, w, x_shape, win, b=None, movers: Movers = NUMBA):
    """Kernel = stride, no dilation (a transpose convolution's favourite): the windows tile the input
    without overlap, so output pixel (i, j)'s taps are the KH x KW patch of dxp at (i KH, j KW):
    one product ``dout @ w^T`` per block of rows, put in place by a reshape while in cache."""
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w.shape
    Hp, Wp = win.padded_hw(x_shape[1:3])
    K = KH * KW * C
    wmat_t = w.reshape(K, F).T                                   # (F, KH KW C)
    exact = (Ho * KH, Wo * KW) == (Hp, Wp)
    dxp = (np.empty if exact else np.zeros)((N, Hp, Wp, C), dtype=dout.dtype)
    patches = dxp[:, :Ho * KH, :Wo * KW, :].reshape(N, Ho, KH, Wo, KW, C)   # a view of dxp

    def place(share):
        for block in share:
            taps = np.matmul(_as_matrix(dout[block.n0:block.n1, block.h0:block.h1], F), wmat_t)  # (rows, KH KW C)
            taps = taps.reshape(block.n1 - block.n0, block.h1 - block.h0, Wo, KH, KW, C)
            dest = patches[block.n0:block.n1, block.h0:block.h1]                        # (nb, hb, KH, Wo, KW, C)
            dest[...] = taps.transpose(0, 1, 3, 2, 4, 5)
            if b is not None and exact:
                movers.add_bias(_as_matrix(dest, C), b)                                 # in cache

    run_on_threads(place, blocks(N, Ho, Wo * K * dout.itemsize, N * Ho * Wo * F * K))
    return interior(dxp, win.pads, None if exact else b, movers)


def input_grad_scatter(dout, w, x_shape, win, b=None, movers: Movers = NUMBA):
    """Any stride: every block's gradient columns ``dcolumns = dout @ w^T`` (rows, KH KW C), then each
    added into the window it came from (``movers.scatter``) while the block is in cache."""
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w.shape
    Hp, Wp = win.padded_hw(x_shape[1:3])
    taps = Taps(KH, KW, *win.stride, *win.dilation)
    K = KH * KW * C
    wmat_t = w.reshape(K, F).T                                   # (F, KH KW C)
    dxp = np.zeros((N, Hp, Wp, C), dtype=dout.dtype)
    # The windows of one image overlap, so all the blocks of an image go to the same thread
    # (images never share a pixel).
    images = {}
    for block in blocks(N, Ho, Wo * K * dout.itemsize, N * Ho * Wo * F * K):
        images.setdefault(block[:2], []).append(block)

    most_rows = max(((bl.n1 - bl.n0) * (bl.h1 - bl.h0) * Wo for bs in images.values() for bl in bs), default=0)

    def work(share):
        workspace = scratch("scatter", most_rows * K, dout.dtype)
        for image_blocks in share:
            for block in image_blocks:
                rows = (block.n1 - block.n0) * (block.h1 - block.h0) * Wo
                dcolumns = workspace[:rows * K].reshape(rows, K)    # (rows, KH KW C)
                dout_rows = dout[block.n0:block.n1, block.h0:block.h1].reshape(rows, F)   # contiguous: a view
                np.matmul(dout_rows, wmat_t, out=dcolumns)
                movers.scatter(dcolumns, dxp, block, Wo, taps)

    run_on_threads(work, list(images.values()))
    return interior(dxp, win.pads, b, movers)
