"""Pictures of instance masks: each object its own colour, class and score captions."""

import numpy as np
import pytest

from npvision.data import make_scenes
from npvision.viz.instances import (
    overlay_instances,
    plot_instances,
    plot_semantic_vs_instance,
)


def test_overlay_colours_each_instance_and_its_outline():
    img = np.zeros((6, 6, 3))
    m = np.zeros((2, 6, 6), bool)
    m[0, 1:5, 1:5] = True
    m[1, 0, 0] = True
    out = overlay_instances(img, m, alpha=0.5, colours=[[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(out[2, 2], [0.5, 0, 0])          # inside: blended
    np.testing.assert_allclose(out[1, 1], [1, 0, 0])            # outline: solid
    np.testing.assert_allclose(out[0, 0], [0, 0, 1])            # the other instance
    np.testing.assert_allclose(out[5, 5], [0, 0, 0])            # background untouched
    with pytest.raises(ValueError, match=r"masks: expected masks of the image's size \(6, 6\)"):
        overlay_instances(img, m[:, :5])


def test_plots_write_files(tmp_path):
    s = make_scenes(3, size=32, min_objects=2, max_objects=3, seed=1)
    t = s.instance_targets()
    preds = [dict(g, scores=np.full(len(g["classes"]), 0.9)) for g in t]
    fig = plot_instances(s.images, preds, t, s.class_names, path=tmp_path / "i.png", ncols=3)
    texts = [x.get_text() for ax in fig.axes for x in ax.texts]
    assert sum(x.endswith("0.90") for x in texts) == sum(len(g["classes"]) for g in t)
    plot_semantic_vs_instance(s.images[0], s.masks[0], s.instance_masks(0), s.class_names,
                              path=tmp_path / "s.png")
    assert (tmp_path / "i.png").exists() and (tmp_path / "s.png").exists()
