"""The numbers of the course's "Convolutional Model: Step by Step" exercise.

Course 4 (Convolutional Neural Networks), week 1, assignment 1 of the Deep
Learning Specialization asks students to write ``zero_pad``,
``conv_single_step``, ``conv_forward``, ``pool_forward``, ``conv_backward`` and
``pool_backward`` with loops, and prints the values a correct solution gives.
Those values must come out of :mod:`npvision.functional` unchanged, through the
default backend and through the naive loop kernels.

Every input is drawn exactly as the exercise draws it: ``np.random.seed(1)``
then ``np.random.randn(...)`` calls in the exercise's order. The course's bias
``b`` has shape ``(1, 1, 1, n_C)``; npvision's is ``(n_C,)``, so it is reshaped.
The course's conv backward is called with ``dZ = Z`` and uses the forward's
padding; its pooling has no padding.

Two versions of the notebook circulate:

- the current one (2021 onward), tested in full here: ``zero_pad`` with pad 3,
  ``conv_forward`` on ``A_prev (2, 5, 7, 4)``, ``pool_forward`` on
  ``A_prev (2, 5, 5, 3)`` with stride 1 and 2;
- the older one (2017-2020), whose ``zero_pad`` used pad 2, ``conv_forward``
  ``A_prev (10, 4, 4, 3)`` and ``pool_forward`` ``A_prev (2, 4, 4, 3)``: its
  printed values are tested too, as they are known completely.

Both versions check ``conv_backward`` on the older ``conv_forward`` inputs
(``A_prev (10, 4, 4, 3)``, ``W (2, 2, 3, 8)``, pad 2, stride 2), and share
``conv_single_step`` and ``pool_backward``; the current version prints more
digits (``dA_mean = 1.4524377775388075``), the older one 11 decimals
(``1.45243777754``), which agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import npvision
import npvision.functional as F

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
