"""The grader's tests for week 2: ResNet's identity and convolutional blocks, and the data augmenter.

The blocks have weights, so every case fixes them: the course's own checks
pass ``initializer=lambda seed=0: constant(value=1)`` (all weights 1), and the
random cases pass :func:`shape_seeded`, whose weights depend only on the seed
and the weight's shape (so a student's block gets the reference's weights
whatever order it builds its layers in, provided it calls
``initializer(seed=0)(shape)`` for every convolution, as the course does).
Both modes of BatchNorm are tested: ``training=True`` (batch statistics) and
``training=False`` (running statistics, 0 and 1 in a fresh block).

The data augmenter is random, so its cases check what the course's test checks
(two layers, a horizontal ``RandomFlip`` then a ``RandomRotation`` of factor 0.2)
and what the layers do: the flip returns the image or its mirror, both over a
few draws; ``training=False`` changes nothing.
"""

from __future__ import annotations

import zlib

import numpy as np

from .. import course
from ._compare import Mismatch
from ._runner import Case

__all__ = ["shape_seeded", "identity_block_cases", "convolutional_block_cases", "data_augmenter_cases"]

INIT_HINT = ("build every convolution's weight with initializer(seed=0)(shape), shape (f, f, n_C_prev, F), "
             "and give it a zero bias, as the course's Conv2D(..., kernel_initializer=initializer(seed=0))")


def shape_seeded(seed=0):
    """An initializer factory whose draws depend on ``seed`` and the weight's shape only.

    ``shape_seeded(seed=0)(shape)`` is ``U(-0.5, 0.5)`` from a generator seeded by
    ``seed`` and a checksum of ``shape``: the same shape always gets the same weights.
    """
    def init(shape, dtype=None):
        key = zlib.crc32(repr((int(seed), tuple(int(n) for n in shape))).encode())
        w = np.random.default_rng(key).uniform(-0.5, 0.5, tuple(shape))
        return w.astype(dtype or np.float32)
    return init


def _course_ones(seed=0):
    """The course's test initializer: ``lambda seed=0: constant(value=1)``."""
    return course.constant(value=1)


def _course_x() -> np.ndarray:
    """The course's test input: three 4x4x3 images of -1, 1 and 3, float32."""
    return np.concatenate([np.ones((1, 4, 4, 3)) * -1, np.ones((1, 4, 4, 3)) * 1,
                           np.ones((1, 4, 4, 3)) * 3], axis=0).astype(np.float32)


def identity_block_cases() -> list[Case]:
    x = _course_x()
    cases = [Case("the course's check: X (3, 4, 4, 3) of -1, 1 and 3, f 2, filters [4, 4, 3], "
                  "weights all 1, training=False", (x,), dict(f=2, filters=[4, 4, 3], training=False,
                                                              initializer=_course_ones),
                  kind="course", hint=INIT_HINT),
             Case("the course's check: the same X, f 3, filters [3, 3, 3], weights all 1, training=True",
                  (x,), dict(f=3, filters=[3, 3, 3], training=True, initializer=_course_ones),
                  kind="course", hint=INIT_HINT)]
    rng = np.random.default_rng(201)
    for shape, f, filters in [((2, 5, 6, 3), 3, [2, 5, 3]), ((1, 4, 4, 4), 2, [3, 2, 4]),
                              ((3, 3, 5, 2), 1, [4, 3, 2])]:
        xr = rng.standard_normal(shape).astype(np.float32)
        for training in (True, False):
            cases.append(Case(f"X {shape}, f {f}, filters {filters}, training={training}, seeded weights",
                              (xr,), dict(f=f, filters=filters, training=training, initializer=shape_seeded),
                              hint=INIT_HINT))
    return cases


