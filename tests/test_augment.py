"""Tests of npvision.data.augment and npvision.data.photometric: every op keeps the
labels consistent with the pixels."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from npvision.data import augment as A
from npvision.data._common import sample_bilinear

SETTINGS = settings(max_examples=25, deadline=None)


def _sample(img, pts):
    """Bilinear value of img (H, W, C) at (x, y) points (K, 2) -> (K, C)."""
    u = (pts[:, 0] - 0.5)[None, :]
    v = (pts[:, 1] - 0.5)[None, :]
    return sample_bilinear(img[None].astype(np.float64), u, v, mode="edge")[0, 0]


def _pixel(img, pts):
    """The pixel containing each point (x, y) -> (K, C)."""
    return img[pts[:, 1].astype(int), pts[:, 0].astype(int)]


def _ramp(h, w, dtype=np.float64):
    """A linear image f(x, y) = (0.02 x + 0.01 y, 0.5 - 0.01 x, 0.03 y): bilinear
    interpolation reproduces it exactly, so warped values can be predicted."""
    y, x = np.mgrid[0:h, 0:w] + 0.5
    return np.stack([0.02 * x + 0.01 * y, 0.5 - 0.01 * x, 0.03 * y], -1).astype(dtype)


def _f(pts):
    x, y = pts[:, 0], pts[:, 1]
    return np.stack([0.02 * x + 0.01 * y, 0.5 - 0.01 * x, 0.03 * y], -1)


pixel_points = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 14)), min_size=1, max_size=6)


@SETTINGS
@given(pts=pixel_points, seed=st.integers(0, 1000))
def test_mirrors_move_landmarks_with_pixels(pts, seed):
    img = np.random.default_rng(seed).random((15, 21, 3)).astype(np.float32)
    lm = np.array(pts, dtype=np.float64) + 0.5                    # pixel centres, (x, y)
    for op in (A.hflip, A.vflip):
        out = op(img, landmarks=lm)
        assert out.image.dtype == np.float32 and out.image.shape == img.shape
        np.testing.assert_array_equal(_pixel(out.image, out.landmarks), _pixel(img, lm))
        twice = op(*op(img, boxes=[[1, 2, 5, 9]], landmarks=lm, mask=np.arange(315).reshape(15, 21)))
        np.testing.assert_array_equal(twice.image, img)
        np.testing.assert_array_equal(twice.landmarks, lm)
        np.testing.assert_array_equal(twice.boxes, [[1, 2, 5, 9]])
        np.testing.assert_array_equal(twice.mask, np.arange(315).reshape(15, 21))


def test_mirror_boxes_and_masks():
    img = np.zeros((10, 20, 1))
    mask = np.zeros((10, 20), dtype=np.int64)
    mask[2:5, 3:7] = 1
    img[2:5, 3:7] = 1.0
    out = A.hflip(img, boxes=np.array([[3.0, 2.0, 7.0, 5.0]]), mask=mask)
    np.testing.assert_array_equal(out.boxes, [[13.0, 2.0, 17.0, 5.0]])
    assert np.array_equal(np.nonzero(out.mask), np.nonzero(out.image[..., 0]))
    assert out.mask[2:5, 13:17].all()
    out = A.vflip(img, boxes=np.array([[3.0, 2.0, 7.0, 5.0]]))
    np.testing.assert_array_equal(out.boxes, [[3.0, 5.0, 7.0, 8.0]])
    # batches: the same flip for every image, landmarks (N, K, 2)
    batch = np.random.default_rng(0).random((2, 4, 6, 3))
    out = A.hflip(batch, landmarks=np.array([[[0.5, 0.5]], [[2.5, 3.5]]]))
    np.testing.assert_array_equal(out.image[1, 3, 3], batch[1, 3, 2])
    np.testing.assert_array_equal(out.landmarks, [[[5.5, 0.5]], [[3.5, 3.5]]])


@SETTINGS
@given(angle=st.floats(-180, 180), pts=st.lists(st.tuples(st.floats(0, 32), st.floats(0, 24)),
                                                  min_size=1, max_size=5))
def test_rotation_there_and_back_returns_landmarks(angle, pts):
    img = np.zeros((24, 32, 3), dtype=np.float32)
    lm = np.array(pts)
    there = A.rotate(img, angle, landmarks=lm)
    back = A.rotate(there.image, -angle, landmarks=there.landmarks)
    np.testing.assert_allclose(back.landmarks, lm, atol=1e-9)
    assert back.image.dtype == np.float32


@SETTINGS
@given(quarter=st.integers(-3, 3), pts=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)),
                                                 min_size=1, max_size=6), seed=st.integers(0, 99))
def test_right_angle_rotation_moves_marker_pixels(quarter, pts, seed):
    img = np.random.default_rng(seed).random((16, 16, 2))
    lm = np.array(pts, dtype=np.float64) + 0.5
    out = A.rotate(img, 90.0 * quarter, landmarks=lm)
    np.testing.assert_allclose(_sample(out.image, out.landmarks), _pixel(img, lm), atol=1e-9)


@SETTINGS
@given(angle=st.floats(-40, 40), sx=st.floats(-0.3, 0.3), sy=st.floats(-0.3, 0.3),
       pts=st.lists(st.tuples(st.floats(14, 26), st.floats(14, 26)), min_size=1, max_size=5))
def test_affine_warps_carry_values_to_the_new_landmarks(angle, sx, sy, pts):
    img = _ramp(40, 40)
    lm = np.array(pts)
    for out in (A.rotate(img, angle, landmarks=lm), A.shear(img, sx, sy, landmarks=lm)):
        # the warped image, read at the moved landmark, shows what was at the landmark
        np.testing.assert_allclose(_sample(out.image, out.landmarks), _f(lm), atol=1e-9)


@SETTINGS
@given(seed=st.integers(0, 10_000), alpha=st.floats(0.5, 3.0),
       pts=st.lists(st.tuples(st.floats(10, 30), st.floats(10, 30)), min_size=1, max_size=5))
def test_elastic_warp_carries_values_to_the_new_landmarks(seed, alpha, pts):
    img = _ramp(40, 40)
    lm = np.array(pts)
    out = A.random_elastic(img, seed, alpha=alpha, sigma=5.0, landmarks=lm,
                           boxes=np.array([[12.0, 12.0, 28.0, 28.0]]))
    np.testing.assert_allclose(_sample(out.image, out.landmarks), _f(lm), atol=1e-6)
    assert np.all(np.abs(out.landmarks - lm) <= alpha + 1e-6)
    b = out.boxes[0]
    assert 12 - alpha - 1e-6 <= b[0] and b[2] <= 28 + alpha + 1e-6


def test_affine_boxes_and_masks():
    img = np.zeros((20, 20, 1))
    mask = np.zeros((20, 20), dtype=np.int64)
    mask[5:10, 8:12] = 3
    out = A.rotate(img, 90.0, boxes=np.array([[8.0, 5.0, 12.0, 10.0]]), mask=mask)
    # 90 degrees counter-clockwise about (10, 10): (x, y) -> (y, 20 - x)
    np.testing.assert_allclose(out.boxes, [[5.0, 8.0, 10.0, 12.0]], atol=1e-9)
    rows, cols = np.nonzero(out.mask == 3)
    assert set(np.unique(out.mask)) == {0, 3}
    assert rows.min() == 8 and rows.max() == 11 and cols.min() == 5 and cols.max() == 9
    with pytest.raises(ValueError, match="matrix"):
        A.affine_warp(img, np.eye(3))
    with pytest.raises(ValueError, match="mode"):
        A.rotate(img, 10, mode="wrap")
    with pytest.raises(ValueError, match="singular"):
        A.affine_warp(img, [[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]])
    # an elastic warp moves mask labels without blending them
    warped = A.random_elastic(img, 0, alpha=3.0, mask=mask).mask
    assert set(np.unique(warped)) == {0, 3} and abs((warped == 3).sum() - 20) <= 8


@SETTINGS
@given(seed=st.integers(0, 1000), pad=st.integers(0, 3))
def test_random_crop_shifts_and_clips(seed, pad):
    rng = np.random.default_rng(seed)
    img = rng.random((12, 16, 3))
    lm = np.array([[0.5, 0.5], [8.5, 6.5], [15.5, 11.5]])
    boxes = np.array([[0.0, 0.0, 16.0, 12.0], [2.0, 3.0, 5.0, 4.0]])
    out = A.random_crop(img, (8, 10), seed, boxes=boxes, landmarks=lm, padding=pad)
    assert out.image.shape == (8, 10, 3)
    assert np.all(out.landmarks >= 0) and np.all(out.landmarks[:, 0] <= 10) and np.all(out.landmarks[:, 1] <= 8)
    assert np.all(out.boxes[:, 0::2] <= 10) and np.all(out.boxes[:, 1::2] <= 8) and np.all(out.boxes >= 0)
    inside = (out.landmarks > 0) & (out.landmarks[:, ::-1] < [8, 10])
    ok = inside.all(axis=1)
    if pad == 0:  # landmarks that stay inside still sit on their pixel
        np.testing.assert_array_equal(_pixel(out.image, out.landmarks[ok]), _pixel(img, lm[ok]))
        # the whole-image box becomes the whole crop
        np.testing.assert_array_equal(out.boxes[0], [0, 0, 10, 8])


def test_crop_errors_and_filter_boxes():
    img = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="does not fit"):
        A.crop(img, 4, 4, 6, 2)
    with pytest.raises(ValueError, match="does not fit"):
        A.random_crop(img, 9, 0)
    out = A.crop(img, 0, 0, 4, 4, boxes=np.array([[5.0, 5.0, 7.0, 7.0], [1.0, 1.0, 3.0, 6.0]]))
    kept, cls = A.filter_boxes(out.boxes, np.array([7, 9]))
    np.testing.assert_array_equal(kept, [[1, 1, 3, 4]])
    np.testing.assert_array_equal(cls, [9])
    with pytest.raises(TypeError, match="rng"):
        A.random_crop(img, 4, None)


def test_resize_keeps_labels():
    img = _ramp(10, 12)
    lm = np.array([[3.3, 4.1], [6.0, 5.0]])
    out = A.resize(img, (20, 24), landmarks=lm, boxes=np.array([[1.0, 2.0, 5.0, 6.0]]))
    assert out.image.shape == (20, 24, 3)
    np.testing.assert_allclose(out.landmarks, lm * 2)
    np.testing.assert_allclose(out.boxes, [[2.0, 4.0, 10.0, 12.0]])
    np.testing.assert_allclose(_sample(out.image, out.landmarks), _f(lm), atol=1e-9)
    # shrinking a one-pixel checkerboard by 3: plain sampling aliases (pure 0s and 1s),
    # the antialiasing tent averages it towards grey
    board = (np.add.outer(np.arange(24), np.arange(24)) % 2).astype(np.float64)
    aliased = A.resize(board, 8, antialias=False).image
    assert set(np.unique(aliased)) == {0.0, 1.0}
    smooth = A.resize(board, 8).image
    assert np.all(np.abs(smooth[1:-1, 1:-1] - 0.5) < 0.1)
    np.testing.assert_allclose(A.resize(np.full((9, 7, 2), 0.25), (4, 3)).image, 0.25)
    mask = np.kron(np.arange(4).reshape(2, 2), np.ones((3, 3), dtype=np.int64))
    np.testing.assert_array_equal(A.resize(np.zeros((6, 6, 1)), 2, mask=mask).mask, [[0, 1], [2, 3]])


def test_equalization_flattens_the_histogram():
    rng = np.random.default_rng(0)
    img = rng.beta(2.0, 6.0, size=(64, 64, 3))            # strongly skewed to dark values
    out = A.equalize_histogram(img)
    assert out.shape == img.shape and out.dtype == img.dtype
    for c in range(3):
        hist, _ = np.histogram(out[..., c], bins=8, range=(0, 1))
        np.testing.assert_allclose(hist, 64 * 64 / 8, rtol=0.03)
        before, _ = np.histogram(img[..., c], bins=8, range=(0, 1))
        assert before.max() > 2 * 64 * 64 / 8
    # monotone: the order of values is kept
    a, b = img[..., 0].ravel(), out[..., 0].ravel()
    assert np.all(np.diff(b[np.argsort(a)]) >= -1e-12)


def test_normalization_round_trip():
    rng = np.random.default_rng(1)
    x = rng.random((5, 6, 6, 3)).astype(np.float32)
    mean, std = A.channel_stats(x)
    z = A.normalize(x, mean, std)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 3).std(0), 1, atol=1e-4)
    np.testing.assert_allclose(A.denormalize(z, mean, std), x, atol=1e-6)
    with pytest.raises(ValueError, match="std"):
        A.normalize(x, mean, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="mean"):
        A.normalize(x, [0.5, 0.5], 1.0)


def test_fancy_pca_shifts_every_pixel_along_the_principal_axes():
    rng = np.random.default_rng(2)
    x = rng.random((4, 8, 8, 3)).astype(np.float32)
    vals, vecs = A.rgb_pca(x)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(3), atol=1e-10)
    assert np.all(np.diff(vals) <= 0)
    out = A.fancy_pca(x, 5, std=0.5, eigvals=vals, eigvecs=vecs)
    assert out.dtype == np.float32
    shift = (out - x).reshape(4, -1, 3)
    np.testing.assert_allclose(shift, shift[:, :1].repeat(64, 1), atol=1e-6)   # constant per image
    assert not np.allclose(shift[0, 0], shift[1, 0])                            # drawn per image
    alpha = np.random.default_rng(5).normal(0, 0.5, size=(4, 3))
    np.testing.assert_allclose(shift[:, 0], (alpha * vals) @ vecs.T, atol=1e-6)
    np.testing.assert_array_equal(out, A.fancy_pca(x, 5, std=0.5, eigvals=vals, eigvecs=vecs))


def test_ten_crop_and_prediction_averaging():
    img = np.random.default_rng(3).random((2, 10, 12, 3))
    crops = A.ten_crop(img, 6)
    assert crops.shape == (10, 2, 6, 6, 3)
    np.testing.assert_array_equal(crops[0], img[:, :6, :6])
    np.testing.assert_array_equal(crops[3], img[:, 4:, 6:])
    np.testing.assert_array_equal(crops[4], img[:, 2:8, 3:9])
    for i in range(5):
        np.testing.assert_array_equal(crops[5 + i], crops[i][:, :, ::-1])
    assert A.ten_crop(img[0], 6).shape == (10, 6, 6, 3)
    logits = [np.array([[2.0, 0.0]]), np.array([[0.0, 0.0]])]
    p = A.average_predictions(logits, from_logits=True)
    np.testing.assert_allclose(p, [[(np.exp(2) / (1 + np.exp(2)) + 0.5) / 2,
                                    (1 / (1 + np.exp(2)) + 0.5) / 2]])
    np.testing.assert_allclose(A.average_predictions(logits, weights=[3, 1]), [[1.5, 0.0]])
    mean_model = lambda x: x.mean(axis=(1, 2))            # (N, h, w, C) -> (N, C)
    out = A.predict_with_crops(mean_model, img, 6, crops="ten", from_logits=False)
    np.testing.assert_allclose(out, crops.mean(axis=(0, 2, 3)))
    with pytest.raises(ValueError, match="crops"):
        A.predict_with_crops(mean_model, img, 6, crops="seven")


def test_input_errors():
    with pytest.raises(TypeError, match="floating-point"):
        A.hflip(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="boxes"):
        A.hflip(np.zeros((4, 4, 3)), boxes=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="mask"):
        A.hflip(np.zeros((4, 4, 3)), mask=np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="image"):
        A.rotate(np.zeros(4), 10)


# ----------------------------------------------------------------------------- the sampler

def _reference_pixel(img, row, col, mode, fill):
    """img[row, col] (C,) with an out-of-image index resolved by ``mode``, one pixel at a time."""
    h, w = img.shape[:2]
    if mode == "constant" and not (0 <= row < h and 0 <= col < w):
        return np.full(img.shape[2], fill)
    if mode == "edge":
        row, col = min(max(row, 0), h - 1), min(max(col, 0), w - 1)
    if mode == "reflect":                                   # ... c b a | a b c ... | ... c b a
        while not 0 <= row < h:
            row = -1 - row if row < 0 else 2 * h - 1 - row
        while not 0 <= col < w:
            col = -1 - col if col < 0 else 2 * w - 1 - col
    return img[row, col]


def _reference_bilinear(x, u, v, mode, fill):
    """The docstring formula of sample_bilinear, one output pixel at a time, in float64."""
    n = x.shape[0]
    u = np.broadcast_to(u, (n,) + u.shape[-2:])
    v = np.broadcast_to(v, (n,) + v.shape[-2:])
    out = np.zeros(u.shape + (x.shape[3],))
    for i, r, s in np.ndindex(*u.shape):
        u0, v0 = int(np.floor(u[i, r, s])), int(np.floor(v[i, r, s]))
        a, b = u[i, r, s] - u0, v[i, r, s] - v0
        img = x[i].astype(np.float64)
        out[i, r, s] = ((1 - a) * (1 - b) * _reference_pixel(img, v0, u0, mode, fill)
                        + a * (1 - b) * _reference_pixel(img, v0, u0 + 1, mode, fill)
                        + (1 - a) * b * _reference_pixel(img, v0 + 1, u0, mode, fill)
                        + a * b * _reference_pixel(img, v0 + 1, u0 + 1, mode, fill))
    return out


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("per_image", [True, False])
def test_sample_bilinear_matches_a_loop_reference(mode, dtype, per_image):
    rng = np.random.default_rng(0)
    x = rng.random((3, 5, 6, 2)).astype(dtype)
    shape = (3, 4, 7) if per_image else (4, 7)
    u = rng.uniform(-14.0, 20.0, shape)                     # far outside: reflect wraps twice
    v = rng.uniform(-12.0, 17.0, shape)
    u.flat[:5] = [0.0, 5.0, -1.0, 6.0, 2.5]                  # on pixels, borders, just outside
    v.flat[:5] = [0.0, 4.0, 2.0, -0.5, 5.0]
    out = sample_bilinear(x, u, v, mode=mode, fill=0.25)
    assert out.dtype == dtype and out.shape == (3, 4, 7, 2)
    np.testing.assert_allclose(out, _reference_bilinear(x, u, v, mode, 0.25),
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    # exactly on a pixel centre the sample is that pixel, bit for bit
    np.testing.assert_array_equal(out[0, 0, 0], x[0, 0, 0])
    np.testing.assert_array_equal(out[0, 0, 1], x[0, 4, 5])


def test_sample_bilinear_float32_maps_and_int_maps():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4, 1)
    u32 = np.array([[0.5, 2.25]], np.float32)
    v32 = np.array([[1.0, 0.5]], np.float32)
    out = sample_bilinear(x, u32, v32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, :, 0], [4.5, 4.25])         # 4v + u on a ramp
    ints = sample_bilinear(x, np.array([[3, 4]]), np.array([[2, 2]]), mode="constant", fill=-1.0)
    np.testing.assert_array_equal(ints[0, 0, :, 0], [11.0, -1.0])


@pytest.mark.parametrize("pad", [1, 3])
def test_padded_random_crop_moves_boxes_and_masks_with_the_pixels(pad):
    """With padding the labels shift by +pad before the crop: the box still frames its object."""
    img = np.zeros((12, 16, 1))
    img[3:7, 5:11] = 1.0                                   # an object at x 5..11, y 3..7
    mask = (img[..., 0] > 0).astype(np.int64)
    box = np.array([[5.0, 3.0, 11.0, 7.0]])
    for seed in range(6):
        out = A.random_crop(img, (12, 16), seed, boxes=box, mask=mask, padding=pad)
        ys, xs = np.nonzero(out.image[..., 0])
        if len(xs) == 0 or xs.min() == 0 or ys.min() == 0 or xs.max() == 15 or ys.max() == 11:
            continue                                       # the crop cut the object: not a framing test
        np.testing.assert_array_equal(out.boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_array_equal(out.mask, out.image[..., 0] > 0)


def test_vertical_flip_moves_an_asymmetric_mask_with_the_image():
    img = np.zeros((5, 6, 1))
    img[0, 1] = img[1, 4] = 1.0                            # asymmetric in both directions
    mask = (img[..., 0] > 0).astype(np.int64)
    for flip in (A.vflip, A.hflip):
        out = flip(img, mask=mask)
        np.testing.assert_array_equal(out.mask, out.image[..., 0] > 0)
        assert not np.array_equal(out.mask, mask)


def test_enlarging_a_mask_keeps_each_pixel_centred():
    """Nearest-neighbour with the half-pixel offset: each source pixel becomes a 3x3 block."""
    mask = np.arange(9, dtype=np.int64).reshape(3, 3)
    out = A.resize(np.zeros((3, 3, 1)), 9, mask=mask)
    np.testing.assert_array_equal(out.mask, np.kron(mask, np.ones((3, 3), dtype=np.int64)))


def test_silently_wrong_inputs_are_refused():
    img = np.zeros((8, 10, 3))
    with pytest.raises(ValueError, match=r"boxes: box \(0,\) = \[6\.0, 1\.0, 2\.0, 5\.0\] is inverted"):
        A.hflip(img, boxes=np.array([[6.0, 1.0, 2.0, 5.0]]))
    with pytest.raises(ValueError, match="boxes: expected finite coordinates"):
        A.vflip(img, boxes=np.array([[1.0, 1.0, np.nan, 5.0]]))
    pts = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    with pytest.raises(ValueError, match=r"flip_order: expected a permutation of 0\.\.2.*\[0, 0, 2\]"):
        A.hflip(img, landmarks=pts, flip_order=[0, 0, 2])
    np.testing.assert_array_equal(A.hflip(img, landmarks=pts, flip_order=[2, 1, 0]).landmarks[:, 0], [7, 8, 9])
    with pytest.raises(ValueError, match="matrix: expected finite entries"):
        A.rotate(img, float("nan"))
    with pytest.raises(ValueError, match="displacement: expected finite values"):
        A.elastic_warp(img, np.full((2, 8, 10), np.nan))
    from npvision.data.photometric import normalize

    with pytest.raises(ValueError, match="mean: expected finite values"):
        normalize(img, [0.5, np.nan, 0.5], 0.2)
    with pytest.raises(ValueError, match="std: expected finite values"):
        normalize(img, 0.5, np.inf)
