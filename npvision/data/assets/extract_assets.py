"""Re-create the files in this folder (run once by a maintainer, never by npvision).

    python npvision/data/assets/extract_assets.py

It needs scikit-learn and scikit-image, which carry the original data; npvision
itself never imports them. It writes

- ``digits.npz``: the UCI optical-recognition handwritten digits as scikit-learn
  ships them: ``images`` (1797, 8, 8) uint8 with values 0..16, ``labels`` (1797,)
  int64 with values 0..9 (compressed).
- ``<name>.png``: a few public-domain / CC0 photographs and textures from
  scikit-image's sample data, resized so the long side is at most 256 pixels
  (anti-aliased), stored as 8-bit PNG (RGB or grey). The files sit flat in this folder
  so that the package-data glob ``data/assets/*`` ships them.

The licence of each file is recorded in ``LICENSES.md`` beside this script.
"""

from __future__ import annotations

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SIDE = 256
# name -> scikit-image loader name; the licences are listed in LICENSES.md.
PICTURES = ["astronaut", "chelsea", "coffee", "rocket", "camera", "brick", "grass", "gravel"]


def extract_digits() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)            # (1797, 8, 8), values 0..16
    assert np.array_equal(images, bunch.images)       # the originals are whole numbers
    labels = bunch.target.astype(np.int64)            # (1797,)
    np.savez_compressed(os.path.join(HERE, "digits.npz"), images=images, labels=labels)


def extract_pictures() -> None:
    import skimage.data
    from PIL import Image
    from skimage.transform import resize

    for name in PICTURES:
        img = getattr(skimage.data, name)()
        h, w = img.shape[:2]
        scale = MAX_SIDE / max(h, w)
        if scale < 1:
            out_shape = (round(h * scale), round(w * scale)) + img.shape[2:]
            img = resize(img, out_shape, anti_aliasing=True, preserve_range=True)
            img = np.clip(np.round(img), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(HERE, f"{name}.png"), optimize=True)


if __name__ == "__main__":
    extract_digits()
    extract_pictures()
