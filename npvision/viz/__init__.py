"""matplotlib pictures: feature maps, filters, image grids, training curves.

``from npvision import viz`` is cheap: matplotlib is imported only when a
picture is drawn. Every drawing function renders with the Agg backend onto a
fresh Figure, saves it when given a ``path``, and returns the figure.

- :mod:`npvision.viz.feature_maps`: ``plot_feature_maps``, ``plot_filters``,
  ``show_images_grid``
- :mod:`npvision.viz.curves`: training curves (loaded on first use)
- :mod:`npvision.viz.style`: style transfer strips and cost curves (loaded on first use)
"""

from __future__ import annotations

import importlib

from .feature_maps import *  # noqa: F401,F403
from .feature_maps import __all__ as _feature_maps_all

# Modules whose public names are looked up only when first asked for, so a
# module that is missing or imports something heavy costs nothing until used.
_LAZY_MODULES = ("curves", "confusion", "boxes", "segmentation", "yolo", "landmarks", "proposals", "region_detection",
                 "instances", "face", "style")

__all__ = list(_feature_maps_all)


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for mod_name in _LAZY_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{mod_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{mod_name}":
                continue  # that module is not part of this installation
            raise
        if name == mod_name:
            return mod
        if name in getattr(mod, "__all__", ()):
            return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES))
