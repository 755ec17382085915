"""npvision.style's loop: texture synthesis and style transfer in tiny settings (seconds),
the course's Adam details, colour preservation, coarse to fine, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import npvision.style as S
from npvision.data import load_image


def tiny_net(channels=3, **kw):
    return S.RandomMultiScale(channels, kernel_sizes=(3, 5, 11), filters=8, seed=0, **kw)


@pytest.fixture(scope="module")
def gravel():
    return S.transfer._long_side(load_image("gravel")[:, :, None], 24)       # (24, 24, 1)


@pytest.fixture(scope="module")
def photos():
    content = S.transfer._long_side(load_image("chelsea"), 24)              # (16, 24, 3)
    style = S.transfer._long_side(load_image("coffee"), 24)
    return content, style


def test_texture_synthesis_lowers_the_style_cost_tenfold(gravel):
    r = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=30, progress=False)
    assert r.image.shape == gravel.shape and r.image.dtype == np.float32
    assert 0.0 <= r.image.min() and r.image.max() <= 1.0
    assert r.costs["style"][0] / r.costs["style"][-1] >= 10
    assert r.costs["content"] == [0.0] * len(r.costs["content"])
    # the snapshots go from the start to the end, the last one the result
    steps = [s for s, _ in r.snapshots]
    assert steps[0] == 0 and steps[-1] == 30 and steps == sorted(steps)
    np.testing.assert_array_equal(r.snapshots[-1][1], r.image)


def test_texture_is_reproducible_and_seeded(gravel):
    a = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=5, seed=3, progress=False)
    b = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=5, seed=3, progress=False)
    c = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=5, seed=4, progress=False)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_style_transfer_keeps_the_content_and_takes_the_style(photos):
    content, style = photos
    r = S.style_transfer(content, style, extractor=tiny_net(), steps=40, progress=False)
    assert r.image.shape == content.shape
    assert r.costs["style"][-1] < 0.2 * r.costs["style"][0]
    assert r.costs["total"][-1] < r.costs["total"][0]
    # closer to the content than the style image is
    assert np.mean((r.image - content) ** 2) < np.mean((S.transfer._resized(style, content.shape[:2]) - content) ** 2)


def test_adam_as_the_course(photos):
    """Start: content + U(-0.25, 0.25) clipped; Adam's first step moves each pixel by about lr;
    every step is clipped to [0, 1]."""
    content, style = photos
    r1 = S.style_transfer(content, style, extractor=tiny_net(), optimizer="adam", steps=1, lr=0.01,
                          n_snapshots=1, progress=False)
    start, after = r1.snapshots[0][1], r1.image
    noise = start - content
    assert np.abs(noise).max() <= 0.25 + 1e-6 and np.abs(noise).max() > 0.2
    moved = np.abs(after - start)
    inside = (after > 0) & (after < 1)
    assert np.allclose(moved[inside], 0.01, atol=1e-3)       # |v / sqrt(s)| = 1 on the first step
    net, seen = tiny_net(), []
    forward = net.forward
    net.forward = lambda image, layers: seen.append((image.min(), image.max())) or forward(image, layers)
    r = S.style_transfer(content, style, extractor=net, optimizer="adam", steps=20, lr=0.02,
                         progress=False)
    assert len(seen) == 2 + 21                                # the two targets, then one per step
    assert all(0.0 <= lo and hi <= 1.0 for lo, hi in seen[2:])    # every image J saw was clipped
    assert r.costs["total"][-1] < r.costs["total"][0]
    assert len(r.costs["total"]) == 21                        # one value per step, and the result's


def test_lbfgs_beats_adam_for_the_same_evaluations(gravel):
    lb = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=25, progress=False)
    ad = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=len(lb.costs["style"]),
                             optimizer="adam", progress=False)
    assert lb.costs["style"][-1] < ad.costs["style"][-1]


def test_preserve_colour_keeps_the_contents_colours(photos):
    content, style = photos
    r = S.style_transfer(content, style, extractor=tiny_net(1), steps=10, preserve_colour=True,
                         progress=False)
    assert r.image.shape == content.shape
    yiq_r, yiq_c = S.rgb_to_yiq(r.image), S.rgb_to_yiq(content)
    inside = np.all((r.image > 0.001) & (r.image < 0.999), axis=2)      # not changed by the clip
    np.testing.assert_allclose(yiq_r[inside][:, 1:], yiq_c[inside][:, 1:], atol=1e-5)
    assert not np.allclose(yiq_r[..., 0], yiq_c[..., 0], atol=1e-2)      # the luminance changed
    np.testing.assert_allclose(S.yiq_to_rgb(S.rgb_to_yiq(content)), content, atol=1e-6)


def test_coarse_to_fine_and_a_vgg19_grey_texture(gravel):
    r = S.texture_synthesis(gravel, extractor=tiny_net(1), steps=4, levels=2, progress=False)
    assert r.image.shape == gravel.shape
    assert r.steps_at == sorted(r.steps_at) and r.steps_at[-1] == 8
    assert len(r.costs["style"]) == 2 * (4 + 1)                # each level: its start and 4 steps
    # a 3-channel network fed a grey image: the channel is repeated, the gradients summed back
    v = S.texture_synthesis(gravel, network="vgg19", style_layers=["block1_conv1", "block2_conv1"],
                            steps=2, progress=False)
    assert v.image.shape == gravel.shape and v.costs["style"][-1] < v.costs["style"][0]


def test_layer_choice_and_weights(photos):
    content, style = photos
    r = S.style_transfer(content, style, extractor=tiny_net(), steps=2, progress=False,
                         content_layers=["conv3x3"], style_layers=[("conv5x5", 2.0), ("conv11x11", 0.5)])
    assert r.settings["content_layers"] == [("conv3x3", 1.0)]
    assert r.settings["style_layers"] == [("conv5x5", 2.0), ("conv11x11", 0.5)]
    c, s = S.default_layers(S.vgg19_features())
    assert c == [("block5_conv4", 1.0)] and s == S.COURSE_STYLE_LAYERS


def test_bad_inputs_get_clear_errors(photos, gravel):
    content, style = photos
    net = tiny_net()
    with pytest.raises(ValueError, match="content, style: have 3 and 1 channels"):
        S.style_transfer(content, gravel, extractor=net, steps=1, progress=False)
    with pytest.raises(TypeError, match="content: expected an image of floats in \\[0, 1\\], received dtype uint8"):
        S.style_transfer((content * 255).astype(np.uint8), style, extractor=net, steps=1, progress=False)
    with pytest.raises(ValueError, match="style: expected values in \\[0, 1\\], received values from 1.64.* to 235.6"):
        S.style_transfer(content, style * 255, extractor=net, steps=1, progress=False)
    with pytest.raises(ValueError, match="content: contains NaN"):
        S.style_transfer(np.full_like(content, np.nan), style, extractor=net, steps=1, progress=False)
    with pytest.raises(ValueError, match="steps: expected an integer >= 1, received 0"):
        S.style_transfer(content, style, extractor=net, steps=0, progress=False)
    with pytest.raises(ValueError, match="size: expected an integer >= 1, received -3"):
        S.texture_synthesis(style, extractor=net, size=-3, progress=False)
    with pytest.raises(ValueError, match="no layer 'block5_conv4'"):
        S.style_transfer(content, style, extractor=net, content_layers=["block5_conv4"], steps=1,
                         progress=False)
    with pytest.raises(ValueError, match="optimizer: expected 'adam' or 'lbfgs'"):
        S.texture_synthesis(style, extractor=net, optimizer="sgd", progress=False)
    with pytest.raises(ValueError, match="network: expected 'random' or 'vgg19'"):
        S.texture_synthesis(style, network="resnet", progress=False)
    with pytest.raises(ValueError, match="weights: the random network has no weights file"):
        S.texture_synthesis(style, weights="x.npz", progress=False)
    with pytest.raises(ValueError, match="style: expected one image, received a batch of 2"):
        S.texture_synthesis(np.stack([style, style]), extractor=net, progress=False)
    with pytest.raises(ValueError, match="extractor: takes 3-channel images but the images have 2"):
        S.texture_synthesis(np.repeat(gravel, 2, axis=2), extractor=net, progress=False)
