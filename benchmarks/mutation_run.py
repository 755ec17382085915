"""A small mutation run: plant realistic bugs in a copy of npvision and see the tests catch them.

Each mutant replaces one exact piece of source text (it must occur in the file) with a
wrong version -- an off-by-one, a dropped term, a wrong axis or comparison, a swapped
weight -- in a throw-away copy of the repository, then runs the test files that cover
that code. A mutant is *killed* when at least one test fails, *survives* when all pass.
The working tree is never modified.

    python benchmarks/mutation_run.py                 # every mutant (~10-15 min on 2 cores)
    python benchmarks/mutation_run.py --only yolo     # mutants whose id contains "yolo"
    python benchmarks/mutation_run.py --list

Exit status 1 when a mutant survives or no longer applies (its source text changed:
update the mutant). The quick-task floors are checked with a different kind of mutant
(the model made to predict a constant): ``python benchmarks/mutation_run.py --constant-model``
runs ``tests/test_task_floors.py`` with every weighted layer fed zeros at evaluation
time, and every floor must fail.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (id, file, original text, mutated text, test files)
MUTANTS = [
    # -- the six survivors of the first run (issue 20) -----------------------------------------
    ("crop-boxes-ignore-padding", "npvision/data/augment.py",
     "            boxes = boxes + pad\n", "            boxes = boxes\n", ["tests/test_augment.py"]),
    ("vflip-mask-wrong-axis", "npvision/data/augment.py",
     "        mask = np.flip(mask, axis=-2).copy()\n    return Augmented(out, boxes, landmarks, mask)\n\n\ndef random_flip",
     "        mask = np.flip(mask, axis=-1).copy()\n    return Augmented(out, boxes, landmarks, mask)\n\n\ndef random_flip",
     ["tests/test_augment.py"]),
    ("resize-no-half-pixel", "npvision/data/augment.py",
     "u = ((np.arange(nw) + 0.5) / sx - 0.5)[None, :]", "u = (np.arange(nw) / sx)[None, :]",
     ["tests/test_augment.py"]),
    ("evaluate-leaves-eval-mode", "npvision/train/loop.py",
     "        model.train(was_training)\n", "        pass\n", ["tests/test_train.py"]),
    ("load-weights-non-numeric", "npvision/io.py",
     'if state[name].dtype.kind not in "fiub":', "if False:", ["tests/test_io.py"]),
    ("yolo-ignore-iou-strict", "npvision/detection/yolo.py",
     "(_best_truth_iou(p, t, anchors) <= ignore_iou)", "(_best_truth_iou(p, t, anchors) < ignore_iou)",
     ["tests/test_yolo.py"]),
    # -- layers --------------------------------------------------------------------------------
    ("batchnorm-unbiased-var", "npvision/functional/batchnorm.py",
     "var = np.mean(xc * xc, axis=axes)             # (C,) biased",
     "var = np.var(x, axis=axes, ddof=1)", ["tests/test_batchnorm.py", "tests/test_torch_parity.py"]),
    ("batchnorm-momentum-swapped", "npvision/functional/batchnorm.py",
     "running_var[...] = momentum * running_var + (1 - momentum) * var",
     "running_var[...] = (1 - momentum) * running_var + momentum * var",
     ["tests/test_batchnorm.py", "tests/test_torch_parity.py"]),
    ("conv-dilation-span", "npvision/functional/conv.py",
     "span = (dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1)",
     "span = (dilation[0] * KH, dilation[1] * KW)", ["tests/test_conv.py", "tests/test_torch_parity.py"]),
    ("dropout-no-rescale", "npvision/functional/dropout.py",
     "mask = (keep / (1.0 - rate)).astype(x.dtype)", "mask = keep.astype(x.dtype)",
     ["tests/test_dropout.py"]),
    ("softmax-ce-grad-not-averaged", "npvision/functional/losses.py",
     "dz = (p * u.sum(axis=1, keepdims=True) - u) / m", "dz = (p * u.sum(axis=1, keepdims=True) - u)",
     ["tests/test_losses.py"]),
    ("bce-grad-not-averaged", "npvision/functional/losses.py",
     "dlogits = (s - targets) / n", "dlogits = (s - targets)", ["tests/test_losses.py"]),
    ("softmax-no-shift", "npvision/functional/losses.py",
     "shifted = z - z.max(axis=1, keepdims=True)", "shifted = z", ["tests/test_losses.py"]),
    # -- models --------------------------------------------------------------------------------
    ("resnet-relu-before-add", "npvision/nn/blocks/residual.py",
     "        out = out + identity\n        return self.relu2.forward(out)",
     "        return self.relu2.forward(out) + identity", ["tests/test_model_fingerprints.py"]),
    ("se-gate-bypassed", "npvision/nn/blocks/squeeze_excite.py",
     "g = self.gate.forward(g) ", "g = 0.5 + 0 * g ", ["tests/test_model_fingerprints.py"]),
    ("efficientnet-relu-head", "npvision/models/efficientnet.py",
     "self.head = nn.ConvBNAct(c, head_channels, 1, activation=nn.SiLU",
     "self.head = nn.ConvBNAct(c, head_channels, 1, activation=nn.ReLU",
     ["tests/test_model_fingerprints.py", "tests/test_torch_parity.py"]),
    ("mobilenet-v2-no-residual", "npvision/nn/blocks/mobilenet.py",
     "self.use_residual = stride == 1 and in_channels == out_channels",
     "self.use_residual = False", ["tests/test_model_fingerprints.py", "tests/test_torch_parity.py"]),
    # -- optimizers ----------------------------------------------------------------------------
    ("adam-no-bias-correction", "npvision/optim/optimizers.py",
     "v_corrected = v / (1.0 - self.beta1 ** t)", "v_corrected = v", ["tests/test_optim.py"]),
    ("sgd-weight-decay-sign", "npvision/optim/optimizers.py",
     "g = g + self.weight_decay * p.data", "g = g - self.weight_decay * p.data", ["tests/test_optim.py"]),
    ("sgd-nesterov-ignored", "npvision/optim/optimizers.py",
     "g = g + self.momentum * v if self.nesterov else v", "g = v", ["tests/test_optim.py"]),
    # -- detection -----------------------------------------------------------------------------
    ("iou-union-double-counts", "npvision/detection/boxes.py",
     "union = area_a[:, None] + area_b[None, :] - inter", "union = area_a[:, None] + area_b[None, :]",
     ["tests/test_boxes.py"]),
    ("ap-no-interpolation", "npvision/detection/evaluation.py",
     "p_interp = np.maximum.accumulate(precision[::-1])[::-1]", "p_interp = precision",
     ["tests/test_map.py"]),
    ("yolo-cell-rounds", "npvision/detection/yolo.py",
     "col = np.minimum(np.floor(cx * s_w), s_w - 1)", "col = np.minimum(np.round(cx * s_w), s_w - 1)",
     ["tests/test_yolo.py"]),
    ("soft-nms-spares-the-threshold", "npvision/detection/nms.py",
     "decay = np.where(o >= t, 1.0 - o, 1.0)", "decay = np.where(o > t, 1.0 - o, 1.0)",
     ["tests/test_nms.py"]),
    # -- the checker itself --------------------------------------------------------------------
    ("gradcheck-report-always-true", "npvision/gradcheck.py",
     "        return self.passed\n", "        return True\n", ["tests/test_core.py"]),
]

CONSTANT_MODEL_PLUGIN = '''\
"""pytest plugin: the model predicts a constant for the whole session (benchmarks/_common.constant_network)."""
import sys

sys.path.insert(0, "benchmarks")
from _common import constant_network  # noqa: E402

_ACTIVE = constant_network()      # kept referenced: a collected generator would undo the patch
_ACTIVE.__enter__()
'''


def copy_tree(dst: Path) -> None:
    """The package, tests and data of ROOT into ``dst`` (no .git, caches or virtual environments)."""
    ignore = shutil.ignore_patterns("__pycache__", ".venv*", "*.egg-info", ".git", "runs", ".pytest_cache")
    for name in ("npvision", "tests", "benchmarks", "notebooks"):
        shutil.copytree(ROOT / name, dst / name, ignore=ignore)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dst / name)


def run_tests(tree: Path, tests: list[str], extra: list[str] = ()) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(tree), NPVISION_SKIP_QUICKSTART="1",
               NUMBA_CACHE_DIR=str(tree / ".numba-cache"))
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *extra,
                           *tests], cwd=tree, env=env, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the mutants whose id contains this text")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--constant-model", action="store_true",
                        help="run the task-floor tests with a constant-predicting model (all must fail)")
    args = parser.parse_args()
    if args.list:
        for mid, path, *_ in MUTANTS:
            print(f"{mid:32s} {path}")
        return 0

    with tempfile.TemporaryDirectory(prefix="npvision-mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        if args.constant_model:
            (tree / "constant_model_plugin.py").write_text(CONSTANT_MODEL_PLUGIN)
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "constant_model_plugin",
                 "tests/test_task_floors.py", "-rf"],
                cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(tree / ".numba-cache")),
                capture_output=True, text=True)
            lines = proc.stdout.strip().splitlines()
            print("\n".join(line for line in lines if line.startswith(("FAILED", "PASSED"))) or proc.stdout)
            print(lines[-1] if lines else proc.stderr)
            return 0 if " passed" not in (lines[-1] if lines else "") else 1

        survived, stale = [], []
        selected = [m for m in MUTANTS if args.only in m[0]]
        for mid, path, old, new, tests in selected:
            source = tree / path
            original = source.read_text()
            if original.count(old) < 1:
                stale.append(mid)
                print(f"{mid:32s} STALE: its source text is no longer in {path}")
                continue
            source.write_text(original.replace(old, new, 1))
            start = time.perf_counter()
            proc = run_tests(tree, tests)
            source.write_text(original)
            seconds = time.perf_counter() - start
            killed = proc.returncode == 1
            if proc.returncode not in (0, 1):
                print(proc.stdout[-2000:], proc.stderr[-2000:])
            failed = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")), "")
            print(f"{mid:32s} {'killed  ' if killed else 'SURVIVED'} {seconds:5.1f} s  {failed[:90]}",
                  flush=True)
            if not killed:
                survived.append(mid)
        print(f"\n{len(selected) - len(survived) - len(stale)} of {len(selected)} mutants killed"
              + (f"; survived: {', '.join(survived)}" if survived else "")
              + (f"; stale: {', '.join(stale)}" if stale else ""))
        return 1 if survived or stale else 0


if __name__ == "__main__":
    sys.exit(main())
