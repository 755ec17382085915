"""A trained YOLO detector in one object: network, anchors, class names, thresholds.

    >>> det = Detector(model, anchors, num_classes=4, class_names=SHAPE_CLASSES, input_size=(64, 64))
    >>> found = det.detect(image)          # image (H, W, 3), any H and W
    >>> found["boxes"], found["scores"], found["classes"]      # (D, 4) xyxy pixels of *image*
    >>> det.save("runs/yolo")              # weights.npz + detector.json
    >>> det = load_detector("runs/yolo")

``detect`` runs the whole pipeline:

1. resize the image to ``input_size`` (``npvision.data.augment.resize``: separable
   linear resampling, antialiased when shrinking), ``(H, W, 3) -> (h, w, 3)``;
2. one forward pass in eval mode, ``(1, h, w, 3) -> (1, S, S, B (5 + K))``;
3. :func:`npvision.detection.yolo_postprocess`: decode, score = objectness x best
   class probability, keep ``score >= score_threshold``, per-class NMS at
   ``iou_threshold``; boxes in pixels of the ``h x w`` input;
4. scale the boxes back by ``(W / w, H / h)`` to the caller's image.

The folder written by :meth:`Detector.save` holds ``weights.npz``
(:func:`npvision.io.save_weights`, architecture name and build options in its
metadata) and ``detector.json`` (anchors, class names, input size, thresholds and
the model's build options): everything :func:`load_detector` needs.
"""

from __future__ import annotations

import json
import numbers
import os

import numpy as np

from .._checks import as_float_array, positive_int

__all__ = ["Detector", "load_detector", "DETECTOR_FILE", "WEIGHTS_FILE"]

#: file names inside a detector folder
DETECTOR_FILE = "detector.json"
WEIGHTS_FILE = "weights.npz"


def _threshold(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], received {v!r}")
    return float(v)


