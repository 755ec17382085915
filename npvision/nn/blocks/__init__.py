"""The building blocks of the classic ConvNets, each written like its paper.

Every block is a :class:`~npvision.nn.Module` made of layers, with a forward
pass that reads as the paper's equations and a backward pass that mirrors it
line by line: a skip connection's gradient is a visible ``dx = d_branch +
d_identity``, a concatenation's gradient is a visible split.

===========================  ======================================================
block                        from
===========================  ======================================================
``ConvBNAct``                conv -> BatchNorm -> activation (every modern ConvNet)
``BasicBlock``, ``Bottleneck``  ResNet (He et al. 2015), torchvision's v1.5
``BasicConv2d``, ``InceptionModule``  GoogLeNet (Szegedy et al. 2014), torchvision's
``DepthwiseSeparableConv``   MobileNet v1 (Howard et al. 2017)
``InvertedResidual``         MobileNet v2 (Sandler et al. 2018)
``SqueezeExcitation``        SENet (Hu et al. 2017)
``MBConv``                   EfficientNet (Tan & Le 2019), torchvision's B0
===========================  ======================================================
"""

from .conv_bn import *  # noqa: F401,F403
from .residual import *  # noqa: F401,F403
from .inception import *  # noqa: F401,F403
from .mobilenet import *  # noqa: F401,F403
from .squeeze_excite import *  # noqa: F401,F403
from .efficientnet import *  # noqa: F401,F403
from . import conv_bn, efficientnet, inception, mobilenet, residual, squeeze_excite

__all__ = (conv_bn.__all__ + residual.__all__ + inception.__all__ + mobilenet.__all__
           + squeeze_excite.__all__ + efficientnet.__all__)
