"""Which numba kernels vectorize, on which CPU: read the machine code numba makes for each target.

Run from the repository root::

    python benchmarks/vector_report.py                      # AVX2 (AMD Zen 3) and this CPU
    python benchmarks/vector_report.py --targets avx2       # one target
    python benchmarks/vector_report.py --json vec.json --only pool depthwise

A numba kernel is compiled by LLVM for one CPU, by default the one it runs on.
A loop written with a data-dependent ``if`` around a store vectorizes on an
AVX-512 CPU (whose masked stores make a conditional store cheap) and may run
lane by lane elsewhere. To see it without an AMD machine, this script compiles
the kernels again in a fresh process for a chosen target: numba reads
``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES`` at start-up, and
``NUMBA_CACHE_DIR`` points at an empty folder so every kernel is compiled,
not loaded from a cache built for another CPU. The child runs every op of
:mod:`npvision.functional` that reaches a numba kernel (float32, the training
dtype, on small shapes chosen to take every path), then reads the assembly of
each compiled kernel (``dispatcher.inspect_asm(signature)``).

How a loop is classified. In the assembly of the kernel's own function (not
its Python wrapper), a loop is a jump back to an earlier label; an innermost
loop holds no other. Each innermost loop is:

=================  ===================================================================
``vector``         uses 256- or 512-bit registers (``ymm``/``zmm``), no masked store,
                   no branch inside the body: the compiler turned the loop into vector
                   instructions that handle 8 (16) floats at a time
``vector+masked``  vectorized, but stores through a mask (``vmaskmovps`` on AVX2,
                   ``{%k}`` on AVX-512): a conditional store. On AMD's Zen cores a
                   ``vmaskmovps`` store costs tens of cycles, slower than scalar code
``vector+branch``  vectorized, with branches inside the body: each lane's store is made
                   one at a time behind its own test (what LLVM does for a conditional
                   store it cannot mask, such as a ``uint8`` one on AVX2)
``scalar``         float work one number at a time (``...ss`` / ``...sd`` instructions)
``integer``        neither: index or byte work, no floating point
``calls``          calls other functions (a driver of other kernels, or ``memset``)
=================  ===================================================================

A vectorized loop keeps scalar copies of itself (for the last few iterations, and
for arrays that overlap), so scalar loops beside vector ones are expected. The
kernel is compiled once more with LLVM's loop-vectorizer remarks switched on
(``llvmlite.binding.set_option("", "-pass-remarks...=loop-vectorize")``), which
count the loops it vectorized and the innermost loops it left scalar. A kernel's
verdict is ``vector`` when it has vector loops, none masked or branchy, and LLVM
left no more loops scalar than the machine code has innermost loops without
floating-point work (bookkeeping: a loop around ``memset``, index updates);
``partly scalar`` when it left more (the ``--json`` file lists its reasons); ``scalar`` when no loop is vectorized; else
the worst class found. ``--json`` keeps every loop's counts. Targets:

==========  ==================================================================
``avx2``    ``znver3`` (AMD EPYC Zen 3): AVX2 + FMA, every AVX-512 feature off
``native``  this machine's CPU, as numba picks it by default
``avx512``  ``skylake-avx512`` (AVX-512 F/CD/BW/DQ/VL)
==========  ==================================================================

Coverage: a kernel the workloads never call is never compiled, so its code cannot be read;
the report ends by naming every such kernel per target ("not reached"), so a workload that
stops taking a path (a plan's threshold moved) shows up instead of silently shrinking the
table. Helpers compiled with ``inline="always"`` are not listed: their code is inside their
callers' and is read there.

The AVX2 build runs on any x86 CPU that has AVX2, so ``--time`` can also time
it here (see ``bench_layers.py --cpu avx2``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  (also puts this checkout first on sys.path)

TARGETS = C.CPU_TARGETS

#: kernel modules whose loops are not dense arithmetic (a union-find, a greedy box
#: suppression): reported, but not expected to vectorize as a whole.
IRREGULAR = ("npvision.kernels.felzenszwalb", "npvision.kernels.nms", "npvision.kernels.roi",
             "npvision.kernels.linear_svm")


def target_env(target: str, cache_dir: str) -> dict[str, str]:
    """The environment of a child process that compiles for ``target`` into an empty cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES",
                                                            "NUMBA_DISABLE_JIT")}
    env.update(TARGETS[target])
    env["NUMBA_CACHE_DIR"] = cache_dir
    return env


