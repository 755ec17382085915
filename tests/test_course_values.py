"""The numbers the course's notebooks print, reproduced by npvision.

Course 4 (Convolutional Neural Networks) of the Deep Learning Specialization
prints, after each exercise, the values a correct solution gives. This file
checks them twice:

1. week 1 through :mod:`npvision.functional` (npvision's own API), with the
   default backend and with the naive loop kernels;
2. weeks 1-4 through :mod:`npvision.course`, the functions called exactly as
   the notebooks and their ``public_tests.py`` call them (the course's seeds,
   ``hparameters`` dicts, ``(1, 1, 1, n_C)`` biases, caches).

Week 4's inputs (TensorFlow-drawn too) ship with npvision for its grader
(``npvision/course/data/course_week4.npz``, from
``tests/data/make_course_week4_goldens.py``). Its printed Gram matrix and layer
style cost were computed by the course's GPU in TF32 (inputs rounded to 10
mantissa bits); the exact values differ by 1e-4 relative, and rounding the
inputs to TF32 first reproduces the printed ones.

Week 1 draws with ``np.random.seed`` + ``np.random.randn`` (NumPy's legacy
generator), so its inputs are regenerated here. Weeks 2 and 3 draw with
TensorFlow's seeded generator; ``tests/data/make_course_goldens.py`` (run by hand
with TensorFlow 2.21, which regenerates the course's tensors exactly) stored
those inputs, and TensorFlow's own outputs, in ``tests/data/course/``.

Week 1, two versions of the notebook circulate:

- the current one (2021 onward): ``zero_pad`` with pad 3, ``conv_forward`` on
  ``A_prev (2, 5, 7, 4)``, ``pool_forward`` on ``A_prev (2, 5, 5, 3)`` with stride 1
  and 2, and its ``public_tests.py`` (seed 3 checks, ``pool_forward`` with f 2);
- the older one (2017-2020), whose ``zero_pad`` used pad 2, ``conv_forward``
  ``A_prev (10, 4, 4, 3)`` and ``pool_forward`` ``A_prev (2, 4, 4, 3)``.

Both check ``conv_backward`` on the older ``conv_forward`` inputs (``A_prev
(10, 4, 4, 3)``, ``W (2, 2, 3, 8)``, pad 2, stride 2), and share
``conv_single_step`` and ``pool_backward``; the current version prints more
digits (``dA_mean = 1.4524377775388075``), the older one 11 decimals
(``1.45243777754``), which agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import npvision
import npvision.functional as F
from npvision import course

# The default ("auto": fastest per op) and the plain loops the notebooks show.
BACKENDS = ["auto", "naive"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    with npvision.use_backend(request.param):
        yield request.param


# -- 1. zero padding ---------------------------------------------------------
X_1_1 = [[0.90085595, -0.68372786],
         [-0.12289023, -0.93576943],
         [-0.26788808, 0.53035547]]


@pytest.mark.parametrize("pad, expected_shape", [(3, (4, 9, 9, 2)),   # current notebook
                                                 (2, (4, 7, 7, 2))])  # older notebook
def test_zero_pad(pad, expected_shape):
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = F.zero_pad(x, pad)
    assert x.shape == (4, 3, 3, 2)
    assert x_pad.shape == expected_shape
    assert x_pad.dtype == np.float64
    np.testing.assert_allclose(x[1, 1], X_1_1, atol=1e-8)
    # x_pad[1, 1] is the second row of the padding: all zeros.
    np.testing.assert_array_equal(x_pad[1, 1], np.zeros((expected_shape[2], 2)))
    # The centre is x itself; everything outside it is zero.
    np.testing.assert_array_equal(x_pad[:, pad:-pad, pad:-pad, :], x)
    border = x_pad.copy()
    border[:, pad:-pad, pad:-pad, :] = 0
    assert not border.any()


# -- 2. one step of convolution ------------------------------------------------
def test_conv_single_step():
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    Z = F.conv_single_step(a_slice_prev, W, b)
    assert isinstance(Z, float)
    assert Z == pytest.approx(-6.999089450680221, abs=1e-11)


# -- 3. conv forward -----------------------------------------------------------
def test_conv_forward_current_notebook(backend):
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache = F.conv2d_forward(A_prev, W, b.reshape(8), stride=2, padding=1)
    # n_H = floor((5 - 3 + 2) / 2) + 1 = 3, n_W = floor((7 - 3 + 2) / 2) + 1 = 4
    assert Z.shape == (2, 3, 4, 8)
    assert Z.dtype == np.float64
    assert np.mean(Z) == pytest.approx(0.5511276474566768, abs=1e-12)
    np.testing.assert_allclose(Z[0, 2, 1], [-2.17796037, 8.07171329, -0.5772704, 3.36286738,
                                            4.48113645, -2.89198428, 10.99288867, 3.03171932],
                               atol=1e-8)
    # The course prints cache_conv[0][1][2][3], i.e. A_prev[1, 2, 3]: the input it kept.
    np.testing.assert_allclose(A_prev[1, 2, 3], [-1.1191154, 1.9560789, -0.3264995, -1.34267579],
                               atol=1e-8)


def _older_conv_inputs():
    """The older notebook's conv_forward inputs, also used by both versions' conv_backward."""
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    return A_prev, W, b.reshape(8)


def test_conv_forward_older_notebook(backend):
    A_prev, W, b = _older_conv_inputs()
    Z, _ = F.conv2d_forward(A_prev, W, b, stride=2, padding=2)
    # n_H = floor((4 - 2 + 4) / 2) + 1 = 4
    assert Z.shape == (10, 4, 4, 8)
    assert np.mean(Z) == pytest.approx(0.0489952035289, abs=1e-12)
    np.testing.assert_allclose(Z[3, 2, 1], [-0.61490741, -6.7439236, -2.55153897, 1.75698377,
                                            3.56208902, 0.53036437, 5.18531798, 8.75898442],
                               atol=1e-8)
    np.testing.assert_allclose(A_prev[1, 2, 3], [-0.20075807, 0.18656139, 0.41005165], atol=1e-8)


# -- 4. pooling forward ------------------------------------------------------------
def _pool_inputs(shape=(2, 5, 5, 3)):
    np.random.seed(1)
    return np.random.randn(*shape)


def test_pool_forward_stride_1(backend):
    A_prev = _pool_inputs()
    A, _ = F.max_pool2d_forward(A_prev, 3, stride=1)
    assert A.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(A[1, 1], [[1.96710175, 0.84616065, 1.27375593],
                                         [1.96710175, 0.84616065, 1.23616403],
                                         [1.62765075, 1.12141771, 1.2245077]], atol=1e-8)
    A, _ = F.avg_pool2d_forward(A_prev, 3, stride=1)
    assert A.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(A[1, 1], [[0.44497696, -0.00261695, -0.31040307],
                                         [0.50811474, -0.23493734, -0.23961183],
                                         [0.11872677, 0.17255229, -0.22112197]], atol=1e-8)


def test_pool_forward_stride_2(backend):
    A_prev = _pool_inputs()
    A, _ = F.max_pool2d_forward(A_prev, 3, stride=2)
    assert A.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(A[0], [[[1.74481176, 0.90159072, 1.65980218],
                                       [1.74481176, 1.6924546, 1.65980218]],
                                      [[1.13162939, 1.51981682, 2.18557541],
                                       [1.13162939, 1.6924546, 2.18557541]]], atol=1e-8)
    A, _ = F.avg_pool2d_forward(A_prev, 3, stride=2)
    assert A.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(A[1], [[[-0.17313416, 0.32377198, -0.34317572],
                                       [0.02030094, 0.14141479, -0.01231585]],
                                      [[0.42944926, 0.08446996, -0.27290905],
                                       [0.15077452, 0.28911175, 0.00123239]]], atol=1e-8)


def test_pool_forward_older_notebook(backend):
    A_prev = _pool_inputs((2, 4, 4, 3))
    A, _ = F.max_pool2d_forward(A_prev, 3, stride=2)
    assert A.shape == (2, 1, 1, 3)
    np.testing.assert_allclose(A[:, 0, 0], [[1.74481176, 0.86540763, 1.13376944],
                                            [1.13162939, 1.51981682, 2.18557541]], atol=1e-8)
    A, _ = F.avg_pool2d_forward(A_prev, 3, stride=2)
    np.testing.assert_allclose(A[:, 0, 0], [[0.02105773, -0.20328806, -0.40389855],
                                            [-0.22154621, 0.51716526, 0.48155844]], atol=1e-8)


# -- 5. conv backward ----------------------------------------------------------------
def test_conv_backward(backend):
    A_prev, W, b = _older_conv_inputs()
    Z, cache = F.conv2d_forward(A_prev, W, b, stride=2, padding=2)
    dA, dW, db = F.conv2d_backward(Z, cache)        # the course backpropagates dZ = Z
    assert dA.shape == A_prev.shape and dW.shape == W.shape and db.shape == b.shape
    assert np.mean(dA) == pytest.approx(1.4524377775388075, abs=1e-11)
    assert np.mean(dW) == pytest.approx(1.7269914583139097, abs=1e-11)
    assert np.mean(db) == pytest.approx(7.839232564616838, abs=1e-11)
    # The older notebook's 11-decimal printout agrees.
    assert round(float(np.mean(dA)), 11) == 1.45243777754
    assert round(float(np.mean(dW)), 11) == 1.72699145831
    assert round(float(np.mean(db)), 11) == 7.83923256462


# -- 6. pool backward ------------------------------------------------------------------
def test_pool_backward(backend):
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    A, max_cache = F.max_pool2d_forward(A_prev, 2, stride=1)
    assert A.shape == (5, 4, 2, 2)
    dA = np.random.randn(5, 4, 2, 2)                # drawn after the forward, as in the course
    assert np.mean(dA) == pytest.approx(0.14571390272918056, abs=1e-13)

    dA_prev = F.max_pool2d_backward(dA, max_cache)
    assert dA_prev.shape == (5, 5, 3, 2)
    np.testing.assert_allclose(dA_prev[1, 1], [[0.0, 0.0],
                                               [5.05844394, -1.68282702],
                                               [0.0, 0.0]], atol=1e-8)

    _, avg_cache = F.avg_pool2d_forward(A_prev, 2, stride=1)
    dA_prev = F.avg_pool2d_backward(dA, avg_cache)
    assert dA_prev.shape == (5, 5, 3, 2)
    np.testing.assert_allclose(dA_prev[1, 1], [[0.08485462, 0.2787552],
                                               [1.26461098, -0.25749373],
                                               [1.17975636, -0.53624893]], atol=1e-8)


# =============================================================================
# Weeks 1-3 through npvision.course, called as the notebooks call them
# =============================================================================
DATA = __import__("pathlib").Path(__file__).parent / "data" / "course"


# -- week 1 -------------------------------------------------------------------
def test_course_zero_pad():
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = course.zero_pad(x, 3)
    assert type(x_pad) is np.ndarray and x_pad.shape == (4, 9, 9, 2)
    np.testing.assert_allclose(x[1, 1], X_1_1, atol=1e-8)
    assert not x_pad[1, 1].any() and not x_pad[0, 0:2, :, 0].any() and not x_pad[0, :, 7:9, 1].any()
    np.testing.assert_array_equal(x_pad[:, 3:6, 3:6, :], x)
    np.random.seed(1)                                   # public_tests' second case
    x = np.random.randn(5, 4, 4, 3)
    x_pad = course.zero_pad(x, 2)
    assert x_pad.shape == (5, 8, 8, 3)
    np.testing.assert_array_equal(x_pad[:, 2:6, 2:6, :], x)
    assert course.zero_pad(x, 0) is not x                # np.pad always returns a new array


def test_course_conv_single_step():
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    Z = course.conv_single_step(a_slice_prev, W, b)
    assert type(Z) == np.float64                         # the notebook's assert
    assert Z == pytest.approx(-6.999089450680221, abs=1e-12)
    np.random.seed(3)                                   # public_tests.conv_single_step_test
    a_slice_prev = np.random.randn(5, 5, 3)
    W = np.random.randn(5, 5, 3)
    b = np.random.randn(1, 1, 1)
    Z = course.conv_single_step(a_slice_prev, W, b)
    assert type(Z) == np.float64
    assert Z == pytest.approx(-3.5443670581382474, abs=1e-12)


def test_course_conv_forward():
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    hparameters = {"pad": 1, "stride": 2}
    Z, cache_conv = course.conv_forward(A_prev, W, b, hparameters)
    assert Z.shape == (2, 3, 4, 8) and Z.dtype == np.float64
    assert np.mean(Z) == pytest.approx(0.5511276474566768, abs=1e-12)
    np.testing.assert_allclose(Z[0, 2, 1], [-2.17796037, 8.07171329, -0.5772704, 3.36286738,
                                            4.48113645, -2.89198428, 10.99288867, 3.03171932], atol=1e-8)
    np.testing.assert_allclose(cache_conv[0][1][2][3], [-1.1191154, 1.9560789, -0.3264995, -1.34267579],
                               atol=1e-8)
    assert cache_conv[0] is A_prev and cache_conv[1] is W and cache_conv[2] is b and cache_conv[3] is hparameters


def test_course_conv_forward_public_tests():
    """public_tests.conv_forward_test_2: seed 3, three hyperparameter settings."""
    np.random.seed(3)
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, _ = course.conv_forward(A_prev, W, b, {"pad": 3, "stride": 1})
    assert Z.shape == (2, 9, 11, 8)
    Z, _ = course.conv_forward(A_prev, W, b, {"pad": 0, "stride": 2})
    assert Z.shape == (2, 2, 3, 8)
    W = np.random.randn(5, 5, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache_conv = course.conv_forward(A_prev, W, b, {"pad": 6, "stride": 1})
    assert Z.shape == (2, 13, 15, 8)
    assert np.mean(Z) == pytest.approx(-0.5384027772160062, abs=1e-12)
    np.testing.assert_allclose(cache_conv[0][1, 2], [[1.98848968, 1.19505834, -0.0952376, -0.52718778],
                                                     [-0.32158469, 0.15113037, -0.01862772, 0.48352879],
                                                     [0.76896516, 1.36624284, 1.14726479, -0.11022916],
                                                     [0.38825041, -0.38712718, -0.58722031, 1.91082685],
                                                     [-0.45984615, 1.99073781, -0.34903539, 0.25282509],
                                                     [1.08940955, 0.02392202, 0.39312528, -0.2413848],
                                                     [-0.47552486, -0.16577702, -0.64971742, 1.63138295]],
                               atol=1e-8)


def test_course_conv_forward_older_notebook():
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache_conv = course.conv_forward(A_prev, W, b, {"pad": 2, "stride": 2})
    assert np.mean(Z) == pytest.approx(0.0489952035289, abs=1e-12)
    np.testing.assert_allclose(Z[3, 2, 1], [-0.61490741, -6.7439236, -2.55153897, 1.75698377,
                                            3.56208902, 0.53036437, 5.18531798, 8.75898442], atol=1e-8)
    np.testing.assert_allclose(cache_conv[0][1][2][3], [-0.20075807, 0.18656139, 0.41005165], atol=1e-8)


def test_course_pool_forward():
    np.random.seed(1)                                    # case 1: stride of 1
    A_prev = np.random.randn(2, 5, 5, 3)
    A, cache = course.pool_forward(A_prev, {"stride": 1, "f": 3}, mode="max")
    assert A.shape == (2, 3, 3, 3) and cache[0] is A_prev
    np.testing.assert_allclose(A[1, 1], [[1.96710175, 0.84616065, 1.27375593],
                                         [1.96710175, 0.84616065, 1.23616403],
                                         [1.62765075, 1.12141771, 1.2245077]], atol=1e-8)
    A, _ = course.pool_forward(A_prev, {"stride": 1, "f": 3}, mode="average")
    np.testing.assert_allclose(A[1, 1], [[0.44497696, -0.00261695, -0.31040307],
                                         [0.50811474, -0.23493734, -0.23961183],
                                         [0.11872677, 0.17255229, -0.22112197]], atol=1e-8)
    A, _ = course.pool_forward(A_prev, {"stride": 2, "f": 3})        # case 2: stride of 2, default max
    assert A.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(A[0], [[[1.74481176, 0.90159072, 1.65980218],
                                       [1.74481176, 1.6924546, 1.65980218]],
                                      [[1.13162939, 1.51981682, 2.18557541],
                                       [1.13162939, 1.6924546, 2.18557541]]], atol=1e-8)
    A, _ = course.pool_forward(A_prev, {"stride": 2, "f": 3}, mode="average")
    np.testing.assert_allclose(A[1], [[[-0.17313416, 0.32377198, -0.34317572],
                                       [0.02030094, 0.14141479, -0.01231585]],
                                      [[0.42944926, 0.08446996, -0.27290905],
                                       [0.15077452, 0.28911175, 0.00123239]]], atol=1e-8)


def test_course_pool_forward_public_tests():
    """public_tests.pool_forward_test: two shape checks on unseeded draws, then seed 1 with f 2."""
    A, _ = course.pool_forward(np.random.randn(2, 5, 7, 3), {"stride": 2, "f": 2}, mode="average")
    assert A.shape == (2, 2, 3, 3)
    A, _ = course.pool_forward(np.random.randn(4, 5, 7, 4), {"stride": 1, "f": 5}, mode="max")
    assert A.shape == (4, 1, 3, 4)
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 5, 3)
    A, cache = course.pool_forward(A_prev, {"stride": 1, "f": 2}, mode="max")
    np.testing.assert_allclose(A[1, 1], [[1.19891788, 0.74055645, 0.07734007],
                                         [0.31515939, 0.84616065, 0.07734007],
                                         [0.69803203, 0.84616065, 1.2245077],
                                         [0.69803203, 1.12141771, 1.2245077]], atol=1e-8)
    np.testing.assert_allclose(cache[0][1, 2], [[0.16938243, 0.74055645, -0.9537006],
                                                [-0.26621851, 0.03261455, -1.37311732],
                                                [0.31515939, 0.84616065, -0.85951594],
                                                [0.35054598, -1.31228341, -0.03869551],
                                                [-1.61577235, 1.12141771, 0.40890054]], atol=1e-8)
    A, _ = course.pool_forward(A_prev, {"stride": 1, "f": 2}, mode="average")
    np.testing.assert_allclose(A[1, 1], [[0.11583785, 0.34545544, -0.6561907],
                                         [-0.2334108, 0.3364666, -0.69382351],
                                         [0.25497093, -0.21741362, -0.07342615],
                                         [-0.04092568, -0.01110394, 0.12495022]], atol=1e-8)


def test_course_conv_backward():
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache_conv = course.conv_forward(A_prev, W, b, {"pad": 2, "stride": 2})
    dA, dW, db = course.conv_backward(Z, cache_conv)
    assert type(dA) == type(dW) == type(db) == np.ndarray
    assert dA.shape == (10, 4, 4, 3) and dW.shape == (2, 2, 3, 8) and db.shape == (1, 1, 1, 8)
    assert np.mean(dA) == pytest.approx(1.4524377775388075, abs=1e-11)
    assert np.mean(dW) == pytest.approx(1.7269914583139097, abs=1e-11)
    assert np.mean(db) == pytest.approx(7.839232564616838, abs=1e-11)


def test_course_create_mask_and_distribute_value():
    np.random.seed(1)
    x = np.random.randn(2, 3)
    np.testing.assert_allclose(x, [[1.62434536, -0.61175641, -0.52817175],
                                   [-1.07296862, 0.86540763, -2.3015387]], atol=1e-8)
    np.testing.assert_array_equal(course.create_mask_from_window(x), [[True, False, False],
                                                                      [False, False, False]])
    mask = course.create_mask_from_window(np.array([[-1, 2, 3], [2, -3, 2], [1, 5, -2]]))
    assert type(mask) == np.ndarray
    np.testing.assert_array_equal(mask, [[False, False, False], [False, False, False], [False, True, False]])
    a = course.distribute_value(2, (2, 2))
    assert type(a) == np.ndarray and a.shape == (2, 2) and np.sum(a) == 2
    np.testing.assert_array_equal(a, [[0.5, 0.5], [0.5, 0.5]])
    a = course.distribute_value(100, (10, 10))
    assert a.shape == (10, 10) and np.sum(a) == 100


def test_course_pool_backward():
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    A, cache = course.pool_forward(A_prev, {"stride": 1, "f": 2})
    assert A.shape == (5, 4, 2, 2) and cache[0].shape == (5, 5, 3, 2)
    dA = np.random.randn(5, 4, 2, 2)
    assert np.mean(dA) == pytest.approx(0.145713902729, abs=1e-12)
    dA_prev1 = course.pool_backward(dA, cache, mode="max")
    assert type(dA_prev1) == np.ndarray and dA_prev1.shape == (5, 5, 3, 2)
    np.testing.assert_allclose(dA_prev1[1, 1], [[0, 0], [5.05844394, -1.68282702], [0, 0]], atol=1e-8)
    dA_prev2 = course.pool_backward(dA, cache, mode="average")
    np.testing.assert_allclose(dA_prev2[1, 1], [[0.08485462, 0.2787552], [1.26461098, -0.25749373],
                                                [1.17975636, -0.53624893]], atol=1e-8)


# -- week 2 ---------------------------------------------------------------------
def _course_x():
    return np.concatenate([np.ones((1, 4, 4, 3)) * -1, np.ones((1, 4, 4, 3)) * 1,
                           np.ones((1, 4, 4, 3)) * 3], axis=0).astype(np.float32)


def test_course_identity_block():
    """public_tests.identity_block_test, weights all 1.

    npvision gives exactly what the course's ``identity_block`` gives in TensorFlow 2.21
    (``blocks_tf.npz``). The course's published ``identity_block_output1/2`` came from an older
    Keras and differ from TF 2.21's own result by up to 3e-4 relative (e.g. 192.6542 against
    192.71236); the course's structural assertions hold exactly, its numbers to that tolerance.
    """
    golden = np.load(DATA / "blocks_tf.npz")
    X = _course_x()
    A3 = course.identity_block(X, f=2, filters=[4, 4, 3], initializer=lambda seed=0: course.constant(value=1),
                               training=False)
    assert A3.shape == (3, 4, 4, 3) and np.all(A3 >= 0)
    np.testing.assert_allclose(A3, golden["id_course_a"], rtol=1e-6, atol=1e-5)
    resume = A3[:, (0, -1), :, :].mean(axis=3)
    assert np.floor(resume[1, 0, 0]) == 2 * np.floor(resume[1, 0, 3])
    assert np.floor(resume[1, 0, 3]) == np.floor(resume[1, 1, 0])
    assert np.floor(resume[1, 1, 0]) == 2 * np.floor(resume[1, 1, 3])
    assert resume[1, 1, 0] - np.floor(resume[1, 1, 0]) > 0.7
    np.testing.assert_allclose(resume, [[[0, 0, 0, 0], [0, 0, 0, 0]],
                                        [[192.6542, 192.6542, 192.6542, 96.8271],
                                         [96.8271, 96.8271, 96.8271, 48.91355]],
                                        [[578.21246, 578.21246, 578.21246, 290.60623],
                                         [290.60623, 290.60623, 290.60623, 146.80312]]], rtol=5e-4)
    A4 = course.identity_block(X, f=3, filters=[3, 3, 3], initializer=lambda seed=7: course.constant(value=1),
                               training=True)
    np.testing.assert_allclose(A4, golden["id_course_b"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(A4[:, (0, -1), :, :].mean(axis=3),
                               [[[0, 0, 0, 0], [0, 0, 0, 0]],
                                [[0.373974, 0.373974, 0.373974, 0.373974], [0.373974, 0.373974, 0.373974, 0.373974]],
                                [[3.2379792, 4.139072, 4.139072, 3.2379792], [3.2379792, 4.139072, 4.139072, 3.2379792]]],
                               rtol=5e-4)


def test_course_convolutional_block_shapes():
    """public_tests.convolutional_block_test's shapes. Its values depend on Keras 2's
    ``glorot_uniform(seed=0)`` stream, which TF 2.21 (Keras 3) no longer draws; the
    block's arithmetic is checked against TF 2.21 with stored weights below."""
    X = _course_x()
    assert course.convolutional_block(X, f=2, filters=[2, 4, 6], s=4, training=False).shape == (3, 1, 1, 6)
    B = course.convolutional_block(X, f=2, filters=[2, 4, 6], training=False)
    assert B.shape == (3, 2, 2, 6) and B.dtype == np.float32 and np.all(B >= 0)


