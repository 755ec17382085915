"""npvision.kernels.workers: the pool whose threads wait without the GIL (behind blas.run_on_threads)."""

import multiprocessing
import os
import sys
import threading
import time

import pytest

from npvision.kernels import _jit, blas

pytestmark = pytest.mark.skipif(_jit._jit_disabled(), reason="the spinning pool needs compiled code")


def _within(seconds, fn):
    """fn() on a daemon thread; its result, or a failure (not a hang) if it takes longer."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as error:          # noqa: BLE001 - handed to the test
            box["error"] = error

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def pool(monkeypatch):
    """A fresh pool of two workers: three shares per job."""
    from npvision.kernels import workers

    monkeypatch.setattr(blas, "_max_threads", 3)
    blas.threads()
    monkeypatch.setattr(blas, "_max_threads", 3)
    p = workers.Workers(2)
    monkeypatch.setattr(blas, "_pool", p)
    return p


def test_every_share_runs_once_and_the_workers_run_some(pool):
    def job():
        return blas.run_on_threads(lambda share: (list(share), threading.get_ident()), list(range(9)))

    ran_on = set()
    for _ in range(50):                                          # posts and collects many times over
        shares = _within(20, job)
        assert [s for s, _ in shares] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
        ran_on |= {ident for _, ident in shares}
    # a worker's share runs on the calling thread only when the worker has not started it by the
    # time the caller's own share is done; over 50 jobs both workers start some
    assert len(ran_on - {threading.get_ident()}) >= 1 and len(ran_on) >= 2


def test_a_share_the_worker_has_not_started_is_taken_back(pool):
    from npvision.kernels import workers

    stalled = workers.Workers(1)
    blocker = threading.Event()
    # keep the worker busy on a share of an earlier job that it claimed, so that the next job
    # finds it late: post directly (not through run), then run a job whose share it cannot start
    stalled.jobs[0] = (lambda share: blocker.wait(20), None)
    workers._post(stalled.flags, 0, 1, -1, stalled.ack_polls)
    time.sleep(0.05)                                            # the worker claims job 1, waits on blocker
    try:
        assert stalled.flags[0, workers.CLAIM] == 1
        stalled.flags[0, workers.DONE] = 1                      # job 1 counts as done for the caller
        out = _within(20, lambda: stalled.run(lambda share: (share, threading.get_ident()), ["a", "b"]))
    finally:
        blocker.set()
    (a, caller), (b, ran_on) = out
    assert (a, b) == ("a", "b") and ran_on == caller           # "b" taken back, run by the caller


@pytest.mark.parametrize("failing", [0, 2])                      # the caller's share; a worker's
def test_an_error_in_any_share_reaches_the_caller_and_the_pool_goes_on(pool, failing):
    def work(share):
        if share == [failing]:
            raise ValueError(f"share {failing}")
        time.sleep(0.002)
        return share

    with pytest.raises(ValueError, match=f"share {failing}"):
        _within(20, lambda: blas.run_on_threads(work, [0, 1, 2]))
    assert _within(20, lambda: blas.run_on_threads(lambda s: s, [0, 1, 2])) == [[0], [1], [2]]


def test_a_napping_worker_still_takes_its_share(pool):
    pool.spin_polls = 1                                          # spin once, then nap (or sleep)
    for pause in (0.0, 0.003, 0.03):
        time.sleep(pause)
        assert _within(20, lambda: blas.run_on_threads(lambda s: s, [0, 1, 2])) == [[0], [1], [2]]


def test_a_sleeping_worker_is_woken_by_the_post(pool):
    """A worker asleep since its last job (on Linux in the kernel, elsewhere napping) starts its
    share while the caller is still on its own: the post wakes it, and the caller need not take
    the share back."""
    pool.spin_polls = 1

    def work(share):
        if share[0] == 0:
            time.sleep(0.2)                                      # the caller's own share: slow
        return threading.get_ident()

    for _ in range(3):
        time.sleep(0.05)                                         # every worker asleep by now
        ran_on = _within(20, lambda: blas.run_on_threads(work, [0, 1, 2]))
        assert len(set(ran_on)) == 3, "a share was taken back by the caller: a worker did not wake"


def test_callers_on_two_threads_at_once_each_get_their_own_results(pool):
    def caller(tag):
        return [blas.run_on_threads(lambda s: [(tag, i) for i in s], list(range(6))) for _ in range(30)]

    results = {}
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, caller(t))) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for tag in "ab":
        for shares in results[tag]:
            assert sum(shares, []) == [(tag, i) for i in range(6)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_starts_its_own_pool():
    blas.run_on_threads(lambda s: s, [0, 1, 2, 3])             # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_split_in_child)
    child.start()
    child.join(60)
    if child.is_alive():                                         # hung: fail, do not hang the suite
        child.kill()
        child.join()
    assert child.exitcode == 0


def _split_in_child():
    out = blas.run_on_threads(lambda s: list(s), list(range(8)))
    sys.exit(0 if sum(out, []) == list(range(8)) else 1)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two CPUs")
def test_a_worker_on_the_callers_cpu_moves_off_it():
    from npvision.kernels import workers

    def on_a_new_thread():
        here = workers._current_cpu()
        workers._move_off(here)
        return here, os.sched_getaffinity(0)

    cpu, allowed = _within(20, on_a_new_thread)
    assert cpu not in allowed and allowed == workers._ALLOWED - {cpu}
