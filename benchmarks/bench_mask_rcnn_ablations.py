"""The Mask R-CNN paper's two mask-branch ablations, measured on the synthetic scenes.

    flock /work/locks/heavy.lock python benchmarks/bench_mask_rcnn_ablations.py --json ablations.json
    python benchmarks/bench_mask_rcnn_ablations.py --quick          # seconds: checks the script only

Three runs of the ``mask-rcnn`` task with the same data, seed, schedule and budget,
differing in one switch each:

=============  ==========================================================================
run            mask branch
=============  ==========================================================================
``align``      RoIAlign features, per-class sigmoid (the paper's Mask R-CNN)
``pool``       RoI max pooling features (corners rounded to the feature grid), sigmoid
``softmax``    RoIAlign features, a softmax over the classes at each pixel (FCN-style)
=============  ==========================================================================

The box branch is the same RoIAlign one in every run, so the box AP moves only through
the shared backbone; the mask AP difference is the ablation. ``--n-train``, ``--epochs``
set the budget (default: the task's full one). Each run's metrics, the machine and the
commands go to ``--json``; a table is printed.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import format_table, machine_info

RUNS = {"align": {}, "pool": {"mask_pooling": "roi_pool"}, "softmax": {"mask_loss": "softmax"}}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the task's quick mode: seconds")
    parser.add_argument("--n-train", type=int, default=None, help="training scenes (default: the task's)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the task's)")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)

    from npvision.tasks import run_task

    options = {} if args.n_train is None else {"n_train": args.n_train}
    results = {"machine": machine_info(), "runs": {}}
    for name in args.runs:
        start = time.perf_counter()
        m = run_task("mask-rcnn", epochs=args.epochs, quick=args.quick, progress=False, **options, **RUNS[name])
        results["runs"][name] = {"options": dict(options, **RUNS[name]), "epochs": m["epochs"],
                                 "wall_seconds": round(time.perf_counter() - start, 1),
                                 **{k: m[k] for k in ("mask_map50", "mask_map", "mask_map75", "box_map50",
                                                      "box_map", "mask_iou_matched", "train_seconds",
                                                      "n_train", "n_test", "load_average")}}
        print(f"{name}: mask AP50 {m['mask_map50']:.4f}  mask AP {m['mask_map']:.4f}  "
              f"box AP50 {m['box_map50']:.4f}  ({m['train_seconds']:.0f} s)", flush=True)
    rows = [[name, f"{r['mask_map50']:.3f}", f"{r['mask_map']:.3f}", f"{r['mask_map75']:.3f}",
             f"{r['box_map50']:.3f}", f"{r['mask_iou_matched'] or float('nan'):.3f}", f"{r['train_seconds']:.0f}"]
            for name, r in results["runs"].items()]
    print(format_table(["run", "mask AP50", "mask AP", "mask AP75", "box AP50", "matched mask IoU", "train s"],
                       rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == "__main__":
    main()
