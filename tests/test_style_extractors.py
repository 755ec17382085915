"""Feature extractors of npvision.style: image gradients through them (float64 gradient
checks), one backward for several layers, VGG-19's names and first-layer gradient, errors."""

from __future__ import annotations

import numpy as np
import pytest

from npvision import nn
from npvision.gradcheck import check_loss
from npvision.io import save_weights
from npvision.models.vgg import vgg16, vgg19
from npvision.style import IMAGENET_MEAN as S_MEAN
from npvision.style import IMAGENET_STD as S_STD
from npvision.style import VGG19_LAYERS, RandomMultiScale, vgg19_features
from npvision.style.transfer import _Objective


def _linear_probe(extractor, layers, seed=0):
    """L(x) = sum_l <r_l, a_l(x)> with fixed random r_l, and its gradient by extractor.backward."""
    rng = np.random.default_rng(seed)
    probes = {}

    def loss(x):
        acts = extractor.forward(x, layers)
        for name, a in acts.items():
            if name not in probes:
                probes[name] = rng.standard_normal(a.shape)
        L = sum(float(np.sum(probes[n] * a)) for n, a in acts.items())
        return L, extractor.backward({n: probes[n] for n in acts})

    return loss


def small_random(channels=3, dtype=np.float64):
    # 3x3 directly, 5x5 and 7x7 through the FFT: both kinds of convolution on the path
    return RandomMultiScale(channels, kernel_sizes=(3, 5, 7), filters=4, seed=1, fft_from=5, dtype=dtype)


def test_image_gradient_through_the_random_network():
    ext = small_random()
    assert isinstance(ext.branches["conv3x3"][0], nn.Conv2D)
    assert isinstance(ext.branches["conv7x7"][0], nn.FFTConv2D)
    x = np.random.default_rng(0).random((1, 9, 8, 3))
    check_loss(_linear_probe(ext, ["conv3x3", "conv5x5", "conv7x7"]), x)
    check_loss(_linear_probe(ext, ["conv5x5"]), x[0])            # (H, W, C) accepted
    # coarse copies (average-pooled) alone, and with their own branch in the same backward
    coarse = RandomMultiScale(3, kernel_sizes=(3, 5), filters=4, seed=1, pool=4, fft_from=5, dtype=np.float64)
    assert coarse.layer_names == ("conv3x3", "conv5x5", "conv3x3_avg4", "conv5x5_avg4")
    check_loss(_linear_probe(coarse, ["conv5x5_avg4"]), x)
    check_loss(_linear_probe(coarse, ["conv3x3", "conv3x3_avg4", "conv5x5_avg4"]), x)
    assert coarse.forward(x, ["conv3x3_avg4"])["conv3x3_avg4"].shape == (1, 3, 3, 4)   # 4x4 windows every 2 pixels


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_image_gradient_through_vgg19(pooling):
    ext = vgg19_features(pooling=pooling, seed=0, dtype=np.float64)
    first = ext.stages[0][1]
    assert isinstance(first, nn.Conv2D) and first.input_grad       # the first conv returns dx
    x = np.random.default_rng(1).random((1, 6, 6, 3))
    check_loss(_linear_probe(ext, ["block1_conv1", "block1_pool", "block2_conv1"]), x)


def test_one_backward_equals_the_sum_of_one_backward_per_layer():
    ext = vgg19_features(seed=2, dtype=np.float64)
    x = np.random.default_rng(2).random((1, 8, 8, 3))
    layers = ["block1_conv2", "block2_conv1", "block2_conv2"]
    rng = np.random.default_rng(3)
    acts = ext.forward(x, layers)
    grads = {n: rng.standard_normal(a.shape) for n, a in acts.items()}
    together = ext.backward(grads)
    apart = 0
    for n in layers:
        ext.forward(x, layers)
        apart = apart + ext.backward({n: grads[n]})
    np.testing.assert_allclose(together, apart, rtol=1e-10, atol=1e-12)
    # the forward ran only as deep as block2_conv2: the modules after it kept no cache
    deepest = next(i for i, (n, _) in enumerate(ext.stages) if n == "block2_conv2")
    assert all(getattr(m, "cache", None) is None for _, m in ext.stages[deepest + 1:])


