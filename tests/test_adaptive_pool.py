"""Adaptive average pooling (torchvision VGG's AdaptiveAvgPool2d) and VGG's adaptive_pool option."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npvision.functional as F
from npvision import models, nn
from npvision.gradcheck import check_functional, check_module


def adaptive_avg_pool_by_definition(x, out_h, out_w):
    """PyTorch's definition, one output element at a time."""
    n, h, w, c = x.shape
    out = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        r0, r1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
        for j in range(out_w):
            c0, c1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            for b in range(n):
                for k in range(c):
                    out[b, i, j, k] = x[b, r0:r1, c0:c1, k].sum() / ((r1 - r0) * (c1 - c0))
    return out


@pytest.mark.parametrize("in_hw, out_hw", [((3, 2), (7, 7)), ((14, 14), (7, 7)), ((5, 9), (2, 4)),
                                           ((7, 7), (7, 7)), ((6, 5), (1, 1))])
def test_forward_matches_definition(in_hw, out_hw):
    x = np.random.default_rng(0).standard_normal((2, *in_hw, 3))
    out, _ = F.adaptive_avg_pool2d_forward(x, out_hw)
    np.testing.assert_allclose(out, adaptive_avg_pool_by_definition(x, *out_hw), rtol=1e-12, atol=1e-12)


def test_divisible_sizes_are_an_average_pool_and_equal_sizes_the_identity():
    x = np.random.default_rng(1).standard_normal((2, 14, 21, 4))
    out, _ = F.adaptive_avg_pool2d_forward(x, (7, 7))
    np.testing.assert_allclose(out, F.avg_pool2d_forward(x, (2, 3))[0], rtol=1e-12)
    same, _ = F.adaptive_avg_pool2d_forward(x, (14, 21))
    np.testing.assert_array_equal(same, x)


@settings(max_examples=60, deadline=None)
@given(n_in=st.integers(1, 40), n_out=st.integers(1, 40))
def test_bins_cover_the_input_in_order(n_in, n_out):
    bins = F.adaptive_bins(n_in, n_out)
    assert len(bins) == n_out
    assert bins[0][0] == 0 and bins[-1][1] == n_in
    for (a0, a1), (b0, b1) in zip(bins, bins[1:]):
        assert a0 <= b0 and a1 <= b1 and b0 <= a1      # monotone, no gap between neighbours
    assert all(1 <= e - s <= -(-n_in // n_out) + 1 for s, e in bins)


@pytest.mark.parametrize("in_hw, out_hw", [((3, 2), (7, 5)), ((7, 5), (3, 2)), ((4, 4), (2, 2))])
def test_gradient(in_hw, out_hw):
    x = np.random.default_rng(2).standard_normal((2, *in_hw, 3))
    check_functional(F.adaptive_avg_pool2d_forward, F.adaptive_avg_pool2d_backward, [x, out_hw])


def test_layer_keeps_dtype_and_checks_its_arguments():
    layer = nn.AdaptiveAvgPool2D(7)
    assert layer.forward(np.zeros((1, 3, 2, 5), np.float32)).shape == (1, 7, 7, 5)
    assert layer.forward(np.zeros((1, 3, 2, 5), np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="output_size"):
        nn.AdaptiveAvgPool2D(0)
    with pytest.raises(ValueError, match="dout"):
        F.adaptive_avg_pool2d_backward(np.zeros((1, 6, 7, 5)), layer.cache)


def test_vgg_adaptive_pool_is_a_no_op_at_224_and_fixes_the_classifier_width_elsewhere():
    config = [8, "M", 8, "M", 8, "M", 8, "M", 8, "M"]          # a narrow VGG: five halvings, like VGG's
    plain = models.VGG(config, 5, (224, 224, 3), hidden=4, rng=0).eval()
    pooled = models.VGG(config, 5, (224, 224, 3), hidden=4, adaptive_pool=(7, 7), rng=1).eval()
    pooled.load_state_dict(plain.state_dict())
    x = np.random.default_rng(3).standard_normal((1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_array_equal(pooled.forward(x), plain.forward(x))
    small = models.VGG(config, 5, (96, 64, 3), hidden=4, adaptive_pool=(7, 7), rng=0)
    assert small.flat_shape == (7, 7, 8) and small.classifier[0].in_features == 7 * 7 * 8
    assert models.VGG(config, 5, (96, 64, 3), hidden=4, rng=0).flat_shape == (3, 2, 8)


def test_vgg_with_adaptive_pool_gradient():
    net = models.VGG([3, "M"], 4, (5, 4, 2), hidden=3, dropout=0.0, adaptive_pool=(3, 3), rng=0).eval()
    net.features[0].input_grad = True                           # check d image too
    x = np.random.default_rng(4).standard_normal((2, 5, 4, 2))
    check_module(net, x)


def test_alexnet_adaptive_pool_fixes_the_classifier_width():
    net = models.create("alexnet", num_classes=3, input_shape=(127, 99, 3), hidden=8, adaptive_pool=(6, 6))
    assert net.flat_shape == (6, 6, 256) and net.classifier[1].in_features == 9216
    assert net.forward(np.zeros((1, 127, 99, 3), np.float32)).shape == (1, 3)
    assert models.create("alexnet", num_classes=3, input_shape=(127, 99, 3), hidden=8).flat_shape == (3, 2, 256)
