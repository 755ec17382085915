"""Direct stride-1 convolution over flattened planar images, for layers with few channels.

A first layer has very few input channels (3 for RGB, 1 for grey). im2col then
makes columns only ``KH KW C = 27`` wide: copying them costs more than the
product they feed, and a ``(pixels, 27) @ (27, 16)`` product is too narrow for
BLAS to run well (so are the products of a small network's 8- or 16-channel
layers). This module convolves directly instead, with the image laid
out *planar* (one plane per channel) and *flattened* (rows one after another,
``P`` numbers apart). Then a tap is a shift of the whole plane::

    Xc[q] = xpad[q // P, q % P, c]          (q = row P + column)
    out_f[q] = b[f] + sum_{kh, kw, c} w[kh, kw, c, f] Xc[q + kh dh P + kw dw]

for every ``q = i P + j`` with ``i < Ho``: one long loop per tap over
contiguous numbers, which the compiler turns into vector instructions.
Columns ``j >= Wo`` of the result read past the end of a row into the next
one; they are computed and thrown away (``P - Wo = dw (KW - 1)`` of every
``P``). Four output planes are made per sweep, over three taps of a kernel
row: each source number loaded serves twelve multiply-adds, and each output
number is loaded and stored once per three taps.

The backward passes use the same planes. ``dout`` is laid out as planes
``E`` of pitch ``P`` too, each row of ``dout`` followed by ``P - Wo`` zeros and
with ``dh (KH - 1)`` zero rows above and below::

    dw[kh, kw, c, f] = sum_q Ef[q0 + q] Xc[q + kh dh P + kw dw]        (q over Ho rows)
    db[f]            = sum_q Ef[q0 + q]
    dxp_c[q]         = sum_{kh, kw, f} w[kh, kw, c, f] Ef[q + (dh (KH - 1) - kh dh) P + dw (KW - 1) - kw dw]

``q0`` is where ``dout[0, 0]`` sits in ``E``. The zeros after each row make
the thrown-away columns contribute nothing to ``dw``, and they are exactly
the zeros that the input gradient (a "full" correlation with the flipped
kernel) needs on either side of a row. :func:`conv_backward` makes each
image's ``E`` once for both gradients. Each image's planes are made, used
and turned back into channels-last inside one thread's cache; the images of
a batch are shared out among npvision's threads.

Measured on the benchmark's stem (N32 3->16 32x32 k3, 2 cores), against the
im2col path this replaced there: forward 0.80 -> 0.45 ms, both gradients
2.1 -> 0.9 ms (the strided scatter of im2col's gradient columns was the
slowest part); fwd+bwd 2.74x -> 1.2x PyTorch's time. Where it is used is
:func:`npvision.kernels.conv_plan.plan_conv2d`'s choice.

Shapes and names::

    x     (N, H, W, C)      the unpadded input; pads ((t, b), (l, r)) give xpad
    w     (KH, KW, C, F)
    dout  (N, Ho, Wo, F)    Ho = Hp - dh (KH - 1), Wo = Wp - dw (KW - 1) (stride 1)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._jit import njit
from .blas import add_up, run_on_threads

__all__ = ["conv_forward", "conv_backward", "weight_grad", "input_grad"]

#: reassociation lets the weight gradient's sums run as vector sums; no other fast-math
#: liberty is taken (infinities and NaNs behave as IEEE says).
_FLAGS = {"reassoc", "contract"}


# ---------------------------------------------------------------------------
# planes in, planes out
# ---------------------------------------------------------------------------

@njit(nogil=True)
def _to_planes(a, n, top, left, P, planes):
    """planes (K, rows P) = image ``a[n]`` (h, w, K) placed at (top, left), zero elsewhere."""
    h, w, K = a.shape[1], a.shape[2], a.shape[3]
    for k in range(K):
        planes[k, :top * P] = 0
        planes[k, (top + h) * P:] = 0
    for i in range(h):
        base = (top + i) * P
        for k in range(K):
            planes[k, base:base + left] = 0
            planes[k, base + left + w:base + P] = 0
        src = a[n, i]
        for j in range(w):
            pixel = src[j]
            for k in range(K):
                planes[k, base + left + j] = pixel[k]


@njit(nogil=True)
def _from_planes(planes, q0, P, out, n):
    """out[n, i, j, k] = planes[k, q0 + i P + j]: a block of planes back to channels-last."""
    h, w, K = out.shape[1], out.shape[2], out.shape[3]
    for i in range(h):
        dst = out[n, i]
        base = q0 + i * P
        for j in range(w):
            for k in range(K):
                dst[j, k] = planes[k, base + j]


# ---------------------------------------------------------------------------
# the two loops
# ---------------------------------------------------------------------------

@njit(nogil=True, fastmath=_FLAGS)
def _correlate(src, w, offsets, q0, L, bias, out):
    """out[b, q] = bias[b] + sum_{kh, kw, a} w[kh, kw, a, b] src[a, q0 + q + offsets[kh, kw]], q < L.

    src (A, ...) planes, w (KH, KW, A, B) with B a multiple of 4, out (B, >= L).
    Four output planes are made together (each source number is loaded once
    for all four), and a kernel row is swept three taps at a time (then two
    or one): each sweep is one loop over q. (Each tap is a slice of its own:
    an index like ``s[q + offset]`` would make numba check for a negative
    index inside the loop, which stops the compiler from vectorizing it.)
    """
    KH, KW, A, B = w.shape
    for b in range(0, B, 4):
        o0, o1, o2, o3 = out[b], out[b + 1], out[b + 2], out[b + 3]
        for q in range(L):
            o0[q], o1[q], o2[q], o3[q] = bias[b], bias[b + 1], bias[b + 2], bias[b + 3]
        for a in range(A):
            s = src[a]
            for kh in range(KH):
                for kw in range(0, KW, 3):
                    # the weights go into local numbers first: read inside the loop, they could
                    # (for all the compiler knows) change with every store to out
                    s0 = s[q0 + offsets[kh, kw]:]
                    u0, u1, u2, u3 = w[kh, kw, a, b], w[kh, kw, a, b + 1], w[kh, kw, a, b + 2], w[kh, kw, a, b + 3]
                    if KW - kw >= 3:
                        s1 = s[q0 + offsets[kh, kw + 1]:]
                        s2 = s[q0 + offsets[kh, kw + 2]:]
                        v0, v1, v2, v3 = (w[kh, kw + 1, a, b], w[kh, kw + 1, a, b + 1],
                                          w[kh, kw + 1, a, b + 2], w[kh, kw + 1, a, b + 3])
                        z0, z1, z2, z3 = (w[kh, kw + 2, a, b], w[kh, kw + 2, a, b + 1],
                                          w[kh, kw + 2, a, b + 2], w[kh, kw + 2, a, b + 3])
                        for q in range(L):
                            x0, x1, x2 = s0[q], s1[q], s2[q]
                            o0[q] += u0 * x0 + v0 * x1 + z0 * x2
                            o1[q] += u1 * x0 + v1 * x1 + z1 * x2
                            o2[q] += u2 * x0 + v2 * x1 + z2 * x2
                            o3[q] += u3 * x0 + v3 * x1 + z3 * x2
                    elif KW - kw == 2:
                        s1 = s[q0 + offsets[kh, kw + 1]:]
                        v0, v1, v2, v3 = (w[kh, kw + 1, a, b], w[kh, kw + 1, a, b + 1],
                                          w[kh, kw + 1, a, b + 2], w[kh, kw + 1, a, b + 3])
                        for q in range(L):
                            x0, x1 = s0[q], s1[q]
                            o0[q] += u0 * x0 + v0 * x1
                            o1[q] += u1 * x0 + v1 * x1
                            o2[q] += u2 * x0 + v2 * x1
                            o3[q] += u3 * x0 + v3 * x1
                    else:
                        for q in range(L):
                            x0 = s0[q]
                            o0[q] += u0 * x0
                            o1[q] += u1 * x0
                            o2[q] += u2 * x0
                            o3[q] += u3 * x0


@njit(nogil=True, fastmath=_FLAGS)
def _weight_sums(x_planes, dout_planes, q0, offsets, L, zero, dw, db):
    """The weight and bias gradients from the planes of one image::

        dw[kh, kw, c, f] += sum_{q < L} dout_planes[f, q0 + q] x_planes[c, q + offsets[kh, kw]]
        db[f]            += sum_{q < L} dout_planes[f, q0 + q]

    dw (KH, KW, C, F) with F a multiple of 4. Four filters and three taps of a kernel row
    are summed per sweep over q, in 12 running sums (each number of ``x_planes`` loaded once
    for four filters, each of ``dout_planes`` once for three taps);
    ``zero`` is a 0 of the arrays' dtype, to start the sums in it.
    """
    KH, KW, C, F = dw.shape
    for f in range(0, F, 4):
        e0, e1 = dout_planes[f, q0:q0 + L], dout_planes[f + 1, q0:q0 + L]
        e2, e3 = dout_planes[f + 2, q0:q0 + L], dout_planes[f + 3, q0:q0 + L]
        t0, t1, t2, t3 = zero, zero, zero, zero
        for q in range(L):
            t0 += e0[q]
            t1 += e1[q]
            t2 += e2[q]
            t3 += e3[q]
        db[f] += t0
        db[f + 1] += t1
        db[f + 2] += t2
        db[f + 3] += t3
        for c in range(C):
            x = x_planes[c]
            for kh in range(KH):
                for kw in range(0, KW, 3):
                    x0 = x[offsets[kh, kw]:]
                    x1 = x[offsets[kh, min(kw + 1, KW - 1)]:]     # a repeat of x0 past the row's end:
                    x2 = x[offsets[kh, min(kw + 2, KW - 1)]:]     # its sums are not kept
                    a0, a1, a2, b0, b1, b2 = zero, zero, zero, zero, zero, zero
                    c0, c1, c2, d0, d1, d2 = zero, zero, zero, zero, zero, zero
                    for q in range(L):
                        y0, y1, y2 = x0[q], x1[q], x2[q]
                        u = e0[q]
                        a0 += u * y0
                        a1 += u * y1
                        a2 += u * y2
                        u = e1[q]
                        b0 += u * y0
                        b1 += u * y1
                        b2 += u * y2
                        u = e2[q]
                        c0 += u * y0
                        c1 += u * y1
                        c2 += u * y2
                        u = e3[q]
                        d0 += u * y0
                        d1 += u * y1
                        d2 += u * y2
                    for k, (s0, s1, s2) in enumerate(((a0, a1, a2), (b0, b1, b2), (c0, c1, c2), (d0, d1, d2))):
                        dw[kh, kw, c, f + k] += s0
                        if kw + 1 < KW:
                            dw[kh, kw + 1, c, f + k] += s1
                        if kw + 2 < KW:
                            dw[kh, kw + 2, c, f + k] += s2


def _fours(w: np.ndarray, bias: np.ndarray):
    """(w, bias) with zero output planes appended up to a multiple of 4 (:func:`_correlate`
    makes planes four at a time; the extra ones are never read back)."""
    extra = -w.shape[3] % 4
    if extra == 0:
        return w, bias
    return (np.concatenate([w, np.zeros(w.shape[:3] + (extra,), dtype=w.dtype)], axis=3),
            np.concatenate([bias, np.zeros(extra, dtype=bias.dtype)]))


# ---------------------------------------------------------------------------
# image by image (one compiled call per thread: numba's call overhead holds the GIL)
# ---------------------------------------------------------------------------

class Layout(NamedTuple):
    """Where an image sits in its planes: rows ``P`` numbers apart, the image (or ``xpad``'s
    interior) at ``(top, left)``, and ``dout`` framed by ``mh`` zero rows and ``mw`` zero columns."""

    P: int
    top: int
    left: int
    mh: int
    mw: int


class Kernel(NamedTuple):
    """A correlation's kernel over planes: ``w`` (KH, KW, A, B), where each tap reads (``offsets``
    (KH, KW), relative to the output's place), and ``bias`` (B,)."""

    w: np.ndarray
    offsets: np.ndarray
    bias: np.ndarray


