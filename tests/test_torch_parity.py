"""npvision against what PyTorch computes, without PyTorch: the stored results of tests/_torch_parity.py.

Every case (activations, batch norm, convolutions, pooling, losses, residual / MBConv /
Inception blocks, optimizers, clipping, cosine decay) compares npvision's forward values
and gradients with PyTorch's, read from ``tests/data/torch_parity.npz``. The file is
written by ``tests/data/make_torch_goldens.py``; where PyTorch is installed, a test also
recomputes it to show it is current.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _torch_parity import CASES

GOLDEN = Path(__file__).parent / "data" / "torch_parity.npz"


def _load() -> dict[str, dict[str, dict[str, np.ndarray]]]:
    stored: dict = {}
    with np.load(GOLDEN) as z:
        for key in z.files:
            if key.startswith("__"):
                continue
            name, part, array = key.split("/")
            stored.setdefault(name, {"in": {}, "out": {}})[part][array] = z[key]
    return stored


STORED = _load()


def test_the_file_holds_exactly_the_defined_cases():
    assert sorted(STORED) == sorted(CASES), (
        "tests/data/torch_parity.npz and tests/_torch_parity.py disagree: rerun "
        "tests/data/make_torch_goldens.py where PyTorch is installed")


@pytest.mark.parametrize("name", sorted(CASES))
def test_npvision_matches_pytorch(name):
    case = CASES[name]
    inputs, context = case.setup()
    stored = STORED[name]
    assert sorted(inputs) == sorted(stored["in"])
    for k, v in inputs.items():      # the same inputs: NumPy's generator and npvision's init unchanged
        np.testing.assert_array_equal(v, stored["in"][k], err_msg=f"{name}: input {k}")
    ours = case.npvision(stored["in"], context)
    assert sorted(ours) == sorted(stored["out"])
    for k, want in stored["out"].items():
        np.testing.assert_allclose(ours[k], want, rtol=case.rtol, atol=case.atol, err_msg=f"{name}: {k}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_stored_results_are_what_pytorch_computes(name):
    torch = pytest.importorskip("torch")
    case = CASES[name]
    inputs, context = case.setup()
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            fresh = case.torch(torch, inputs, context)
        finally:
            torch.set_default_dtype(torch.float32)
    for k, want in STORED[name]["out"].items():
        np.testing.assert_allclose(fresh[k], want, rtol=1e-12, atol=1e-14, err_msg=f"{name}: {k}")
