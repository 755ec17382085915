"""Training the weights: optimizers, gradient clipping and learning-rate schedules.

    opt = Adam(model.parameters(), lr=1e-3)          # optimizers.py
    sched = CosineDecay(opt, total=20)                # schedules.py
    clip_grad_norm(model, max_norm=5.0)               # clip.py
    result = minimize_lbfgs(fun, x0)                  # lbfgs.py: any fun(x) -> (f, grad)

The weight initializers of :mod:`npvision.nn.init` (``he_normal``,
``glorot_uniform``, ...) are re-exported here too, since choosing the starting
point is part of the optimization story.
"""

from ..nn.init import fans, glorot_normal, glorot_uniform, he_normal, he_uniform  # noqa: F401
from .clip import *  # noqa: F401,F403
from .clip import __all__ as _clip_all
from .lbfgs import *  # noqa: F401,F403
from .lbfgs import __all__ as _lbfgs_all
from .optimizers import *  # noqa: F401,F403
from .optimizers import __all__ as _optimizers_all
from .schedules import *  # noqa: F401,F403
from .schedules import __all__ as _schedules_all

__all__ = (list(_optimizers_all) + list(_schedules_all) + list(_clip_all) + list(_lbfgs_all)
           + ["he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "fans"])
