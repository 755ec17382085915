"""Time whole training steps of classic models against the same architectures in PyTorch.

Run from the repository root::

    python benchmarks/bench_models.py                      # the four models, with a profile (~3 min)
    python benchmarks/bench_models.py --models resnet18 --rounds 15 --json models.json
    python benchmarks/bench_models.py --quick              # tiny inputs, 1 round: checks the script
    python benchmarks/bench_models.py --cpu avx2           # npvision's kernels compiled for AVX2 only

A training step is what ``npvision.train.fit`` does per mini-batch, in float32 on
64x64x3 inputs with 10 classes: ``zero_grad``, forward, softmax cross-entropy
(mean over the batch), backward, SGD with momentum 0.9 (lr 1e-4, small so that
the steps, repeated on one batch, never diverge). The models and
batches are the issue's: ResNet-18 (N16), VGG-16 (N4), MobileNet v2 (N16),
EfficientNet-B0 (N8).

PyTorch (optional) runs the same step on a twin of each model written with
``torch.nn`` in ``_torch_models.py`` (layer for layer as npvision builds it, no
torchvision needed), channels-last, with its default SGD and cross-entropy. Before
timing, npvision's weights are copied into the twin and both run the same batch in
eval mode: the logits must agree (relative difference under 1e-3), else the row is
marked ``(!)``: the timing would compare different work.

Timing is the layer benchmark's (``_common.time_interleaved``): two warm-up steps each,
then npvision and PyTorch alternate step by step, each sample preceded by one untimed
step of its own; medians over the rounds, and the ratio is the median of each round's
npvision / PyTorch.

The profile (``--no-profile`` skips it) says where a step's time goes, per kind of
layer. npvision: every module's ``forward`` and ``backward`` are wrapped in a timer
for a few extra steps; a layer's time goes to its kind (conv, batch norm, activations,
pooling, linear, dropout/flatten), and what a block spends outside its children (the
residual sums, squeeze-excitation's products) is "elementwise glue"; the loss and the
optimizer (``zero_grad`` + ``step``) are timed on their own. An activation that its block
has batch norm apply in its own pass (``nn.ConvBNAct``, ResNet's blocks) counts as batch norm. PyTorch: its profiler's
self time per op, grouped by the op's name into the same kinds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

#: (model name, batch size): the issue's four training steps
MODELS = [("resnet18", 16), ("vgg16", 4), ("mobilenet_v2", 16), ("efficientnet_b0", 8)]
KINDS = ["conv", "batch norm", "activations", "pooling", "linear", "elementwise glue", "loss",
         "optimizer", "other"]
TARGET = 1.2


# -- the two steps -----------------------------------------------------------------------------------

def make_batch(batch: int, size: int, classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, size, size, 3), dtype=np.float32)      # (N, H, W, C)
    y = rng.integers(0, classes, batch)
    return x, y


def npvision_step(name: str, x, y, classes: int, lr: float, momentum: float):
    """(model, optimizer, step): one npvision training step as a closure."""
    import npvision.functional as F
    from npvision import models, optim

    model = models.create(name, num_classes=classes, input_shape=x.shape[1:], rng=0)
    model.train()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def step():
        opt.zero_grad()
        logits = model.forward(x)
        loss, dlogits = F.softmax_cross_entropy(logits, y)
        model.backward(dlogits)
        opt.step()
        return loss

    return model, opt, step


def torch_step(torch, name: str, np_model, x, y, classes: int, lr: float, momentum: float):
    """(model, optimizer, step, logits check) for the PyTorch twin, with npvision's weights."""
    import _torch_models as TM

    model = TM.build(name, classes, x.shape[1:])
    TM.copy_weights(np_model, model, x.shape[1:])
    model = model.to(memory_format=torch.channels_last)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(
        memory_format=torch.channels_last)                                   # (N, C, H, W)
    yt = torch.from_numpy(y)

    # the same logits in eval mode, or the two models are not the same architecture
    np_model.eval()
    model.eval()
    with torch.no_grad():
        ref = model(xt).numpy()
    got = np_model.forward(x)
    err = float(np.max(np.abs(got - ref)) / max(1e-12, float(np.max(np.abs(ref)))))
    np_model.train()
    model.train()

    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    step.parts = (model, opt, xt, yt)
    return model, opt, step, err


# -- where the time goes -----------------------------------------------------------------------------

def _kind_of_module(module) -> str:
    name = type(module).__name__
    if "Conv" in name and "BNAct" not in name:
        return "conv"
    if "BatchNorm" in name:
        return "batch norm"
    if name in ("ReLU", "ReLU6", "LeakyReLU", "SiLU", "Sigmoid", "Tanh", "Softmax"):
        return "activations"
    if "Pool" in name:
        return "pooling"
    if name == "Linear":
        return "linear"
    return "elementwise glue"           # blocks (outside their children), Dropout, Flatten


