"""Neural style transfer and texture synthesis (Gatys, Ecker & Bethge), in NumPy.

The generated image is the variable: a feature extractor describes an image by
the activations of some of its layers, the costs compare them with the content
image's activations (:func:`content_cost`) and with the style image's Gram
matrices (:func:`layer_style_cost`, :func:`style_cost`), and the gradient of
the total cost flows back through the extractor to the pixels.

- :mod:`npvision.style.costs`: ``gram_matrix``, ``content_cost``,
  ``layer_style_cost``, ``style_cost``, ``total_variation``, ``total_cost``
- :mod:`npvision.style.extractors`: ``RandomMultiScale`` (random filters, offline,
  the default) and ``vgg19_features`` (VGG-19 with the course's layer names)
- :mod:`npvision.style.transfer`: ``style_transfer``, ``texture_synthesis`` (Adam or
  L-BFGS on the pixels, colour preservation, coarse to fine)
"""

from .costs import *  # noqa: F401,F403
from .costs import __all__ as _costs_all
from .extractors import *  # noqa: F401,F403
from .extractors import __all__ as _extractors_all
from .transfer import *  # noqa: F401,F403
from .transfer import __all__ as _transfer_all

__all__ = [*_costs_all, *_extractors_all, *_transfer_all]
