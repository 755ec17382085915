"""Golden masks for the COCO polygon loader: pycocotools' own rasterization (``COCO.annToMask``).

Run by hand in the reference environment (pycocotools is never an npvision dependency):

    /work/venv-tv/bin/python tests/data/make_coco_polygon_goldens.py

Writes ``coco_polygons.json`` (a small instance-label file in COCO's layout: two images,
three categories, polygons that are convex, concave, integer, fractional, split in two
parts, poking out of the image, and a self-intersecting pentagram) and
``coco_polygon_masks.npz`` (``ann<id>``: the (H, W) uint8 mask pycocotools makes of
annotation ``id``). ``tests/test_coco_loader.py`` compares npvision's masks with them.
"""

import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

HERE = Path(__file__).parent


def star_shaped(rng, n, cx, cy, r_lo, r_hi, integer=False):
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(r_lo, r_hi, n)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    return (np.round(pts) if integer else np.round(pts, 2)).ravel().tolist()


def main():
    rng = np.random.default_rng(17)
    images = [{"id": 10, "file_name": "first.png", "height": 40, "width": 56},
              {"id": 20, "file_name": "second.png", "height": 33, "width": 30}]
    cats = [{"id": 5, "name": "blob"}, {"id": 1, "name": "star"}, {"id": 9, "name": "box"}]
    pentagram = [v for k in range(5) for v in (round(15 + 11 * np.cos(np.deg2rad(-90 + 144 * k)), 3),
                                                round(16 + 11 * np.sin(np.deg2rad(-90 + 144 * k)), 3))]
    anns = [
        (10, 5, [star_shaped(rng, 7, 16, 14, 5, 12)]),                          # concave, fractional
        (10, 5, [star_shaped(rng, 5, 40, 20, 6, 10, integer=True)]),            # integer vertices
        (10, 9, [[30.0, 26.0, 50.0, 26.0, 50.0, 37.0, 30.0, 37.0]]),             # axis-aligned box
        (10, 1, [star_shaped(rng, 4, 10, 32, 3, 6), star_shaped(rng, 6, 22, 33, 3, 6)]),  # two parts
        (10, 9, [[48.3, -3.0, 60.0, 4.2, 51.0, 12.7]]),                          # pokes out of the image
        (20, 1, [pentagram]),                                                    # self-intersecting
        (20, 5, [star_shaped(rng, 9, 14, 15, 4, 13)]),                           # overlaps the star
    ]
    annotations = []
    for k, (iid, cid, seg) in enumerate(anns, 1):
        pts = np.concatenate([np.reshape(p, (-1, 2)) for p in seg])
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        annotations.append({"id": k, "image_id": iid, "category_id": cid, "iscrowd": 0, "segmentation": seg,
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                            "area": 0.0})
    data = {"images": images, "annotations": annotations, "categories": cats}
    (HERE / "coco_polygons.json").write_text(json.dumps(data))
    coco = COCO(str(HERE / "coco_polygons.json"))
    masks = {f"ann{a['id']}": coco.annToMask(a) for a in annotations}
    np.savez_compressed(HERE / "coco_polygon_masks.npz", **masks)
    print({k: int(v.sum()) for k, v in masks.items()})


if __name__ == "__main__":
    main()
