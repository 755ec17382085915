"""npvision.nn layers: gradient checks (float64) of every layer, modes, dtypes and errors."""

import numpy as np
import pytest

import npvision.nn as nn
from npvision.gradcheck import check_module


def normal(*shape, seed=42):
    # not seed 0: check_module draws its upstream gradient with seed 0, and a dout equal to
    # the input would make batch norm's input gradient vanish (dout in the span of 1 and x_hat)
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(*shape, seed=0, scale=0.1):
    """Distinct values (a shuffled ramp): no ties inside any max-pool window."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * scale - n * scale / 2


def away_from(x, kinks, margin=0.05):
    """Move any value within ``margin`` of a kink (ReLU's 0, ReLU6's 6) out of reach of eps."""
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + np.where(x[near] >= k, margin, -margin) * 2
    return x


# -- convolutions --------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=(3, 2), stride=2, padding=0),
                                dict(kernel_size=3, stride=1, padding="same", dilation=2),
                                dict(kernel_size=1, bias=False)])
def test_conv2d_gradcheck(kw):
    layer = nn.Conv2D(3, 4, rng=0, **kw)
    check_module(layer, normal(2, 5, 6, 3))


def test_conv2d_shapes_params_and_repr():
    layer = nn.Conv2D(3, 8, 3, stride=2, padding=1, rng=0)
    assert layer.weight.shape == (3, 3, 3, 8) and layer.bias.shape == (8,)
    assert layer.num_parameters() == 3 * 3 * 3 * 8 + 8
    y = layer.forward(np.zeros((2, 7, 7, 3), np.float32))
    assert y.shape == (2, 4, 4, 8)  # floor((7 + 2 - 3) / 2) + 1 = 4
    assert "3, 8, kernel_size=(3, 3), stride=(2, 2), padding=1" in repr(layer)
    assert nn.Conv2D(3, 8, 3, bias=False).bias is None
    assert "bias=False" in repr(nn.Conv2D(3, 8, 3, bias=False))


def test_he_init_scale_and_reproducible_rng():
    w = nn.Conv2D(64, 64, 3, rng=1).weight.data
    assert abs(w.std() - np.sqrt(2.0 / (9 * 64))) < 0.03 * np.sqrt(2.0 / (9 * 64))
    np.testing.assert_array_equal(w, nn.Conv2D(64, 64, 3, rng=1).weight.data)
    assert not np.array_equal(w, nn.Conv2D(64, 64, 3, rng=2).weight.data)
    dw = nn.DepthwiseConv2D(256, 3, rng=0).weight.data  # fan_in = 3*3 (one input channel)
    assert abs(dw.std() - np.sqrt(2.0 / 9)) < 0.05 * np.sqrt(2.0 / 9)


def test_conv2d_without_input_grad_skips_dx_but_accumulates_dw():
    x = normal(2, 5, 5, 3)
    first = nn.Conv2D(3, 4, 3, input_grad=False, rng=0, dtype=np.float64)
    ref = nn.Conv2D(3, 4, 3, rng=0, dtype=np.float64)
    dy = normal(2, 3, 3, 4, seed=1)
    first.forward(x)
    ref.forward(x)
    assert first.backward(dy) is None
    assert ref.backward(dy).shape == x.shape
    np.testing.assert_allclose(first.weight.grad, ref.weight.grad)
    np.testing.assert_allclose(first.bias.grad, ref.bias.grad)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, padding=1,
                                                                       depth_multiplier=2, bias=False)])
def test_depthwise_conv2d_gradcheck(kw):
    layer = nn.DepthwiseConv2D(3, rng=0, **kw)
    check_module(layer, normal(2, 5, 5, 3))
    assert layer.out_channels == 3 * kw.get("depth_multiplier", 1)


@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=2), dict(kernel_size=3, stride=2, padding=1,
                                                                     output_padding=1, bias=False)])
def test_conv_transpose2d_gradcheck(kw):
    layer = nn.ConvTranspose2D(3, 2, rng=0, **kw)
    assert layer.weight.shape == (*layer.kernel_size, 2, 3)  # (KH, KW, C_out, C_in)
    y = layer.forward(np.zeros((1, 3, 4, 3)))
    assert y.shape == (1, 6, 8, 2)  # (H-1)*2 - 2p + k + output_padding = 6, 8 in both configs
    check_module(layer, normal(2, 3, 4, 3))


# -- pooling and upsampling ----------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=3, stride=2, padding=1),
                                dict(pool_size=(2, 3), stride=1)])
def test_max_pool_gradcheck(kw):
    check_module(nn.MaxPool2D(**kw), distinct(2, 5, 6, 3))


@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=3, stride=2, padding=1)])
def test_avg_pool_gradcheck(kw):
    check_module(nn.AvgPool2D(**kw), normal(2, 5, 6, 3))


def test_global_avg_pool():
    layer = nn.GlobalAvgPool2D()
    x = normal(2, 3, 4, 5)
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(1, 2)))
    check_module(layer, x)


def test_pool_default_stride_is_pool_size():
    assert nn.MaxPool2D(3).stride == (3, 3)
    assert nn.AvgPool2D(2, stride=1).stride == (1, 1)
    assert nn.MaxPool2D(2).forward(np.zeros((1, 6, 6, 1))).shape == (1, 3, 3, 1)


@pytest.mark.parametrize("cls", [nn.UpsampleNearest2D, nn.BedOfNails2D])
def test_upsample_gradcheck(cls):
    layer = cls(scale=2)
    x = normal(2, 3, 2, 3)
    y = layer.forward(x)
    assert y.shape == (2, 6, 4, 3)
    np.testing.assert_array_equal(y[:, ::2, ::2], x)  # both put x at the top-left of each block
    check_module(layer, x)


def test_max_unpool_puts_values_back_where_the_maxima_were():
    pool = nn.MaxPool2D(2)
    unpool = nn.MaxUnpool2D(pool)
    x = distinct(1, 4, 4, 2)
    y = unpool.forward(pool.forward(x))
    assert y.shape == x.shape
    is_max = x == np.repeat(np.repeat(pool.forward(x), 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(y, np.where(is_max, x, 0.0))
    # the pool's output is given back only at the maxima, so y keeps one value per window
    assert np.count_nonzero(y) == 2 * 2 * 2


def test_max_unpool_gradcheck_alone_and_paired():
    pool = nn.MaxPool2D(3, stride=2, padding=1)
    pool.forward(distinct(2, 5, 5, 3))
    unpool = nn.MaxUnpool2D(pool)
    check_module(unpool, normal(2, 3, 3, 3))                                    # the pool's cache is fixed
    pool2 = nn.MaxPool2D(2)
    check_module(nn.Sequential(pool2, nn.MaxUnpool2D(pool2)), distinct(2, 4, 6, 3))  # pool -> unpool


def test_max_unpool_errors_and_does_not_own_the_pool():
    with pytest.raises(TypeError, match="pool: expected the paired MaxPool2D"):
        nn.MaxUnpool2D(nn.AvgPool2D(2))
    unpool = nn.MaxUnpool2D(nn.MaxPool2D(2))
    with pytest.raises(RuntimeError, match="has not run forward"):
        unpool.forward(np.zeros((1, 2, 2, 1)))
    assert list(unpool.children()) == []


# -- dense layers --------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(bias):
    layer = nn.Linear(5, 3, bias=bias, rng=0)
    assert layer.weight.shape == (5, 3)
    check_module(layer, normal(4, 5))


def test_flatten_and_identity():
    x = normal(2, 3, 4, 5)
    flat = nn.Flatten()
    y = flat.forward(x)
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    check_module(flat, x)
    ident = nn.Identity()
    assert ident.forward(x) is x and ident.backward(x) is x


# -- activations ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layer,scale,kinks", [(nn.ReLU(), 1, [0.0]), (nn.ReLU6(), 4, [0.0, 6.0]),
                                               (nn.LeakyReLU(0.1), 1, [0.0]), (nn.Sigmoid(), 2, []),
                                               (nn.Tanh(), 1, []), (nn.SiLU(), 2, []),
                                               (nn.Softmax(), 1, []), (nn.Softmax(axis=1), 1, [])])
def test_activation_gradcheck(layer, scale, kinks):
    x = away_from(normal(2, 3, 4) * scale, kinks)
    check_module(layer, x)


def test_activation_values():
    x = np.array([[-7.0, -1.0, 0.5, 3.0, 8.0]])
    np.testing.assert_allclose(nn.ReLU().forward(x), [[0, 0, 0.5, 3, 8]])
    np.testing.assert_allclose(nn.ReLU6().forward(x), [[0, 0, 0.5, 3, 6]])
    np.testing.assert_allclose(nn.LeakyReLU(0.1).forward(x), [[-0.7, -0.1, 0.5, 3, 8]])
    np.testing.assert_allclose(nn.SiLU().forward(x), x / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Softmax().forward(x).sum(axis=-1), [1.0])
    assert "alpha=0.1" in repr(nn.LeakyReLU(0.1))


# -- batch norm ----------------------------------------------------------------------------------

def test_batchnorm_training_gradcheck_and_statistics():
    bn = nn.BatchNorm2D(3)
    bn.gamma.data[:] = [0.5, 1.5, -2.0]
    bn.beta.data[:] = [0.1, -0.2, 0.3]
    x = normal(4, 3, 2, 3) * 2 + 1
    check_module(bn, x)
    bn.gamma.data[:] = 1
    bn.beta.data[:] = 0
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1, atol=1e-4)


def test_batchnorm_eval_uses_running_statistics():
    bn = nn.BatchNorm2D(3, momentum=0.5)
    x = normal(8, 2, 2, 3) * 3 + 5
    bn.forward(x.astype(np.float32))                     # one training step moves the running stats
    np.testing.assert_allclose(bn.running_mean, 0.5 * x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.5 + 0.5 * x.var(axis=(0, 1, 2)), rtol=1e-5)
    bn.eval()
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    y = bn.forward(x.astype(np.float32))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.running_mean, mean)  # eval never updates them
    bn.gamma.data[:] = [2.0, -1.0, 0.5]
    check_module(bn, x)


def test_batchnorm_accepts_nd_input_and_checks_channels():
    bn = nn.BatchNorm2D(5)
    check_module(bn, normal(6, 5))
    with pytest.raises(ValueError, match=r"x: has 4 channels .* expects 5"):
        bn.forward(np.zeros((2, 3, 3, 4)))
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var"]
    assert [n for n, _ in bn.named_parameters()] == ["gamma", "beta"]


# -- dropout -------------------------------------------------------------------------------------

class _Reseeded(nn.Module):
    """Restart the dropout's generator before every forward: one fixed mask for a gradient check."""

    def __init__(self, drop):
        super().__init__()
        self.drop = drop

    def forward(self, x):
        self.drop.seed(7)
        return self.drop.forward(x)

    def backward(self, dy):
        return self.drop.backward(dy)


