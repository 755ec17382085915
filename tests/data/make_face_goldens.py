"""Regenerate tests/data/face_course_triplet.npz by hand (never run by the tests).

The course's ``triplet_loss`` unit test (week 4, "Face Recognition") draws its
three random encodings with TensorFlow's seeded generator and prints
``loss = tf.Tensor(527.2598, shape=(), dtype=float32)``. This script redraws
exactly those tensors with TensorFlow (``/work/venv-tf``), stores them, and
stores TensorFlow's own value of the course's formula on them, so that
``tests/test_face_losses.py`` can feed the same numbers to
``npvision.face.triplet_loss`` without TensorFlow installed.

    /work/venv-tf/bin/python tests/data/make_face_goldens.py
"""

import os

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    # the course's cell, verbatim in its calls and their order
    tf.random.set_seed(1)
    anchor = tf.keras.backend.random_normal([3, 128], mean=6, stddev=0.1, seed=1)
    positive = tf.keras.backend.random_normal([3, 128], mean=1, stddev=1, seed=1)
    negative = tf.keras.backend.random_normal([3, 128], mean=3, stddev=4, seed=1)
    alpha = 0.2
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    loss = tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))
    print("loss =", loss)
    np.savez(os.path.join(HERE, "face_course_triplet.npz"),
             anchor=anchor.numpy(), positive=positive.numpy(), negative=negative.numpy(),
             tf_loss=np.float32(loss.numpy()), tf_version=np.array(tf.__version__))


if __name__ == "__main__":
    main()
