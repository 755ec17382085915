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


def _blas_threads_now():
    """Thread counts of the BLAS libraries npvision controls, as threadpoolctl reads them now."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas.threads()                                               # finds the BLAS library
    if not blas._controllers:
        pytest.skip("no BLAS library threadpoolctl can control")
    # Only the BLAS libraries npvision found (NumPy's); another one loaded later by some other
    # package (SciPy ships its own OpenBLAS) is not NumPy's matmul and not ours to set.
    ours = {c.filepath for c in blas._controllers}
    return {c["num_threads"] for c in threadpoolctl.threadpool_info()
            if c["user_api"] == "blas" and c["filepath"] in ours}


def test_products_run_on_one_blas_thread_and_give_it_back():
    """npvision holds OpenBLAS at one thread while it works (its own threads do the
    splitting) and gives the user's NumPy its thread count back afterwards."""
    before = _blas_threads_now()
    seen = blas.run_on_threads(lambda share: _blas_threads_now(), list(range(4)))
    assert all(s == {1} for s in seen)
    assert _blas_threads_now() == before == {blas._max_threads}
    with pytest.raises(ZeroDivisionError):                       # given back after an error too
        blas.run_on_threads(lambda share: 1 / 0, list(range(4)))
    assert _blas_threads_now() == before


def test_run_on_threads_covers_every_item_once_in_contiguous_shares(monkeypatch):
    monkeypatch.setattr(blas, "_max_threads", 3)
    blas.threads()
    monkeypatch.setattr(blas, "_max_threads", 3)
    items = list(range(10))
    shares = blas.run_on_threads(lambda share: list(share), items)
    assert len(shares) == 3 and sum(shares, []) == items        # in order, each item once
    assert [len(s) for s in shares] == [3, 3, 4]
    # inside a share, run_on_threads and matmul do not split again: one share, run right here
    nested = blas.run_on_threads(lambda share: blas.run_on_threads(lambda inner: len(inner), share), items)
    assert nested == [[3], [3], [4]]
    assert blas.run_on_threads(lambda share: share, [7]) == [[7]]   # one item: one share


@pytest.mark.parametrize("shape", [(300, 40, 50), (5, 400, 300)])    # bands of rows; of columns
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_products_equal_numpy(shape, dtype, monkeypatch):
    monkeypatch.setattr(blas, "SMALL_MACS", 1)                   # split even these
    M, K, N = shape
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    close = lambda got: np.max(np.abs(got - want)) < tol * np.max(np.abs(want))  # noqa: E731
    assert close(blas.matmul(a, b))
    out = np.full((M, N), np.nan, dtype=dtype)
    assert blas.matmul(a, b, out=out) is out and close(out)
    assert close(blas.matmul(np.asfortranarray(a), b))           # a column-major input is split too


def test_scratch_is_reused_grows_and_belongs_to_one_thread():
    a = blas.scratch("test", 10, np.float32)
    b = blas.scratch("test", 5, np.float64)                      # same bytes (40), reused
    assert a.shape == (10,) and b.shape == (5,) and b.dtype == np.float64 and np.shares_memory(a, b)
    c = blas.scratch("test", 100, np.float32)                    # larger: a new buffer
    assert c.shape == (100,) and not np.shares_memory(a, c)
    assert np.shares_memory(blas.scratch("test", 3, np.float32), c)
    assert not np.shares_memory(blas.scratch("other", 3, np.float32), c)
    import threading
    seen = []
    t = threading.Thread(target=lambda: seen.append(blas.scratch("test", 3, np.float32)))
    t.start()
    t.join()
    assert not np.shares_memory(seen[0], c)                      # another thread: its own buffer


def test_kernels_called_from_several_threads_at_once_agree_with_one_at_a_time(monkeypatch):
    """Users' own threads share npvision's pool and each thread's scratch buffers: convolutions
    (Winograd, im2col, gemm and planar direct paths, split into several blocks or images) run
    concurrently give the serial results."""
    from concurrent.futures import ThreadPoolExecutor

    import npvision.functional as F
    import npvision.kernels.im2col as IM
    import npvision.kernels.winograd as WG
    monkeypatch.setattr(IM, "PARALLEL_MACS", 1)                  # always split into blocks
    monkeypatch.setattr(WG, "TILES_PER_BLOCK", 4)
    rng = np.random.default_rng(3)
    cases = [(rng.standard_normal((3, 9, 7, 24)), rng.standard_normal((3, 3, 24, 24)), 1, 1),   # Winograd
             (rng.standard_normal((3, 9, 7, 5)), rng.standard_normal((3, 3, 5, 6)), 2, 1),     # im2col, strided
             (rng.standard_normal((3, 9, 7, 5)), rng.standard_normal((1, 1, 5, 6)), 1, 0),     # 1x1
             (rng.standard_normal((3, 9, 7, 3)), rng.standard_normal((3, 3, 3, 5)), 1, 1),     # direct (a stem)
             (rng.standard_normal((3, 9, 7, 5)), rng.standard_normal((3, 3, 5, 16)), 2, 1)]    # gemm: 60 pixels, F 16

    def run(case):
        x, w, s, p = case
        out, cache = F.conv2d_forward(x, w, np.ones(w.shape[3]), stride=s, padding=p)
        return (out,) + F.conv2d_backward(np.cos(out), cache)

    serial = [run(c) for c in cases]
    with ThreadPoolExecutor(4) as ex:
        together = list(ex.map(run, cases * 4))
    for i, got in enumerate(together):
        for a, b in zip(got, serial[i % len(cases)]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model, batch", [("resnet18", 16), ("vgg16", 4), ("mobilenet_v2", 16), ("efficientnet_b0", 8)])
def test_a_training_step_makes_no_product_on_openblas_threads(model, batch, monkeypatch):
    """Every NumPy product of a training step runs with OpenBLAS held at one thread.

    One product on OpenBLAS's own threads leaves its worker spinning for about 0.1 s, a
    core taken from the rest of the step: MobileNet v2's one small 1x1 weight gradient did
    that in every step (kernels_issue19.md section 10)."""
    import npvision.functional as F
    from npvision import models

    loose = []

    def held(name):
        product = getattr(np, name)

        def checked(*args, **kwargs):
            if not getattr(blas._local, "held", False):
                shapes = [getattr(a, "shape", None) for a in args[:2]]
                loose.append(f"np.{name}{tuple(shapes)}")
            return product(*args, **kwargs)
        return checked

    for name in ("matmul", "dot", "einsum", "tensordot", "inner"):
        monkeypatch.setattr(np, name, held(name))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 64, 64, 3), dtype=np.float32)   # bench_models.py's steps
    net = models.create(model, num_classes=4, input_shape=x.shape[1:], rng=0)
    net.train()
    logits = net.forward(x)
    _, dlogits = F.softmax_cross_entropy(logits, rng.integers(0, 4, batch))
    net.backward(dlogits)
    assert not loose, f"{model}: products outside blas.one_blas_thread(): {sorted(set(loose))}"
