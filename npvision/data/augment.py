"""Data augmentation that keeps the labels right: mirrors, crops, resizing, rotation,
shearing, elastic warping, plus test-time multi-crop and prediction averaging.

Every geometric op takes an image and, optionally, the labels that live in its
coordinates, and returns an :class:`Augmented` tuple ``(image, boxes, landmarks, mask)``
with each given label transformed the same way as the pixels (``None`` stays ``None``):

- ``image``: (H, W) grey, (H, W, C), or a batch (N, H, W, C), floating point; the
  dtype is kept. A batch gets the *same* transform for every image (one random draw);
  loop over the images for independent draws.
- ``boxes``: (..., 4) ``(x0, y0, x1, y1)`` in pixels, e.g. (K, 4) or (N, K, 4).
- ``landmarks``: (..., 2) ``(x, y)`` points in pixels, e.g. (K, 2) or (N, K, 2).
- ``mask``: integer label map (H, W) (or (N, H, W) for a batch), moved with
  nearest-neighbour sampling so that labels are never blended.

Coordinates are continuous: pixel ``(r, c)`` covers ``[c, c+1) x [r, r+1)``, its centre
is ``(c + 0.5, r + 0.5)`` and the image spans ``[0, W] x [0, H]`` (see
:mod:`npvision.data._common`). Hence a horizontal mirror maps ``x -> W - x``.

Warps use *inverse mapping*: for each output pixel centre ``p'`` we compute where it
came from, ``p = T^{-1}(p')``, and read the input there with bilinear interpolation.
Points move with the forward map ``T``; a box becomes the smallest box holding its
transformed corners (for rotations this is looser than the object).

Random versions take an explicit ``rng`` (an int seed or a ``numpy.random.Generator``).
The colour operations (fancy PCA, histogram equalisation, normalisation) live in
:mod:`npvision.data.photometric`, the test-time multi-crop and prediction averaging in
:mod:`npvision.data.tta`; both are re-exported here.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from ._common import (as_rng, check_image, check_mode, from_nhwc, gaussian_blur2d,
                      resample_matrix, sample_bilinear, sample_nearest, size_pair,
                      spatial_shape, to_nhwc)
from .photometric import (channel_stats, denormalize, equalize_histogram, fancy_pca,
                          normalize, pca_color_shift, rgb_pca)
from .tta import average_predictions, five_crop, predict_with_crops, ten_crop

__all__ = [
    "Augmented", "hflip", "vflip", "random_flip", "crop", "center_crop", "random_crop",
    "resize", "affine_warp", "rotation_matrix", "rotate", "random_rotation", "shear", "random_shear",
    "elastic_displacement", "elastic_warp", "random_elastic", "filter_boxes",
    # re-exported from tta and photometric
    "five_crop", "ten_crop", "average_predictions", "predict_with_crops", "rgb_pca", "pca_color_shift", "fancy_pca", "equalize_histogram",
    "channel_stats", "normalize", "denormalize",
]


class Augmented(NamedTuple):
    """The result of a geometric op: the image and each label moved with it."""
    image: np.ndarray
    boxes: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    mask: np.ndarray | None = None


# ----------------------------------------------------------------------------- checks

def _as_coords(a, name: str, last: int) -> np.ndarray | None:
    """Boxes (..., 4) or points (..., 2) as a float array (ints become float64)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        a = a.astype(np.float64)
    if a.dtype.kind != "f":
        raise TypeError(f"{name}: expected a numeric array, received dtype {a.dtype}")
    if a.ndim < 1 or a.shape[-1] != last:
        what = "(..., 4) (x0, y0, x1, y1)" if last == 4 else "(..., 2) (x, y)"
        raise ValueError(f"{name}: expected shape {what}, received shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite coordinates, received NaN or inf")
    if last == 4:
        inverted = (a[..., 2] < a[..., 0]) | (a[..., 3] < a[..., 1])
        if inverted.any():
            i = tuple(int(k) for k in np.argwhere(inverted)[0])
            raise ValueError(f"{name}: box {i} = {a[i].tolist()} is inverted; expected "
                             f"(x0, y0, x1, y1) with x0 <= x1 and y0 <= y1")
    return a