def _stored(golden, prefix, n):
    weights = [golden[f"{prefix}{i}"] for i in range(n)]

    def factory(seed=0):                          # hands the stored weights out in the order asked for
        return lambda shape, dtype=None: weights.pop(0)
    return factory


@pytest.mark.parametrize("training", [True, False])
def test_course_resnet_blocks_match_tensorflow(training):
    golden = np.load(DATA / "blocks_tf.npz")
    out = course.identity_block(golden["id_x"], 3, [2, 5, 3], training=training,
                                initializer=_stored(golden, "id_w", 3))
    np.testing.assert_allclose(out, golden[f"id_out_{training}"], rtol=1e-4, atol=1e-5)
    out = course.convolutional_block(golden["cb_x"], 2, [2, 4, 5], s=2, training=training,
                                     initializer=_stored(golden, "cb_w", 4))
    np.testing.assert_allclose(out, golden[f"cb_out_{training}"], rtol=1e-4, atol=1e-5)


def test_course_data_augmenter():
    """The course's checks: two layers, a horizontal RandomFlip then RandomRotation(0.2)."""
    augmenter = course.data_augmenter(rng=0)
    assert augmenter.layers[0].name.startswith("random_flip") and augmenter.layers[0].mode == "horizontal"
    assert augmenter.layers[1].name.startswith("random_rotation") and augmenter.layers[1].factor == 0.2
    assert len(augmenter.layers) == 2
    images = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 3)).astype(np.float32)
    out = augmenter(images)
    assert out.shape == images.shape and out.dtype == np.float32 and not np.allclose(out, images)
    np.testing.assert_array_equal(augmenter(images, training=False), images)