class Planes(NamedTuple):
    """One thread's workspaces: the planes of an image of ``x``, of ``dout``, and of ``dxp``."""

    x: np.ndarray
    dout: np.ndarray
    dx: np.ndarray


@njit(nogil=True)
def _forward_images(x, images, layout, kernel, x_planes, out_planes, out):
    """out[n] for n in images = [n0, n1): planes of x[n] -> correlate -> back to channels-last."""
    L = out.shape[1] * layout.P
    for n in range(images[0], images[1]):
        _to_planes(x, n, layout.top, layout.left, layout.P, x_planes)
        _correlate(x_planes, kernel.w, kernel.offsets, 0, L, kernel.bias, out_planes)
        _from_planes(out_planes, 0, layout.P, out, n)


@njit(nogil=True)
def _params_images(x, dout, images, layout, offsets, zero, planes, dw, db):
    """dw, db += the sums of images [n0, n1) (dout's planes framed by mh rows and mw columns of zeros)."""
    L = dout.shape[1] * layout.P
    for n in range(images[0], images[1]):
        _to_planes(x, n, layout.top, layout.left, layout.P, planes.x)
        _to_planes(dout, n, layout.mh, layout.mw, layout.P, planes.dout)
        _weight_sums(planes.x, planes.dout, layout.mh * layout.P + layout.mw, offsets, L, zero, dw, db)


