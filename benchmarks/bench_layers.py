"""Time npvision's layers, forward and forward+backward, against this machine's ceiling and PyTorch.

Run from the repository root::

    python benchmarks/bench_layers.py                 # full run (a few minutes)
    python benchmarks/bench_layers.py --quick         # tiny shapes, 1 round: a smoke run
    python benchmarks/bench_layers.py --rounds 25 --backends numpy numba auto --json out.json
    python benchmarks/bench_layers.py --layers depthwise pool   # only layers whose name matches

What it measures (float32, channels-last, see ``benchmarks/README.md`` for the columns):

* for every layer shape and every backend, the median time of a forward pass
  (``F.<op>_forward``) and of a forward plus backward pass (``F.<op>_backward``
  computing dx and, for convolutions, dw and db);
* GFLOP/s from a stated FLOP count (a multiply-add is 2 FLOPs) and the fraction
  of this machine's float32 ``np.matmul`` rate, measured at the start of the same run;
* when PyTorch is importable (optional), PyTorch on the same shapes in its
  channels-last layout with the same number of threads, interleaved round by
  round with npvision, and the ratio npvision / PyTorch (lower is better);
* in fresh subprocesses: the peak resident-memory growth of one conv forward +
  backward (N32 64->64 32x32) for npvision and PyTorch, and for a large batch
  (N256) to show that npvision's memory stays bounded.

The ``naive`` backend is a plain Python loop; it is timed only with ``--quick``
(tiny shapes) and skipped with a note otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

ALL_BACKENDS = ("naive", "numpy", "numba", "auto")


# -- the layers -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    """One benchmarked layer shape. ``kind`` names the functional op family."""

    name: str
    kind: str          # "conv", "depthwise", "conv_transpose", "max_pool" or "avg_pool"
    n: int
    c_in: int
    c_out: int
    h: int
    w: int
    k: int
    stride: int = 1
    padding: int = 0
    extra: bool = False   # not one of the fixed shapes
    target: float = 1.2   # wanted upper bound of npvision/PyTorch for fwd+bwd (default backend; issue 19)

    # Output size. conv, depthwise, pools: H_out = (H + 2p - k) // s + 1;
    # transpose conv: H_out = (H - 1) * s - 2p + k.
    def out_hw(self) -> tuple[int, int]:
        if self.kind == "conv_transpose":
            f = lambda n: (n - 1) * self.stride - 2 * self.padding + self.k  # noqa: E731
        else:
            f = lambda n: (n + 2 * self.padding - self.k) // self.stride + 1  # noqa: E731
        return f(self.h), f(self.w)

    def flops(self) -> tuple[float, float, str]:
        """(forward FLOPs, forward+backward FLOPs, the formula in words)."""
        n, ci, co, k = self.n, self.c_in, self.c_out, self.k
        ho, wo = self.out_hw()
        if self.kind == "conv":
            f = 2.0 * n * ho * wo * co * k * k * ci
            return f, 3 * f, "fwd = 2*N*Ho*Wo*Cout*K*K*Cin; fwd+bwd = 3*fwd (dx and dw cost one fwd each)"
        if self.kind == "depthwise":
            f = 2.0 * n * ho * wo * ci * k * k
            return f, 3 * f, "fwd = 2*N*Ho*Wo*C*K*K; fwd+bwd = 3*fwd"
        if self.kind == "conv_transpose":
            f = 2.0 * n * self.h * self.w * ci * k * k * co
            return f, 3 * f, "fwd = 2*N*H_in*W_in*Cin*K*K*Cout; fwd+bwd = 3*fwd"
        f = 1.0 * n * ho * wo * ci * k * k
        return f, 2 * f, "ops, not FLOPs: fwd = N*Ho*Wo*C*K*K (one compare/add per window element); fwd+bwd = 2*fwd"

    def tiny(self) -> "Layer":
        """The same layer on tiny shapes (for --quick and the naive backend)."""
        c_in = min(self.c_in, 3)
        c_out = c_in if self.kind in ("depthwise", "max_pool", "avg_pool") else min(self.c_out, 4)
        return replace(self, n=2, c_in=c_in, c_out=c_out, h=min(self.h, 8), w=min(self.w, 8))


def _pool_layer(name, kind, extra=False, target=1.2):
    return Layer(name, kind, n=32, c_in=64, c_out=64, h=32, w=32, k=2, stride=2, extra=extra, target=target)


LAYERS = [
    Layer("conv N32 3->16 32x32 k3 p1", "conv", 32, 3, 16, 32, 32, 3, 1, 1),
    Layer("conv N32 64->64 32x32 k3 p1", "conv", 32, 64, 64, 32, 32, 3, 1, 1),
    Layer("conv N16 128->128 16x16 k3 p1", "conv", 16, 128, 128, 16, 16, 3, 1, 1),
    Layer("conv N32 64->128 32x32 1x1", "conv", 32, 64, 128, 32, 32, 1, 1, 0),
    Layer("depthwise N32 C64 32x32 k3 p1", "depthwise", 32, 64, 64, 32, 32, 3, 1, 1),
    Layer("conv_T N16 64->32 16x16 k2 s2", "conv_transpose", 16, 64, 32, 16, 16, 2, 2, 0),
    _pool_layer("max-pool N32 C64 32x32 2x2", "max_pool", target=1.0),
    _pool_layer("avg-pool N32 C64 32x32 2x2", "avg_pool", extra=True),
    Layer("conv N32 64->128 32x32 k3 s2 p1", "conv", 32, 64, 128, 32, 32, 3, 2, 1, extra=True),
]

MEMORY_LAYER = LAYERS[1]          # conv N32 64->64 32x32 k3 p1
LARGE_BATCH = 256


def make_arrays(layer: Layer, seed: int = 0) -> dict[str, np.ndarray]:
    """float32 NHWC input, npvision-layout weight and bias, and an upstream gradient."""
    rng = np.random.default_rng(seed)
    ho, wo = layer.out_hw()
    a = {"x": rng.standard_normal((layer.n, layer.h, layer.w, layer.c_in), dtype=np.float32)}
    k, ci, co = layer.k, layer.c_in, layer.c_out
    scale = 1.0 / math.sqrt(k * k * ci)
    if layer.kind == "conv":
        a["w"] = scale * rng.standard_normal((k, k, ci, co), dtype=np.float32)   # (KH, KW, C_in, C_out)
        a["b"] = rng.standard_normal(co, dtype=np.float32)
    elif layer.kind == "depthwise":
        a["w"] = rng.standard_normal((k, k, ci, 1), dtype=np.float32) / k        # (KH, KW, C, M=1)
        a["b"] = rng.standard_normal(ci, dtype=np.float32)
    elif layer.kind == "conv_transpose":
        a["w"] = scale * rng.standard_normal((k, k, co, ci), dtype=np.float32)   # (KH, KW, C_out, C_in)
        a["b"] = rng.standard_normal(co, dtype=np.float32)
    a["dout"] = rng.standard_normal((layer.n, ho, wo, co), dtype=np.float32)
    return a


# -- npvision and PyTorch as callables ---------------------------------------------------------------

def npvision_calls(layer: Layer, a: dict, backend: str):
    """(forward, forward+backward) closures running npvision's functional op under ``backend``."""
    import npvision
    import npvision.functional as F

    s, p = layer.stride, layer.padding
    if layer.kind == "conv":
        fwd = lambda: F.conv2d_forward(a["x"], a["w"], a["b"], stride=s, padding=p)  # noqa: E731
        bwd = F.conv2d_backward
    elif layer.kind == "depthwise":
        fwd = lambda: F.depthwise_conv2d_forward(a["x"], a["w"], a["b"], stride=s, padding=p)  # noqa: E731
        bwd = F.depthwise_conv2d_backward
    elif layer.kind == "conv_transpose":
        fwd = lambda: F.conv_transpose2d_forward(a["x"], a["w"], a["b"], stride=s, padding=p)  # noqa: E731
        bwd = F.conv_transpose2d_backward
    elif layer.kind == "max_pool":
        fwd = lambda: F.max_pool2d_forward(a["x"], layer.k, stride=s, padding=p)  # noqa: E731
        bwd = F.max_pool2d_backward
    elif layer.kind == "avg_pool":
        fwd = lambda: F.avg_pool2d_forward(a["x"], layer.k, stride=s, padding=p)  # noqa: E731
        bwd = F.avg_pool2d_backward
    else:
        raise ValueError(f"layer.kind: unknown {layer.kind!r}")

    def forward():
        with npvision.use_backend(backend):
            return fwd()

    def forward_backward():
        with npvision.use_backend(backend):
            out, cache = fwd()
            return out, bwd(a["dout"], cache)

    return forward, forward_backward


