"""Tests of the built-in data (digits, images, licences) and the loaders."""

import os

import numpy as np
import pytest

import npvision.data as D


# ----------------------------------------------------------------------------- digits

def test_digits_load_whole_set():
    x, y = D.load_digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.sum() == 1797
    assert counts.min() >= 174 and counts.max() <= 183
    # the values are the original 0..16 counts over 16
    np.testing.assert_allclose(np.unique(x * 16), np.arange(17))
    # a zero looks like a ring: dark centre column, bright sides
    zero = x[y == 0].mean(axis=0)[..., 0]
    assert zero[3:5, 1:3].mean() > 2 * zero[3:5, 3:5].mean()


def test_digits_split_sizes_determinism_and_no_overlap():
    xtr, ytr = D.load_digits("train")
    xte, yte = D.load_digits("test")
    assert len(xtr) + len(xte) == 1797
    assert abs(len(xte) - 0.2 * 1797) <= 10
    # stratified: each class keeps its share
    frac = np.bincount(yte) / (np.bincount(ytr) + np.bincount(yte))
    assert np.all(np.abs(frac - 0.2) < 0.01)
    xtr2, ytr2 = D.load_digits("train")
    np.testing.assert_array_equal(xtr, xtr2)
    np.testing.assert_array_equal(ytr, ytr2)
    tr_idx, te_idx = D.stratified_split(D.load_digits()[1])
    assert len(np.intersect1d(tr_idx, te_idx)) == 0
    assert len(np.union1d(tr_idx, te_idx)) == 1797
    x, y = D.load_digits()
    np.testing.assert_array_equal(x[te_idx], xte)
    np.testing.assert_array_equal(y[tr_idx], ytr)
    other = D.stratified_split(y, seed=1)[1]
    assert not np.array_equal(other, te_idx)
    assert len(D.load_digits("test", test_fraction=0.5)[1]) > 850


def test_digits_upsampled_for_lenet():
    x8, y8 = D.load_digits()
    x32, y32 = D.load_digits(size=32)
    assert x32.shape == (1797, 32, 32, 1) and x32.dtype == np.float32
    np.testing.assert_array_equal(y8, y32)
    assert 0.0 <= x32.min() and x32.max() <= 1.0
    # block means of the (smoothing) bilinear enlargement follow the original pixels
    blocks = x32[..., 0].reshape(1797, 8, 4, 8, 4).mean(axis=(2, 4))
    assert np.corrcoef(blocks.ravel(), x8.ravel())[0, 1] > 0.95
    assert np.abs(blocks.mean(axis=(1, 2)) - x8.mean(axis=(1, 2, 3))).max() < 0.02
    xn, _ = D.load_digits(size=16, interpolation="nearest")
    np.testing.assert_array_equal(xn[:, ::2, ::2], x8)


@pytest.mark.parametrize("kwargs", [dict(split="val"), dict(test_fraction=1.5, split="train"),
                                    dict(size=4), dict(size=20, interpolation="nearest"),
                                    dict(interpolation="cubic")])
def test_digits_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        D.load_digits(**kwargs)


# ----------------------------------------------------------------------------- images

def test_shipped_images_and_licences():
    names = D.list_images()
    assert {"astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel"} <= set(names)
    total = 0
    for name in names:
        img = D.load_image(name)
        assert img.dtype == np.float32 and img.ndim in (2, 3)
        assert max(img.shape[:2]) == 256
        if img.ndim == 3:
            assert img.shape[2] == 3
        assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.05
        info = D.image_info(name)
        total += os.path.getsize(info["path"])
        assert info["license"] in ("CC0", "public domain")
    assert D.load_image("astronaut").ndim == 3 and D.load_image("brick").ndim == 2
    licences = open(os.path.join(D.ASSETS_DIR, "LICENSES.md")).read()
    assert "CC BY 4.0" in licences and "Alpaydin" in licences
    for name in names:
        assert f"`{name}.png`" in licences
    total += os.path.getsize(os.path.join(D.ASSETS_DIR, "digits.npz"))
    assert total < 1_000_000
    with pytest.raises(ValueError, match="available"):
        D.load_image("lena")


# ----------------------------------------------------------------------------- loaders

def _write(path, arr):
    import matplotlib.image as mpimg
    mpimg.imsave(path, arr)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, n in (("cats", 3), ("dogs", 2)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            _write(tmp_path / cls / f"{i}.png", rng.random((6, 5, 3)))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    return tmp_path


def test_load_image_folder(folder):
    x, y, names = D.load_image_folder(folder)
    assert names == ["cats", "dogs"]
    assert x.shape == (5, 6, 5, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1])
    assert 0.0 <= x.min() and x.max() <= 1.0
    # PNG stores 8 bits: what was written comes back to within 1/255
    first = np.random.default_rng(0).random((6, 5, 3))
    np.testing.assert_allclose(x[0], first, atol=1 / 255 + 1e-6)
    x2, _, _ = D.load_image_folder(folder, size=(12, 10), channels=1)
    assert x2.shape == (5, 12, 10, 1)