# -- reading the assembly ---------------------------------------------------------------------------

_LABEL = re.compile(r"^([.\w$]+):")
_JUMP = re.compile(r"^\s+(j[a-z]+)\s+([.\w$]+)\s*$")
_MNEMONIC = re.compile(r"^\s+([a-z][a-z0-9]*)\b(.*)$")
_MASKED_STORE = re.compile(r"\)\s*\{%k[1-7]\}")            # AT&T: a memory operand, then its mask
_SCALAR_FP = re.compile(r"^v?(mov|add|sub|mul|div|max|min|u?comi|cmp\w*|sqrt|round|fn?m(add|sub)\d+|"
                        r"cvt\w+2|blendv?)s[sd]$")


def function_bodies(asm: str) -> dict[str, list[str]]:
    """``{symbol: its instruction and label lines}`` for every function of an assembly listing."""
    bodies, name, lines = {}, None, []
    for line in asm.splitlines():
        m = _LABEL.match(line)
        if m and not m.group(1).startswith("."):
            if name is not None:
                bodies[name] = lines
            name, lines = m.group(1), []
            continue
        if name is not None:
            if line.startswith(".Lfunc_end"):
                bodies[name], name, lines = lines, None, []
                continue
            lines.append(line)
    if name is not None:
        bodies[name] = lines
    return bodies


def _blocks(lines: list[str]) -> tuple[list[list[str]], list[list[int]]]:
    """The basic blocks of one function's listing, and each block's successors (indices).

    A block starts at a label and ends at a jump; a conditional jump falls through to the next
    block, an unconditional one does not, a return or an indirect jump leaves the function."""
    blocks, current = [], []
    for line in lines:
        if line.lstrip().startswith(".") and not _LABEL.match(line) or not line.strip():
            continue                                         # an assembler directive, not code
        if _LABEL.match(line) and current:
            blocks.append(current)
            current = []
        current.append(line)
        m = _MNEMONIC.match(line)
        if m and m.group(1).startswith("j") or m and m.group(1) in ("ret", "retq", "ud2"):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    where = {}
    for i, b in enumerate(blocks):
        m = _LABEL.match(b[0])
        if m:
            where[m.group(1)] = i
    succ = []
    for i, b in enumerate(blocks):
        m = _MNEMONIC.match(b[-1])
        op = m.group(1) if m else ""
        j = _JUMP.match(b[-1])
        nxt = [i + 1] if i + 1 < len(blocks) else []
        if j and j.group(2) in where:
            succ.append([where[j.group(2)]] + ([] if op == "jmp" else nxt))
        elif op.startswith("j") or op in ("ret", "retq", "ud2"):
            succ.append([] if op in ("jmp", "ret", "retq", "ud2") or "*" in b[-1] else nxt)
        else:
            succ.append(nxt)
    return blocks, succ


def _dominators(succ: list[list[int]]) -> list[set[int]]:
    """dom[b]: the blocks every path from the entry (block 0) to b passes through."""
    n = len(succ)
    pred = [[] for _ in range(n)]
    for u, vs in enumerate(succ):
        for v in vs:
            pred[v].append(u)
    everything = set(range(n))
    dom = [everything] * n
    dom[0] = {0}
    changed = True
    while changed:
        changed = False
        for b in range(1, n):
            ps = [dom[p] for p in pred[b]]
            if not ps:
                continue                                     # unreachable (or reached by a jump table)
            new = set.intersection(*ps) | {b}
            if new != dom[b]:
                dom[b], changed = new, True
    return dom


