"""Real data shipped inside the package (nothing is downloaded): the UCI handwritten
digits and a few public-domain / CC0 photographs and textures.

The files live in ``npvision/data/assets/``; ``LICENSES.md`` there gives each one's
authors and licence, and ``extract_assets.py`` shows how they were made.
"""

from __future__ import annotations

import os

import numpy as np

from ._common import resample_matrix

__all__ = ["load_digits", "stratified_split", "list_images", "load_image", "image_info",
           "ASSETS_DIR"]

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")

_IMAGES = {
    # name: (description, source, licence)
    "astronaut": ("astronaut Eileen Collins, colour", "NASA Great Images", "public domain"),
    "chelsea": ("Chelsea the cat, colour", "Stefan van der Walt", "CC0"),
    "coffee": ("coffee cup, colour", "Rachel Michetti / Pikolo Espresso Bar", "CC0"),
    "rocket": ("DSCOVR launch on Falcon 9, colour", "SpaceX", "public domain"),
    "camera": ("photographer with camera, grey", "Lav Varshney", "CC0"),
    "brick": ("brick wall texture, grey", "CC0Textures (Bricks25)", "CC0"),
    "grass": ("grass texture, grey", "linolafett (DeviantArt)", "CC0"),
    "gravel": ("gravel texture, grey", "CC0Textures (Gravel04)", "CC0"),
}


def stratified_split(labels, test_fraction: float = 0.2, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of ``labels`` (N,) into (train_idx, test_idx).

    Within each class the indices are shuffled by ``numpy.random.default_rng(seed)`` and
    the first ``round(test_fraction * count)`` go to the test set, so each class keeps
    its share in both parts. Both index arrays are sorted (the original order).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels: expected shape (N,), received {labels.shape}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a value in (0, 1), received {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        test.append(idx[:int(round(test_fraction * len(idx)))])
    test_idx = np.sort(np.concatenate(test)).astype(np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx).astype(np.int64)
    return train_idx, test_idx


def load_digits(split: str | None = None, test_fraction: float = 0.2, seed: int = 0,
                size: int = 8, interpolation: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """The UCI handwritten digits (Alpaydin & Kaynak; CC BY 4.0): 1797 grey 8x8 images
    of the digits 0-9, about 180 per class.

    Returns ``(images, labels)``: float32 (N, size, size, 1) with values in [0, 1]
    (the original 0..16 counts divided by 16) and int64 (N,) labels.

    - ``split``: ``None`` for all 1797, ``"train"`` or ``"test"`` for the parts of the
      deterministic stratified split of :func:`stratified_split` (``test_fraction``,
      ``seed``). The two parts never overlap and together make the whole set.
    - ``size``: 8 (original) or larger, e.g. 32 for LeNet-5's 32x32 input. Enlarging uses
      ``interpolation="bilinear"`` (pixel centres aligned, border pixels repeated: a
      smooth digit) or ``"nearest"`` (each pixel becomes a size/8 block; needs a
      multiple of 8).
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split: expected None, 'train' or 'test', received {split!r}")
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size: expected an int >= 8, received {size!r}")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation: expected 'bilinear' or 'nearest', received {interpolation!r}")
    with np.load(os.path.join(ASSETS_DIR, "digits.npz")) as f:
        raw = f["images"]                                   # (1797, 8, 8) uint8, 0..16
        labels = f["labels"].astype(np.int64)               # (1797,)
    if split is not None:
        train_idx, test_idx = stratified_split(labels, test_fraction, seed)
        idx = train_idx if split == "train" else test_idx
        raw, labels = raw[idx], labels[idx]
    images = raw.astype(np.float32) / np.float32(16.0)
    if size != 8:
        if interpolation == "nearest":
            if size % 8:
                raise ValueError(f"size: nearest upsampling needs a multiple of 8, received {size}")
            k = size // 8
            images = images.repeat(k, axis=1).repeat(k, axis=2)          # (N, size, size)
        else:
            r = resample_matrix(8, size).astype(np.float32)              # (size, 8)
            images = np.einsum("ih,nhw,jw->nij", r, images, r, optimize=True)  # (N, size, size)
    return np.ascontiguousarray(images[..., None]), labels              # (N, size, size, 1)


def list_images() -> list[str]:
    """Names of the shipped photographs and textures, for :func:`load_image`."""
    return sorted(_IMAGES)


def image_info(name: str) -> dict:
    """``{"name", "description", "source", "license", "path"}`` of a shipped image."""
    _check_name(name)
    desc, source, lic = _IMAGES[name]
    return {"name": name, "description": desc, "source": source, "license": lic,
            "path": os.path.join(ASSETS_DIR, f"{name}.png")}


def _check_name(name: str) -> None:
    if name not in _IMAGES:
        raise ValueError(f"name: unknown image {name!r}; available: {', '.join(list_images())}")


def load_image(name: str) -> np.ndarray:
    """A shipped image as float32 in [0, 1]: (H, W, 3) for colour photographs, (H, W)
    for grey ones (camera and the textures). The long side is 256 pixels."""
    import matplotlib.image as mpimg

    _check_name(name)
    img = mpimg.imread(os.path.join(ASSETS_DIR, f"{name}.png"))        # PNG -> float32 in [0, 1]
    return np.ascontiguousarray(img, dtype=np.float32)
