"""npvision.kernels.blas: products on as many BLAS threads as pay off."""

import numpy as np
import pytest

from npvision.kernels import blas


def test_matmul_equals_numpy_and_fills_out():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3))
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)
    out = np.empty((7, 3))
    assert blas.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, a @ b)


def test_small_products_run_on_one_thread_large_on_all():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas.matmul(np.ones((2, 2)), np.ones((2, 2)))               # finds the BLAS library
    if not blas._controllers:
        pytest.skip("no BLAS library threadpoolctl can control")
    # Only the BLAS libraries npvision found (NumPy's); another one loaded later by some other
    # package (SciPy ships its own OpenBLAS) is not NumPy's matmul and not ours to set.
    ours = {c.filepath for c in blas._controllers}
    info = lambda: [c["num_threads"] for c in threadpoolctl.threadpool_info()  # noqa: E731
                    if c["user_api"] == "blas" and c["filepath"] in ours]
    blas.matmul(np.ones((32, 400), np.float32), np.ones((400, 120), np.float32))    # 1.5 M MACs
    assert set(info()) == {1}
    n = 512                                                                        # 134 M MACs
    blas.matmul(np.ones((n, n), np.float32), np.ones((n, n), np.float32))
    assert set(info()) == {blas._max_threads}