def test_vgg19_names_shapes_and_pooling():
    assert VGG19_LAYERS[:3] == ("block1_conv1", "block1_conv2", "block1_pool")
    assert VGG19_LAYERS[-2:] == ("block5_conv4", "block5_pool")
    assert len([n for n in VGG19_LAYERS if "conv" in n]) == 16
    ext = vgg19_features(pooling="avg")
    acts = ext.forward(np.random.default_rng(0).random((32, 32, 3)).astype(np.float32),
                       ["block1_conv1", "block3_conv4", "block5_conv1", "block5_pool"])
    assert acts["block1_conv1"].shape == (1, 32, 32, 64)
    assert acts["block3_conv4"].shape == (1, 8, 8, 256)
    assert acts["block5_conv1"].shape == (1, 2, 2, 512)
    assert acts["block5_pool"].shape == (1, 1, 1, 512)
    assert all(a.dtype == np.float32 and (a >= 0).all() for a in acts.values())
    assert sum(isinstance(m, nn.AvgPool2D) for _, m in ext.stages) == 5
    assert sum(isinstance(m, nn.MaxPool2D) for _, m in vgg19_features().stages) == 5


def test_vgg19_loads_npvision_weights_and_refuses_another_architecture(tmp_path):
    # a small classifier keeps the file small: only the convolutional part is loaded
    model = vgg19(num_classes=3, input_shape=(32, 32, 3), hidden=8, rng=7)
    path = save_weights(model, tmp_path / "vgg19.npz", architecture="vgg19")
    ext = vgg19_features(weights=path)
    convs = [m for _, m in ext.stages if isinstance(m, nn.Conv2D)]
    assert len(convs) == 16
    np.testing.assert_array_equal(convs[0].weight.data, model.features[0].weight.data)
    np.testing.assert_array_equal(convs[-1].bias.data, model.features[-3].bias.data)
    other = save_weights(vgg16(num_classes=3, input_shape=(32, 32, 3), hidden=8), tmp_path / "vgg16.npz",
                         architecture="vgg16")
    with pytest.raises(ValueError, match="does not hold VGG-19 weights.*architecture 'vgg16'"):
        vgg19_features(weights=other)
    unnamed = save_weights(vgg16(num_classes=3, input_shape=(32, 32, 3), hidden=8), tmp_path / "anon.npz")
    with pytest.raises(ValueError, match="does not hold VGG-19 weights.*key .features.16.weight. is missing"):
        vgg19_features(weights=unnamed)
    with pytest.raises(FileNotFoundError, match="no such file"):
        vgg19_features(weights=tmp_path / "missing.npz")


def test_vgg19_loads_torchvision_layout_weights(tmp_path):
    """A torchvision-layout state dict (.npz of its keys) goes through npvision.io.load_torch_weights.

    A small classifier (8 wide, 3 classes) keeps the file small; the loader reads
    its size from the file. The features must equal the source model's.
    """
    from npvision.io import to_torch_state_dict

    source = vgg19(num_classes=3, input_shape=(32, 32, 3), hidden=8, adaptive_pool=(7, 7), rng=9)
    sd = to_torch_state_dict(source)
    assert sd["features.0.weight"].shape == (64, 3, 3, 3)                    # OIHW, torchvision's
    np.savez(tmp_path / "vgg19_tv.npz", **sd)
    ext = vgg19_features(weights=tmp_path / "vgg19_tv.npz")
    convs = [m for _, m in ext.stages if isinstance(m, nn.Conv2D)]
    src = [m for m in source.features if isinstance(m, nn.Conv2D)]
    for a, b in zip(convs, src):
        np.testing.assert_array_equal(a.weight.data, b.weight.data)
        np.testing.assert_array_equal(a.bias.data, b.bias.data)
    # the same image gives the same activations as the source model's features
    x = np.random.default_rng(0).random((1, 16, 16, 3)).astype(np.float32)
    want = source.features[:4].forward((x - np.array(S_MEAN, np.float32)) / np.array(S_STD, np.float32))
    np.testing.assert_allclose(ext.forward(x, ["block1_conv2"])["block1_conv2"], want, rtol=1e-6, atol=1e-6)
    # a torchvision VGG-16 file: refused, naming a key
    other = to_torch_state_dict(vgg16(num_classes=3, input_shape=(32, 32, 3), hidden=8, adaptive_pool=(7, 7)))
    np.savez(tmp_path / "vgg16_tv.npz", **other)
    with pytest.raises(ValueError, match="does not hold VGG-19 weights.*features"):
        vgg19_features(weights=tmp_path / "vgg16_tv.npz")


