"""Regenerate tests/data/style/course_inputs.npz (run by hand, with TensorFlow).

The course's tests for the neural style transfer exercise draw their inputs with
TensorFlow's seeded generator; TF 2.x reproduces them exactly. This script draws
the same tensors, evaluates the course's formulas in TensorFlow, takes their
gradients with a GradientTape, and stores everything in float32 as TF made it:

    /work/venv-tf/bin/python tests/data/style/make_style_goldens.py

tests/test_style_costs.py feeds the stored tensors to npvision.style and asserts
the numbers the course prints (J_content = 7.0568767, GA[0] = [63.193256,
-26.729713, -7.732155], J_style_layer = 14.01649) and TF's gradients.
"""

import os

import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))


def content_cost_tf(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)


def gram_tf(A):                      # A: (n_C, n_H n_W)
    return tf.matmul(A, A, transpose_b=True)


def layer_style_cost_tf(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    S = tf.transpose(tf.reshape(a_S, [n_H * n_W, n_C]))
    G = tf.transpose(tf.reshape(a_G, [n_H * n_W, n_C]))
    return tf.reduce_sum(tf.square(gram_tf(S) - gram_tf(G))) / (4.0 * n_C ** 2 * (n_H * n_W) ** 2)


def main():
    out = {}
    # ex 1: compute_content_cost_test draws two (1, 1, 4, 4, 3) tensors after set_seed(1)
    tf.random.set_seed(1)
    a_C = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    c, g = tf.reshape(a_C, [1, 4, 4, 3]), tf.Variable(tf.reshape(a_G, [1, 4, 4, 3]))
    with tf.GradientTape() as tape:
        J = content_cost_tf(c, g)
    out.update(content_a_C=a_C.numpy(), content_a_G=a_G.numpy(), content_J_tf=J.numpy(),
               content_grad_tf=tape.gradient(J, g).numpy())

    # ex 2: gram_matrix_test draws A (3, 2) = (n_C, n_H n_W) after set_seed(1)
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2 * 1], mean=1, stddev=4)
    out.update(gram_A=A.numpy(), gram_GA_tf=gram_tf(A).numpy())

    # ex 3: compute_layer_style_cost_test draws a_S, a_G (1, 4, 4, 3) after set_seed(1)
    tf.random.set_seed(1)
    a_S = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    g = tf.Variable(a_G)
    with tf.GradientTape() as tape:
        J = layer_style_cost_tf(a_S, g)
    out.update(style_a_S=a_S.numpy(), style_a_G=a_G.numpy(), style_J_tf=J.numpy(),
               style_grad_tf=tape.gradient(J, g).numpy())

    # ex 4 (compute_style_cost, given to the learners): STYLE_LAYERS weights 0.2 over
    # five layers; here three layers of different shapes, drawn after set_seed(2)
    tf.random.set_seed(2)
    shapes = [(1, 8, 8, 4), (1, 4, 4, 6), (1, 2, 2, 8)]
    weights = [0.2, 0.3, 0.5]
    S = [tf.random.normal(s, mean=0.5, stddev=1) for s in shapes]
    G = [tf.Variable(tf.random.normal(s, mean=0.5, stddev=1)) for s in shapes]
    with tf.GradientTape() as tape:
        J = tf.add_n([w * layer_style_cost_tf(s, g) for w, s, g in zip(weights, S, G)])
    grads = tape.gradient(J, G)
    for i in range(3):
        out[f"multi_a_S{i}"] = S[i].numpy()
        out[f"multi_a_G{i}"] = G[i].numpy()
        out[f"multi_grad_tf{i}"] = grads[i].numpy()
    out.update(multi_weights=np.array(weights, np.float32), multi_J_tf=J.numpy())

    path = os.path.join(HERE, "course_inputs.npz")
    np.savez(path, **out)
    print(f"wrote {path}: J_content {out['content_J_tf']}, GA[0] {out['gram_GA_tf'][0]}, "
          f"J_style_layer {out['style_J_tf']}, J_style {out['multi_J_tf']}")


if __name__ == "__main__":
    main()
