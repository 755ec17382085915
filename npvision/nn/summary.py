"""``summary(model, input_shape)``: a table of layers, output shapes and parameter counts.

    >>> s = summary(model, (32, 32, 3))      # one sample's shape, without the batch axis
    >>> print(s)                              # or just `s` in a notebook
    Model: Sequential    input: (None, 32, 32, 3)
    ---------------------------------------------------------------------
    Layer (type)                    Output shape        Param #  Trainable
    =====================================================================
    0 (Conv2D)                      (None, 30, 30, 8)       224  yes
    ...
    Total params: 10,818
    Trainable params: 10,818
    Non-trainable params: 0

How the output shapes are found: one forward pass on zeros of shape
``(1,) + input_shape``, in eval mode (so BatchNorm's running statistics and
Dropout's generator are untouched), during which every module's ``forward``
is temporarily replaced, on that instance only, by a wrapper that records the
shape of what it returns. Any Module works, a Sequential or a block with its
own ``forward``, as long as it calls its children through ``child(x)`` or
``child.forward(x)``. The wrappers are removed afterwards, even on error.

Rows follow ``model.named_modules()``: nested modules are indented under
their parent, and every row counts the parameters of its whole sub-tree (a
shared parameter once). The totals count every parameter of the model once;
"non-trainable" ones are those frozen with ``trainable=False``
(:func:`npvision.nn.freeze.freeze`). The batch axis is shown as ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import positive_int
from .module import Module

__all__ = ["summary", "ModelSummary", "LayerRow", "SummaryError"]


@dataclass
class LayerRow:
    """One line of the table. ``output_shape`` is None if the module never ran."""

    name: str
    type: str
    depth: int
    output_shape: object
    params: int
    trainable_params: int

    @property
    def trainable(self) -> str:
        if self.params == 0:
            return ""
        if self.trainable_params == self.params:
            return "yes"
        return "no" if self.trainable_params == 0 else "partly"


@dataclass
class ModelSummary:
    """The result of :func:`summary`; ``str()`` (and ``repr()``) give the table."""

    model_type: str
    input_shape: tuple
    output_shape: object
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        cells = [(("  " * (r.depth - 1)) + f"{r.name} ({r.type})", _fmt_shape(r.output_shape),
                  f"{r.params:,}", r.trainable) for r in self.rows]
        head = ("Layer (type)", "Output shape", "Param #", "Trainable")
        w = [max([len(head[i])] + [len(c[i]) for c in cells]) for i in range(4)]

        def line(c):
            return f"{c[0]:<{w[0]}}  {c[1]:<{w[1]}}  {c[2]:>{w[2]}}  {c[3]}".rstrip()

        width = sum(w) + 6
        out = [f"Model: {self.model_type}    input: {_fmt_shape(self.input_shape)}",
               "-" * width, line(head), "=" * width]
        out += [line(c) for c in cells]
        out += ["=" * width,
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}",
                f"Output shape: {_fmt_shape(self.output_shape)}"]
        return "\n".join(out)

    __repr__ = __str__


def _shape_of(out):
    """Batch axis replaced by None; tuples/lists of arrays give a list of shapes."""
    if isinstance(out, np.ndarray):
        return (None,) + out.shape[1:] if out.ndim else ()
    if isinstance(out, (tuple, list)):
        return [_shape_of(o) for o in out]
    return type(out).__name__


def _fmt_shape(shape) -> str:
    if shape is None:
        return "(not run)"
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt_shape(s) for s in shape) + "]"
    if isinstance(shape, tuple):
        return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    return str(shape)


def _count(module: Module) -> tuple[int, int]:
    params = module.parameters()                      # each Parameter once
    return sum(p.size for p in params), sum(p.size for p in params if p.trainable)


class SummaryError(ValueError):
    """A module's forward failed while tracing shapes (the message names the module)."""


def _traced(name: str, module: Module, original, shapes: dict):
    def forward(x, *args, **kwargs):
        try:
            out = original(x, *args, **kwargs)
        except SummaryError:
            raise                                     # already names the innermost module
        except Exception as exc:
            got = _fmt_shape(_shape_of(x))
            raise SummaryError(f"summary: layer {name or '(model)'!r} ({type(module).__name__}) "
                               f"failed on an input of shape {got}: {type(exc).__name__}: {exc}"
                               ) from exc
        shapes.setdefault(id(module), _shape_of(out))     # the first call's output
        return out

    return forward


def summary(model: Module, input_shape, dtype=None, depth: int | None = None) -> ModelSummary:
    """Trace ``model`` on one zero sample of ``input_shape``; return a :class:`ModelSummary`.

    ``input_shape``: one sample's shape without the batch axis, e.g. ``(28, 28, 1)``
    (an int for a vector input). ``dtype``: of the zero input (default: that of
    the model's first parameter, else float32). ``depth``: show only rows
    nested at most this deep (1 = the model's direct children); totals always
    cover the whole model. The model itself is not changed.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an npvision.nn.Module, received {type(model).__name__}")
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(f"input_shape: expected a tuple of ints such as (28, 28, 1) (no batch axis), "
                        f"received {input_shape!r}")
    input_shape = tuple(positive_int(d, "input_shape") for d in input_shape)
    if depth is not None:
        depth = positive_int(depth, "depth")
    params = model.parameters()
    if dtype is None:
        dtype = params[0].data.dtype if params else np.float32
    x = np.zeros((1,) + input_shape, dtype=dtype)

    named = list(model.named_modules())
    shapes: dict[int, object] = {}                   # id(module) -> output shape
    saved: list[tuple[Module, object]] = []          # (module, its own instance `forward` or None)
    was_training = model.training
    try:
        for name, mod in named:
            if any(mod is m for m, _ in saved):
                continue                              # a module shared under two names: wrap once
            saved.append((mod, mod.__dict__.get("forward")))
            object.__setattr__(mod, "forward", _traced(name, mod, mod.forward, shapes))
        model.eval()
        out = model.forward(x)
    finally:
        for mod, own in saved:
            del mod.__dict__["forward"]
            if own is not None:
                object.__setattr__(mod, "forward", own)
        model.train(was_training)

    rows = []
    for name, mod in named[1:] if len(named) > 1 else named:
        d = name.count(".") + 1 if name else 1
        if depth is not None and d > depth:
            continue
        total, trainable = _count(mod)
        rows.append(LayerRow(name or "(model)", type(mod).__name__, d, shapes.get(id(mod)),
                             total, trainable))
    total, trainable = _count(model)
    return ModelSummary(type(model).__name__, (None,) + input_shape, _shape_of(out), rows,
                        total, trainable)
