"""How long npvision takes to start: import time, first conv, numba compilation.

Run from the repository root::

    python benchmarks/bench_startup.py            # about a minute (numba compiles from scratch)
    python benchmarks/bench_startup.py --quick    # fewer repeats, no per-kernel compile times
    python benchmarks/bench_startup.py --json startup.json

Every figure comes from a fresh Python process, since start-up is what a fresh
process pays:

* ``import npvision`` (median of 5 processes), and ``import npvision.functional``
  / ``npvision.nn`` for scale, against a bare ``import numpy``;
* the first conv forward + backward (N32 64->64 32x32 k3 p1, float32) in a fresh
  process, with numba's on-disk cache empty (``NUMBA_CACHE_DIR`` pointing at a
  new temporary directory: everything numba needs is compiled) and then warm
  (a second process with the same directory: compiled code is loaded), for the
  default ``auto`` backend and for the ``numba`` backend;
* per numba kernel: the first call minus a second call, cold and warm cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

SCRIPT = str(Path(__file__).resolve())
FIRST_CONV = dict(n=32, c_in=64, c_out=64, h=32, w=32, k=3, padding=1)


# -- what runs inside the fresh processes ------------------------------------------------------------

def child_import(module: str) -> dict:
    """Seconds to import ``module`` (numpy is imported first and not counted unless module is numpy)."""
    if module != "numpy":
        import numpy  # noqa: F401
    t0 = time.perf_counter()
    __import__(module)
    return {"module": module, "seconds": time.perf_counter() - t0,
            "numba_imported": "numba" in sys.modules, "torch_imported": "torch" in sys.modules}


def child_first_conv(backend: str, batch: str | None = None) -> dict:
    """Import npvision.functional, then time the first and the second conv forward+backward.

    ``batch`` overrides N (the smoke test uses a tiny one).
    """
    import numpy as np

    t0 = time.perf_counter()
    import npvision
    import npvision.functional as F
    t_import = time.perf_counter() - t0

    p = dict(FIRST_CONV, n=int(batch)) if batch else FIRST_CONV
    rng = np.random.default_rng(0)
    x = rng.standard_normal((p["n"], p["h"], p["w"], p["c_in"]), dtype=np.float32)
    w = 0.05 * rng.standard_normal((p["k"], p["k"], p["c_in"], p["c_out"]), dtype=np.float32)
    b = np.zeros(p["c_out"], dtype=np.float32)
    dout = rng.standard_normal((p["n"], p["h"], p["w"], p["c_out"]), dtype=np.float32)

    def fwd_bwd():
        with npvision.use_backend(backend):
            out, cache = F.conv2d_forward(x, w, b, stride=1, padding=p["padding"])
            return F.conv2d_backward(dout, cache)

    t1 = time.perf_counter()
    fwd_bwd()
    t_first = time.perf_counter() - t1
    t2 = time.perf_counter()
    fwd_bwd()
    t_second = time.perf_counter() - t2
    return {"backend": backend, "import_s": t_import, "first_fwd_bwd_s": t_first,
            "second_fwd_bwd_s": t_second, "import_plus_first_s": t_import + t_first,
            "numba_imported": "numba" in sys.modules}


def _kernel_args(op: str):
    """Tiny float32 arguments for a kernel op of the table (signatures from the API brief), or None."""
    import numpy as np

    rng = np.random.default_rng(0)
    f32 = lambda *s: rng.standard_normal(s, dtype=np.float32)  # noqa: E731
    one = (1, 1)
    xp = f32(2, 6, 6, 3)                       # padded input (N, H, W, C)
    if op.startswith("conv"):
        w, dout = f32(3, 3, 3, 4), f32(2, 4, 4, 4)
    elif op.startswith("depthwise_conv2d"):
        w, dout = f32(3, 3, 3, 1), f32(2, 4, 4, 3)
    pool, dpool = (2, 2), f32(2, 3, 3, 3)
    table = {
        "avg_pool2d_forward": lambda: (xp, pool, pool),
        "avg_pool2d_backward": lambda: (dpool, xp.shape, pool, pool),
    }
    # every convolution op takes the unpadded input and a Window (stride, dilation, padding;
    # here none). A 3-channel input: the numba backend's convolutions take the direct planar loops.
    from npvision.kernels.window import Window

    win = Window(one, one, ((0, 0), (0, 0)))
    table["conv2d_forward"] = lambda: (xp, w, None, win)
    table["conv2d_backward"] = lambda: (dout, xp, w, win)
    table["conv_transpose2d_forward"] = lambda: (dout, w, None, win, xp.shape[1:3])
    table["conv_transpose2d_backward"] = lambda: (xp, dout, w, win)
    table["depthwise_conv2d_forward"] = lambda: (xp, w, None, win)
    table["depthwise_conv2d_backward"] = lambda: (dout, xp, w, win)
    table["conv2d_fft_forward"] = lambda: (xp, w, ((0, 0), (0, 0)))      # the FFT conv: unpadded x, pads
    table["conv2d_fft_backward"] = lambda: (dout, xp, w, ((0, 0), (0, 0)))
    if op.startswith("max_pool2d") or op.startswith("max_unpool2d"):
        import npvision.kernels as K
        _, argmax = K.get("max_pool2d_forward", "numpy")(xp, pool, pool)
        table["max_pool2d_forward"] = lambda: (xp, pool, pool)
        table["max_pool2d_backward"] = lambda: (dpool, argmax, xp.shape, pool, pool)
        table["max_unpool2d_backward"] = lambda: (f32(*xp.shape), argmax, pool, pool)
    make = table.get(op)
    return None if make is None else make()


def child_kernels() -> dict:
    """For every op with a numba kernel: seconds of its first call and of a second call.

    numba itself is imported first and timed apart, so that the first kernel
    does not carry it (it still carries the start of numba's thread pool).
    """
    t0 = time.perf_counter()
    import numba  # noqa: F401
    t_numba = time.perf_counter() - t0
    import npvision.kernels as K

    res = {"(import numba)": {"first_s": t_numba, "second_s": 0.0}}
    for op, backends in K.ops().items():
        if "numba" not in backends:
            continue
        args = _kernel_args(op)
        if args is None:
            res[op] = {"error": "arguments unknown to this benchmark"}
            continue
        fn = K.get(op, "numba")
        try:
            t0 = time.perf_counter()
            fn(*args)
            t1 = time.perf_counter()
            fn(*args)
            t2 = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - report and go on
            res[op] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            continue
        res[op] = {"first_s": t1 - t0, "second_s": t2 - t1}
    return res


# -- the parent --------------------------------------------------------------------------------------

def _child(args: list[str], cache_dir: str | None = None) -> dict:
    env = {"NUMBA_CACHE_DIR": cache_dir} if cache_dir else None
    return C.run_json_child([SCRIPT, *args], env=env)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 import repeats, no per-kernel compile times")
    ap.add_argument("--repeats", type=int, default=None, help="fresh processes per import time (default 5)")
    ap.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    ap.add_argument("--_child", dest="child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        kind, rest = args.child[0], args.child[1:]
        fn = {"import": child_import, "first_conv": child_first_conv, "kernels": child_kernels}[kind]
        print(json.dumps(fn(*rest)))
        return 0

    repeats = args.repeats or (2 if args.quick else 5)
    info = C.machine_info()
    load = C.OtherLoad().start()
    out: dict = {"machine": info, "imports": {}, "first_conv": {}, "kernels": {}}

    for module in ("numpy", "numba", "npvision", "npvision.functional", "npvision.nn"):
        runs = [_child(["--_child", "import", module]) for _ in range(repeats)]
        out["imports"][module] = {"median_s": C.median([r["seconds"] for r in runs]),
                                  "runs_s": [r["seconds"] for r in runs],
                                  "numba_imported": runs[0]["numba_imported"]}

    for backend in ("auto", "numba"):
        with tempfile.TemporaryDirectory(prefix="npvision-numba-cache-") as cache:
            cold = _child(["--_child", "first_conv", backend], cache)
            warm = _child(["--_child", "first_conv", backend], cache)
        out["first_conv"][backend] = {"cold": cold, "warm": warm}

    if not args.quick:
        with tempfile.TemporaryDirectory(prefix="npvision-numba-cache-") as cache:
            cold = _child(["--_child", "kernels"], cache)
            warm = _child(["--_child", "kernels"], cache)
        out["kernels"] = {op: {"cold": cold[op], "warm": warm.get(op, {})} for op in cold}
    out["other_load"] = load.stop()

    # -- report --
    print(f"\nnpvision start-up benchmark -- {info['date_utc']}")
    print(f"machine: {info['cpu']}, {info['logical_cpus']} logical CPUs; python {info['python']}, "
          f"numpy {info['numpy']}, numba {info['numba']}")
    if out["other_load"] is not None:
        print(f"other processes used {100 * out['other_load']:.0f}% of the CPUs during this run")
    print("\nimport time in a fresh process (numpy already imported, except for numpy itself):")
    rows = [[m, C.fmt_num(1e3 * v["median_s"], 0), " ".join(f"{1e3 * t:.0f}" for t in v["runs_s"]),
             "yes" if v["numba_imported"] else "no"] for m, v in out["imports"].items()]
    print(C.format_table(["import", "median ms", f"runs (ms, {repeats})", "pulls in numba?"], rows))
    imp = out["imports"]["npvision"]["median_s"]
    print(f"target: import npvision < 0.6 s -> {imp:.3f} s: {'met' if imp < 0.6 else 'NOT met'}")

    p = FIRST_CONV
    print(f"\nfirst conv forward+backward in a fresh process (N{p['n']} {p['c_in']}->{p['c_out']} "
          f"{p['h']}x{p['w']} k{p['k']} p{p['padding']}, float32):")
    rows = []
    for backend, d in out["first_conv"].items():
        for state in ("cold", "warm"):
            r = d[state]
            rows.append([backend, state, C.fmt_num(r["import_s"], 3), C.fmt_num(r["first_fwd_bwd_s"], 3),
                         C.fmt_num(r["second_fwd_bwd_s"], 3),
                         C.fmt_num(r["first_fwd_bwd_s"] - r["second_fwd_bwd_s"], 3),
                         C.fmt_num(r["import_plus_first_s"], 3)])
    print(C.format_table(["backend", "numba cache", "import s", "1st fwd+bwd s", "2nd fwd+bwd s",
                          "1st - 2nd s", "import + 1st s"], rows, align="llrrrrr"))
    print("1st - 2nd = the one-time cost of the first call (numba import, compile or cache load, "
          "first allocations).")
    warm_first = out["first_conv"]["auto"]["warm"]["first_fwd_bwd_s"]
    print(f"target: warm-cache first conv fwd+bwd (default backend) < 1.5 s -> {warm_first:.3f} s: "
          f"{'met' if warm_first < 1.5 else 'NOT met'}")

    if out["kernels"]:
        print("\nnumba kernels, tiny float32 inputs: first call (compile or cache load + run) and a second call:")
        rows = []
        for op, d in out["kernels"].items():
            c, w = d["cold"], d["warm"]
            if "error" in c:
                rows.append([op, "-", "-", "-", "not timed: " + c["error"][:50]])
                continue
            rows.append([op, C.fmt_num(c["first_s"], 3), C.fmt_num(w.get("first_s"), 3),
                         C.fmt_num(1e3 * c["second_s"], 3), ""])
        tot_cold = sum(d["cold"].get("first_s", 0.0) for d in out["kernels"].values())
        tot_warm = sum(d["warm"].get("first_s", 0.0) for d in out["kernels"].values())
        rows.append(["total", C.fmt_num(tot_cold, 2), C.fmt_num(tot_warm, 2), "", ""])
        print(C.format_table(["op (numba backend)", "cold 1st s", "warm 1st s", "2nd call ms", ""], rows,
                             align="lrrrl"))
        print("cold = empty NUMBA_CACHE_DIR (compiles); warm = same directory in a new process (loads).")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
