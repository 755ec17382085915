"""Convolution by the fast Fourier transform, for large kernels at stride 1.

im2col multiplies every input pixel with every tap: ``KH KW C F`` multiply-adds
per output pixel, 9,075 x 128 for a 55x55 kernel on an RGB image with 128
filters. In the frequency domain a correlation is a product, so the cost of a
convolution no longer grows with the kernel: transform the padded input and
each filter once, multiply, transform back.

Shapes (``pads = ((top, bottom), (left, right))`` as in :mod:`npvision.kernels.conv`)::

    x     (N, H, W, C)     the unpadded input; xp is x zero-padded to (N, Hp, Wp, C)
    w     (KH, KW, C, F)
    out   (N, Ho, Wo, F)   Ho = Hp - KH + 1, Wo = Wp - KW + 1
    spectrum (C, F, P, Q // 2 + 1) complex: conj(FFT(w)) on a (P, Q) grid, P >= Hp, Q >= Wp

The identities, with ``X = FFT(xp)``, ``Wf = FFT(w)`` and ``D = FFT(dout)`` on the
``(P, Q)`` grid (zero-padded, so the circular products equal the linear ones)::

    out[n, :, :, f] = IFFT( sum_c X[n, c] conj(Wf[c, f]) )[:Ho, :Wo]      (a correlation)
    dxp[n, :, :, c] = IFFT( sum_f D[n, f] Wf[c, f] )[:Hp, :Wp]            (a full convolution)
    dw[:, :, c, f]  = IFFT( sum_n X[n, c] conj(D[n, f]) )[:KH, :KW]       (a correlation)
    db[f]           = sum_{n, i, j} dout[n, i, j, f]

No index wraps around: the correlation reads ``xp[i + kh]`` with
``i + kh <= Hp - 1 < P``, and the full convolution has ``Ho + KH - 1 = Hp`` rows.
So ``P`` need only be the padded size ``Hp``, rounded up to a size whose prime
factors are 2, 3 and 5 (:func:`fft_size`), for which the FFT is fastest.

Ops (registered in :mod:`npvision.kernels`' table):

* ``conv2d_fft_forward(x, w, pads, bias=None, spectrum=None) -> out``
* ``conv2d_fft_backward(dout, x, w, pads, need_input_grad=True, need_weight_grad=True,
  spectrum=None) -> (dx, dw, db)`` (a gradient not needed is None)

``naive`` is the plain loops of :func:`npvision.kernels.conv.conv2d_forward_naive`
(the same convolution, the reference); ``numpy`` is the FFT, with the filters
dealt to npvision's threads in bands. ``spectrum`` (from :func:`weight_spectrum`)
lets a layer whose filters do not change reuse their transform from call to call;
the naive kernels ignore it. Cost per image, forward: ``C + F`` FFTs of ``P x Q``
and ``C F P Q / 2`` complex multiply-adds, whatever the kernel size.
"""

from __future__ import annotations

import numpy as np

from . import get, register
from ._jit import njit
from .blas import run_on_threads
from .window import Window

__all__: list[str] = []


def fft_size(n: int) -> int:
    """The smallest ``m >= n`` whose prime factors are only 2, 3 and 5 (fast for the FFT)."""
    m = max(int(n), 1)
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def grid(x_shape, w_shape, pads) -> tuple[int, int]:
    """The FFT grid ``(P, Q)`` for an input ``(N, H, W, C)``, a weight ``(KH, KW, C, F)`` and ``pads``."""
    (t, b), (l, r) = pads
    return fft_size(x_shape[1] + t + b), fft_size(x_shape[2] + l + r)


def weight_spectrum(w: np.ndarray, P: int, Q: int) -> np.ndarray:
    """``conj(FFT(w))`` on the ``(P, Q)`` grid: ``(C, F, P, Q // 2 + 1)`` complex (w's precision)."""
    wt = np.ascontiguousarray(w.transpose(2, 3, 0, 1))                  # (KH, KW, C, F) -> (C, F, KH, KW)
    return np.conj(np.fft.rfft2(wt, s=(P, Q)))                          # (C, F, P, Q//2+1)


# ---------------------------------------------------------------------------
# naive: the direct loops of the ordinary convolution
# ---------------------------------------------------------------------------
@register("conv2d_fft_forward", "naive")
def conv2d_fft_forward_naive(x, w, pads, bias=None, spectrum=None):
    """The ordinary convolution's naive loops (stride 1, no dilation): the FFT's twin."""
    return get("conv2d_forward", "naive")(x, w, bias, Window((1, 1), (1, 1), pads))