def innermost_loops(lines: list[str]) -> list[list[str]]:
    """The lines of each innermost natural loop of one function.

    A back edge is a jump to a block that dominates the jumping block; its loop is the header
    and every block that reaches the jump without passing the header. An innermost loop holds
    no other loop's header. (Blocks that only sit below the loop in the listing and jump back
    into it, as LLVM places a vector loop's per-lane stores, belong to the loop they return to.)"""
    blocks, succ = _blocks(lines)
    if not blocks:
        return []
    dom = _dominators(succ)
    pred = [[] for _ in blocks]
    for u, vs in enumerate(succ):
        for v in vs:
            pred[v].append(u)
    loops = {}
    for u, vs in enumerate(succ):
        for h in vs:
            if h in dom[u]:                                  # back edge u -> h
                body, stack = {h, u}, [u]
                while stack:
                    b = stack.pop()
                    if b == h:
                        continue
                    for p in pred[b]:
                        if p not in body:
                            body.add(p)
                            stack.append(p)
                loops[h] = loops.get(h, set()) | body
    inner = [(h, body) for h, body in loops.items() if not any(h2 != h and h2 in body for h2 in loops)]
    return [(sorted(body), [line for b in sorted(body) for line in blocks[b]], succ) for h, body in inner]


def classify_loop(loop) -> dict:
    """Counts of the instructions that tell how a loop body was compiled, and its class."""
    members, body, succ = loop
    inside = set(members)
    wide = masked = scalar_fp = instructions = 0
    calls = []
    for line in body:
        m = _MNEMONIC.match(line)
        if not m or line.lstrip().startswith("."):
            continue
        op, args = m.group(1), m.group(2)
        instructions += 1
        if op.startswith("call"):
            calls.append(args.strip().split("@")[0][-40:])
        if op == "vzeroupper":
            continue
        if "%ymm" in args or "%zmm" in args:
            wide += 1
        if op.startswith(("vmaskmov", "vpmaskmov")) or _MASKED_STORE.search(args):
            masked += 1
        if _SCALAR_FP.match(op) and "broadcast" not in op:
            scalar_fp += 1
    # a branch that stays in the loop both ways is an if inside the body
    inner_branches = sum(1 for b in members if len(succ[b]) == 2 and set(succ[b]) <= inside)
    if masked:
        kind = "vector+masked"
    elif wide == 0 and calls:
        kind = "calls"                                       # drives other kernels (or memset)
    elif wide == 0:
        kind = "scalar" if scalar_fp else "integer"
    elif inner_branches >= 2:
        kind = "vector+branch"
    else:
        kind = "vector"
    return {"class": kind, "instructions": instructions, "wide": wide, "scalar_fp": scalar_fp,
            "masked_stores": masked, "inner_branches": inner_branches, "calls": calls}


def kernel_verdict(loops: list[dict], remarks: dict) -> str:
    """One word for a kernel from its innermost loops and LLVM's remarks (see the module docstring)."""
    kinds = [lp["class"] for lp in loops]
    for bad in ("vector+masked", "vector+branch"):
        if bad in kinds:
            return bad
    if "vector" not in kinds:
        return "scalar" if "scalar" in kinds else "calls" if "calls" in kinds else "integer"
    # a loop LLVM left scalar may be bookkeeping with no arithmetic (a loop around memset, index
    # updates): the innermost integer-only loops of the machine code account for that many
    bookkeeping = kinds.count("integer") + kinds.count("calls")
    return "vector" if remarks["not_vectorized"] <= bookkeeping else "partly scalar"


