"""The headline runs of npvision.style, through the commands a user types.

    python benchmarks/bench_style.py --out /tmp/style-bench      # about 5 minutes on 2 cores
    python benchmarks/bench_style.py --quick --out /tmp/q         # tiny sizes: checks the script only

Runs, one after the other, each in its own process (``python -m npvision ...``):

* ``texture T --size 128`` for the shipped textures gravel, brick and grass (default
  network, optimizer and steps): the style cost at the start and at the end, the
  ratio, the seconds;
* ``style astronaut brick --size 256 --preserve-colour`` and ``style chelsea coffee
  --size 256``: the final costs and the seconds.

Prints a table, the machine (CPU model, avx2 / avx512f flags, load) and, with
``--json PATH``, every number. Pictures go to ``--out`` (result.png, strip.png,
costs.png per run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import REPO_ROOT, format_table, machine_info


def cpu_flags() -> list:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in ("avx2", "avx512f", "fma") if f in flags]
    except OSError:
        pass
    return []


def run(args: list, out: str) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p))
    cmd = [sys.executable, "-m", "npvision", *args, "--out", out, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    summary["wall_seconds"] = round(wall, 2)                   # including start-up and pictures
    summary["command"] = "npvision " + " ".join(args)
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="style-bench", metavar="DIR")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    tex_size, st_size = ("32", "32") if args.quick else ("128", "256")
    extra = ["--steps", "3"] if args.quick else []
    runs = []
    for tex in ("gravel", "brick", "grass"):
        runs.append(run(["texture", tex, "--size", tex_size, *extra], os.path.join(args.out, f"texture_{tex}")))
    runs.append(run(["style", "astronaut", "brick", "--size", st_size, "--preserve-colour", *extra],
                    os.path.join(args.out, "style_astronaut_brick")))
    runs.append(run(["style", "chelsea", "coffee", "--size", st_size, *extra],
                    os.path.join(args.out, "style_chelsea_coffee")))
    rows = []
    for r in runs:
        ratio = r["style_cost_start"] / max(r["style_cost"], 1e-300)
        rows.append([r["command"], "x".join(map(str, r["size"])), r["steps"],
                     f"{r['style_cost_start']:.3g}", f"{r['style_cost']:.3g}", f"{ratio:.0f}x",
                     f"{r['content_cost']:.3g}", f"{r['seconds']:.1f}", f"{r['wall_seconds']:.1f}"])
    print(format_table(["command", "size", "steps", "style start", "style end", "ratio", "content end",
                        "seconds", "wall s"], rows))
    info = machine_info()
    info.update(cpu_flags=cpu_flags(), load=os.getloadavg())
    print(json.dumps(info))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "runs": runs}, fh, indent=1)


if __name__ == "__main__":
    main()
