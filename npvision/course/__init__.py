"""The CNN course's programming exercises, under the course's own names and signatures.

A student who writes ``conv_forward(A_prev, W, b, hparameters)`` as the course
asks can run, compare and grade it against these: every function here accepts
what the course's version accepts and returns what it returns (shapes, caches,
dtypes), and does its work with npvision's own functions. Each docstring says
where the course's convention differs from npvision's, and which one it follows
(the course's, always).

===========  ==============================================================================
week         exercises
===========  ==============================================================================
1            ``zero_pad``, ``conv_single_step``, ``conv_forward``, ``pool_forward``,
             ``conv_backward``, ``create_mask_from_window``, ``distribute_value``,
             ``pool_backward``  (:mod:`npvision.course.week1`)
2            ``identity_block``, ``convolutional_block``, ``data_augmenter``
             (:mod:`npvision.course.week2`; the blocks are also Modules:
             ``IdentityBlock``, ``ConvolutionalBlock``)
3            ``iou``, ``yolo_filter_boxes``, ``yolo_boxes_to_corners``, ``scale_boxes``,
             ``yolo_non_max_suppression``, ``yolo_eval``; U-Net's ``conv_block`` and
             ``upsampling_block``  (:mod:`npvision.course.week3`)
4            ``triplet_loss``, ``verify``, ``who_is_it`` (and the given ``img_to_encoding``),
             ``compute_content_cost``, ``gram_matrix``, ``compute_layer_style_cost``,
             ``compute_style_cost``, ``total_cost``  (:mod:`npvision.course.week4`)
===========  ==============================================================================

    >>> from npvision import course
    >>> np.random.seed(1)
    >>> A_prev, W, b = np.random.randn(2, 5, 7, 4), np.random.randn(3, 3, 4, 8), np.random.randn(1, 1, 1, 8)
    >>> Z, cache = course.conv_forward(A_prev, W, b, {"pad": 1, "stride": 2})
    >>> float(np.mean(Z))          # the course prints 0.5511276474566768
    0.5511276474566768

:func:`npvision.grading.check` grades a student's version of any of them, and
``npvision assignment`` releases and grades notebooks built on them (two ship in
``npvision/course/assignments/``).
"""

from __future__ import annotations

from .week1 import *  # noqa: F401,F403
from .week2 import *  # noqa: F401,F403
from .week3 import *  # noqa: F401,F403
from .week4 import *  # noqa: F401,F403
from . import week1, week2, week3, week4

__all__ = week1.__all__ + week2.__all__ + week3.__all__ + week4.__all__

#: Every exercise available here, by week (the grader's table follows the same order).
EXERCISES_BY_WEEK = {
    1: ("zero_pad", "conv_single_step", "conv_forward", "pool_forward", "conv_backward",
        "create_mask_from_window", "distribute_value", "pool_backward"),
    2: ("identity_block", "convolutional_block", "data_augmenter"),
    3: ("iou", "yolo_filter_boxes", "yolo_boxes_to_corners", "scale_boxes", "yolo_non_max_suppression",
        "yolo_eval", "conv_block", "upsampling_block"),
    4: ("triplet_loss", "verify", "who_is_it", "compute_content_cost", "gram_matrix", "compute_layer_style_cost",
        "compute_style_cost", "total_cost"),
}
