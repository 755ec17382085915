"""Layers as Modules: each wraps a functional forward/backward pair and owns its Parameters.

    y  = layer.forward(x)
    dx = layer.backward(dy)      # parameter gradients are added into p.grad
"""

from . import init  # noqa: F401
from .module import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .fft_conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .blocks import *  # noqa: F401,F403
from .summary import *  # noqa: F401,F403
from .freeze import *  # noqa: F401,F403
from .normalize import *  # noqa: F401,F403
from .roi import *  # noqa: F401,F403
