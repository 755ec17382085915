"""Count the functions a reader steps through from ``F.conv2d_backward`` to the arithmetic of ``dx``.

Run from the repository root::

    python benchmarks/trace_conv_backward.py            # the README's example, default backend
    python benchmarks/trace_conv_backward.py --all      # also list what runs after dx is reached

It runs the README's "A first look" example (``x (2, 7, 7, 3)``, ``w (3, 3, 3, 8)``, float64,
stride 2, padding 1, the default backend) with ``NUMBA_DISABLE_JIT=1``, so that the numba
kernels are Python a debugger can step into, and records with ``sys.setprofile`` every
npvision function *called* (entered) from the moment ``F.conv2d_backward`` is entered until
the first call of a function that computes ``dx`` (one that writes the input gradient's
numbers: the names are listed in :data:`DX_ARITHMETIC`). The count is of distinct functions
(a helper called twice counts once), with their files; list comprehensions and generator
expressions count as part of the function they are written in.

That is what a student who steps into every call (a debugger's "step into") goes through
before seeing ``dx`` computed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: functions whose body computes the numbers of dx (any of them ends the trace)
DX_ARITHMETIC = (
    "_scatter_numba_impl", "_scatter_numpy",                  # before the reorganization
    "conv2d_backward_input_naive",
    "scatter_numba", "scatter_numpy",                          # after it (npvision/kernels/im2col.py)
)

_CHILD = r"""
import sys, json
import numpy as np
import npvision.functional as F

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 7, 7, 3))
w = rng.standard_normal((3, 3, 3, 8))
b = np.zeros(8)
out, cache = F.conv2d_forward(x, w, b, stride=2, padding=1)
dout = np.ones_like(out)
F.conv2d_backward(dout, cache)          # warm: first-call imports are not part of the trace

targets = set(sys.argv[1].split(","))
show_all = sys.argv[2] == "1"
seen, order, done = set(), [], [False]
root = sys.argv[3]

def prof(frame, event, arg):
    if event != "call" or done[0] and not show_all:
        return
    code = frame.f_code
    path = code.co_filename
    if not path.startswith(root) or "/npvision/" not in path:
        return
    if code.co_name.startswith("<"):          # comprehensions, lambdas' bodies are counted with their function
        if code.co_name != "<lambda>":
            return
    key = (path, code.co_firstlineno, code.co_name)
    if key not in seen:
        seen.add(key)
        order.append([code.co_name, path.split("/npvision/", 1)[1], code.co_firstlineno, done[0]])
    if code.co_name in targets:
        done[0] = True

sys.setprofile(prof)
F.conv2d_backward(dout, cache)
sys.setprofile(None)
print(json.dumps(order))
"""


def trace(root: Path, show_all: bool = False) -> list[list]:
    """``[[function, file, first line, after_dx], ...]`` in the order they were first entered."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, "-c", _CHILD, ",".join(DX_ARITHMETIC), "1" if show_all else "0",
                           str(root)], capture_output=True, text=True, env=env, cwd=str(root), timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    import json

    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT), help="the checkout to trace (default: this one)")
    ap.add_argument("--all", action="store_true", help="also list the functions entered after dx's arithmetic")
    args = ap.parse_args(argv)
    order = trace(Path(args.root), args.all)
    before = [o for o in order if not o[3]]
    reached = any(o[0] in DX_ARITHMETIC for o in order)
    for i, (name, path, line, after) in enumerate(order, 1):
        print(f"{'' if not after else '(after) '}{i:3d}  {name:40s} {path}:{line}")
    files = sorted({o[1] for o in before})
    print(f"\n{len(before)} functions in {len(files)} files from F.conv2d_backward to the arithmetic of dx"
          + ("" if reached else " (NOT reached: no function of DX_ARITHMETIC ran)"))
    print("files: " + ", ".join(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