def torch_calls(layer: Layer, a: dict, torch):
    """(forward, forward+backward) closures for PyTorch, channels-last, gradients of x, w, b.

    The forward runs with autograd recording (a training forward, like npvision's,
    which keeps a cache); the backward is ``torch.autograd.grad``, so nothing accumulates.
    """
    tF = torch.nn.functional
    cl = torch.channels_last

    def t(arr, perm):  # numpy -> torch tensor with the axes permuted, channels-last strides
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(perm)))

    x = t(a["x"], (0, 3, 1, 2)).contiguous(memory_format=cl).requires_grad_(True)       # (N, C, H, W)
    dout = t(a["dout"], (0, 3, 1, 2)).contiguous(memory_format=cl)
    s, p = layer.stride, layer.padding
    params = [x]
    if layer.kind in ("conv", "depthwise", "conv_transpose"):
        # conv: (KH,KW,Cin,Cout) -> (Cout,Cin,KH,KW); depthwise: (KH,KW,C,1) -> (C,1,KH,KW);
        # transpose: (KH,KW,Cout,Cin) -> (Cin,Cout,KH,KW), PyTorch's conv_transpose2d layout.
        w = t(a["w"], (3, 2, 0, 1) if layer.kind != "depthwise" else (2, 3, 0, 1))
        w = w.contiguous(memory_format=cl).requires_grad_(True)
        b = torch.from_numpy(a["b"].copy()).requires_grad_(True)
        params += [w, b]
        if layer.kind == "conv":
            op = lambda: tF.conv2d(x, w, b, stride=s, padding=p)  # noqa: E731
        elif layer.kind == "depthwise":
            op = lambda: tF.conv2d(x, w, b, stride=s, padding=p, groups=layer.c_in)  # noqa: E731
        else:
            op = lambda: tF.conv_transpose2d(x, w, b, stride=s, padding=p)  # noqa: E731
    elif layer.kind == "max_pool":
        op = lambda: tF.max_pool2d(x, layer.k, stride=s, padding=p)  # noqa: E731
    else:
        op = lambda: tF.avg_pool2d(x, layer.k, stride=s, padding=p)  # noqa: E731

    def forward_backward():
        out = op()
        return out, torch.autograd.grad(out, params, dout)

    return op, forward_backward