# -- week 3 ---------------------------------------------------------------------
def test_course_iou():
    assert course.iou((2, 1, 4, 3), (1, 2, 3, 4)) == pytest.approx(0.14285714, abs=1e-8)
    assert course.iou((1, 2, 3, 4), (5, 6, 7, 8)) == 0          # no intersection
    assert course.iou((1, 1, 2, 2), (2, 2, 3, 3)) == 0          # touching at a vertex
    assert course.iou((1, 1, 3, 3), (2, 3, 3, 4)) == 0          # touching along an edge
    # (x1, y1, x2, y2), not (y1, x1, y2, x2): a wide box and a tall one
    assert course.iou((0, 0, 4, 1), (0, 0, 1, 4)) == pytest.approx(1 / 7)


def _yolo_tf():
    return np.load(DATA / "yolo_tf_inputs.npz"), np.load(DATA / "yolo_tf_outputs.npz")


def test_course_yolo_filter_boxes():
    inp, tf_out = _yolo_tf()
    scores, boxes, classes = course.yolo_filter_boxes(inp["filter_boxes"], inp["filter_confidence"],
                                                      inp["class_probs"], threshold=0.5)
    assert scores.shape == (1789,) and boxes.shape == (1789, 4) and classes.shape == (1789,)
    assert np.isclose(scores[2], 9.270486)
    assert np.allclose(boxes[2], [4.6399336, 3.2303846, 4.431282, -2.202031])
    assert classes[2] == 8 and classes.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(scores, tf_out["filter_scores"])     # every box, as TensorFlow
    np.testing.assert_array_equal(boxes, tf_out["filter_boxes"])
    np.testing.assert_array_equal(classes, tf_out["filter_classes"])


