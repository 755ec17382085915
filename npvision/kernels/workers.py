"""npvision's worker threads: a pool whose threads wait without the GIL.

:func:`npvision.kernels.blas.run_on_threads` hands each worker one share of a
job and runs the first share itself. How fast a worker *starts* matters as
much as how fast it works: npvision's shares are often 0.05-0.5 ms (a 1x1
convolution of MobileNet, a batch norm band), and two costs used to eat them:

* Waking a thread that sleeps on a lock. On a virtual machine whose idle core
  has halted it takes 50-90 us (measured here with a ``ThreadPoolExecutor``:
  7 us after a job that just finished, 56 us after 1 ms idle, 93 us after 5 ms).
* The GIL. A Python worker needs the GIL to go to sleep, to wake, to start its
  share and to hand back the result; whenever it asks while the caller is
  running Python, it sleeps on the GIL's condition variable until the caller
  lets go (and, if the caller is busy in Python for long, up to the 5 ms
  switch interval).

Measured in a MobileNet v2 step, a ``ThreadPoolExecutor`` took 33 ms for the
step's 73 splits whose shares took 19-21 ms a thread: about 12 ms went to
starting and collecting them (this pool: 25 ms).

So a worker here waits where Python cannot see it: in a compiled ``nogil``
loop (:func:`_wait_until`) that reads a flag, first spinning and yielding its
core (``sched_yield``) for :data:`SPIN_SECONDS`, then, on Linux, sleeping in
the kernel on that flag (``futex``) until a post that finds it asleep wakes it;
elsewhere it naps in growing steps up to :data:`NAP_MAX_US` (and
:data:`NAP_IDLE_US` once idle for a second). It holds no GIL and sleeps on no
lock, so it starts a share within microseconds of the post when it was
spinning, and it takes the GIL only to run the share. The caller waits for the
results the same way. The cost: an idle worker spins for 5 ms after its last
share (OpenBLAS's own workers spin about 0.1 s). Until 2026-12-08 it then woke
every 0.5 ms for a second on Linux too, and those 2000 wake-ups a second slowed
another program's threads on the same cores: PyTorch's ResNet-18 training step,
timed in a process of its own right after npvision's, took 127-135 ms against
118 ms with the wake-ups gone.

The protocol, per worker ``k`` (one row of :attr:`Workers.flags`, 128 bytes so
two workers never write the same cache line)::

    caller                                     worker k (in _finish_and_claim)
    jobs[k] = share; JOB = seq (no GIL)   -->  sees JOB == seq, claims it (CLAIM: seq - 1 -> seq),
    waits up to 50 us for ACK (no GIL)         takes the GIL, ACK = seq, runs jobs[k],
    runs its own share                         stores the result,
    claims seq itself if the worker has not:   DONE = seq, from compiled code
      then runs the share here; else
      waits for DONE == seq (no GIL)      <--

The claim is one atomic compare-and-swap that the worker and the caller both try
(:func:`_claim`): exactly one of them runs the share. So a worker that is late
(napping, or kept off its core by another program's threads) costs the split
nothing beyond running it on one thread. The caller lets the worker have the GIL
first (the ACK): the worker's start is what two threads gain, and it should not
wait for the caller's Python. The flags are read and written with atomic
acquire/release operations (:func:`_load_acquire`, :func:`_store_release`), so
a flag seen set means that what was written before it is visible too, on x86
and ARM alike.

One more thing on Linux (:func:`_move_off`): a worker that finds itself on the
caller's CPU moves to another, since two spinning threads are never moved apart
by the scheduler.

This module imports numba when imported; :mod:`blas` imports it only when the
first job is split across threads, and not under ``NUMBA_DISABLE_JIT=1`` (then
the shares run on plain Python threads that sleep between jobs).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time

import numpy as np

from ._jit import _import_numba

numba = _import_numba()
import llvmlite.binding as llvm  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba.core import cgutils, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

#: how long a waiting thread spins (yielding its core at each look) before it naps.
SPIN_SECONDS = 0.005
#: how long the caller waits for a worker to take its share before starting its own.
ACK_SECONDS = 50e-6
#: the longest nap between two looks at the flag once the spin is over (microseconds) ...
NAP_MAX_US = 500
#: ... and, after a second of napping, the nap of a worker left idle (20 ms: 50 looks a second).
NAP_IDLE_US = 20_000

# columns of Workers.flags: job posted, claimed (by the worker or taken back by the caller), taken
# by the worker (it holds the GIL), finished; worker napping; the caller's CPU at the post
JOB, CLAIM, ACK, DONE, NAPPING, CALLER_CPU = 0, 1, 2, 3, 4, 5
_ROW = 16                  # int64 flags per worker: 128 bytes
_MAX_WORKERS = 63          # rows allocated up front: a waiting worker holds on to the array


def _register_os_calls() -> None:
    """Symbols the compiled loops call by name: ``npvision_yield()`` gives this core to
    another runnable thread (``sched_yield``; Windows ``SwitchToThread``), ``npvision_nap(us)``
    sleeps (``usleep``; Windows ``Sleep``, whole milliseconds). Registered by name, not
    embedded as addresses, so numba can cache the loops that call them."""
    if sys.platform == "win32":
        kernel32 = ctypes.windll.kernel32
        calls = {"npvision_yield": kernel32.SwitchToThread, "npvision_nap": kernel32.Sleep}
    else:
        libc = ctypes.CDLL(None)
        calls = {"npvision_yield": libc.sched_yield, "npvision_nap": libc.usleep}
        if _SYS_FUTEX:
            calls["npvision_syscall"] = libc.syscall
    for name, fn in calls.items():
        llvm.add_symbol(name, ctypes.cast(fn, ctypes.c_void_p).value)


#: Linux's ``futex`` system call (its number on this architecture; 0: none, the workers nap instead).
#: An idle worker sleeps in the kernel on its JOB flag, and a post that finds it asleep wakes it.
_SYS_FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98, "ppc64le": 221,
              "s390x": 238}.get(os.uname().machine.lower(), 0) if (
    sys.platform.startswith("linux") and sys.byteorder == "little") else 0
_FUTEX_WAIT, _FUTEX_WAKE = 0 | 128, 1 | 128                 # FUTEX_PRIVATE_FLAG: this process only
_register_os_calls()
_NAP_UNIT = 1000 if sys.platform == "win32" else 1      # Sleep takes milliseconds, usleep microseconds


def _flag_pointer(context, builder, signature, args):
    aty = signature.args[0]
    ary = context.make_array(aty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, aty, ary, [args[1], args[2]], wraparound=False)


@intrinsic
def _load_acquire(typingctx, flags, i, j):
    """``flags[i, j]`` as an atomic load with acquire order (never hoisted out of a loop)."""
    def codegen(context, builder, signature, args):
        return builder.load_atomic(_flag_pointer(context, builder, signature, args), ordering="acquire", align=8)
    return types.int64(flags, i, j), codegen


@intrinsic
def _store_release(typingctx, flags, i, j, value):
    """``flags[i, j] = value`` as an atomic store with release order."""
    def codegen(context, builder, signature, args):
        builder.store_atomic(args[3], _flag_pointer(context, builder, signature, args), ordering="release", align=8)
        return context.get_dummy_value()
    return types.void(flags, i, j, value), codegen


@intrinsic
def _claim(typingctx, flags, i, j, seq):
    """Atomically ``flags[i, j]: seq - 1 -> seq``; True for the one thread whose swap did it."""
    def codegen(context, builder, signature, args):
        ptr = _flag_pointer(context, builder, signature, args)
        old = builder.sub(args[3], ir.Constant(ir.IntType(64), 1))
        swapped = builder.cmpxchg(ptr, old, args[3], ordering="acq_rel", failordering="acquire")
        return builder.extract_value(swapped, 1)
    return types.boolean(flags, i, j, seq), codegen


@intrinsic
def _fence(typingctx):
    """A full memory barrier: no load after it is made before a store ahead of it."""
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.void(), codegen


def _futex_call(context, builder, signature, args, op, value):
    """``syscall(SYS_futex, &flags[i, j] (its low 32 bits), op, value, NULL, NULL, 0)``, every
    argument a full 64-bit word (``value``: the 32-bit futex value, zero-extended)."""
    i64 = ir.IntType(64)
    word = builder.ptrtoint(_flag_pointer(context, builder, signature, args), i64)
    fnty = ir.FunctionType(i64, [i64], var_arg=True)
    fn = cgutils.get_or_insert_function(builder.module, fnty, "npvision_syscall")
    zero = ir.Constant(i64, 0)
    builder.call(fn, [ir.Constant(i64, _SYS_FUTEX), word, ir.Constant(i64, op), builder.zext(value, i64),
                      zero, zero, zero])


@intrinsic
def _futex_wait(typingctx, flags, i, j, seen):
    """Sleep in the kernel while the low 32 bits of ``flags[i, j]`` still equal ``seen``'s (the kernel
    compares and sleeps in one step, so a store made before the call is never slept through)."""
    def codegen(context, builder, signature, args):
        _futex_call(context, builder, signature, args, _FUTEX_WAIT, builder.trunc(args[3], ir.IntType(32)))
        return context.get_dummy_value()
    return types.void(flags, i, j, seen), codegen


@intrinsic
def _futex_wake(typingctx, flags, i, j):
    """Wake the thread sleeping on ``flags[i, j]`` (:func:`_futex_wait`), if one is."""
    def codegen(context, builder, signature, args):
        _futex_call(context, builder, signature, args, _FUTEX_WAKE, ir.Constant(ir.IntType(32), 1))
        return context.get_dummy_value()
    return types.void(flags, i, j), codegen


def _call_symbol(builder, name, args):
    fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(32)] * len(args))
    builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), args)


@intrinsic
def _yield(typingctx):
    """``npvision_yield()``: see :func:`_register_os_calls`."""
    def codegen(context, builder, signature, args):
        _call_symbol(builder, "npvision_yield", [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def _nap(typingctx, units):
    """``npvision_nap(units)``: see :func:`_register_os_calls`."""
    def codegen(context, builder, signature, args):
        _call_symbol(builder, "npvision_nap", [builder.trunc(args[0], ir.IntType(32))])
        return context.get_dummy_value()
    return types.void(units), codegen


@numba.njit(nogil=True, cache=True)
def _wait_until(flags, k, column, value, spin_polls, worker):
    """Wait, without the GIL, until ``flags[k, column] >= value``: ``spin_polls`` looks with a
    yield between them, then naps of 20, 40, ... up to NAP_MAX_US microseconds, and after a
    second of naps, naps of NAP_IDLE_US. ``worker``: the waiter is worker ``k``, whose naps are
    marked in NAPPING for the caller (the caller's own waits leave the mark alone); on Linux a
    worker sleeps in the kernel instead of napping, until a post wakes it (:func:`_post`)."""
    for _ in range(spin_polls):
        if _load_acquire(flags, k, column) >= value:
            return
        _yield()
    if worker:
        _store_release(flags, k, NAPPING, 1)
        _fence()                       # NAPPING = 1 is seen by a post, or the post's JOB is seen here
        if _SYS_FUTEX:
            seen = _load_acquire(flags, k, column)
            while seen < value:
                _futex_wait(flags, k, column, seen)
                seen = _load_acquire(flags, k, column)
            _store_release(flags, k, NAPPING, 0)
            return
    nap, napped = 20, 0
    while _load_acquire(flags, k, column) < value:
        _nap(max(1, nap // _NAP_UNIT))
        napped += nap
        nap = min(2 * nap, NAP_MAX_US) if napped < 1_000_000 else NAP_IDLE_US
    if worker:
        _store_release(flags, k, NAPPING, 0)


@numba.njit(nogil=True, cache=True)
def _finish_and_claim(flags, k, done, spin_polls):
    """Worker ``k``: publish ``DONE = done``, wait for job ``done + 1`` and try to claim it.
    True if this worker is to run it, False if the caller took it back first.

    Publishing from inside this GIL-free call, not from Python, means that the
    caller, who takes the GIL as soon as it sees DONE, never finds the worker
    still holding it."""
    _store_release(flags, k, DONE, done)
    _wait_until(flags, k, JOB, done + 1, spin_polls, True)
    return _claim(flags, k, CLAIM, done + 1)


@numba.njit(nogil=True, cache=True)
def _post(flags, k, seq, caller_cpu, ack_polls):
    """The caller: post job ``seq`` to worker ``k``, and give it up to ``ack_polls`` looks to
    take it (ACK, set once the worker holds the GIL).

    Posted from GIL-free code, so the worker that sees the post finds the GIL free
    (a thread that has to wait for the GIL sleeps, and wakes slowly)."""
    _store_release(flags, k, CALLER_CPU, caller_cpu)
    _store_release(flags, k, JOB, seq)
    _fence()                           # the worker sees JOB = seq, or its NAPPING = 1 is seen here
    if _load_acquire(flags, k, NAPPING) == 0:
        for _ in range(ack_polls):
            if _load_acquire(flags, k, ACK) >= seq:
                return
            _yield()
    elif _SYS_FUTEX:
        _futex_wake(flags, k, JOB)


@numba.njit(nogil=True, cache=True)
def _take_back(flags, k, seq):
    """The caller: claim job ``seq`` of worker ``k`` for itself; True if the worker had not."""
    return _claim(flags, k, CLAIM, seq)


def _seconds_per_poll() -> float:
    """How long one look at a flag (with its yield) takes on this machine."""
    flags = np.zeros((1, _ROW), np.int64)
    _spin_only(flags, 1)                                       # compile (or load from the cache)
    polls = 10_000
    t0 = time.perf_counter()
    _spin_only(flags, polls)
    return max((time.perf_counter() - t0) / polls, 1e-9)


@numba.njit(nogil=True, cache=True)
def _spin_only(flags, polls):
    """``polls`` looks at a flag that never changes (to time one look)."""
    seen = 0
    for _ in range(polls):
        seen += _load_acquire(flags, 0, JOB)
        _yield()
    return seen


try:                                                         # Linux
    _sched_getcpu = ctypes.CDLL(None).sched_getcpu
    _ALLOWED = frozenset(os.sched_getaffinity(0))             # the CPUs this process may use

    def _current_cpu() -> int:
        """The CPU this thread runs on now."""
        return _sched_getcpu()

    def _move_off(cpu: int) -> None:
        """Keep this worker off ``cpu`` (the caller's) if it is running there now.

        Two threads that wait by spinning are both always runnable and "cache hot", and
        Linux's load balancer then does not move either: a worker woken onto the caller's
        CPU stayed there for tens of milliseconds (measured: 51 of a MobileNet step's 73
        splits ran both shares on one CPU, one after the other, the other CPU idle). So the
        worker moves itself off, to any other CPU the process may use."""
        if _sched_getcpu() == cpu and len(_ALLOWED) > 1:
            try:
                os.sched_setaffinity(0, _ALLOWED - {cpu})     # 0: this thread
            except OSError:                                   # the CPUs allowed have changed: stay
                pass
except Exception:                                            # not Linux: the OS decides alone
    def _current_cpu() -> int:
        return -1

    def _move_off(cpu: int) -> None:
        pass


class Workers:
    """``n`` worker threads that each run one share of a job (see the module docstring)."""

    def __init__(self, n: int):
        rows = max(n, _MAX_WORKERS)
        self.flags = np.zeros((rows, _ROW), np.int64)          # (rows, 16): JOB, ACK, DONE per worker
        self.jobs = [None] * rows
        self.results = [None] * rows
        self.busy = threading.Lock()                           # one caller at a time
        seconds_per_poll = _seconds_per_poll()
        self.spin_polls = max(1, int(SPIN_SECONDS / seconds_per_poll))
        self.ack_polls = max(1, int(ACK_SECONDS / seconds_per_poll))
        self.threads = []
        self.ensure(n)

    def ensure(self, n: int) -> None:
        """Start workers until there are ``n`` (never more than the flags have rows for)."""
        while len(self.threads) < min(n, len(self.flags)):
            t = threading.Thread(target=self._loop, args=(len(self.threads),), daemon=True,
                                 name=f"npvision-{len(self.threads) + 1}")
            self.threads.append(t)
            t.start()

    def _loop(self, k: int) -> None:
        done = 0
        while True:
            if _finish_and_claim(self.flags, k, done, self.spin_polls):
                work, share = self.jobs[k]
                self.flags[k, ACK] = done + 1                  # the caller may take the GIL back now
                _move_off(int(self.flags[k, CALLER_CPU]))
                try:
                    self.results[k] = (True, work(share))
                except BaseException as error:                 # handed to the caller, raised there
                    self.results[k] = (False, error)
            done += 1

    def run(self, work, shares: list) -> list:
        """``[work(s) for s in shares]``: ``shares[0]`` on this thread, ``shares[1 + k]`` on worker k,
        or on this thread too if worker k has not started it when this thread's own share is done."""
        posted = []
        for k, share in enumerate(shares[1:]):
            self.jobs[k] = (work, share)
            posted.append(int(self.flags[k, JOB]) + 1)
        cpu = _current_cpu()
        for k, seq in enumerate(posted):
            _post(self.flags, k, seq, cpu, self.ack_polls)
        results = [None] * len(shares)
        try:
            results[0] = (True, work(shares[0]))
        except BaseException as error:
            results[0] = (False, error)
        for k, seq in enumerate(posted):                       # every share, even after an error
            if _take_back(self.flags, k, seq):                 # worker k is late: run its share here
                try:
                    results[1 + k] = (True, work(shares[1 + k]))
                except BaseException as error:
                    results[1 + k] = (False, error)
            else:
                _wait_until(self.flags, k, DONE, seq, self.spin_polls, False)
                results[1 + k], self.results[k] = self.results[k], None
        for ok, value in results:
            if not ok:
                raise value
        return [value for _, value in results]