def _to_nhwc(tensor) -> np.ndarray:
    return tensor.detach().permute(0, 2, 3, 1).numpy()   # (N, C, H, W) -> (N, H, W, C)


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(b))))


def check_agreement(outs: dict[str, tuple]) -> dict[str, float]:
    """Max relative error of each method's output and dx against a reference method's.

    The reference is PyTorch when present, else the ``numpy`` backend, else the first.
    A benchmark that compares different math is worthless, so the table flags disagreement.
    """
    def out_dx(label, res):
        out, grads = res
        dx = grads[0] if isinstance(grads, (tuple, list)) else grads
        if label == "torch":
            return _to_nhwc(out), _to_nhwc(dx)
        return np.asarray(out), np.asarray(dx)

    ref_label = "torch" if "torch" in outs else ("numpy" if "numpy" in outs else next(iter(outs)))
    ref = out_dx(ref_label, outs[ref_label])
    errs = {}
    for label, res in outs.items():
        if label != ref_label:
            got = out_dx(label, res)
            errs[label] = max(_rel_err(got[0], ref[0]), _rel_err(got[1], ref[1]))
    return errs


# -- timing one layer --------------------------------------------------------------------------------

def bench_layer(layer: Layer, backends: list[str], torch, rounds: int, min_sample: float,
                warmup: int, children: dict | None = None) -> dict:
    """Time every backend (and PyTorch) on ``layer``, interleaved; return medians and checks.

    ``children`` ({"npvision": TimerChild, "torch": TimerChild}): the timing runs there, each
    library in its own process (:class:`_common.TimerChild`); the check of the math runs here.
    """
    a = make_arrays(layer)
    calls = {b: npvision_calls(layer, a, b) for b in backends}
    if torch is not None:
        calls["torch"] = torch_calls(layer, a, torch)

    # One call each to compare the math (and compile numba kernels before timing).
    first = {}
    errors = {}
    for label, (_, fb) in list(calls.items()):
        try:
            first[label] = fb()
        except Exception as exc:  # noqa: BLE001 - report a broken backend, keep benchmarking the rest
            errors[label] = f"{type(exc).__name__}: {exc}"
            del calls[label]
    agree = check_agreement(first) if len(first) > 1 else {}
    del first

    methods = {}
    for label, (fwd, fb) in calls.items():
        if children is None:
            methods[f"{label}|fwd"] = fwd
            methods[f"{label}|fb"] = fb
        else:
            child = children["torch" if label == "torch" else "npvision"]
            methods[f"{label}|fwd"] = child.timed(f"{layer.name}|{label}|fwd")
            methods[f"{label}|fb"] = child.timed(f"{layer.name}|{label}|fb")
    load = C.OtherLoad([c.pid for c in (children or {}).values()]).start()
    samples = C.time_interleaved(methods, rounds, min_sample=min_sample, warmup=warmup)
    load.stop()
    gc.collect()

    f_fwd, f_fb, formula = layer.flops()
    res = {"layer": asdict(layer), "flops_fwd": f_fwd, "flops_fwd_bwd": f_fb, "flop_formula": formula,
           "errors": errors, "max_rel_err_vs_ref": agree, "other_load": load.fraction, "backends": {}}
    for label in calls:
        t_fwd = C.median(samples[f"{label}|fwd"])
        t_fb = C.median(samples[f"{label}|fb"])
        res["backends"][label] = {"fwd_ms": 1e3 * t_fwd, "fwd_bwd_ms": 1e3 * t_fb,
                                  "gflops_fwd": f_fwd / t_fwd / 1e9, "gflops_fwd_bwd": f_fb / t_fb / 1e9,
                                  "rounds": len(samples[f"{label}|fb"]),
                                  # best round: less disturbed by other processes than the median
                                  "fwd_ms_min": 1e3 * min(samples[f"{label}|fwd"]),
                                  "fwd_bwd_ms_min": 1e3 * min(samples[f"{label}|fb"])}
    if "torch" in res["backends"]:
        # Ratio npvision / PyTorch: the median over rounds of each round's ratio (the two ran
        # back to back, so a busy moment of the machine slows both); the ratio of the
        # medians when a slow method ran fewer rounds.
        for label, r in res["backends"].items():
            if label == "torch":
                continue
            for part, key in (("fwd", "ratio_fwd"), ("fb", "ratio_fwd_bwd")):
                mine, ref = samples[f"{label}|{part}"], samples[f"torch|{part}"]
                if len(mine) == len(ref):
                    r[key] = C.median([m / t for m, t in zip(mine, ref)])
                else:
                    r[key] = C.median(mine) / C.median(ref)
            tt = res["backends"]["torch"]
            r["ratio_fwd_bwd_of_medians"] = r["fwd_bwd_ms"] / tt["fwd_bwd_ms"]
            r["ratio_fwd_bwd_of_best_rounds"] = r["fwd_bwd_ms_min"] / tt["fwd_bwd_ms_min"]
    return res