def convolutional_block_cases() -> list[Case]:
    x = _course_x()
    cases = [Case("the course's check: X (3, 4, 4, 3), f 2, s 4, filters [2, 4, 6] (shape (3, 1, 1, 6))",
                  (x,), dict(f=2, filters=[2, 4, 6], s=4, training=False, initializer=_course_ones),
                  kind="course", hint="the stride s goes on the first 1x1 convolution and on the shortcut's"),
             Case("the course's check: X (3, 4, 4, 3), f 2, filters [2, 4, 6], glorot_uniform weights, "
                  "training=False", (x,), dict(f=2, filters=[2, 4, 6], training=False,
                                                initializer=course.glorot_uniform),
                  kind="course", hint=INIT_HINT),
             Case("the course's check: the same, training=True", (x,),
                  dict(f=2, filters=[2, 4, 6], training=True, initializer=course.glorot_uniform),
                  kind="course", hint=INIT_HINT)]
    rng = np.random.default_rng(202)
    for shape, f, filters, s in [((2, 6, 5, 3), 3, [2, 4, 5], 2), ((1, 7, 7, 2), 2, [3, 3, 4], 3),
                                 ((2, 4, 6, 3), 1, [2, 2, 3], 1)]:
        xr = rng.standard_normal(shape).astype(np.float32)
        for training in (True, False):
            cases.append(Case(f"X {shape}, f {f}, filters {filters}, s {s}, training={training}, seeded weights",
                              (xr,), dict(f=f, filters=filters, s=s, training=training,
                                          initializer=shape_seeded), hint=INIT_HINT))
    return cases


# ----------------------------------------------------------------------------- data_augmenter

def _layers(augmenter):
    layers = getattr(augmenter, "layers", None)
    if layers is None:
        raise Mismatch(f"output augmenter: expected an Augmenter with a .layers list (course.Augmenter), "
                       f"received {type(augmenter).__name__}")
    return list(layers)


def _check_structure(augmenter, _expected) -> None:
    layers = _layers(augmenter)
    if len(layers) != 2:
        raise Mismatch(f"output augmenter: expected 2 layers (RandomFlip, RandomRotation), received {len(layers)}: "
                       f"{layers!r}")
    flip, rotation = layers
    if not getattr(flip, "name", "").startswith("random_flip"):
        raise Mismatch(f"output augmenter.layers[0]: expected a RandomFlip first, received {flip!r}")
    if getattr(flip, "mode", None) != "horizontal":
        raise Mismatch(f"output augmenter.layers[0].mode: expected 'horizontal', received "
                       f"{getattr(flip, 'mode', None)!r}")
    if not getattr(rotation, "name", "").startswith("random_rotation"):
        raise Mismatch(f"output augmenter.layers[1]: expected a RandomRotation second, received {rotation!r}")
    factor = getattr(rotation, "factor", None)
    if factor is None or not np.isclose(factor, 0.2):
        raise Mismatch(f"output augmenter.layers[1].factor: expected 0.2 (a fraction of a full turn), "
                       f"received {factor!r}")


def _check_behaviour(augmenter, _expected) -> None:
    layers = _layers(augmenter)
    image = np.arange(2 * 4 * 5 * 3, dtype=np.float64).reshape(2, 4, 5, 3) / 100.0   # no symmetry
    mirrored = image[:, :, ::-1, :]
    seen = set()
    for _ in range(40):
        out = np.asarray(layers[0](image))
        if out.shape != image.shape:
            raise Mismatch(f"output augmenter.layers[0](images): expected shape {image.shape}, received {out.shape}")
        for n in range(len(image)):
            if np.allclose(out[n], image[n]):
                seen.add("kept")
            elif np.allclose(out[n], mirrored[n]):
                seen.add("mirrored")
            else:
                raise Mismatch("output augmenter.layers[0]: a horizontal flip returns each image or its "
                               "left-right mirror, received something else (a vertical flip?)")
    if seen != {"kept", "mirrored"}:
        raise Mismatch(f"output augmenter.layers[0]: over 80 images the flip only ever {seen.pop()} them; "
                       f"it should mirror about half")
    out = np.asarray(augmenter(image))
    if out.shape != image.shape:
        raise Mismatch(f"output augmenter(images): expected shape {image.shape}, received {out.shape}")
    if not np.allclose(np.asarray(augmenter(image, training=False)), image):
        raise Mismatch("output augmenter(images, training=False): expected the images unchanged")


def data_augmenter_cases() -> list[Case]:
    return [Case("the course's check: two layers, RandomFlip('horizontal') then RandomRotation(0.2)",
                 kind="course", expected=None, check=_check_structure),
            Case("the layers at work: the flip mirrors some images left-right and keeps the others; "
                 "training=False changes nothing", kind="random", expected=None, check=_check_behaviour)]