@njit(nogil=True)
def _input_images(dout, images, layout, flipped, planes, dx):
    """dx[n] for n in [n0, n1): planes of dout[n] (framed by mh rows, mw columns of zeros)
    -> correlate with the flipped kernel, rows top .. top + H - 1 of dxp -> channels-last from
    column ``left``."""
    L = dx.shape[1] * layout.P
    for n in range(images[0], images[1]):
        _to_planes(dout, n, layout.mh, layout.mw, layout.P, planes.dout)
        _correlate(planes.dout, flipped.w, flipped.offsets, layout.top * layout.P, L, flipped.bias, planes.dx)
        _from_planes(planes.dx, layout.left, layout.P, dx, n)


@njit(nogil=True)
def _backward_images(x, dout, images, layout, offsets, flipped, zero, planes, dw, db, dx):
    """Both gradients of images [n0, n1): dw, db += their sums, and dx[n]; dout's planes are made
    once per image and used by both."""
    L, Lx = dout.shape[1] * layout.P, dx.shape[1] * layout.P
    for n in range(images[0], images[1]):
        _to_planes(x, n, layout.top, layout.left, layout.P, planes.x)
        _to_planes(dout, n, layout.mh, layout.mw, layout.P, planes.dout)
        _weight_sums(planes.x, planes.dout, layout.mh * layout.P + layout.mw, offsets, L, zero, dw, db)
        _correlate(planes.dout, flipped.w, flipped.offsets, layout.top * layout.P, Lx, flipped.bias, planes.dx)
        _from_planes(planes.dx, layout.left, layout.P, dx, n)


