"""U-Net and the FCN baseline: shapes, the course's parameter counts, size rules, gradients.

Gradient checks run the whole network in float64 on tiny configurations (a few
hundred parameters) against central differences. The relative error is taken
element by element, so gradient entries that are almost 0 (border pixels that
reach few outputs) carry round-off of ~1e-10 / 1e-7; the tolerance is 2e-5, far
below the O(1) error of any wiring mistake (a missing skip gradient, a wrong split).
"""

import numpy as np
import pytest

import npvision.functional as F
from npvision import nn
from npvision.gradcheck import check_functional, check_module
from npvision.segmentation import (FCN, UNet, bilinear_kernel, center_crop_backward,
                                   center_crop_forward, check_unet_input_size, unet_input_sizes,
                                   unet_output_size)

TOL = 2e-5


def _gradcheck(model, x, eps=1e-5):
    report = check_module(model, x, eps=eps, tol=TOL, raise_on_fail=False)
    assert report.passed, str(report)
    return report


# --------------------------------------------------------------------------- crop
def test_center_crop_values_and_zero_pad_gradient():
    x = np.arange(2 * 5 * 6 * 1, dtype=np.float64).reshape(2, 5, 6, 1)
    out, cache = center_crop_forward(x, (3, 3))
    # top = (5 - 3) // 2 = 1, left = (6 - 3) // 2 = 1
    np.testing.assert_array_equal(out, x[:, 1:4, 1:4])
    dout = np.ones_like(out)
    dx = center_crop_backward(dout, cache)
    assert dx.shape == x.shape
    assert dx.sum() == dout.sum()
    assert np.all(dx[:, 0] == 0) and np.all(dx[:, 4] == 0) and np.all(dx[:, :, 0] == 0)
    assert np.all(dx[:, :, 4:] == 0) and np.all(dx[:, 1:4, 1:4] == 1)
    rng = np.random.default_rng(0)
    check_functional(center_crop_forward, center_crop_backward, [rng.standard_normal((1, 6, 5, 2))],
                     {"size": (4, 3)})


def test_center_crop_refuses_a_larger_window():
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop_forward(np.zeros((1, 4, 4, 1)), (5, 4))


# --------------------------------------------------------------------------- sizes
def test_output_sizes_same_and_valid():
    assert unet_output_size(572, 4, "valid") == 388          # the paper's figure 1
    assert unet_output_size(64, 3, "same") == 64
    assert unet_output_size(44, 2, "valid") == 4
    assert unet_input_sizes(3, "same", near=50) == [40, 48, 56, 64]
    assert 572 in unet_input_sizes(4, "valid", near=572)
    for s in unet_input_sizes(2, "valid", near=100, count=6):
        assert unet_output_size(s, 2, "valid") >= 1


@pytest.mark.parametrize("padding, shape, near", [("same", (1, 50, 48, 3), "48, 56"),
                                                  ("valid", (1, 45, 44, 3), "44, 48")])
