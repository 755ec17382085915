"""npvision.course: the course's conventions, where they differ from npvision's, and clear errors.

The course's printed numbers are in ``test_course_values.py``; this file checks
what those numbers do not pin down: the backward passes against central
differences, the ResNet blocks' backward passes (they are trainable Modules),
the max-pool ties, the dtypes, random shapes against the plain loops, and the
error messages.
"""

from __future__ import annotations

import numpy as np
import pytest

from npvision import course, gradcheck
from npvision import functional as F


def _loops_conv(A, W, b, pad, stride):
    """The course's conv_forward as four loops: the naive reference."""
    A = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    f, n_c = W.shape[0], W.shape[3]
    m, h, w, _ = A.shape
    n_h, n_w = (h - f) // stride + 1, (w - f) // stride + 1
    Z = np.zeros((m, n_h, n_w, n_c))
    for i in range(m):
        for y in range(n_h):
            for x in range(n_w):
                for c in range(n_c):
                    window = A[i, y * stride:y * stride + f, x * stride:x * stride + f, :]
                    Z[i, y, x, c] = np.sum(window * W[..., c]) + b[0, 0, 0, c]
    return Z


@pytest.mark.parametrize("shape, f, n_c, pad, stride", [((2, 7, 5, 3), 3, 4, 1, 2), ((1, 6, 9, 2), 2, 3, 2, 3),
                                                        ((3, 5, 5, 1), 5, 2, 0, 1), ((1, 8, 7, 4), 4, 2, 3, 2)])
def test_conv_forward_equals_the_loops(shape, f, n_c, pad, stride):
    rng = np.random.default_rng(0)
    A, W, b = rng.standard_normal(shape), rng.standard_normal((f, f, shape[3], n_c)), rng.standard_normal((1, 1, 1, n_c))
    Z, _ = course.conv_forward(A, W, b, {"pad": pad, "stride": stride})
    np.testing.assert_allclose(Z, _loops_conv(A, W, b, pad, stride), rtol=1e-12, atol=1e-12)


def test_conv_backward_gradient_check():
    rng = np.random.default_rng(1)
    A, W, b = rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((3, 3, 3, 4)), rng.standard_normal((1, 1, 1, 4))
    hp = {"pad": 1, "stride": 2}

    def forward(A, W, b):
        return course.conv_forward(A, W, b, hp)

    gradcheck.check_functional(forward, course.conv_backward, [A, W, b], names=["dA_prev", "dW", "db"])


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 1), (3, 2)])
def test_pool_backward_gradient_check(mode, f, stride):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((2, 6, 7, 2))                      # continuous: no ties, away from kinks
    hp = {"f": f, "stride": stride}
    gradcheck.check_functional(lambda A: course.pool_forward(A, hp, mode),
                               lambda dA, cache: course.pool_backward(dA, cache, mode), [A])


def test_max_pool_ties_follow_the_course():
    """Every tied maximum gets the window's gradient (the course); npvision's own kernel picks the first."""
    A = np.array([[1.0, 4.0, 4.0], [0.0, 2.0, 4.0], [4.0, 1.0, 3.0]])[None, :, :, None]   # (1, 3, 3, 1)
    dA = np.array([[1.0, 2.0], [3.0, 4.0]])[None, :, :, None]
    _, cache = course.pool_forward(A, {"f": 2, "stride": 1})
    dA_prev = course.pool_backward(dA, cache, "max")
    # windows: top-left max 4 at (0,1); top-right 4 three times; bottom-left 4 at (2,0); bottom-right 4 at (1,2)
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], [[0, 1 + 2, 2], [0, 0, 2 + 4], [3, 0, 0]])
    _, npv_cache = F.max_pool2d_forward(A, 2, stride=1)
    first = F.max_pool2d_backward(dA, npv_cache)[0, :, :, 0]
    np.testing.assert_array_equal(first, [[0, 1 + 2, 0], [0, 0, 4], [3, 0, 0]])
    np.testing.assert_array_equal(course.create_mask_from_window(np.array([[1, 3], [3, 0]])),
                                  [[False, True], [True, False]])
    np.testing.assert_array_equal(course.create_mask_from_window(np.array([[1.0, 1.0 - 1e-12]])), [[True, False]])


def test_outputs_are_float64_and_caches_are_the_inputs():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((1, 4, 4, 2)).astype(np.float32)
    W = rng.standard_normal((2, 2, 2, 3)).astype(np.float32)
    b = np.zeros((1, 1, 1, 3), np.float32)
    hp = {"pad": 0, "stride": 1}
    Z, cache = course.conv_forward(A, W, b, hp)
    assert Z.dtype == np.float64 and cache == (A, W, b, hp) and cache[0] is A
    dA, dW, db = course.conv_backward(Z, cache)
    assert dA.dtype == dW.dtype == db.dtype == np.float64 and db.shape == (1, 1, 1, 3)
    P, pcache = course.pool_forward(A, {"f": 2, "stride": 2})
    assert P.dtype == np.float64 and pcache[0] is A
    assert course.zero_pad(np.ones((1, 2, 2, 1), dtype=np.int64), 1).dtype == np.int64
    assert course.distribute_value(1, (2, 2)).dtype == np.float64