def _check_flip_order(flip_order, landmarks: np.ndarray | None) -> list[int] | None:
    """``flip_order`` as a list that re-orders the K landmarks: a permutation of ``0..K-1``."""
    if flip_order is None:
        return None
    order = [int(i) for i in flip_order]
    k = None if landmarks is None else landmarks.shape[-2]
    if k is not None and sorted(order) != list(range(k)):
        raise ValueError(f"flip_order: expected a permutation of 0..{k - 1} (each of the {k} "
                         f"landmarks exactly once), received {list(flip_order)}")
    return order


def _check_mask(mask, image: np.ndarray) -> np.ndarray | None:
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype.kind not in "iub":
        raise TypeError(f"mask: expected an integer label map, received dtype {mask.dtype}")
    want = image.shape[:3] if image.ndim == 4 else image.shape[:2]
    if mask.shape != want:
        raise ValueError(f"mask: expected shape {want} to match the image {image.shape}, "
                         f"received {mask.shape}")
    return mask


def _inputs(image, boxes, landmarks, mask):
    image = check_image(image)
    return (image, _as_coords(boxes, "boxes", 4), _as_coords(landmarks, "landmarks", 2),
            _check_mask(mask, image))


def _box_corners(boxes: np.ndarray) -> np.ndarray:
    """(..., 4) boxes -> (..., 4, 2) corner points."""
    x0, y0, x1, y1 = np.moveaxis(boxes, -1, 0)
    return np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1),
                     np.stack([x1, y1], -1), np.stack([x0, y1], -1)], axis=-2)


def _enclosing_boxes(points: np.ndarray, h: int, w: int) -> np.ndarray:
    """(..., P, 2) points -> (..., 4) the box around them, clipped to [0, W] x [0, H]."""
    lo = points.min(axis=-2)
    hi = points.max(axis=-2)
    out = np.concatenate([lo, hi], axis=-1)                   # (..., 4)
    out[..., 0::2] = np.clip(out[..., 0::2], 0, w)
    out[..., 1::2] = np.clip(out[..., 1::2], 0, h)
    return out


# ----------------------------------------------------------------------------- mirrors

def hflip(image, boxes=None, landmarks=None, mask=None, flip_order: Sequence[int] | None = None
          ) -> Augmented:
    """Mirror left-right: pixel column ``c -> W - 1 - c``, point ``x -> W - x``,
    box ``(x0, y0, x1, y1) -> (W - x1, y0, W - x0, y1)``.

    ``flip_order`` (length K) re-orders landmarks whose *meaning* swaps in a mirror
    (a "left eye" becomes the right one): ``out[..., k, :] = mirrored[..., flip_order[k], :]``.
    For the scenes of :func:`npvision.data.make_scenes` use ``SCENE_LANDMARK_HFLIP``.
    """
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    h, w = spatial_shape(image)
    axis = 2 if image.ndim == 4 else 1
    out = np.flip(image, axis=axis).copy()
    if boxes is not None:
        boxes = np.stack([w - boxes[..., 2], boxes[..., 1], w - boxes[..., 0], boxes[..., 3]], -1)
    if landmarks is not None:
        landmarks = np.stack([w - landmarks[..., 0], landmarks[..., 1]], -1)
        order = _check_flip_order(flip_order, landmarks)
        if order is not None:
            landmarks = landmarks[..., order, :]
    if mask is not None:
        mask = np.flip(mask, axis=-1).copy()
    return Augmented(out, boxes, landmarks, mask)


def vflip(image, boxes=None, landmarks=None, mask=None, flip_order: Sequence[int] | None = None
          ) -> Augmented:
    """Mirror top-bottom: row ``r -> H - 1 - r``, point ``y -> H - y``,
    box ``(x0, y0, x1, y1) -> (x0, H - y1, x1, H - y0)``; ``flip_order`` as in :func:`hflip`."""
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    h, w = spatial_shape(image)
    axis = 1 if image.ndim == 4 else 0
    out = np.flip(image, axis=axis).copy()
    if boxes is not None:
        boxes = np.stack([boxes[..., 0], h - boxes[..., 3], boxes[..., 2], h - boxes[..., 1]], -1)
    if landmarks is not None:
        landmarks = np.stack([landmarks[..., 0], h - landmarks[..., 1]], -1)
        order = _check_flip_order(flip_order, landmarks)
        if order is not None:
            landmarks = landmarks[..., order, :]
    if mask is not None:
        mask = np.flip(mask, axis=-2).copy()
    return Augmented(out, boxes, landmarks, mask)