def test_bad_input_size_names_sizes_that_work(padding, shape, near):
    model = UNet(3, 2, depth=2 if padding == "valid" else 3, base_filters=2, padding=padding, rng=0)
    with pytest.raises(ValueError, match="sizes that work") as info:
        model.forward(np.zeros(shape, np.float32))
    assert "height" in str(info.value) and near in str(info.value)
    assert "odd size" in str(info.value)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="upsampling"):
        UNet(3, 2, depth=2, upsampling="bilinear")
    with pytest.raises(ValueError, match="max_unpool"):
        UNet(3, 2, depth=2, padding="valid", upsampling="max_unpool")
    with pytest.raises(ValueError, match="padding"):
        UNet(3, 2, depth=2, padding="full")
    with pytest.raises(ValueError, match="channels"):
        UNet(3, 2, depth=1, base_filters=2, rng=0).forward(np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        UNet(3, 2, depth=1, base_filters=2, rng=0).forward(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="width"):
        check_unet_input_size((1, 16, 18, 3), depth=2)


# --------------------------------------------------------------------------- shapes, counts
@pytest.mark.parametrize("mode", ["transpose", "nearest", "bed_of_nails", "max_unpool"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_shapes_and_dtype(mode, dtype):
    model = UNet(3, 5, depth=2, base_filters=4, upsampling=mode, rng=0, dtype=dtype)
    x = np.random.default_rng(0).random((2, 16, 24, 3)).astype(dtype)
    y = model.forward(x)
    assert y.shape == (2, 16, 24, 5) and y.dtype == dtype
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == dtype


def test_valid_padding_output_is_smaller():
    model = UNet(1, 3, depth=2, base_filters=2, padding="valid", rng=0)
    assert model.output_size((52, 44)) == (12, 4)
    assert model.forward(np.zeros((1, 52, 44, 1), np.float32)).shape == (1, 12, 4, 3)


def test_course_layer_shapes_and_parameter_counts():
    model = UNet(3, 23, depth=4, base_filters=32, up_kernel=3, batchnorm=False, dropout=0.3,
                 final_conv=True, rng=0)
    assert model.num_parameters() == 8_640_471                  # the course's model summary
    assert model.encoders[0].conv1.weight.size + model.encoders[0].conv1.bias.size == 896
    up = model.decoders[0].up                                    # 3x3 stride-2 transpose, 512 -> 256
    assert up.weight.shape == (3, 3, 256, 512)
    assert up.weight.size + up.bias.size == 1_179_904
    assert model.head[-1].weight.size + model.head[-1].bias.size == 759


def test_backward_splits_the_concatenation_and_adds_the_skip_gradient():
    """Cut the decoder's use of the skip: the encoder's input gradient must change."""
    rng = np.random.default_rng(1)
    model = UNet(1, 2, depth=1, base_filters=2, batchnorm=False, rng=2, dtype=np.float64)
    x = rng.standard_normal((1, 8, 8, 1))
    y = model.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = model.backward(dy)
    d_merged = model.decoders[0].conv.backward(model.head.backward(dy))
    d_up, d_skip = F.concat_backward(d_merged, model.decoders[0].concat_cache)
    assert d_up.shape[-1] == 2 and d_skip.shape[-1] == 2
    assert np.abs(d_skip).sum() > 0
    # the same backward without the skip's share differs from the full one
    dy_pool = model.pools[0].backward(model.bottleneck.backward(model.decoders[0].up.backward(d_up)))
    dx_no_skip = model.encoders[0].backward(dy_pool)
    assert not np.allclose(dx, dx_no_skip)
    dx_with_skip = model.encoders[0].backward(dy_pool + d_skip)
    np.testing.assert_allclose(dx, dx_with_skip, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- gradient checks
def test_gradcheck_same_padding_batchnorm_depth2():
    model = UNet(1, 2, depth=2, base_filters=1, padding="same", rng=1, dtype=np.float64)
    _gradcheck(model, np.random.default_rng(0).standard_normal((2, 8, 8, 1)))


def test_gradcheck_valid_padding_with_cropped_skips():
    model = UNet(1, 2, depth=1, base_filters=2, padding="valid", rng=1, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 18, 18, 1))
    assert model.forward(x).shape == (2, 2, 2, 2)               # 18 -> 14 -> 7 -> 3 -> 6 -> 2
    assert model.decoders[0].crop_cache[1] == (4, 4)            # the skip (14) cropped to 6
    _gradcheck(model, x)


@pytest.mark.parametrize("mode, seed", [("nearest", 3), ("bed_of_nails", 1), ("max_unpool", 1)])
def test_gradcheck_unpooling_modes(mode, seed):
    model = UNet(1, 2, depth=1, base_filters=2, upsampling=mode, rng=seed, dtype=np.float64)
    _gradcheck(model, np.random.default_rng(0).standard_normal((2, 6, 6, 1)))


def test_gradcheck_fcn():
    model = FCN(1, 2, depth=1, base_filters=2, rng=2, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 1))
    assert model.forward(x).shape == (2, 6, 6, 2)
    _gradcheck(model, x)


# --------------------------------------------------------------------------- upsampling pictures
def test_bilinear_kernel_and_checkerboard_of_strided_transpose():
    ones = np.ones((1, 6, 6, 1))
    # bilinear x2: a constant input stays constant away from the border
    up, _ = F.conv_transpose2d_forward(ones, bilinear_kernel(2, 1, np.float64), stride=2, padding=1)
    np.testing.assert_allclose(up[0, 1:-1, 1:-1, 0], 1.0)
    # a 3x3 stride-2 transpose convolution with all-ones weights: uneven overlap
    out, _ = F.conv_transpose2d_forward(ones, np.ones((3, 3, 1, 1)), stride=2, padding="same")
    inner = out[0, 2:-2, 2:-2, 0]
    assert set(np.unique(inner)) == {1.0, 2.0, 4.0}             # the checkerboard
    # nearest-neighbour upsampling then a 3x3 convolution: no pattern inside
    near = nn.UpsampleNearest2D(2).forward(ones)
    conv, _ = F.conv2d_forward(near, np.ones((3, 3, 1, 1)), padding="same")
    np.testing.assert_allclose(conv[0, 1:-1, 1:-1, 0], 9.0)
