"""Smoke tests: the benchmark scripts still run end to end (tiny shapes; nothing is timed or asserted on speed).

They run the scripts as a user would, in a subprocess, with ``--quick`` (tiny
shapes, one round) and without PyTorch, and check that the table comes out,
every layer is in it, no backend failed, and ``--json`` holds sane numbers.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"

sys.path.insert(0, str(BENCH))
from bench_layers import LAYERS  # noqa: E402


def _run(args, env_extra=None, timeout=300):
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    return proc.stdout


def _check_table(out, backends):
    assert "npvision layer benchmark" in out
    assert "layer" in out and "backend" in out and "f+b ms" in out and "f+b x torch" in out
    for layer in LAYERS:
        assert layer.name in out, f"layer {layer.name!r} missing from the table"
    for b in backends:
        assert f" {b} " in out, f"backend {b!r} missing from the table"
    assert "FAILED" not in out, out
    assert "(!)" not in out.split("* extra shape")[0], "a backend disagrees with the reference:\n" + out


def test_bench_layers_quick_prints_table_and_json(tmp_path):
    path = tmp_path / "out.json"
    out = _run([str(BENCH / "bench_layers.py"), "--quick", "--no-torch", "--backends", "naive", "numpy",
                "--json", str(path)])
    _check_table(out, ["naive", "numpy"])
    assert "Peak memory growth" in out and "npvision" in out

    data = json.loads(path.read_text())
    assert len(data["layers"]) == len(LAYERS)
    for res in data["layers"]:
        assert set(res["backends"]) == {"naive", "numpy"}
        for b in res["backends"].values():
            assert b["fwd_ms"] > 0 and b["fwd_bwd_ms"] > 0 and b["gflops_fwd_bwd"] > 0
        assert res["flops_fwd_bwd"] > res["flops_fwd"] > 0
    assert data["machine"]["matmul_gflops"] > 0
    mem = data["memory"]["small"]["npvision"]
    assert "error" not in mem, mem
    assert mem["rss_growth_mb"] >= 0 and mem["essential_mb"] > 0


def test_bench_layers_times_in_child_processes_unless_told_not_to():
    """By default each library is timed in a child process of its own (the header says so, and the
    numbers come back); ``--in-process`` times them here, the old way."""
    args = [str(BENCH / "bench_layers.py"), "--quick", "--no-torch", "--no-memory", "--backends", "numpy",
            "--layers", "max-pool"]
    for extra, said in (([], "each library in a child process of its own"), (["--in-process"], "in this process")):
        out = _run(args + extra)
        assert f"timing: {said}" in out, out
        row = next(ln for ln in out.splitlines() if ln.startswith("max-pool"))
        assert float(row.split()[6]) > 0, row                       # the fwd ms column


def test_a_timer_child_reports_its_errors():
    """A method that fails in the child reaches the parent as an error naming it, and the child
    goes on answering."""
    import _common as C

    code = ("import sys; sys.path.insert(0, %r); import _common as C\n"
            "def build(key):\n"
            "    if key == 'bad':\n"
            "        raise ValueError('no such method: bad')\n"
            "    return lambda: sum(range(100))\n"
            "C.serve_timers(build)\n") % str(BENCH)
    with C.TimerChild(["-c", code]) as child:
        assert child.timed("good").timer(3, 1, 0.01) > 0
        with pytest.raises(RuntimeError, match="no such method: bad"):
            child.timed("bad").timer(1, 0, 0.0)
        assert child.timed("good").timer(1, 0, 0.0) > 0
    assert child.proc.poll() == 0


def test_bench_layers_quick_numba_and_auto_paths_without_compiling():
    # NUMBA_DISABLE_JIT runs the numba kernels as Python: the code paths are exercised in seconds.
    out = _run([str(BENCH / "bench_layers.py"), "--quick", "--no-torch", "--no-memory",
                "--backends", "numba", "auto"], env_extra={"NUMBA_DISABLE_JIT": "1"})
    _check_table(out, ["numba", "auto"])


def test_bench_layers_rejects_unknown_layer_filter():
    proc = subprocess.run([sys.executable, str(BENCH / "bench_layers.py"), "--quick", "--layers", "nosuchlayer"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "--layers" in proc.stderr and "nosuchlayer" in proc.stderr


@pytest.mark.parametrize("child", [["import", "npvision"], ["first_conv", "numpy", "2"]])
def test_bench_startup_children_report_json(child):
    out = _run([str(BENCH / "bench_startup.py"), "--_child", *child])
    data = json.loads(out.strip().splitlines()[-1])
    if child[0] == "import":
        assert data["seconds"] > 0
        assert data["torch_imported"] is False
    else:
        assert data["first_fwd_bwd_s"] > 0 and data["second_fwd_bwd_s"] > 0


def test_bench_models_quick_prints_table_and_profile(tmp_path):
    path = tmp_path / "models.json"
    out = _run([str(BENCH / "bench_models.py"), "--quick", "--no-torch", "--models", "mobilenet_v2",
                "--json", str(path)])
    assert "npvision training-step benchmark" in out and "mobilenet_v2" in out
    assert "where a step's time goes" in out and "batch norm" in out and "optimizer" in out
    data = json.loads(path.read_text())
    (res,) = data["models"]
    assert res["ms"]["npvision"] > 0 and res["profile"]["npvision"]["step"] > 0
    assert data["machine"]["vector_isa"]


def test_bench_conv_shapes_quick_lists_the_passes_of_each_shape(tmp_path):
    path = tmp_path / "shapes.json"
    out = _run([str(BENCH / "bench_conv_shapes.py"), "--quick", "--no-torch", "--models", "resnet18",
                "--json", str(path)])
    assert "npvision conv shapes inside training steps" in out and "resnet18" in out
    rows = json.loads(path.read_text())["rows"]
    stem = [r for r in rows if "k7 s2" in r["shape"]]
    assert {r["pass_"] for r in stem} == {"fwd", "dw"}              # the first layer needs no dx
    assert all(r["npvision_ms"] > 0 and r["calls"] >= 1 for r in rows)
    assert {r["plan"] for r in rows} >= {"im2col", "1x1"}


def test_vector_report_reads_the_pooling_kernels(tmp_path):
    """The AVX2 build of the pooling kernels, read from its machine code: every loop vectorized."""
    path = tmp_path / "vec.json"
    out = _run([str(BENCH / "vector_report.py"), "--only", "pool", "--targets", "avx2", "--json", str(path)])
    assert "avx2: 0 dense kernel(s) not cleanly vectorized" in out, out
    assert "avx2: 0 kernel(s) not reached by the workloads" in out, out     # every pooling kernel was read
    data = json.loads(path.read_text())
    names = {k["kernel"] for k in data["kernels"]}
    assert {"_max_pool_fwd", "_max_pool_bwd_disjoint", "_avg_pool_fwd", "_max_pool_fwd_3x3_s2",
            "_avg_pool_fwd_2x2", "_avg_pool_bwd_disjoint", "_global_avg_pool_fwd"} <= names


def test_bench_conv_shapes_replays_depthwise_convolutions_too(tmp_path):
    path = tmp_path / "shapes.json"
    _run([str(BENCH / "bench_conv_shapes.py"), "--quick", "--no-torch", "--models", "mobilenet_v2",
          "--json", str(path)])
    rows = json.loads(path.read_text())["rows"]
    depthwise = [r for r in rows if r["shape"].startswith("dw-conv")]
    assert depthwise and {r["plan"] for r in depthwise} == {"depthwise"}
    assert {r["pass_"] for r in depthwise} == {"fwd", "dx", "dw"}
    assert sum(r["calls"] for r in depthwise if r["pass_"] == "fwd") == 17   # MobileNet v2's 17 blocks