def profile_npvision(model, opt, x, y, steps: int) -> dict[str, float]:
    """Milliseconds per step by kind: every module's forward/backward timed, blocks exclusive of
    their children; the loss and the optimizer on their own."""
    import npvision.functional as F

    totals = defaultdict(float)
    stack = []                                   # [time spent in children] per open call
    originals = []

    def wrap(module, method):
        fn = getattr(module, method)
        kind = _kind_of_module(module)

        def timed(*args, **kwargs):
            stack.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                inner = stack.pop()
                totals[kind] += dt - inner
                if stack:
                    stack[-1] += dt

        object.__setattr__(module, method, timed)
        originals.append((module, method))

    # an activation that its block has batch norm apply is not wrapped: wrapping it would make the
    # block run it as a layer of its own (nn.norm.fused_activation); its time is batch norm's
    folded = {id(a) for _, m in model.named_modules() for a in getattr(m, "fused_activations", list)()}
    for _, m in model.named_modules():
        if m is not model and id(m) not in folded:
            wrap(m, "forward")
            wrap(m, "backward")
    try:
        for _ in range(steps):
            t0 = time.perf_counter()
            opt.zero_grad()
            t1 = time.perf_counter()
            logits = model.forward(x)
            t2 = time.perf_counter()
            loss, dlogits = F.softmax_cross_entropy(logits, y)
            t3 = time.perf_counter()
            model.backward(dlogits)
            t4 = time.perf_counter()
            opt.step()
            t5 = time.perf_counter()
            totals["optimizer"] += (t1 - t0) + (t5 - t4)
            totals["loss"] += t3 - t2
            totals["_step"] += t5 - t0
    finally:
        for module, method in originals:
            del module.__dict__[method]
    out = {k: 1e3 * v / steps for k, v in totals.items()}
    step = out.pop("_step")
    out["other"] = max(0.0, step - sum(out.values()))      # the model's own top-level code, timers
    out["step"] = step
    return out


def _kind_of_torch_op(op: str) -> str:
    o = op.lower()
    if "conv" in o:
        return "conv"
    if "batch_norm" in o:
        return "batch norm"
    if any(a in o for a in ("relu", "threshold", "hardtanh", "silu", "sigmoid", "clamp")):
        return "activations"
    if "pool" in o or o in ("aten::mean", "aten::sum"):
        return "pooling"
    if any(a in o for a in ("addmm", "aten::mm", "aten::linear", "aten::matmul")):
        return "linear"
    if any(a in o for a in ("softmax", "nll_loss", "cross_entropy")):
        return "loss"
    if any(a in o for a in ("aten::add", "aten::mul", "dropout", "bernoulli", "aten::div")):
        return "elementwise glue"
    return "other"


def profile_torch(torch, model, opt, xt, yt, steps: int) -> dict[str, float]:
    """Milliseconds per step by kind: PyTorch's profiler over forward, loss and backward (self CPU
    time of each op, grouped by the op's name), and the optimizer (``zero_grad`` + ``step``) timed
    on its own, as for npvision (its ops would otherwise be counted as elementwise glue)."""
    from torch.profiler import ProfilerActivity, profile

    loss_fn = torch.nn.functional.cross_entropy
    optimizer = 0.0
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            with torch.profiler.record_function("optimizer_phase"):
                t1 = time.perf_counter()
                opt.zero_grad()
                optimizer += time.perf_counter() - t1
            loss = loss_fn(model(xt), yt)
            loss.backward()
            with torch.profiler.record_function("optimizer_phase"):
                t1 = time.perf_counter()
                opt.step()
                optimizer += time.perf_counter() - t1
        wall = time.perf_counter() - t0
    out = defaultdict(float)
    inside_optimizer = 0.0
    for ev in prof.events():                    # ops that ran inside the optimizer phases are its own
        if ev.name == "optimizer_phase":
            inside_optimizer += ev.cpu_time_total
    for ev in prof.key_averages():
        if ev.key == "optimizer_phase":
            continue
        out[_kind_of_torch_op(ev.key)] += ev.self_cpu_time_total / 1e3 / steps    # us -> ms per step
    # the ops inside the optimizer phases were counted by kind above: move their time to "optimizer"
    opt_ops = defaultdict(float)
    for ev in prof.events():
        if ev.cpu_parent is not None and _under(ev, "optimizer_phase"):
            opt_ops[_kind_of_torch_op(ev.name)] += ev.self_cpu_time_total / 1e3 / steps
    for kind, ms in opt_ops.items():
        out[kind] -= ms
    out = {k: max(0.0, v) for k, v in out.items()}
    out["optimizer"] = 1e3 * optimizer / steps
    out["step"] = 1e3 * wall / steps
    return out