def analyse_kernel(asm: str, py_name: str) -> list[dict]:
    """The innermost loops of the compiled function named ``py_name`` (its wrapper excluded)."""
    key = f"{len(py_name)}{py_name}"                       # Itanium mangling: <length><name>
    bodies = {k: v for k, v in function_bodies(asm).items()
              if key in k and not k.startswith(("_ZN7cpython", "cpython", "cfunc"))}
    loops = []
    for lines in bodies.values():
        for loop in innermost_loops(lines):
            loops.append(classify_loop(loop))
    return loops


# -- the child: run every op that reaches a numba kernel, then read the kernels --------------------

def workloads(only: list[str] | None = None):
    """Calls of the functional ops (float32, numba backend) that between them reach every path of
    the numba kernels: direct planar loops, Winograd, im2col with its strided scatter, 1x1,
    depthwise 3x3 (stride 1 and 2) and 5x5, dilation, a multiplier, pooling with disjoint and
    overlapping windows, max unpooling, the transpose convolution. ``only``: just the groups
    (conv, depthwise, pool) one of whose names contains one of the strings, or that contain it."""
    import numpy as np

    import npvision.functional as F

    rng = np.random.default_rng(0)

    def a(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    def conv(x, w, **kw):
        out, cache = F.conv2d_forward(x, w, a(w.shape[3]), **kw)
        F.conv2d_backward(a(*out.shape), cache)

    def deconv(x, w, **kw):
        out, cache = F.conv_transpose2d_forward(x, w, a(w.shape[2]), **kw)
        F.conv_transpose2d_backward(a(*out.shape), cache)

    def dw(x, w, **kw):
        out, cache = F.depthwise_conv2d_forward(x, w, a(w.shape[2] * w.shape[3]), **kw)
        F.depthwise_conv2d_backward(a(*out.shape), cache)

    def conv_group():
        conv(a(2, 9, 9, 3), a(3, 3, 3, 8), padding=1)                 # direct planar loops (stem)
        conv(a(2, 9, 9, 3), a(5, 5, 3, 8), padding=2)                 # direct, 5x5
        conv(a(2, 24, 24, 32), a(3, 3, 32, 32), padding=1)            # Winograd (N Ho Wo >= 1024, the plan's floor)
        conv(a(2, 9, 9, 8), a(3, 3, 8, 40), stride=2, padding=1)      # im2col, strided scatter
        conv(a(2, 9, 9, 24), a(3, 3, 24, 40), padding=2, dilation=2)  # im2col, stride 1
        conv(a(2, 8, 8, 16), a(1, 1, 16, 24))                         # 1x1
        deconv(a(2, 5, 5, 16), a(2, 2, 8, 16), stride=2)
        deconv(a(2, 5, 5, 16), a(3, 3, 8, 16), stride=2, padding=1)
        deconv(a(2, 6, 6, 8), a(3, 3, 4, 8), padding=1)                # direct: dx alone, dw alone

    def depthwise_group():
        for k, s in ((3, 1), (3, 2), (5, 1), (5, 2)):
            dw(a(2, 11, 11, 16), a(k, k, 16, 1), stride=s, padding=k // 2)
        dw(a(2, 11, 11, 16), a(3, 3, 16, 2), padding=2, dilation=2)

    def pool_group():
        for fwd, bwd, kw in ((F.max_pool2d_forward, F.max_pool2d_backward, dict(pool_size=2)),
                             (F.max_pool2d_forward, F.max_pool2d_backward, dict(pool_size=3, stride=2, padding=1)),
                             (F.max_pool2d_forward, F.max_pool2d_backward, dict(pool_size=3, stride=1)),
                             (F.avg_pool2d_forward, F.avg_pool2d_backward, dict(pool_size=2)),
                             (F.avg_pool2d_forward, F.avg_pool2d_backward, dict(pool_size=3, stride=1))):
            out, cache = fwd(a(2, 9, 9, 16), **kw)
            bwd(a(*out.shape), cache)
        out, cache = F.max_pool2d_forward(a(2, 8, 8, 16), 2)
        up, ucache = F.max_unpool2d_forward(out, cache)
        F.max_unpool2d_backward(a(*up.shape), ucache)
        out, cache = F.global_avg_pool2d_forward(a(2, 9, 9, 16))
        F.global_avg_pool2d_backward(a(*out.shape), cache)
        out, cache = F.channel_scale_forward(a(2, 9, 9, 16), a(2, 16))   # squeeze-excitation's product
        F.channel_scale_backward(a(*out.shape), cache)

    def norm_group():
        x = a(2, 9, 9, 40)
        for act in (None, "relu", "relu6", "silu"):
            g, b = a(40), a(40)
            out, cache = F.batchnorm_forward(x, g, b, np.zeros(40, np.float32), np.ones(40, np.float32), True,
                                             activation=act)
            F.batchnorm_backward(a(*out.shape), cache)
        for name in ("relu", "relu6", "silu"):
            out, cache = getattr(F, f"{name}_forward")(x)
            getattr(F, f"{name}_backward")(a(*out.shape), cache)
        from npvision import nn, optim
        layer = nn.Linear(512, 600)                      # a small batch: the one-pass products
        layer.backward(a(4, 600)) if layer.forward(a(4, 512)) is not None else None
        optim.SGD(layer.parameters(), lr=0.1, momentum=0.9).step()

    def irregular_group():                               # not dense arithmetic: read, not judged
        from npvision.detection import nms
        from npvision.detection.segmentation_graph import felzenszwalb
        corners = np.abs(a(64, 2)) * 20
        nms(np.concatenate([corners, corners + 5 + np.abs(a(64, 2)) * 10], axis=1), a(64), 0.5)
        felzenszwalb(np.abs(a(12, 12, 3)), k=50.0, sigma=0.5, min_size=4)

    def region_group():                                  # RoI bins gather/scatter, the SVM is sequential
        from npvision.detection.linear_svm import train_linear_svm
        x, rois = a(2, 12, 12, 16), np.array([[0, 1, 1, 9, 7], [1, 0.5, 2, 11, 11]], np.float32)
        out, cache = F.roi_pool_forward(x, rois, (3, 3), 1.0)
        F.roi_pool_backward(a(*out.shape), cache)
        out, cache = F.roi_align_forward(x, rois, (3, 3), 1.0, 2, True)
        F.roi_align_backward(a(*out.shape), cache)
        train_linear_svm(a(40, 8).astype(np.float64), np.where(a(40) > 0, 1.0, -1.0))

    def fft_group():
        out, cache = F.conv2d_fft_forward(a(2, 12, 12, 3), a(7, 7, 3, 4), a(4), padding=3)
        F.conv2d_fft_backward(a(*out.shape), cache)

    groups = {"conv direct winograd": conv_group, "depthwise": depthwise_group, "pool": pool_group,
              "batchnorm elementwise linear": norm_group, "nms felzenszwalb": irregular_group,
              "roi_pool roi_align linear_svm": region_group, "fft_conv": fft_group}
    for names, run in groups.items():
        if not only or any(s in names or any(n in s for n in names.split()) for s in only):
            run()


class _Stderr:
    """Capture what the process writes to file descriptor 2 (LLVM prints its remarks there)."""

    def __enter__(self):
        import tempfile

        sys.stderr.flush()
        self.file = tempfile.TemporaryFile(mode="w+")
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.file.seek(0)
        self.text = self.file.read()
        self.file.close()
        return False


def _remark_counts(text: str) -> dict:
    """Loops LLVM's loop vectorizer vectorized, and innermost loops it gave up on (its remarks)."""
    lines = [ln.split(": ", 2)[-1].strip() for ln in text.splitlines() if ln.startswith("remark:")]
    return {"vectorized": sum(ln.startswith("vectorized loop") for ln in lines),
            "not_vectorized": sum(ln == "loop not vectorized" for ln in lines),
            "reasons": sorted({ln.split(": ", 1)[1] for ln in lines if ln.startswith("loop not vectorized: ")})}


def child(only: list[str] | None) -> dict:
    """In a process started with a target's environment: run the workloads, then compile every kernel
    they reached once more with LLVM's vectorizer remarks on, and read its assembly."""
    import importlib

    import llvmlite.binding as llvm

    for kind in ("", "-missed", "-analysis"):
        llvm.set_option("", f"-pass-remarks{kind}=loop-vectorize")
    import numba

    import npvision
    from npvision import kernels
    from npvision.kernels._jit import LazyJit

    with _Stderr() as log:
        try:
            with npvision.use_backend("numba"):
                workloads(only)
        except Exception:
            raise
    kernels.ops()                                            # import every kernel module
    report = {"cpu_name": numba.config.CPU_NAME or "host", "kernels": [], "not_reached": []}
    names = sorted(m for m in sys.modules if m.startswith("npvision.kernels."))
    for mod_name in names:
        mod = importlib.import_module(mod_name)
        for attr, obj in sorted(vars(mod).items()):
            if isinstance(obj, LazyJit):                     # a kernel the ops called
                dispatcher, options = obj._dispatcher, obj.options
            elif isinstance(obj, numba.core.registry.CPUDispatcher):   # one a kernel called (compiled
                dispatcher = obj                                        # in its place by LazyJit)
                options = {k: v for k, v in obj.targetoptions.items() if k in ("nogil", "fastmath", "inline",
                                                                              "boundscheck", "error_model")}
            else:
                continue
            if dispatcher is None or not dispatcher.signatures:
                inlined = (getattr(obj, "options", None) or getattr(obj, "targetoptions", {})).get("inline") == "always"
                if not inlined and getattr(obj, "py_func", None) is not None and obj.py_func.__module__ == mod_name:
                    report["not_reached"].append(f"{mod_name.rsplit('.', 1)[1]}.{attr}")   # never compiled:
                continue                                                                 # unread, say so
            if dispatcher.py_func.__module__ != mod_name:
                continue
            if only and not any(s in f"{mod_name}.{attr}" for s in only):
                continue
            py_func = dispatcher.py_func
            for sig in dispatcher.signatures:
                if "float32" not in str(sig) and "float64" in str(sig):
                    continue                                  # float32 is the training dtype
                fresh = numba.njit(**options)(py_func)        # not cached: compiled here, remarks on
                with _Stderr() as log:
                    fresh.compile(sig)
                loops = analyse_kernel(fresh.inspect_asm(sig), py_func.__name__)
                remarks = _remark_counts(log.text)
                report["kernels"].append({
                    "module": mod_name.rsplit(".", 1)[1], "kernel": attr, "signature": str(sig),
                    "irregular": mod_name in IRREGULAR, "loops": loops, "remarks": remarks,
                    "verdict": kernel_verdict(loops, remarks)})
    return report


# -- the parent --------------------------------------------------------------------------------------

def run_target(target: str, only: list[str] | None) -> dict:
    """Compile and read every kernel for ``target`` in a fresh process with an empty numba cache."""
    with tempfile.TemporaryDirectory(prefix=f"npvision-vec-{target}-") as cache:
        args = [str(Path(__file__).resolve()), "--_child"] + (["--only", *only] if only else [])
        return C.run_json_child(args, env=target_env(target, cache), timeout=1800)


def merge(reports: dict[str, dict]) -> list[dict]:
    """One row per kernel: its verdict and loop classes on every target."""
    rows = {}
    for target, rep in reports.items():
        for k in rep["kernels"]:
            key = (k["module"], k["kernel"])
            row = rows.setdefault(key, {"module": k["module"], "kernel": k["kernel"],
                                        "irregular": k["irregular"], "targets": {}})
            cur = row["targets"].get(target)
            # one line per kernel: when it was compiled for several array layouts, the worst one
            if cur is None or _rank(k["verdict"]) > _rank(cur["verdict"]):
                row["targets"][target] = {"verdict": k["verdict"], "loops": k["loops"], "remarks": k["remarks"]}
    return [rows[k] for k in sorted(rows)]


def _rank(verdict: str) -> int:
    return ["integer", "calls", "vector", "partly scalar", "vector+branch", "vector+masked", "scalar"].index(verdict)


def _loop_summary(loops: list[dict], remarks: dict) -> str:
    counts = {}
    for lp in loops:
        counts[lp["class"]] = counts.get(lp["class"], 0) + 1
    short = {"vector": "v", "vector+masked": "vm", "vector+branch": "vb", "scalar": "s", "integer": "i",
             "calls": "c"}
    asm = " ".join(f"{n}{short[c]}" for c, n in sorted(counts.items()))
    return f"{asm}; LLVM {remarks['vectorized']}+ {remarks['not_vectorized']}-"


def print_report(rows: list[dict], targets: list[str], info: dict) -> None:
    print(f"npvision numba kernels: how each one's innermost loops compile ({info['date_utc']})")
    print(f"this machine: {info['cpu']} ({info['vector_isa']}); numba {info['numba']}")
    for t in targets:
        env = TARGETS[t]
        print(f"  target {t}: {env.get('NUMBA_CPU_NAME', 'host CPU (numba default)')}"
              + (", AVX-512 off" if t == "avx2" else ""))
    headers = ["module", "kernel"] + [h for t in targets for h in (f"{t}", f"{t} loops")]
    table = []
    for r in rows:
        cells = [r["module"], r["kernel"] + (" (irregular)" if r["irregular"] else "")]
        for t in targets:
            got = r["targets"].get(t)
            cells += [got["verdict"], _loop_summary(got["loops"], got["remarks"])] if got else ["-", ""]
        table.append(cells)
    print(C.format_table(headers, table, align="ll" + "l" * (2 * len(targets))))
    print("loops: the kernel's innermost loops in its machine code, by class: v vector, vm vector with masked "
          "stores, vb vector with per-lane branches, s scalar float (a vector loop keeps scalar copies for "
          "its last iterations and for overlapping arrays), i integer only, c calls other kernels (a driver); "
          "LLVM n+ m-: loops its vectorizer "
          "vectorized and innermost loops it left scalar (its remarks). (irregular): not dense arithmetic.")
    for t in targets:
        bad = [f"{r['module']}.{r['kernel']}" for r in rows
               if not r["irregular"] and r["targets"].get(t, {}).get("verdict") not in ("vector", "integer", "calls",
                                                                                         None)]
        print(f"{t}: {len(bad)} dense kernel(s) not cleanly vectorized" + (": " + ", ".join(bad) if bad else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", nargs="+", default=["avx2", "native"], choices=sorted(TARGETS))
    ap.add_argument("--only", nargs="+", metavar="SUBSTR", help="only kernels whose module.name contains one")
    ap.add_argument("--json", metavar="PATH", help="also write every loop's counts to this file")
    ap.add_argument("--_child", dest="child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.only)))
        return 0
    reports = {}
    for t in args.targets:
        print(f"compiling every kernel for {t} in a fresh process ...", file=sys.stderr, flush=True)
        reports[t] = run_target(t, args.only)
    rows = merge(reports)
    info = C.machine_info()
    print_report(rows, args.targets, info)
    for t in args.targets:
        missed = [k for k in reports[t].get("not_reached", []) if not args.only or any(s in k for s in args.only)]
        print(f"{t}: {len(missed)} kernel(s) not reached by the workloads (their machine code is not read)"
              + (": " + ", ".join(missed) if missed else ""))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "targets": {t: TARGETS[t] for t in args.targets}, "kernels": rows,
                       "not_reached": {t: reports[t].get("not_reached", []) for t in args.targets}}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
