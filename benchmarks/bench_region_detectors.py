"""R-CNN, Fast R-CNN and Faster R-CNN on the same held-out scenes: the lecture's table, measured.

    python benchmarks/bench_region_detectors.py --out npvision-out/region   # the full runs (~30-40 min)
    python benchmarks/bench_region_detectors.py --quick --out /tmp/region  # the tasks' quick modes (a minute)

Runs the tasks ``rcnn``, ``fast-rcnn`` and ``faster-rcnn`` (each with its defaults, seed 0;
``--pooling roi_align`` switches Faster R-CNN's RoI pooling) with one selective-search cache
shared by the first two, so both see the very same proposals, then prints one markdown table:
mAP@0.5, mAP@0.5:0.95, training time, test time per image without and with the proposal step,
and proposal recall at IoU 0.5 against 50/100/300/1000 proposals for selective search and for
the RPN; ``--json PATH`` keeps every task's full result. Each task writes its detector folder
and pictures under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import use_this_checkout

use_this_checkout()


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return "unknown"


def _recall_row(recall: dict) -> str:
    return " / ".join(f"{recall[str(n)]['recall']:.3f}" for n in (50, 100, 300, 1000))


def table(results: dict) -> str:
    """The markdown table of the three results (``{"rcnn": metrics, ...}``)."""
    lines = ["| detector | mAP@0.5 | mAP@0.5:0.95 | train s (CPU s) | test ms/img w/o proposals | "
             "test ms/img with proposals |",
             "|---|---|---|---|---|---|"]
    names = {"rcnn": "R-CNN", "fast-rcnn": "Fast R-CNN", "faster-rcnn": "Faster R-CNN"}
    for task, m in results.items():
        if task == "faster-rcnn":
            without, with_ = m["test_ms_per_image_without_proposals"], m["test_ms_per_image"]
        else:
            without, with_ = m["test_ms_per_image"], m["test_ms_per_image_with_proposals"]
        lines.append(f"| {names[task]} | {m['map50']:.3f} | {m['map']:.3f} | {m['train_seconds']:.0f} "
                     f"({m['train_cpu_seconds']:.0f}) | {without:.2f} | {with_:.2f} |")
    lines.append("")
    lines.append("| proposals | recall@0.5 with 50 / 100 / 300 / 1000 | mean proposals used at 1000 |")
    lines.append("|---|---|---|")
    for task, key, label in (("fast-rcnn", "ss_recall", "selective search (fast)"),
                             ("faster-rcnn", "rpn_recall", "RPN")):
        if task in results:
            r = results[task][key]
            lines.append(f"| {label} | {_recall_row(r)} | {r['1000']['mean_proposals']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="npvision-out/region", help="folder for the detectors and pictures")
    parser.add_argument("--quick", action="store_true", help="the tasks' quick modes (checks the script only)")
    parser.add_argument("--tasks", nargs="+", default=["faster-rcnn", "fast-rcnn", "rcnn"],
                        choices=["faster-rcnn", "fast-rcnn", "rcnn"])
    parser.add_argument("--pooling", default="roi_pool", choices=["roi_pool", "roi_align"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, metavar="PATH", help="write every result here")
    args = parser.parse_args(argv)

    from npvision.tasks import run_task

    cache = os.path.join(args.out, "proposal-cache")
    results = {}
    header = {"cpu": _cpu(), "load_start": os.getloadavg(), "command": " ".join([sys.executable] + sys.argv),
              "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    for task in args.tasks:
        options = {"pooling": args.pooling} if task == "faster-rcnn" else {"proposal_cache": cache}
        start = time.perf_counter()
        results[task] = run_task(task, seed=args.seed, out=os.path.join(args.out, task), quick=args.quick,
                                 progress=not args.quick, **options)
        print(f"{task}: mAP@0.5 {results[task]['map50']:.3f}, mAP {results[task]['map']:.3f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    order = {k: results[k] for k in ("rcnn", "fast-rcnn", "faster-rcnn") if k in results}
    header["load_end"] = os.getloadavg()
    print(f"\nCPU: {header['cpu']}; load {header['load_start']} -> {header['load_end']}")
    print(table(order))
    if "rcnn" in order and "fast-rcnn" in order:
        print(f"\nFast R-CNN / R-CNN speed-up, proposals excluded: "
              f"{order['rcnn']['test_ms_per_image'] / order['fast-rcnn']['test_ms_per_image']:.1f}x")
    if "fast-rcnn" in order and "faster-rcnn" in order:
        print(f"Faster R-CNN / (Fast R-CNN + selective search), proposals included: "
              f"{order['fast-rcnn']['test_ms_per_image_with_proposals'] / order['faster-rcnn']['test_ms_per_image']:.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": header, "results": order}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