def test_unknown_layer_names_the_layer_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="no layer 'block6_conv1'; its layers are block1_conv1"):
        vgg19_features().forward(np.zeros((8, 8, 3), np.float32), ["block6_conv1"])
    with pytest.raises(ValueError, match="no layer 'conv9x9'.*conv3x3, conv5x5, conv7x7"):
        small_random().forward(np.zeros((8, 8, 3)), ["conv9x9"])
    ext = small_random()
    ext.forward(np.zeros((1, 8, 8, 3)), ["conv3x3"])
    with pytest.raises(ValueError, match="was not among the layers of the last forward"):
        ext.backward({"conv5x5": np.zeros((1, 8, 8, 4))})
    with pytest.raises(ValueError, match="expected one image with 3 channels"):
        ext.forward(np.zeros((1, 8, 8, 1)), ["conv3x3"])
    with pytest.raises(ValueError, match="pooling"):
        vgg19_features(pooling="median")


def test_random_network_is_seeded_and_its_filters_are_frozen():
    a, b = RandomMultiScale(1, kernel_sizes=(3, 11), filters=2, seed=5), RandomMultiScale(1, kernel_sizes=(3, 11), filters=2, seed=5)
    c = RandomMultiScale(1, kernel_sizes=(3, 11), filters=2, seed=6)
    wa = a.branches["conv11x11"][0].weight
    np.testing.assert_array_equal(wa.data, b.branches["conv11x11"][0].weight.data)
    assert not np.array_equal(wa.data, c.branches["conv11x11"][0].weight.data)
    assert not wa.trainable
    np.testing.assert_allclose(np.sqrt(np.sum(wa.data.astype(np.float64) ** 2, axis=(0, 1, 2))), 1.0, rtol=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
def test_total_cost_gradient_through_a_small_extractor(normalize):
    """The loop's J = alpha J_content + beta J_style + tv TV, and dJ/dimage, checked numerically."""
    rng = np.random.default_rng(4)
    ext = small_random()
    content, style = rng.random((9, 8, 3)), rng.random((7, 10, 3))
    obj = _Objective(ext, content, style, [("conv5x5", 1.0)],
                     [("conv3x3", 0.5), ("conv5x5", 0.3), ("conv7x7", 0.2)],
                     alpha=10.0, beta=40.0, tv=0.5, normalize=normalize)
    x = rng.random((9, 8, 3))
    J, grad, parts = obj(x)
    assert J == pytest.approx(10 * parts["content"] + 40 * parts["style"] + 0.5 * parts["tv"])
    assert grad.shape == x.shape
    check_loss(lambda v: obj(v)[:2], x)


def test_normalized_costs_are_relative_errors():
    """normalize=True: a layer costs 1 (times its weight) when its activation is all zero."""
    rng = np.random.default_rng(5)
    ext = small_random()
    content, style = rng.random((9, 8, 3)), rng.random((9, 8, 3))
    obj = _Objective(ext, content, style, [("conv5x5", 0.7), ("conv3x3", 0.3)],
                     [("conv3x3", 0.25), ("conv7x7", 0.75)], alpha=1.0, beta=1.0, tv=0.0, normalize=True)
    flat = np.full((9, 8, 3), 0.5)                            # centred to 0: every activation is 0
    _, _, parts = obj(flat)
    assert parts["content"] == pytest.approx(1.0) and parts["style"] == pytest.approx(1.0)
    _, _, parts = obj(content)
    assert parts["content"] == 0.0 and 0 < parts["style"]
