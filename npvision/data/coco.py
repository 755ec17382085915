"""Instance labels in COCO's JSON layout: polygons per object, rasterized in NumPy.

The layout (the one COCO's ``instances_*.json`` and most annotation tools write)::

    {"images":      [{"id": 7, "file_name": "a.png", "height": 48, "width": 64}, ...],
     "annotations": [{"id": 1, "image_id": 7, "category_id": 3,
                      "segmentation": [[x1, y1, x2, y2, x3, y3, ...], ...],   # one or more polygons
                      "bbox": [x, y, w, h]}, ...],                              # top-left, width, height
     "categories":  [{"id": 3, "name": "cat"}, ...]}

:func:`load_coco_instances` turns it into per-image ``boxes (K, 4)`` xyxy,
``classes (K,)`` (0, 1, ... in the order of increasing category id) and ``masks
(K, H, W)`` bool, plus the images themselves when their folder is given.

The pixel rule
--------------
Pixel (row r, column c) is the square ``[c, c+1) x [r, r+1)``; it belongs to a
polygon when its *centre* ``(c + 0.5, r + 0.5)`` lies inside -- the rule of the
synthetic scenes (:mod:`npvision.data.scenes`). Inside is the even-odd rule: a ray
from the centre towards ``+x`` crosses the outline an odd number of times. An
edge counts as crossed when its end points lie on opposite sides of the ray, one
strictly below and one at or above, and it cuts the ray strictly right of the
centre. A centre exactly *on* an edge is therefore inside for edges the interior
lies right of / below and outside for the others: polygons that tile the plane
claim each pixel exactly once. An object's several polygons are united.

pycocotools (``annToMask``) rasterizes differently: it snaps the outline to a
1/5-pixel grid and walks it, so the two rules disagree on a pixel only when its
centre lies within about 0.15 pixel of an edge (measured in
``tests/test_coco_loader.py`` against pycocotools' own masks).

Also read: RLE in the *uncompressed* form ``{"size": [h, w], "counts": [n0, n1, ...]}``
(alternating runs of 0s and 1s down the columns, starting with 0s), which COCO
uses for crowds. Compressed RLE strings are refused with a message saying so.
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["InstanceLabels", "load_coco_instances", "polygons_to_mask", "rasterize_polygon"]


@dataclass
class InstanceLabels:
    """Instance labels of a set of images (one list entry per image, in the file's image order)."""
    image_ids: list               # COCO image ids
    file_names: list              # str per image ("" when the file gave none)
    image_sizes: list             # (H, W) per image
    boxes: list                   # (K_i, 4) float32 xyxy pixels
    classes: list                 # (K_i,) int64 indices into class_names
    masks: list                   # (K_i, H, W) bool
    class_names: tuple            # names in order of increasing category id
    category_ids: tuple           # the COCO category id of each class index
    images: list | None = None    # (H, W, 3) float32 per image, when an image folder was given

    def __len__(self) -> int:
        return len(self.image_ids)

    def targets(self) -> list[dict]:
        """Ground truth for :func:`npvision.detection.mean_average_precision` (``iou_type``
        ``"bbox"`` or ``"segm"``): ``{"boxes", "classes", "masks"}`` per image."""
        return [{"boxes": b, "classes": c, "masks": m} for b, c, m in zip(self.boxes, self.classes, self.masks)]


# ----------------------------------------------------------------------------- rasterization

def rasterize_polygon(polygon, image_size) -> np.ndarray:
    """The ``(H, W)`` bool mask of one polygon ``[x1, y1, x2, y2, ...]`` (or ``(V, 2)``) by the
    pixel-centre, even-odd rule of the module docstring.

    For each edge ``(x_i, y_i) -> (x_j, y_j)`` and each pixel centre ``(px, py)`` the
    edge is crossed when ``(y_i > py) != (y_j > py)`` and
    ``px < x_i + (py - y_i) (x_j - x_i) / (y_j - y_i)``; inside = odd crossings.
    Only the rows and columns of the polygon's bounding box are visited. Parts
    outside the image are cut off.
    """
    h, w = _size(image_size)
    p = _points(polygon)
    mask = np.zeros((h, w), dtype=bool)
    r0, r1 = max(int(np.floor(p[:, 1].min())), 0), min(int(np.ceil(p[:, 1].max())), h)
    c0, c1 = max(int(np.floor(p[:, 0].min())), 0), min(int(np.ceil(p[:, 0].max())), w)
    if r1 <= r0 or c1 <= c0:
        return mask
    py = (np.arange(r0, r1) + 0.5)[:, None]                       # (h', 1) centre rows
    px = (np.arange(c0, c1) + 0.5)[None, :]                       # (1, w') centre columns
    inside = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    for (xi, yi), (xj, yj) in zip(p, np.roll(p, -1, axis=0)):
        if yi == yj:
            continue                                              # horizontal: never crossed
        crosses = (yi > py) != (yj > py)                          # (h', 1)
        x_cut = xi + (py - yi) * (xj - xi) / (yj - yi)            # (h', 1) where the edge meets the row
        inside ^= crosses & (px < x_cut)                          # (h', w')
    mask[r0:r1, c0:c1] = inside
    return mask


def polygons_to_mask(polygons, image_size) -> np.ndarray:
    """The union of several polygons (one COCO object) as an ``(H, W)`` bool mask."""
    h, w = _size(image_size)
    mask = np.zeros((h, w), dtype=bool)
    for k, poly in enumerate(polygons):
        mask |= rasterize_polygon(_points(poly, f"polygons[{k}]"), (h, w))
    return mask


def _size(image_size) -> tuple[int, int]:
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or any(not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1 for s in image_size)):
        raise ValueError(f"image_size: expected (height, width) ints >= 1, received {image_size!r}")
    return int(image_size[0]), int(image_size[1])