@register("conv2d_fft_backward", "naive")
def conv2d_fft_backward_naive(dout, x, w, pads, need_input_grad=True, need_weight_grad=True,
                              spectrum=None):
    """The ordinary convolution's naive backward loops; ``dw`` is None when not needed."""
    dx, dw, db = get("conv2d_backward", "naive")(dout, x, w, Window((1, 1), (1, 1), pads), need_input_grad)
    return dx, (dw if need_weight_grad else None), db


# ---------------------------------------------------------------------------
# numpy and numba: the FFT, with the channel sums done two ways
# ---------------------------------------------------------------------------
# Each frequency (p, q) is its own small matrix product over the channels:
#   forward   Y[n, f]  = sum_c X[n, c] S[c, f]
#   input     dX[n, c] = sum_f D[n, f] conj(S[c, f])
#   weight    dW[c, f] = sum_n X[n, c] conj(D[n, f])
# on arrays whose last axis is the P * (Q//2 + 1) frequencies.

def _mix_forward_numpy(X, S, fs):
    Y = X[:, 0, None] * S[0, fs]                                        # (N, f, K)
    for c in range(1, X.shape[1]):
        Y += X[:, c, None] * S[c, fs]
    return Y


def _mix_input_numpy(D, S, fs):
    return np.einsum("nfk,cfk->nck", D, np.conj(S[:, fs]))              # (N, C, K)


def _mix_weight_numpy(X, D):
    return np.einsum("nck,nfk->cfk", X, np.conj(D))                     # (C, f, K)


@njit(nogil=True)
def _mix_forward_loops(X, S, f0, Y):
    N, C, K = X.shape
    for n in range(N):
        for f in range(Y.shape[1]):
            for c in range(C):
                for k in range(K):
                    Y[n, f, k] += X[n, c, k] * S[c, f0 + f, k]


@njit(nogil=True)
def _mix_input_loops(D, S, f0, dX):
    N, F, K = D.shape
    C = S.shape[0]
    for n in range(N):
        for c in range(C):
            for f in range(F):
                for k in range(K):
                    dX[n, c, k] += D[n, f, k] * np.conj(S[c, f0 + f, k])


@njit(nogil=True)
def _mix_weight_loops(X, D, dW):
    N, C, K = X.shape
    F = D.shape[1]
    for c in range(C):
        for f in range(F):
            for n in range(N):
                for k in range(K):
                    dW[c, f, k] += X[n, c, k] * np.conj(D[n, f, k])


def _mix_forward_numba(X, S, fs):
    Y = np.zeros((X.shape[0], fs.stop - fs.start, X.shape[2]), dtype=X.dtype)
    _mix_forward_loops(X, S, fs.start, Y)
    return Y


def _mix_input_numba(D, S, fs):
    dX = np.zeros((D.shape[0], S.shape[0], D.shape[2]), dtype=D.dtype)
    _mix_input_loops(D, S, fs.start, dX)
    return dX


def _mix_weight_numba(X, D):
    dW = np.zeros((X.shape[1], D.shape[1], X.shape[2]), dtype=X.dtype)
    _mix_weight_loops(X, D, dW)
    return dW


_MIX = {"numpy": (_mix_forward_numpy, _mix_input_numpy, _mix_weight_numpy),
        "numba": (_mix_forward_numba, _mix_input_numba, _mix_weight_numba)}

#: filters per unit of work dealt to the threads
BAND = 16


def _bands(F: int) -> list:
    """Slices of ``range(F)`` of ``BAND`` filters: the units dealt to the threads."""
    return [slice(i, min(i + BAND, F)) for i in range(0, F, BAND)]


def _input_spectrum(x, pads, P, Q):
    """``FFT(xp)``: ``(N, C, P, Q // 2 + 1)``, x placed at ``(top, left)`` in a zero ``(P, Q)`` grid."""
    N, H, W, C = x.shape
    (t, _), (l, _) = pads
    planes = np.zeros((N, C, P, Q), dtype=x.dtype)
    planes[:, :, t:t + H, l:l + W] = x.transpose(0, 3, 1, 2)             # (N, H, W, C) -> (N, C, H, W)
    return np.fft.rfft2(planes)


