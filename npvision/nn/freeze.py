"""Freezing layers for transfer learning: ``freeze``, ``unfreeze``, ``trainable_names``.

A frozen Parameter has ``trainable=False``: optimizers skip it, so its values
stay as loaded (backward still computes its gradient, which is simply unused).
The usual recipe for fine-tuning a pretrained network::

    freeze(model)                        # everything ...
    unfreeze(model, "classifier")        # ... except the new head
    opt = Adam(model.parameters())       # frozen parameters are skipped at each step
    ...                                  # later, to fine-tune deeper layers:
    unfreeze(model, ["layer4", "layer3.1"])

Names are the dotted names of ``model.named_modules()`` and
``model.named_parameters()``. A prefix selects the parameter or layer of that
exact name and everything inside it: ``"features.1"`` matches
``"features.1.weight"`` and ``"features.1.conv.bias"`` but not
``"features.10.weight"``. A prefix naming nothing is an error (a typo must not
silently freeze nothing), which lists valid names.

Note: BatchNorm layers inside a frozen part still update their running
statistics in training mode; call ``.eval()`` on that sub-module after
``model.train()`` if those must stay fixed too.
"""

from __future__ import annotations

from .module import Module

__all__ = ["freeze", "unfreeze", "trainable_names", "frozen_names"]


def _selects(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _as_prefixes(prefixes) -> list[str] | None:
    if prefixes is None:
        return None
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    try:
        out = list(prefixes)
    except TypeError:
        raise TypeError(f"prefixes: expected a name, a list of names or None, "
                        f"received {type(prefixes).__name__}") from None
    for i, p in enumerate(out):
        if not isinstance(p, str) or not p.strip("."):
            raise TypeError(f"prefixes[{i}]: expected a non-empty layer or parameter name, "
                            f"received {p!r}")
    return [p.strip(".") for p in out]


def _select(model: Module, prefixes) -> list[str]:
    """Names of the parameters selected by ``prefixes`` (None: all); unknown prefix -> error."""
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an npvision.nn.Module, received {type(model).__name__}")
    params = [name for name, _ in model.named_parameters()]
    prefixes = _as_prefixes(prefixes)
    if prefixes is None:
        return params
    modules = [name for name, _ in model.named_modules() if name]
    known = set(modules) | set(params)
    for p in prefixes:
        if p not in known:
            close = [m for m in modules if m.startswith(p.split(".")[0])][:12] or modules[:12]
            more = " ..." if len(modules) > len(close) else ""
            raise ValueError(f"prefixes: {type(model).__name__} has no layer or parameter named "
                             f"{p!r}; layer names include {close}{more} (list them all with "
                             f"[name for name, _ in model.named_modules()])")
    return [name for name in params if any(_selects(p, name) for p in prefixes)]


def _set(model: Module, prefixes, trainable: bool) -> list[str]:
    names = _select(model, prefixes)                 # validated before anything changes
    chosen = set(names)
    for name, p in model.named_parameters():
        if name in chosen:
            p.trainable = trainable
    return names


def freeze(model: Module, prefixes=None) -> list[str]:
    """Set ``trainable=False`` on the parameters under ``prefixes`` (a name, a list, or None: all).

    Returns the names of the parameters selected.
    """
    return _set(model, prefixes, False)


def unfreeze(model: Module, prefixes=None) -> list[str]:
    """Set ``trainable=True`` on the parameters under ``prefixes`` (None: all); returns their names."""
    return _set(model, prefixes, True)


def trainable_names(model: Module) -> list[str]:
    """Dotted names of the parameters an optimizer will update."""
    _select(model, None)                             # checks that `model` is a Module
    return [name for name, p in model.named_parameters() if p.trainable]


def frozen_names(model: Module) -> list[str]:
    """Dotted names of the parameters with ``trainable=False``."""
    _select(model, None)
    return [name for name, p in model.named_parameters() if not p.trainable]