def _under(ev, name: str) -> bool:
    """Whether a profiler event ran inside a ``record_function(name)`` block."""
    parent = ev.cpu_parent
    while parent is not None:
        if parent.name == name:
            return True
        parent = parent.cpu_parent
    return False


def timer_child(args) -> int:
    """The child mode (``--_timer-child``): build and time one library's training steps on request
    (:func:`_common.serve_timers`; keys ``"<model>|<batch>|<npvision or torch>"``). The PyTorch twin
    starts from the npvision model's weights, as in the parent."""
    torch = C.import_torch() if args.timer_child == "torch" else None
    if torch is not None:
        torch.set_num_threads(args.threads)

    def build(key: str):
        name, batch, library = key.split("|")
        x, y = make_batch(int(batch), args.size, args.classes)
        np_model, _, np_step = npvision_step(name, x, y, args.classes, args.lr, args.momentum)
        if library == "npvision":
            return np_step
        return torch_step(torch, name, np_model, x, y, args.classes, args.lr, args.momentum)[2]

    C.serve_timers(build)
    return 0


# -- the run -----------------------------------------------------------------------------------------

def bench_model(name: str, batch: int, args, torch, children: dict | None = None) -> dict:
    """Time one model's training step (and PyTorch's), interleaved, in ``children`` (see
    :class:`_common.TimerChild`) or, when None, here; the logits check and the profile run here."""
    x, y = make_batch(batch, args.size, args.classes)
    np_model, np_opt, np_step = npvision_step(name, x, y, args.classes, args.lr, args.momentum)
    methods = {"npvision": np_step}
    res = {"model": name, "batch": batch, "size": args.size, "classes": args.classes,
           "parameters": np_model.num_parameters()}
    if torch is not None:
        t_model, t_opt, t_step, err = torch_step(torch, name, np_model, x, y, args.classes, args.lr,
                                                 args.momentum)
        methods["torch"] = t_step
        res["logits_rel_err"] = err
    if children is not None:
        methods = {lib: children[lib].timed(f"{name}|{batch}|{lib}") for lib in methods}
    load = C.OtherLoad([c.pid for c in (children or {}).values()]).start()
    samples = C.time_interleaved(methods, args.rounds, min_sample=0.0, warmup=2)
    load.stop()
    res["other_load"] = load.fraction
    res["ms"] = {k: 1e3 * C.median(v) for k, v in samples.items()}
    res["best_ms"] = {k: 1e3 * min(v) for k, v in samples.items()}
    if torch is not None:
        res["ratio"] = C.median([a / b for a, b in zip(samples["npvision"], samples["torch"])])
        res["best_ratio"] = res["best_ms"]["npvision"] / res["best_ms"]["torch"]
    if args.profile:
        res["profile"] = {"npvision": profile_npvision(np_model, np_opt, x, y, args.profile_steps)}
        if torch is not None:
            res["profile"]["torch"] = profile_torch(torch, *t_step.parts, args.profile_steps)
    return res


