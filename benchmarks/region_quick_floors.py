"""The numbers behind the quick-mode floors of the region tasks (tests/test_region_tasks.py).

    python benchmarks/region_quick_floors.py                       # rcnn, fast-rcnn, faster-rcnn; seeds 0-2
    python benchmarks/region_quick_floors.py --tasks rcnn --seeds 0 1

For each task, in quick mode (the settings the test runs):

* ``trained``: the held-out mAP@0.5 after the quick training, for each seed;
* ``constant``: the same run (seed 0) with every Conv2D, DepthwiseConv2D, ConvTranspose2D and
  Linear layer fed zeros whenever the model is in evaluation mode (``_common.constant_network``),
  so that what it predicts no longer depends on the image (as ``tests/test_task_floors.py``
  measures its baselines). A two-stage detector whose network is constant still outputs
  boxes: every proposal (selective search's, ranked best first, or the RPN's anchors) with
  the same class scores; that is the score a floor must clear, not zero.

A floor sits between the constant score and the lowest trained one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from _common import constant_network, use_this_checkout

use_this_checkout()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["rcnn", "fast-rcnn", "faster-rcnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)

    from npvision.tasks import run_task

    results = {}
    for task in args.tasks:
        row = {"trained": {}, "seconds": {}}
        for seed in args.seeds:
            start = time.perf_counter()
            m = run_task(task, quick=True, progress=False, seed=seed)
            row["trained"][seed] = round(m["map50"], 4)
            row["seconds"][seed] = round(time.perf_counter() - start, 1)
            extra = {k: m[k]["100"]["recall"] for k in ("rpn_recall",) if k in m}
            print(f"{task} seed {seed}: mAP@0.5 {m['map50']:.4f}  mAP {m['map']:.4f}  {extra}  "
                  f"{row['seconds'][seed]} s", flush=True)
        with constant_network():
            m = run_task(task, quick=True, progress=False, seed=args.seeds[0])
        row["constant"] = round(m["map50"], 4)
        print(f"{task} constant network: mAP@0.5 {m['map50']:.4f}  mAP {m['map']:.4f}", flush=True)
        results[task] = row
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
