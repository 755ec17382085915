"""Week 4: face recognition and neural style transfer, the course's functions on npvision.

=========================================================  ==========================================
course function                                            npvision function underneath
=========================================================  ==========================================
``triplet_loss(y_true, y_pred, alpha=0.2)``                :func:`npvision.face.triplet_hinge`
``img_to_encoding(image_path, model)`` (given)             :func:`npvision.face.embed`
``verify(image_path, identity, database, model)``          :func:`npvision.face.verify`
``who_is_it(image_path, database, model)``                 :func:`npvision.face.who_is_it`
``compute_content_cost(content_output, generated_output)`` :func:`npvision.style.content_cost`
``gram_matrix(A)``                                         :func:`npvision.style.gram_matrix`
``compute_layer_style_cost(a_S, a_G)``                     :func:`npvision.style.layer_style_cost`
``compute_style_cost(style_image_output,                   :func:`npvision.style.style_cost`
generated_image_output, STYLE_LAYERS=STYLE_LAYERS)``
``total_cost(J_content, J_style, alpha=10, beta=40)``      :func:`npvision.style.total_cost`
=========================================================  ==========================================

The course's versions return TensorFlow scalars; these return NumPy scalars of
the inputs' float dtype (``np.float32`` for the course's float32 tensors), so
``float(J)`` and ``np.isclose(J, ...)`` work the same. Where the course's
convention differs from npvision's, these follow the course; each docstring says
where and why. npvision's own functions also return gradients (they drive the
training and the image optimization); these return what the course returns.

    >>> from npvision import course
    >>> course.total_cost(0.2, 0.8)          # the course's check prints J = 34
    34.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from .. import face, style
from .._checks import as_float_array

__all__ = ["triplet_loss", "img_to_encoding", "verify", "who_is_it", "compute_content_cost", "gram_matrix",
           "compute_layer_style_cost", "compute_style_cost", "total_cost", "STYLE_LAYERS"]

#: The course's style layers of VGG-19 and their weights (it uses 0.2 for each of five).
STYLE_LAYERS = [("block1_conv1", 0.2), ("block2_conv1", 0.2), ("block3_conv1", 0.2),
                ("block4_conv1", 0.2), ("block5_conv1", 0.2)]

#: The course's distance threshold for a match.
THRESHOLD = 0.7


def _float_type(*arrays) -> type:
    """The NumPy float type of the result: the inputs' common float dtype (float64 for ints/lists)."""
    dtype = np.result_type(*[np.asarray(a).dtype for a in arrays])
    return dtype.type if dtype.kind == "f" else np.float64


# ----------------------------------------------------------------------------- face recognition

def triplet_loss(y_true, y_pred, alpha=0.2):
    """The course's triplet loss: ``sum_i max(||A_i - P_i||^2 - ||A_i - N_i||^2 + alpha, 0)``.

    y_true : unused (Keras' loss signature; the course passes ``(None, None, None)``).
    y_pred : ``(anchor, positive, negative)``, each ``(m, 128)`` (or ``(128,)``), the
        encodings of the anchor, the positive and the negative images.
    alpha : the margin.

    Returns the loss, a NumPy float scalar (the course: a TF scalar), summed over
    the batch, with the distances summed over the LAST axis (``axis=-1``).

    Differs from npvision: :func:`npvision.face.triplet_loss` takes the three
    arrays as arguments, returns the gradients too, and refuses a negative
    margin; the course's test calls this with ``alpha = -2``, so this one wraps
    :func:`npvision.face.triplet_hinge`, which accepts any margin.
    """
    if not isinstance(y_pred, (tuple, list)) or len(y_pred) != 3:
        raise ValueError(f"y_pred: expected (anchor, positive, negative), three arrays of encodings, "
                         f"received {type(y_pred).__name__}"
                         + (f" of {len(y_pred)} item(s)" if isinstance(y_pred, (tuple, list)) else ""))
    anchor, positive, negative = y_pred
    loss, _ = face.triplet_hinge(anchor, positive, negative, alpha)
    return _float_type(anchor, positive, negative)(loss)


