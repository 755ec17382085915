"""Typical student bugs in the course's exercises, and the feedback each must produce.

One function per bug (stride ignored, padding applied twice, gradients summed
over the wrong axis, corners in the wrong order, a mask marking only the first
maximum, ``=`` instead of ``+=`` where pooling windows overlap, ...), grouped by
week, and :data:`BUGS`: exercise -> [(bug, regex the grader's message must
match)]. ``tests/test_grading.py`` runs them through ``npvision.grading.check``.
"""

from __future__ import annotations

import numpy as np

from npvision import course, detection, nn

# ============================================================================= week 1


def zero_pad_channels_too(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (pad, pad)))


def zero_pad_top_left_only(X, pad):
    return np.pad(X, ((0, 0), (pad, 0), (pad, 0), (0, 0)))


def zero_pad_with_ones(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=1)


def conv_single_step_no_bias(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W)


def conv_single_step_array(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W) + b                     # (1, 1, 1): not a number


def conv_single_step_mean(a_slice_prev, W, b):
    return np.mean(a_slice_prev * W) + np.squeeze(b)


def _conv_loops(A_prev, W, b, hparameters, bug=None):
    """The course's conv_forward with loops (vectorized over the filters), with an optional bug."""
    stride, pad = hparameters["stride"], hparameters["pad"]
    m, n_h_prev, n_w_prev, _ = A_prev.shape
    f, _, _, n_c = W.shape
    n_h = (n_h_prev + 2 * pad - f) // stride + 1
    n_w = (n_w_prev + 2 * pad - f) // stride + 1
    A_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    if bug == "pad twice":
        A_pad = np.pad(A_pad, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Z = np.zeros((m, n_h, n_w, n_c))
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                s = 1 if bug == "stride ignored" else stride
                window = A_pad[i, h * s:h * s + f, w * s:w * s + f, :]
                bias = b[0, 0, 0, 0] if bug == "bias of filter 0" else b[0, 0, 0, :]
                Z[i, h, w] = np.tensordot(window, W, axes=3) + bias
    return Z, (A_prev, W, b, hparameters)


def conv_forward_stride_ignored(A_prev, W, b, hparameters):
    return _conv_loops(A_prev, W, b, hparameters, "stride ignored")


def conv_forward_pad_twice(A_prev, W, b, hparameters):
    return _conv_loops(A_prev, W, b, hparameters, "pad twice")


def conv_forward_bias_of_filter_0(A_prev, W, b, hparameters):
    return _conv_loops(A_prev, W, b, hparameters, "bias of filter 0")


def _pool_loops(A_prev, hparameters, mode="max", bug=None):
    f, stride = hparameters["f"], hparameters["stride"]
    m, n_h_prev, n_w_prev, n_c = A_prev.shape
    n_h, n_w = (n_h_prev - f) // stride + 1, (n_w_prev - f) // stride + 1
    A = np.zeros((m, n_h, n_w, n_c))
    s = 1 if bug == "stride ignored" else stride
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                window = A_prev[i, h * s:h * s + f, w * s:w * s + f, :]
                if bug == "all channels":
                    A[i, h, w, :] = np.max(window) if mode == "max" else np.mean(window)
                else:
                    A[i, h, w, :] = window.max(axis=(0, 1)) if mode == "max" else window.mean(axis=(0, 1))
    return A, (A_prev, hparameters)


def pool_forward_stride_ignored(A_prev, hparameters, mode="max"):
    return _pool_loops(A_prev, hparameters, mode, "stride ignored")


def pool_forward_all_channels(A_prev, hparameters, mode="max"):
    return _pool_loops(A_prev, hparameters, mode, "all channels")


def pool_forward_modes_swapped(A_prev, hparameters, mode="max"):
    return _pool_loops(A_prev, hparameters, "average" if mode == "max" else "max")


def _conv_backward_loops(dZ, cache, bug=None):
    A_prev, W, b, hparameters = cache
    stride, pad = hparameters["stride"], hparameters["pad"]
    m, n_h_prev, n_w_prev, _ = A_prev.shape
    f = W.shape[0]
    _, n_h, n_w, n_c = dZ.shape
    A_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA_pad = np.zeros_like(A_pad)
    dW = np.zeros_like(W)
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                rows = slice(h * stride, h * stride + f)
                cols = slice(w * stride, w * stride + f)
                dA_pad[i, rows, cols, :] += np.tensordot(W, dZ[i, h, w], axes=([3], [0]))
                s = 1 if bug == "dW stride ignored" else stride
                dW += A_pad[i, h * s:h * s + f, w * s:w * s + f, :, None] * dZ[i, h, w]
    if bug == "db wrong axis":
        db = np.sum(dZ, axis=(1, 2, 3))                     # one number per example, not per filter
    else:
        db = np.sum(dZ, axis=(0, 1, 2)).reshape(1, 1, 1, n_c)
    top = 0 if bug == "crop at the corner" else pad
    dA = dA_pad[:, top:top + n_h_prev, top:top + n_w_prev, :]
    return dA, dW, db


def conv_backward_db_wrong_axis(dZ, cache):
    return _conv_backward_loops(dZ, cache, "db wrong axis")


def conv_backward_dw_stride_ignored(dZ, cache):
    return _conv_backward_loops(dZ, cache, "dW stride ignored")


def conv_backward_crop_at_the_corner(dZ, cache):
    return _conv_backward_loops(dZ, cache, "crop at the corner")


def mask_first_maximum_only(x):
    mask = np.zeros(x.shape, dtype=bool)
    mask.flat[np.argmax(x)] = True
    return mask


def mask_of_the_minimum(x):
    return x == np.min(x)


def distribute_value_over_sum(dz, shape):
    n_h, n_w = shape
    return np.ones(shape) * dz / (n_h + n_w)


def distribute_value_not_divided(dz, shape):
    return np.ones(shape) * dz


def _pool_backward_loops(dA, cache, mode="max", bug=None):
    A_prev, hparameters = cache
    f, stride = hparameters["f"], hparameters["stride"]
    dA_prev = np.zeros(A_prev.shape)
    m, n_h, n_w, n_c = dA.shape
    for i in range(m):
        for h in range(n_h):
            for w in range(n_w):
                for c in range(n_c):
                    rows = slice(h * stride, h * stride + f)
                    cols = slice(w * stride, w * stride + f)
                    if mode == "max":
                        window = A_prev[i, rows, cols, c]
                        mask = mask_first_maximum_only(window) if bug == "first maximum" else window == window.max()
                        grad = mask * dA[i, h, w, c]
                    else:
                        grad = np.full((f, f), dA[i, h, w, c] / (f if bug == "divide by f" else f * f))
                    if bug == "assign":
                        dA_prev[i, rows, cols, c] = grad
                    else:
                        dA_prev[i, rows, cols, c] += grad
    return dA_prev


def pool_backward_assign_not_add(dA, cache, mode="max"):
    return _pool_backward_loops(dA, cache, mode, "assign")


def pool_backward_first_maximum_only(dA, cache, mode="max"):
    return _pool_backward_loops(dA, cache, mode, "first maximum")


def pool_backward_average_over_f(dA, cache, mode="max"):
    return _pool_backward_loops(dA, cache, mode, "divide by f")


# ============================================================================= week 2

def _resnet_block(X, f, filters, s, training, initializer, shortcut_conv, bug=None):
    """A student's block with npvision layers; ``bug`` names the mistake."""
    F1, F2, F3 = filters

    def conv(c_in, c_out, k, stride, padding):
        layer = nn.Conv2D(c_in, c_out, k, stride=stride, padding=padding, dtype=X.dtype)
        layer.weight.data = np.asarray(initializer(seed=0)((k, k, c_in, c_out))).astype(X.dtype)
        return layer

    def bn(c):
        layer = nn.BatchNorm2D(c, momentum=0.99, eps=1e-3, dtype=X.dtype)
        layer.train() if training else layer.eval()
        return layer

    relu = nn.ReLU()
    middle = "valid" if bug == "valid middle conv" else "same"
    s1, s2 = (1, s) if bug == "stride on the middle conv" else (s, 1)
    out = relu.forward(bn(F1).forward(conv(X.shape[-1], F1, 1, s1, "valid").forward(X)))
    out = relu.forward(bn(F2).forward(conv(F1, F2, f, s2, middle).forward(out)))
    out = conv(F2, F3, 1, 1, "valid").forward(out)
    out = out if bug == "no batchnorm" else bn(F3).forward(out)
    shortcut = X
    if shortcut_conv:
        stride = 1 if bug == "shortcut stride ignored" else s
        shortcut = conv(X.shape[-1], F3, 1, stride, "valid").forward(X)
        shortcut = shortcut if bug == "shortcut without batchnorm" else bn(F3).forward(shortcut)
    if bug == "relu before the sum":
        return relu.forward(out) + shortcut
    out = out + shortcut
    return out if bug == "no final relu" else nn.ReLU().forward(out)


def identity_block_no_final_relu(X, f, filters, training=True, initializer=course.random_uniform):
    return _resnet_block(X, f, filters, 1, training, initializer, False, "no final relu")


def identity_block_relu_before_sum(X, f, filters, training=True, initializer=course.random_uniform):
    return _resnet_block(X, f, filters, 1, training, initializer, False, "relu before the sum")


def identity_block_valid_middle_conv(X, f, filters, training=True, initializer=course.random_uniform):
    return _resnet_block(X, f, filters, 1, training, initializer, False, "valid middle conv")


def convolutional_block_stride_on_middle(X, f, filters, s=2, training=True, initializer=course.glorot_uniform):
    return _resnet_block(X, f, filters, s, training, initializer, True, "stride on the middle conv")


def convolutional_block_shortcut_without_bn(X, f, filters, s=2, training=True, initializer=course.glorot_uniform):
    return _resnet_block(X, f, filters, s, training, initializer, True, "shortcut without batchnorm")


def convolutional_block_shortcut_stride_ignored(X, f, filters, s=2, training=True,
                                                initializer=course.glorot_uniform):
    return _resnet_block(X, f, filters, s, training, initializer, True, "shortcut stride ignored")


def data_augmenter_vertical():
    return course.Augmenter([course.RandomFlip("vertical"), course.RandomRotation(0.2)])


def data_augmenter_degrees():
    return course.Augmenter([course.RandomFlip("horizontal"), course.RandomRotation(20)])


def data_augmenter_swapped():
    return course.Augmenter([course.RandomRotation(0.2), course.RandomFlip("horizontal")])


# ============================================================================= week 3

def iou_no_clamp(box1, box2):
    (x1, y1, x2, y2), (u1, v1, u2, v2) = box1, box2
    inter = (min(x2, u2) - max(x1, u1)) * (min(y2, v2) - max(y1, v1))
    return inter / ((x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter)


def iou_union_not_subtracted(box1, box2):
    (x1, y1, x2, y2), (u1, v1, u2, v2) = box1, box2
    inter = max(0, min(x2, u2) - max(x1, u1)) * max(0, min(y2, v2) - max(y1, v1))
    return inter / ((x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1))


def iou_read_as_x1_x2_y1_y2(box1, box2):
    (x1, x2, y1, y2), (u1, u2, v1, v2) = box1, box2
    inter = max(0, min(x2, u2) - max(x1, u1)) * max(0, min(y2, v2) - max(y1, v1))
    return inter / ((x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter)


def _filter(boxes, box_confidence, box_class_probs, threshold, bug=None):
    scores_all = box_class_probs if bug == "no confidence" else box_confidence * box_class_probs
    classes = np.argmax(scores_all, axis=-1)
    scores = np.max(scores_all, axis=-1)
    mask = scores > threshold if bug == "strictly greater" else scores >= threshold
    return scores[mask], boxes[mask], classes[mask]


def yolo_filter_boxes_strictly_greater(boxes, box_confidence, box_class_probs, threshold=.6):
    return _filter(boxes, box_confidence, box_class_probs, threshold, "strictly greater")


def yolo_filter_boxes_no_confidence(boxes, box_confidence, box_class_probs, threshold=.6):
    return _filter(boxes, box_confidence, box_class_probs, threshold, "no confidence")


def corners_xyxy(box_xy, box_wh):
    return np.concatenate([box_xy - box_wh / 2, box_xy + box_wh / 2], axis=-1)   # x first


def corners_full_size(box_xy, box_wh):
    mins, maxes = box_xy - box_wh, box_xy + box_wh
    return np.concatenate([mins[..., 1:2], mins[..., 0:1], maxes[..., 1:2], maxes[..., 0:1]], axis=-1)


def scale_boxes_width_first(boxes, image_shape):
    h, w = image_shape
    return boxes * np.array([w, h, w, h], dtype=boxes.dtype)


def scale_boxes_divided(boxes, image_shape):
    h, w = image_shape
    return boxes / np.array([h, w, h, w], dtype=boxes.dtype)


def nms_npvision_as_is(scores, boxes, classes, max_boxes=10, iou_threshold=0.5):
    keep = detection.nms(boxes[:, [1, 0, 3, 2]], scores, iou_threshold)[:max_boxes]   # refuses y2 < y1
    return scores[keep], boxes[keep], classes[keep]


def nms_max_boxes_ignored(scores, boxes, classes, max_boxes=10, iou_threshold=0.5):
    return course.yolo_non_max_suppression(scores, boxes, classes, len(scores), iou_threshold)


def nms_per_class(scores, boxes, classes, max_boxes=10, iou_threshold=0.5):
    b = np.stack([np.minimum(boxes[:, 1], boxes[:, 3]), np.minimum(boxes[:, 0], boxes[:, 2]),
                  np.maximum(boxes[:, 1], boxes[:, 3]), np.maximum(boxes[:, 0], boxes[:, 2])], axis=1)
    keep = detection.batched_nms(b, scores, classes, iou_threshold)[:max_boxes]
    return scores[keep], boxes[keep], classes[keep]


def yolo_eval_not_scaled(yolo_outputs, image_shape=(720, 1280), max_boxes=10, score_threshold=.6,
                         iou_threshold=.5):
    box_xy, box_wh, conf, probs = yolo_outputs
    scores, boxes, classes = course.yolo_filter_boxes(course.yolo_boxes_to_corners(box_xy, box_wh), conf, probs,
                                                      score_threshold)
    return course.yolo_non_max_suppression(scores, boxes, classes, max_boxes, iou_threshold)


def yolo_eval_xyxy(yolo_outputs, image_shape=(720, 1280), max_boxes=10, score_threshold=.6, iou_threshold=.5):
    box_xy, box_wh, conf, probs = yolo_outputs
    scores, boxes, classes = course.yolo_filter_boxes(corners_xyxy(box_xy, box_wh), conf, probs, score_threshold)
    boxes = course.scale_boxes(boxes, image_shape)
    return course.yolo_non_max_suppression(scores, boxes, classes, max_boxes, iou_threshold)


def yolo_eval_thresholds_swapped(yolo_outputs, image_shape=(720, 1280), max_boxes=10, score_threshold=.6,
                                 iou_threshold=.5):
    return course.yolo_eval(yolo_outputs, image_shape, max_boxes, iou_threshold, score_threshold)


def _unet_down(inputs, n_filters, dropout_prob, max_pooling, bug=None):
    conv = nn.Conv2D(inputs.shape[-1], n_filters, 3, padding="same", dtype=inputs.dtype).forward(inputs)
    conv = conv if bug == "no relu" else nn.ReLU().forward(conv)
    if bug != "one conv":
        conv = nn.ReLU().forward(nn.Conv2D(n_filters, n_filters, 3, padding="same", dtype=inputs.dtype).forward(conv))
    next_layer = nn.MaxPool2D(2).forward(conv) if max_pooling else conv
    return (conv, next_layer) if bug == "swapped" else (next_layer, conv)


def conv_block_outputs_swapped(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):
    return _unet_down(inputs, n_filters, dropout_prob, max_pooling, "swapped")


def conv_block_one_conv(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):
    return _unet_down(inputs, n_filters, dropout_prob, max_pooling, "one conv")


def conv_block_no_relu(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):
    return _unet_down(inputs, n_filters, dropout_prob, max_pooling, "no relu")


def _unet_up(expansive_input, contractive_input, n_filters, bug=None):
    stride = 1 if bug == "stride 1" else 2
    up = nn.ConvTranspose2D(expansive_input.shape[-1], n_filters, 3, stride=stride, padding="same",
                            dtype=expansive_input.dtype).forward(expansive_input)
    parts = [contractive_input, up] if bug == "concat swapped" else [up, contractive_input]
    merge = np.concatenate(parts, axis=3)
    conv = nn.ReLU().forward(nn.Conv2D(merge.shape[-1], n_filters, 3, padding="same",
                                       dtype=merge.dtype).forward(merge))
    return nn.ReLU().forward(nn.Conv2D(n_filters, n_filters, 3, padding="same", dtype=merge.dtype).forward(conv))


def upsampling_block_concat_swapped(expansive_input, contractive_input, n_filters=32):
    return _unet_up(expansive_input, contractive_input, n_filters, "concat swapped")


def upsampling_block_stride_1(expansive_input, contractive_input, n_filters=32):
    return _unet_up(expansive_input, contractive_input, n_filters, "stride 1")


# ============================================================================= week 4

def _triplet(y_pred, alpha, axis=-1, reduce=np.sum, hinge=True, squared=True):
    anchor, positive, negative = (np.asarray(v) for v in y_pred)
    d = (lambda u: np.sum(u ** 2, axis=axis)) if squared else (lambda u: np.sqrt(np.sum(u ** 2, axis=axis)))
    basic = d(anchor - positive) - d(anchor - negative) + alpha
    return reduce(np.maximum(basic, 0.0) if hinge else basic)


def triplet_loss_no_axis(y_true, y_pred, alpha=0.2):
    return _triplet(y_pred, alpha, axis=None)                   # one distance for the whole batch


def triplet_loss_no_maximum(y_true, y_pred, alpha=0.2):
    return _triplet(y_pred, alpha, hinge=False)


def triplet_loss_mean(y_true, y_pred, alpha=0.2):
    return _triplet(y_pred, alpha, reduce=np.mean)


def triplet_loss_not_squared(y_true, y_pred, alpha=0.2):
    return _triplet(y_pred, alpha, squared=False)


def verify_squared(image_path, identity, database, model):
    encoding = course.img_to_encoding(image_path, model)
    dist = np.sum((encoding - database[identity]) ** 2)
    return dist, bool(dist < 0.7)


def verify_door_inverted(image_path, identity, database, model):
    encoding = course.img_to_encoding(image_path, model)
    dist = np.linalg.norm(encoding - database[identity])
    return dist, bool(dist > 0.7)


def verify_first_person(image_path, identity, database, model):
    encoding = course.img_to_encoding(image_path, model)
    dist = np.linalg.norm(encoding - next(iter(database.values())))
    return dist, bool(dist < 0.7)


def _who(image_path, database, model, bug=None):
    encoding = course.img_to_encoding(image_path, model)
    min_dist = 100
    for name, db_enc in database.items():
        dist = np.linalg.norm(encoding - db_enc)
        if bug == "farthest" and dist > min_dist or bug != "farthest" and dist < min_dist:
            if bug != "min_dist not updated":
                min_dist = dist
            identity = name
    if bug == "None when unknown" and min_dist > 0.7:
        identity = None
    return min_dist, identity


def who_is_it_farthest(image_path, database, model):
    return _who(image_path, database, model, "farthest")


def who_is_it_min_dist_not_updated(image_path, database, model):
    return _who(image_path, database, model, "min_dist not updated")


def who_is_it_none_when_unknown(image_path, database, model):
    return _who(image_path, database, model, "None when unknown")


def content_cost_first_output(content_output, generated_output):
    return course.compute_content_cost(content_output[:1], generated_output[:1])


def content_cost_without_n_C(content_output, generated_output):
    a_C, a_G = content_output[-1], generated_output[-1]
    _, n_H, n_W, n_C = a_G.shape
    return np.sum((a_C - a_G) ** 2) / (4 * n_H * n_W)


def content_cost_mean(content_output, generated_output):
    return np.mean((content_output[-1] - generated_output[-1]) ** 2)


def gram_matrix_transposed_first(A):
    return A.T @ A


def gram_matrix_elementwise(A):
    return A * A


def _layer_style(a_S, a_G, bug=None):
    _, n_H, n_W, n_C = a_G.shape
    if bug == "reshape without transpose":
        S, G = a_S.reshape(n_C, n_H * n_W), a_G.reshape(n_C, n_H * n_W)
    else:
        S, G = a_S.reshape(-1, n_C).T, a_G.reshape(-1, n_C).T          # (n_C, n_H n_W)
    GS, GG = S @ S.T, G @ G.T
    scale = (n_C * n_H * n_W) ** 2 if bug == "no 4" else 4 * n_C ** 2 * (n_H * n_W) ** 2
    return np.sum((GS - GG) ** 2) / scale


def layer_style_cost_reshape_without_transpose(a_S, a_G):
    return _layer_style(a_S, a_G, "reshape without transpose")


def layer_style_cost_no_4(a_S, a_G):
    return _layer_style(a_S, a_G, "no 4")


def _style(style_image_output, generated_image_output, STYLE_LAYERS, bug=None):  # noqa: N803
    a_S, a_G = (style_image_output[1:], generated_image_output[1:]) if bug == "drops the first" else \
        (style_image_output[:-1], generated_image_output[:-1])
    J_style = 0
    for i, weight in zip(range(len(a_S)), STYLE_LAYERS):
        J_layer = course.compute_layer_style_cost(a_S[i], a_G[i])
        if bug == "assign":
            J_style = weight[1] * J_layer
        elif bug == "unweighted":
            J_style += J_layer
        else:
            J_style += weight[1] * J_layer
    return J_style


def style_cost_drops_the_first(style_image_output, generated_image_output, STYLE_LAYERS=course.STYLE_LAYERS):
    return _style(style_image_output, generated_image_output, STYLE_LAYERS, "drops the first")


def style_cost_assign_not_add(style_image_output, generated_image_output, STYLE_LAYERS=course.STYLE_LAYERS):
    return _style(style_image_output, generated_image_output, STYLE_LAYERS, "assign")


def style_cost_unweighted(style_image_output, generated_image_output, STYLE_LAYERS=course.STYLE_LAYERS):
    return _style(style_image_output, generated_image_output, STYLE_LAYERS, "unweighted")


def total_cost_swapped(J_content, J_style, alpha=10, beta=40):
    return beta * J_content + alpha * J_style


def total_cost_plus(J_content, J_style, alpha=10, beta=40):
    return alpha * J_content + beta + J_style


def total_cost_defaults_swapped(J_content, J_style, alpha=40, beta=10):
    return alpha * J_content + beta * J_style


# ============================================================================= the table of bugs

WRONG_VALUE = r"output (\S+).* is wrong at \d+ of \d+ element\(s\); the first is [^:]+: expected \S+, received"
WRONG_SHAPE = r"has the wrong shape: expected \(.*\), received \(.*\)"
RAISED = r"your function raised \w+"

# exercise -> [(bug, function, regex the feedback must match)]
BUGS = {
    "zero_pad": [(zero_pad_channels_too, WRONG_SHAPE + r".*n_C expected 2, received 8"),
                 (zero_pad_top_left_only, WRONG_SHAPE),
                 (zero_pad_with_ones, WRONG_VALUE + " 1")],
    "conv_single_step": [(conv_single_step_no_bias, r"output Z is wrong .* expected -6\.99908945"),
                         (conv_single_step_array, r"output Z: the course's test asks for a NumPy float"),
                         (conv_single_step_mean, r"output Z is wrong")],
    "conv_forward": [(conv_forward_stride_ignored, r"output Z is wrong .*Z\[0, 0, 1, 0\]"),
                     (conv_forward_pad_twice, WRONG_VALUE),
                     (conv_forward_bias_of_filter_0, WRONG_VALUE)],
    "pool_forward": [(pool_forward_stride_ignored, WRONG_VALUE),
                     (pool_forward_all_channels, WRONG_VALUE),
                     (pool_forward_modes_swapped, WRONG_VALUE)],
    "conv_backward": [(conv_backward_db_wrong_axis, r"output db has the wrong shape: expected 4 dimensions "
                                                    r"\(1, 1, 1, 8\), received 1 dimensions \(10,\)"),
                      (conv_backward_dw_stride_ignored, r"output dW is wrong"),
                      (conv_backward_crop_at_the_corner, r"output dA_prev is wrong")],
    "create_mask_from_window": [(mask_first_maximum_only, r"test 8 of 9 failed \(a tie.*output mask is wrong at 1 "
                                                          r"of 4 element\(s\); the first is mask\[1, 0\]: expected "
                                                          r"True, received False.*Hint: the course's mask"),
                                (mask_of_the_minimum, WRONG_VALUE)],
    "distribute_value": [(distribute_value_over_sum, r"output a is wrong .* expected 0\.5, received 0\.5 ?"
                                                     r"|output a is wrong"),
                         (distribute_value_not_divided, r"output a is wrong at 4 of 4 .*expected 0\.5, received 2")],
    "pool_backward": [(pool_backward_assign_not_add, r"stride 1.*output dA_prev is wrong"),
                      (pool_backward_first_maximum_only, r"ties in max pooling.*output dA_prev is wrong at 2 of 9.*"
                                                         r"expected 2, received 0.*Hint: the course's mask"),
                      (pool_backward_average_over_f, r"mode 'average'.*output dA_prev is wrong")],
    "identity_block": [(identity_block_no_final_relu, WRONG_VALUE),
                       (identity_block_relu_before_sum, WRONG_VALUE),
                       (identity_block_valid_middle_conv, RAISED)],
    "convolutional_block": [(convolutional_block_stride_on_middle, WRONG_VALUE),
                            (convolutional_block_shortcut_without_bn, WRONG_VALUE),
                            (convolutional_block_shortcut_stride_ignored, WRONG_SHAPE + r".*n_H expected 1, received 4")],
    "data_augmenter": [(data_augmenter_vertical, r"layers\[0\]\.mode: expected 'horizontal', received 'vertical'"),
                       (data_augmenter_degrees, RAISED + r".*factor"),
                       (data_augmenter_swapped, r"expected a RandomFlip first")],
    "iou": [(iou_no_clamp, r"do not intersect.*output iou is wrong at 1 of 1 element\(s\); the first is iou: "
                           r"expected 0, received"),
            (iou_union_not_subtracted, r"output iou is wrong .*expected 0\.1428571429, received 0\.125"),
            (iou_read_as_x1_x2_y1_y2, r"output iou is wrong")],
    "yolo_filter_boxes": [(yolo_filter_boxes_strictly_greater, r"exactly at the threshold.*output scores has the "
                                                               r"wrong shape: expected \(2,\), received \(1,\)"),
                          (yolo_filter_boxes_no_confidence, r"output scores")],
    "yolo_boxes_to_corners": [(corners_xyxy, WRONG_VALUE + r".*Hint: the course's boxes are \(y1, x1, y2, x2\)"),
                              (corners_full_size, WRONG_VALUE)],
    "scale_boxes": [(scale_boxes_width_first, WRONG_VALUE), (scale_boxes_divided, WRONG_VALUE)],
    "yolo_non_max_suppression": [(nms_npvision_as_is, RAISED + r": boxes: box \d+ .* is inverted"),
                                 (nms_max_boxes_ignored, WRONG_SHAPE),
                                 (nms_per_class, r"output (scores|boxes|classes)")],
    "yolo_eval": [(yolo_eval_not_scaled, r"output boxes is wrong"),
                  (yolo_eval_xyxy, r"output (scores|boxes|classes)"),
                  (yolo_eval_thresholds_swapped, r"output (scores|boxes|classes)")],
    "conv_block": [(conv_block_outputs_swapped, r"output next_layer has the wrong shape: expected \(1, 48, 64, 32\), "
                                                r"received \(1, 96, 128, 32\)"),
                   (conv_block_one_conv, WRONG_VALUE),
                   (conv_block_no_relu, WRONG_VALUE)],
    "upsampling_block": [(upsampling_block_concat_swapped, WRONG_VALUE),
                         (upsampling_block_stride_1, RAISED)],
    "triplet_loss": [(triplet_loss_no_axis, r"test 1 of 11 failed \(the course's check: tf.random.set_seed\(1\).*"
                                            r"output loss is wrong at 1 of 1 element\(s\); the first is loss: "
                                            r"expected 527\.2598\d*, received 0"),
                     (triplet_loss_no_maximum, r"test 1 of 11 .*expected 527\.2598\d*, received -324\.21"),
                     (triplet_loss_mean, r"test 1 of 11 .*output loss is wrong.*expected 527\.25.*, received "
                                         r"175\.75"),
                     (triplet_loss_not_squared, r"test 1 of 11.*output loss is wrong")],
    "verify": [(verify_squared, r"test 1 of 5 .*output dist is wrong .*expected 0\.33\d+, received 0\.11"),
               (verify_door_inverted, r"output door_open is wrong .*expected True, received False"),
               (verify_first_person, r"test 1 of 5 .*output dist is wrong")],
    "who_is_it": [(who_is_it_farthest, RAISED + r".*(UnboundLocalError|identity)"),
                  (who_is_it_min_dist_not_updated, r"output min_dist is wrong .*received 100"),
                  (who_is_it_none_when_unknown, r"test 5 of 5 failed \(edge case: a stranger.*output identity: "
                                                r"expected 'kian', received None")],
    "compute_content_cost": [(content_cost_first_output, r"test 4 of 5 failed .*output J_content is wrong"),
                             (content_cost_without_n_C, r"test 1 of 5 .*expected 7\.0568.*, received 21\.17"),
                             (content_cost_mean, r"test 1 of 5 .*output J_content is wrong")],
    "gram_matrix": [(gram_matrix_transposed_first, r"output GA has the wrong shape: expected \(3, 3\), received "
                                                   r"\(2, 2\): n_C expected 3, received 2; n_C expected 3"),
                    (gram_matrix_elementwise, WRONG_SHAPE)],
    "compute_layer_style_cost": [(layer_style_cost_reshape_without_transpose,
                                  r"test 2 of 7 .*output J_style_layer is wrong .*expected 14\.0178"),
                                 (layer_style_cost_no_4, r"output J_style_layer is wrong")],
    "compute_style_cost": [(style_cost_drops_the_first, r"test 1 of 3 .*output J_style is wrong"),
                           (style_cost_assign_not_add, r"output J_style is wrong"),
                           (style_cost_unweighted, r"output J_style is wrong")],
    "total_cost": [(total_cost_swapped, r"test 1 of 6 .*output J is wrong .*expected 34, received 16"),
                   (total_cost_plus, r"output J is wrong .*expected 34, received 42\.8"),
                   (total_cost_defaults_swapped, r"test 1 of 6 .*expected 34, received 16")],
}
