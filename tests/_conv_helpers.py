"""Shared by the tests of the numba backend's convolution paths (Winograd, direct loops)."""

import numpy as np

import npvision
import npvision.functional as F


def spy_on_algorithms(monkeypatch) -> list:
    """Record every algorithm the numba convolution ops call: "forward <name>", "input_grad <name>",
    "weight_grad <name>" and "backward <name>" (the one-pass backwards: the direct loops', the 1x1
    products'), from the tables of npvision.kernels.conv."""
    import npvision.kernels.conv as KC

    calls = []

    def spy(real, label):
        return lambda *a, **k: calls.append(label) or real(*a, **k)

    for table, kind in ((KC.FORWARD, "forward"), (KC.INPUT_GRAD, "input_grad"), (KC.WEIGHT_GRAD, "weight_grad"),
                        (KC.BACKWARD, "backward")):
        for name, real in list(table.items()):
            monkeypatch.setitem(table, name, spy(real, f"{kind} {name}"))
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