def random_flip(image, rng, boxes=None, landmarks=None, mask=None, p: float = 0.5,
                horizontal: bool = True, vertical: bool = False,
                hflip_order: Sequence[int] | None = None, vflip_order: Sequence[int] | None = None
                ) -> Augmented:
    """Mirror left-right with probability ``p`` (if ``horizontal``), then top-bottom with
    probability ``p`` (if ``vertical``)."""
    rng = as_rng(rng)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a probability in [0, 1], received {p}")
    res = Augmented(*_inputs(image, boxes, landmarks, mask))
    if horizontal and rng.random() < p:
        res = hflip(*res, flip_order=hflip_order)
    if vertical and rng.random() < p:
        res = vflip(*res, flip_order=vflip_order)
    return res


# ----------------------------------------------------------------------------- crops

def crop(image, top: int, left: int, height: int, width: int, boxes=None, landmarks=None,
         mask=None, clip_landmarks: bool = True) -> Augmented:
    """Cut out rows ``top .. top+height-1`` and columns ``left .. left+width-1``.

    Points and boxes shift by ``(-left, -top)`` and are clipped to the crop
    ``[0, width] x [0, height]``: a box wholly outside becomes a zero-area box (drop it
    with :func:`filter_boxes`), a landmark outside lands on the border (pass
    ``clip_landmarks=False`` to keep it outside instead).
    """
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    h, w = spatial_shape(image)
    for name, v in (("top", top), ("left", left), ("height", height), ("width", width)):
        if not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, received {v!r}")
    if height < 1 or width < 1 or top < 0 or left < 0 or top + height > h or left + width > w:
        raise ValueError(f"crop: the region top={top}, left={left}, height={height}, "
                         f"width={width} does not fit inside the {h}x{w} image")
    if image.ndim == 4:
        out = image[:, top:top + height, left:left + width].copy()
    else:
        out = image[top:top + height, left:left + width].copy()
    offset = np.array([left, top], dtype=np.float64)
    if boxes is not None:
        boxes = boxes - np.tile(offset, 2).astype(boxes.dtype)
        boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, width)
        boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, height)
    if landmarks is not None:
        landmarks = landmarks - offset.astype(landmarks.dtype)
        if clip_landmarks:
            landmarks = np.stack([np.clip(landmarks[..., 0], 0, width),
                                  np.clip(landmarks[..., 1], 0, height)], -1)
    if mask is not None:
        mask = mask[..., top:top + height, left:left + width].copy()
    return Augmented(out, boxes, landmarks, mask)