def test_course_yolo_non_max_suppression_with_unordered_corners():
    from npvision.grading.cases_week3 import course_nms_inputs

    scores, boxes, classes = course_nms_inputs()           # the course's tensors, corners in no order
    assert (boxes[:, 2] < boxes[:, 0]).any() and (boxes[:, 3] < boxes[:, 1]).any()
    _, tf_out = _yolo_tf()
    s, b, c = course.yolo_non_max_suppression(scores, boxes, classes)
    assert s.shape == (10,) and b.shape == (10, 4) and c.shape == (10,)
    assert np.isclose(s[2], 8.147684)
    assert np.allclose(b[2], [6.0797963, 3.743308, 1.3914018, -0.34089637])
    assert np.isclose(c[2], 1.7079165)
    np.testing.assert_array_equal(s, tf_out["nms_scores"])
    np.testing.assert_array_equal(b, tf_out["nms_boxes"])
    with pytest.raises(ValueError, match="inverted"):           # npvision's own NMS keeps refusing them
        npvision.detection.nms(boxes, scores, 0.5)


def test_course_yolo_eval():
    inp, tf_out = _yolo_tf()
    yolo_outputs = (inp["eval_xy"], inp["eval_wh"], inp["eval_confidence"], inp["class_probs"])
    scores, boxes, classes = course.yolo_eval(yolo_outputs)
    assert scores.shape == (10,) and boxes.shape == (10, 4) and classes.shape == (10,)
    assert np.isclose(scores[2], 171.60194)
    assert np.allclose(boxes[2], [-1240.3483, -3212.5881, -645.78, 2024.3052])
    assert np.isclose(classes[2], 16)
    np.testing.assert_array_equal(scores, tf_out["eval_scores"])
    np.testing.assert_allclose(boxes, tf_out["eval_boxes"], rtol=1e-6)
    np.testing.assert_array_equal(classes, tf_out["eval_classes"])