class Detector:
    """A YOLO network plus everything needed to turn its output into boxes.

    Parameters
    ----------
    model : a Module mapping ``(N, h, w, 3)`` to ``(N, S, S, B (5 + K))`` (e.g.
        :class:`npvision.models.yolo.TinyYOLO`); to be saved it needs ``architecture``
        (a registered model name) and ``config`` (its build options) attributes.
    anchors : (B, 2) anchor widths and heights as fractions of the image.
    num_classes : K.
    class_names : K names (default ``"class 0"``, ...).
    input_size : (h, w) the network was trained on (an int means square).
    score_threshold, iou_threshold : post-processing defaults of :meth:`detect`.
    max_detections : at most this many boxes per image.
    """

    def __init__(self, model, anchors, num_classes: int, class_names=None, input_size=(64, 64),
                 score_threshold: float = 0.5, iou_threshold: float = 0.5, max_detections: int = 100):
        if not (hasattr(model, "forward") and hasattr(model, "eval")):
            raise TypeError(f"model: expected an npvision Module, received {type(model).__name__}")
        self.model = model
        self.anchors = as_float_array(anchors, "anchors", ndim=2).astype(np.float64)
        if self.anchors.shape[1] != 2 or not np.all(self.anchors > 0):
            raise ValueError(f"anchors: expected (B, 2) positive widths and heights, received shape "
                             f"{self.anchors.shape}")
        self.num_classes = positive_int(num_classes, "num_classes")
        if class_names is None:
            class_names = tuple(f"class {k}" for k in range(self.num_classes))
        class_names = tuple(str(c) for c in class_names)
        if len(class_names) != self.num_classes:
            raise ValueError(f"class_names: expected {self.num_classes} names, received {len(class_names)}")
        self.class_names = class_names
        if isinstance(input_size, numbers.Integral):
            input_size = (input_size, input_size)
        if not (isinstance(input_size, (tuple, list)) and len(input_size) == 2):
            raise ValueError(f"input_size: expected (height, width), received {input_size!r}")
        self.input_size = (positive_int(input_size[0], "input_size[0]"),
                           positive_int(input_size[1], "input_size[1]"))
        self.score_threshold = _threshold(score_threshold, "score_threshold")
        self.iou_threshold = _threshold(iou_threshold, "iou_threshold")
        self.max_detections = positive_int(max_detections, "max_detections")

    def __repr__(self) -> str:
        return (f"Detector({type(self.model).__name__}, anchors={len(self.anchors)}, "
                f"classes={self.class_names}, input_size={self.input_size}, "
                f"score_threshold={self.score_threshold}, iou_threshold={self.iou_threshold})")

    # ------------------------------------------------------------------ detection
    def _postprocess(self, output, score_threshold, iou_threshold) -> list[dict]:
        from .yolo import yolo_postprocess
        return yolo_postprocess(output, self.anchors, self.num_classes, self.input_size,
                                score_threshold=score_threshold, iou_threshold=iou_threshold,
                                max_detections=self.max_detections)

    def _thresholds(self, score_threshold, iou_threshold) -> tuple[float, float]:
        s = self.score_threshold if score_threshold is None else _threshold(score_threshold, "score_threshold")
        t = self.iou_threshold if iou_threshold is None else _threshold(iou_threshold, "iou_threshold")
        return s, t

    def detect_batch(self, images, score_threshold=None, iou_threshold=None,
                     batch_size: int = 64) -> list[dict]:
        """Detections for ``images (N, h, w, 3)`` already of ``input_size``: one dict per image.

        Boxes are xyxy pixels of the ``h x w`` images (the form
        :func:`npvision.detection.mean_average_precision` reads).
        """
        images = as_float_array(images, "images", ndim=4)
        if images.shape[1:3] != self.input_size or images.shape[3] != 3:
            raise ValueError(f"images: expected (N, {self.input_size[0]}, {self.input_size[1]}, 3) "
                             f"(the detector's input_size), received shape {images.shape}; use "
                             f"detect() for images of other sizes")
        s, t = self._thresholds(score_threshold, iou_threshold)
        batch_size = positive_int(batch_size, "batch_size")
        self.model.eval()
        results = []
        for start in range(0, len(images), batch_size):
            output = self.model.forward(images[start:start + batch_size])   # (n, S, S, B (5 + K))
            results.extend(self._postprocess(output, s, t))
        return results

    def detect(self, image, score_threshold=None, iou_threshold=None) -> dict:
        """Boxes of one ``image (H, W, 3)`` (floats in [0, 1], any H and W) in its own pixels.

        Returns ``{"boxes": (D, 4) xyxy, "scores": (D,), "classes": (D,) int64}`` sorted by score.
        """
        from ..data.augment import resize

        image = as_float_array(image, "image", ndim=3)
        if image.shape[2] != 3:
            raise ValueError(f"image: expected (H, W, 3) RGB, received shape {image.shape}")
        if image.dtype != np.float32:
            image = image.astype(np.float32)
        h, w = image.shape[:2]
        net_h, net_w = self.input_size
        if (h, w) != (net_h, net_w):
            image = resize(image, (net_h, net_w)).image                   # (net_h, net_w, 3)
        found = self.detect_batch(image[None], score_threshold, iou_threshold)[0]
        scale = np.array([w / net_w, h / net_h, w / net_w, h / net_h])    # back to the caller's pixels
        boxes = np.asarray(found["boxes"], dtype=np.float64).reshape(-1, 4) * scale
        return {"boxes": boxes, "scores": np.asarray(found["scores"], dtype=np.float64),
                "classes": np.asarray(found["classes"], dtype=np.int64)}

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        """Everything except the weights, as JSON-able values (what ``detector.json`` holds)."""
        architecture = getattr(self.model, "architecture", None)
        config = getattr(self.model, "config", None)
        if not isinstance(architecture, str) or not isinstance(config, dict):
            raise ValueError(f"model: a {type(self.model).__name__} without `architecture` (a registered "
                             f"model name) and `config` (its build options) cannot be saved; build it "
                             f"with npvision.models.create(...)")
        return {"format": "npvision-detector", "version": 1, "kind": "yolo", "architecture": architecture,
                "model_config": config, "anchors": self.anchors.tolist(),
                "num_classes": self.num_classes, "class_names": list(self.class_names),
                "input_size": list(self.input_size), "score_threshold": self.score_threshold,
                "iou_threshold": self.iou_threshold, "max_detections": self.max_detections}

    def save(self, folder) -> str:
        """Write ``folder/weights.npz`` and ``folder/detector.json`` (folder created); return the folder."""
        from ..io import save_weights

        folder = os.fspath(folder)
        info = self.to_dict()
        os.makedirs(folder, exist_ok=True)
        save_weights(self.model, os.path.join(folder, WEIGHTS_FILE), architecture=info["architecture"],
                     extra={"detector": info})
        with open(os.path.join(folder, DETECTOR_FILE), "w") as fh:
            json.dump(info, fh, indent=2)
            fh.write("\n")
        return folder


