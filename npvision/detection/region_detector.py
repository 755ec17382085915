"""A trained region-based detector in one object, and its folder format.

    >>> det = RegionDetector(model, "faster-rcnn", class_names=SHAPE_CLASSES)
    >>> found = det.detect(image)                 # image (H, W, 3), any size
    >>> det.save("runs/faster-rcnn")              # weights.npz + detector.json
    >>> det = load_detector("runs/faster-rcnn")   # npvision.detection.load_detector reads any kind

``kind`` is ``"rcnn"`` (:class:`~npvision.detection.RCNN`), ``"fast-rcnn"``
(:class:`~npvision.detection.FastRCNN`) or ``"faster-rcnn"``
(:class:`~npvision.detection.FasterRCNN`). R-CNN and Fast R-CNN need proposals: the
detector makes them with :func:`~npvision.detection.selective_search` (its ``mode``
and at most ``max_proposals`` boxes, as the model was trained); Faster R-CNN makes
its own.

``detect`` resizes the image to the model's input size, detects, keeps scores
``>= score_threshold`` and scales the boxes back to the caller's pixels, as the YOLO
:class:`~npvision.detection.Detector` does.

The folder holds ``weights.npz`` (:func:`npvision.io.save_weights`, architecture = the
kind) and ``detector.json``: ``{"format": "npvision-detector", "version": 2, "kind": ...,
"model_config": ..., "class_names": ..., "input_size": ..., "score_threshold": ...,
"proposals": {"method": "selective_search", "mode": ..., "max_proposals": ...} or null}``.
A folder without ``"kind"`` is a YOLO detector (version 1, read as before).
"""

from __future__ import annotations

import json
import os

import numpy as np

from .._checks import as_float_array, positive_int
from .detector import DETECTOR_FILE, WEIGHTS_FILE, _threshold

__all__ = ["RegionDetector", "REGION_KINDS", "load_region_detector"]

#: the region-based detector kinds a folder can hold
REGION_KINDS = ("rcnn", "fast-rcnn", "faster-rcnn")


def _model_class(kind: str):
    from .fast_rcnn import FastRCNN
    from .faster_rcnn import FasterRCNN
    from .rcnn import RCNN

    return {"rcnn": RCNN, "fast-rcnn": FastRCNN, "faster-rcnn": FasterRCNN}[kind]


def _check_kind(kind) -> str:
    if kind not in REGION_KINDS:
        raise ValueError(f"kind: expected one of {REGION_KINDS}, received {kind!r}")
    return kind