def _course_image(image, model) -> np.ndarray:
    """An image path (read with npvision.data.read_image) or array -> ``(1, H, W, C)`` floats."""
    if isinstance(image, (str, os.PathLike)):
        from ..data import read_image
        channels = getattr(model, "config", {}).get("in_channels", 3)
        image = read_image(image, channels=channels)
    image = as_float_array(image, "image_path", ndim=(3, 4), layout="a path, (H, W, C) or (1, H, W, C)")
    if image.ndim == 3:
        image = image[None]                                          # (H, W, C) -> (1, H, W, C)
    if len(image) != 1:
        raise ValueError(f"image_path: expected one image, received a batch of {len(image)}")
    return image


def img_to_encoding(image_path, model) -> np.ndarray:
    """The course's (given) ``img_to_encoding``: the model's encoding of one image, of length 1.

    image_path : a path to an image file (read as floats in [0, 1]), or the
        image itself, ``(H, W, C)`` or ``(1, H, W, C)``.
    model : an npvision Module mapping ``(1, H, W, C)`` to ``(1, d)``.

    Returns ``(1, d)`` float32: ``f(x) / ||f(x)||`` (the course divides by the L2
    norm). The course's version also resizes the file to FaceNet's 160 x 160;
    here a file is read at its own size, which must be the model's input size.
    """
    encoding = face.embed(model, _course_image(image_path, model))   # (1, d)
    return encoding / np.linalg.norm(encoding)


class _CourseEncoder:
    """The ``model`` npvision.face.verify / who_is_it call: encodes as the course's img_to_encoding."""

    def __init__(self, model):
        self.model = model

    def encode(self, image) -> np.ndarray:
        return img_to_encoding(image, self.model)


def verify(image_path, identity, database, model):
    """The course's ``verify``: is the person on ``image_path`` really ``identity``?

    database : mapping name -> encoding (``(1, d)``, as :func:`img_to_encoding` makes it).
    Prints "It's <identity>, welcome in!" or "It's not <identity>, please go away".
    Returns ``(dist, door_open)``: the L2 distance (not squared) between the
    image's encoding and ``database[identity]``, and ``dist < 0.7``.

    Same as :func:`npvision.face.verify` (with the course's encoding and threshold 0.7).
    """
    dist, door_open = face.verify(_course_image(image_path, model), identity, database, _CourseEncoder(model),
                                  threshold=THRESHOLD)
    print(f"It's {identity}, welcome in!" if door_open else f"It's not {identity}, please go away")
    return dist, door_open


def who_is_it(image_path, database, model):
    """The course's ``who_is_it``: the database's identity nearest to the person on ``image_path``.

    Prints "Not in the database." when the smallest distance is above 0.7, else
    "it's <identity>, the distance is <min_dist>". Returns ``(min_dist, identity)``.

    Differs from npvision, in two ways that are the course's: the identity
    returned is the NEAREST one even when the face is not in the database
    (:func:`npvision.face.who_is_it` returns ``None`` then), and a distance of
    exactly 0.7 counts as a match (``min_dist > 0.7`` means unknown, where
    npvision, like the course's ``verify``, needs ``dist < 0.7``).
    """
    if not isinstance(database, Mapping) or len(database) == 0:
        raise ValueError(f"database: expected a non-empty mapping name -> encoding, received "
                         f"{type(database).__name__}" + (" (empty)" if isinstance(database, Mapping) else ""))
    # npvision's who_is_it with no threshold: the nearest identity, always
    min_dist, identity = face.who_is_it(_course_image(image_path, model), database, _CourseEncoder(model),
                                        threshold=np.inf)
    if min_dist > THRESHOLD:
        print("Not in the database.")
    else:
        print(f"it's {identity}, the distance is {min_dist}")
    return min_dist, identity


# ----------------------------------------------------------------------------- neural style transfer

def _one_activation(a, name: str) -> np.ndarray:
    a = as_float_array(a, name, ndim=4, layout="(1, n_H, n_W, n_C)")
    if a.shape[0] != 1:
        raise ValueError(f"{name}: expected the activation of one image, (1, n_H, n_W, n_C), received shape "
                         f"{a.shape}")
    return a


def compute_content_cost(content_output, generated_output):
    """The course's content cost: ``J = sum((a_C - a_G)**2) / (4 n_H n_W n_C)``.

    content_output, generated_output : the model's outputs for the content and
        the generated image; the LAST item is the content layer's activation
        ``(1, n_H, n_W, n_C)`` (the course's ``content_output[-1]``; its test
        passes ``(1, 1, 4, 4, 3)`` arrays, whose last item is ``(1, 4, 4, 3)``).
    Returns ``J_content``, a NumPy float scalar.

    Same as :func:`npvision.style.content_cost` on ``(content_output[-1], generated_output[-1])``,
    which also returns the gradient.
    """
    a_C = _one_activation(content_output[-1], "content_output[-1]")
    a_G = _one_activation(generated_output[-1], "generated_output[-1]")
    J, _ = style.content_cost(a_C, a_G)
    return _float_type(a_C, a_G)(J)


