"""Stochastic depth (torchvision's EfficientNet regularizer) and EfficientNet's BatchNorm options."""

import numpy as np
import pytest

import npvision.functional as F
from npvision import models, nn
from npvision.gradcheck import check_functional, check_module


def test_whole_samples_are_kept_or_dropped_and_the_mean_is_kept():
    x = np.ones((4000, 3, 2, 5))
    out, (mask, shape) = F.stochastic_depth_forward(x, 0.25, np.random.default_rng(0))
    assert mask.shape == (4000, 1, 1, 1) and shape == x.shape
    per_sample = out.reshape(4000, -1)
    assert np.all((per_sample == 0) | np.isclose(per_sample, 1 / 0.75, rtol=1e-12))
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))        # all or nothing per sample
    assert abs(np.mean(per_sample[:, 0] == 0) - 0.25) < 0.03
    assert abs(out.mean() - 1.0) < 0.05


def test_inference_is_the_identity_and_the_gradient_uses_the_same_mask():
    x = np.random.default_rng(1).standard_normal((6, 4, 3, 2))
    out, cache = F.stochastic_depth_forward(x, 0.5, 3, training=False)
    np.testing.assert_array_equal(out, x)
    assert cache is None and F.stochastic_depth_backward(x, None) is x
    check_functional(F.stochastic_depth_forward, F.stochastic_depth_backward, [x], dict(rate=0.5, rng=3))
    _, (mask, _) = F.stochastic_depth_forward(x, 0.5, 3)
    assert 0 < np.count_nonzero(mask) < 6                    # this seed keeps some samples, drops others
    with pytest.raises(ValueError, match="rate"):
        F.stochastic_depth_forward(x, 1.0, 0)
    with pytest.raises(ValueError, match="dout"):
        F.stochastic_depth_backward(x[:, :2], (mask, x.shape))


def test_mbconv_with_stochastic_depth_gradient_while_training():
    block = nn.MBConv(4, 4, 3, 1, 2, stochastic_depth=0.5, rng=0)
    assert isinstance(block.drop_path, nn.StochasticDepth)
    forward = block.drop_path.forward

    def fixed_mask_forward(x):             # one mask for all the gradient check's forwards
        block.drop_path.seed(3)
        return forward(x)

    block.drop_path.forward = fixed_mask_forward
    x = np.random.default_rng(2).standard_normal((6, 5, 4, 4))
    check_module(block, x)


def test_mbconv_stochastic_depth_is_the_identity_at_evaluation_and_only_on_residual_blocks():
    plain = nn.MBConv(8, 8, 3, 1, 6, rng=0).eval()
    dropped = nn.MBConv(8, 8, 3, 1, 6, stochastic_depth=0.9, rng=1).eval()
    dropped.load_state_dict(plain.state_dict())
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 8)).astype(np.float32)
    np.testing.assert_array_equal(dropped.forward(x), plain.forward(x))
    assert nn.MBConv(8, 16, 3, 1, 6, stochastic_depth=0.5).drop_path is None      # no residual
    assert nn.MBConv(8, 8, 3, 2, 6, stochastic_depth=0.5).drop_path is None
    assert plain.drop_path is None


def test_efficientnet_drop_rates_follow_torchvisions_linear_rule():
    net = models.create("efficientnet_b0", stochastic_depth=0.2)
    blocks = [b for s in range(1, 8) for b in getattr(net, f"stage{s}")]
    assert len(blocks) == 16
    for i, block in enumerate(blocks):
        if block.use_residual:
            assert block.drop_path.rate == pytest.approx(0.2 * i / 16)
        else:
            assert block.drop_path is None
    assert all(b.drop_path is None for b in (b for s in range(1, 8) for b in getattr(
        models.create("efficientnet_b0"), f"stage{s}")))                      # off by default


def test_efficientnet_batchnorm_options_match_torchvisions():
    b0, b5 = models.create("efficientnet_b0"), models.create("efficientnet_b5", input_shape=(64, 64, 3))
    assert (b0.stem.bn.eps, b0.stem.bn.momentum) == (1e-5, 0.9)              # torchvision: eps 1e-5, momentum 0.1
    for bn in (b5.stem.bn, b5.stage4[2].depthwise.bn, b5.stage7[0].project.bn, b5.head.bn):
        assert (bn.eps, bn.momentum) == (1e-3, 0.99)                         # eps 1e-3, momentum 0.01
    custom = models.create("efficientnet_b0", bn_momentum=0.5)
    assert custom.stage2[1].expand.bn.momentum == 0.5


def test_stochastic_depth_rates_equal_torchvisions_live():
    torchvision = pytest.importorskip("torchvision")
    tv = torchvision.models.efficientnet_b0(weights=None)
    tv_rates = [blk.stochastic_depth.p for stage in tv.features[1:8] for blk in stage if blk.use_res_connect]
    net = models.create("efficientnet_b0", stochastic_depth=0.2)
    ours = [b.drop_path.rate for s in range(1, 8) for b in getattr(net, f"stage{s}") if b.use_residual]
    np.testing.assert_allclose(ours, tv_rates, rtol=1e-12)
