"""Semantic segmentation: U-Net, an FCN baseline, their losses and metrics.

    from npvision.segmentation import UNet, dice_cross_entropy_loss, confusion_matrix, segmentation_scores
    model = UNet(3, 5, depth=3, base_filters=16)            # logits (N, H, W, 5)
    loss, dlogits = dice_cross_entropy_loss(model.forward(x), masks)
    model.backward(dlogits)

- :mod:`.unet`: ``UNet`` (same / valid padding, four up-sampling modes), its
  blocks, the skip crop and the input-size rules.
- :mod:`.fcn`: ``FCN``, the no-skip baseline.
- :mod:`.losses`: per-pixel cross-entropy, soft Dice and their sum, with gradients.
- :mod:`.metrics`: confusion matrix, pixel accuracy, IoU and Dice (per class and mean).
"""

from .fcn import *  # noqa: F401,F403
from .fcn import __all__ as _fcn_all
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses_all
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .unet import *  # noqa: F401,F403
from .unet import __all__ as _unet_all

__all__ = [*_unet_all, *_fcn_all, *_losses_all, *_metrics_all]
