"""Loaders for the user's own data: a folder of images per class, ``.npz`` archives,
and YOLO text labels.

Images are read with ``matplotlib.image.imread`` (PNG natively, JPEG through Pillow,
which matplotlib depends on) and returned as float32 in [0, 1], channels-last.
"""

from __future__ import annotations

import os

import numpy as np

from ._common import size_pair

__all__ = ["IMAGE_EXTENSIONS", "read_image", "load_image_folder", "load_npz", "load_yolo_labels"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def read_image(path, channels: int | None = None) -> np.ndarray:
    """Read one PNG/JPEG file as float32 in [0, 1]: (H, W) grey or (H, W, C).

    ``channels=3`` gives (H, W, 3) (grey repeated, alpha dropped); ``channels=1``
    gives (H, W, 1) (the mean of the colour channels); ``None`` keeps what the file has.
    Raises ``ValueError`` naming the file when it cannot be read.
    """
    import matplotlib.image as mpimg

    path = os.fspath(path)
    if channels not in (None, 1, 3):
        raise ValueError(f"channels: expected None, 1 or 3, received {channels!r}")
    try:
        img = mpimg.imread(path)
    except Exception as exc:  # matplotlib/Pillow raise several exception types
        raise ValueError(f"could not read image file {path!r}: {exc}") from exc
    img = np.asarray(img)
    if img.dtype.kind in "ui":      # JPEG comes as uint8 0..255
        img = img.astype(np.float32) / np.float32(np.iinfo(img.dtype).max)
    img = img.astype(np.float32, copy=False)
    if img.ndim not in (2, 3):
        raise ValueError(f"could not read image file {path!r}: unexpected array shape {img.shape}")
    if channels is None:
        return img
    if img.ndim == 2:
        img = img[:, :, None]                                   # (H, W) -> (H, W, 1)
    if img.shape[2] in (2, 4):                                  # drop alpha
        img = img[:, :, :-1]
    if channels == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)                         # (H, W, 1) -> (H, W, 3)
    elif channels == 1 and img.shape[2] == 3:
        img = img.mean(axis=2, keepdims=True)                   # (H, W, 3) -> (H, W, 1)
    return np.ascontiguousarray(img)


