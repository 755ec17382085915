"""Shared by the tests of the numba backend's convolution paths (Winograd, direct loops)."""

import numpy as np

import npvision
import npvision.functional as F


def spy_on(monkeypatch, module, names) -> list:
    """Wrap ``module.<name>`` for each name so that every call appends the name to the list returned."""
    calls = []
    for name in names:
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    return calls


def conv_by_backend(x, w, b, padding, backends=("naive", "numba", "auto")) -> dict:
    """{backend: (out, dx, dw, db)}: F.conv2d forward, then backward on a fixed dout, per backend."""
    results = {}
    for backend in backends:
        with npvision.use_backend(backend):
            out, cache = F.conv2d_forward(x, w, b, padding=padding)
            dout = np.linspace(-1, 1, out.size).reshape(out.shape)
            results[backend] = (out,) + F.conv2d_backward(dout, cache)
    return results
