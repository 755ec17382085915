"""Golden values for mask AP: COCO's official evaluation (pycocotools' COCOeval) on hand-built cases.

Run by hand, with the reference environment (pycocotools is never an npvision dependency):

    /work/venv-tv/bin/python tests/data/make_segm_goldens.py

It writes ``segm_cases.npz`` (every case's masks, boxes, scores and classes) and
``segm_goldens.json`` (COCOeval's numbers for iouType "segm" and "bbox" on the same
cases), which ``tests/test_segm_map.py`` compares against npvision to 1e-12.

COCO's data are built exactly as a user would: image id = index + 1, category id =
class + 1 (every class listed, including one that has detections but no ground
truth), annotation ids from 1, every ground truth ``iscrowd=0`` with ``area`` = its
pixel count; masks as RLE (``pycocotools.mask.encode``), boxes in COCO's xywh from
the xyxy boxes stored here. Read at area range "all", maxDets 100: ``stats[0:3]``
(AP@[.50:.95], AP50, AP75), per class the mean of ``eval["precision"][:, :, k, 0, 2]``
over the entries > -1, per threshold the same over ``[t, :, :, 0, 2]``.
"""

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

HERE = Path(__file__).parent


def rect(h, w, r0, r1, c0, c1):
    m = np.zeros((h, w), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def disc(h, w, cy, cx, r):
    rr, cc = np.mgrid[0:h, 0:w] + 0.5
    return (rr - cy) ** 2 + (cc - cx) ** 2 <= r ** 2


def tight_boxes(masks):
    """xyxy pixel boxes of masks (K, H, W): (min c, min r, max c + 1, max r + 1); empty -> zeros."""
    out = np.zeros((len(masks), 4))
    for k, m in enumerate(masks):
        r, c = np.nonzero(m)
        if len(r):
            out[k] = (c.min(), r.min(), c.max() + 1, r.max() + 1)
    return out


def image(masks, classes, scores=None, h=16, w=16):
    masks = np.asarray(masks, dtype=bool).reshape(-1, h, w)
    d = {"masks": masks, "boxes": tight_boxes(masks), "classes": np.asarray(classes, dtype=np.int64)}
    if scores is not None:
        d["scores"] = np.asarray(scores, dtype=np.float64)
    return d


def hand_case():
    """Four 16x16 images, classes 0, 1 and 2 (class 2: detections only, no ground truth)."""
    H = W = 16
    R = lambda *a: rect(H, W, *a)
    # image 0: two overlapping class-0 ground truths and a class-1 disc; tied scores, a duplicate,
    #          a partial class-1 hit, a class-2 detection (no ground truth of class 2 anywhere)
    g0 = [R(2, 8, 2, 8), R(5, 12, 5, 12), disc(H, W, 11.5, 4.5, 3.2)]
    d0 = [R(2, 8, 3, 8), R(5, 12, 4, 12), R(2, 7, 2, 8), disc(H, W, 11.0, 5.5, 3.0), R(0, 4, 10, 16)]
    img0 = (image(g0, [0, 0, 1]), image(d0, [0, 0, 0, 1, 2], [0.9, 0.9, 0.8, 0.7, 0.95]))
    # image 1: ground truth, no detection at all
    img1 = (image([R(3, 9, 3, 13)], [1]), image(np.zeros((0, H, W)), [], []))
    # image 2: no ground truth; a false alarm whose score ties one in image 0, and an empty mask
    img2 = (image(np.zeros((0, H, W)), []), image([R(8, 14, 8, 14), np.zeros((H, W))], [0, 0], [0.8, 0.6]))
    # image 3: tied IoUs. A and B (class 0) overlap; D overlaps both with IoU 20/28 = 0.714 each,
    #          so COCO matches it to the *last* of the two (B), leaving A for D2 (IoU 1); a rule
    #          taking the first would leave D2 only B, at IoU 0.5.
    a, b = R(0, 4, 0, 6), R(0, 4, 2, 8)
    img3 = (image([a, b], [0, 0]), image([R(0, 4, 1, 7), a], [0, 0], [0.85, 0.5]))
    imgs = [img0, img1, img2, img3]
    return [d for _, d in imgs], [g for g, _ in imgs]


def random_case(seed, n_images=10, h=24, w=32, n_classes=3):
    """Random rectangles and discs (overlapping), detections as shifted / eroded / dilated copies,
    some duplicates and false alarms; scores rounded to one decimal (ties). Non-square images."""
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(n_images):
        g = int(rng.integers(0, 6))
        gm, gc = [], rng.integers(0, n_classes, g)
        for _ in range(g):
            if rng.random() < 0.5:
                r0, c0 = rng.integers(0, h - 4), rng.integers(0, w - 4)
                gm.append(rect(h, w, r0, r0 + rng.integers(4, 12), c0, c0 + rng.integers(4, 14)))
            else:
                gm.append(disc(h, w, rng.uniform(3, h - 3), rng.uniform(3, w - 3), rng.uniform(3, 7)))
        dm, dc = [], []
        for k in range(g):
            for _ in range(int(rng.random() < 0.8) + int(rng.random() < 0.2)):
                m = np.roll(gm[k], (rng.integers(-1, 2), rng.integers(-1, 2)), axis=(0, 1))
                if rng.random() < 0.3:                                 # dilate by one pixel
                    m = m | np.roll(m, 1, 0) | np.roll(m, 1, 1)
                dm.append(m)
                dc.append(gc[k] if rng.random() < 0.85 else rng.integers(0, n_classes))
        for _ in range(int(rng.integers(0, 4))):                          # false alarms
            dm.append(disc(h, w, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 6)))
            dc.append(rng.integers(0, n_classes))
        scores = np.round(rng.uniform(0.05, 1.0, len(dm)), 1)
        gts.append(image(np.array(gm).reshape(-1, h, w), gc, h=h, w=w))
        dets.append(image(np.array(dm).reshape(-1, h, w), dc, scores, h=h, w=w))
    return dets, gts