def _points(polygon, where: str = "polygon") -> np.ndarray:
    """A flat ``[x1, y1, ...]`` list or a ``(V, 2)`` array -> ``(V, 2)`` float64, V >= 3, or a clear error."""
    if isinstance(polygon, np.ndarray):
        flat = polygon.reshape(-1).tolist()
    elif isinstance(polygon, (list, tuple)):
        flat = [v for item in polygon for v in (item if isinstance(item, (list, tuple)) else [item])]
    else:
        raise ValueError(f"{where}: expected a polygon [x1, y1, x2, y2, ...], received {polygon!r}")
    for i, v in enumerate(flat):
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(float(v)):
            raise ValueError(f"{where}: coordinate {i} is {v!r}; expected finite numbers "
                             f"[x1, y1, x2, y2, ...]")
    if len(flat) % 2:
        raise ValueError(f"{where}: expected an even number of coordinates (x, y pairs), received {len(flat)}")
    if len(flat) < 6:
        raise ValueError(f"{where}: a polygon needs at least three points (6 numbers), received "
                         f"{len(flat) // 2} point{'' if len(flat) // 2 == 1 else 's'}")
    return np.asarray(flat, dtype=np.float64).reshape(-1, 2)       # (V, 2)


def _decode_rle(rle: dict, where: str, size: tuple[int, int]) -> np.ndarray:
    """Uncompressed COCO RLE -> ``(H, W)`` bool (runs down the columns, 0s first)."""
    if "size" not in rle or "counts" not in rle:
        raise ValueError(f"{where}: expected polygons or RLE {{'size': [h, w], 'counts': [...]}}, "
                         f"received keys {sorted(rle)}")
    h, w = (int(v) for v in rle["size"])
    if (h, w) != size:
        raise ValueError(f"{where}: the mask's size {(h, w)} differs from its image's size {size}")
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        raise ValueError(f"{where}: compressed RLE strings are not read; give polygons or "
                         f"uncompressed RLE (a list of run lengths)")
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.dtype.kind not in "iu" or (counts < 0).any() or counts.sum() != h * w:
        raise ValueError(f"{where}: RLE counts must be non-negative ints summing to h * w = {h * w}")
    values = np.arange(len(counts)) % 2 == 1                        # runs alternate 0, 1, 0, ...
    flat = np.repeat(values, counts)                                # (h*w,) column-major
    return flat.reshape(w, h).T                                     # (w, h) -> (H, W)


# ----------------------------------------------------------------------------- the loader

def _require(entry, keys, where: str) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a JSON object, received {type(entry).__name__}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(map(repr, missing))} (has {sorted(entry)})")


def _int_id(v, where: str) -> int:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise ValueError(f"{where}: expected an integer id, received {v!r}")
    return int(v)