def center_crop(image, size, boxes=None, landmarks=None, mask=None) -> Augmented:
    """The central ``size`` (int or (height, width)) region; see :func:`crop`."""
    image = check_image(image)
    h, w = spatial_shape(image)
    ch, cw = size_pair(size, "size")
    return crop(image, (h - ch) // 2, (w - cw) // 2, ch, cw, boxes, landmarks, mask)


def random_crop(image, size, rng, boxes=None, landmarks=None, mask=None, padding: int = 0,
                fill: float = 0.0) -> Augmented:
    """A crop of ``size`` at a uniformly random position (see :func:`crop`).

    ``padding`` first pads every side with ``fill`` (mask with 0), the CIFAR recipe
    "pad 4, crop 32": labels shift by ``+padding`` before the crop.
    """
    rng = as_rng(rng)
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    if padding:
        pad = int(padding)
        if pad < 0:
            raise ValueError(f"padding: expected an int >= 0, received {padding}")
        spec = [(0, 0)] * image.ndim
        axes = (1, 2) if image.ndim == 4 else (0, 1)
        for a in axes:
            spec[a] = (pad, pad)
        image = np.pad(image, spec, constant_values=fill)
        if mask is not None:
            mask = np.pad(mask, [(0, 0)] * (mask.ndim - 2) + [(pad, pad), (pad, pad)])
        if boxes is not None:
            boxes = boxes + pad
        if landmarks is not None:
            landmarks = landmarks + pad
    h, w = spatial_shape(image)
    ch, cw = size_pair(size, "size")
    if ch > h or cw > w:
        raise ValueError(f"size: a {ch}x{cw} crop does not fit in the {h}x{w} image")
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return crop(image, top, left, ch, cw, boxes, landmarks, mask)


def filter_boxes(boxes, *arrays, min_size: float = 1.0):
    """Keep the boxes whose width and height are both >= ``min_size`` (e.g. after a crop).

    ``boxes`` (K, 4); each of ``arrays`` (K, ...) (classes, landmarks, ...) is filtered
    the same way. Returns ``(boxes_kept, *arrays_kept)``.
    """
    boxes = _as_coords(boxes, "boxes", 4)
    if boxes.ndim != 2:
        raise ValueError(f"boxes: expected shape (K, 4), received {boxes.shape}")
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    out = [boxes[keep]]
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if len(a) != len(boxes):
            raise ValueError(f"arrays[{i}]: expected {len(boxes)} rows like boxes, received {len(a)}")
        out.append(a[keep])
    return tuple(out)


# ----------------------------------------------------------------------------- resize

def resize(image, size, boxes=None, landmarks=None, mask=None, antialias: bool = True
           ) -> Augmented:
    """Resize to ``size`` (int or (height, width)) by separable linear resampling.

    ``out = R_h @ image @ R_w^T`` per channel, where ``R`` is the tent-filter matrix of
    :func:`npvision.data._common.resample_matrix`: exact bilinear interpolation when
    enlarging; when shrinking with ``antialias`` the tent widens so every input pixel
    contributes (no aliasing). Points scale by ``(W'/W, H'/H)``; masks use nearest
    neighbour.
    """
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    h, w = spatial_shape(image)
    nh, nw = size_pair(size, "size")
    x, shape = to_nhwc(image)
    rh = resample_matrix(h, nh, antialias)                             # (H', H)
    rw = resample_matrix(w, nw, antialias)                             # (W', W)
    out = np.einsum("ih,nhwc->niwc", rh, x, optimize=True)             # (N, H', W, C)
    out = np.einsum("jw,niwc->nijc", rw, out, optimize=True)           # (N, H', W', C)
    out = from_nhwc(out.astype(image.dtype, copy=False), shape)
    sx, sy = nw / w, nh / h
    if boxes is not None:
        boxes = boxes * np.array([sx, sy, sx, sy], dtype=boxes.dtype)
    if landmarks is not None:
        landmarks = landmarks * np.array([sx, sy], dtype=landmarks.dtype)
    if mask is not None:
        m = mask[None] if mask.ndim == 2 else mask
        u = ((np.arange(nw) + 0.5) / sx - 0.5)[None, :].repeat(nh, 0)  # (H', W') source columns
        v = ((np.arange(nh) + 0.5) / sy - 0.5)[:, None].repeat(nw, 1)  # (H', W') source rows
        m = sample_nearest(m, u, v)
        mask = m[0] if mask.ndim == 2 else m
    return Augmented(out, boxes, landmarks, mask)


# ----------------------------------------------------------------------------- warps

def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous coordinates of the pixel centres: x (H, W), y (H, W)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    return x, y


def _apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) matrix applied to (..., 2) points: ``p' = A p + t``."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def affine_warp(image, matrix, boxes=None, landmarks=None, mask=None, mode: str = "constant",
                fill: float = 0.0) -> Augmented:
    """Apply the affine map ``p' = A p + t`` (``matrix = [A | t]``, shape (2, 3), acting on
    ``(x, y)`` pixel coordinates) to the image and its labels; the output keeps the size.

    Inverse mapping: output pixel centre ``p'`` reads the input at
    ``p = A^{-1} (p' - t)`` with bilinear interpolation; outside the input it gets
    ``fill`` (``mode="constant"``), the border pixel (``"edge"``) or the mirror image
    (``"reflect"``). Points map forward; boxes become the box around their mapped
    corners, clipped to the image; landmarks are not clipped (they may leave the image).
    """
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    check_mode(mode)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f"matrix: expected shape (2, 3) [A | t], received {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"matrix: expected finite entries, received {matrix.tolist()} (a NaN angle, "
                         f"scale or shear makes every pixel NaN)")
    if abs(np.linalg.det(matrix[:, :2])) < 1e-12:
        raise ValueError(f"matrix: the linear part {matrix[:, :2].tolist()} is singular; "
                         f"an image warp must be invertible")
    a_inv = np.linalg.inv(matrix[:, :2])
    h, w = spatial_shape(image)
    px, py = _pixel_grid(h, w)
    src = (np.stack([px, py], -1) - matrix[:, 2]) @ a_inv.T        # (H, W, 2) source points
    u, v = src[..., 0] - 0.5, src[..., 1] - 0.5                    # index coordinates
    x, shape = to_nhwc(image)
    out = from_nhwc(sample_bilinear(x, u, v, mode, fill), shape)
    if boxes is not None:
        boxes = _enclosing_boxes(_apply_affine(matrix, _box_corners(boxes)), h, w).astype(boxes.dtype)
    if landmarks is not None:
        landmarks = _apply_affine(matrix, landmarks).astype(landmarks.dtype)
    if mask is not None:
        m = sample_nearest(mask[None] if mask.ndim == 2 else mask, u, v)
        mask = m[0] if mask.ndim == 2 else m
    return Augmented(out, boxes, landmarks, mask)