def test_course_nms_matches_tensorflow_on_random_problems():
    """60 problems drawn like the course's (N(1, 4): corners in any order), with identical boxes,
    IoUs exactly at the threshold, equal scores, thresholds 0 and 1, and the boxes
    tf.image.non_max_suppression keeps."""
    g = np.load(DATA / "nms_vs_tf.npz")
    starts = np.concatenate([[0], np.cumsum(g["sizes"])])
    kept_starts = np.concatenate([[0], np.cumsum(g["kept_sizes"])])
    for k, (n, m, t) in enumerate(zip(g["sizes"], g["max_boxes"], g["thresholds"])):
        boxes, scores = g["boxes"][starts[k]:starts[k + 1]], g["scores"][starts[k]:starts[k + 1]]
        _, _, idx = course.yolo_non_max_suppression(scores, boxes, np.arange(n), int(m), float(t))
        np.testing.assert_array_equal(idx, g["kept"][kept_starts[k]:kept_starts[k + 1]], err_msg=f"problem {k}")


def test_course_yolo_boxes_to_corners_and_scale_boxes():
    corners = course.yolo_boxes_to_corners(np.array([[0.5, 0.25]]), np.array([[0.4, 0.1]]))
    np.testing.assert_allclose(corners, [[0.2, 0.3, 0.3, 0.7]])             # (y1, x1, y2, x2)
    np.testing.assert_allclose(course.scale_boxes(corners, (720, 1280)), [[144, 384, 216, 896]])


