"""Time greedy non-maximum suppression: npvision's naive / numpy / numba kernels (and torchvision).

Run from the repository root::

    python benchmarks/bench_nms.py                  # 10,000 boxes, two workloads (about a minute)
    python benchmarks/bench_nms.py --quick          # 200 boxes, 1 round: checks the script only
    python benchmarks/bench_nms.py --boxes 20000 --rounds 31 --json nms.json

What is timed: one call of the public ``npvision.detection.nms(boxes, scores,
iou_threshold)`` (validation, the stable sort by score and the kernel) inside
``npvision.use_backend(name)``, on float32 boxes. When ``torchvision`` is
importable, ``torchvision.ops.nms`` on the same tensors is timed alongside
(optional; npvision never needs it).

Workloads (seeded, so every run sees the same boxes):

* ``clustered`` (the target's workload): a detector's raw output, ``N / 100``
  objects in a 1000 x 1000 image, each with 100 proposals jittered around it;
  about 300 of 10,000 boxes survive;
* ``random512``: the usual synthetic NMS benchmark, corners ``(x, y)`` uniform
  in [0, 512) and ``(w, h)`` uniform in [0, 512); about 2,000 of 10,000 boxes
  survive, and greedy NMS costs ``O(N K)`` for ``K`` survivors, so every backend
  is slower here. The ``naive`` kernel is skipped on it (minutes), except with ``--quick``.

IoU threshold 0.5. Before timing, every backend's result is compared with the
numpy backend's; a difference prints ``DISAGREE`` (a benchmark of different
math would be worthless). Timing follows ``benchmarks/_common.py``: warm-up
calls (numba compiles or loads its cache), methods interleaved round by round,
median over rounds; the pure-Python ``naive`` kernel gets only 3 rounds when a
call takes over 2 s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

TARGET_MS = 25.0      # the goal for 10,000 boxes with the default backend


def clustered_workload(n: int, rng: np.random.Generator):
    n_obj = max(1, n // 100)
    centres = rng.uniform(50, 950, (n_obj, 2))
    sizes = rng.uniform(30, 150, (n_obj, 2))
    which = rng.integers(0, n_obj, n)
    c = centres[which] + rng.normal(0, 0.1, (n, 2)) * sizes[which]
    s = sizes[which] * rng.uniform(0.8, 1.25, (n, 2))
    boxes = np.hstack([c - s / 2, c + s / 2]).astype(np.float32)                       # (n, 4)
    return boxes, rng.random(n).astype(np.float32)


def random512_workload(n: int, rng: np.random.Generator):
    xy = rng.uniform(0, 512, (n, 2))
    wh = rng.uniform(0, 512, (n, 2))
    boxes = np.hstack([xy, xy + wh]).astype(np.float32)                                 # (n, 4)
    return boxes, rng.random(n).astype(np.float32)


# name -> (maker, time the naive kernel?)
WORKLOADS = {"clustered": (clustered_workload, True), "random512": (random512_workload, False)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--boxes", type=int, default=10_000, help="number of boxes (default 10000)")
    ap.add_argument("--rounds", type=int, default=21, help="timing rounds (default 21)")
    ap.add_argument("--iou", type=float, default=0.5, help="IoU threshold (default 0.5)")
    ap.add_argument("--quick", action="store_true", help="200 boxes, 1 round: a smoke run")
    ap.add_argument("--no-naive", action="store_true", help="skip the pure-Python kernel")
    ap.add_argument("--no-torch", action="store_true", help="skip torchvision even if installed")
    ap.add_argument("--json", type=Path, help="write every number to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.boxes, args.rounds = 200, 1

    import npvision
    from npvision.detection import nms

    tv_nms = torch = None
    if not args.no_torch:
        torch = C.import_torch()
        try:
            from torchvision.ops import nms as tv_nms  # type: ignore
        except Exception:  # noqa: BLE001 - optional reference
            tv_nms = None

    backends = ["numpy", "numba"] if args.no_naive else ["naive", "numpy", "numba"]
    info = C.machine_info()
    print(f"npvision NMS benchmark: {args.boxes} boxes, IoU threshold {args.iou}, float32, "
          f"median of {args.rounds} rounds")
    print(f"{info['cpu']}, {info['logical_cpus']} CPUs, numpy {info['numpy']}, numba {info['numba']}; "
          f"torchvision: {'yes' if tv_nms is not None else 'not installed (no reference column)'}")
    print(f"default backend for nms: {npvision.kernels.fastest()['nms']}")

    results = {"machine": info, "boxes": args.boxes, "iou_threshold": args.iou, "workloads": {}}
    rows = []
    for wname, (make, naive_ok) in WORKLOADS.items():
        boxes, scores = make(args.boxes, np.random.default_rng(0))
        methods = {}
        for b in backends:
            if b == "naive" and not (naive_ok or args.quick):
                continue
            def call(b=b):
                with npvision.use_backend(b):
                    return nms(boxes, scores, args.iou)
            methods[b] = call
        methods["auto"] = lambda: nms(boxes, scores, args.iou)
        if tv_nms is not None:
            tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
            methods["torchvision"] = lambda: tv_nms(tb, ts, args.iou)

        reference = methods["numpy"]()
        agree = {}
        for label, fn in methods.items():
            got = np.asarray(fn()).astype(np.int64)
            agree[label] = bool(np.array_equal(got, reference))
        load = C.OtherLoad().start()
        samples = C.time_interleaved(methods, args.rounds, min_sample=0.02 if not args.quick else 0.0)
        other = load.stop()
        res = {"kept": int(len(reference)), "other_load": other, "methods": {}}
        for label, ts_ in samples.items():
            ms = 1e3 * C.median(ts_)
            best = 1e3 * min(ts_)
            res["methods"][label] = {"median_ms": ms, "best_ms": best, "rounds": len(ts_),
                                     "agrees": agree[label]}
            rows.append([wname, label, f"{len(reference)}", C.fmt_num(ms, 2), C.fmt_num(best, 2), len(ts_),
                         "yes" if agree[label] else "DISAGREE"])
        results["workloads"][wname] = res

    print()
    print(C.format_table(["workload", "backend", "kept", "median ms", "best ms", "rounds",
                          "same as numpy"], rows))
    loads = [w["other_load"] for w in results["workloads"].values() if w["other_load"] is not None]
    if loads:
        print(f"\nCPU time taken by other processes during the timing: {100 * max(loads):.0f}% of "
              f"the machine (high values inflate every number above)")
    if args.boxes == 10_000:
        for wname, res in results["workloads"].items():
            auto = res["methods"]["auto"]["median_ms"]
            print(f"target: 10,000 boxes in under {TARGET_MS:.0f} ms with the default backend: "
                  f"{auto:.1f} ms (median) on {wname!r} -> {'met' if auto < TARGET_MS else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