def load_detector(folder, num_classes=None):
    """Rebuild the detector saved in ``folder``: a YOLO :class:`Detector` or a region-based one.

    ``detector.json``'s ``"kind"`` says which: ``"yolo"`` (or no kind: folders written
    before region-based detectors existed) gives a :class:`Detector`; ``"rcnn"``,
    ``"fast-rcnn"`` and ``"faster-rcnn"`` give a
    :class:`~npvision.detection.RegionDetector`. Both have ``detect(image)``,
    ``class_names`` and ``score_threshold``.

    ``num_classes``: the class count the caller expects (None: any); a folder trained for
    another count raises ``ValueError`` naming both. Raises ``FileNotFoundError`` naming
    the path when the folder, ``detector.json`` or ``weights.npz`` is missing, and
    ``ValueError`` when ``detector.json`` is not a detector description.
    """
    from ..io import load_weights
    from ..models import create

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder: {folder!r} is not a folder; expected a detector folder "
                                f"written by Detector.save (e.g. by `npvision train yolo`)")
    info_path = os.path.join(folder, DETECTOR_FILE)
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    for path in (info_path, weights_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing; a detector folder holds {DETECTOR_FILE} and "
                                    f"{WEIGHTS_FILE} (written by Detector.save)")
    try:
        with open(info_path) as fh:
            info = json.load(fh)
    except ValueError as exc:
        raise ValueError(f"{info_path}: not valid JSON ({exc})") from None
    kind = info.get("kind", "yolo") if isinstance(info, dict) else None
    if kind != "yolo" and isinstance(info, dict) and info.get("format") == "npvision-detector":
        from .region_detector import load_region_detector

        return load_region_detector(folder, info, num_classes)
    needed = ("architecture", "model_config", "anchors", "num_classes", "class_names", "input_size")
    missing = [k for k in needed if not isinstance(info, dict) or k not in info]
    if missing or info.get("format") != "npvision-detector":
        raise ValueError(f"{info_path}: not a detector description (format "
                         f"{info.get('format') if isinstance(info, dict) else None!r}, missing {missing})")
    if num_classes is not None and int(num_classes) != int(info["num_classes"]):
        raise ValueError(f"num_classes: asked for {num_classes} classes, but the yolo detector in {folder} "
                         f"was trained for {info['num_classes']} ({', '.join(info['class_names'])})")
    config = dict(info["model_config"])
    model_classes = config.pop("num_classes")
    input_shape = tuple(config.pop("input_shape"))
    model = create(info["architecture"], num_classes=model_classes, input_shape=input_shape, **config)
    load_weights(model, weights_path, architecture=info["architecture"])
    model.eval()
    return Detector(model, info["anchors"], info["num_classes"], info["class_names"],
                    tuple(info["input_size"]), score_threshold=info.get("score_threshold", 0.5),
                    iou_threshold=info.get("iou_threshold", 0.5),
                    max_detections=info.get("max_detections", 100))
