"""A seeded generator of synthetic scenes of coloured shapes, with every label the
course's tasks need taken from the *same* scenes.

One call, :func:`make_scenes`, draws ``n`` RGB canvases (gradient or textured
backgrounds plus pixel noise) holding between ``min_objects`` and ``max_objects``
shapes of the classes in :data:`SHAPE_CLASSES` (circle, square, triangle, cross), of
random colour, size, position and rotation, overlapping one another. It returns a
:class:`Scenes` record with

- ``images`` (n, H, W, 3) float32 in [0, 1];
- per image ``boxes`` (K, 4) float32 ``(x0, y0, x1, y1)`` and ``classes`` (K,) int64,
  in drawing order (later objects lie on top of earlier ones) -> detection;
- per image one *main* object (the one with the most visible pixels): ``labels``
  (n,), ``main_boxes`` (n, 4) -> classification with localisation (with
  ``min_objects = max_objects = 1`` it is the only object; with ``min_objects = 0``
  a scene may be empty: label -1, zero box, see :func:`make_scenes`);
- ``landmarks`` (n, 5, 2): five keypoints of the main object -> landmark regression;
  ``object_landmarks``: the same for every object;
- ``masks`` (n, H, W) int64: 0 for background, ``class id + 1`` where a shape is the
  visible (top-most) one -> semantic segmentation; ``instances`` (n, H, W) int64:
  0 for background, ``k + 1`` where object ``k`` is visible -> instance masks.

Conventions
-----------
Coordinates are continuous pixels: pixel (row r, column c) is the square
``[c, c+1) x [r, r+1)`` with centre ``(c + 0.5, r + 0.5)``. A pixel belongs to a shape
when its *centre* lies inside the shape (no anti-aliasing), so labels and pixels agree
exactly.

*Boxes are the tight boxes of the full (amodal) shape*, not of its visible part: an
occluded object keeps its whole box, as a person annotating the scene would draw it.
Every pixel of an object's mask therefore lies inside its box. Every shape lies wholly
inside the canvas (no clipping), and no object is hidden below ``min_visible`` of its
own area (placements that would do so are redrawn).

Every shape fits in a circle of radius ``R`` about its centre ``(cx, cy)``; it is drawn
rotated by an angle ``theta`` (if ``rotate``):

- circle: radius R;
- square: corners at angles ``theta + 45 + 90 k`` degrees, distance R;
- triangle: equilateral, corners at ``theta - 90 + 120 k`` degrees (apex up at theta=0);
- cross: a plus sign, two bars of half-length 0.954 R and half-width 0.3 R.

Landmarks (in this order, :data:`SCENE_LANDMARK_NAMES`): the centre, then the shape's
extreme points in the directions up, right, down and left (its topmost, rightmost,
bottommost and leftmost points; where a whole side is extreme, the middle of that
side). They touch the box: ``top.y = y0``, ``right.x = x1``, ``bottom.y = y1``,
``left.x = x0``. A left-right mirror swaps "right" and "left": pass
``flip_order=SCENE_LANDMARK_HFLIP`` to :func:`npvision.data.augment.hflip`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import size_pair

__all__ = ["SHAPE_CLASSES", "SCENE_LANDMARK_NAMES", "SCENE_LANDMARK_HFLIP",
           "SCENE_LANDMARK_VFLIP", "Scenes", "make_scenes"]

SHAPE_CLASSES = ("circle", "square", "triangle", "cross")
SCENE_LANDMARK_NAMES = ("centre", "top", "right", "bottom", "left")
SCENE_LANDMARK_HFLIP = (0, 1, 4, 3, 2)
SCENE_LANDMARK_VFLIP = (0, 3, 2, 1, 4)

_CROSS_HALF_WIDTH = 0.3
_CROSS_HALF_LENGTH = float(np.sqrt(1.0 - _CROSS_HALF_WIDTH ** 2))
_MAX_TRIES = 100


@dataclass
class Scenes:
    """Synthetic scenes and their labels (see the module docstring for every field)."""
    images: np.ndarray              # (n, H, W, 3) float32
    boxes: list                     # n arrays (K_i, 4) float32, xyxy pixels, full-shape boxes
    classes: list                   # n arrays (K_i,) int64, indices into class_names
    object_landmarks: list          # n arrays (K_i, 5, 2) float32
    labels: np.ndarray              # (n,) int64, class of the main object
    main_boxes: np.ndarray          # (n, 4) float32
    main_index: np.ndarray          # (n,) int64, position of the main object in boxes[i]
    landmarks: np.ndarray           # (n, 5, 2) float32, main object's (x, y) keypoints
    masks: np.ndarray               # (n, H, W) int64, 0 background, class id + 1
    instances: np.ndarray           # (n, H, W) int64, 0 background, object index + 1
    class_names: tuple = SHAPE_CLASSES

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def scene(self, i: int) -> dict:
        """Everything about scene ``i`` as a dict of arrays."""
        return {"image": self.images[i], "boxes": self.boxes[i], "classes": self.classes[i],
                "object_landmarks": self.object_landmarks[i], "label": int(self.labels[i]),
                "main_box": self.main_boxes[i], "landmarks": self.landmarks[i],
                "mask": self.masks[i], "instances": self.instances[i]}

    def instance_masks(self, i: int) -> np.ndarray:
        """Scene ``i``'s objects as ``(K_i, H, W)`` bool masks, in the order of ``boxes[i]``:
        ``instance_masks(i)[k] = (instances[i] == k + 1)``, the *visible* pixels of object k."""
        ids = np.arange(1, len(self.classes[i]) + 1)                           # (K_i,)
        return self.instances[i][None, :, :] == ids[:, None, None]           # (K_i, H, W)

    def instance_targets(self) -> list[dict]:
        """Ground truth for instance segmentation: ``{"boxes", "classes", "masks" (K, H, W) bool}``
        per image, as ``mean_average_precision(..., iou_type="segm")`` and Mask R-CNN read it."""
        return [{"boxes": b, "classes": c, "masks": self.instance_masks(i)}
                for i, (b, c) in enumerate(zip(self.boxes, self.classes))]

    def detection_targets(self) -> list[dict]:
        """Ground truth in the form ``npvision.detection.mean_average_precision`` reads:
        one dict ``{"boxes": (K, 4), "classes": (K,)}`` per image."""
        return [{"boxes": b, "classes": c} for b, c in zip(self.boxes, self.classes)]


# ----------------------------------------------------------------------------- geometry

def _polygon(cls: np.ndarray, cx, cy, r, theta) -> np.ndarray:
    """Outline corners (m, V, 2) for polygon classes of one kind (all ``cls`` equal)."""
    kind = SHAPE_CLASSES[int(cls[0])]
    if kind == "square":
        ang = theta[:, None] + np.deg2rad(45.0 + 90.0 * np.arange(4))          # (m, 4)
        rad = r[:, None] * np.ones(4)
    elif kind == "triangle":
        ang = theta[:, None] + np.deg2rad(-90.0 + 120.0 * np.arange(3))        # (m, 3)
        rad = r[:, None] * np.ones(3)
    else:  # cross: the 8 outer corners of the two bars (the only ones that can be extreme)
        a, l = _CROSS_HALF_WIDTH, _CROSS_HALF_LENGTH
        local = np.array([[l, -a], [l, a], [a, l], [-a, l], [-l, a], [-l, -a], [-a, -l], [a, -l]])
        c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]                  # (m, 1)
        x = r[:, None] * (c * local[:, 0] - s * local[:, 1])                    # (m, 8)
        y = r[:, None] * (s * local[:, 0] + c * local[:, 1])
        return np.stack([cx[:, None] + x, cy[:, None] + y], -1)                # (m, 8, 2)
    return np.stack([cx[:, None] + rad * np.cos(ang), cy[:, None] + rad * np.sin(ang)], -1)


def _inside_convex(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Pixel centres (H, W) inside each convex polygon verts (m, V, 2) -> (m, H, W) bool.

    Every outline here runs the same way round (increasing angle, which in y-down image
    coordinates turns from +x towards +y), so a point p is inside exactly when it lies
    on the inner side of every edge v_i -> v_(i+1):

        (v_(i+1) - v_i) x (p - v_i) = e_x (y - y_i) - e_y (x - x_i) >= 0.
    """
    m, nv, _ = verts.shape
    inside = np.ones((m,) + px.shape, dtype=bool)
    v = verts.astype(np.float32)
    for i in range(nv):
        x0, y0 = v[:, i, 0, None, None], v[:, i, 1, None, None]                 # (m, 1, 1)
        ex = v[:, (i + 1) % nv, 0, None, None] - x0
        ey = v[:, (i + 1) % nv, 1, None, None] - y0
        inside &= ex * py - ey * px >= ex * y0 - ey * x0                          # (m, H, W)
    return inside


