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
  and a detection confusion matrix.

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

# Each submodule lists its public names; a new submodule adds its import above
# and its __all__ here.
__all__ = [name for mod in (boxes, _nms_module, evaluation, localization, landmarks, sliding_window,
                            anchors, yolo, detector, segmentation_graph, _selective_search_module)
           for name in mod.__all__]
