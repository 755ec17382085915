"""Reference values for tests/test_selective_search.py, from scikit-image (run by hand).

    PYTHONPATH=. /work/venv-tv/bin/python tests/data/make_selective_search_goldens.py

Writes tests/data/selective_search_goldens.npz:

- ``rgb`` (P, 3): random colours plus the corners of the RGB cube and a few greys;
  ``hsv`` and ``lab``: ``skimage.color.rgb2hsv`` / ``rgb2lab`` of them (D65, 2 degrees);
- ``scenes`` (3, 48, 48, 3) float32: three synthetic scenes (npvision.data.make_scenes,
  seed 5), and ``fh_<sigma>_<k>`` (3, 48, 48) int16: ``skimage.segmentation.felzenszwalb(
  scene, scale=k, sigma=sigma, min_size=10)`` for sigma in (0, 0.8) and k in (50, 300).
  scikit-image measures colour distances on the 0..255 scale (it divides ``scale`` by
  255) over an 8-connected grid, as npvision does, so the partitions must be equal
  (the label numbers may differ).
"""

from pathlib import Path

import numpy as np
import skimage
from skimage import color
from skimage.segmentation import felzenszwalb

from npvision.data import make_scenes

OUT = Path(__file__).resolve().parent / "selective_search_goldens.npz"


def main():
    rng = np.random.default_rng(0)
    cube = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=np.float64)
    special = np.array([[0.5, 0.5, 0.5], [0.2, 0.2, 0.8], [0.3, 0.3, 0.1], [1.0, 1.0, 0.5],
                        [0.01, 0.02, 0.03], [0.04, 0.04, 0.04], [0.9, 0.1, 0.1]])
    rgb = np.vstack([rng.random((40, 3)), cube, special])
    out = {"rgb": rgb, "hsv": color.rgb2hsv(rgb[None])[0], "lab": color.rgb2lab(rgb[None])[0]}
    scenes32 = make_scenes(3, size=48, min_objects=2, max_objects=4, seed=5).images
    out["scenes"] = scenes32                                # float32: the exact values segmented below
    scenes = scenes32.astype(np.float64)
    for sigma in (0, 0.8):
        for k in (50, 300):
            out[f"fh_{sigma}_{k}"] = np.stack([felzenszwalb(s, scale=k, sigma=sigma, min_size=10)
                                               for s in scenes]).astype(np.int16)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) with scikit-image {skimage.__version__}")


if __name__ == "__main__":
    main()
