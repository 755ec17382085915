"""Mining measured: random triplets against batch-all, batch-hard and semi-hard, same number of steps.

Runs the ``face`` task (``npvision.tasks.face``) once per loss and seed with
everything else fixed (data, encoder, P x K batches of 24 x 4, Adam with the
same cosine schedule, the same held-out people and pairs) and prints a table of
the held-out numbers: mean and standard deviation over the seeds.

    python benchmarks/bench_face_mining.py --runs-dir runs/mining          # all losses, seeds 0 1 2
    python benchmarks/bench_face_mining.py --runs-dir runs/mining --losses random --seeds 0
    python benchmarks/bench_face_mining.py --runs-dir runs/mining --table-only
    python benchmarks/bench_face_mining.py --quick                         # a few steps: checks the script

Each run's metrics are written to ``RUNS_DIR/<loss>-seed<seed>.json`` and a run
already there is not repeated, so the benchmark can be run in pieces (e.g. one
loss at a time under a shared lock); the table is printed from every file found.

Margins (each loss's own scale): random triplets use the course's loss (squared L2,
alpha = 0.2); batch-all and batch-hard plain L2 with margin 0.2; semi-hard squared L2
with margin 1.0 (TensorFlow's ``triplet_semihard_loss`` default, DESIGN.md's).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import _common  # noqa: F401  (puts this checkout first on sys.path)

LOSSES = ("random", "batch_all", "batch_hard", "semi_hard")
MARGINS = {"random": 0.2, "batch_all": 0.2, "batch_hard": 0.2, "semi_hard": 1.0}
KEYS = ("verification_accuracy", "val_at_far_1e-3", "roc_auc", "one_shot_5way", "one_shot_20way",
        "train_seconds")


def run(loss: str, seed: int, epochs: int, quick: bool) -> dict:
    from npvision.tasks import run_task
    return run_task("face", epochs=epochs, seed=seed, quick=quick, progress=False, loss=loss,
                    margin=MARGINS[loss])


def table(results: dict) -> str:
    import numpy as np
    lines = ["| loss (margin) | seeds | steps | " + " | ".join(KEYS) + " |",
             "|---|---|---|" + "---|" * len(KEYS)]
    for loss in LOSSES:
        runs = results.get(loss, [])
        if not runs:
            continue
        cells = []
        for key in KEYS:
            v = np.array([r[key] for r in runs], float)
            cells.append(f"{v.mean():.0f}" if key == "train_seconds" else
                         f"{v.mean():.3f} +- {v.std(ddof=1) if len(v) > 1 else 0:.3f}")
        seeds = ",".join(str(r["seed"]) for r in runs)
        lines.append(f"| {loss} ({MARGINS[loss]}) | {seeds} | {runs[0]['steps']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs-dir", default="runs/face-mining", help="where each run's metrics go")
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2, help="epochs of 300 steps (default 2: 600 steps)")
    parser.add_argument("--quick", action="store_true", help="the task's quick mode: checks the script")
    parser.add_argument("--table-only", action="store_true", help="print the table of the runs found")
    args = parser.parse_args(argv)
    os.makedirs(args.runs_dir, exist_ok=True)
    if not args.table_only:
        for loss in args.losses:
            for seed in args.seeds:
                path = os.path.join(args.runs_dir, f"{loss}-seed{seed}.json")
                if os.path.exists(path):
                    continue
                m = run(loss, seed, args.epochs, args.quick)
                with open(path, "w") as fh:
                    json.dump(m, fh, indent=1)
                print(f"{loss} seed {seed}: verification {m['verification_accuracy']:.3f}, one-shot 5-way "
                      f"{m['one_shot_5way']:.3f}, 20-way {m['one_shot_20way']:.3f} "
                      f"({m['train_seconds']:.0f} s)", flush=True)
    results: dict = {}
    for name in sorted(os.listdir(args.runs_dir)):
        if name.endswith(".json"):
            with open(os.path.join(args.runs_dir, name)) as fh:
                m = json.load(fh)
            results.setdefault(m["loss"], []).append(m)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
