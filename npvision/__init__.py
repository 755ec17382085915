"""npvision: convolutional computer vision from first principles, in NumPy.

Every layer has a hand-written forward and backward pass
(:mod:`npvision.functional`, wrapped as layers in :mod:`npvision.nn`), the hot
loops have numba and BLAS kernels behind one dispatch table
(:mod:`npvision.kernels`), and gradients can be checked with
:mod:`npvision.gradcheck`.

Importing npvision is cheap: sub-packages load on first use, and numba kernels
compile (or load from cache) on their first call.
"""

from __future__ import annotations

import importlib

from .kernels import get_backend, set_backend, use_backend

__version__ = "0.1.0"
__all__ = ["set_backend", "use_backend", "get_backend", "__version__"]

_SUBMODULES = {"functional", "kernels", "nn", "optim", "gradcheck", "models", "detection",
               "segmentation", "face", "style", "data", "viz", "train", "cli", "io", "tasks",
               "course", "grading"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'npvision' has no attribute {name!r}")
