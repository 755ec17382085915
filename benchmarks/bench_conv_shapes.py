"""Where the convolutions of a training step lose time: every conv shape of the models, pass by pass.

Run from the repository root::

    python benchmarks/bench_conv_shapes.py                          # the four models of bench_models.py
    python benchmarks/bench_conv_shapes.py --models resnet18 --top 10
    python benchmarks/bench_conv_shapes.py --quick                  # tiny inputs: checks the script

For each model of ``bench_models.py`` (same batch, 64x64 inputs, float32) one training
step is run with npvision's ``conv2d_forward`` / ``conv2d_backward`` kernels wrapped, which
records every dense convolution the step makes: input shape, kernel, stride, padding,
whether its input gradient is needed (a network's first layer skips it), and how many
times per step. Each distinct shape is then replayed on its own, pass by pass:

* ``fwd``: ``out = conv(x, w)``;
* ``dx``:  the input gradient (skipped for a first layer);
* ``dw``:  the weight gradient and the bias gradient,

npvision with the algorithm ``npvision.kernels.conv_plan.plan_conv2d`` picks for the
pass, PyTorch with the same shape in channels-last (``torch.nn.functional.conv2d`` and
``aten::convolution_backward`` with one output asked for), interleaved round by round
(``_common.time_interleaved``). ``lost`` is (npvision - PyTorch) ms times the calls per
step: the rows at the top are where the step's conv time goes over PyTorch's.

Depthwise convolutions (MobileNet's and EfficientNet's) are recorded and replayed the same
way, their rows marked ``dw-conv`` with plan ``depthwise`` (npvision's compiled depthwise
passes; PyTorch's grouped convolution, one group per channel).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)
import bench_models as BM  # noqa: E402


def record_shapes(name: str, batch: int, size: int, classes: int) -> "OrderedDict":
    """{(kind, x shape, w shape, stride, pads, dilation, bias?, needs dx?): calls per step} for one
    step of ``name``; kind ``"conv"`` or ``"depthwise"``."""
    from npvision import kernels

    kernels._ensure_loaded()
    table = kernels._TABLE
    seen: OrderedDict = OrderedDict()
    needs: dict = {}
    originals = {}

    def key(kind, x_shape, w_shape, win, has_bias):
        return (kind, tuple(x_shape), tuple(w_shape), tuple(win.stride), tuple(map(tuple, win.pads)),
                tuple(win.dilation), has_bias)

    def wrap(kind, op):
        fwd0, bwd0 = table[f"{op}_forward"]["numba"], table[f"{op}_backward"]["numba"]
        originals[op] = (fwd0, bwd0)

        def fwd(x, w, b, win):
            k = key(kind, x.shape, w.shape, win, b is not None)
            seen[k] = seen.get(k, 0) + 1
            return fwd0(x, w, b, win)

        def bwd(dout, x, w, win, need_input_grad=True):
            for k in seen:
                if k[:6] == key(kind, x.shape, w.shape, win, False)[:6]:
                    needs[k] = needs.get(k, False) or need_input_grad
            return bwd0(dout, x, w, win, need_input_grad)

        table[f"{op}_forward"]["numba"], table[f"{op}_backward"]["numba"] = fwd, bwd

    x, y = BM.make_batch(batch, size, classes)
    model, opt, step = BM.npvision_step(name, x, y, classes, 1e-4, 0.9)
    wrap("conv", "conv2d")
    wrap("depthwise", "depthwise_conv2d")
    try:
        step()
    finally:
        for op, (fwd0, bwd0) in originals.items():
            table[f"{op}_forward"]["numba"], table[f"{op}_backward"]["numba"] = fwd0, bwd0
    return OrderedDict(((k + (needs.get(k, True),)), n) for k, n in seen.items())


def pass_closures(shape_key, torch, seed: int = 0):
    """{pass: (npvision closure, torch closure or None)} and the plan, for one recorded shape."""
    from npvision.kernels import conv as conv_ops
    from npvision.kernels import direct
    from npvision.kernels.conv_plan import ConvPlan, plan_conv2d
    from npvision.kernels.window import Window

    kind, x_shape, w_shape, stride, pads, dilation, has_bias, needs_dx = shape_key
    win = Window(stride, dilation, pads)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape, dtype=np.float32)                       # (N, H, W, C)
    w = rng.standard_normal(w_shape, dtype=np.float32) * 0.1                 # (KH, KW, C, F)
    Ho, Wo = win.out_hw(x_shape[1:3], w_shape[:2])
    if kind == "depthwise":                                                  # w (KH, KW, C, M)
        from npvision.kernels import depthwise

        F_out = w_shape[2] * w_shape[3]
        b = rng.standard_normal(F_out, dtype=np.float32) if has_bias else None
        dout = rng.standard_normal((x_shape[0], Ho, Wo, F_out), dtype=np.float32)
        plan = ConvPlan("depthwise", "depthwise", "depthwise", "npvision's compiled depthwise passes")
        npv = {"fwd": lambda: depthwise.depthwise_conv2d_forward_numba(x, w, b, win),
               "dx": lambda: depthwise._input_grad_numba(dout, w, x_shape, *win),
               "dw": lambda: depthwise._weight_grad_numba(dout, x, w_shape, *win)}
        groups, w_torch = w_shape[2], w.reshape(*w_shape[:2], 1, F_out)     # (KH, KW, 1, C M)
    else:
        b = rng.standard_normal(w_shape[3], dtype=np.float32) if has_bias else None
        dout = rng.standard_normal((x_shape[0], Ho, Wo, w_shape[3]), dtype=np.float32)
        plan = plan_conv2d(w_shape, win, (x_shape[0], Ho, Wo))
        npv = {"fwd": lambda: conv_ops.FORWARD[plan.forward](x, w, b, win)}
        if plan.input_grad == "direct":
            npv["dx"] = lambda: direct.input_grad(dout, w, x_shape, win)
            npv["dw"] = lambda: direct.conv_backward(dout, x, w, win, False)
        else:
            npv["dx"] = lambda: conv_ops.INPUT_GRAD[plan.input_grad](dout, w, x_shape, win)
            npv["dw"] = lambda: conv_ops.WEIGHT_GRAD[plan.weight_grad](dout, x, w_shape, win)
        groups, w_torch = 1, w
    if not needs_dx:
        del npv["dx"]
    out = {p: (fn, None) for p, fn in npv.items()}
    if torch is None:
        return out, plan
    (t, bt), (l, r) = pads
    cl = torch.channels_last
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=cl)      # (N, C, H, W)
    if (t, l) != (bt, r):                                  # PyTorch pads symmetrically: pad by hand
        xt = torch.nn.functional.pad(xt, (l, r, t, bt)).contiguous(memory_format=cl)
        tpad = (0, 0)
    else:
        tpad = (t, l)
    wt = torch.from_numpy(w_torch.transpose(3, 2, 0, 1).copy()).contiguous(memory_format=cl)  # (F, C/groups, KH, KW)
    bt_ = None if b is None else torch.from_numpy(b)
    gt = torch.from_numpy(dout.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=cl)   # (N, F, Ho, Wo)
    conv = torch.nn.functional.conv2d
    back = torch.ops.aten.convolution_backward
    bias_sizes = [wt.shape[0]] if has_bias else None

    def t_fwd():
        with torch.no_grad():
            return conv(xt, wt, bt_, stride, tpad, dilation, groups)

    def t_bwd(mask):
        def run():
            with torch.no_grad():
                return back(gt, xt, wt, bias_sizes, list(stride), list(tpad), list(dilation), False, [0, 0],
                            groups, mask)
        return run

    tfn = {"fwd": t_fwd, "dx": t_bwd([True, False, False]), "dw": t_bwd([False, True, has_bias])}
    return {p: (fn, tfn[p]) for p, (fn, _) in out.items()}, plan


def describe(shape_key) -> str:
    kind, (N, H, W, Cin), (KH, KW, _, F), stride, pads, dilation, has_bias, needs_dx = shape_key
    if kind == "depthwise":                                  # w (KH, KW, C, M)
        s = f"dw-conv N{N} C{Cin}" + (f" x{F}" if F != 1 else "") + f" {H}x{W} k{KH}" + (f"x{KW}" if KW != KH else "")
    else:
        s = f"N{N} {Cin}->{F} {H}x{W} k{KH}" + (f"x{KW}" if KW != KH else "")
    if stride != (1, 1):
        s += f" s{stride[0]}" if stride[0] == stride[1] else f" s{stride}"
    if any(p for pp in pads for p in pp):
        s += f" p{pads[0][0]}" if len({p for pp in pads for p in pp}) == 1 else f" p{pads}"
    if dilation != (1, 1):
        s += f" d{dilation}"
    return s + ("" if needs_dx else " (no dx)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=None, metavar="NAME")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--top", type=int, default=25, help="rows of the table (biggest lost ms first)")
    ap.add_argument("--quick", action="store_true", help="32x32 inputs, batch 2, 1 round")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    models = BM.MODELS
    if args.models:
        known = dict(BM.MODELS)
        models = [(m, known[m]) for m in args.models]
    if args.quick:
        args.size, args.rounds = 32, 1
        models = [(m, 2) for m, _ in models]
    torch = None if args.no_torch else C.import_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    info = C.machine_info()
    info["loadavg"] = C.load_average()
    rows = []
    for name, batch in models:
        print(f"recording {name} N{batch} ...", file=sys.stderr, flush=True)
        for shape_key, calls in record_shapes(name, batch, args.size, args.classes).items():
            passes, plan = pass_closures(shape_key, torch)
            methods = {}
            for p, (npv, tfn) in passes.items():
                methods[f"{p} npvision"] = npv
                if tfn is not None:
                    methods[f"{p} torch"] = tfn
            load = C.OtherLoad().start()
            samples = C.time_interleaved(methods, args.rounds, min_sample=0.005, warmup=2)
            busy = load.stop()
            for p in passes:
                a = 1e3 * C.median(samples[f"{p} npvision"])
                bt = 1e3 * C.median(samples[f"{p} torch"]) if torch is not None else None
                algo = {"fwd": plan.forward, "dx": plan.input_grad, "dw": plan.weight_grad}[p]
                rows.append(dict(model=name, shape=describe(shape_key), calls=calls, pass_=p, plan=algo,
                                 npvision_ms=a, torch_ms=bt, busy=busy,
                                 lost_ms=None if bt is None else calls * (a - bt)))
    print(f"\nnpvision conv shapes inside training steps -- {info['date_utc']}")
    print(f"machine: {info['cpu']}, {info['vector_isa']}, {info['logical_cpus']} logical CPUs; "
          f"load average before the run: {info['loadavg']}")
    print(f"numpy {info['numpy']} ({info['blas']}), numba {info['numba']}, torch "
          f"{info['torch'] if torch is not None else 'not used'}; {args.rounds} rounds, float32, "
          f"{args.size}x{args.size} model inputs")
    for name, _ in models:
        mine = [r for r in rows if r["model"] == name]
        tot_n = sum(r["calls"] * r["npvision_ms"] for r in mine)
        tot_t = sum(r["calls"] * r["torch_ms"] for r in mine) if torch is not None else None
        busy = max((r["busy"] or 0 for r in mine), default=0)
        print(f"\n{name}: conv passes replayed one by one, per step: npvision {tot_n:.1f} ms"
              + ("" if tot_t is None else f", PyTorch {tot_t:.1f} ms ({tot_n / tot_t:.2f}x)")
              + f"; other processes' CPU share while timing: up to {100 * busy:.0f}%")
    key = (lambda r: -(r["lost_ms"] or 0)) if torch is not None else (lambda r: -r["calls"] * r["npvision_ms"])
    table = []
    for r in sorted(rows, key=key)[:args.top]:
        table.append([r["model"], r["shape"], r["calls"], r["pass_"], r["plan"], C.fmt_num(r["npvision_ms"], 2),
                      C.fmt_num(r["torch_ms"], 2),
                      "" if r["torch_ms"] is None else f"{r['npvision_ms'] / r['torch_ms']:.2f}",
                      C.fmt_num(r["lost_ms"], 1)])
    print()
    print(C.format_table(["model", "conv", "calls", "pass", "plan", "npv ms", "torch ms", "x torch",
                          "lost ms/step"], table, align="llrll" + "r" * 4))
    print("lost = calls per step x (npvision - PyTorch) ms; each pass timed alone, interleaved with "
          "PyTorch's, median of rounds")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "settings": vars(args), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