# -- the ResNet blocks are Modules: forward as the course, backward gradient-checked ------------------------
def _check_block(block, x, training):
    """Gradient-check a block away from ReLU kinks: random biases and BatchNorm affine parameters
    (fresh zero biases make windows of zeros land exactly on ReLU's kink). In training mode a
    conv bias followed by BatchNorm has no effect at all (the batch mean removes it): its
    gradient must be 0, which a relative error cannot judge, so it is checked apart."""
    rng = np.random.default_rng(7)
    for name, p in block.named_parameters():
        if name.endswith(("bias", "beta")):
            p.data = rng.normal(0, 0.5, p.shape)
        elif name.endswith("gamma"):
            p.data = rng.uniform(0.5, 1.5, p.shape)
    block.train() if training else block.eval()
    conv_biases = [p for name, p in block.named_parameters() if name.endswith(".bias")]
    if training:
        for p in conv_biases:
            p.trainable = False
    gradcheck.check_module(block, x)
    if training:
        block.zero_grad()
        block.backward(np.random.default_rng(8).standard_normal(block.forward(x).shape))
        for p in conv_biases:
            assert np.abs(p.grad).max() < 1e-9


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("f", [2, 3])
def test_identity_block_backward(training, f):
    block = course.IdentityBlock(3, f, [2, 4, 3], initializer=course.glorot_uniform, dtype=np.float64)
    _check_block(block, np.random.default_rng(4).standard_normal((2, 4, 5, 3)), training)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("f", [2, 3])
def test_convolutional_block_backward(training, f):
    block = course.ConvolutionalBlock(2, f, [3, 2, 4], s=2, initializer=course.glorot_uniform, dtype=np.float64)
    _check_block(block, np.random.default_rng(5).standard_normal((2, 5, 6, 2)), training)


def test_block_shapes_and_initializers():
    x = np.random.default_rng(6).standard_normal((2, 7, 5, 3)).astype(np.float32)
    assert course.convolutional_block(x, 3, [2, 3, 6], s=3).shape == (2, 3, 2, 6)
    assert course.identity_block(x, 2, [4, 4, 3]).dtype == np.float32
    same = course.glorot_uniform(seed=0)
    np.testing.assert_array_equal(same((1, 1, 3, 2)), same((1, 1, 3, 2)))          # seeded: repeatable
    assert course.random_uniform()((50, 50)).max() <= 0.05
    assert np.all(course.constant(value=1)((2, 2)) == 1)


def test_data_augmenter_flips_and_rotates():
    augmenter = course.data_augmenter(rng=0)
    image = np.zeros((1, 9, 9, 1))
    image[0, 4, 6, 0] = 1.0                                   # a dot right of the centre
    flip = augmenter.layers[0]
    seen = {tuple(np.argwhere(flip(image)[0, :, :, 0] == 1)[0]) for _ in range(30)}
    assert seen == {(4, 6), (4, 2)}                           # kept, or mirrored left-right
    rotated = course.RandomRotation(0.25, rng=0)(np.repeat(image, 20, axis=0))
    assert not all(np.allclose(rotated[0], r) for r in rotated[1:])      # each image its own angle


# -- clear errors ------------------------------------------------------------------------------------------
def test_hparameters_errors():
    A, W, b = np.zeros((1, 4, 4, 1)), np.zeros((2, 2, 1, 1)), np.zeros((1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"hparameters: missing key 'pad'.*\{'pad': 1, 'stride': 2\}"):
        course.conv_forward(A, W, b, {"stride": 1})
    with pytest.raises(ValueError, match=r"hparameters: missing key 'f'"):
        course.pool_forward(A, {"stride": 1})
    with pytest.raises(ValueError, match=r"hparameters\['stride'\]: expected an int >= 1, received 0"):
        course.conv_forward(A, W, b, {"pad": 0, "stride": 0})
    with pytest.raises(TypeError, match="hparameters: expected a dict"):
        course.conv_forward(A, W, b, [1, 2])
    _, cache = course.conv_forward(A, W, b, {"pad": 0, "stride": 1})
    with pytest.raises(ValueError, match="missing key 'pad'"):
        course.conv_backward(np.zeros((1, 3, 3, 1)), (A, W, b, {"stride": 1}))
    with pytest.raises(TypeError, match=r"cache: expected the tuple \(A_prev, hparameters\)"):
        course.pool_backward(np.zeros((1, 3, 3, 1)), cache)


def test_mode_errors():
    A = np.zeros((1, 4, 4, 1))
    with pytest.raises(ValueError, match=r"mode: expected 'max' or 'average'.*received 'avg'"):
        course.pool_forward(A, {"f": 2, "stride": 2}, mode="avg")
    _, cache = course.pool_forward(A, {"f": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"received 'mean'"):
        course.pool_backward(np.zeros((1, 2, 2, 1)), cache, mode="mean")


def test_shape_errors():
    A = np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match=r"b: expected the course's bias shape \(1, 1, 1, 3\)"):
        course.conv_forward(A, np.zeros((2, 2, 2, 3)), np.zeros(3), {"pad": 0, "stride": 1})
    _, cache = course.conv_forward(A, np.zeros((2, 2, 2, 3)), np.zeros((1, 1, 1, 3)), {"pad": 0, "stride": 1})
    with pytest.raises(ValueError, match=r"dZ: expected the shape of conv_forward's Z \(1, 3, 3, 3\)"):
        course.conv_backward(np.zeros((1, 2, 2, 3)), cache)
    with pytest.raises(ValueError, match="F3 must equal the input's channels 2"):
        course.identity_block(A.astype(np.float32), 2, [2, 2, 5])
    with pytest.raises(ValueError, match=r"contractive_input: expected shape \(1, 8, 8, C\)"):
        course.upsampling_block(A, np.zeros((1, 7, 8, 1)))
    with pytest.raises(TypeError, match=r"yolo_outputs: expected a tuple"):
        course.yolo_eval(np.zeros((19, 19, 5, 85)))
