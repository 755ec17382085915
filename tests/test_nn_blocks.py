"""npvision.nn blocks: gradient checks, shortcut behaviour, shapes and parameter counts."""

import numpy as np
import pytest

import npvision.nn as nn
from npvision import gradcheck


def check_module(block, x):
    # A block chains several float64 layers; central differences then carry ~1e-10 of absolute
    # noise, which is a relative 1e-6 on the rare gradient entry near 1e-4. tol 1e-5 still
    # catches any real mistake (those show up as errors of 1e-3 to 1).
    return gradcheck.check_module(block, x, tol=1e-5)


def normal(*shape, seed=42):
    # seed != 0: check_module's upstream gradient is drawn with seed 0
    return np.random.default_rng(seed).standard_normal(shape)


def randomize_bn(block, seed=1):
    """Non-trivial gamma, beta and running statistics in every BatchNorm of ``block``."""
    rng = np.random.default_rng(seed)
    for _, m in block.named_modules():
        if isinstance(m, nn.BatchNorm2D):
            c = m.num_features
            m.gamma.data[:] = rng.uniform(0.5, 1.5, c)
            m.beta.data[:] = rng.uniform(-0.5, 0.5, c)
            m.running_mean[:] = rng.uniform(-0.5, 0.5, c)
            m.running_var[:] = rng.uniform(0.5, 2.0, c)
    return block


def zero_last_bn(bn):
    bn.gamma.data[:] = 0
    bn.beta.data[:] = 0


# -- ResNet ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cin,cout,stride,projection", [(4, 4, 1, False), (3, 4, 1, True),
                                                        (4, 4, 2, True)])
