"""Write ``tests/data/torch_parity.npz``: every case of ``tests/_torch_parity.py`` run through PyTorch.

Run by hand where PyTorch is installed (it is never an npvision dependency), from the
repository's root::

    python tests/data/make_torch_goldens.py

Each case stores its inputs under ``<case>/in/<name>`` and PyTorch's results under
``<case>/out/<name>``, all float64 in npvision's channels-last layout; ``__torch_version__``
records which PyTorch computed them. ``tests/test_torch_parity.py`` compares npvision with
the file on every run, and checks that the file holds exactly the cases the module defines.
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))                  # tests/, for _torch_parity
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository, for npvision

import torch  # noqa: E402

from _torch_parity import CASES  # noqa: E402

OUT = os.path.join(HERE, "torch_parity.npz")


def main() -> None:
    torch.set_default_dtype(torch.float64)
    arrays = {"__torch_version__": np.array(torch.__version__)}
    for name, case in CASES.items():
        inputs, context = case.setup()
        results = case.torch(torch, inputs, context)
        for k, v in inputs.items():
            arrays[f"{name}/in/{k}"] = np.asarray(v)
        for k, v in results.items():
            arrays[f"{name}/out/{k}"] = np.asarray(v, dtype=np.float64)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(CASES)} cases to {OUT} ({os.path.getsize(OUT) / 1024:.0f} KiB), torch {torch.__version__}")


if __name__ == "__main__":
    main()
