"""Store torchvision's roi_pool and roi_align results as goldens for tests/test_roi.py.

Run by hand, from the repository root, with an environment that has torchvision::

    /work/venv-tv/bin/python tests/data/make_roi_goldens.py        # writes tests/data/roi/*.npz

(torchvision 0.29.1, torch 2.14.1 CPU when the files were made.) For every case
in :data:`CASES` the script draws the inputs (``x`` channels-last, ``rois``,
the upstream gradient ``dout``) from the case's seed, runs torchvision's
compiled CPU kernel on them (NCHW there: ``x`` and ``dout`` are transposed in,
the output and ``dx`` transposed back out) and stores inputs, output and
input gradient. ``tests/test_roi.py`` checks that the stored cases are
exactly the ones listed here (same settings, same inputs) and that npvision
reproduces every output and gradient.

The cases cover every rule of the two ops: both ``aligned`` values,
``sampling_ratio`` -1, 0, 1 and 2, ``spatial_scale`` 1, 0.5, 0.25 (and 0.3,
not a power of two, where float32 rounding of the scaled corners and of the
sampling grid's size ``ceil(h / PH)`` decides the result),
rois inside, partly outside, wholly outside and in the one-pixel margin around
the map, tiny, zero-size and inverted rois, corners on exact halves (rounding
half away from zero), empty bins, tied maxima, non-square outputs, several
images and many rois per image, float32 and float64.

Importing this file needs only NumPy (the test imports it); torch is imported
in :func:`main`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "roi"

#: one golden file per op
FILES = {"pool": OUT_DIR / "roi_pool_goldens.npz", "align": OUT_DIR / "roi_align_goldens.npz"}


def _case(name, op, dtype="float64", n=2, h=7, w=9, c=2, output_size=(3, 3), spatial_scale=1.0,
          sampling_ratio=-1, aligned=False, rois="mixed", values="distinct", seed=0):
    return dict(name=name, op=op, dtype=dtype, n=n, h=h, w=w, c=c, output_size=list(output_size),
                spatial_scale=spatial_scale, sampling_ratio=sampling_ratio, aligned=aligned,
                rois=rois, values=values, seed=seed)


CASES = [
    # -- roi_pool -------------------------------------------------------------------------------
    _case("pool_s1", "pool", seed=1),
    _case("pool_s05_2x4", "pool", spatial_scale=0.5, output_size=(2, 4), seed=2),
    _case("pool_s025", "pool", spatial_scale=0.25, output_size=(2, 2), seed=3),
    _case("pool_halves", "pool", rois="halves", output_size=(2, 3), seed=4),
    _case("pool_outside_empty_bins", "pool", rois="outside", output_size=(4, 4), seed=5),
    _case("pool_tiny", "pool", rois="tiny", spatial_scale=0.5, output_size=(3, 2), seed=6),
    _case("pool_ties", "pool", values="ties", output_size=(2, 2), seed=7),
    _case("pool_many_rois_3img", "pool", n=3, rois="many", output_size=(2, 2), seed=8),
    _case("pool_f32_s03", "pool", dtype="float32", rois="halves", spatial_scale=0.3, seed=9),
    _case("pool_f32_s05", "pool", dtype="float32", spatial_scale=0.5, output_size=(3, 2), seed=10),
    _case("pool_1x1_output", "pool", output_size=(1, 1), seed=11),
    # -- roi_align ------------------------------------------------------------------------------
    _case("align_s05_sr-1", "align", spatial_scale=0.5, sampling_ratio=-1, seed=21),
    _case("align_s05_sr0", "align", spatial_scale=0.5, sampling_ratio=0, seed=22),
    _case("align_s05_sr1", "align", spatial_scale=0.5, sampling_ratio=1, seed=23),
    _case("align_s05_sr2", "align", spatial_scale=0.5, sampling_ratio=2, seed=24),
    _case("align_s05_sr-1_aligned", "align", spatial_scale=0.5, sampling_ratio=-1, aligned=True, seed=25),
    _case("align_s05_sr0_aligned", "align", spatial_scale=0.5, sampling_ratio=0, aligned=True, seed=26),
    _case("align_s05_sr1_aligned", "align", spatial_scale=0.5, sampling_ratio=1, aligned=True, seed=27),
    _case("align_s05_sr2_aligned", "align", spatial_scale=0.5, sampling_ratio=2, aligned=True, seed=28),
    _case("align_s1_outside", "align", rois="outside", output_size=(2, 3), seed=29),
    _case("align_s1_outside_aligned", "align", rois="outside", aligned=True, sampling_ratio=2, seed=30),
    _case("align_s025_big_grid", "align", spatial_scale=0.25, h=10, w=12, rois="big", output_size=(2, 2),
          seed=31),
    _case("align_tiny", "align", rois="tiny", output_size=(2, 2), seed=32),
    _case("align_tiny_aligned", "align", rois="tiny", aligned=True, output_size=(2, 2), seed=33),
    _case("align_tiny_aligned_sr2", "align", rois="tiny", aligned=True, sampling_ratio=2, seed=34),
    _case("align_many_rois_3img", "align", n=3, rois="many", sampling_ratio=2, seed=35),
    _case("align_f32_s05", "align", dtype="float32", spatial_scale=0.5, output_size=(3, 2), seed=36),
    _case("align_f32_s03_aligned", "align", dtype="float32", spatial_scale=0.3, aligned=True, seed=37),
    _case("align_f32_outside", "align", dtype="float32", rois="outside", sampling_ratio=3, seed=38),
    _case("align_f32_s03_grid_edges", "align", dtype="float32", spatial_scale=0.3, rois="grid_edges", seed=39),
]


# -- inputs ------------------------------------------------------------------------------------------

def _boxes(kind: str, rng: np.random.Generator, h: int, w: int, s: float) -> np.ndarray:
    """``(K, 4)`` xyxy boxes in image pixels for a map of ``h x w`` at scale ``s``."""
    W, H = w / s, h / s                                    # the image the map was computed from

    def rand(k, lo, hi):
        return rng.uniform(lo, hi, k)

    def span(k, x_lo, x_hi, min_w, max_w, y_lo, y_hi, min_h, max_h):
        x1, y1 = rand(k, x_lo, x_hi), rand(k, y_lo, y_hi)
        return np.stack([x1, y1, x1 + rand(k, min_w, max_w), y1 + rand(k, min_h, max_h)], 1)

    inside = span(4, 0, 0.6 * W, 1.5 / s, 0.4 * W, 0, 0.6 * H, 1.5 / s, 0.4 * H)
    if kind == "mixed":
        partly = np.array([[-0.3 * W, 0.2 * H, 0.4 * W, 0.9 * H],
                           [0.5 * W, -0.4 * H, 1.3 * W, 0.5 * H],
                           [-0.6 / s, -0.8 / s, 0.7 * W, 0.6 * H],        # corner in the 1-pixel margin
                           [0.3 * W, 0.4 * H, W, H]])                     # right up to the border
        tiny = np.array([[0.3 * W, 0.3 * H, 0.3 * W + 0.3 / s, 0.3 * H + 0.2 / s]])
        return np.concatenate([inside, partly, tiny])
    if kind == "halves":                                   # scaled corners on exact halves, both signs
        halves = np.array([[0.5, 1.5, 4.5, 5.5], [-0.5, -1.5, 2.5, 3.5], [1.5, 0.5, 6.5, 4.5],
                           [2.5, 2.5, 2.5, 2.5], [-2.5, 0.5, 7.5, 6.5]]) / s
        return np.concatenate([inside[:2], halves])
    if kind == "outside":                                  # partly and wholly outside, margins
        return np.array([[-3 / s, -2 / s, 2 / s, 3 / s],
                         [(w - 2) / s, (h - 3) / s, (w + 4) / s, (h + 2) / s],
                         [-6 / s, -6 / s, -2 / s, -1.5 / s],             # wholly outside, above left
                         [(w + 1.5) / s, 0, (w + 5) / s, h / s],         # wholly outside, right
                         [-0.9 / s, -0.7 / s, -0.2 / s, -0.1 / s],       # inside the -1 margin only
                         [(w - 0.5) / s, (h - 0.4) / s, (w + 0.8) / s, (h + 0.6) / s],  # far margin
                         [-1 / s, -1 / s, w / s, h / s],                 # exactly the margin edges
                         [0.2 * W, -5 / s, 0.5 * W, (h + 5) / s]])       # taller than the map
    if kind == "tiny":                                     # sub-pixel, zero-size and inverted
        c = np.array([0.37 * W, 0.41 * H])
        return np.array([[*c, *(c + [0.3 / s, 0.2 / s])],
                         [*c, *c],                                        # zero size
                         [*(c + [1.2 / s, 0.7 / s]), *c],                 # inverted (x2 < x1, y2 < y1)
                         [*c, *(c + [2.0 / s, 0.0])],                     # zero height
                         [*c, *(c + [0.9 / s, 3.1 / s])],
                         [0.0, 0.0, 0.49 / s, 0.51 / s]])
    if kind == "big":                                      # large rois: sampling grids of 3 and more
        return np.concatenate([inside[:2], [[0, 0, W, H], [-0.2 * W, 0.1 * H, 1.1 * W, 0.95 * H],
                                            [0.1 * W, 0.05 * H, 0.9 * W, 0.5 * H]]])
    if kind == "grid_edges":                               # roi sizes of whole multiples of 3 bins:
        m = rng.integers(1, 3, (12, 2))                    # ceil(size / 3) flips between float32 and
        x1, y1 = rng.uniform(0, 0.4 * W, 12), rng.uniform(0, 0.4 * H, 12)   # float64 arithmetic
        return np.stack([x1, y1, x1 + 3 * m[:, 0] / s, y1 + 3 * m[:, 1] / s], 1)
    if kind == "many":
        return np.concatenate([span(20, -0.2 * W, 0.8 * W, 0.5 / s, 0.6 * W,
                                    -0.2 * H, 0.8 * H, 0.5 / s, 0.6 * H), inside])
    raise ValueError(kind)


def make_inputs(case: dict):
    """``(x (N, H, W, C), rois (K, 5), dout (K, PH, PW, C))`` of the case's dtype, from its seed."""
    rng = np.random.default_rng(case["seed"])
    dtype = np.dtype(case["dtype"])
    n, h, w, c = case["n"], case["h"], case["w"], case["c"]
    if case["values"] == "ties":                           # whole numbers: many tied maxima
        x = rng.integers(-2, 3, (n, h, w, c)).astype(dtype)
    else:                                                  # distinct values: no ties anywhere
        x = (rng.permutation(n * h * w * c).reshape(n, h, w, c) / 7.0 - 3.0).astype(dtype)
    boxes = _boxes(case["rois"], rng, h, w, case["spatial_scale"])
    batch = rng.integers(0, n, len(boxes))
    batch[:n] = np.arange(n)[: len(boxes)]                 # every image has a roi
    rois = np.concatenate([batch[:, None], boxes], axis=1).astype(dtype)  # (K, 5)
    ph, pw = case["output_size"]
    dout = rng.standard_normal((len(rois), ph, pw, c)).astype(dtype)
    return x, rois, dout


