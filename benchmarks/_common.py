"""Shared machinery for npvision's benchmarks: timing, machine facts, memory, tables.

Nothing here imports npvision, numba or torch at module level: each benchmark
decides what to import and when, so that start-up and memory measurements see
only what they mean to measure.

Timing rules used everywhere (see ``benchmarks/README.md``):

* every method is warmed up before it is timed (numba compiles or loads its
  cache on the first call, BLAS and PyTorch allocate their buffers);
* methods that are compared are *interleaved round by round* (A, B, C, A, B,
  C, ...), so a slow drift of the machine (another process, CPU frequency)
  affects all of them alike;
* a sample shorter than ``min_sample`` seconds repeats the call and divides,
  so that very fast ops are not dominated by timer noise;
* the reported figure is the median over rounds.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent


def use_this_checkout() -> None:
    """Put the repository root first on ``sys.path``: benchmark this checkout, not an install."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


use_this_checkout()


# -- statistics and timing -------------------------------------------------------------------------

@contextlib.contextmanager
def constant_network():
    """Every Conv2D, DepthwiseConv2D, ConvTranspose2D and Linear sees zeros in eval mode.

    A model's prediction then no longer depends on its input (each such layer outputs its
    bias): the baseline a quick task's floor must clear (``tests/test_task_floors.py``,
    ``region_quick_floors.py``, ``mutation_run.py --constant-model``).
    """
    from npvision import nn

    saved = {cls: cls.forward for cls in (nn.Conv2D, nn.DepthwiseConv2D, nn.ConvTranspose2D, nn.Linear)}

    def wrap(original):
        def forward(self, x, *args, **kwargs):
            return original(self, x if self.training else np.zeros_like(x), *args, **kwargs)
        return forward

    for cls, original in saved.items():
        cls.forward = wrap(original)
    try:
        yield
    finally:
        for cls, original in saved.items():
            cls.forward = original


def median(xs: Sequence[float]) -> float:
    """Median of a non-empty sequence (mean of the two middle values when even)."""
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return float("nan")
    mid = n // 2
    return s[mid] if n % 2 else 0.5 * (s[mid - 1] + s[mid])