def rotation_matrix(angle: float, center: tuple[float, float]) -> np.ndarray:
    """(2, 3) map rotating by ``angle`` degrees counter-clockwise *as seen on screen*
    (y points down) about ``center = (cx, cy)``:

        x' = cx + cos(a) (x - cx) + sin(a) (y - cy)
        y' = cy - sin(a) (x - cx) + cos(a) (y - cy)
    """
    a = np.deg2rad(angle)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[c, s], [-s, c]])
    ctr = np.asarray(center, dtype=np.float64)
    return np.concatenate([rot, (ctr - rot @ ctr)[:, None]], axis=1)


def rotate(image, angle: float, boxes=None, landmarks=None, mask=None, center=None,
           mode: str = "constant", fill: float = 0.0) -> Augmented:
    """Rotate by ``angle`` degrees counter-clockwise on screen about ``center``
    (default the image centre ``(W/2, H/2)``); see :func:`rotation_matrix`, :func:`affine_warp`."""
    img = check_image(image)
    h, w = spatial_shape(img)
    center = (w / 2.0, h / 2.0) if center is None else center
    return affine_warp(img, rotation_matrix(float(angle), center), boxes, landmarks, mask, mode, fill)


def random_rotation(image, rng, max_angle: float = 15.0, boxes=None, landmarks=None, mask=None,
                    mode: str = "constant", fill: float = 0.0) -> Augmented:
    """Rotate by an angle drawn uniformly from ``[-max_angle, max_angle]`` degrees."""
    rng = as_rng(rng)
    angle = rng.uniform(-abs(max_angle), abs(max_angle))
    return rotate(image, angle, boxes, landmarks, mask, mode=mode, fill=fill)


def shear(image, shear_x: float = 0.0, shear_y: float = 0.0, boxes=None, landmarks=None,
          mask=None, mode: str = "constant", fill: float = 0.0) -> Augmented:
    """Shear about the image centre ``(cx, cy)``:

        x' = x + shear_x (y - cy),      y' = y + shear_y (x - cx)

    (``shear_x = tan`` of the angle the vertical lines lean by).
    """
    img = check_image(image)
    h, w = spatial_shape(img)
    cx, cy = w / 2.0, h / 2.0
    sx, sy = float(shear_x), float(shear_y)
    if abs(1.0 - sx * sy) < 1e-6:
        raise ValueError(f"shear: shear_x * shear_y must not be 1 (the map would be singular), "
                         f"received shear_x={sx}, shear_y={sy}")
    matrix = np.array([[1.0, sx, -sx * cy], [sy, 1.0, -sy * cx]])
    return affine_warp(img, matrix, boxes, landmarks, mask, mode, fill)


def random_shear(image, rng, max_shear: float = 0.2, boxes=None, landmarks=None, mask=None,
                 mode: str = "constant", fill: float = 0.0) -> Augmented:
    """Shear with ``shear_x`` and ``shear_y`` drawn uniformly from ``[-max_shear, max_shear]``."""
    rng = as_rng(rng)
    m = abs(float(max_shear))
    if m >= 1:
        raise ValueError(f"max_shear: expected a value in [0, 1), received {max_shear}")
    sx, sy = rng.uniform(-m, m, size=2)
    return shear(image, sx, sy, boxes, landmarks, mask, mode=mode, fill=fill)