# -- torchvision -------------------------------------------------------------------------------------

def run_torchvision(case: dict, x: np.ndarray, rois: np.ndarray, dout: np.ndarray):
    """torchvision's output ``(K, PH, PW, C)`` and input gradient ``(N, H, W, C)``, channels-last."""
    import torch
    from torchvision.ops import roi_align, roi_pool

    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous().requires_grad_(True)   # (N, C, H, W)
    rt = torch.from_numpy(rois)
    size = tuple(case["output_size"])
    if case["op"] == "pool":
        out = roi_pool(xt, rt, size, case["spatial_scale"])                        # (K, C, PH, PW)
    else:
        out = roi_align(xt, rt, size, case["spatial_scale"], case["sampling_ratio"], case["aligned"])
    out.backward(torch.from_numpy(dout).permute(0, 3, 1, 2).contiguous())
    return (out.detach().permute(0, 2, 3, 1).numpy().copy(),                       # (K, PH, PW, C)
            xt.grad.permute(0, 2, 3, 1).numpy().copy())                            # (N, H, W, C)


def main() -> None:
    import torch
    import torchvision

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for op, path in FILES.items():
        cases = [c for c in CASES if c["op"] == op]
        arrays = {"cases": np.array(json.dumps(cases)),
                  "versions": np.array(f"torch {torch.__version__}, torchvision {torchvision.__version__}")}
        for case in cases:
            x, rois, dout = make_inputs(case)
            out, dx = run_torchvision(case, x, rois, dout)
            for key, value in dict(x=x, rois=rois, dout=dout, out=out, dx=dx).items():
                arrays[f"{case['name']}/{key}"] = value
        np.savez_compressed(path, **arrays)
        print(f"{path.relative_to(OUT_DIR.parent.parent.parent)}: {len(cases)} cases, "
              f"{path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