def print_report(info: dict, results: list[dict], args) -> None:
    print(f"\nnpvision training-step benchmark -- {info['date_utc']}")
    print(f"machine: {info['cpu']}, {info['vector_isa']}, {info['logical_cpus']} logical CPUs, "
          f"{info['ram_gb']} GB RAM; load average before the run: {info['loadavg']}")
    print(f"numba kernels compiled for: {info['numba_target']}; other libraries: {info['library_isa']}")
    print(f"timing: {info['timing']}")
    print(f"python {info['python']}, numpy {info['numpy']} ({info['blas']}), numba {info['numba']}, "
          f"torch {info['torch'] if info['torch_used'] else 'not used'} ({info['torch_threads']} threads)")
    print(f"step: zero_grad, forward, softmax cross-entropy, backward, SGD momentum {args.momentum} "
          f"lr {args.lr}; float32, {args.size}x{args.size}x3 inputs, {args.classes} classes; "
          f"{args.rounds} rounds, interleaved")
    print()
    headers = ["model", "batch", "params", "npvision ms", "torch ms", "x torch", "best x torch",
               f"target", "met?", "logits", "busy"]
    rows = []
    for r in results:
        ratio = r.get("ratio")
        err = r.get("logits_rel_err")
        rows.append([r["model"], f"N{r['batch']}", f"{r['parameters'] / 1e6:.1f}M",
                     C.fmt_num(r["ms"]["npvision"], 1), C.fmt_num(r["ms"].get("torch"), 1),
                     C.fmt_num(ratio, 2), C.fmt_num(r.get("best_ratio"), 2), f"<={TARGET}x",
                     "" if ratio is None else ("yes" if ratio <= TARGET else "NO"),
                     "-" if err is None else (f"{err:.0e}" + (" (!)" if err > 1e-3 else "")),
                     C.fmt_num(100 * r["other_load"], 0) + "%" if r["other_load"] is not None else ""])
    print(C.format_table(headers, rows, align="ll" + "r" * 9))
    print("x torch = median over rounds of npvision step / PyTorch step (lower is better); best = best "
          "rounds' ratio. logits = max |npvision - PyTorch| / max |PyTorch| in eval mode with the same "
          "weights ((!) above 1e-3). busy = other processes' CPU share while timing.")
    for r in results:
        prof = r.get("profile")
        if not prof:
            continue
        print(f"\nwhere a step's time goes: {r['model']} N{r['batch']} (ms per step; "
              f"{args.profile_steps} profiled steps each)")
        pn, pt = prof["npvision"], prof.get("torch", {})
        prow = []
        for k in KINDS + ["step"]:
            a, b = pn.get(k), pt.get(k)
            if a is None and b is None:
                continue
            prow.append([k, C.fmt_num(a, 1), "" if a is None or k == "step" else f"{100 * a / pn['step']:.0f}%",
                         C.fmt_num(b, 1) if pt else "",
                         "" if b is None or k == "step" else f"{100 * b / pt['step']:.0f}%",
                         "" if a is None or not b else f"{a / b:.2f}"])
        print(C.format_table(["kind", "npvision", "share", "torch", "share", "ratio"], prow, align="l" + "r" * 5))
    print("\nkinds: conv = Conv2D/DepthwiseConv2D (PyTorch: its convolution ops); elementwise glue = what "
          "blocks do outside their layers (residual sums, squeeze-excitation's products), Dropout and "
          "Flatten; optimizer = zero_grad + step; other = the rest of the step (PyTorch: autograd "
          "bookkeeping and ops of no listed kind).")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=None, metavar="NAME",
                    help=f"subset of {[m for m, _ in MODELS]}")
    ap.add_argument("--rounds", type=int, default=None, help="timed steps per framework (default 9; 1 with --quick)")
    ap.add_argument("--size", type=int, default=64, help="input height and width (default 64)")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-4,
                    help="learning rate (default 1e-4: small, so that many steps on one random batch stay "
                         "finite; a diverged network would time arithmetic on NaNs)")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--quick", action="store_true", help="32x32 inputs, batch 2, 1 round, 1 profiled step")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--profile-steps", type=int, default=None, help="steps profiled per model (default 3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="PyTorch threads")
    ap.add_argument("--cpu", choices=sorted(C.CPU_TARGETS), default=None,
                    help="compile npvision's kernels for this vector target (own numba cache) instead "
                         "of this CPU; 'avx2' runs an AVX2-only machine's code on this one, "
                         "in npvision, OpenBLAS and PyTorch alike")
    C.add_timing_arguments(ap)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    C.use_cpu_target(args.cpu)
    if args.timer_child:
        return timer_child(args)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 9)
    args.profile_steps = args.profile_steps or (1 if args.quick else 3)
    models = MODELS
    if args.models:
        known = dict(MODELS)
        bad = [m for m in args.models if m not in known]
        if bad:
            ap.error(f"--models: unknown {bad}; choose from {list(known)}")
        models = [(m, known[m]) for m in args.models]
    if args.quick:
        args.size = 32
        models = [(m, 2) for m, _ in models]

    torch = None if args.no_torch else C.import_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    info = C.machine_info()
    info["loadavg"] = C.load_average()
    info["numba_target"] = C.numba_target_description()
    info["library_isa"] = C.library_isa_description(torch)
    info["torch_used"] = torch is not None
    info["torch_threads"] = torch.get_num_threads() if torch is not None else None
    info["timing"] = C.timing_description(args.in_process)
    results = []
    with contextlib.ExitStack() as stack:
        children = None
        if not args.in_process:
            child_args = [str(Path(__file__).resolve()), "--size", str(args.size), "--classes", str(args.classes),
                          "--lr", repr(args.lr), "--momentum", repr(args.momentum), "--threads", str(args.threads)]
            children = C.start_timer_children(stack, child_args, torch is not None)
        for name, batch in models:
            print(f"timing {name} N{batch} ...", file=sys.stderr, flush=True)
            results.append(bench_model(name, batch, args, torch, children))
    print_report(info, results, args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "settings": vars(args), "models": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
