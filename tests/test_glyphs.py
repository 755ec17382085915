"""Synthetic pen-stroke glyphs (npvision.data.glyphs): the extra classes of the face-digits task."""

import numpy as np
import pytest

from npvision.data import load_digits, make_glyphs, render_glyphs


def test_shapes_range_determinism():
    g = make_glyphs(20, seed=0)
    assert g.shape == (20, 3, 3, 2)
    used = ~np.isnan(g[:, :, 0, 0])                              # (20, 3) strokes in use
    assert used[:, 0].all() and set(used.sum(1)) <= {1, 2, 3} and len(set(used.sum(1))) > 1
    assert np.nanmin(g[..., 0]) >= 0.1 - 1e-12 and np.nanmax(g[..., 0]) <= 0.9 + 1e-12
    np.testing.assert_array_equal(g, make_glyphs(20, seed=0))
    x = render_glyphs(g, [0, 0, 5], seed=1)
    assert x.shape == (3, 16, 16, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(x, render_glyphs(g, [0, 0, 5], seed=1))
    assert not np.array_equal(x[0], x[1])                        # a new hand for every image


def test_like_the_uci_digits():
    g = make_glyphs(50, seed=2)
    x8 = render_glyphs(g, np.arange(50), seed=3, size=8)[..., 0]  # the 8x8 block counts
    np.testing.assert_allclose(x8 * 16, np.round(x8 * 16), atol=1e-5)   # 17 levels, as the digits
    rows = np.flatnonzero((x8 > 0).any(axis=(0, 2)))
    assert rows.min() <= 1 and rows.max() >= 6                  # tall, like a digit
    digits, _ = load_digits()
    assert 0.5 * digits.mean() < x8.mean() < 2.0 * digits.mean()   # about as much ink (digits 0.30)


def test_images_of_one_glyph_are_closer_than_images_of_two():
    g = make_glyphs(30, seed=4)
    ids = np.repeat(np.arange(30), 2)
    x = render_glyphs(g, ids, seed=5).reshape(60, -1)
    same = np.linalg.norm(x[0::2] - x[1::2], axis=1)             # (30,) pairs of one glyph
    diff = np.linalg.norm(x[0::2] - np.roll(x[1::2], 1, axis=0), axis=1)
    assert np.median(same) < 0.7 * np.median(diff)


def test_errors():
    g = make_glyphs(3, seed=0)
    with pytest.raises(ValueError, match="ids"):
        render_glyphs(g, [0, 3])
    with pytest.raises(ValueError, match="glyphs"):
        render_glyphs(np.zeros((3, 2, 3, 2)), [0])
    with pytest.raises(ValueError, match="size"):
        render_glyphs(g, [0], size=4)
    with pytest.raises(ValueError, match="n"):
        make_glyphs(0)
