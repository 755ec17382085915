"""Regenerate the course's week-4 test tensors and TensorFlow's values of the course's functions.

Run by hand with the TensorFlow environment (TF 2.21 reproduces the course's seeded draws
exactly); npvision's tests and its grader then read the file and never need TensorFlow::

    /work/venv-tf/bin/python tests/data/make_course_week4_goldens.py

It writes ``npvision/course/data/course_week4.npz`` (shipped with npvision: the grader's
"course" cases feed these exact tensors to a student's function):

* ``triplet_anchor/positive/negative`` (3, 128): the course's ``triplet_loss`` test
  (``tf.random.set_seed(1)``, then ``tf.keras.backend.random_normal([3, 128], mean=6,
  stddev=0.1, seed=1)``, ``mean=1, stddev=1``, ``mean=3, stddev=4``); the course prints
  ``loss = 527.2598``;
* ``content_a_C/a_G`` (1, 1, 4, 4, 3): ``compute_content_cost_test`` (seed 1,
  ``tf.random.normal(..., mean=1, stddev=4)`` twice); the course prints 7.0568767;
* ``gram_A`` (3, 2): ``gram_matrix_test``;
* ``style_a_S/a_G`` (1, 4, 4, 3): ``compute_layer_style_cost_test``;
* ``multi_S{i}/multi_G{i}``, i = 0..5: the outputs of a model with the course's five style
  layers plus its content layer last (seed 2, shapes of a small VGG), for
  ``compute_style_cost`` (which the course does not test with numbers);

and ``tf_*``: the course's TensorFlow functions evaluated on them in float32 (on this CPU:
no TF32 rounding, so the Gram matrix is 63.1888... where the course's GPU printed 63.193256).
The functions below follow the course's notebook; they are references, not npvision code.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, "..", "..", "npvision", "course", "data")
STYLE_LAYERS = [("block1_conv1", 0.2), ("block2_conv1", 0.2), ("block3_conv1", 0.2),
                ("block4_conv1", 0.2), ("block5_conv1", 0.2)]


def tf_triplet_loss(y_pred, alpha=0.2):
    anchor, positive, negative = y_pred
    pos_dist = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg_dist = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos_dist - neg_dist + alpha, 0.0))


def tf_content_cost(content_output, generated_output):
    a_C, a_G = content_output[-1], generated_output[-1]
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)


def tf_gram(A):
    return tf.matmul(A, tf.transpose(A))


def tf_layer_style_cost(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    S = tf.transpose(tf.reshape(a_S, [-1, n_C]))
    G = tf.transpose(tf.reshape(a_G, [-1, n_C]))
    return tf.reduce_sum(tf.square(tf_gram(S) - tf_gram(G))) / (4.0 * n_C ** 2 * (n_H * n_W) ** 2)


def tf_style_cost(style_image_output, generated_image_output, style_layers=STYLE_LAYERS):
    J_style = 0.0
    for i, (_, weight) in enumerate(style_layers):
        J_style += weight * tf_layer_style_cost(style_image_output[:-1][i], generated_image_output[:-1][i])
    return J_style


def main() -> None:
    out = {}
    tf.random.set_seed(1)                                   # the course's triplet_loss cell
    y_pred = (tf.keras.backend.random_normal([3, 128], mean=6, stddev=0.1, seed=1),
              tf.keras.backend.random_normal([3, 128], mean=1, stddev=1, seed=1),
              tf.keras.backend.random_normal([3, 128], mean=3, stddev=4, seed=1))
    out.update(triplet_anchor=y_pred[0].numpy(), triplet_positive=y_pred[1].numpy(),
               triplet_negative=y_pred[2].numpy(), tf_triplet_loss=tf_triplet_loss(y_pred).numpy())

    tf.random.set_seed(1)                                   # compute_content_cost_test
    a_C = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    out.update(content_a_C=a_C.numpy(), content_a_G=a_G.numpy(), tf_content_cost=tf_content_cost(a_C, a_G).numpy())

    tf.random.set_seed(1)                                   # gram_matrix_test
    A = tf.random.normal([3, 2 * 1], mean=1, stddev=4)
    out.update(gram_A=A.numpy(), tf_gram=tf_gram(A).numpy())

    tf.random.set_seed(1)                                   # compute_layer_style_cost_test
    a_S = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    out.update(style_a_S=a_S.numpy(), style_a_G=a_G.numpy(), tf_layer_style_cost=tf_layer_style_cost(a_S, a_G).numpy())

    tf.random.set_seed(2)                                   # five style layers, then the content layer
    shapes = [(1, 16, 16, 4), (1, 8, 8, 8), (1, 4, 4, 16), (1, 2, 2, 16), (1, 1, 1, 16), (1, 2, 2, 16)]
    S = [tf.random.normal(s, mean=0.5, stddev=1) for s in shapes]
    G = [tf.random.normal(s, mean=0.5, stddev=1) for s in shapes]
    for i in range(len(shapes)):
        out[f"multi_S{i}"], out[f"multi_G{i}"] = S[i].numpy(), G[i].numpy()
    out["tf_style_cost"] = tf_style_cost(S, G).numpy()

    os.makedirs(PKG, exist_ok=True)
    path = os.path.join(PKG, "course_week4.npz")
    np.savez_compressed(path, tf_version=np.array(tf.__version__), **out)
    print(f"wrote {path}: triplet {out['tf_triplet_loss']}, content {out['tf_content_cost']}, "
          f"GA[0] {out['tf_gram'][0]}, layer style {out['tf_layer_style_cost']}, style {out['tf_style_cost']}")


if __name__ == "__main__":
    main()