def _spectrum_for(w, P, Q, spectrum):
    if spectrum is not None and spectrum.shape == (w.shape[2], w.shape[3], P, Q // 2 + 1):
        return spectrum
    return weight_spectrum(w, P, Q)


def _forward(mix, x, w, pads, bias=None, spectrum=None):
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    P, Q = grid(x.shape, w.shape, pads)
    Ho, Wo = H + sum(pads[0]) - KH + 1, W + sum(pads[1]) - KW + 1
    X = _input_spectrum(x, pads, P, Q).reshape(N, C, -1)                # (N, C, P Q2)
    S = np.ascontiguousarray(_spectrum_for(w, P, Q, spectrum)).reshape(C, F, -1)  # (C, F, P Q2)
    out = np.empty((N, Ho, Wo, F), dtype=x.dtype)

    def band(fs: slice):
        Y = mix[0](X, S, fs).reshape(N, -1, P, Q // 2 + 1)              # (N, f, P, Q2)
        y = np.fft.irfft2(Y, s=(P, Q))[:, :, :Ho, :Wo]                  # (N, f, Ho, Wo)
        out[..., fs] = y.transpose(0, 2, 3, 1)                          # (N, f, Ho, Wo) -> (N, Ho, Wo, f)

    run_on_threads(lambda shares: [band(s) for s in shares], _bands(F))
    if bias is not None:
        out += bias
    return out


def _backward(mix, dout, x, w, pads, need_input_grad=True, need_weight_grad=True, spectrum=None):
    N, H, W, C = x.shape
    KH, KW, _, F = w.shape
    P, Q = grid(x.shape, w.shape, pads)
    (t, _), (l, _) = pads
    db = dout.sum(axis=(0, 1, 2))
    if not (need_input_grad or need_weight_grad):
        return None, None, db
    S = (np.ascontiguousarray(_spectrum_for(w, P, Q, spectrum)).reshape(C, F, -1)
         if need_input_grad else None)                                  # (C, F, P Q2)
    X = _input_spectrum(x, pads, P, Q).reshape(N, C, -1) if need_weight_grad else None   # (N, C, P Q2)
    def band(fs: slice):
        d = np.ascontiguousarray(dout[..., fs].transpose(0, 3, 1, 2))   # (N, Ho, Wo, f) -> (N, f, Ho, Wo)
        D = np.fft.rfft2(d, s=(P, Q)).reshape(N, -1, P * (Q // 2 + 1))  # (N, f, P Q2)
        dX = mix[1](D, S, fs) if need_input_grad else None              # (N, C, P Q2)
        dW = mix[2](X, D) if need_weight_grad else None                 # (C, f, P Q2)
        return dX, dW, fs

    parts = [p for share in run_on_threads(lambda shares: [band(s) for s in shares], _bands(F))
             for p in share]
    dx = dw = None
    if need_input_grad:
        dX = parts[0][0]
        for p in parts[1:]:
            dX += p[0]                                                  # sum over the bands of filters
        dxp = np.fft.irfft2(dX.reshape(N, C, P, -1), s=(P, Q))          # (N, C, P, Q)
        dx = dxp[:, :, t:t + H, l:l + W].transpose(0, 2, 3, 1)          # (N, C, H, W) -> (N, H, W, C)
        dx = np.ascontiguousarray(dx, dtype=x.dtype)
    if need_weight_grad:
        dw = np.empty(w.shape, dtype=x.dtype)
        for _, dW, fs in parts:
            k = np.fft.irfft2(dW.reshape(C, -1, P, Q // 2 + 1), s=(P, Q))[:, :, :KH, :KW]  # (C, f, KH, KW)
            dw[..., fs] = k.transpose(2, 3, 0, 1)                       # (C, f, KH, KW) -> (KH, KW, C, f)
    return dx, dw, db


@register("conv2d_fft_forward", "numpy")
def conv2d_fft_forward_numpy(x, w, pads, bias=None, spectrum=None):
    return _forward(_MIX["numpy"], x, w, pads, bias, spectrum)


@register("conv2d_fft_backward", "numpy")
def conv2d_fft_backward_numpy(dout, x, w, pads, need_input_grad=True, need_weight_grad=True,
                              spectrum=None):
    return _backward(_MIX["numpy"], dout, x, w, pads, need_input_grad, need_weight_grad, spectrum)


@register("conv2d_fft_forward", "numba", fastest=True)
def conv2d_fft_forward_numba(x, w, pads, bias=None, spectrum=None):
    return _forward(_MIX["numba"], x, w, pads, bias, spectrum)


@register("conv2d_fft_backward", "numba", fastest=True)
def conv2d_fft_backward_numba(dout, x, w, pads, need_input_grad=True, need_weight_grad=True,
                              spectrum=None):
    return _backward(_MIX["numba"], dout, x, w, pads, need_input_grad, need_weight_grad, spectrum)