def test_course_unet_blocks_shapes_and_parameters():
    """The course's summaries: conv_block (96, 128, 3) -> 32 filters: 896 + 9248 parameters,
    pooled to (48, 64); upsampling_block (12, 16, 256) + (24, 32, 128) -> 32 filters:
    73760, 46112 and 9248 parameters."""
    from npvision.segmentation import ConvBlock, UpBlock

    rng = np.random.default_rng(0)
    nxt, skip = course.conv_block(rng.uniform(0, 1, (1, 96, 128, 3)).astype(np.float32), 32)
    assert nxt.shape == (1, 48, 64, 32) and skip.shape == (1, 96, 128, 32) and np.all(skip >= 0)
    block = ConvBlock(3, 32, batchnorm=False)
    assert [p.size for _, p in block.named_parameters()] == [864, 32, 9216, 32]      # 896, 9248
    block = ConvBlock(3, 1024, batchnorm=False, dropout=0.1)                          # the course's block 2
    assert sum(p.size for p in block.parameters()) == 28672 + 9438208
    up = course.upsampling_block(rng.standard_normal((1, 12, 16, 256)).astype(np.float32),
                                 rng.standard_normal((1, 24, 32, 128)).astype(np.float32), 32)
    assert up.shape == (1, 24, 32, 32)
    block = UpBlock(256, 128, 32, batchnorm=False, upsampling="transpose", up_kernel=3)
    assert [sum(p.size for p in m.parameters()) for m in (block.up, block.conv.conv1, block.conv.conv2)] \
        == [73760, 46112, 9248]


