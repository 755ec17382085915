"""Synthetic pen-stroke glyphs (npvision.data.glyphs): the extra classes of the face-digits task."""

import numpy as np
import pytest

from npvision.data import load_digits, make_glyphs, render_glyphs
from npvision.data.glyphs import spline_points


def test_shapes_range_determinism():
    g = make_glyphs(200, seed=0)
    assert g.shape == (200, 3, 5, 2)
    used = ~np.isnan(g[..., 0])                                  # (200, 3, 5) points in use
    strokes = used.any(axis=2).sum(axis=1)                       # (200,)
    assert used[:, 0, :2].all() and set(strokes) == {1, 2, 3}
    points = used.sum(axis=2)[used.any(axis=2)]                  # points of every stroke in use
    assert set(points) == {2, 3, 4, 5}
    assert (used[..., :-1] | ~used[..., 1:]).all()               # padding only at the end of a stroke
    assert np.nanmin(g) >= 0 and np.nanmax(g) <= 1
    steps = np.hypot(*np.moveaxis(np.diff(g, axis=2), -1, 0))    # (200, 3, 4) consecutive distances
    assert np.nanmin(steps) >= 0.3                               # no scribbles
    joined = [np.isclose(g[i, s, 0], g[i, :s].reshape(-1, 2)).all(axis=1).any()
              for i in range(200) for s in (1, 2) if used[i, s, 0]]
    assert 0.3 < np.mean(joined) < 0.7                           # half the later strokes start on an earlier one
    np.testing.assert_array_equal(g, make_glyphs(200, seed=0))
    x = render_glyphs(g, [0, 0, 5], seed=1)
    assert x.shape == (3, 16, 16, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(x, render_glyphs(g, [0, 0, 5], seed=1))
    assert not np.array_equal(x[0], x[1])                        # a new hand for every image


def test_spline_passes_through_its_points_smoothly():
    p = np.array([[0.1, 0.2], [0.5, 0.9], [0.8, 0.3], [0.4, 0.1]])
    c = spline_points(p, samples=10)
    assert c.shape == (31, 2)
    np.testing.assert_allclose(c[::10], p, atol=1e-12)           # through every point
    # the tangent at an inner point is (P[i+1] - P[i-1]) / 2: central difference of the samples
    fine = spline_points(p, samples=1000)
    np.testing.assert_allclose((fine[1001] - fine[999]) / 2 * 1000, (p[2] - p[0]) / 2, atol=1e-3)
    line = spline_points(p[:2], samples=8)                       # two points: a straight line
    cross = (line[:, 0] - p[0, 0]) * (p[1, 1] - p[0, 1]) - (line[:, 1] - p[0, 1]) * (p[1, 0] - p[0, 0])
    np.testing.assert_allclose(cross, 0, atol=1e-12)


def test_like_the_uci_digits():
    g = make_glyphs(300, seed=2)
    x8 = render_glyphs(g, np.arange(300), seed=3, size=8)[..., 0]  # the 8x8 block counts
    np.testing.assert_allclose(x8 * 16, np.round(x8 * 16), atol=1e-5)   # 17 levels, as the digits
    rows = (x8 > 0.1).any(axis=2)                                # (300, 8) rows with ink
    cols = (x8 > 0.1).any(axis=1)                                # (300, 8) columns with ink
    height = 8 - rows.argmax(1) - rows[:, ::-1].argmax(1)
    width = 8 - cols.argmax(1) - cols[:, ::-1].argmax(1)
    assert np.mean(height == 8) > 0.9                            # every UCI digit spans all 8 rows
    top, bottom = x8[:, 0].max(axis=1), x8[:, 7].max(axis=1)     # (300,) and reaches them with a stroke,
    assert np.mean((top >= 0.25) & (bottom >= 0.25)) > 0.85      # 4 of 16 pixels of a block at least
    assert np.mean((width >= 5) & (width <= 7)) > 0.75           # and 5-7 of the 8 columns (97%)
    digits, _ = load_digits()
    assert 0.9 * digits.mean() < x8.mean() < 1.1 * digits.mean()   # as much ink (digits 0.305, glyphs 0.296)


def test_images_of_one_glyph_are_closer_than_images_of_two():
    g = make_glyphs(30, seed=4)
    ids = np.repeat(np.arange(30), 2)
    x = render_glyphs(g, ids, seed=5).reshape(60, -1)
    same = np.linalg.norm(x[0::2] - x[1::2], axis=1)             # (30,) pairs of one glyph
    diff = np.linalg.norm(x[0::2] - np.roll(x[1::2], 1, axis=0), axis=1)
    assert np.median(same) < 0.7 * np.median(diff)
    still = render_glyphs(g, ids, seed=5, jitter=0.0).reshape(60, -1)
    shaky = render_glyphs(g, ids, seed=5, jitter=0.1).reshape(60, -1)
    d_still = np.linalg.norm(still[0::2] - still[1::2], axis=1)  # only the pen width differs
    d_shaky = np.linalg.norm(shaky[0::2] - shaky[1::2], axis=1)
    assert np.median(d_still) < np.median(same) < np.median(d_shaky)


def test_errors():
    g = make_glyphs(3, seed=0)
    with pytest.raises(ValueError, match="ids"):
        render_glyphs(g, [0, 3])
    with pytest.raises(ValueError, match="glyphs"):
        render_glyphs(np.zeros((3, 3, 3, 2)), [0])
    with pytest.raises(ValueError, match="size"):
        render_glyphs(g, [0], size=4)
    with pytest.raises(ValueError, match="jitter"):
        render_glyphs(g, [0], jitter=-0.1)
    with pytest.raises(ValueError, match="n"):
        make_glyphs(0)


def test_families_are_siblings_with_one_change():
    g = make_glyphs(600, seed=6, family=3)                       # every sibling is one change from the first
    heads, sibs = np.repeat(g[0::3], 2, axis=0), np.delete(g, np.s_[0::3], axis=0)
    np.testing.assert_array_equal(make_glyphs(50, seed=6), make_glyphs(50, seed=6, family=1))
    kinds = set()
    for first, sib in zip(heads, sibs):
        used_a, used_b = ~np.isnan(first[:, 0, 0]), ~np.isnan(sib[:, 0, 0])
        same_stroke = [np.array_equal(first[s], sib[s], equal_nan=True) for s in range(3)]
        if used_a.sum() == used_b.sum():
            moved = ~np.isclose(np.nan_to_num(first, nan=-1), np.nan_to_num(sib, nan=-1)).all(axis=2)  # (3, 5)
            if moved.sum() == 1:                                 # one point moved, up to 0.6 box units
                s, i = np.argwhere(moved)[0]
                assert 0 < np.hypot(*(first[s, i] - sib[s, i])) <= 0.6 + 1e-9
                kinds.add("move")
            else:                                                # the last stroke redrawn, the others kept
                last = used_a.sum() - 1
                assert all(same_stroke[:last]) and not same_stroke[last] and last >= 1
                kinds.add("redraw")
        elif used_b.sum() == used_a.sum() + 1:                   # a stroke added after the others
            assert all(same_stroke[:used_a.sum()])
            kinds.add("add")
        else:                                                    # the last stroke removed
            assert used_b.sum() == used_a.sum() - 1 >= 1 and all(same_stroke[:used_b.sum()])
            kinds.add("remove")
    assert kinds == {"move", "redraw", "add", "remove"}
    x = render_glyphs(g, np.arange(60), seed=7, jitter=0.0).reshape(60, -1)
    sib = np.linalg.norm(x[0::3] - x[1::3], axis=1)              # (20,) sibling pairs
    other = np.linalg.norm(x[0::3] - np.roll(x[1::3], 1, axis=0), axis=1)
    assert 0 < np.median(sib) < np.median(other)                 # closer than strangers, yet different
    with pytest.raises(ValueError, match="family"):
        make_glyphs(4, family=0)
