"""Choose the face-digits recipe on validation splits that never touch digits 5-9.

The task ``npvision train face-digits`` scores one-shot recognition of the digit
classes 5-9, never seen in training. Choosing its recipe on those numbers would
tune to the test set, so every recipe here is scored on a *validation protocol*
whose held-out classes are other ones:

=====  ==================================================================================
A      train on synthetic glyphs only (no digit image at all); 5-way one-shot on the
       digits 0-4 (901 images, none seen in training): the skill the task needs
       (one-shot on five real digit classes never seen), with the task's episodes.
B      train on glyphs + digits 0-2; 2-way one-shot on digits 3-4: does adding real
       digit classes to the batches help one-shot on other digit classes?
=====  ==================================================================================

In protocol A the ``p`` digit classes of a batch are replaced by ``p`` more glyph
classes (rounded down to whole ``glyph_family`` families), so the batch holds as
many classes as the task's. Digits 5-9 are never
loaded into training or scored here. Every run appends one JSON line to ``--log``.

    python benchmarks/tune_face_digits.py --protocol A --recipe default --seeds 0 1
    python benchmarks/tune_face_digits.py --list
    python benchmarks/tune_face_digits.py --summary          # the table of the log, per recipe

The selection recorded in ``benchmarks/train_face.md`` ("Digits") is, in one command
(about 75 minutes of 2 cores; the record ran the seeds shown there)::

    python benchmarks/tune_face_digits.py --protocol A --seeds 0 1 2 --recipe shift1 glyphs5000 \
        semi-hard glyphs5000-semi-hard jitter03 jitter08 width24 k8 emb64 softmax

Recipes other than ``default`` and ``main`` set ``test_shift=1`` and so also report their
numbers without it (``no_shift``): the task's default scores without test-time shifts, so
those are the numbers that chose it.

Run it under the shared lock (``flock /work/locks/heavy.lock ...``); a recipe takes
about as long as the task's training (``benchmarks/train_face.md``, "Digits").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from npvision.tasks import get_task, run_task  # noqa: E402

#: recipe name -> options of the face-digits task on top of its defaults
RECIPES = {
    "default": {},                                   # the task's defaults as they are now
    # main's recipe before this tuning (20 glyphs + 5 digit classes x 4, 1500 steps, flatten, width 16),
    # with the glyphs of the current npvision.data.glyphs
    "main": dict(epochs=5, steps_per_epoch=300, p=5, p_glyphs=20, glyphs=1000, k=4, lr=2e-3, width=16,
                 embedding_dim=128, loss="batch_all", margin=None, test_shift=0, glyph_jitter=0.05,
                 glyph_family=1, softmax_scale=16.0),
}
# every variation below also reports its numbers without test-time shifts ("no_shift" in the log):
# the same trained encoder, so each run measures both
_BASE = dict(RECIPES["main"], test_shift=1)
RECIPES.update({
    "shift1": _BASE,
    "glyphs5000": dict(_BASE, glyphs=5000),
    "width24": dict(_BASE, width=24),
    "jitter03": dict(_BASE, glyph_jitter=0.03),
    "jitter08": dict(_BASE, glyph_jitter=0.08),
    "semi-hard": dict(_BASE, loss="semi_hard"),
    "batch-hard": dict(_BASE, loss="batch_hard"),
    "k8": dict(_BASE, k=8, p_glyphs=8),
    "emb64": dict(_BASE, embedding_dim=64),
    "family2": dict(_BASE, glyph_family=2),
    "family4": dict(_BASE, glyph_family=4),
    "softmax": dict(_BASE, loss="softmax"),
    "softmax-s32": dict(_BASE, loss="softmax", softmax_scale=32.0),
    # the two single changes that scored best on protocol A, together
    "glyphs5000-semi-hard": dict(_BASE, glyphs=5000, loss="semi_hard"),
})

PROTOCOLS = {
    "A": dict(train_digits=(), test_digits=(0, 1, 2, 3, 4)),
    "B": dict(train_digits=(0, 1, 2), test_digits=(3, 4)),
}


def _commit() -> str:
    import subprocess
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        return "?"


def run(protocol: str, recipe: str, seed: int, log: str | None) -> dict:
    options = dict(RECIPES[recipe])
    options.update(PROTOCOLS[protocol])
    defaults = get_task("face-digits").defaults
    if protocol == "A":                                   # no digit class: that many more glyphs
        family = options.get("glyph_family", defaults["glyph_family"])
        more = options.get("p_glyphs", defaults["p_glyphs"]) + options.get("p", defaults["p"])
        options["p_glyphs"] = more - more % family                 # whole glyph families in a batch
        options["p"] = 0
    else:
        options["p"] = min(options.get("p", defaults["p"]), len(options["train_digits"]))
    m = run_task("face-digits", seed=seed, progress=False, **options)
    row = {"protocol": protocol, "recipe": recipe, "seed": seed, "options": {k: list(v) if isinstance(v, tuple)
                                                                            else v for k, v in options.items()},
           "one_shot_5way": m["one_shot_5way"], "one_shot_2way": m["one_shot_2way"],
           "verification_accuracy": m["verification_accuracy"],
           "pixel_one_shot_5way": m["pixel_baseline_one_shot_5way"],
           "pixel_one_shot_2way": m["pixel_baseline_one_shot_2way"],
           "no_shift": {k: m.get(f"{k}_no_shift") for k in ("one_shot_5way", "one_shot_2way")},
           "commit": _commit(), "train_seconds": m["train_seconds"], "load_average": m["load_average"],
           "cpu": platform.processor() or platform.machine(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    return row


def summarize(log: str) -> None:
    """One line per (protocol, recipe): the 5-way (A) or 2-way (B) score of every seed, without test shifts."""
    rows = {}
    with open(log) as fh:
        for line in fh:
            r = json.loads(line)
            key = "one_shot_5way" if r["protocol"] == "A" else "one_shot_2way"
            plain = (r.get("no_shift") or {}).get(key)
            rows.setdefault((r["protocol"], r["recipe"]), []).append((r["seed"], plain if plain is not None else r[key]))
    for (protocol, recipe), scores in rows.items():
        mean = sum(v for _, v in scores) / len(scores)
        print(f"{protocol} {recipe:24s} mean {mean:.4f}  " + "  ".join(f"seed {s}: {v:.4f}" for s, v in scores))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="A")
    parser.add_argument("--recipe", nargs="+", default=["default"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--log", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "tune_face_digits.jsonl"))
    parser.add_argument("--list", action="store_true", help="print the recipes and exit")
    parser.add_argument("--summary", action="store_true", help="print the log's results per recipe and exit")
    args = parser.parse_args(argv)
    if args.summary:
        summarize(args.log)
        return 0
    if args.list:
        for name, options in RECIPES.items():
            print(f"{name:24s} {options}")
        return 0
    for recipe in args.recipe:
        if recipe not in RECIPES:
            parser.error(f"--recipe: unknown {recipe!r}; known: {sorted(RECIPES)}")
    key = "one_shot_5way" if args.protocol == "A" else "one_shot_2way"
    for recipe in args.recipe:
        scores = []
        for seed in args.seeds:
            row = run(args.protocol, recipe, seed, args.log)
            scores.append(row[key])
            plain = row["no_shift"][key]
            print(f"{args.protocol} {recipe:24s} seed {seed}: {key} {row[key]:.3f}"
                  + (f" (without test-time shifts {plain:.3f})" if plain is not None else "")
                  + f", pixels {row['pixel_' + key]:.3f}, {row['train_seconds']:.0f} s", flush=True)
        print(f"{args.protocol} {recipe:24s} mean {key} {sum(scores) / len(scores):.3f} over seeds {args.seeds}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