def load_image_folder(path, size=None, channels: int = 3
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load ``path/<class name>/<image files>`` into arrays.

    Class folders are sorted by name and numbered 0, 1, ...; files ending in
    ``.png``, ``.jpg`` or ``.jpeg`` (any case) are read in name order, other files
    are ignored. ``size`` (int or (height, width)) resizes every image (antialiased
    bilinear, see :func:`npvision.data.augment.resize`); without it every image must
    already have the same size.

    Returns ``(images (N, H, W, channels) float32 in [0, 1], labels (N,) int64,
    class_names)``. Raises ``ValueError`` for a missing or empty folder, a class folder
    without images, an unreadable file or mismatched sizes, naming the folder or file.
    """
    from .augment import resize

    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ValueError(f"path: {root!r} is not a folder")
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, received {channels!r}")
    target = None if size is None else size_pair(size, "size")
    classes = sorted(d for d in os.listdir(root)
                     if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    if not classes:
        raise ValueError(f"path: {root!r} has no class sub-folders; expected one folder "
                         f"per class holding {'/'.join(IMAGE_EXTENSIONS)} files")
    images, labels = [], []
    first_shape, first_file = None, None
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        files = sorted(f for f in os.listdir(folder)
                       if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith("."))
        if not files:
            raise ValueError(f"class folder {folder!r} holds no image files "
                             f"({'/'.join(IMAGE_EXTENSIONS)})")
        for f in files:
            file = os.path.join(folder, f)
            img = read_image(file, channels=channels)
            if target is not None:
                img = resize(img, target).image
            elif first_shape is None:
                first_shape, first_file = img.shape, file
            elif img.shape != first_shape:
                raise ValueError(f"image {file!r} has shape {img.shape} but {first_file!r} has "
                                 f"{first_shape}; pass size=(height, width) to resize them all")
            images.append(img)
            labels.append(label)
    return np.stack(images).astype(np.float32), np.asarray(labels, dtype=np.int64), classes


def load_npz(path, images_key: str = "images", labels_key: str | None = "labels"
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Load ``(images, labels)`` from a NumPy ``.npz`` archive.

    Integer images (e.g. uint8 0..255) become float32 in [0, 1] (divided by their
    dtype's maximum); floating images are returned as stored. ``labels_key=None``
    returns ``(images, None)``. Raises ``KeyError`` listing the available keys when a
    key is missing, and ``ValueError`` when the label count differs from the image count.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"path: no such file {path!r}")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":                  # every .npz is a zip archive
        raise ValueError(f"path: {path!r} is not a NumPy .npz archive (it does not start like a zip "
                         f"file; first bytes {magic!r}); save one with np.savez(path, images=..., "
                         f"labels=...)")
    with np.load(path, allow_pickle=False) as f:
        keys = list(f.keys())
        for role, key in (("images_key", images_key), ("labels_key", labels_key)):
            if key is not None and key not in keys:
                raise KeyError(f"{role}: {path!r} has no array named {key!r}; "
                               f"it holds {', '.join(map(repr, keys)) or 'nothing'}")
        images = f[images_key]
        labels = None if labels_key is None else f[labels_key]
    if images.dtype.kind in "ui":
        images = images.astype(np.float32) / np.float32(np.iinfo(images.dtype).max)
    elif images.dtype.kind == "b":
        images = images.astype(np.float32)
    elif images.dtype.kind != "f":
        raise ValueError(f"images: {path!r}[{images_key!r}] has non-numeric dtype {images.dtype}")
    if images.ndim not in (3, 4):
        raise ValueError(f"images: {path!r}[{images_key!r}] has shape {images.shape}; expected a stack "
                         f"of images (N, H, W) or (N, H, W, C)")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"labels: {path!r} holds {len(images)} images but {len(labels)} labels")
    return images, labels


def load_yolo_labels(path, image_size, num_classes: int | None = None,
                     edge_tolerance: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Read a YOLO label file: one line ``class cx cy w h`` per object, the box given as
    fractions of the image (centre ``cx, cy``, width ``w`` and height ``h``, all in [0, 1]).

    ``image_size`` (height, width) in pixels (an int means square); ``num_classes``, if
    given, the number of classes (a class id must be in ``0 .. num_classes - 1``).
    Returns ``(boxes (K, 4) float32 xyxy in pixels, classes (K,) int64)``; an empty file
    (or one of blank lines) gives K = 0.

    Every line is checked, and a bad one raises ``ValueError`` naming the file and the
    line number: a column count other than 5, a class that is not a non-negative integer
    (or not below ``num_classes``), a coordinate that is not a finite number in [0, 1],
    a width or height of 0. Annotation tools often round a box so that its edge pokes
    out of the image by a hair: an edge outside [0, 1] by at most ``edge_tolerance``
    (fraction of the image) is clipped to the image; more is an error.
    """
    path = os.fspath(path)
    h, w = size_pair(image_size, "image_size")
    if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or num_classes < 1):
        raise ValueError(f"num_classes: expected an int >= 1 or None, received {num_classes!r}")
    if not 0 <= edge_tolerance < 0.5:
        raise ValueError(f"edge_tolerance: expected a fraction in [0, 0.5), received {edge_tolerance!r}")
    boxes, classes = [], []
    with open(path, "rb") as fb:
        raw = fb.read()
    try:
        text = raw.decode("utf-8-sig")                  # a byte-order mark is fine
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path!r}: is not a YOLO label text file (byte {exc.start} is not UTF-8 "
                         f"text); expected lines 'class cx cy w h'") from None
    if "\x00" in text:
        raise ValueError(f"{path!r}: is not a YOLO label text file (it holds NUL bytes: binary "
                         f"data); expected lines 'class cx cy w h'")
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue

        def bad(why: str):
            return ValueError(f"{path!r} line {lineno}: {why}; expected 'class cx cy w h' "
                              f"with cx, cy, w, h fractions in [0, 1], received {line.strip()!r}")

        if len(parts) != 5:
            raise bad(f"expected 5 columns, found {len(parts)}")
        try:
            cls = int(parts[0])
        except ValueError:
            raise bad(f"class {parts[0]!r} is not an integer") from None
        if cls < 0 or (num_classes is not None and cls >= num_classes):
            limit = f"0 .. {num_classes - 1}" if num_classes is not None else ">= 0"
            raise bad(f"class {cls} is out of range (expected {limit})")
        try:
            cx, cy, bw, bh = (float(p) for p in parts[1:])
        except ValueError as exc:
            raise bad(f"a coordinate is not a number ({exc})") from None
        for name, v in (("cx", cx), ("cy", cy), ("w", bw), ("h", bh)):
            if not (np.isfinite(v) and 0.0 <= v <= 1.0):
                raise bad(f"{name} = {v} is outside [0, 1]")
        if bw == 0.0 or bh == 0.0:
            raise bad("the box has zero width or height")
        x0, y0, x1, y1 = cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2
        if min(x0, y0) < -edge_tolerance or max(x1, y1) > 1 + edge_tolerance:
            raise bad(f"the box ({x0:.4g}, {y0:.4g}, {x1:.4g}, {y1:.4g}) reaches outside the "
                      f"image by more than edge_tolerance={edge_tolerance}")
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
        boxes.append([x0 * w, y0 * h, x1 * w, y1 * h])
        classes.append(cls)
    return (np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
            np.asarray(classes, dtype=np.int64))