CASES = {"hand": hand_case(), "random0": random_case(0), "random1": random_case(1)}


def coco_eval(dets, gts, iou_type, n_classes):
    h, w = gts[0]["masks"].shape[1:]
    images = [{"id": i + 1, "height": int(h), "width": int(w)} for i in range(len(gts))]
    anns, aid = [], 1
    for i, g in enumerate(gts):
        for m, b, c in zip(g["masks"], g["boxes"], g["classes"]):
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            anns.append({"id": aid, "image_id": i + 1, "category_id": int(c) + 1, "iscrowd": 0,
                         "area": float(m.sum()), "segmentation": rle,
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
            aid += 1
    coco_gt = COCO()
    coco_gt.dataset = {"images": images, "annotations": anns,
                       "categories": [{"id": c + 1, "name": str(c)} for c in range(n_classes)]}
    coco_gt.createIndex()
    results = []
    for i, d in enumerate(dets):
        for m, b, s, c in zip(d["masks"], d["boxes"], d["scores"], d["classes"]):
            r = {"image_id": i + 1, "category_id": int(c) + 1, "score": float(s)}
            if iou_type == "segm":
                r["segmentation"] = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            else:
                r["bbox"] = [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
            results.append(r)
    coco_dt = coco_gt.loadRes(results)
    ev = COCOeval(coco_gt, coco_dt, iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    prec = ev.eval["precision"][:, :, :, 0, 2]                      # (T, R, K) area "all", maxDets 100
    per_class = {}
    for k in range(n_classes):
        p = prec[:, :, k]
        if (p > -1).any():
            per_class[str(k)] = float(p[p > -1].mean())
    per_threshold = [float(prec[t][prec[t] > -1].mean()) for t in range(prec.shape[0])]
    return {"map": float(ev.stats[0]), "map50": float(ev.stats[1]), "map75": float(ev.stats[2]),
            "per_class": per_class, "per_threshold": per_threshold}


def main():
    arrays, goldens = {}, {}
    for name, (dets, gts) in CASES.items():
        n_classes = 3
        for i, (d, g) in enumerate(zip(dets, gts)):
            for key, v in d.items():
                arrays[f"{name}__det{i}__{key}"] = v
            for key, v in g.items():
                arrays[f"{name}__gt{i}__{key}"] = v
        goldens[name] = {"n_images": len(dets),
                         **{t: coco_eval(dets, gts, t, n_classes) for t in ("segm", "bbox")}}
    np.savez_compressed(HERE / "segm_cases.npz", **arrays)
    from importlib.metadata import version
    goldens["_about"] = {"pycocotools": version("pycocotools"),
                         "script": "tests/data/make_segm_goldens.py"}
    (HERE / "segm_goldens.json").write_text(json.dumps(goldens, indent=1))
    print(json.dumps({k: {t: v[t]["map"] for t in ("segm", "bbox")} for k, v in goldens.items()
                      if not k.startswith("_")}))


if __name__ == "__main__":
    main()