def load_coco_instances(source, image_dir=None) -> InstanceLabels:
    """Read COCO-layout instance labels (see the module docstring) from a ``.json`` path or an
    already parsed dict.

    ``image_dir``: when given, every image's ``file_name`` is read from it
    (:func:`npvision.data.read_image`, 3 channels) and must have the declared
    ``height`` x ``width``. Classes are numbered 0, 1, ... by increasing category id.
    Annotations keep the file's order within each image. ``bbox`` (xywh) becomes an
    xyxy box; an annotation without ``bbox`` gets the tight box of its mask.

    Raises ``ValueError`` naming the entry for: a missing key, a duplicate id, an
    annotation pointing at an unknown image or category, a polygon with fewer than
    three points or a non-numeric coordinate, a mask (RLE) or image file whose size
    differs from its image's declared size, a bad ``bbox``.
    """
    data = source
    where = "source"
    if not isinstance(source, dict):
        path = os.fspath(source)
        where = repr(path)
        with open(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc})") from None
    _require(data, ("images", "annotations", "categories"), where)

    categories = {}
    for i, cat in enumerate(data["categories"]):
        _require(cat, ("id", "name"), f"{where} categories[{i}]")
        cid = _int_id(cat["id"], f"{where} categories[{i}]['id']")
        if cid in categories:
            raise ValueError(f"{where} categories[{i}]: duplicate category id {cid}")
        categories[cid] = str(cat["name"])
    category_ids = tuple(sorted(categories))
    class_of = {cid: k for k, cid in enumerate(category_ids)}

    index, sizes, names = {}, [], []
    for i, img in enumerate(data["images"]):
        _require(img, ("id", "height", "width"), f"{where} images[{i}]")
        iid = _int_id(img["id"], f"{where} images[{i}]['id']")
        if iid in index:
            raise ValueError(f"{where} images[{i}]: duplicate image id {iid}")
        index[iid] = i
        try:
            sizes.append(_size((img["height"], img["width"])))
        except ValueError:
            raise ValueError(f"{where} images[{i}]: height and width must be ints >= 1, received "
                             f"{img['height']!r} and {img['width']!r}") from None
        names.append(str(img.get("file_name", "")))

    per_image = [([], [], []) for _ in sizes]                       # boxes, classes, masks
    for a, ann in enumerate(data["annotations"]):
        here = f"{where} annotations[{a}]" + (f" (id {ann['id']})" if isinstance(ann, dict) and "id" in ann else "")
        _require(ann, ("image_id", "category_id", "segmentation"), here)
        iid = ann["image_id"]
        if iid not in index:
            raise ValueError(f"{here}: image_id {iid!r} is not among the images' ids")
        if ann["category_id"] not in class_of:
            raise ValueError(f"{here}: category_id {ann['category_id']!r} is not among the categories' "
                             f"ids {list(category_ids)}")
        i = index[iid]
        size = sizes[i]
        seg = ann["segmentation"]
        if isinstance(seg, dict):
            mask = _decode_rle(seg, f"{here} segmentation", size)
        elif isinstance(seg, list) and seg:
            polys = seg if isinstance(seg[0], list) else [seg]     # a single flat polygon is tolerated
            mask = np.zeros(size, dtype=bool)
            for p, poly in enumerate(polys):
                mask |= rasterize_polygon(_points(poly, f"{here} segmentation[{p}]"), size)
        else:
            raise ValueError(f"{here}: segmentation must be a list of polygons [[x1, y1, ...], ...] or "
                             f"an RLE dict, received {seg!r}")
        per_image[i][0].append(_box(ann.get("bbox"), mask, here))
        per_image[i][1].append(class_of[ann["category_id"]])
        per_image[i][2].append(mask)

    images = None
    if image_dir is not None:
        from .loaders import read_image
        images = []
        for i, name in enumerate(names):
            img = read_image(os.path.join(os.fspath(image_dir), name), channels=3)
            if img.shape[:2] != sizes[i]:
                raise ValueError(f"{where} images[{i}]: file {name!r} is {img.shape[0]}x{img.shape[1]} but "
                                 f"the labels (and so the masks) are {sizes[i][0]}x{sizes[i][1]}")
            images.append(img)
    return InstanceLabels(
        image_ids=list(index), file_names=names, image_sizes=sizes,
        boxes=[np.asarray(b, dtype=np.float32).reshape(-1, 4) for b, _, _ in per_image],
        classes=[np.asarray(c, dtype=np.int64) for _, c, _ in per_image],
        masks=[np.asarray(m, dtype=bool).reshape((-1,) + sizes[i]) for i, (_, _, m) in enumerate(per_image)],
        class_names=tuple(categories[c] for c in category_ids), category_ids=category_ids, images=images)


def _box(bbox, mask: np.ndarray, where: str) -> list[float]:
    """COCO's ``[x, y, w, h]`` -> xyxy; without one, the mask's tight box."""
    if bbox is None:
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        return [0.0] * 4 if len(rows) == 0 else [cols[0], rows[0], cols[-1] + 1.0, rows[-1] + 1.0]
    if (not isinstance(bbox, list) or len(bbox) != 4
            or any(not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v) for v in bbox)
            or bbox[2] < 0 or bbox[3] < 0):
        raise ValueError(f"{where}: bbox must be [x, y, width, height], four finite numbers with "
                         f"width, height >= 0, received {bbox!r}")
    x, y, bw, bh = (float(v) for v in bbox)
    return [x, y, x + bw, y + bh]
