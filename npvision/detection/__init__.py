"""Object detection: boxes and IoU, non-maximum suppression, and evaluation (AP / mAP).

Everything public in the submodules is available here::

    from npvision.detection import box_iou, nms, mean_average_precision

- :mod:`~npvision.detection.boxes`: box formats (``xyxy``, ``xywh``, ``cxcywh``),
  validation, normalization, areas, IoU and generalized IoU, clipping;
- :mod:`~npvision.detection.nms`: greedy NMS (kernels in
  :mod:`npvision.kernels.nms`), per-class NMS, soft-NMS and a step-by-step trace;
- :mod:`~npvision.detection.segmentation_graph` (Felzenszwalb-Huttenlocher) and
  :mod:`~npvision.detection.selective_search` (region proposals);
- :mod:`~npvision.detection.evaluation`: matching detections to ground truth,
  precision / recall curves, AP in the VOC07, VOC and COCO conventions, mAP,
  and a detection confusion matrix;
- the region-based detectors: :mod:`~npvision.detection.box_coder` (encode / decode),
  :mod:`~npvision.detection.anchor_generator` (RPN anchors), :mod:`~npvision.detection.matcher`
  (IoU matching, balanced sampling), :mod:`~npvision.detection.two_stage_losses`,
  :mod:`~npvision.detection.rpn`, :mod:`~npvision.detection.roi_heads`,
  :mod:`~npvision.detection.rcnn` (with :mod:`~npvision.detection.linear_svm`),
  :mod:`~npvision.detection.fast_rcnn`, :mod:`~npvision.detection.faster_rcnn`,
  :mod:`~npvision.detection.proposal_recall` and :mod:`~npvision.detection.region_detector`
  (detector folders of every kind).

Boxes are ``(N, 4)`` arrays in pixels (or fractions of the image), ``xyxy``
unless a function says otherwise; image sizes are ``(height, width)``.
"""

from __future__ import annotations

from . import (anchors, boxes, detector, evaluation, landmarks, localization,
               nms as _nms_module, sliding_window, yolo)
from . import segmentation_graph, selective_search as _selective_search_module
from .anchors import *  # noqa: F401,F403
from .boxes import *  # noqa: F401,F403
from .detector import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .landmarks import *  # noqa: F401,F403
from .localization import *  # noqa: F401,F403
from .nms import *  # noqa: F401,F403
from .sliding_window import *  # noqa: F401,F403
from .yolo import *  # noqa: F401,F403
from .segmentation_graph import *  # noqa: F401,F403
from .selective_search import *  # noqa: F401,F403
from . import (anchor_generator, box_coder, fast_rcnn, faster_rcnn, linear_svm, matcher,  # noqa: E402
               proposal_recall as _recall_module, rcnn, region_detector, roi_heads, rpn, two_stage_losses)
from .anchor_generator import *  # noqa: F401,F403,E402
from .box_coder import *  # noqa: F401,F403,E402
from .fast_rcnn import *  # noqa: F401,F403,E402
from .faster_rcnn import *  # noqa: F401,F403,E402
from .linear_svm import *  # noqa: F401,F403,E402
from .matcher import *  # noqa: F401,F403,E402
from .proposal_recall import *  # noqa: F401,F403,E402
from .rcnn import *  # noqa: F401,F403,E402
from .region_detector import *  # noqa: F401,F403,E402
from .roi_heads import *  # noqa: F401,F403,E402
from .rpn import *  # noqa: F401,F403,E402
from .two_stage_losses import *  # noqa: F401,F403,E402
from . import mask_head, mask_rcnn, masks  # noqa: E402
from .masks import *  # noqa: F401,F403,E402
from .mask_head import *  # noqa: F401,F403,E402
from .mask_rcnn import *  # noqa: F401,F403,E402

# Each submodule lists its public names; a new submodule adds its import above
# and its __all__ here.
__all__ = [name for mod in (boxes, _nms_module, evaluation, localization, landmarks, sliding_window,
                            anchors, yolo, detector, segmentation_graph, _selective_search_module)
           for name in mod.__all__]
__all__ += [name for mod in (anchor_generator, box_coder, matcher, two_stage_losses, rpn, roi_heads,
                             linear_svm, rcnn, fast_rcnn, faster_rcnn, region_detector, _recall_module)
            for name in mod.__all__]
__all__ += [name for mod in (masks, mask_head, mask_rcnn) for name in mod.__all__]
