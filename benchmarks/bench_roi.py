"""Time RoI pooling and RoIAlign: npvision's numpy / numba kernels against torchvision's CPU kernels.

Run from the repository root::

    python benchmarks/bench_roi.py                                      # npvision only
    python benchmarks/bench_roi.py --torch-python /work/venv-tv/bin/python   # with torchvision
    python benchmarks/bench_roi.py --quick --no-torch                   # tiny shapes: checks the script

What is timed (float32): ``fwd`` is one call of ``F.roi_pool_forward`` /
``F.roi_align_forward`` (argument checks, geometry and kernel); ``f+b`` is the
forward followed by the backward (``dx``). Each npvision backend runs inside
``npvision.use_backend(name)``; ``auto`` is the default backend.

Workloads (seeded; one feature map ``1 x 64 x 64 x 256``, the stride-16 map of
a 1024 x 1024 image, ``spatial_scale = 1/16``, 512 rois whose sides are
log-uniform between 32 and 512 image pixels, clipped to the image):

* ``roi_pool 7x7``: Fast R-CNN's RoI pooling;
* ``roi_align 7x7 sr2``: Faster R-CNN's box head (torchvision's ``MultiScaleRoIAlign``
  uses ``sampling_ratio=2``);
* ``roi_align 7x7 sr-1``: the op's default adaptive grid, ``ceil(roi / 7)`` per axis;
* ``roi_align 14x14 sr2``: Mask R-CNN's mask head.

torchvision. It is optional and never imported by npvision. When
``--torch-python`` names an interpreter with torch and torchvision (or when
this interpreter has them), a child process of that interpreter loads the
same arrays and times ``torchvision.ops.roi_pool`` / ``roi_align`` on them in
NCHW, the layout its CPU kernels compute in (the transposition is done once,
outside the timing), with ``torch.set_num_threads(--threads)``; its forward
records autograd, its backward is ``torch.autograd.grad(out, x, dout)``. The
child times itself and answers the parent over a pipe, so npvision and
torchvision are still timed interleaved round by round (A, B, C, A, B, C, ...),
each sample preceded by one untimed lead-in call, medians over rounds (see
``benchmarks/README.md``); a method whose warm call takes over 0.3 s gets 3
rounds. Before timing, every method's output and ``dx`` are compared with
torchvision's (or, without it, the numpy backend's); a relative difference
above 1e-4 prints ``DISAGREE``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

# name -> (op, output size, sampling_ratio)
WORKLOADS = {
    "roi_pool 7x7": ("pool", 7, 0),
    "roi_align 7x7 sr2": ("align", 7, 2),
    "roi_align 7x7 sr-1": ("align", 7, -1),
    "roi_align 14x14 sr2": ("align", 14, 2),
}


def make_inputs(quick: bool, seed: int = 0):
    """``x (1, H, W, C)``, ``rois (K, 5)`` and ``{workload: dout}``, float32."""
    rng = np.random.default_rng(seed)
    (h, w, c, k, image) = (8, 8, 4, 6, 128) if quick else (64, 64, 256, 512, 1024)
    x = rng.standard_normal((1, h, w, c), dtype=np.float32)
    sides = np.exp(rng.uniform(np.log(image / 32), np.log(image / 2), (k, 2)))   # (K, 2) w, h
    centres = rng.uniform(0, image, (k, 2))
    boxes = np.clip(np.concatenate([centres - sides / 2, centres + sides / 2], 1), 0, image - 1)
    rois = np.concatenate([np.zeros((k, 1)), boxes], 1).astype(np.float32)         # (K, 5)
    douts = {}
    for name, (_, size, _) in WORKLOADS.items():
        size = 2 if quick else size
        douts[name] = rng.standard_normal((k, size, size, c), dtype=np.float32)
    return x, rois, douts, 16.0 / image


def workload_args(name: str, quick: bool):
    op, size, sampling_ratio = WORKLOADS[name]
    return op, (2 if quick else size), sampling_ratio


# -- the torchvision child ---------------------------------------------------------------------------

def torch_child(inputs_path: str, n_threads: int) -> None:
    """Answer timing requests for torchvision, one JSON line in, one JSON line out."""
    import torch
    from torchvision.ops import roi_align, roi_pool

    torch.set_num_threads(n_threads)
    data = np.load(inputs_path)
    quick = bool(data["quick"])
    scale = float(data["scale"])
    x = torch.from_numpy(data["x"]).permute(0, 3, 1, 2).contiguous()               # (N, C, H, W)
    rois = torch.from_numpy(data["rois"])
    xg = x.clone().requires_grad_(True)
    calls = {}
    for name in WORKLOADS:
        op, size, sr = workload_args(name, quick)
        dout = torch.from_numpy(data[f"dout/{name}"]).permute(0, 3, 1, 2).contiguous()  # (K, C, PH, PW)
        if op == "pool":
            def fwd(inp, size=size):
                return roi_pool(inp, rois, size, scale)
        else:
            def fwd(inp, size=size, sr=sr):
                return roi_align(inp, rois, size, scale, sr, False)

        def fwd_bwd(fwd=fwd, dout=dout):
            return torch.autograd.grad(fwd(xg), xg, dout)[0]

        calls[name] = {"fwd": lambda fwd=fwd: fwd(xg), "f+b": fwd_bwd}
    print(json.dumps({"ready": torch.__version__}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if "quit" in req:
            break
        if "result" in req:
            name = req["result"]
            out = calls[name]["fwd"]().detach().permute(0, 2, 3, 1).numpy()       # (K, PH, PW, C)
            dx = calls[name]["f+b"]().permute(0, 2, 3, 1).numpy()                  # (N, H, W, C)
            np.savez(req["path"], out=out, dx=dx)
            print(json.dumps({}), flush=True)
            continue
        fn = calls[req["name"]][req["what"]]
        for _ in range(req.get("lead_in", 0)):
            fn()
        print(json.dumps({"seconds": C.time_once(fn, req["reps"])}), flush=True)


class TorchChild:
    """A torchvision child process; ``timer(name, what)`` gives a ``(reps, lead_in) -> seconds`` timer."""

    def __init__(self, python: str, inputs_path: str, n_threads: int):
        self.proc = subprocess.Popen([python, __file__, "--_torch_child", inputs_path, str(n_threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=str(C.REPO_ROOT))
        self.version = self._read()["ready"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the torchvision child ({self.proc.args[0]}) stopped")
        return json.loads(line)

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def timer(self, name: str, what: str):
        return lambda reps, lead_in: self.ask(name=name, what=what, reps=reps, lead_in=lead_in)["seconds"]

    def result(self, name: str):
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "r.npz")
            self.ask(result=name, path=path)
            data = np.load(path)
            return data["out"], data["dx"]

    def close(self) -> None:
        try:
            self.ask(quit=True)
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=30)


def _local_timer(fn):
    def timer(reps, lead_in):
        for _ in range(lead_in):
            fn()
        return C.time_once(fn, reps)
    return timer


def time_interleaved(timers: dict, rounds: int, min_sample: float, slow_call: float = 0.3,
                     slow_rounds: int = 3) -> dict:
    """Like ``_common.time_interleaved`` for timers that time themselves (the child's do).

    A method whose warm call takes over ``slow_call`` seconds (the numpy backend's
    backward passes) gets only ``slow_rounds`` rounds, still interleaved with the others.
    """
    reps, limit = {}, {}
    for label, timer in timers.items():
        t = min(timer(1, 0) for _ in range(2))                  # warm-up (numba compiles or loads)
        reps[label] = max(1, math.ceil(min_sample / max(t, 1e-9)))
        limit[label] = min(rounds, slow_rounds) if t > slow_call else rounds
    samples = {label: [] for label in timers}
    for r in range(rounds):
        for label, timer in timers.items():
            if r < limit[label]:
                samples[label].append(timer(reps[label], 1))
    return samples


# -- the run -----------------------------------------------------------------------------------------

def cpu_flags() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0].split()
    except (OSError, IndexError):
        return "unknown"
    return ", ".join(f for f in ("avx512f", "avx2", "fma") if f in flags) or "no avx2"


def _has_torchvision(python: str) -> bool:
    res = subprocess.run([python, "-c", "import torch, torchvision"], capture_output=True)
    return res.returncode == 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15, help="timing rounds (default 15)")
    ap.add_argument("--quick", action="store_true", help="tiny shapes, 1 round, naive included: a smoke run")
    ap.add_argument("--backends", nargs="+", default=None,
                    help="npvision backends (default numpy numba auto; naive too with --quick)")
    ap.add_argument("--torch-python", default=None,
                    help="an interpreter with torch and torchvision (default: this one, if it has them)")
    ap.add_argument("--no-torch", action="store_true", help="skip torchvision even if available")
    ap.add_argument("--threads", type=int, default=None, help="PyTorch threads (default: the CPU count)")
    ap.add_argument("--json", type=Path, help="write every number to this file")
    ap.add_argument("--_torch_child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._torch_child:
        torch_child(args._torch_child[0], int(args._torch_child[1]))
        return 0
    if args.quick:
        args.rounds = 1

    import npvision
    import npvision.functional as F

    backends = args.backends or (["naive", "numpy", "numba", "auto"] if args.quick else ["numpy", "numba", "auto"])
    x, rois, douts, scale = make_inputs(args.quick)
    info = C.machine_info()
    info["cpu_flags"] = cpu_flags()
    try:
        info["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        info["uptime"] = None
    n_threads = args.threads or info["logical_cpus"] or 1

    child = None
    python = args.torch_python or sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_torch and _has_torchvision(python):
            path = str(Path(tmp) / "inputs.npz")
            np.savez(path, x=x, rois=rois, scale=scale, quick=args.quick,
                     **{f"dout/{k}": v for k, v in douts.items()})
            child = TorchChild(python, path, n_threads)
        try:
            results = run(F, npvision, args, backends, x, rois, douts, scale, child, info)
        finally:
            if child is not None:
                child.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def run(F, npvision, args, backends, x, rois, douts, scale, child, info) -> dict:
    print(f"npvision RoI benchmark: x {x.shape} float32, {len(rois)} rois, spatial_scale {scale:g}, "
          f"median of {args.rounds} rounds")
    print(f"{info['cpu']} ({info['cpu_flags']}), {info['logical_cpus']} CPUs, numpy {info['numpy']}, "
          f"numba {info['numba']}; {info['uptime']}")
    print(f"torchvision: {'torch ' + child.version if child else 'not used (no reference column)'}")
    results = {"machine": info, "x_shape": list(x.shape), "rois": len(rois), "spatial_scale": scale,
               "torch": child.version if child else None, "workloads": {}}
    rows = []
    for name in WORKLOADS:
        op, size, sr = workload_args(name, args.quick)
        dout = douts[name]
        if op == "pool":
            def fwd():
                return F.roi_pool_forward(x, rois, size, scale)

            def fwd_bwd():
                out, cache = fwd()
                return out, F.roi_pool_backward(dout, cache)
        else:
            def fwd():
                return F.roi_align_forward(x, rois, size, scale, sr, False)

            def fwd_bwd():
                out, cache = fwd()
                return out, F.roi_align_backward(dout, cache)

        def in_backend(fn, b):
            def call():
                with npvision.use_backend(b):
                    return fn()
            return call

        timers, agree = {}, {}
        if child is not None:
            ref_out, ref_dx = child.result(name)
        else:
            ref_out, ref_dx = in_backend(fwd_bwd, "numpy")()
        for b in backends:
            out, dx = in_backend(fwd_bwd, b)()
            scale_o = max(1.0, float(np.abs(ref_out).max()))
            scale_d = max(1.0, float(np.abs(ref_dx).max()))
            agree[b] = bool(np.abs(out - ref_out).max() <= 1e-4 * scale_o
                            and np.abs(dx - ref_dx).max() <= 1e-4 * scale_d)
            timers[(b, "fwd")] = _local_timer(in_backend(fwd, b))
            timers[(b, "f+b")] = _local_timer(in_backend(fwd_bwd, b))
        if child is not None:
            agree["torchvision"] = True
            timers[("torchvision", "fwd")] = child.timer(name, "fwd")
            timers[("torchvision", "f+b")] = child.timer(name, "f+b")
        load = C.OtherLoad().start()
        samples = time_interleaved(timers, args.rounds, min_sample=0.0 if args.quick else 0.05)
        other = load.stop()
        res = {"op": op, "output_size": size, "sampling_ratio": sr, "other_load": other, "methods": {}}
        tv = {w: C.median(samples[("torchvision", w)]) for w in ("fwd", "f+b")} if child else None
        for label in [b for b in backends] + (["torchvision"] if child else []):
            ms = {w: 1e3 * C.median(samples[(label, w)]) for w in ("fwd", "f+b")}
            ratio = {w: (ms[w] / (1e3 * tv[w]) if tv else None) for w in ("fwd", "f+b")}
            res["methods"][label] = {"fwd_ms": ms["fwd"], "fwd_bwd_ms": ms["f+b"],
                                     "fwd_x_torchvision": ratio["fwd"], "fwd_bwd_x_torchvision": ratio["f+b"],
                                     "rounds": len(samples[(label, "f+b")]), "agrees": agree[label]}
            rows.append([name, label, C.fmt_num(ms["fwd"], 2), C.fmt_num(ms["f+b"], 2),
                         C.fmt_num(ratio["fwd"], 2), C.fmt_num(ratio["f+b"], 2),
                         len(samples[(label, "f+b")]), "yes" if agree[label] else "DISAGREE"])
        results["workloads"][name] = res

    print()
    print(C.format_table(["workload", "method", "fwd ms", "f+b ms", "fwd x tv", "f+b x tv", "rounds",
                          "same as " + ("torchvision" if child else "numpy")], rows))
    loads = [w["other_load"] for w in results["workloads"].values() if w["other_load"] is not None]
    if loads:
        print(f"\nCPU time taken by other processes during the timing: {100 * max(loads):.0f}% of "
              f"the machine (high values inflate every number above)")
    return results


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    if "--_torch_child" not in sys.argv:
        print(f"({time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
