"""Pure math: every op as a forward/backward pair on NumPy arrays (channels-last).

    out, cache = F.<op>_forward(x, ...)      # cache holds exactly what backward needs
    grads      = F.<op>_backward(dout, cache)  # one gradient per array input, in order

Activations are ``(N, H, W, C)``, conv weights ``(KH, KW, C_in, C_out)``,
biases ``(C_out,)``. The input's dtype is kept (float32 to train, float64 to
gradient-check). The hot loops run through :mod:`npvision.kernels`.
"""

from .shapes import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .fft_conv import *  # noqa: F401,F403
from .depthwise import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .concat import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .normalize import *  # noqa: F401,F403
from .roi import *  # noqa: F401,F403
from .scale import *  # noqa: F401,F403