def _cross_bars(cx, cy, r, theta) -> tuple[np.ndarray, np.ndarray]:
    """The two rectangles (m, 4, 2) whose union is the cross."""
    a, l = _CROSS_HALF_WIDTH, _CROSS_HALF_LENGTH
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    bars = []
    for local in (np.array([[-l, -a], [l, -a], [l, a], [-l, a]]),
                  np.array([[-a, -l], [a, -l], [a, l], [-a, l]])):
        x = r[:, None] * (c * local[:, 0] - s * local[:, 1])                    # (m, 4)
        y = r[:, None] * (s * local[:, 0] + c * local[:, 1])
        bars.append(np.stack([cx[:, None] + x, cy[:, None] + y], -1))          # (m, 4, 2)
    return bars[0], bars[1]


_DIRECTIONS = np.array([[0.0, -1.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])   # up, right, down, left


def _shape_labels(cls, cx, cy, r, theta, px, py):
    """Masks (m, H, W), boxes (m, 4) and landmarks (m, 5, 2) for m shapes of mixed classes."""
    m = len(cls)
    masks = np.zeros((m,) + px.shape, dtype=bool)
    boxes = np.zeros((m, 4))
    marks = np.zeros((m, 5, 2))
    marks[:, 0] = np.stack([cx, cy], -1)
    for k, kind in enumerate(SHAPE_CLASSES):
        sel = np.flatnonzero(cls == k)
        if len(sel) == 0:
            continue
        scx, scy, sr, sth = cx[sel], cy[sel], r[sel], theta[sel]
        if kind == "circle":
            ccx, ccy, cr = (a.astype(np.float32)[:, None, None] for a in (scx, scy, sr))
            masks[sel] = (px - ccx) ** 2 + (py - ccy) ** 2 <= cr ** 2
            boxes[sel] = np.stack([scx - sr, scy - sr, scx + sr, scy + sr], -1)
            marks[sel, 1:] = np.stack([scx, scy], -1)[:, None, :] + sr[:, None, None] * _DIRECTIONS
            continue
        if kind == "cross":
            bar1, bar2 = _cross_bars(scx, scy, sr, sth)
            masks[sel] = _inside_convex(px, py, bar1) | _inside_convex(px, py, bar2)
        else:
            masks[sel] = _inside_convex(px, py, _polygon(cls[sel], scx, scy, sr, sth))
        verts = _polygon(cls[sel], scx, scy, sr, sth)                           # (s, V, 2)
        boxes[sel] = np.concatenate([verts.min(1), verts.max(1)], -1)
        proj = verts @ _DIRECTIONS.T                                            # (s, V, 4)
        extreme = proj >= proj.max(axis=1, keepdims=True) - 1e-6 * sr[:, None, None]
        weights = extreme / extreme.sum(axis=1, keepdims=True)                  # (s, V, 4)
        marks[sel, 1:] = np.einsum("svd,svc->sdc", weights, verts)              # (s, 4, 2)
    return masks, boxes, marks


# ----------------------------------------------------------------------------- backgrounds

def _backgrounds(n: int, h: int, w: int, kind: str, rng: np.random.Generator):
    """(n, H, W, 3) float32 backgrounds and their two end colours (n, 2, 3)."""
    ends = rng.uniform(0.0, 1.0, size=(n, 2, 3))
    if kind == "flat":
        ends[:, 1] = ends[:, 0]
    py, px = np.mgrid[0:h, 0:w].astype(np.float32) + np.float32(0.5)
    ang = rng.uniform(0.0, 2 * np.pi, size=n)
    ca = (np.cos(ang) / max(h, w)).astype(np.float32)[:, None, None]
    sa = (np.sin(ang) / max(h, w)).astype(np.float32)[:, None, None]
    t = np.clip(ca * (px - w / 2) + sa * (py - h / 2) + np.float32(0.5), 0.0, 1.0)   # (n, H, W)
    c0 = ends[:, 0].astype(np.float32)[:, None, None, :]                             # (n, 1, 1, 3)
    c1 = ends[:, 1].astype(np.float32)[:, None, None, :]
    bg = c0 + t[..., None] * (c1 - c0)                                               # (n, H, W, 3)
    if kind == "texture":  # three random plane waves: a soft, low-frequency texture
        for _ in range(3):
            freq = rng.uniform(1.0, 4.0, size=n) * 2 * np.pi / max(h, w)
            wa = rng.uniform(0.0, 2 * np.pi, size=n)
            phase = rng.uniform(0.0, 2 * np.pi, size=n)
            amp = rng.uniform(0.02, 0.08, size=(n, 3)).astype(np.float32)
            fx = (freq * np.cos(wa)).astype(np.float32)[:, None, None]
            fy = (freq * np.sin(wa)).astype(np.float32)[:, None, None]
            arg = fx * px + fy * py + phase.astype(np.float32)[:, None, None]        # (n, H, W)
            bg += amp[:, None, None, :] * np.sin(arg)[..., None]
    return bg, ends


def _contrasting_colours(ends: np.ndarray, rng: np.random.Generator, min_distance: float):
    """One colour per scene at least ``min_distance`` (RGB Euclidean) from both background
    end colours, by redrawing the failures (any colour after 50 rounds)."""
    colours = rng.uniform(0.0, 1.0, size=(len(ends), 3))
    for _ in range(50):
        d = np.linalg.norm(colours[:, None, :] - ends, axis=-1).min(axis=1)    # (n,)
        bad = np.flatnonzero(d < min_distance)
        if len(bad) == 0:
            break
        colours[bad] = rng.uniform(0.0, 1.0, size=(len(bad), 3))
    return colours


# ----------------------------------------------------------------------------- the generator

def make_scenes(n: int, size: int = 64, max_objects: int = 3, min_objects: int = 1,
                seed: int = 0, classes=None, size_range: tuple[float, float] = (0.2, 0.45),
                rotate: bool = True, background: str = "gradient", noise: float = 0.03,
                min_visible: float = 0.4, min_contrast: float = 0.35) -> Scenes:
    """Draw ``n`` scenes of ``size`` x ``size`` pixels (an int, or (height, width)).

    - ``min_objects``..``max_objects`` shapes per scene (uniform count); ``classes`` the
      names (or ids) to draw from, uniformly (default all of :data:`SHAPE_CLASSES`;
      ids stay those of SHAPE_CLASSES).
    - ``min_objects = 0`` allows *empty* scenes, background only (the course's
      ``p_c = 0`` case): such a scene has ``labels[i] = -1``, ``main_index[i] = -1``,
      ``main_boxes[i]`` and ``landmarks[i]`` all zeros, ``boxes[i]`` of shape (0, 4),
      ``classes[i]`` (0,), ``object_landmarks[i]`` (0, 5, 2), and masks and instances
      all 0. ``max_objects`` stays >= 1. For ``min_objects >= 1`` nothing changes.
    - ``size_range``: the shape's outer diameter ``2 R`` as a fraction of the shorter
      canvas side, drawn uniformly from this range.
    - ``rotate``: random rotation of squares, triangles and crosses (else upright).
    - ``background``: ``"gradient"`` (linear blend of two random colours), ``"flat"`` or
      ``"texture"`` (gradient plus soft waves); ``noise``: std of Gaussian pixel noise,
      added last (the result is clipped to [0, 1]).
    - ``min_visible``: each object keeps at least this fraction of its pixels visible.
    - ``min_contrast``: a shape's colour is at least this far (RGB distance) from the
      background's end colours.

    The same ``seed`` always gives the same scenes. See the module docstring for the
    returned fields and their conventions.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected an int >= 1, received {n!r}")
    h, w = size_pair(size, "size")
    if min(h, w) < 8:
        raise ValueError(f"size: expected at least 8 pixels per side, received {(h, w)}")
    for name, v, low in (("min_objects", min_objects, 0), ("max_objects", max_objects, 1)):
        if not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name}: expected an int >= {low}, received {v!r}")
    if max_objects > 254:
        raise ValueError(f"max_objects: expected at most 254, received {max_objects}")
    if min_objects > max_objects:
        raise ValueError(f"min_objects: expected <= max_objects={max_objects}, received {min_objects}")
    lo, hi = (float(s) for s in size_range)
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"size_range: expected 0 < low <= high <= 1, received {size_range!r}")
    if background not in ("gradient", "flat", "texture"):
        raise ValueError(f"background: expected 'gradient', 'flat' or 'texture', received {background!r}")
    if noise < 0 or not 0 <= min_visible <= 1:
        raise ValueError(f"noise/min_visible: expected noise >= 0 and min_visible in [0, 1], "
                         f"received {noise}, {min_visible}")
    class_ids = _class_ids(classes)

    rng = np.random.default_rng(seed)
    py, px = np.mgrid[0:h, 0:w].astype(np.float32) + np.float32(0.5)            # pixel centres
    r_lo, r_hi = lo * min(h, w) / 2, hi * min(h, w) / 2
    counts = rng.integers(min_objects, max_objects + 1, size=n)
    bg, ends = _backgrounds(n, h, w, background, rng)

    m = max_objects
    cls = np.full((n, m), -1, dtype=np.int64)
    box = np.zeros((n, m, 4))
    marks = np.zeros((n, m, 5, 2))
    area = np.zeros((n, m), dtype=np.int64)
    colour = np.zeros((n, m + 1, 3), dtype=np.float32)
    inst = np.zeros((n, h, w), dtype=np.uint8)           # 0 background, k + 1 object k
    visible = np.zeros((n, m + 1), dtype=np.int64)       # visible pixels of each object
    for k in range(m):
        todo = np.flatnonzero(counts > k)
        for _ in range(_MAX_TRIES):
            if len(todo) == 0:
                break
            t = len(todo)
            c = class_ids[rng.integers(0, len(class_ids), size=t)]
            r = rng.uniform(r_lo, r_hi, size=t)
            theta = rng.uniform(0, 2 * np.pi, size=t) if rotate else np.zeros(t)
            cx = rng.uniform(r, w - r)
            cy = rng.uniform(r, h - r)
            shape_mask, b, lm = _shape_labels(c, cx, cy, r, theta, px, py)
            full = np.count_nonzero(shape_mask, axis=(1, 2))
            # hidden[s, j]: pixels of object j in scene todo[s] that this shape would cover
            under = np.where(shape_mask, inst[todo], np.uint8(0))                 # (t, H, W)
            hidden = np.zeros((t, m), dtype=np.int64)
            for j in range(k):
                hidden[:, j] = np.count_nonzero(under == j + 1, axis=(1, 2))
            remain = visible[todo, 1:] - hidden                                   # (t, m)
            ok = (full > 0) & np.all(remain >= min_visible * area[todo], axis=1)
            acc = todo[ok]
            cls[acc, k], box[acc, k], marks[acc, k], area[acc, k] = c[ok], b[ok], lm[ok], full[ok]
            visible[acc, 1:] = remain[ok]
            visible[acc, k + 1] = full[ok]
            inst[acc] = np.where(shape_mask[ok], np.uint8(k + 1), inst[acc])
            todo = todo[~ok]
        if len(todo) and k < min_objects:
            raise RuntimeError(f"make_scenes: could not place {min_objects} objects in some "
                               f"scenes; use smaller size_range, fewer objects or lower min_visible")
        colour[:, k + 1] = _contrasting_colours(ends, rng, min_contrast)

    # Paint: each pixel takes the colour of its visible object (inst), else the background.
    scene_idx = np.arange(n)[:, None, None]
    images = np.where(inst[..., None] > 0, colour[scene_idx, inst], bg)
    if noise > 0:
        images += np.float32(noise) * rng.standard_normal(images.shape, dtype=np.float32)
    np.clip(images, 0.0, 1.0, out=images)

    # Semantic masks: look up class id + 1 of each pixel's object (0 stays background).
    table = np.concatenate([np.zeros((n, 1), dtype=np.int64), cls + 1], axis=1)  # (n, m + 1); empty slot -> 0
    masks = np.take_along_axis(table, inst.reshape(n, -1).astype(np.intp), axis=1).reshape(n, h, w)

    # The main object: most visible pixels (the first of equals). A scene with no
    # object (possible only when min_objects = 0) has none: label -1, index -1, zeros.
    main = visible[:, 1:].argmax(axis=1)
    empty = ~np.any(cls >= 0, axis=1)                                            # (n,)
    boxes_l, classes_l, marks_l = [], [], []
    main_pos = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        present = np.flatnonzero(cls[i] >= 0)      # drawing order, empty slots skipped
        boxes_l.append(box[i, present].astype(np.float32))                     # (K_i, 4), K_i may be 0
        classes_l.append(cls[i, present].copy())
        marks_l.append(marks[i, present].astype(np.float32))
        if not empty[i]:
            main_pos[i] = int(np.flatnonzero(present == main[i])[0])
    rows = np.arange(n)
    labels = np.where(empty, -1, cls[rows, main])
    main_boxes = np.where(empty[:, None], 0.0, box[rows, main]).astype(np.float32)         # (n, 4)
    landmarks = np.where(empty[:, None, None], 0.0, marks[rows, main]).astype(np.float32)  # (n, 5, 2)
    return Scenes(images=images, boxes=boxes_l, classes=classes_l, object_landmarks=marks_l,
                  labels=labels, main_boxes=main_boxes, main_index=main_pos, landmarks=landmarks,
                  masks=masks, instances=_renumber(inst, cls), class_names=SHAPE_CLASSES)


def _renumber(inst: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Instance ids k + 1 refer to slots; when a slot stayed empty, later ones shift down so
    that id ``j + 1`` is the j-th entry of ``boxes[i]``."""
    n, m = cls.shape
    placed = cls >= 0
    if np.all(placed[:, :-1] >= placed[:, 1:]):     # no gaps: slot k is already entry k
        return inst.astype(np.int64)
    table = np.zeros((n, m + 1), dtype=np.int64)
    table[:, 1:] = np.where(cls >= 0, np.cumsum(cls >= 0, axis=1), 0)
    return np.take_along_axis(table, inst.reshape(n, -1).astype(np.intp), axis=1).reshape(inst.shape)


def _class_ids(classes) -> np.ndarray:
    """Class names or ids -> ids into SHAPE_CLASSES (``None``: all of them)."""
    if classes is None:
        return np.arange(len(SHAPE_CLASSES))
    ids = []
    for c in (classes if isinstance(classes, (list, tuple, np.ndarray)) else [None]):
        if isinstance(c, str) and c in SHAPE_CLASSES:
            ids.append(SHAPE_CLASSES.index(c))
        elif isinstance(c, (int, np.integer)) and 0 <= c < len(SHAPE_CLASSES):
            ids.append(int(c))
        else:
            ids = []
            break
    if not ids:
        raise ValueError(f"classes: expected a non-empty sequence of names from {SHAPE_CLASSES} "
                         f"or ids 0..{len(SHAPE_CLASSES) - 1}, received {classes!r}")
    return np.array(ids, dtype=np.int64)