def elastic_displacement(shape, rng, alpha: float = 4.0, sigma: float = 4.0) -> np.ndarray:
    """A smooth random displacement field (2, H, W) in pixels (Simard et al., 2003):
    uniform noise in [-1, 1] per pixel and axis, blurred by a Gaussian of std ``sigma``,
    rescaled so its largest magnitude is ``alpha`` pixels. ``[0]`` moves x, ``[1]`` moves y."""
    rng = as_rng(rng)
    h, w = size_pair(tuple(shape), "shape")
    if sigma <= 0 or alpha < 0:
        raise ValueError(f"elastic_displacement: expected sigma > 0 and alpha >= 0, "
                         f"received sigma={sigma}, alpha={alpha}")
    d = gaussian_blur2d(rng.uniform(-1.0, 1.0, size=(2, h, w)), sigma)   # (2, H, W)
    peak = np.abs(d).max()
    return d * (alpha / peak) if peak > 0 else d


def _sample_field(d: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear read of the field d (2, H, W) at (..., 2) points -> (..., 2), edge mode."""
    flat = points.reshape(-1, 2)                                      # (P, 2)
    u, v = flat[:, 0] - 0.5, flat[:, 1] - 0.5
    img = np.moveaxis(d, 0, -1)[None]                                  # (1, H, W, 2)
    vals = sample_bilinear(img, u[None, None], v[None, None], mode="edge")  # (1, 1, P, 2)
    return vals.reshape(points.shape)


def _elastic_points(d: np.ndarray, points: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Forward-map points through the elastic warp: solve ``p' + d(p') = p`` by the
    fixed-point iteration ``p' <- p - d(p')`` (it converges when the field is smooth,
    i.e. its slope is below 1)."""
    q = points.astype(np.float64)
    out = q.copy()
    for _ in range(iterations):
        out = q - _sample_field(d, out)
    return out


def elastic_warp(image, displacement, boxes=None, landmarks=None, mask=None,
                 mode: str = "reflect", fill: float = 0.0) -> Augmented:
    """Warp locally by a displacement field ``displacement`` (2, H, W):
    ``out(p) = image(p + d(p))`` (inverse mapping, bilinear).

    Landmarks follow the forward map (found by fixed-point iteration, see
    :func:`_elastic_points`); a box becomes the box around 16 mapped points per side,
    clipped to the image.
    """
    image, boxes, landmarks, mask = _inputs(image, boxes, landmarks, mask)
    check_mode(mode)
    h, w = spatial_shape(image)
    d = np.asarray(displacement, dtype=np.float64)
    if d.shape != (2, h, w):
        raise ValueError(f"displacement: expected shape (2, {h}, {w}), received {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("displacement: expected finite values, received NaN or inf")
    px, py = _pixel_grid(h, w)
    u, v = px + d[0] - 0.5, py + d[1] - 0.5                           # (H, W) index coordinates
    x, shape = to_nhwc(image)
    out = from_nhwc(sample_bilinear(x, u, v, mode, fill), shape)
    if boxes is not None:
        t = np.linspace(0.0, 1.0, 16)
        x0, y0, x1, y1 = (boxes[..., i, None] for i in range(4))       # each (..., 1)
        xs = np.concatenate([x0 + (x1 - x0) * t, x1 + 0 * t, x1 - (x1 - x0) * t, x0 + 0 * t], -1)
        ys = np.concatenate([y0 + 0 * t, y0 + (y1 - y0) * t, y1 + 0 * t, y1 - (y1 - y0) * t], -1)
        edge = np.stack([xs, ys], -1)                                  # (..., 64, 2) box outline
        boxes = _enclosing_boxes(_elastic_points(d, edge), h, w).astype(boxes.dtype)
    if landmarks is not None:
        landmarks = _elastic_points(d, landmarks).astype(landmarks.dtype)
    if mask is not None:
        m = sample_nearest(mask[None] if mask.ndim == 2 else mask, u, v)
        mask = m[0] if mask.ndim == 2 else m
    return Augmented(out, boxes, landmarks, mask)


def random_elastic(image, rng, alpha: float = 4.0, sigma: float = 4.0, boxes=None,
                   landmarks=None, mask=None, mode: str = "reflect") -> Augmented:
    """:func:`elastic_warp` with a fresh :func:`elastic_displacement` field."""
    img = check_image(image)
    d = elastic_displacement(spatial_shape(img), rng, alpha, sigma)
    return elastic_warp(img, d, boxes, landmarks, mask, mode=mode)
