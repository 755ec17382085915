"""Which convolution is fastest for the random texture network's shapes: im2col/direct or the FFT?

The default feature extractor of :mod:`npvision.style` convolves the image with
random filters of sizes 3 to 55 ("same" padding, stride 1, input gradient only:
the filters are fixed, the image is the variable). For each kernel size this
times one forward plus one backward (``dx`` only) of

* ``conv``: ``F.conv2d_forward`` / ``F.conv2d_backward`` with the default backend
  (numba: direct loops, Winograd or im2col + BLAS, whatever ``auto`` picks),
* ``fft-numpy`` and ``fft-numba``: ``F.conv2d_fft_forward`` / ``F.conv2d_fft_backward``
  with the channel sums in NumPy or in numba loops, the filters' spectrum
  precomputed (as the extractor keeps it from step to step),

interleaved round by round, median over rounds, float32::

    python benchmarks/bench_style_conv.py                  # 128x128 and 256x256, C_in 1 and 3
    python benchmarks/bench_style_conv.py --quick          # tiny shapes: checks the script only
    python benchmarks/bench_style_conv.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from _common import format_table, machine_info, median, time_interleaved

import npvision  # noqa: E402  (after _common put this checkout first)
import npvision.functional as F  # noqa: E402
from npvision.kernels.fft_conv import grid, weight_spectrum  # noqa: E402


def methods_for(x, w):
    pads = ((w.shape[0] // 2, (w.shape[0] - 1) // 2), (w.shape[1] // 2, (w.shape[1] - 1) // 2))
    P, Q = grid(x.shape, w.shape, pads)
    spec = weight_spectrum(w, P, Q)
    dout = np.ones((x.shape[0], x.shape[1], x.shape[2], w.shape[3]), x.dtype)

    def conv():
        _, cache = F.conv2d_forward(x, w, padding="same")
        return F.conv2d_backward(dout, cache)[0]

    def fft(backend):
        def run():
            with npvision.use_backend(backend):
                _, cache = F.conv2d_fft_forward(x, w, padding="same", spectrum=spec)
                return F.conv2d_fft_backward(dout, cache, need_weight_grad=False)[0]
        return run

    return {"conv": conv, "fft-numpy": fft("numpy"), "fft-numba": fft("numba")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    sizes = [16] if args.quick else [128, 256]
    kernels = [3, 7] if args.quick else [3, 5, 7, 11, 15, 23, 37, 55]
    channels = [1] if args.quick else [1, 3]
    rounds = 1 if args.quick else args.rounds
    F_out = 4 if args.quick else args.filters
    rng = np.random.default_rng(0)
    rows, records = [], []
    for size in sizes:
        for C in channels:
            x = rng.random((1, size, size, C), dtype=np.float32)
            for k in kernels:
                if k > size:
                    continue
                w = rng.standard_normal((k, k, C, F_out)).astype(np.float32)
                ms = methods_for(x, w)
                ref = ms["conv"]()
                for fn in ms.values():                                 # all three agree
                    np.testing.assert_allclose(fn(), ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())
                samples = time_interleaved(ms, rounds, warmup=1 if args.quick else 2)
                t = {name: median(v) * 1e3 for name, v in samples.items()}
                best = min(t, key=t.get)
                rows.append([f"{size}x{size}", C, k, F_out] + [f"{t[n]:.1f}" for n in ms] + [best])
                records.append(dict(size=size, C_in=C, k=k, filters=F_out, ms=t, fastest=best))
    print(format_table(["input", "C_in", "k", "F", "conv ms", "fft-numpy ms", "fft-numba ms", "fastest"],
                       rows))
    info = machine_info()
    info["load"] = os.getloadavg()
    print(json.dumps(info))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "results": records}, fh, indent=1)


if __name__ == "__main__":
    main()
