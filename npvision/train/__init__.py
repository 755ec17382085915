"""Training: the mini-batch loop, its history, and callbacks.

    from npvision.train import fit, evaluate, predict, EarlyStopping
    history = fit(model, F.softmax_cross_entropy, Adam(model.parameters()), x, y,
                  epochs=20, batch_size=64, validation_data=(x_val, y_val),
                  callbacks=[EarlyStopping("val_loss", patience=3)])
    history.best("val_accuracy")

Plot the curves with :func:`npvision.viz.curves.plot_history`.
"""

from .callbacks import *  # noqa: F401,F403
from .callbacks import __all__ as _callbacks_all
from .history import *  # noqa: F401,F403
from .history import __all__ as _history_all
from .loop import *  # noqa: F401,F403
from .loop import __all__ as _loop_all

__all__ = list(_loop_all) + list(_history_all) + list(_callbacks_all)