def test_dropout_training_mask_scaling_and_gradcheck():
    drop = nn.Dropout(0.25, rng=3)
    x = normal(200, 50) + 3.0                    # no zeros in x
    y = drop.forward(x)
    kept = y != 0
    assert 0.72 < kept.mean() < 0.78             # keep probability 0.75
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    dy = normal(200, 50, seed=1)
    np.testing.assert_allclose(drop.backward(dy), np.where(kept, dy / 0.75, 0.0))
    check_module(_Reseeded(nn.Dropout(0.5)), normal(3, 4, 5))


def test_dropout_masks_reproducible_and_fresh():
    a, b = nn.Dropout(0.5, rng=11), nn.Dropout(0.5, rng=11)
    x = np.ones((10, 10))
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))   # a new mask on every call
    a.seed(11)
    np.testing.assert_array_equal(a.forward(x), first)


def test_dropout_default_generator_follows_init_seed():
    x = np.ones((8, 8))
    nn.init.seed(5)
    first = nn.Dropout(0.5).forward(x)
    nn.init.seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.5).forward(x), first)
    a, b = nn.Dropout(0.5), nn.Dropout(0.5)          # two layers: independent streams
    assert not np.array_equal(a.forward(x), b.forward(x))


def test_dropout_eval_is_identity():
    drop = nn.Dropout(0.9, rng=0).eval()
    x = normal(3, 4)
    np.testing.assert_array_equal(drop.forward(x), x)
    np.testing.assert_array_equal(drop.backward(x), x)
    check_module(drop, x)