def test_course_unet_blocks_match_tensorflow():
    from npvision.segmentation import ConvBlock, UpBlock

    g = np.load(DATA / "blocks_tf.npz")
    block = ConvBlock(3, 4, batchnorm=False)
    for i, conv in enumerate((block.conv1, block.conv2)):
        conv.weight.data, conv.bias.data = g[f"cb_unet_w{2 * i}"], g[f"cb_unet_w{2 * i + 1}"]
    skip = block.forward(g["cb_unet_x"])
    np.testing.assert_allclose(skip, g["cb_unet_skip"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(npvision.nn.MaxPool2D(2).forward(skip), g["cb_unet_next"], rtol=1e-5, atol=1e-5)
    block = UpBlock(6, 2, 4, batchnorm=False, upsampling="transpose", up_kernel=3)
    layers = (block.up, block.conv.conv1, block.conv.conv2)
    for i, layer in enumerate(layers):
        layer.weight.data, layer.bias.data = g[f"up_unet_w{2 * i}"], g[f"up_unet_w{2 * i + 1}"]
    np.testing.assert_allclose(block.forward(g["up_unet_x"], g["up_unet_skip"]), g["up_unet_out"],
                               rtol=1e-5, atol=1e-5)


# ============================================================================= week 4
from npvision.grading.cases_week4 import course_week4_inputs  # noqa: E402

W4 = course_week4_inputs()


def _tf32(x):
    """float32 values rounded to TF32 (10 mantissa bits, to nearest even), as a TF32 matmul reads them."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0xFFF + ((bits >> 13) & 1)) & ~np.uint64(0x1FFF)
    return rounded.astype(np.uint32).view(np.float32)


def test_course_triplet_loss():
    """The course's cell and public test: the printed 527.2598, then its six hand-made asserts."""
    y_true = (None, None, None)
    y_pred = (W4["triplet_anchor"], W4["triplet_positive"], W4["triplet_negative"])
    loss = course.triplet_loss(y_true, y_pred)
    assert isinstance(loss, np.float32)
    assert abs(loss - 527.2598) < 1e-4                     # prints "loss = tf.Tensor(527.2598, ...)"
    assert loss == W4["tf_triplet_loss"]
    assert course.triplet_loss(y_true, ([1., 1.], [1., 1.], [1., 1.]), 5) == 5
    assert course.triplet_loss(y_true, ([1., 1.], [1., 1.], [0., 0.]), 3) == 1.
    assert course.triplet_loss(y_true, ([1., 1.], [0., 0.], [1., 1.]), 0) == 2.
    assert course.triplet_loss(y_true, ([0., 0.], [0., 0.], [0., 0.]), -2) == 0
    assert course.triplet_loss(y_true, ([[1., 0.], [1., 0.]], [[1., 0.], [1., 0.]], [[0., 1.], [0., 1.]]), 3) == 2.
    assert course.triplet_loss(y_true, ([[1., 1.], [2., 0.]], [[0., 3.], [1., 1.]], [[1., 0.], [0., 1.]]), 1) == 5
    with pytest.raises(ValueError, match=r"y_pred: expected \(anchor, positive, negative\)"):
        course.triplet_loss(y_true, (W4["triplet_anchor"], W4["triplet_positive"]))


def test_course_compute_content_cost():
    a_C, a_G = W4["content_a_C"], W4["content_a_G"]        # (1, 1, 4, 4, 3), as the course draws them
    J_content = course.compute_content_cost(a_C, a_G)
    J_content_0 = course.compute_content_cost(a_C, a_C)
    assert isinstance(J_content, np.float32)
    assert np.isclose(J_content, 7.0568767)                # the course's assert and print
    assert abs(J_content - 7.0568767) < 5e-7 and J_content_0 == 0.0
    assert np.isclose(J_content, W4["tf_content_cost"], rtol=1e-6)


def test_course_gram_matrix():
    A = W4["gram_A"]                                       # (3, 2) = (n_C, n_H * n_W)
    GA = course.gram_matrix(A)
    assert GA.shape == (3, 3) and GA.dtype == np.float32
    np.testing.assert_allclose(GA, W4["tf_gram"], rtol=1e-6)                     # TensorFlow on this CPU
    np.testing.assert_allclose(GA[0], [63.1888, -26.721277, -7.7320204], rtol=1e-6)
    # the course's assert and print, on its GPU: the same product of TF32-rounded inputs
    assert np.allclose(course.gram_matrix(_tf32(A))[0], [63.193256, -26.729713, -7.732155])
    assert not np.allclose(GA[0], [63.193256, -26.729713, -7.732155])             # the exact one is not


def test_course_compute_layer_style_cost():
    a_S, a_G = W4["style_a_S"], W4["style_a_G"]
    J_GG = course.compute_layer_style_cost(a_G, a_G)
    J_SG = course.compute_layer_style_cost(a_S, a_G)
    assert np.isclose(J_GG, 0.0) and J_SG > 0
    assert np.isclose(J_SG, W4["tf_layer_style_cost"], rtol=1e-6) and abs(J_SG - 14.017805) < 2e-5
    assert np.isclose(course.compute_layer_style_cost(_tf32(a_S), _tf32(a_G)), 14.01649)   # the course's number


def test_course_compute_style_cost_and_total_cost():
    S = [W4[f"multi_S{i}"] for i in range(6)]              # five style layers, then the content layer
    G = [W4[f"multi_G{i}"] for i in range(6)]
    J_style = course.compute_style_cost(S, G)
    assert np.isclose(J_style, W4["tf_style_cost"], rtol=1e-5)
    # by hand: the weighted sum of the five layer costs; the content layer is left out
    by_hand = sum(0.2 * course.compute_layer_style_cost(s, g) for s, g in zip(S[:5], G[:5]))
    assert np.isclose(J_style, by_hand, rtol=1e-6)
    assert not np.isclose(J_style, by_hand + 0.2 * course.compute_layer_style_cost(S[5], G[5]), rtol=1e-6)
    layers = [("block1_conv1", 1.0), ("block2_conv1", 0.0)]
    assert np.isclose(course.compute_style_cost(S[:2] + S[5:], G[:2] + G[5:], STYLE_LAYERS=layers),
                      course.compute_layer_style_cost(S[0], G[0]), rtol=1e-6)
    # total_cost_test: the course's two asserts (it prints J = 34)
    assert np.isclose(course.total_cost(0.2, 0.8), 34)
    assert np.isclose(course.total_cost(0.3, 0.5, 3, 8), 4.9)


def test_course_verify_and_who_is_it(capsys):
    """The course's door on a small fixed encoder and synthetic faces (the grader's scene): its prints,
    its returns, and where it differs from npvision.face (the nearest identity of a stranger)."""
    from npvision import face
    from npvision.grading.cases_week4 import face_scene
    model, people, camera, stranger, db = face_scene()
    enc = course.img_to_encoding(camera["younes"], model)
    assert enc.shape == (1, 16) and np.isclose(np.linalg.norm(enc), 1.0)
    dist, door_open = course.verify(camera["younes"], "younes", db, model)
    assert door_open and np.isclose(dist, np.linalg.norm(enc - db["younes"]), rtol=1e-6) and dist < 0.7
    assert capsys.readouterr().out == "It's younes, welcome in!\n"
    dist, door_open = course.verify(camera["tian"], "kian", db, model)
    assert not door_open and dist > 0.7
    assert capsys.readouterr().out == "It's not kian, please go away\n"
    min_dist, identity = course.who_is_it(people["younes"], db, model)
    assert identity == "younes" and np.isclose(min_dist, 0.0, atol=1e-6)
    assert capsys.readouterr().out.startswith("it's younes, the distance is ")
    min_dist, identity = course.who_is_it(stranger, db, model)
    assert identity == "kian" and min_dist > 0.7                    # the course: the nearest, even so
    assert capsys.readouterr().out == "Not in the database.\n"
    assert face.who_is_it(stranger, db, course.week4._CourseEncoder(model))[1] is None     # npvision: unknown
    with pytest.raises(KeyError, match="'bob' is not in the database"):
        course.verify(camera["younes"], "bob", db, model)
    with pytest.raises(ValueError, match="database: expected a non-empty mapping"):
        course.who_is_it(stranger, {}, model)


def test_course_week4_errors():
    with pytest.raises(ValueError, match=r"a_G: has shape \(1, 4, 4, 3\) but a_S has \(1, 2, 2, 3\)"):
        course.compute_layer_style_cost(np.ones((1, 2, 2, 3)), np.ones((1, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"content_output\[-1\]: expected .*\(1, n_H, n_W, n_C\)"):
        course.compute_content_cost([np.ones((4, 4, 3))], [np.ones((4, 4, 3))])
    with pytest.raises(ValueError, match=r"A: expected .*\(n_C, n_H \* n_W\)"):
        course.gram_matrix(np.ones((1, 2, 2, 3)))
    with pytest.raises(ValueError, match="fewer than two outputs"):
        course.compute_style_cost([np.ones((1, 2, 2, 3))], [np.ones((1, 2, 2, 3))])
    with pytest.raises(TypeError, match="alpha: expected a finite number"):
        course.total_cost(1.0, 2.0, alpha="10")
