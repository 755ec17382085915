"""The grader's table of exercises: one entry per exercise of the course.

An entry is an :class:`~npvision.grading._runner.Exercise`: the course name, the
reference (npvision's version, :mod:`npvision.course`), the names of what it
returns (one per item of a returned tuple; ``(name, sub_names)`` for a nested
tuple such as a cache), the function listing its test cases, the week, and the
axis names used to spell out a wrong shape. Adding an exercise is adding one
entry here (and writing its ``*_cases`` function next to its week's others).
"""

from __future__ import annotations

from .. import course
from . import cases_week1 as w1
from . import cases_week2 as w2
from . import cases_week3 as w3
from . import cases_week4 as w4
from ._runner import Exercise

__all__ = ["EXERCISES"]

ACT = ("m", "n_H", "n_W", "n_C")
ACT_PREV = ("m", "n_H_prev", "n_W_prev", "n_C_prev")
CONV_CACHE = ("cache", ("A_prev", "W", "b", "hparameters"))
POOL_CACHE = ("cache", ("A_prev", "hparameters"))
YOLO_OUT = ("scores", "boxes", "classes")

_TABLE = [
    # ---- week 1: Convolutional Model, Step by Step
    Exercise("zero_pad", course.zero_pad, ("X_pad",), w1.zero_pad_cases, 1,
             {"X_pad": ("m", "n_H + 2 pad", "n_W + 2 pad", "n_C")}),
    Exercise("conv_single_step", course.conv_single_step, ("Z",), w1.conv_single_step_cases, 1),
    Exercise("conv_forward", course.conv_forward, ("Z", CONV_CACHE), w1.conv_forward_cases, 1,
             {"Z": ACT, "A_prev": ACT_PREV}),
    Exercise("pool_forward", course.pool_forward, ("A", POOL_CACHE), w1.pool_forward_cases, 1,
             {"A": ACT, "A_prev": ACT_PREV}),
    Exercise("conv_backward", course.conv_backward, ("dA_prev", "dW", "db"), w1.conv_backward_cases, 1,
             {"dA_prev": ACT_PREV, "dW": ("f", "f", "n_C_prev", "n_C"), "db": ("1", "1", "1", "n_C")}),
    Exercise("create_mask_from_window", course.create_mask_from_window, ("mask",),
             w1.create_mask_from_window_cases, 1),
    Exercise("distribute_value", course.distribute_value, ("a",), w1.distribute_value_cases, 1,
             {"a": ("n_H", "n_W")}),
    Exercise("pool_backward", course.pool_backward, ("dA_prev",), w1.pool_backward_cases, 1,
             {"dA_prev": ACT_PREV}),
    # ---- week 2: Residual Networks, Transfer Learning with MobileNet
    Exercise("identity_block", course.identity_block, ("X",), w2.identity_block_cases, 2, {"X": ACT}),
    Exercise("convolutional_block", course.convolutional_block, ("X",), w2.convolutional_block_cases, 2,
             {"X": ACT}),
    Exercise("data_augmenter", course.data_augmenter, ("augmenter",), w2.data_augmenter_cases, 2),
    # ---- week 3: Car detection with YOLO, Image segmentation with U-Net
    Exercise("iou", course.iou, ("iou",), w3.iou_cases, 3),
    Exercise("yolo_filter_boxes", course.yolo_filter_boxes, YOLO_OUT, w3.yolo_filter_boxes_cases, 3,
             {"boxes": ("D", "4")}),
    Exercise("yolo_boxes_to_corners", course.yolo_boxes_to_corners, ("corners",),
             w3.yolo_boxes_to_corners_cases, 3),
    Exercise("scale_boxes", course.scale_boxes, ("boxes",), w3.scale_boxes_cases, 3),
    Exercise("yolo_non_max_suppression", course.yolo_non_max_suppression, YOLO_OUT,
             w3.yolo_non_max_suppression_cases, 3, {"boxes": ("D", "4")}),
    Exercise("yolo_eval", course.yolo_eval, YOLO_OUT, w3.yolo_eval_cases, 3, {"boxes": ("D", "4")}),
    Exercise("conv_block", course.conv_block, ("next_layer", "skip_connection"), w3.conv_block_cases, 3,
             {"next_layer": ACT, "skip_connection": ACT}),
    Exercise("upsampling_block", course.upsampling_block, ("conv",), w3.upsampling_block_cases, 3,
             {"conv": ACT}),
    # ---- week 4: Face Recognition, Art Generation with Neural Style Transfer
    Exercise("triplet_loss", course.triplet_loss, ("loss",), w4.triplet_loss_cases, 4),
    Exercise("verify", course.verify, ("dist", "door_open"), w4.verify_cases, 4),
    Exercise("who_is_it", course.who_is_it, ("min_dist", "identity"), w4.who_is_it_cases, 4),
    Exercise("compute_content_cost", course.compute_content_cost, ("J_content",), w4.content_cost_cases, 4),
    Exercise("gram_matrix", course.gram_matrix, ("GA",), w4.gram_matrix_cases, 4, {"GA": ("n_C", "n_C")}),
    Exercise("compute_layer_style_cost", course.compute_layer_style_cost, ("J_style_layer",),
             w4.layer_style_cost_cases, 4),
    Exercise("compute_style_cost", course.compute_style_cost, ("J_style",), w4.style_cost_cases, 4),
    Exercise("total_cost", course.total_cost, ("J",), w4.total_cost_cases, 4),
]

#: course name -> Exercise, in the course's order.
EXERCISES: dict[str, Exercise] = {ex.name: ex for ex in _TABLE}
