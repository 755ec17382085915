"""Regenerate the course's TensorFlow-drawn test tensors and TensorFlow's reference outputs.

Run by hand with the TensorFlow environment (TF 2.21 reproduces the course's seeded
``tf.random.normal`` draws exactly); npvision's tests then read the files and never
need TensorFlow::

    /work/venv-tf/bin/python tests/data/make_course_goldens.py

It writes

* ``npvision/course/data/course_yolo_nms.npz`` -- the course's ``yolo_non_max_suppression``
  test input (54 boxes), shipped with npvision for the grader;
* ``tests/data/course/yolo_tf_inputs.npz`` -- the course's ``yolo_filter_boxes`` and
  ``yolo_eval`` test inputs (``tf.random.set_seed(10)`` then ``tf.random.normal(shape,
  mean=1, stddev=4, seed=1)`` in the notebook's order; the two share their
  ``box_class_probs``, which the script checks);
* ``tests/data/course/yolo_tf_outputs.npz`` -- what the course's TensorFlow functions
  return on them (whole arrays, not only the printed ``[2]`` rows);
* ``tests/data/course/nms_vs_tf.npz`` -- random NMS problems with unordered corners, ties and
  IoUs exactly at the threshold, and the indices ``tf.image.non_max_suppression`` keeps;
* ``tests/data/course/blocks_tf.npz`` -- the course's ResNet identity and convolutional
  blocks and U-Net's conv and upsampling blocks, written with Keras layers as the course
  writes them, run on random inputs with random weights (stored) in both BatchNorm modes.

The TensorFlow functions below follow the course's notebooks (their structure and
TensorFlow calls); they are references for the tests, not npvision code.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from tensorflow.keras.layers import Activation, Add, BatchNormalization, Conv2D, Conv2DTranspose, MaxPooling2D

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "course")
PKG = os.path.join(HERE, "..", "..", "npvision", "course", "data")


def normal(shape):
    return tf.random.normal(shape, mean=1, stddev=4, seed=1)


# ----------------------------------------------------------------------------- the course's YOLO steps in TF

def tf_filter(boxes, box_confidence, box_class_probs, threshold=0.6):
    box_scores = box_confidence * box_class_probs
    box_classes = tf.math.argmax(box_scores, axis=-1)
    box_class_scores = tf.math.reduce_max(box_scores, axis=-1)
    mask = box_class_scores >= threshold
    return (tf.boolean_mask(box_class_scores, mask), tf.boolean_mask(boxes, mask),
            tf.boolean_mask(box_classes, mask))


def tf_nms(scores, boxes, classes, max_boxes=10, iou_threshold=0.5):
    idx = tf.image.non_max_suppression(boxes, scores, max_boxes, iou_threshold=iou_threshold)
    return tf.gather(scores, idx), tf.gather(boxes, idx), tf.gather(classes, idx)


def tf_corners(box_xy, box_wh):
    mins = box_xy - box_wh / 2.0
    maxes = box_xy + box_wh / 2.0
    return tf.concat([mins[..., 1:2], mins[..., 0:1], maxes[..., 1:2], maxes[..., 0:1]], axis=-1)


def tf_scale(boxes, image_shape):
    h, w = float(image_shape[0]), float(image_shape[1])
    return boxes * tf.reshape(tf.stack([h, w, h, w]), [1, 4])


def tf_eval(outputs, image_shape=(720, 1280), max_boxes=10, score_threshold=0.6, iou_threshold=0.5):
    box_xy, box_wh, conf, probs = outputs
    boxes = tf_corners(box_xy, box_wh)
    scores, boxes, classes = tf_filter(boxes, conf, probs, score_threshold)
    boxes = tf_scale(boxes, image_shape)
    return tf_nms(scores, boxes, classes, max_boxes, iou_threshold)


def yolo_goldens():
    tf.random.set_seed(10)
    f_conf, f_boxes, f_probs = normal([19, 19, 5, 1]), normal([19, 19, 5, 4]), normal([19, 19, 5, 80])
    tf.random.set_seed(10)
    n_scores, n_boxes, n_classes = normal([54]), normal([54, 4]), normal([54])
    tf.random.set_seed(10)
    e_xy, e_wh, e_conf, e_probs = (normal([19, 19, 5, 2]), normal([19, 19, 5, 2]), normal([19, 19, 5, 1]),
                                   normal([19, 19, 5, 80]))
    assert np.array_equal(e_probs.numpy(), f_probs.numpy()), "the two tests no longer share box_class_probs"

    fs, fb, fc = tf_filter(f_boxes, f_conf, f_probs, threshold=0.5)
    assert fs.shape == (1789,) and abs(float(fs[2]) - 9.270486) < 1e-5, "not the course's tensors"
    ns, nb, nc = tf_nms(n_scores, n_boxes, n_classes)
    assert abs(float(ns[2]) - 8.147684) < 1e-5
    es, eb, ec = tf_eval((e_xy, e_wh, e_conf, e_probs))
    assert abs(float(es[2]) - 171.60194) < 1e-3
    nms_idx = tf.image.non_max_suppression(n_boxes, n_scores, 10, iou_threshold=0.5).numpy()

    os.makedirs(PKG, exist_ok=True)
    np.savez_compressed(os.path.join(PKG, "course_yolo_nms.npz"), scores=n_scores.numpy(),
                        boxes=n_boxes.numpy(), classes=n_classes.numpy())
    np.savez_compressed(os.path.join(OUT, "yolo_tf_inputs.npz"), filter_confidence=f_conf.numpy(),
                        filter_boxes=f_boxes.numpy(), class_probs=f_probs.numpy(), eval_xy=e_xy.numpy(),
                        eval_wh=e_wh.numpy(), eval_confidence=e_conf.numpy())
    np.savez_compressed(os.path.join(OUT, "yolo_tf_outputs.npz"),
                        filter_scores=fs.numpy(), filter_boxes=fb.numpy(), filter_classes=fc.numpy(),
                        nms_scores=ns.numpy(), nms_boxes=nb.numpy(), nms_classes=nc.numpy(), nms_indices=nms_idx,
                        eval_scores=es.numpy(), eval_boxes=eb.numpy(), eval_classes=ec.numpy())


def nms_goldens(n_problems: int = 60):
    """Random NMS problems: unordered corners, equal scores, IoUs exactly at the threshold."""
    rng = np.random.default_rng(0)
    boxes, scores, sizes, maxes, thresholds, kept = [], [], [], [], [], []
    for k in range(n_problems):
        n = int(rng.integers(0, 40))
        b = rng.normal(1, 4, (n, 4)).astype(np.float32)           # the course's distribution: any corners
        if k % 3 == 0 and n >= 4:
            b[1] = b[0]                                           # identical boxes
            b[2] = [0, 0, 1, 2]                                   # IoU([0,0,1,2], [0,0,1,1]) = 0.5 exactly
            b[3] = [0, 0, 1, 1]
        s = rng.normal(1, 4, n).astype(np.float32)
        if k % 4 == 0 and n >= 3:
            s[2] = s[1]                                           # a tie in scores
        m = int(rng.integers(1, 15))
        t = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0]))
        idx = tf.image.non_max_suppression(b.reshape(-1, 4), s, m, iou_threshold=t).numpy()
        boxes.append(b.reshape(-1, 4))
        scores.append(s)
        sizes.append(n)
        maxes.append(m)
        thresholds.append(t)
        kept.append(idx)
    np.savez_compressed(os.path.join(OUT, "nms_vs_tf.npz"), boxes=np.concatenate(boxes), scores=np.concatenate(scores),
                        sizes=np.array(sizes), max_boxes=np.array(maxes), thresholds=np.array(thresholds),
                        kept=np.concatenate(kept).astype(np.int64),
                        kept_sizes=np.array([len(i) for i in kept]))


# ----------------------------------------------------------------------------- the course's blocks in Keras

def _init(w):
    return tf.constant_initializer(np.asarray(w))


def tf_identity_block(X, f, filters, weights, training):
    F1, F2, F3 = filters
    X_shortcut = X
    X = Conv2D(F1, 1, strides=(1, 1), padding="valid", kernel_initializer=_init(weights[0]))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)
    X = Conv2D(F2, f, strides=(1, 1), padding="same", kernel_initializer=_init(weights[1]))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)
    X = Conv2D(F3, 1, strides=(1, 1), padding="valid", kernel_initializer=_init(weights[2]))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Add()([X, X_shortcut])
    return Activation("relu")(X)


def tf_convolutional_block(X, f, filters, s, weights, training):
    F1, F2, F3 = filters
    X_shortcut = X
    X = Conv2D(F1, 1, strides=(s, s), padding="valid", kernel_initializer=_init(weights[0]))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)
    X = Conv2D(F2, f, strides=(1, 1), padding="same", kernel_initializer=_init(weights[1]))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X = Activation("relu")(X)
    X = Conv2D(F3, 1, strides=(1, 1), padding="valid", kernel_initializer=_init(weights[2]))(X)
    X = BatchNormalization(axis=3)(X, training=training)
    X_shortcut = Conv2D(F3, 1, strides=(s, s), padding="valid", kernel_initializer=_init(weights[3]))(X_shortcut)
    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)
    X = Add()([X, X_shortcut])
    return Activation("relu")(X)


def tf_conv_block(inputs, n_filters, w, max_pooling=True):
    conv = Conv2D(n_filters, 3, activation="relu", padding="same", kernel_initializer=_init(w[0]),
                  bias_initializer=_init(w[1]))(inputs)
    conv = Conv2D(n_filters, 3, activation="relu", padding="same", kernel_initializer=_init(w[2]),
                  bias_initializer=_init(w[3]))(conv)
    next_layer = MaxPooling2D(pool_size=(2, 2))(conv) if max_pooling else conv
    return next_layer, conv


def tf_upsampling_block(expansive_input, contractive_input, n_filters, w):
    up = Conv2DTranspose(n_filters, 3, strides=(2, 2), padding="same", kernel_initializer=_init(w[0]),
                         bias_initializer=_init(w[1]))(expansive_input)
    merge = tf.concat([up, contractive_input], axis=3)
    conv = Conv2D(n_filters, 3, activation="relu", padding="same", kernel_initializer=_init(w[2]),
                  bias_initializer=_init(w[3]))(merge)
    conv = Conv2D(n_filters, 3, activation="relu", padding="same", kernel_initializer=_init(w[4]),
                  bias_initializer=_init(w[5]))(conv)
    return conv


def block_goldens():
    rng = np.random.default_rng(1)
    out = {}
    ones = np.concatenate([np.ones((1, 4, 4, 3)) * -1, np.ones((1, 4, 4, 3)), np.ones((1, 4, 4, 3)) * 3]
                          ).astype(np.float32)
    # the course's identity_block checks: constant weights 1
    for name, f, filters, training in [("id_course_a", 2, (4, 4, 3), False), ("id_course_b", 3, (3, 3, 3), True)]:
        shapes = [(1, 1, 3, filters[0]), (f, f, filters[0], filters[1]), (1, 1, filters[1], filters[2])]
        out[name] = tf_identity_block(ones, f, filters, [np.ones(s) for s in shapes], training).numpy()
    # random weights
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    filters, f = (2, 5, 3), 3
    w = [rng.uniform(-0.5, 0.5, s).astype(np.float32) for s in
         [(1, 1, 3, 2), (f, f, 2, 5), (1, 1, 5, 3)]]
    out["id_x"] = x
    for i, wi in enumerate(w):
        out[f"id_w{i}"] = wi
    for training in (True, False):
        out[f"id_out_{training}"] = tf_identity_block(x, f, filters, w, training).numpy()
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    filters, f, s = (2, 4, 5), 2, 2
    w = [rng.uniform(-0.5, 0.5, sh).astype(np.float32) for sh in
         [(1, 1, 3, 2), (f, f, 2, 4), (1, 1, 4, 5), (1, 1, 3, 5)]]
    out["cb_x"] = x
    for i, wi in enumerate(w):
        out[f"cb_w{i}"] = wi
    for training in (True, False):
        out[f"cb_out_{training}"] = tf_convolutional_block(x, f, filters, s, w, training).numpy()
    # U-Net
    x = rng.standard_normal((2, 6, 8, 3)).astype(np.float32)
    w = [rng.normal(0, 0.5, (3, 3, 3, 4)), rng.normal(0, 0.1, 4), rng.normal(0, 0.3, (3, 3, 4, 4)),
         rng.normal(0, 0.1, 4)]
    w = [a.astype(np.float32) for a in w]
    nxt, skip = tf_conv_block(x, 4, w)
    out.update(cb_unet_x=x, cb_unet_next=nxt.numpy(), cb_unet_skip=skip.numpy(),
               **{f"cb_unet_w{i}": a for i, a in enumerate(w)})
    xe = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    xc = rng.standard_normal((2, 6, 10, 2)).astype(np.float32)
    # Keras' Conv2DTranspose kernel is (KH, KW, C_out, C_in), as npvision's ConvTranspose2D
    w = [rng.normal(0, 0.3, (3, 3, 4, 6)), rng.normal(0, 0.1, 4), rng.normal(0, 0.3, (3, 3, 6, 4)),
         rng.normal(0, 0.1, 4), rng.normal(0, 0.3, (3, 3, 4, 4)), rng.normal(0, 0.1, 4)]
    w = [a.astype(np.float32) for a in w]
    up = tf_upsampling_block(xe, xc, 4, w)
    out.update(up_unet_x=xe, up_unet_skip=xc, up_unet_out=up.numpy(), **{f"up_unet_w{i}": a for i, a in enumerate(w)})
    np.savez_compressed(os.path.join(OUT, "blocks_tf.npz"), **out)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    yolo_goldens()
    nms_goldens()
    block_goldens()
    for d in (OUT, PKG):
        for name in sorted(os.listdir(d)):
            print(f"{os.path.join(d, name)}: {os.path.getsize(os.path.join(d, name)) / 1024:.1f} KB")
    print("TensorFlow", tf.__version__)