# -- dtypes and errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("layer,shape", [(nn.Conv2D(3, 4, 3, padding=1, rng=0), (2, 5, 5, 3)),
                                         (nn.DepthwiseConv2D(3, 3, rng=0), (2, 5, 5, 3)),
                                         (nn.Linear(3, 4, rng=0), (2, 3)),
                                         (nn.BatchNorm2D(3), (2, 4, 4, 3)),
                                         (nn.MaxPool2D(2), (2, 4, 4, 3)),
                                         (nn.ReLU(), (2, 4, 4, 3))])
def test_input_dtype_is_kept(layer, shape):
    x = normal(*shape)
    for dtype in (np.float32, np.float64):
        y = layer.forward(x.astype(dtype))
        assert y.dtype == dtype
        dx = layer.backward(np.ones_like(y))
        assert dx.dtype == dtype and dx.shape == shape
    for p in layer.parameters():                 # the layer's own dtype is untouched
        assert p.data.dtype == np.float32 and p.grad.dtype == np.float32


def test_layer_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"x: has 2 channels .* expects 3"):
        nn.Conv2D(3, 4, 3).forward(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"x: expected a 4-D"):
        nn.Conv2D(3, 4, 3).forward(np.zeros((5, 5, 3), np.float32))
    with pytest.raises(TypeError, match=r"x: expected a floating-point array"):
        nn.MaxPool2D(2).forward(np.zeros((1, 4, 4, 1), np.uint8))
    with pytest.raises(ValueError, match=r"in_channels: expected an integer >= 1"):
        nn.Conv2D(0, 4, 3)
    with pytest.raises(ValueError, match=r"rate: expected a drop probability"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match=r"momentum"):
        nn.BatchNorm2D(3, momentum=1.5)
    with pytest.raises(RuntimeError, match=r"Linear.backward was called before forward"):
        nn.Linear(2, 3).backward(np.zeros((1, 3)))
    with pytest.raises(RuntimeError, match=r"Dropout.backward was called before forward"):
        nn.Dropout(0.5).backward(np.zeros((1, 3)))
