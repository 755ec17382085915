"""Why npvision's thread pool gains nothing on small products (kernels_issue19.md section 9).

One product (M, K) @ (K, F) three ways: two bands one after the other on one OpenBLAS thread, two
bands on npvision's pool (:func:`npvision.kernels.blas.run_on_threads`, with each band's own time
measured inside its thread), and one ``np.matmul`` on OpenBLAS's own threads. Run it with and
without ``OPENBLAS_THREAD_TIMEOUT=4`` (how long OpenBLAS's worker spins after a multi-threaded call)::

    flock /work/locks/heavy.lock python benchmarks/probe_pool_bands.py
    OPENBLAS_THREAD_TIMEOUT=4 flock /work/locks/heavy.lock python benchmarks/probe_pool_bands.py
"""

import argparse
import time

import numpy as np

from npvision.kernels import blas


def median_ms(f, repeats):
    f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(4096, 24, 144), metavar=("M", "K", "F"),
                    help="default: a MobileNet v2 1x1 conv, N16 24->144 at 16x16")
    ap.add_argument("--repeats", type=int, default=100)
    args = ap.parse_args()
    M, K, F = args.shape
    blas.threads()                                               # find OpenBLAS's controls first
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((M, K), dtype=np.float32), rng.standard_normal((K, F), dtype=np.float32)
    out = np.empty((M, F), np.float32)                           # (M, F)
    bands = [slice(0, M // 2), slice(M // 2, M)]

    def serial():
        with blas.one_blas_thread():
            for s in bands:
                np.matmul(x[s], w, out=out[s])

    def band(s):
        t0 = time.perf_counter()
        np.matmul(x[s], w, out=out[s])
        return time.perf_counter() - t0

    inside = []
    def pool():
        inside.append([r[0] for r in blas.run_on_threads(lambda share: [band(s) for s in share], bands)])

    print(f"({M}, {K}) @ ({K}, {F}), float32, median of {args.repeats}")
    print(f"two bands in turn, one OpenBLAS thread: {median_ms(serial, args.repeats):.3f} ms")
    print(f"one np.matmul on OpenBLAS's threads:    {median_ms(lambda: np.matmul(x, w, out=out), args.repeats):.3f} ms")
    print(f"two bands on npvision's pool:           {median_ms(pool, args.repeats):.3f} ms")
    caller, worker = 1e3 * np.median(np.array(inside), axis=0)
    print(f"  each band, timed inside its thread:   caller {caller:.3f} ms, pool thread {worker:.3f} ms")


if __name__ == "__main__":
    main()