def test_load_image_folder_jpeg_and_sizes(tmp_path):
    (tmp_path / "a").mkdir()
    _write(tmp_path / "a" / "x.jpg", np.full((8, 8, 3), 0.5))
    _write(tmp_path / "a" / "y.PNG", np.full((4, 4, 3), 0.5))
    with pytest.raises(ValueError, match=r"y\.PNG"):
        D.load_image_folder(tmp_path)
    x, y, _ = D.load_image_folder(tmp_path, size=4)
    assert x.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(x, 0.5, atol=0.02)


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        D.load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        D.load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        D.load_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match="broken.png"):
        D.load_image_folder(tmp_path)


def test_load_npz(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, size=(4, 5, 5, 3), dtype=np.uint8)
    labels = np.array([0, 1, 1, 2])
    np.savez(tmp_path / "d.npz", x=imgs, y=labels)
    x, y = D.load_npz(tmp_path / "d.npz", images_key="x", labels_key="y")
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, imgs / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    x, y = D.load_npz(tmp_path / "d.npz", images_key="x", labels_key=None)
    assert y is None
    with pytest.raises(KeyError, match="'x', 'y'"):
        D.load_npz(tmp_path / "d.npz")
    np.savez(tmp_path / "bad.npz", images=imgs, labels=labels[:3])
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        D.load_npz(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="no such file"):
        D.load_npz(tmp_path / "none.npz")


def test_load_yolo_labels(tmp_path):
    f = tmp_path / "img.txt"
    f.write_text("0 0.5 0.5 0.5 0.25\n\n2 0.25 0.75 0.1 0.2\n")
    boxes, classes = D.load_yolo_labels(f, (40, 80))
    np.testing.assert_allclose(boxes, [[20, 15, 60, 25], [16, 26, 24, 34]])
    np.testing.assert_array_equal(classes, [0, 2])
    (tmp_path / "empty.txt").write_text("")
    assert D.load_yolo_labels(tmp_path / "empty.txt", 32)[0].shape == (0, 4)
    (tmp_path / "bad.txt").write_text("1 0.5 0.5 0.1\n")
    with pytest.raises(ValueError, match="line 1"):
        D.load_yolo_labels(tmp_path / "bad.txt", 32)


@pytest.mark.parametrize("text, lineno, why", [
    ("0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n", 2, "expected 5 columns, found 4"),
    ("0 0.5 0.5 0.2 0.2 0.9\n", 1, "expected 5 columns, found 6"),
    ("\n\nx 0.5 0.5 0.2 0.2\n", 3, "class 'x' is not an integer"),
    ("1.5 0.5 0.5 0.2 0.2\n", 1, "class '1.5' is not an integer"),
    ("-1 0.5 0.5 0.2 0.2\n", 1, "class -1 is out of range"),
    ("0 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n", 2, r"class 3 is out of range \(expected 0 .. 2\)"),
    ("0 1.5 0.5 0.2 0.2\n", 1, r"cx = 1.5 is outside \[0, 1\]"),
    ("0 0.5 nan 0.2 0.2\n", 1, r"cy = nan is outside \[0, 1\]"),
    ("0 0.5 0.5 -0.2 0.2\n", 1, r"w = -0.2 is outside"),
    ("0 0.5 0.5 0.2 0\n", 1, "the box has zero width or height"),
    ("0 0.5 0.5 0.2 abc\n", 1, "a coordinate is not a number"),
    ("0 0.95 0.5 0.2 0.2\n", 1, r"the box \(0.85, 0.4, 1.05, 0.6\) reaches outside the image"),
])
def test_load_yolo_labels_names_the_file_and_line_of_a_bad_label(tmp_path, text, lineno, why):
    f = tmp_path / "scene_07.txt"
    f.write_text(text)
    with pytest.raises(ValueError, match=rf"scene_07.txt' line {lineno}: {why}"):
        D.load_yolo_labels(f, 32, num_classes=3)


def test_load_yolo_labels_clips_a_box_that_pokes_out_by_rounding(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("1 0.1 0.5 0.2040 0.5\n")                    # left edge at -0.002
    boxes, classes = D.load_yolo_labels(f, (10, 100), num_classes=2)
    np.testing.assert_allclose(boxes, [[0.0, 2.5, 20.2, 7.5]], rtol=1e-6)
    with pytest.raises(ValueError, match="reaches outside"):
        D.load_yolo_labels(f, (10, 100), edge_tolerance=0.001)
    with pytest.raises(ValueError, match="num_classes"):
        D.load_yolo_labels(f, 10, num_classes=0)


def test_load_npz_and_yolo_labels_refuse_what_they_would_misread(tmp_path):
    from npvision.data.loaders import load_npz, load_yolo_labels

    flat = tmp_path / "flat.npz"
    np.savez(flat, images=np.zeros(12, dtype=np.float32), labels=np.zeros(12, dtype=np.int64))
    with pytest.raises(ValueError, match=r"images: .* has shape \(12,\); expected a stack of images"):
        load_npz(flat)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="is not a NumPy .npz archive"):
        load_npz(junk)
    png = tmp_path / "picture.npz"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(ValueError, match="is not a NumPy .npz archive"):
        load_npz(png)

    binary = tmp_path / "labels.txt"
    binary.write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(ValueError, match=r"labels\.txt'?: is not a YOLO label text file"):
        load_yolo_labels(binary, 64)
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeff0 0.5 0.5 0.25 0.5\n".encode("utf-8"))
    boxes, classes = load_yolo_labels(bom, 64)
    np.testing.assert_allclose(boxes, [[24, 16, 40, 48]])
    np.testing.assert_array_equal(classes, [0])