def test_basic_block_gradcheck(cin, cout, stride, projection):
    block = randomize_bn(nn.BasicBlock(cin, cout, stride=stride, rng=0))
    assert (block.downsample is not None) == projection
    x = normal(2, 4, 4, cin)
    assert block.forward(x).shape == (2, 4 // stride, 4 // stride, cout)
    check_module(block, x)


def test_basic_block_eval_mode_gradcheck():
    block = randomize_bn(nn.BasicBlock(3, 4, stride=2, rng=0)).eval()
    check_module(block, normal(2, 4, 4, 3))


@pytest.mark.parametrize("cin,width,stride,expansion", [(8, 2, 1, 4), (4, 2, 2, 4), (3, 2, 1, 2)])
def test_bottleneck_gradcheck(cin, width, stride, expansion):
    block = randomize_bn(nn.Bottleneck(cin, width, stride=stride, expansion=expansion, rng=0))
    assert (block.downsample is not None) == (stride != 1 or cin != width * expansion)
    x = normal(2, 4, 4, cin)
    assert block.forward(x).shape == (2, 4 // stride, 4 // stride, width * expansion)
    check_module(block, x)


def test_residual_blocks_add_the_identity():
    # with the branch's last BN zeroed, the branch outputs 0 and y = relu(x + 0)
    x = normal(2, 4, 4, 8)
    basic = nn.BasicBlock(8, 8, rng=0, dtype=np.float64)
    zero_last_bn(basic.bn2)
    np.testing.assert_allclose(basic.forward(x), np.maximum(x, 0))
    dy = normal(2, 4, 4, 8, seed=5)
    np.testing.assert_allclose(basic.backward(dy), dy * (x > 0))  # only the identity path carries dx
    bottle = nn.Bottleneck(8, 2, rng=0, dtype=np.float64)
    zero_last_bn(bottle.bn3)
    np.testing.assert_allclose(bottle.forward(x), np.maximum(x, 0))


def test_resnet_v15_puts_the_stride_on_the_3x3():
    b = nn.Bottleneck(64, 64, stride=2)
    assert b.conv1.stride == (1, 1) and b.conv2.stride == (2, 2) and b.conv3.stride == (1, 1)
    assert b.downsample[0].stride == (2, 2) and b.downsample[0].kernel_size == (1, 1)
    assert all(m.bias is None for m in (b.conv1, b.conv2, b.conv3, b.downsample[0]))


def test_resnet_parameter_counts():
    # BasicBlock(64, 64): two 3x3 convs 2 * 9*64*64 = 73,728 + two BNs 2 * 2*64 = 256
    assert nn.BasicBlock(64, 64).num_parameters() == 73_728 + 256 == 73_984
    # BasicBlock(64, 128, stride 2) (resnet18 layer2.0): 9*64*128 + 9*128*128 = 221,184,
    # projection 64*128 = 8,192, three BNs 3 * 256 = 768
    assert nn.BasicBlock(64, 128, stride=2).num_parameters() == 221_184 + 8_192 + 768 == 230_144
    # Bottleneck(256, 64) (resnet50 layer1.1): 256*64 + 9*64*64 + 64*256 = 69,632,
    # BNs 2*(64 + 64 + 256) = 768
    assert nn.Bottleneck(256, 64).num_parameters() == 69_632 + 768 == 70_400
    # Bottleneck(64, 64) (resnet50 layer1.0): 4,096 + 36,864 + 16,384 = 57,344, BNs 768,
    # projection 64*256 = 16,384 + its BN 512
    assert nn.Bottleneck(64, 64).num_parameters() == 57_344 + 768 + 16_384 + 512 == 75_008


def test_residual_parameter_names_follow_torchvision():
    names = [n for n, _ in nn.BasicBlock(3, 4, stride=2).named_parameters()]
    assert names == ["conv1.weight", "bn1.gamma", "bn1.beta", "conv2.weight", "bn2.gamma", "bn2.beta",
                     "downsample.0.weight", "downsample.1.gamma", "downsample.1.beta"]


# -- Inception ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel5", [5, 3])
def test_inception_gradcheck(kernel5):
    block = randomize_bn(nn.InceptionModule(3, 2, 2, 3, 1, 2, 2, kernel5=kernel5, rng=0))
    x = normal(2, 5, 5, 3)
    assert block.forward(x).shape == (2, 5, 5, 2 + 3 + 2 + 2)
    check_module(block, x)


def test_inception_output_is_the_concatenation_of_its_branches():
    block = nn.InceptionModule(4, 2, 3, 4, 2, 3, 5, rng=0, dtype=np.float64)
    x = normal(2, 6, 6, 4)
    y = block.forward(x)
    parts = [block.branch1.forward(x), block.branch2.forward(x), block.branch3.forward(x),
             block.branch4.forward(x)]
    np.testing.assert_allclose(y, np.concatenate(parts, axis=-1))
    assert block.branch4[0].pool_size == (3, 3) and block.branch4[0].stride == (1, 1)
    assert block.branch1.bn.eps == 1e-3 and block.branch1.conv.bias is None


def test_inception_parameter_count():
    # GoogLeNet inception (3a): 192 -> 64 + 128 + 32 + 32; each unit = conv (no bias) + BN (2 C)
    b1 = 192 * 64 + 128                                    # 12,416
    b2 = (192 * 96 + 192) + (9 * 96 * 128 + 256)           # 129,472
    b3_k3 = (192 * 16 + 32) + (9 * 16 * 32 + 64)           # 7,776 (torchvision's 3x3)
    b3_k5 = (192 * 16 + 32) + (25 * 16 * 32 + 64)          # 15,968 (the paper's 5x5)
    b4 = 192 * 32 + 64                                     # 6,208
    args = (192, 64, 96, 128, 16, 32, 32)
    assert nn.InceptionModule(*args, kernel5=3).num_parameters() == b1 + b2 + b3_k3 + b4 == 155_872
    assert nn.InceptionModule(*args).num_parameters() == b1 + b2 + b3_k5 + b4 == 164_064
    assert nn.InceptionModule(*args).out_channels == 256


def test_inception_custom_conv_block():
    made = []

    def plain(cin, cout, k, rng=None, dtype=np.float32):
        made.append(k)
        return nn.Conv2D(cin, cout, k, padding=(k - 1) // 2, rng=rng, dtype=dtype)

    block = nn.InceptionModule(3, 2, 2, 2, 2, 2, 2, conv_block=plain, kernel5=5)
    assert sorted(made) == [1, 1, 1, 1, 3, 5]
    assert block.num_parameters() == (3 * 2 + 2) * 4 + (9 * 2 * 2 + 2) + (25 * 2 * 2 + 2)


# -- MobileNet ------------------------------------------------------------------------------------

@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_separable_gradcheck(stride):
    block = randomize_bn(nn.DepthwiseSeparableConv(3, 5, stride=stride, rng=0))
    x = normal(2, 4, 4, 3)
    assert block.forward(x).shape == (2, 4 // stride, 4 // stride, 5)
    check_module(block, x)


def test_depthwise_separable_parameter_count():
    # depthwise 3x3 on 32 channels: 9*32 = 288 + BN 64; pointwise 32*64 = 2,048 + BN 128
    assert nn.DepthwiseSeparableConv(32, 64).num_parameters() == 288 + 64 + 2_048 + 128 == 2_528


@pytest.mark.parametrize("cin,cout,stride,t,residual", [(4, 4, 1, 2, True), (4, 6, 2, 3, False),
                                                        (4, 4, 1, 1, True), (4, 5, 1, 1, False)])
def test_inverted_residual_gradcheck(cin, cout, stride, t, residual):
    block = randomize_bn(nn.InvertedResidual(cin, cout, stride, t, rng=0))
    assert block.use_residual == residual
    assert (block.expand is None) == (t == 1)
    x = normal(2, 4, 4, cin)
    assert block.forward(x).shape == (2, 4 // stride, 4 // stride, cout)
    check_module(block, x)


def test_inverted_residual_is_linear_at_the_output_and_adds_the_input():
    block = nn.InvertedResidual(4, 4, 1, 6, rng=0, dtype=np.float64)
    assert block.project.act is None and isinstance(block.depthwise.act, nn.ReLU6)
    zero_last_bn(block.project.bn)
    x = normal(2, 3, 3, 4)
    np.testing.assert_allclose(block.forward(x), x)  # no ReLU after the sum: y = x exactly
    dy = normal(2, 3, 3, 4, seed=3)
    np.testing.assert_allclose(block.backward(dy), dy)


def test_mobilenet_v2_parameter_counts():
    # torchvision mobilenet_v2 features[1]: t=1, 32 -> 16: dw 9*32 + BN 64, project 32*16 + BN 32
    assert nn.InvertedResidual(32, 16, 1, 1).num_parameters() == 288 + 64 + 512 + 32 == 896
    # features[2]: t=6, 16 -> 24, stride 2, hidden 96: expand 16*96 + 192, dw 9*96 + 192,
    # project 96*24 + 48
    assert nn.InvertedResidual(16, 24, 2, 6).num_parameters() == 1_728 + 1_056 + 2_352 == 5_136


# -- Squeeze-and-excitation and MBConv -------------------------------------------------------------

@pytest.mark.parametrize("activation", [nn.ReLU, nn.SiLU])
def test_squeeze_excitation_gradcheck(activation):
    block = nn.SqueezeExcitation(6, 2, activation=activation, rng=0)
    x = normal(2, 3, 4, 6)
    check_module(block, x)


def test_squeeze_excitation_scales_channels_by_a_gate():
    block = nn.SqueezeExcitation(4, 2, rng=0, dtype=np.float64)
    x = normal(3, 5, 5, 4)
    y = block.forward(x)
    gate = y / x                                             # (N, H, W, C)
    np.testing.assert_allclose(gate, np.broadcast_to(gate[:, :1, :1, :], gate.shape), rtol=1e-10)
    assert np.all((gate > 0) & (gate < 1))
    s = x.mean(axis=(1, 2))                                  # squeeze by hand
    z = np.maximum(s @ block.fc1.weight.data[0, 0] + block.fc1.bias.data, 0)
    g = 1 / (1 + np.exp(-(z @ block.fc2.weight.data[0, 0] + block.fc2.bias.data)))
    np.testing.assert_allclose(gate[:, 0, 0, :], g)
    # 2 C S + S + C: fc1 4*2 + 2, fc2 2*4 + 4
    assert block.num_parameters() == 2 * 4 * 2 + 2 + 4 == 22


@pytest.mark.parametrize("cin,cout,k,stride,t,residual", [(4, 4, 3, 1, 2, True), (4, 6, 5, 2, 3, False),
                                                          (4, 4, 3, 1, 1, True)])
def test_mbconv_gradcheck(cin, cout, k, stride, t, residual):
    block = randomize_bn(nn.MBConv(cin, cout, k, stride, t, rng=0))
    assert block.use_residual == residual
    assert block.se.squeeze_channels == max(1, cin // 4)    # from the block's INPUT channels
    x = normal(2, 4, 4, cin)
    assert block.forward(x).shape == (2, 4 // stride, 4 // stride, cout)
    check_module(block, x)


def test_mbconv_without_se_and_eval_mode():
    block = randomize_bn(nn.MBConv(3, 3, 3, 1, 2, se_ratio=None, rng=0)).eval()
    assert block.se is None
    check_module(block, normal(2, 4, 4, 3))


def test_efficientnet_b0_mbconv_parameter_counts():
    # torchvision efficientnet_b0 features[1][0]: t=1, 32 -> 16, k3: dw 9*32 + BN 64 = 352,
    # SE(32, squeeze 8) = 32*8 + 8 + 8*32 + 32 = 552, project 32*16 + BN 32 = 544
    assert nn.MBConv(32, 16, 3, 1, 1).num_parameters() == 352 + 552 + 544 == 1_448
    # features[2][0]: t=6, 16 -> 24, k3, stride 2, hidden 96: expand 16*96 + 192 = 1,728,
    # dw 9*96 + 192 = 1,056, SE(96, squeeze 16 // 4 = 4) = 96*4 + 4 + 4*96 + 96 = 868,
    # project 96*24 + 48 = 2,352
    assert nn.MBConv(16, 24, 3, 2, 6).num_parameters() == 1_728 + 1_056 + 868 + 2_352 == 6_004


# -- shared -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: nn.BasicBlock(3, 4, 2), lambda: nn.Bottleneck(3, 2, 2),
                                  lambda: nn.InceptionModule(3, 2, 2, 2, 2, 2, 2),
                                  lambda: nn.DepthwiseSeparableConv(3, 4, 2),
                                  lambda: nn.InvertedResidual(3, 4, 2, 2),
                                  lambda: nn.SqueezeExcitation(3, 2), lambda: nn.MBConv(3, 4, 3, 2, 2)])
def test_blocks_keep_float32_and_every_conv_before_bn_has_no_bias(make):
    block = make()
    y = block.forward(normal(2, 4, 4, 3).astype(np.float32))
    assert y.dtype == np.float32
    assert block.backward(np.ones_like(y)).dtype == np.float32
    mods = [m for _, m in block.named_modules()]
    for a, b in zip(mods, mods[1:]):
        if isinstance(b, nn.BatchNorm2D) and isinstance(a, (nn.Conv2D, nn.DepthwiseConv2D)):
            assert a.bias is None


def test_blocks_reproducible_from_one_seed_and_layers_differ():
    a, b = nn.BasicBlock(4, 4, rng=3), nn.BasicBlock(4, 4, rng=3)
    np.testing.assert_array_equal(a.conv1.weight.data, b.conv1.weight.data)
    assert not np.array_equal(a.conv1.weight.data, a.conv2.weight.data)  # one generator, drawn in turn


def test_block_argument_errors():
    with pytest.raises(ValueError, match="stride"):
        nn.BasicBlock(4, 4, stride=0)
    with pytest.raises(ValueError, match="kernel5"):
        nn.InceptionModule(3, 2, 2, 2, 2, 2, 2, kernel5=4)
    with pytest.raises(ValueError, match="expand_ratio"):
        nn.InvertedResidual(4, 4, 1, 0)
    with pytest.raises(ValueError, match="se_ratio"):
        nn.MBConv(4, 4, 3, 1, 2, se_ratio=2.0)
    with pytest.raises(ValueError, match=r"x: has 3 channels .* expects 4"):
        nn.BasicBlock(4, 4).forward(np.zeros((1, 4, 4, 3), np.float32))


# -- batch norm applying the activation that follows it ----------------------------------------

def _instrument_activations(block):
    """Give every activation child an instance ``forward`` (as summary() and profilers do): the
    blocks must then run it as a layer of its own, the unfused path."""
    for _, m in block.named_modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6, nn.SiLU)):
            object.__setattr__(m, "forward", m.forward)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("make", [
    lambda: nn.ConvBNAct(3, 5, 3, activation=nn.ReLU, rng=0, dtype=np.float64),
    lambda: nn.ConvBNAct(3, 5, 3, stride=2, activation=nn.ReLU6, rng=0, dtype=np.float64),
    lambda: nn.ConvBNAct(5, 5, 3, depthwise=True, activation=nn.SiLU, rng=0, dtype=np.float64),
    lambda: nn.BasicBlock(4, 6, stride=2, rng=0, dtype=np.float64),
    lambda: nn.Bottleneck(6, 2, rng=0, dtype=np.float64),
], ids=["convbn-relu", "convbn-relu6", "convbn-silu", "basic", "bottleneck"])
def test_folding_the_activation_into_batch_norm_changes_no_number(make, training):
    """The fused path (activation applied inside batch norm's passes) against the same block
    with its activations run as layers: outputs, input gradients, parameter gradients and
    running statistics agree to rounding."""
    fused, plain = randomize_bn(make()), randomize_bn(make())
    _instrument_activations(plain)
    assert fused.fused_activations() and not plain.fused_activations()
    fused.train(training)
    plain.train(training)
    c_in = fused.in_channels
    x = normal(2, 6, 6, c_in) * 2
    y_f, y_p = fused.forward(x), plain.forward(x)
    np.testing.assert_allclose(y_f, y_p, rtol=1e-12, atol=1e-12)
    dy = normal(*y_f.shape, seed=7)
    np.testing.assert_allclose(fused.backward(dy), plain.backward(dy), rtol=1e-10, atol=1e-12)
    for (name, p), (_, q) in zip(fused.named_parameters(), plain.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, atol=1e-12, err_msg=name)
    for name in fused.state_dict():
        np.testing.assert_allclose(fused.state_dict()[name], plain.state_dict()[name], rtol=1e-12,
                                   err_msg=name)


def test_summary_still_sees_a_folded_activation():
    s = nn.summary(nn.ConvBNAct(3, 4, 3, activation=nn.SiLU), (8, 8, 3))
    assert [r.output_shape for r in s.rows if r.name == "act"] == [(None, 8, 8, 4)]