def timer_child(library: str, quick: bool, threads: int) -> int:
    """The child mode (``--_timer-child``): build and time one library's calls on request
    (:func:`_common.serve_timers`; keys ``"<layer name>|<backend or torch>|<fwd or fb>"``)."""
    torch = C.import_torch() if library == "torch" else None
    if torch is not None:
        torch.set_num_threads(threads)
    layers = {lay.name: (lay.tiny() if quick else lay) for lay in LAYERS}
    arrays: dict[str, dict] = {}

    def build(key: str):
        name, backend, part = key.split("|")
        layer = layers[name]
        a = arrays.setdefault(name, make_arrays(layer))          # the parent's arrays: same seed
        fwd, fb = torch_calls(layer, a, torch) if backend == "torch" else npvision_calls(layer, a, backend)
        return fwd if part == "fwd" else fb

    C.serve_timers(build)
    return 0


# -- memory, in fresh subprocesses -------------------------------------------------------------------

def memory_child(framework: str, n: int, threads: int) -> dict:
    """In this (fresh) process: RSS growth of one conv fwd+bwd on N n 64->64 32x32 k3 p1.

    Kernels are warmed up on a tiny batch first (loading numba's cache or PyTorch's
    lazy state is not what we measure); then the inputs are allocated, the peak-RSS
    mark is reset, and three fwd+bwd passes run. Growth = peak RSS - RSS before.
    For npvision a second figure, ``tracemalloc`` peak, counts only NumPy's allocations.
    """
    layer = replace(MEMORY_LAYER, n=n)
    a = make_arrays(layer)
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        _, warm = torch_calls(replace(layer, n=2), make_arrays(replace(layer, n=2)), torch)
        warm()
        _, fb = torch_calls(layer, a, torch)
    else:
        _, warm = npvision_calls(replace(layer, n=2), make_arrays(replace(layer, n=2)), "auto")
        warm()
        _, fb = npvision_calls(layer, a, "auto")
    gc.collect()
    before = C.current_rss_mb()
    reset_ok = C.reset_peak_rss()
    for _ in range(3):
        res = fb()
        del res
    growth = C.peak_rss_mb() - before
    out = {"framework": framework, "n": n, "rss_growth_mb": growth, "peak_reset": reset_ok,
           "x_mb": a["x"].nbytes / 2 ** 20,
           # What a fwd+bwd must hand back at least: out + dx + dw + db.
           "essential_mb": (a["dout"].nbytes + a["x"].nbytes + a["w"].nbytes + a["b"].nbytes) / 2 ** 20}
    if framework == "npvision":
        import tracemalloc
        gc.collect()
        tracemalloc.start()
        res = fb()
        del res
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        import npvision.kernels as K
        out["auto_backends"] = {op: K.fastest()[op] for op in K.fastest() if op.startswith("conv2d")}
    return out