def time_once(fn: Callable[[], object], reps: int = 1) -> float:
    """Seconds per call of ``fn`` averaged over ``reps`` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


class Timed(NamedTuple):
    """A method that times itself: ``timer(reps, lead_in, lead_seconds)`` makes untimed calls (at
    least ``lead_in``, and for at least ``lead_seconds``; see :func:`lead_in_calls`), then returns
    the seconds per call of ``reps`` calls (a method in a :class:`TimerChild`, say)."""

    timer: Callable[[int, int, float], float]


def lead_in_calls(fn: Callable[[], object], calls: int, seconds: float) -> None:
    """Call ``fn`` untimed at least ``calls`` times and for at least ``seconds``."""
    t0 = time.perf_counter()
    done = 0
    while done < calls or time.perf_counter() - t0 < seconds:
        fn()
        done += 1


def time_interleaved(methods: dict[str, Callable[[], object] | Timed], rounds: int,
                     min_sample: float = 0.01, warmup: int = 2,
                     slow_call: float = 2.0, slow_rounds: int = 3,
                     lead_in: int = 1, lead_seconds: float = 0.05) -> dict[str, list[float]]:
    """Time several methods interleaved round by round; return ``{label: [seconds per call]}``.

    Each method is called ``warmup`` times first. The last warm-up call sets the
    repetitions per sample (``ceil(min_sample / t)``). A method whose warm call
    takes more than ``slow_call`` seconds is timed in only ``slow_rounds`` rounds
    (still interleaved with the others) so that a slow backend cannot stall the run.

    Each sample is preceded by a lead-in of untimed calls of the same method (at least
    ``lead_in`` calls and ``lead_seconds`` seconds), so that every method is timed in its
    own steady state, not in the wake of the method before it:

    * PyTorch's OpenMP threads keep spinning on both cores after each call, and without a
      lead-in that spinning was charged to whichever method came next (a depthwise conv
      timed right after PyTorch's took 1.7 ms instead of 0.9). They spin for about 5 ms
      (GNU libgomp; their CPU time read from ``/proc/self/task/*/schedstat`` during a
      pause: 3.5-5.8 ms), longer than one call of a small layer: npvision's 2x2 max-pool
      forward took 0.34 ms alone and 0.39 ms interleaved after a one-call lead-in.
    * This machine's cores are slow for tens of milliseconds after they idle: the 1x1
      conv's forward (2.7 ms back to back) took 3.3-3.8 ms in the first calls after a
      50 ms pause and 4.3-6.7 ms after a 0.2 s pause, on one thread as on two. So the
      lead-in keeps the cores busy instead of waiting for the spinning to end (a 10 ms
      pause, tried first, made the next calls slower).
    """
    def sample(method, reps: int, lead: int, seconds: float) -> float:
        if isinstance(method, Timed):
            return method.timer(reps, lead, seconds)
        lead_in_calls(method, lead, seconds)
        return time_once(method, reps)

    reps: dict[str, int] = {}
    limit: dict[str, int] = {}
    for label, method in methods.items():
        t = 0.0
        for _ in range(max(1, warmup)):
            t = sample(method, 1, 0, 0.0)
        reps[label] = max(1, math.ceil(min_sample / max(t, 1e-9)))
        limit[label] = min(rounds, slow_rounds) if t > slow_call else rounds
    samples: dict[str, list[float]] = {label: [] for label in methods}
    for r in range(rounds):
        for label, method in methods.items():
            if r < limit[label]:
                samples[label].append(sample(method, reps[label], lead_in, lead_seconds))
    return samples


class TimerChild:
    """Methods built and timed in a child process of their own: ``python <args>``, a benchmark
    started in its child mode, which calls :func:`serve_timers`.

    Two libraries timed in one process disturb each other in ways no user of either sees: one
    library's threads spin on the cores the other needs, and both share one malloc, whose
    thresholds glibc adapts to what the process frees. Measured with the layer benchmark's 1x1
    conv (N32 64->128, fwd+bwd, 11 rounds): npvision alone 7.9 ms, interleaved with PyTorch in one
    process 10.7 ms with three times the page faults (its large arrays came fresh from the
    kernel, zero-filled page by page); PyTorch 6.8 ms alone, 6.9 interleaved. Fixing glibc's
    thresholds instead (``GLIBC_TUNABLES``) moved other numbers the other way (PyTorch's VGG-16
    step 208 -> 185 ms, npvision's ResNet-18 step 112 -> 119 ms): each library in a process of
    its own, with the allocator and threads a user of it has, is the comparison that means
    something. The parent still interleaves the two round by round.
    """

    def __init__(self, args: list[str]):
        self.args = args
        self.proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=str(REPO_ROOT), bufsize=1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ask(self, **request) -> dict:
        """Send one request (a JSON line), return the child's answer; its error as RuntimeError."""
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"timer child {self.args} exited (code {self.proc.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"timer child {self.args}: {answer['error']}")
        return answer

    def timed(self, key: str) -> Timed:
        """The child's method ``key`` as a :class:`Timed` method of :func:`time_interleaved`."""
        return Timed(lambda reps, lead_in, lead_seconds: self.ask(
            cmd="time", key=key, reps=reps, lead_in=lead_in, lead_seconds=lead_seconds)["t"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
            except (RuntimeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> "TimerChild":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def add_timing_arguments(ap) -> None:
    """The benchmark options of :class:`TimerChild` timing: ``--in-process`` (the old way) and the
    hidden ``--_timer-child LIBRARY`` that starts a benchmark as one library's child."""
    import argparse

    ap.add_argument("--in-process", action="store_true",
                    help="time npvision and PyTorch in this one process (the way before 2026-12-08) instead of "
                         "each in a child process of its own")
    ap.add_argument("--_timer-child", dest="timer_child", choices=("npvision", "torch"), help=argparse.SUPPRESS)


def timing_description(in_process: bool) -> str:
    """How the run timed the libraries, for the report's header."""
    return ("in this process, interleaved" if in_process else
            "each library in a child process of its own, interleaved round by round")


def start_timer_children(stack: contextlib.ExitStack, child_args: list[str],
                         torch_too: bool) -> dict[str, TimerChild]:
    """``{"npvision": TimerChild, "torch": TimerChild}`` (PyTorch's only when ``torch_too``), each
    ``python <child_args> --_timer-child <library>``, closed when ``stack`` closes."""
    libraries = ["npvision", "torch"] if torch_too else ["npvision"]
    return {lib: stack.enter_context(TimerChild(child_args + ["--_timer-child", lib])) for lib in libraries}


def serve_timers(build: Callable[[str], Callable[[], object]]) -> None:
    """The child side of :class:`TimerChild`: answer requests on stdin until ``quit``.

    ``{"cmd": "time", "key": K, "reps": R, "lead_in": L, "lead_seconds": S}`` makes untimed calls
    of method K (``build(K)`` the first time it is asked for; :func:`lead_in_calls`) and answers
    ``{"t": seconds per call}`` over R timed calls. Anything the methods print goes to stderr: stdout carries only the answers.
    """
    import traceback

    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    methods: dict[str, Callable[[], object]] = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("cmd") == "quit":
            answers.write(json.dumps({"ok": True}) + "\n")
            break
        try:
            key = request["key"]
            if key not in methods:
                methods[key] = build(key)
            fn = methods[key]
            lead_in_calls(fn, int(request.get("lead_in", 0)), float(request.get("lead_seconds", 0.0)))
            answer = {"t": time_once(fn, int(request.get("reps", 1)))}
        except Exception:  # noqa: BLE001 - the parent reports it
            answer = {"error": traceback.format_exc()[-3000:]}
        answers.write(json.dumps(answer) + "\n")
    answers.close()


def matmul_rate(n: int = 2048, rounds: int = 7, shape: tuple[int, int, int] | None = None) -> float:
    """Median float32 ``np.matmul`` rate in GFLOP/s (2 FLOPs per multiply-add).

    ``shape=(M, K, N)`` times an (M, K) @ (K, N) product instead of the n x n square.
    """
    m, k, nn = shape if shape is not None else (n, n, n)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, nn), dtype=np.float32)
    out = np.empty((m, nn), dtype=np.float32)
    samples = time_interleaved({"mm": lambda: np.matmul(a, b, out=out)}, rounds, min_sample=0.05)
    return 2.0 * m * k * nn / median(samples["mm"]) / 1e9


# -- memory ------------------------------------------------------------------------------------------

def _status_kb(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (Linux), or None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5); True when it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def current_rss_mb() -> float:
    """Resident set size now, MiB (``VmRSS``; falls back to ``ru_maxrss``)."""
    kb = _status_kb("VmRSS")
    if kb is None:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0


def peak_rss_mb() -> float:
    """Peak resident set size since start (or since ``reset_peak_rss``), MiB.

    ``VmHWM`` when available (it honours the reset), else ``ru_maxrss`` (KiB on Linux).
    """
    kb = _status_kb("VmHWM")
    if kb is None:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0


class OtherLoad:
    """How busy the CPUs were with *other* processes while a benchmark ran (Linux).

    ``start()`` and ``stop()`` read the system-wide busy time (``/proc/stat``) and
    this process's own CPU time (children included); ``fraction`` is the rest,
    as a fraction of all CPUs' wall time. Near 0 means a quiet machine; on a
    shared machine it says how much to distrust the absolute numbers.
    """

    def __init__(self, children: Sequence[int] = ()):
        self.fraction: float | None = None
        self._t0 = None
        self.children = list(children)      # pids of running children whose CPU time is ours too

    def _snapshot(self):
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)      # idle + iowait
        busy = (sum(fields[:8]) - idle) / tick                          # seconds, all CPUs
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        for pid in self.children:                                      # utime + stime of a live child
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read().rsplit(")", 1)[1].split()
            own += (int(stat[11]) + int(stat[12])) / tick
        return time.perf_counter(), busy, own

    def start(self) -> "OtherLoad":
        try:
            self._t0 = self._snapshot()
        except (OSError, ValueError, IndexError):
            self._t0 = None
        return self

    def stop(self) -> float | None:
        if self._t0 is None:
            return None
        try:
            w1, b1, o1 = self._snapshot()
        except (OSError, ValueError, IndexError):
            return None
        w0, b0, o0 = self._t0
        cpus = os.cpu_count() or 1
        self.fraction = max(0.0, ((b1 - b0) - (o1 - o0)) / max(1e-9, (w1 - w0) * cpus))
        return self.fraction


# -- subprocesses ------------------------------------------------------------------------------------

def run_json_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> dict:
    """Run ``python <args>`` in a fresh process; parse the last stdout line as JSON.

    Raises RuntimeError with the child's stderr when it fails.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=str(REPO_ROOT))
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


# -- machine facts -----------------------------------------------------------------------------------

def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the kernel lists them (``/proc/cpuinfo``), or an empty set."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


#: the vector extensions that decide how numba's loops compile, widest first
VECTOR_FLAGS = ("avx512f", "avx512bw", "avx512vl", "amx_tile", "avx2", "fma", "avx", "sse4_2")


def vector_isa(flags: set[str] | None = None) -> str:
    """``"AVX-512 (avx512f avx512bw ...)"`` / ``"AVX2 (avx2 fma ...)"``: the widest vector unit and the
    flags that matter, for every benchmark table (a loop's speed can depend on them)."""
    flags = cpu_flags() if flags is None else flags
    have = [f for f in VECTOR_FLAGS if f in flags]
    kind = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2" if flags else "unknown"
    return f"{kind} ({' '.join(have)})" if have else kind


#: AVX2 + FMA, the feature set of AMD's Zen 3 (EPYC 7003) minus what only AMD has, with every
#: AVX-512 extension (and AMX / AVX-VNNI) switched off explicitly, so LLVM cannot pick them up.
AVX2_FEATURES = ",".join([
    "+64bit", "+adx", "+aes", "+avx", "+avx2", "+bmi", "+bmi2", "+clflushopt", "+clwb", "+cmov", "+crc32",
    "+cx16", "+cx8", "+f16c", "+fma", "+fsgsbase", "+fxsr", "+lzcnt", "+mmx", "+movbe", "+pclmul", "+popcnt",
    "+prfchw", "+rdpid", "+rdrnd", "+rdseed", "+sahf", "+sha", "+sse", "+sse2", "+sse3", "+sse4.1", "+sse4.2",
    "+ssse3", "+vaes", "+vpclmulqdq", "+xsave", "+xsavec", "+xsaveopt", "+xsaves",
    "-avx512f", "-avx512vl", "-avx512bw", "-avx512dq", "-avx512cd", "-avx512bf16", "-avx512fp16",
    "-avx512vnni", "-avx512vbmi", "-avx512vbmi2", "-avx512ifma", "-avx512bitalg", "-avx512vpopcntdq",
    "-avxvnni", "-amx-tile", "-amx-int8", "-amx-bf16", "-avx10.1",
])
AVX512_FEATURES = ",".join([
    "+64bit", "+avx", "+avx2", "+fma", "+bmi", "+bmi2", "+f16c", "+lzcnt", "+movbe", "+popcnt", "+sse4.2",
    "+avx512f", "+avx512cd", "+avx512bw", "+avx512dq", "+avx512vl",
])

#: numba targets a benchmark can compile npvision's kernels for (``NUMBA_CPU_NAME`` and
#: ``NUMBA_CPU_FEATURES``); "native" is numba's default, this machine's own CPU.
CPU_TARGETS = {
    "avx2": {"NUMBA_CPU_NAME": "znver3", "NUMBA_CPU_FEATURES": AVX2_FEATURES},
    "native": {},
    "avx512": {"NUMBA_CPU_NAME": "skylake-avx512", "NUMBA_CPU_FEATURES": AVX512_FEATURES},
}


#: What makes the other libraries of the process run their code for ``target`` too, so that a
#: comparison on this machine is one between the code an AVX2-only machine would run on both sides:
#: NumPy's OpenBLAS takes its Haswell kernels (the ones it picks on AMD Zen), PyTorch its AVX2 ATen
#: kernels, oneDNN (PyTorch's convolutions) and MKL (PyTorch's products) their AVX2 paths. Each
#: library reads its variable once, when it loads.
LIBRARY_TARGETS = {
    "avx2": {"OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def restart_with(env: dict[str, str]) -> None:
    """Start this benchmark again with ``env`` set (``os.execv``, same arguments), unless it already is.

    For settings a library reads once, when it loads: NumPy, and with it OpenBLAS and the C
    library's malloc, are loaded by the time a benchmark parses its arguments.
    """
    if any(os.environ.get(k) != v for k, v in env.items()):
        os.environ.update(env)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def use_cpu_target(target: str | None) -> None:
    """Make numba compile for ``target`` (a key of :data:`CPU_TARGETS`; None: leave numba's default),
    and the other libraries run their code for it (:data:`LIBRARY_TARGETS`).

    Must run before numba is imported (numba reads the variables once). Compiled kernels
    go to a cache folder of that target's own (``<npvision's cache>-<target>``), so code
    built for one CPU is never loaded for another. NumPy, and with it OpenBLAS, is loaded by
    the time a benchmark parses its arguments, so when a library variable is not yet set the
    benchmark starts again (``os.execv``, same arguments) with it set.
    """
    if target is None or target == "native":
        return
    if "numba" in sys.modules:
        raise RuntimeError("use_cpu_target: numba is already imported; call it first")
    restart_with(LIBRARY_TARGETS.get(target, {}))
    os.environ.update(CPU_TARGETS[target])
    if "NUMBA_CACHE_DIR" not in os.environ:
        use_this_checkout()
        from npvision.kernels._jit import cache_dir

        os.environ["NUMBA_CACHE_DIR"] = f"{cache_dir()}-{target}"


def numba_target_description() -> str:
    """How numba compiles in this process: this CPU, or the target the environment names."""
    name = os.environ.get("NUMBA_CPU_NAME")
    if not name:
        return "this CPU (numba's default)"
    feats = os.environ.get("NUMBA_CPU_FEATURES", "")
    off512 = "-avx512f" in feats
    kind = "AVX2, AVX-512 off" if off512 else "features " + feats[:60]
    return f"{name} ({kind}), cache {os.environ.get('NUMBA_CACHE_DIR')}"


def library_isa_description(torch=None) -> str:
    """Which vector code NumPy's BLAS and PyTorch run in this process, as each library reports it."""
    parts = []
    try:
        from threadpoolctl import threadpool_info

        arch = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
        parts.append(f"OpenBLAS {arch[0]} kernels" if arch else "OpenBLAS not found")
    except Exception:  # noqa: BLE001 - informational only
        parts.append(f"OpenBLAS core type {os.environ.get('OPENBLAS_CORETYPE', 'its own choice')}")
    if torch is not None:
        try:
            cap = torch.backends.cpu.get_cpu_capability()
        except Exception:  # noqa: BLE001
            cap = "?"
        limits = [f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
                  if k in os.environ]
        parts.append(f"PyTorch {cap}" + (f" ({', '.join(limits)})" if limits else ""))
    return "; ".join(parts)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (``uptime``'s), or '?'."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def total_ram_gb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024.0 ** 2
    except OSError:
        pass
    return None


def blas_name() -> str:
    """The BLAS NumPy links, as NumPy reports it (best effort)."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


def machine_info() -> dict:
    """CPU, cores, RAM, library versions, and the thread settings that matter for timing."""
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "vector_isa": vector_isa(),
        "logical_cpus": os.cpu_count(),
        "ram_gb": None if total_ram_gb() is None else round(total_ram_gb(), 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "torch": _version("torch"),
        "blas": blas_name(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                           "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CPU_NAME",
                                           "OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA",
                                           "MKL_ENABLE_INSTRUCTIONS",
                                           "OMP_WAIT_POLICY") if k in os.environ},
    }


def import_torch():
    """``torch`` if importable, else None (PyTorch is an optional reference, never required)."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - any import failure means "no reference"
        return None
    return torch


# -- output ------------------------------------------------------------------------------------------

def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]],
                 align: str | None = None) -> str:
    """A plain-text table; ``align`` has one 'l' or 'r' per column (default: first left, rest right)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def fmt(row):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align))

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def fmt_num(x: float | None, digits: int = 2) -> str:
    """Format a number for a table; '-' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}f}"