# ---------------------------------------------------------------------------
# the ops
# ---------------------------------------------------------------------------

def _images(N: int) -> list:
    """The batch as single images, to be shared out among the threads."""
    return [(n, n + 1) for n in range(N)]


def _span(share) -> tuple[int, int]:
    """The images [n0, n1) of a contiguous share of :func:`_images`."""
    return share[0][0], share[-1][1]


def _tap_offsets(KH: int, KW: int, dh: int, dw: int, P: int) -> np.ndarray:
    """(KH, KW) int64: where tap (kh, kw) reads, relative to the output's place: kh dh P + kw dw."""
    return (np.arange(KH)[:, None] * dh * P + np.arange(KW)[None, :] * dw).astype(np.int64)


def _flipped_kernel(w, dilation, P, bias, dtype) -> Kernel:
    """The input gradient's kernel, a correlation of dout's planes ``E``:
    dxp_c[q] = sum w[kh, kw, c, f] E_f[q + (mh - kh dh) P + mw - kw dw], with w as (KH, KW, F, C)."""
    KH, KW, C, _ = w.shape
    dh, dw = dilation
    offsets = _tap_offsets(KH, KW, dh, dw, P)
    flipped = offsets[KH - 1, KW - 1] - offsets                  # (mh - kh dh) P + mw - kw dw
    wt, bb = _fours(np.ascontiguousarray(w.transpose(0, 1, 3, 2)),  # (KH, KW, F, C): f in, c out
                    bias if bias is not None else np.zeros(C, dtype=dtype))
    return Kernel(wt, flipped, bb)


def _dout_rows(Ho: int, KH: int, dh: int, dx_bottom: int) -> int:
    """Rows of dout's planes: Ho, framed by dh (KH - 1) zero rows above and below, plus one.

    The input gradient's last tap reads up to row ``dx_bottom + dh (KH - 1)``, where
    ``dx_bottom = top + H`` ends ``dx``'s rows in the padded grid. That is within the frame
    when ``x`` is the convolution's input, but a transpose convolution's output may have
    rows the convolution never reads (output_padding): the planes then get more zero rows."""
    mh = dh * (KH - 1)
    return max(Ho + 2 * mh, dx_bottom + mh) + 1


def _layout(x_shape, w_shape, win) -> Layout:
    """The planes' layout for a stride-1 convolution of an (unpadded) ``x_shape`` image."""
    (t, _), (l, _) = win.pads
    dh, dw = win.dilation
    return Layout(P=win.padded_hw(x_shape[1:3])[1], top=t, left=l, mh=dh * (w_shape[0] - 1),
                  mw=dw * (w_shape[1] - 1))