def run_memory(n: int, torch_ok: bool, threads: int, repeats: int = 1) -> dict:
    """Peak-memory growth of npvision (and PyTorch), each in ``repeats`` fresh processes.

    Reports the run with the median growth, plus every run's growth.
    """
    script = str(Path(__file__).resolve())
    res = {}
    for fw in (["npvision", "torch"] if torch_ok else ["npvision"]):
        try:
            runs = [C.run_json_child([script, "--_mem-child", fw, "--_mem-n", str(n),
                                      "--threads", str(threads)]) for _ in range(repeats)]
        except Exception as exc:  # noqa: BLE001
            res[fw] = {"error": str(exc)[-500:]}
            continue
        runs.sort(key=lambda r: r["rss_growth_mb"])
        res[fw] = dict(runs[len(runs) // 2], rss_growth_runs_mb=[r["rss_growth_mb"] for r in runs])
    return res


# -- the report --------------------------------------------------------------------------------------

def print_report(info: dict, results: list[dict], memory: dict, notes: list[str]) -> None:
    mm = info["matmul_gflops"]
    print(f"\nnpvision layer benchmark -- {info['date_utc']}")
    print(f"machine: {info['cpu']}, {info['vector_isa']}, {info['logical_cpus']} logical CPUs, "
          f"{info['ram_gb']} GB RAM; load average before the run: {info['loadavg']}")
    print(f"numba kernels compiled for: {info['numba_target']}; other libraries: {info['library_isa']}")
    print(f"timing: {info['timing']}")
    print(f"python {info['python']}, numpy {info['numpy']} ({info['blas']}), numba {info['numba']}, "
          f"torch {info['torch'] if info['torch_used'] else 'not used'}; threads: {info['threads']}")
    print(f"float32 np.matmul: {mm:.1f} GFLOP/s ({info['matmul_n']}x{info['matmul_n']} square, median); "
          f"{info['matmul_im2col_gflops']:.1f} GFLOP/s im2col-shaped {info['matmul_im2col_shape']}")
    print(f"rounds: {info['rounds']} (median of rounds; methods interleaved round by round)")
    if info.get("quick"):
        print("QUICK RUN: every layer on tiny shapes (N2, at most 3->4 channels, 8x8); the names say "
              "what a full run times. These numbers check the script, not the speed.")
    print()

    headers = ["layer", "backend", "fwd ms", "f+b ms", "fwd GF/s", "f+b GF/s", "f+b %mm",
               "fwd x torch", "f+b x torch", "best x torch", "target f+b", "met?", "busy"]
    rows = []
    failures = []
    for r in results:
        lay = r["layer"]
        first = True
        for label, b in r["backends"].items():
            pool = lay["kind"] in ("max_pool", "avg_pool")
            err = r["max_rel_err_vs_ref"].get(label)
            tag = label + (" (!)" if err is not None and err > 1e-3 else "")
            target = met = ""
            if label == "auto" and "ratio_fwd_bwd" in b:
                target = f"<={lay['target']:.1f}x" if lay["target"] != 1.0 else "<1.0x, fwd too"
                # max pooling must beat PyTorch forward and fwd+bwd; the others bound fwd+bwd
                ok = (b["ratio_fwd_bwd"] < 1.0 and b.get("ratio_fwd", 2.0) < 1.0) if lay["target"] == 1.0 else \
                    b["ratio_fwd_bwd"] <= lay["target"]
                met = "yes" if ok else "NO"
            rows.append([lay["name"] + (" *" if lay["extra"] else "") if first else "", tag,
                         C.fmt_num(b["fwd_ms"], 2), C.fmt_num(b["fwd_bwd_ms"], 2),
                         C.fmt_num(b["gflops_fwd"], 1), C.fmt_num(b["gflops_fwd_bwd"], 1),
                         "-" if pool else C.fmt_num(100 * b["gflops_fwd_bwd"] / mm, 0) + "%",
                         C.fmt_num(b.get("ratio_fwd"), 2), C.fmt_num(b.get("ratio_fwd_bwd"), 2),
                         C.fmt_num(b.get("ratio_fwd_bwd_of_best_rounds"), 2),
                         target, met,
                         C.fmt_num(100 * r["other_load"], 0) + "%" if first and r["other_load"] is not None else ""])
            first = False
        for label, msg in r["errors"].items():
            rows.append(["" if not first else lay["name"], label, "FAILED"] + [""] * 10)
            failures.append(f"{lay['name']} / {label}: {msg}")
            first = False
    print(C.format_table(headers, rows, align="ll" + "r" * 11))
    print("\n* extra shape (not one of the issue's fixed layers).  (!) output or dx disagrees with the "
          "reference (PyTorch, else numpy) by more than 1e-3 relative.")
    print("x torch = npvision time / PyTorch time, median over rounds of each round's ratio (lower is "
          "better); best x torch = best f+b round / PyTorch's best f+b round.")
    print("%mm = f+b GFLOP/s as a fraction of the square matmul rate (not shown for pooling: memory-bound). "
          "The target applies to the default backend (auto) and the f+b x torch column.")
    for f in failures:
        print("FAILED:", f[:300])
    print("busy = CPU time used by other processes while the layer was timed, as a share of both CPUs "
          "(0% = quiet machine; high values make absolute times unreliable, ratios less so).")
    print("FLOP counts (multiply-add = 2 FLOPs):")
    seen = set()
    for r in results:
        if r["flop_formula"] not in seen:
            seen.add(r["flop_formula"])
            print(f"  {r['layer']['kind']:15s} {r['flop_formula']}")

    if memory:
        print("\nPeak memory growth of one conv fwd+bwd (64->64 32x32 k3 p1), fresh process each, "
              "RSS high-water minus RSS before (N32: median of 3 processes):")
        mrows = []
        for key, per_fw in memory.items():
            for fw, m in per_fw.items():
                if "error" in m:
                    mrows.append([key, fw, "FAILED", m["error"][-60:], "", "", ""])
                    continue
                tm = m.get("tracemalloc_peak_mb")
                runs = m.get("rss_growth_runs_mb", [])
                mrows.append([key, fw, f"N{m['n']}", C.fmt_num(m["rss_growth_mb"], 1),
                              " ".join(f"{g:.0f}" for g in runs),
                              C.fmt_num(m["rss_growth_mb"] / m["essential_mb"], 2),
                              "-" if tm is None else C.fmt_num(tm, 1)])
        print(C.format_table(["check", "framework", "batch", "RSS growth MiB", "runs", "/ essential",
                              "tracemalloc MiB"], mrows, align="lll" + "rrrr"))
        print("essential = out + dx + dw + db, the arrays a fwd+bwd must return; tracemalloc counts "
              "NumPy's allocations only (not numba's or BLAS's).")
        t = memory.get("N32", {})
        if "rss_growth_mb" in t.get("npvision", {}) and "rss_growth_mb" in t.get("torch", {}):
            ratio = t["npvision"]["rss_growth_mb"] / max(t["torch"]["rss_growth_mb"], 1e-9)
            print(f"npvision / PyTorch peak growth at N32: {ratio:.2f} "
                  f"(target <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'})")
    for note in notes:
        print("note:", note)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds per method (default 15; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="tiny shapes, 1 round: checks the script, not the speed")
    ap.add_argument("--backends", nargs="+", default=None, choices=ALL_BACKENDS,
                    help="npvision backends to time (default: numpy numba auto; naive too with --quick)")
    ap.add_argument("--layers", nargs="+", default=None, metavar="SUBSTR",
                    help="only layers whose name contains one of these strings")
    ap.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch even if installed")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="PyTorch threads (default: the logical CPU count, as numba and OpenBLAS use)")
    ap.add_argument("--cpu", choices=sorted(C.CPU_TARGETS), default=None,
                    help="compile npvision's kernels for this vector target (own numba cache) instead of "
                         "this CPU; 'avx2' runs an AVX2-only machine's code on this one, "
                         "in npvision, OpenBLAS and PyTorch alike")
    C.add_timing_arguments(ap)
    ap.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    ap.add_argument("--_mem-child", dest="mem_child", help=argparse.SUPPRESS)
    ap.add_argument("--_mem-n", dest="mem_n", type=int, default=32, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    C.use_cpu_target(args.cpu)
    if args.timer_child:
        return timer_child(args.timer_child, args.quick, args.threads)
    if args.mem_child:
        print(json.dumps(memory_child(args.mem_child, args.mem_n, args.threads)))
        return 0

    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 15)
    if rounds < 1:
        ap.error(f"--rounds: expected a positive integer, received {rounds}")
    notes = []
    backends = list(args.backends or (ALL_BACKENDS if args.quick else ("numpy", "numba", "auto")))
    if "naive" in backends and not args.quick:
        backends.remove("naive")
        notes.append("the naive backend (a Python loop, for reading) is timed only with --quick, on tiny shapes.")
    elif not args.quick:
        notes.append("naive backend skipped: it is a Python loop for reading; see --quick for it on tiny shapes.")

    layers = LAYERS
    if args.layers:
        layers = [lay for lay in LAYERS if any(s in lay.name for s in args.layers)]
        if not layers:
            ap.error(f"--layers: no layer name contains any of {args.layers}; names: {[x.name for x in LAYERS]}")
    if args.quick:
        layers = [lay.tiny() for lay in layers]

    torch = None if args.no_torch else C.import_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)

    info = C.machine_info()
    info["loadavg"] = C.load_average()
    info["numba_target"] = C.numba_target_description()
    info["library_isa"] = C.library_isa_description(torch)
    mm_n = 256 if args.quick else 2048
    info["matmul_n"] = mm_n
    info["matmul_gflops"] = C.matmul_rate(mm_n, rounds=3 if args.quick else 9)
    big = MEMORY_LAYER if not args.quick else MEMORY_LAYER.tiny()
    im2col = (big.n * big.h * big.w, big.k * big.k * big.c_in, big.c_out)   # (N*Ho*Wo, K*K*Cin, Cout)
    info["matmul_im2col_shape"] = "x".join(map(str, im2col))
    info["matmul_im2col_gflops"] = C.matmul_rate(shape=im2col, rounds=3 if args.quick else 9)
    info["threads"] = {"torch": torch.get_num_threads() if torch is not None else None,
                       "numba_and_blas_default": os.cpu_count()}
    info["torch_used"] = torch is not None
    info["quick"] = args.quick
    info["rounds"] = rounds
    info["backends"] = backends

    info["timing"] = C.timing_description(args.in_process)

    results = []
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        children = None
        if not args.in_process:
            child_args = [str(Path(__file__).resolve()), "--threads", str(args.threads)] + (["--quick"] * args.quick)
            children = C.start_timer_children(stack, child_args, torch is not None)
        for lay in layers:
            print(f"timing {lay.name} ...", file=sys.stderr, flush=True)
            results.append(bench_layer(lay, backends, torch, rounds, min_sample=0.0 if args.quick else 0.02,
                                       warmup=1 if args.quick else 2, children=children))

    memory = {}
    if not args.no_memory:
        print("measuring memory in fresh subprocesses ...", file=sys.stderr, flush=True)
        if args.quick:   # one small check of the machinery
            memory["small"] = run_memory(2, torch is not None, args.threads)
        else:
            memory["N32"] = run_memory(MEMORY_LAYER.n, torch is not None, args.threads, repeats=3)
            memory[f"N{LARGE_BATCH} (large batch)"] = run_memory(LARGE_BATCH, torch is not None, args.threads)
    info["seconds"] = time.perf_counter() - t0

    print_report(info, results, memory, notes)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "layers": results, "memory": memory, "notes": notes}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
