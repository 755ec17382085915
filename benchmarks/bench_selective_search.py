"""Selective search on held-out synthetic scenes: proposal recall against the number of
proposals, and seconds per image, for each mode.

Run from the repository root (under the shared lock on a shared machine)::

    flock /work/locks/heavy.lock python benchmarks/bench_selective_search.py       # ~6 minutes
    python benchmarks/bench_selective_search.py --quick        # 3 scenes per size: checks the script only
    python benchmarks/bench_selective_search.py --sweep        # the tuning grid, on separate tuning scenes
    python benchmarks/bench_selective_search.py --sizes 128 --modes fast --scenes 50 --json ss.json
    python benchmarks/bench_selective_search.py --quick --pictures pics   # + pictures of one scene per size

Scenes: :func:`npvision.data.make_scenes` with the YOLO task's settings (2..4 shapes of
the 4 classes, gradient backgrounds, noise 0.03, each object at least 40 % visible),
from the YOLO task's fixed *test* seed (2,000,000,000). At 64x64 the default is the YOLO
task's whole test set (its ``n_test``, 500 scenes): exactly the scenes YOLO (and the
detectors after it) are scored on. At 128x128, 200 scenes from the same seed at the larger
size. Ground-truth boxes are the whole (amodal) shapes, occluded parts included.

Measured per image: ``npvision.detection.selective_search(image, mode)`` (its default
arguments: seed 0, sigma 0.8, min_region_size 20), wall time of the call after one
warm-up call (numba loads its cache). Reported:

* ``R@N``: recall at IoU 0.5 -- the fraction of ground-truth boxes that one of the
  first N proposals (best first) overlaps with IoU >= 0.5 (all of them when an image
  has fewer than N), for N in 50, 100, 300, 500, 1000;
* ``R@all`` at IoU 0.5 and at 0.7, with every proposal of the image;
* ``MABO``: the mean over ground-truth boxes of the best IoU any proposal reaches;
* ``boxes``: the mean number of proposals per image; ``s/img``: mean, median and 90th
  percentile seconds per image.

``--sweep`` runs the tuning grid (sigma, min_region_size, strategy sets) on 60 *other*
scenes (seed 777) at 128x128, so the held-out numbers were not tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

from npvision.tasks import TASKS  # noqa: E402  (numpy only)

YOLO = TASKS["yolo"].defaults      # size 64, 2..4 objects of 4 classes, n_test 500

TEST_SEED = 2_000_000_000          # the YOLO task's held-out scenes (npvision/tasks/yolo.py, _TEST_SEED)
TUNING_SEED = 777
COUNTS = (50, 100, 300, 500, 1000)
FLOOR = dict(size=128, recall=0.95, proposals=500, seconds=2.0)


def make_scenes(n: int, size: int, seed: int):
    """``n`` scenes of ``size`` x ``size`` drawn as the YOLO task draws its own."""
    from npvision.data import make_scenes as _make
    from npvision.data.scenes import SHAPE_CLASSES

    return _make(n, size=size, min_objects=YOLO["min_objects"], max_objects=YOLO["max_objects"],
                 classes=list(SHAPE_CLASSES[:YOLO["num_classes"]]), seed=seed)


def evaluate(scenes, propose, progress: str | None = None) -> dict:
    """Recall table, MABO, box counts and per-image seconds of ``propose(image) -> (K, 4)``."""
    from tqdm import tqdm

    from npvision.detection import box_iou

    propose(scenes.images[0])                                           # warm-up: numba cache, imports
    best_rank = []                  # per ground-truth box: rank of the first proposal with IoU >= 0.5
    best_iou, seconds, counts = [], [], []
    for image, gt in tqdm(list(zip(scenes.images, scenes.boxes)), desc=progress, disable=progress is None,
                          leave=False):
        t0 = time.perf_counter()
        boxes = propose(image)
        seconds.append(time.perf_counter() - t0)
        counts.append(len(boxes))
        iou = box_iou(gt, boxes)                                        # (M, K)
        hit = iou >= 0.5
        best_rank.extend(np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max).tolist())
        best_iou.extend(iou.max(axis=1).tolist())
    best_rank, best_iou, seconds = np.array(best_rank), np.array(best_iou), np.array(seconds)
    return {
        "recall": {str(n): float(np.mean(best_rank < n)) for n in COUNTS},
        "recall_all": float(np.mean(best_iou >= 0.5)),
        "recall_all_iou07": float(np.mean(best_iou >= 0.7)),
        "mabo": float(best_iou.mean()),
        "boxes": float(np.mean(counts)),
        "gt_boxes": int(len(best_iou)),
        "images": int(len(seconds)),
        "seconds_mean": float(seconds.mean()),
        "seconds_median": float(np.median(seconds)),
        "seconds_p90": float(np.percentile(seconds, 90)),
    }


def _row(label: str, r: dict) -> list:
    return ([label] + [C.fmt_num(r["recall"][str(n)], 3) for n in COUNTS]
            + [C.fmt_num(r["recall_all"], 3), C.fmt_num(r["recall_all_iou07"], 3), C.fmt_num(r["mabo"], 3),
               C.fmt_num(r["boxes"], 0), C.fmt_num(r["seconds_mean"], 3), C.fmt_num(r["seconds_median"], 3),
               C.fmt_num(r["seconds_p90"], 3)])


HEADERS = (["setting"] + [f"R@{n}" for n in COUNTS]
           + ["R@all", "R@all IoU.7", "MABO", "boxes", "s/img", "median", "p90"])


def sweep_settings():
    """(label, kwargs for selective_search) of the tuning grid."""
    from npvision.detection import Strategy

    settings = []
    for sigma in (0.5, 0.8, 1.2):
        for min_region in (10, 20, 50, 100):
            settings.append((f"fast sigma={sigma} min_region={min_region}",
                             dict(mode="fast", sigma=sigma, min_region_size=min_region)))
    hsv_only = [Strategy("hsv", k, s) for k in (50, 100) for s in ("CTSF", "TSF")]
    lab_only = [Strategy("lab", k, s) for k in (50, 100) for s in ("CTSF", "TSF")]
    bigger_k = [Strategy(c, k, s) for c in ("hsv", "lab") for k in (100, 200) for s in ("CTSF", "TSF")]
    for label, mode in (("single", "single"), ("HSV only (4 strategies)", hsv_only),
                        ("Lab only (4 strategies)", lab_only), ("fast with k in {100, 200}", bigger_k),
                        ("quality", "quality")):
        settings.append((label, dict(mode=mode)))
    return settings


def draw_pictures(scenes, size: int, folder: Path) -> None:
    """The first scene: HSV k=50 segmentation, its grouping steps, the top 20 fast-mode proposals."""
    from npvision.detection import selective_search, selective_search_hierarchies
    from npvision.viz.proposals import plot_grouping_steps, plot_proposals, plot_segmentation

    image, gt = scenes.images[0], scenes.boxes[0]
    hierarchy = selective_search_hierarchies(image, "fast")[0]
    plot_segmentation(image, hierarchy.labels, folder / f"segmentation_{size}.png",
                      title=f"Felzenszwalb-Huttenlocher: HSV, k = {hierarchy.strategy.k:g}")
    plot_grouping_steps(image, hierarchy, path=folder / f"grouping_{size}.png")
    plot_proposals(image, selective_search(image, "fast"), top=20, ground_truth=gt,
                   path=folder / f"proposals_{size}.png")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, default=None,
                    help="held-out scenes per size (default: 200; at 64x64 the YOLO task's n_test, 500)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 64], help="scene sizes (default 128 64)")
    ap.add_argument("--modes", nargs="+", default=["single", "fast", "quality"],
                    choices=["single", "fast", "quality"], help="modes to measure (default: all three)")
    ap.add_argument("--sweep", action="store_true", help="run the tuning grid instead (60 tuning scenes, 128x128)")
    ap.add_argument("--quick", action="store_true", help="3 scenes per size: a smoke run")
    ap.add_argument("--json", type=Path, help="write every number to this file")
    ap.add_argument("--pictures", type=Path, metavar="DIR",
                    help="also draw the first held-out scene of each size: its segmentation, grouping "
                         "steps and top-20 fast-mode proposals")
    args = ap.parse_args(argv)

    from npvision.detection import selective_search

    info = C.machine_info()
    print(f"npvision selective search benchmark ({info['date_utc']})")
    print(f"{info['cpu']}, {info['logical_cpus']} CPUs, numpy {info['numpy']}, numba {info['numba']}")
    results = {"machine": info, "counts": list(COUNTS), "tables": {}}
    load = C.OtherLoad().start()

    if args.sweep:
        n = 3 if args.quick else 60
        scenes = make_scenes(n, 128, TUNING_SEED)
        rows, table = [], {}
        settings = sweep_settings()[:2] if args.quick else sweep_settings()
        for label, kw in settings:
            table[label] = evaluate(scenes, lambda im, kw=kw: selective_search(im, **kw), progress=label)
            rows.append(_row(label, table[label]))
        results["tables"]["sweep_128"] = table
        print(f"\ntuning grid: {n} scenes of 128x128 (seed {TUNING_SEED}), recall at IoU 0.5")
        print(C.format_table(HEADERS, rows))
    else:
        for size in args.sizes:
            n = 3 if args.quick else args.scenes or (YOLO["n_test"] if size == YOLO["size"] else 200)
            scenes = make_scenes(n, size, TEST_SEED)
            rows, table = [], {}
            for mode in args.modes:
                table[mode] = evaluate(scenes, lambda im, mode=mode: selective_search(im, mode),
                                       progress=f"{mode} {size}x{size}")
                rows.append(_row(mode, table[mode]))
            results["tables"][f"heldout_{size}"] = table
            if args.pictures:
                draw_pictures(scenes, size, args.pictures)
            print(f"\nheld-out scenes: {n} of {size}x{size} (seed {TEST_SEED}), "
                  f"{sum(len(b) for b in scenes.boxes)} ground-truth boxes; recall at IoU 0.5")
            print(C.format_table(HEADERS, rows))
        fast = results["tables"].get(f"heldout_{FLOOR['size']}", {}).get("fast")
        if fast is not None:
            ok = (fast["recall"][str(FLOOR["proposals"])] >= FLOOR["recall"]
                  and fast["seconds_mean"] < FLOOR["seconds"])
            print(f"\nfloor (fast, {FLOOR['size']}x{FLOOR['size']}): recall >= {FLOOR['recall']} within "
                  f"{FLOOR['proposals']} proposals and < {FLOOR['seconds']} s per image: "
                  f"{'met' if ok else 'NOT MET'}")
            results["floor_met"] = ok
    other = load.stop()
    results["other_load"] = other
    if other is not None:
        print(f"other processes kept {100 * other:.0f}% of the CPUs busy meanwhile")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