def conv_forward(x, w, b, win):
    """out (N, Ho, Wo, F): the stride-1 convolution of ``x`` padded as ``win`` says, plus ``b``."""
    N = x.shape[0]
    KH, KW, C, F = w.shape
    Hp, Wp = win.padded_hw(x.shape[1:3])
    Ho, Wo = win.out_hw(x.shape[1:3], (KH, KW))
    layout = _layout(x.shape, w.shape, win)
    out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    w4, b4 = _fours(w, b if b is not None else np.zeros(F, dtype=x.dtype))
    kernel = Kernel(w4, _tap_offsets(KH, KW, *win.dilation, layout.P), b4)

    def work(share):
        x_planes = np.empty((C, (Hp + 1) * layout.P), dtype=x.dtype)   # + 1 row: the last taps read past row Hp - 1
        out_planes = np.empty((w4.shape[3], Ho * layout.P), dtype=x.dtype)
        if share:
            _forward_images(x, _span(share), layout, kernel, x_planes, out_planes, out)

    run_on_threads(work, _images(N))
    return out


def conv_backward(dout, x, w, win, need_input_grad=True):
    """(dx or None, dw, db): both gradients of the stride-1 convolution of ``x`` padded as ``win``
    says, from one set of dout's planes per image (made once, used by both while in cache)."""
    N, Ho, Wo, F = dout.shape
    KH, KW, C, _ = w.shape
    Hp, Wp = win.padded_hw(x.shape[1:3])
    layout = _layout(x.shape, w.shape, win)
    offsets = _tap_offsets(KH, KW, *win.dilation, layout.P)
    zero = np.zeros((), dtype=dout.dtype)[()]
    Fe = F + -F % 4                                              # filters are summed four at a time
    if need_input_grad:
        flipped = _flipped_kernel(w, win.dilation, layout.P, None, dout.dtype)
        dx = np.empty(x.shape, dtype=dout.dtype)

    def work(share):
        x_planes = np.empty((C, (Hp + 1) * layout.P), dtype=x.dtype)
        dout_planes = np.zeros((Fe, _dout_rows(Ho, KH, win.dilation[0], layout.top + x.shape[1]) * layout.P),
                               dtype=dout.dtype)  # F.. stay 0
        dwp, dbp = np.zeros((KH, KW, C, Fe), dtype=dout.dtype), np.zeros(Fe, dtype=dout.dtype)
        if share and need_input_grad:
            dx_planes = np.empty((flipped.w.shape[3], x.shape[1] * layout.P), dtype=dout.dtype)
            _backward_images(x, dout, _span(share), layout, offsets, flipped, zero,
                             Planes(x_planes, dout_planes, dx_planes), dwp, dbp, dx)
        elif share:
            _params_images(x, dout, _span(share), layout, offsets, zero,
                           Planes(x_planes, dout_planes, dout_planes), dwp, dbp)
        return dwp, dbp

    parts = run_on_threads(work, _images(N))
    dw, db = add_up([p[0] for p in parts])[..., :F], add_up([p[1] for p in parts])[:F]
    return (dx if need_input_grad else None), dw, db


def weight_grad(dout, x, w_shape, win):
    """(dw (KH, KW, C, F), db (F,)) of the stride-1 convolution of ``x`` padded as ``win`` says."""
    return conv_backward(dout, x, np.empty(w_shape, dtype=dout.dtype), win, need_input_grad=False)[1:]


def input_grad(dout, w, x_shape, win, b=None):
    """dx (N, H, W, C), the interior of the padded gradient (plus ``b`` if given): the full
    correlation of ``dout`` with the flipped kernel."""
    N, Ho, Wo, F = dout.shape
    KH = w.shape[0]
    H, W = x_shape[1:3]
    layout = _layout(x_shape, w.shape, win)
    flipped = _flipped_kernel(w, win.dilation, layout.P, b, dout.dtype)
    dx = np.empty((N, H, W, w.shape[2]), dtype=dout.dtype)

    def work(share):
        dout_planes = np.empty((F, _dout_rows(Ho, KH, win.dilation[0], layout.top + H) * layout.P),
                               dtype=dout.dtype)
        dx_planes = np.empty((flipped.w.shape[3], H * layout.P), dtype=dout.dtype)
        if share:
            _input_images(dout, _span(share), layout, flipped, Planes(dout_planes, dout_planes, dx_planes), dx)

    run_on_threads(work, _images(N))
    return dx
