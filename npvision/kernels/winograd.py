"""Winograd's minimal filtering F(2x2, 3x3): a 3x3 convolution with 2.25x fewer multiplies.

A 3x3 convolution at stride 1 computes each 2x2 block of outputs from a 4x4
tile of input; done directly, that is 4 x 9 = 36 multiplies per channel pair.
Winograd's algorithm (Lavin and Gray, "Fast Algorithms for Convolutional
Neural Networks", 2016) does it with 16, by moving tile and filter into a
transformed space where the convolution becomes an elementwise product::

    Y = A^T [ (G g G^T)  .*  (B^T d B) ] A          d: 4x4 input tile, g: 3x3 filter, Y: 2x2 output

    B^T = [1  0 -1  0]      G = [ 1    0    0 ]     A^T = [1  1  1  0]
          [0  1  1  0]          [1/2  1/2  1/2]           [0  1 -1 -1]
          [0 -1  1  0]          [1/2 -1/2  1/2]
          [0  1  0 -1]          [ 0    0    1 ]

The identity is exact (only additions and halvings; float32 results agree with
the direct sum to about 1e-6 relative). Summed over input channels, each of
the 16 positions ``k = (a, b)`` of the transformed tile is a matrix product::

    V[k] (T, C)  = (B^T d B)[a, b] for every tile t and channel c     (input transform)
    U[k] (C, F)  = (G g G^T)[a, b] for every filter                   (weight transform)
    M[k] (T, F)  = V[k] @ U[k]                                        16 BLAS products, K = C
    Y            = A^T M A, tile by tile                              (output transform)

so the multiplies go to BLAS (16 products of the same inner size C as im2col's
one, with 16/36 of its work), and the transforms are short numba loops.

The weight gradient is the same identity run backwards. ``Y`` is linear in
``U``, so with ``dM = A dY A^T`` (a 2x2 output gradient spread onto 4x4)::

    dU[k] (C, F) = sum over tiles V[k]^T @ dM[k]       dg = G^T dU G

In the code, ``V`` is ``tiles``, ``U`` ``weight_tiles``, ``M`` ``products``, ``dM`` ``dtiles`` and
``dU`` ``dweight_tiles``; ``rows`` holds the row transforms of one tile row (``B^T d``, ``A dY``).

and the input gradient is a 3x3 stride-1 convolution too (``dout`` padded by
2 - pad, with the kernel flipped in space and its channel axes swapped), so
it reuses the forward.

Geometry shared by every function here: the source array ``x (N, H, W, C)``
is read as if padded, ``xpad[p, q] = x[p - top, q - left]`` and zero outside
``x``; ``top`` and ``left`` may be negative (then rows or columns of ``x`` are
skipped). Output pixel ``(i, j)`` is ``sum xpad[i + kh, j + kw] . w[kh, kw]``
for ``i < Ho, j < Wo``. The outputs are cut into ``TH x TW`` tiles of 2x2,
``TH = ceil(Ho / 2)``; tile ``(ty, tx)`` reads ``xpad`` rows ``2ty .. 2ty+3``
and columns ``2tx .. 2tx+3``. Tile rows of all images are numbered
``g = n TH + ty`` and processed in blocks of whole tile rows, each block on one
thread with its own scratch (see :func:`npvision.kernels.blas.run_on_threads`).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from .blas import add_up, one_blas_thread, run_on_threads, scratch

__all__ = ["conv_forward", "input_grad", "weight_grad", "conv3x3_forward", "conv3x3_backward_params",
           "weight_transform"]

#: tiles per block: V and M of a 64-channel block (2 x 16 x 128 x 64 float32) take 1 MiB, in L2.
TILES_PER_BLOCK = 128

_G = np.array([[1.0, 0.0, 0.0],
               [0.5, 0.5, 0.5],
               [0.5, -0.5, 0.5],
               [0.0, 0.0, 1.0]])                                 # (4, 3)


def weight_transform(w: np.ndarray) -> np.ndarray:
    """U (16, C, F) = G g G^T for every (c, f): w (3, 3, C, F) -> 16 matrices, k = 4 a + b."""
    C, F = w.shape[2:]
    G = _G.astype(w.dtype)
    with one_blas_thread():
        Gg = np.matmul(G, w.reshape(3, 3, C * F).transpose(1, 0, 2))  # (3 kw, 4 a, C F): G g, column by column
        weight_tiles = np.matmul(G, Gg.transpose(1, 0, 2))            # (4 a, 4 b, C F): (G g) G^T
    return weight_tiles.reshape(16, C, F)


def _weight_gradient(dU: np.ndarray) -> np.ndarray:
    """dg (3, 3, C, F) = G^T dU G for every (c, f), from dU (16, C, F)."""
    C, F = dU.shape[1:]
    Gt = _G.T.astype(dU.dtype)                                       # (3, 4)
    d = dU.reshape(4, 4, C * F)
    with one_blas_thread():
        Gd = np.matmul(Gt, d.transpose(1, 0, 2))                      # (4 b, 3 kh, C F): G^T dU, column by column
        dg = np.matmul(Gt, Gd.transpose(1, 0, 2))                     # (3 kh, 3 kw, C F): (G^T dU) G
    return dg.reshape(3, 3, C, F)


# ---------------------------------------------------------------------------
# the three transforms, one block of tile rows at a time
# ---------------------------------------------------------------------------

@njit(nogil=True)
def _input_tiles(xr, C, g0, g1, TH, TW, top, left, zero, rows, tiles):
    """tiles[k, t, c] = (B^T d B)[k] for the tiles t of tile rows g0 .. g1-1.

    xr: x seen as (N, H, W C); zero: W C zeros (a row of padding). rows: scratch
    (4, (2 TW + 2) C) over the padded columns. For each tile row, rows gets the
    row combinations B^T d of its four input rows, whole rows at once (padding
    columns stay zero); then each tile's four columns are combined (. B).
    """
    H = xr.shape[1]
    W = xr.shape[2] // C
    lo = min(max(0, left), 2 * TW + 2) * C                       # padded columns lo//C .. hi//C-1 hold x
    hi = max(min(2 * TW + 2, left + W), 0) * C
    hi = max(hi, lo)
    rows[:, :lo] = 0
    rows[:, hi:] = 0
    z0, z1, z2, z3 = rows[0], rows[1], rows[2], rows[3]
    s = lo - left * C                                            # x's column (times C) at padded column lo
    for g in range(g0, g1):
        n, ty = g // TH, g % TH
        y = 2 * ty - top
        r0 = xr[n, y] if 0 <= y < H else zero
        r1 = xr[n, y + 1] if 0 <= y + 1 < H else zero
        r2 = xr[n, y + 2] if 0 <= y + 2 < H else zero
        r3 = xr[n, y + 3] if 0 <= y + 3 < H else zero
        for i in range(lo, hi):                                  # B^T d: rows
            j = i + s - lo
            z0[i] = r0[j] - r2[j]
            z1[i] = r1[j] + r2[j]
            z2[i] = r2[j] - r1[j]
            z3[i] = r1[j] - r3[j]
        t0 = (g - g0) * TW
        for tx in range(TW):                                     # (B^T d) B: columns
            o = 2 * tx * C
            t = t0 + tx
            for a in range(4):
                z = rows[a]
                v0, v1, v2, v3 = tiles[4 * a, t], tiles[4 * a + 1, t], tiles[4 * a + 2, t], tiles[4 * a + 3, t]
                for c in range(C):
                    d0, d1, d2, d3 = z[o + c], z[o + C + c], z[o + 2 * C + c], z[o + 3 * C + c]
                    v0[c] = d0 - d2
                    v1[c] = d1 + d2
                    v2[c] = d2 - d1
                    v3[c] = d1 - d3


@njit(nogil=True)
def _output_tiles(products, bias, g0, g1, TH, TW, spare, out):
    """out[n, 2ty .. 2ty+1, 2tx .. 2tx+1] = A^T products A + bias for the tiles of tile rows g0 .. g1-1 (cut at Ho, Wo).

    A tile at the bottom or right edge may stick out of ``out`` by a row or a column: those
    outputs go to ``spare`` (3, F) and are thrown away, so that the loop over the filters
    stores all four outputs without a condition (a conditional store vectorizes only with
    AVX-512's masked stores)."""
    Ho, Wo, F = out.shape[1], out.shape[2], out.shape[3]
    for g in range(g0, g1):
        n, ty = g // TH, g % TH
        y = 2 * ty
        for tx in range(TW):
            t = (g - g0) * TW + tx
            x = 2 * tx
            o00 = out[n, y, x]                                   # (F,) each
            o01 = out[n, y, x + 1] if x + 1 < Wo else spare[0]
            o10 = out[n, y + 1, x] if y + 1 < Ho else spare[1]
            o11 = out[n, y + 1, x + 1] if x + 1 < Wo and y + 1 < Ho else spare[2]
            for f in range(F):
                # A^T products: row 0 = M0 + M1 + M2, row 1 = M1 - M2 - M3 (Mi: row i of the 4x4 tile)
                p0 = products[0, t, f] + products[4, t, f] + products[8, t, f]
                p1 = products[1, t, f] + products[5, t, f] + products[9, t, f]
                p2 = products[2, t, f] + products[6, t, f] + products[10, t, f]
                p3 = products[3, t, f] + products[7, t, f] + products[11, t, f]
                q0 = products[4, t, f] - products[8, t, f] - products[12, t, f]
                q1 = products[5, t, f] - products[9, t, f] - products[13, t, f]
                q2 = products[6, t, f] - products[10, t, f] - products[14, t, f]
                q3 = products[7, t, f] - products[11, t, f] - products[15, t, f]
                b = bias[f]
                o00[f] = p0 + p1 + p2 + b                       # (.) A: the same on columns
                o01[f] = p1 - p2 - p3 + b
                o10[f] = q0 + q1 + q2 + b
                o11[f] = q1 - q2 - q3 + b


@njit(nogil=True)
def _gradient_tiles(dr, F, g0, g1, TH, TW, zero, rows, dtiles, sums):
    """dtiles[k, t, f] = (A dY A^T)[k]: each tile's 2x2 output gradient dY spread onto 4x4.

    dr: dout seen as (N, Ho, Wo F); zero: Wo F zeros. rows: scratch (4, 2 TW F).
    As in :func:`_input_tiles`, rows first: A dY has the rows
    (dY0, dY0 + dY1, dY0 - dY1, -dY1), made for a whole tile row at once (a
    missing last row or column is zero); then each row pair (u0, u1) of a tile
    becomes (u0, u0 + u1, u0 - u1, -u1), which is (.) A^T. ``sums`` (Wo F)
    accumulates the rows of dout on the way (the bias gradient, once summed over Wo).
    """
    Ho = dr.shape[1]
    L = dr.shape[2]                                              # Wo F; rows's last F columns stay zero if Wo is odd
    rows[:, L:] = 0
    z0, z1, z2, z3 = rows[0], rows[1], rows[2], rows[3]
    for g in range(g0, g1):
        n, ty = g // TH, g % TH
        y = 2 * ty
        d0 = dr[n, y]
        d1 = dr[n, y + 1] if y + 1 < Ho else zero
        for i in range(L):                                       # A dY: rows
            z0[i] = d0[i]
            z1[i] = d0[i] + d1[i]
            z2[i] = d0[i] - d1[i]
            z3[i] = -d1[i]
            sums[i] += d0[i] + d1[i]
        t0 = (g - g0) * TW
        for tx in range(TW):                                     # (A dY) A^T: columns
            o = 2 * tx * F
            t = t0 + tx
            for a in range(4):
                z = rows[a]
                v0, v1, v2, v3 = dtiles[4 * a, t], dtiles[4 * a + 1, t], dtiles[4 * a + 2, t], dtiles[4 * a + 3, t]
                for f in range(F):
                    u0, u1 = z[o + f], z[o + F + f]
                    v0[f] = u0
                    v1[f] = u0 + u1
                    v2[f] = u0 - u1
                    v3[f] = -u1


# ---------------------------------------------------------------------------
# the drivers
# ---------------------------------------------------------------------------

def _tile_blocks(N: int, TH: int, TW: int) -> list:
    """Blocks ``(g0, g1)`` of whole tile rows, about TILES_PER_BLOCK tiles each."""
    per = max(1, TILES_PER_BLOCK // TW)
    return [(g0, min(N * TH, g0 + per)) for g0 in range(0, N * TH, per)]


def _workspace(dtype, *shapes):
    """This thread's reusable arrays of the given shapes (see :func:`npvision.kernels.blas.scratch`)."""
    return [scratch(f"winograd{i}", int(np.prod(shape)), dtype).reshape(shape) for i, shape in enumerate(shapes)]


def conv3x3_forward(x, w, top, left, Ho, Wo, out=None, bias=None):
    """out (N, Ho, Wo, F) = 3x3 stride-1 convolution of ``x (N, H, W, C)`` read with
    padding ``top, left`` (see the module docstring), by F(2x2, 3x3), plus ``bias`` (F,) if given.

    ``w`` (3, 3, C, F). ``out``, if given, is a C-contiguous array to write into.
    """
    N, H, W, C = x.shape
    F = w.shape[3]
    TH, TW = -(-Ho // 2), -(-Wo // 2)
    weight_tiles = weight_transform(w)                                      # (16, C, F)
    if out is None:
        out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    bias = np.zeros(F, dtype=x.dtype) if bias is None else np.asarray(bias, dtype=x.dtype)
    xr = np.ascontiguousarray(x).reshape(N, H, W * C)
    blocks = _tile_blocks(N, TH, TW)
    T = max((g1 - g0 for g0, g1 in blocks), default=0) * TW

    def work(share):
        zero = np.zeros(W * C, dtype=x.dtype)
        spare = np.empty((3, F), dtype=x.dtype)                  # outputs of edge tiles past Ho or Wo
        rows, tiles, products = _workspace(x.dtype, (4, (2 * TW + 2) * C), (16, T, C), (16, T, F))
        for g0, g1 in share:
            t = (g1 - g0) * TW
            _input_tiles(xr, C, g0, g1, TH, TW, top, left, zero, rows, tiles)
            np.matmul(tiles[:, :t], weight_tiles, out=products[:, :t])                 # 16 products (t, C) @ (C, F)
            _output_tiles(products, bias, g0, g1, TH, TW, spare, out)

    run_on_threads(work, blocks)
    return out


def conv3x3_backward_params(dout, x, top, left):
    """(dw (3, 3, C, F), db (F,)) of :func:`conv3x3_forward`: ``dweight_tiles[k] = sum_t tiles[k]^T dtiles[k]``,
    then ``dw = G^T dweight_tiles G``; ``db`` sums dout's rows as the gradient tiles read them."""
    N, H, W, C = x.shape
    _, Ho, Wo, F = dout.shape
    TH, TW = -(-Ho // 2), -(-Wo // 2)
    xr = np.ascontiguousarray(x).reshape(N, H, W * C)
    dr = np.ascontiguousarray(dout).reshape(N, Ho, Wo * F)
    blocks = _tile_blocks(N, TH, TW)
    T = max((g1 - g0 for g0, g1 in blocks), default=0) * TW

    def work(share):
        zero, zero_g = np.zeros(W * C, dtype=x.dtype), np.zeros(Wo * F, dtype=x.dtype)
        rows, tiles, dtiles, grad_rows = _workspace(x.dtype, (4, (2 * TW + 2) * C), (16, T, C), (16, T, F),
                                                    (4, 2 * TW * F))
        dweight_tiles, part = np.empty((16, C, F), dtype=x.dtype), np.empty((16, C, F), dtype=x.dtype)
        sums = np.zeros(Wo * F, dtype=x.dtype)                   # dout summed over rows, per (column, f)
        for i, (g0, g1) in enumerate(share):
            t = (g1 - g0) * TW
            _input_tiles(xr, C, g0, g1, TH, TW, top, left, zero, rows, tiles)
            _gradient_tiles(dr, F, g0, g1, TH, TW, zero_g, grad_rows, dtiles, sums)
            # 16 products (C, t) @ (t, F): the first block's written, the others added to it
            if i == 0:
                np.matmul(tiles[:, :t].transpose(0, 2, 1), dtiles[:, :t], out=dweight_tiles)
            else:
                dweight_tiles += np.matmul(tiles[:, :t].transpose(0, 2, 1), dtiles[:, :t], out=part)
        if not share:                                            # an empty batch: no blocks
            dweight_tiles[...] = 0
        return dweight_tiles, sums

    parts = run_on_threads(work, blocks)
    db = add_up([p[1] for p in parts]).reshape(Wo, F).sum(axis=0)   # (F,)
    return _weight_gradient(add_up([p[0] for p in parts])), db


# ---------------------------------------------------------------------------
# the three passes of a 3x3 stride-1 convolution, with the arguments every conv algorithm takes
# ---------------------------------------------------------------------------

def conv_forward(x, w, b, win):
    """out (N, Ho, Wo, F): the 3x3 stride-1 convolution of ``x`` padded as ``win`` says, plus ``b``."""
    Ho, Wo = win.out_hw(x.shape[1:3], (3, 3))
    return conv3x3_forward(x, w, win.pads[0][0], win.pads[1][0], Ho, Wo, bias=b)


def input_grad(dout, w, x_shape, win, b=None):
    """dx (N, H, W, C) (plus ``b`` if given): the forward run on ``dout`` with the kernel flipped in
    space and its channel axes swapped; ``dx[r, q] = sum doutp[r + kh, q + kw] . w_flip[kh, kw]``
    with ``doutp[R] = dout[R - (2 - top)]``."""
    (t, _), (l, _) = win.pads
    w_flip = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))      # (3, 3, F, C)
    return conv3x3_forward(dout, w_flip, 2 - t, 2 - l, x_shape[1], x_shape[2], bias=b)


def weight_grad(dout, x, w_shape, win):
    """(dw (3, 3, C, F), db (F,)) of :func:`conv_forward`."""
    return conv3x3_backward_params(dout, x, win.pads[0][0], win.pads[1][0])
