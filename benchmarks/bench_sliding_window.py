"""Time sliding-window detection: the naive detector against its convolutional implementation.

Run from the repository root::

    python benchmarks/bench_sliding_window.py              # 64x64 scene, 16x16 window, stride 2
    python benchmarks/bench_sliding_window.py --quick      # 32x32 scene, 1 round: checks the script only
    python benchmarks/bench_sliding_window.py --size 128 --rounds 21 --json windows.json
    python benchmarks/bench_sliding_window.py --filters 24 --hidden 96   # the sliding-windows task's net

What is timed, on one float32 RGB scene from ``npvision.data.make_scenes`` (seed 0),
with the course's window classifier (``npvision.detection.window_classifier``: conv
5x5 16 filters -> ReLU -> max-pool 2x2 -> FC 64 -> ReLU -> FC 5; random weights, seeded:
the time does not depend on what the weights learned):

* ``naive, per window``: ``sliding_window_naive(classifier, image, 16, 2)``: every window
  is cropped and classified with its own forward pass (625 passes on 64x64), the
  textbook detector and the issue's reference;
* ``naive, batched``: the same crops, stacked and classified in one batch
  (``batch_size=625``);
* ``convolutional``: ``sliding_window_conv(fc_to_conv(classifier), image)``, one forward
  pass over the whole image.

Each call includes the softmax and the window boxes. Before timing, the scores of the
three are compared (``max |naive - conv|``; float32, so about 1e-7). Timing follows
``benchmarks/_common.py``: warm-up calls, methods interleaved round by round, medians.

On a busy machine run it with ``OPENBLAS_NUM_THREADS=1``: the convolutional detector's
products (23 M multiply-adds for the 6x6 "FC" convolution) are large enough for
``npvision.kernels.blas`` to use both BLAS threads, and with the other core taken the two
threads wait on each other: measured here under load, that product took 8 ms on two
threads against 0.4 ms on one, which hides the speed-up being measured.

Where the speed-up comes from
-----------------------------
Windows at stride 2 overlap: two neighbours share 16 x 14 of their 256 pixels, and a
pixel lies in up to 64 windows. The naive detector convolves every crop from scratch;
the convolutional one convolves the image once, and each window reads its 6x6x16
features from the shared map. The script prints the multiply-adds per layer:

* conv 5x5: 625 windows x 12x12 outputs = 90,000 output pixels (108 M multiply-adds)
  against one 60x60 map = 3,600 pixels (4.3 M): **25 times fewer**;
* the fully connected layers, now 6x6 and 1x1 convolutions, do exactly the work they
  did before (one 576 -> 64 product per window): nothing is shared there.

So in multiply-adds the gain is about 5x for this small network (the FC layers weigh
as much as the convolution). The rest of the measured factor is the cost of a
forward pass itself: 625 calls through six layers (argument checks, small arrays,
caches) against one; the batched naive detector removes that overhead but keeps the
repeated convolution work, and sits in between. Deeper networks, whose cost is in
their convolutions, gain more from the sharing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

TARGET_SPEEDUP = 20.0   # the issue: convolutional >= 20x faster on 64x64, 16x16 window, stride 2


def multiply_adds(model, input_shape) -> list[tuple[str, str, int]]:
    """``(layer name, output shape, multiply-adds)`` of every Conv2D / Linear for one input."""
    from npvision import nn

    x = np.zeros((1,) + tuple(input_shape), dtype=np.float32)
    rows = []
    model.eval()
    for name, layer in model.named_children():
        y = layer.forward(x)
        if isinstance(layer, nn.Conv2D):
            kh, kw = layer.kernel_size
            rows.append((name, str(y.shape[1:]), int(np.prod(y.shape[1:3])) * kh * kw
                         * layer.in_channels * layer.out_channels))
        elif isinstance(layer, nn.Linear):
            rows.append((name, str(y.shape[1:]), layer.in_features * layer.out_features))
        x = y
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=64, help="scene side in pixels (default 64)")
    ap.add_argument("--rounds", type=int, default=15, help="timing rounds (default 15)")
    ap.add_argument("--filters", type=int, default=16, help="conv filters of the classifier (default 16)")
    ap.add_argument("--hidden", type=int, default=64, help="hidden FC width (default 64)")
    ap.add_argument("--quick", action="store_true", help="32x32 scene, 1 round: a smoke run")
    ap.add_argument("--json", type=Path, help="write every number to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.rounds = 32, 1
    window, stride = 16, 2

    from npvision.data import make_scenes
    from npvision.detection import (fc_to_conv, sliding_window_conv, sliding_window_naive,
                                    window_classifier)

    image = make_scenes(1, size=args.size, max_objects=4, seed=0).images[0]       # (S, S, 3) float32
    classifier = window_classifier(4, window, filters=args.filters, hidden=args.hidden, rng=0)
    conv_model = fc_to_conv(classifier, window)
    n_windows = ((args.size - window) // stride + 1) ** 2

    methods = {
        "naive, per window": lambda: sliding_window_naive(classifier, image, window, stride),
        "naive, batched": lambda: sliding_window_naive(classifier, image, window, stride,
                                                        batch_size=n_windows),
        "convolutional": lambda: sliding_window_conv(conv_model, image),
    }
    reference, ref_boxes = methods["convolutional"]()
    diffs = {}
    for label, fn in methods.items():
        scores, boxes = fn()
        assert np.array_equal(boxes, ref_boxes), f"{label}: window boxes differ"
        diffs[label] = float(np.abs(scores - reference).max())

    info = C.machine_info()
    print(f"npvision sliding-window benchmark: {args.size}x{args.size} scene, {window}x{window} window, "
          f"stride {stride}, {n_windows} windows, float32, median of {args.rounds} rounds")
    print(f"{info['cpu']}, {info['logical_cpus']} CPUs, numpy {info['numpy']}, numba {info['numba']}; "
          f"classifier: conv 5x5 x{args.filters}, pool 2x2, FC {args.hidden}, FC 5 "
          f"({classifier.num_parameters():,} parameters)")

    load = C.OtherLoad().start()
    samples = C.time_interleaved(methods, args.rounds, min_sample=0.0 if args.quick else 0.02)
    other = load.stop()
    conv_ms = 1e3 * C.median(samples["convolutional"])
    results = {"machine": info, "size": args.size, "window": window, "stride": stride,
               "filters": args.filters, "hidden": args.hidden,
               "windows": n_windows, "other_load": other, "methods": {}}
    rows = []
    for label, ts in samples.items():
        ms = 1e3 * C.median(ts)
        results["methods"][label] = {"median_ms": ms, "best_ms": 1e3 * min(ts), "rounds": len(ts),
                                     "speedup_of_conv": ms / conv_ms,
                                     "max_abs_diff_vs_conv": diffs[label]}
        rows.append([label, C.fmt_num(ms, 2), C.fmt_num(1e3 * min(ts), 2), len(ts),
                     C.fmt_num(ms / conv_ms, 1), f"{diffs[label]:.1e}"])
    print()
    print(C.format_table(["detector", "median ms", "best ms", "rounds", "conv speed-up",
                          "max |naive - conv|"], rows))

    # where the work goes: multiply-adds per layer, naive (all windows) against convolutional
    per_window = multiply_adds(classifier, (window, window, 3))
    whole = multiply_adds(conv_model, image.shape)
    mac_rows = []
    for (name, wshape, w_macs), (_, cshape, c_macs) in zip(per_window, whole):
        mac_rows.append([name, wshape, C.fmt_num(n_windows * w_macs / 1e6, 2), cshape,
                         C.fmt_num(c_macs / 1e6, 2), C.fmt_num(n_windows * w_macs / c_macs, 1)])
    naive_total = n_windows * sum(r[2] for r in per_window)
    conv_total = sum(r[2] for r in whole)
    mac_rows.append(["total", "", C.fmt_num(naive_total / 1e6, 2), "", C.fmt_num(conv_total / 1e6, 2),
                     C.fmt_num(naive_total / conv_total, 1)])
    results["multiply_adds"] = {"naive": naive_total, "convolutional": conv_total}
    print()
    print(C.format_table(["layer", "out / window", "naive M MACs", "out / image", "conv M MACs",
                          "ratio"], mac_rows))

    if other is not None:
        print(f"\nCPU time taken by other processes during the timing: {100 * other:.0f}% of the "
              f"machine (high values inflate every number above)")
    speedup = results["methods"]["naive, per window"]["speedup_of_conv"]
    results["speedup"] = speedup
    verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
    print(f"\nspeed-up of the convolutional implementation over the per-window naive detector: "
          f"{speedup:.1f}x (over the batched one: "
          f"{results['methods']['naive, batched']['speedup_of_conv']:.1f}x)")
    if args.size == 64:
        print(f"target: at least {TARGET_SPEEDUP:.0f}x on a 64x64 scene -> {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
