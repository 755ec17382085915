"""Seeded, torchvision-layout weights and images that NumPy alone can rebuild.

Shared by ``tests/data/make_torchvision_goldens.py`` (run by hand where
torchvision is installed: it loads these arrays into torchvision's models and
stores the logits torchvision computes) and by ``tests/test_io_torch.py``
(which rebuilds the same arrays, loads them into npvision with
``from_torch_state_dict`` and compares its logits with the stored ones). Only
the key names, shapes and logits are stored; the weights are a rule:

* each array comes from ``np.random.default_rng([seed, crc32(key)])``, so it
  depends on its key alone, not on the order of the dict;
* the values keep activations near unit size through deep networks: He-scaled
  convolutions ``N(0, 2 / fan_in)``, fully connected ``N(0, 1 / D_in)``,
  BatchNorm ``weight ~ U(0.5, 1.5)``, ``bias ~ N(0, 0.1)``,
  ``running_mean ~ N(0, 0.1)``, ``running_var ~ U(0.5, 2)`` (so BatchNorm's
  epsilon and statistics visibly matter), every ``bias ~ N(0, 0.1)``;
* arrays are drawn in float64; the float32 goldens use the same arrays rounded.
"""

from __future__ import annotations

import hashlib
import json
import zlib

import numpy as np

__all__ = ["synthetic_state_dict", "synthetic_images", "fingerprint", "case_spec", "spec_hash"]


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def synthetic_array(key: str, shape, seed: int) -> np.ndarray:
    """The array the rule gives torchvision key ``key`` of torch shape ``shape``."""
    shape = tuple(shape)
    rng = _rng(seed, key)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.array(7, dtype=np.int64)                      # any count: npvision ignores it
    if leaf == "running_mean":
        return rng.normal(0.0, 0.1, shape)
    if leaf == "running_var":
        return rng.uniform(0.5, 2.0, shape)
    if leaf == "bias":
        return rng.normal(0.0, 0.1, shape)
    if leaf == "weight" and len(shape) == 1:                     # BatchNorm's gamma
        return rng.uniform(0.5, 1.5, shape)
    if leaf == "weight" and len(shape) == 4:                     # conv (O, I, KH, KW)
        fan_in = shape[1] * shape[2] * shape[3]
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    if leaf == "weight" and len(shape) == 2:                     # Linear (out, in)
        return rng.standard_normal(shape) * np.sqrt(1.0 / shape[1])
    raise ValueError(f"no synthetic rule for {key!r} of shape {shape}")


def synthetic_state_dict(spec, seed: int, dtype=np.float64) -> dict[str, np.ndarray]:
    """``{key: array}`` for ``spec``, a list of ``(key, shape)`` in torchvision's order."""
    state = {}
    for key, shape in spec:
        a = synthetic_array(key, shape, seed)
        state[key] = a if a.dtype.kind == "i" else a.astype(dtype)
    return state


def synthetic_images(shape, seed: int, dtype=np.float64) -> np.ndarray:
    """``(N, H, W, C)`` standard normal images (NCHW for torch: ``x.transpose(0, 3, 1, 2)``)."""
    return np.random.default_rng([seed, 12345]).standard_normal(tuple(shape)).astype(dtype)


def fingerprint(state: dict) -> float:
    """A number that changes if NumPy's random stream ever does: the first 8 values of each array."""
    return float(sum(np.asarray(v, dtype=np.float64).ravel()[:8].sum() for v in state.values()))


def case_spec(golden: dict, case: dict) -> list:
    """The ``(key, shape)`` list of a golden case: the architecture's spec with the case's overrides."""
    overrides = case.get("shape_overrides", {})
    return [(k, tuple(overrides.get(k, shape))) for k, shape in golden["state_dict"]]


def spec_hash(spec) -> str:
    """sha256 of a ``(key, shape)`` list: a model's whole state-dict layout in 64 characters."""
    text = json.dumps([[k, [int(d) for d in shape]] for k, shape in spec], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