def gram_matrix(A) -> np.ndarray:
    """The course's Gram matrix ``GA = A A^T`` of an unrolled activation ``A`` ``(n_C, n_H n_W)``.

    Returns ``(n_C, n_C)``. npvision's :func:`npvision.style.gram_matrix` takes the
    activation itself ``(n_H, n_W, n_C)`` and unrolls it the other way (``A^T A``
    with ``A`` ``(n_H n_W, n_C)``, the same matrix); given a 2-D array it computes
    the course's ``A A^T``, which this calls.

    The course's test asserts and prints ``GA[0] = [63.193256, -26.729713, -7.732155]``,
    which its GPU computed in TF32 (inputs rounded to 10 mantissa bits); the exact
    product of the same ``A``, which this returns and TensorFlow on a CPU gives, is
    ``[63.1888, -26.721277, -7.7320204]`` (the course's assert fails on a CPU).
    """
    A = as_float_array(A, "A", ndim=2, layout="(n_C, n_H * n_W)")
    return style.gram_matrix(A)


def compute_layer_style_cost(a_S, a_G):
    """The course's style cost of one layer: ``sum((G_S - G_G)**2) / (4 n_C**2 (n_H n_W)**2)``.

    a_S, a_G : ``(1, n_H, n_W, n_C)`` activations of the style and the generated image.
    Returns ``J_style_layer``, a NumPy float scalar.

    Same as :func:`npvision.style.layer_style_cost` (which also returns the gradient).
    The course's test asserts 14.01649 (its GPU's TF32 products); the exact value on
    its inputs, which this returns, is 14.017805.
    """
    a_S, a_G = _one_activation(a_S, "a_S"), _one_activation(a_G, "a_G")
    if a_S.shape != a_G.shape:
        raise ValueError(f"a_G: has shape {a_G.shape} but a_S has {a_S.shape}; the course's cost compares the "
                         f"same layer of two images of the same size")
    J, _ = style.layer_style_cost(a_S, a_G)
    return _float_type(a_S, a_G)(J)


def compute_style_cost(style_image_output, generated_image_output, STYLE_LAYERS=STYLE_LAYERS):  # noqa: N803
    """The course's style cost: ``J_style = sum_l lambda^[l] J_style^[l]`` over the style layers.

    style_image_output, generated_image_output : the model's outputs (lists of
        ``(1, n_H, n_W, n_C)`` activations): one per style layer, then the content
        layer LAST, which is left out (the course's ``[:-1]``).
    STYLE_LAYERS : ``(layer name, weight)`` pairs, one per style layer, in order.
    Returns ``J_style``, a NumPy float scalar.

    Same as :func:`npvision.style.style_cost` on the outputs without their last
    item (it also returns the gradients). Like the course's ``zip``, a weight
    list longer or shorter than the outputs is cut to the shorter of the two.
    """
    a_S, a_G = list(style_image_output)[:-1], list(generated_image_output)[:-1]
    if len(a_S) != len(a_G):
        raise ValueError(f"generated_image_output: has {len(a_G) + 1} outputs but style_image_output has "
                         f"{len(a_S) + 1}; both come from the same model")
    n = min(len(a_S), len(STYLE_LAYERS))
    if n == 0:
        raise ValueError("style_image_output: expected the style layers' outputs followed by the content "
                         "layer's; received fewer than two outputs (or no STYLE_LAYERS)")
    a_S = [_one_activation(a, f"style_image_output[{i}]") for i, a in enumerate(a_S[:n])]
    a_G = [_one_activation(a, f"generated_image_output[{i}]") for i, a in enumerate(a_G[:n])]
    J, _ = style.style_cost(a_S, a_G, list(STYLE_LAYERS)[:n])
    return _float_type(*a_S, *a_G)(J)


def total_cost(J_content, J_style, alpha=10, beta=40):
    """The course's total cost ``J = alpha J_content + beta J_style`` (``alpha=10``, ``beta=40``).

    Same as :func:`npvision.style.total_cost`.
    """
    return style.total_cost(J_content, J_style, alpha, beta)