class RegionDetector:
    """An R-CNN, Fast R-CNN or Faster R-CNN model plus everything to turn images into boxes.

    Parameters
    ----------
    model : an :class:`~npvision.detection.RCNN`, :class:`~npvision.detection.FastRCNN` or
        :class:`~npvision.detection.FasterRCNN` (its ``input_shape`` is the detector's input size).
    kind : one of :data:`REGION_KINDS`, matching the model.
    class_names : K names (default ``"class 0"``, ...).
    score_threshold : :meth:`detect` keeps boxes scoring at least this.
    proposal_mode, max_proposals : selective search's mode and the proposals kept (R-CNN
        and Fast R-CNN only).
    """

    def __init__(self, model, kind: str, class_names=None, score_threshold: float = 0.5,
                 proposal_mode: str = "fast", max_proposals: int = 300):
        self.kind = _check_kind(kind)
        cls = _model_class(kind)
        if not isinstance(model, cls):
            raise TypeError(f"model: a {kind!r} detector needs a {cls.__name__}, received {type(model).__name__}")
        self.model = model
        self.num_classes = model.num_classes
        if class_names is None:
            class_names = tuple(f"class {k}" for k in range(self.num_classes))
        self.class_names = tuple(str(c) for c in class_names)
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"class_names: expected {self.num_classes} names (the model's classes), "
                             f"received {len(self.class_names)}")
        self.input_size = tuple(model.image_size)
        self.score_threshold = _threshold(score_threshold, "score_threshold")
        self.proposal_mode = proposal_mode
        self.max_proposals = positive_int(max_proposals, "max_proposals")

    def __repr__(self) -> str:
        return (f"RegionDetector({self.kind}, classes={self.class_names}, input_size={self.input_size}, "
                f"score_threshold={self.score_threshold})")

    @property
    def needs_proposals(self) -> bool:
        """True for R-CNN and Fast R-CNN (selective search), False for Faster R-CNN (its RPN)."""
        return self.kind != "faster-rcnn"

    def proposals(self, images) -> list[np.ndarray]:
        """Selective-search proposals of each image, best first, at most ``max_proposals``."""
        from .selective_search import selective_search

        return [selective_search(im, mode=self.proposal_mode, max_boxes=self.max_proposals) for im in images]

    def detect_batch(self, images, score_threshold=None, iou_threshold=None, proposals=None) -> list[dict]:
        """Detections of ``images (N, h, w, 3)`` of the input size: one dict per image, all scores kept.

        ``score_threshold`` defaults to the model's low evaluation threshold (not
        :attr:`score_threshold`: AP needs the low-scoring boxes); ``proposals`` (R-CNN,
        Fast R-CNN) are computed with selective search when not given.
        """
        images = as_float_array(images, "images", ndim=4)
        if images.shape[1:3] != self.input_size:
            raise ValueError(f"images: expected (N, {self.input_size[0]}, {self.input_size[1]}, 3) (the "
                             f"detector's input size), received shape {images.shape}; use detect() for others")
        if self.kind == "faster-rcnn":
            return self.model.detect_batch(images, score_threshold, iou_threshold)
        if proposals is None:
            proposals = self.proposals(images)
        return self.model.detect_batch(images, proposals, score_threshold, iou_threshold)

    def detect(self, image, score_threshold=None, iou_threshold=None) -> dict:
        """Boxes of one ``image (H, W, 3)`` in its own pixels, scores ``>= score_threshold``.

        Returns ``{"boxes": (D, 4) xyxy, "scores": (D,), "classes": (D,) int64}`` sorted by score.
        """
        from ..data.augment import resize

        image = as_float_array(image, "image", ndim=3)
        if image.shape[2] != 3:
            raise ValueError(f"image: expected (H, W, 3) RGB, received shape {image.shape}")
        image = image.astype(np.float32, copy=False)
        h, w = image.shape[:2]
        net_h, net_w = self.input_size
        if (h, w) != (net_h, net_w):
            image = resize(image, (net_h, net_w)).image                      # (net_h, net_w, 3)
        s = self.score_threshold if score_threshold is None else _threshold(score_threshold, "score_threshold")
        found = self.detect_batch(image[None], s, iou_threshold)[0]
        keep = np.asarray(found["scores"]) >= s
        scale = np.array([w / net_w, h / net_h, w / net_w, h / net_h])       # back to the caller's pixels
        return {"boxes": np.asarray(found["boxes"], np.float64).reshape(-1, 4)[keep] * scale,
                "scores": np.asarray(found["scores"], np.float64)[keep],
                "classes": np.asarray(found["classes"], np.int64)[keep]}

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        """What ``detector.json`` holds (everything except the weights)."""
        proposals = None if self.kind == "faster-rcnn" else {
            "method": "selective_search", "mode": self.proposal_mode, "max_proposals": self.max_proposals}
        return {"format": "npvision-detector", "version": 2, "kind": self.kind,
                "model_config": self.model.config, "num_classes": self.num_classes,
                "class_names": list(self.class_names), "input_size": list(self.input_size),
                "score_threshold": self.score_threshold, "proposals": proposals}

    def save(self, folder) -> str:
        """Write ``folder/weights.npz`` and ``folder/detector.json``; return the folder."""
        from ..io import save_weights

        folder = os.fspath(folder)
        info = self.to_dict()
        os.makedirs(folder, exist_ok=True)
        save_weights(self.model, os.path.join(folder, WEIGHTS_FILE), architecture=self.kind,
                     extra={"detector": info})
        with open(os.path.join(folder, DETECTOR_FILE), "w") as fh:
            json.dump(info, fh, indent=2)
            fh.write("\n")
        return folder


def load_region_detector(folder, info: dict, num_classes=None) -> RegionDetector:
    """Rebuild the :class:`RegionDetector` of ``folder`` from its parsed ``detector.json`` ``info``.

    ``num_classes``: the class count the caller expects; a different count in the folder
    is an error naming both (rather than a shape mismatch deep in the weights).
    """
    from ..io import load_weights

    kind = info.get("kind")
    if kind not in REGION_KINDS:
        raise ValueError(f"{os.path.join(folder, DETECTOR_FILE)}: unknown detector kind {kind!r}; "
                         f"expected 'yolo' or one of {REGION_KINDS}")
    config = dict(info["model_config"])
    if num_classes is not None and int(num_classes) != int(config["num_classes"]):
        raise ValueError(f"num_classes: asked for {num_classes} classes, but the {kind} detector in {folder} "
                         f"was trained for {config['num_classes']} ({', '.join(info['class_names'])})")
    config["input_shape"] = tuple(config["input_shape"])
    model = _model_class(kind)(**config)
    load_weights(model, os.path.join(folder, WEIGHTS_FILE), architecture=kind)
    model.eval()
    proposals = info.get("proposals") or {}
    return RegionDetector(model, kind, info["class_names"], info.get("score_threshold", 0.5),
                          proposals.get("mode", "fast"), proposals.get("max_proposals", 300))
