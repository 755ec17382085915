"""Parameter, Module and Sequential: the contract every layer and model follows.

A Module holds Parameters and sub-Modules as attributes (registered in the
order they are assigned, as in PyTorch) and implements two methods:

    y  = layer.forward(x)     # saves in ``self`` what backward needs
    dx = layer.backward(dy)   # returns dL/dx, and ADDS dL/dw into w.grad

Parameter gradients accumulate (``+=``) until ``zero_grad()`` is called, so a
weight shared by two layers gets the sum of both gradients. ``train()`` and
``eval()`` switch BatchNorm and Dropout between their two behaviours.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

__all__ = ["Parameter", "Module", "Sequential"]


class Parameter:
    """A trainable array and its accumulated gradient.

    ``data`` and ``grad`` have the same shape and dtype. ``trainable=False``
    freezes it: optimizers skip it and gradient checks ignore it.

    ``zero_grad()`` does not write the zeros at once: it marks the gradient as zero, and
    the next :meth:`accumulate_grad` (how every layer adds its gradient) *copies* its
    gradient in instead of adding it to zeros, which saves one pass over the array at each
    end (a training step's ``zero_grad`` wrote and re-read every parameter's gradient:
    11 M numbers for ResNet-18). Reading ``p.grad`` writes the zeros first, so
    ``p.grad`` is always the accumulated gradient.
    """

    __slots__ = ("data", "_grad", "_zero_pending", "trainable")

    def __init__(self, data: np.ndarray, trainable: bool = True):
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"data: a Parameter must be floating point, received dtype {data.dtype}")
        self.data = data
        self.grad = np.zeros_like(data)
        self.trainable = trainable

    @property
    def grad(self) -> np.ndarray:
        """dL/d data accumulated since the last ``zero_grad()`` (shape and dtype of ``data``)."""
        if self._zero_pending:
            self._grad[...] = 0
            self._zero_pending = False
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray) -> None:
        self._grad = value
        self._zero_pending = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        """The gradient is zero from now on (written on its next use, see the class docstring)."""
        self._zero_pending = True

    def gradient_target(self) -> tuple[np.ndarray, bool]:
        """``(array, fresh)`` for a layer that computes its gradient straight into the gradient's
        array: ``fresh`` says the gradient is zero, so the layer must *write* the whole array
        (not add to it). Either way the array holds the gradient afterwards."""
        fresh, self._zero_pending = self._zero_pending, False
        return self._grad, fresh

    def accumulate_grad(self, g) -> None:
        """``grad += g`` (``g`` broadcastable to ``grad``); right after ``zero_grad()`` a copy."""
        if self._zero_pending:
            np.copyto(self._grad, g, casting="same_kind")    # 0 + g, as += would cast it
            self._zero_pending = False
        else:
            self._grad += g

    def astype(self, dtype) -> "Parameter":
        """Convert data and gradient to ``dtype`` in place (the object is kept)."""
        self.data = self.data.astype(dtype)
        self.grad = self.grad.astype(dtype)
        return self

    def __repr__(self) -> str:
        flag = "" if self.trainable else ", frozen"
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}{flag})"


class Module:
    """Base class of every layer, block and model.

    Subclasses call ``super().__init__()`` first, assign Parameters and
    sub-Modules as attributes, and implement ``forward`` and ``backward``.
    Non-trainable state that must be saved with the weights (BatchNorm's
    running mean and variance) is declared with ``register_buffer``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_params" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning {name!r}")
        for table in (self._params, self._modules, self._buffers):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep ``value`` as state saved by ``state_dict`` but never trained."""
        object.__setattr__(self, name, value)
        self._buffers[name] = None  # the value lives in the attribute

    # -- the two passes --------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x):
        return self.forward(x)

    # -- traversal -------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every descendant, depth first, with dotted names."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every Parameter with its dotted name, e.g. ``"features.0.weight"``, each once."""
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._params.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules(prefix):
            for name in mod._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(mod, name)

    # -- state -----------------------------------------------------------
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def astype(self, dtype) -> "Module":
        """Convert every parameter and float buffer to ``dtype`` in place."""
        for p in self.parameters():
            p.astype(dtype)
        for mod_name, mod in self.named_modules():
            for name in mod._buffers:
                value = getattr(mod, name)
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    object.__setattr__(mod, name, value.astype(dtype))
        return self

    def num_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.size for p in self.parameters() if p.trainable or not trainable_only)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer, by dotted name."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.data.copy()
        for name, b in self.named_buffers():
            state[name] = np.array(b, copy=True)
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays from ``state`` into this module's parameters and buffers.

        Every array is checked before anything is written, so a mismatch leaves
        the module untouched. ``strict`` also requires that the names match
        exactly (no missing and no unexpected keys).
        """
        targets: dict[str, tuple] = {}
        for name, p in self.named_parameters():
            targets[name] = ("param", p)
        for mod_name, mod in self.named_modules():
            for bname in mod._buffers:
                targets[f"{mod_name}.{bname}" if mod_name else bname] = ("buffer", (mod, bname))
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(f"state: does not match {type(self).__name__}: missing {missing[:10]}"
                           f"{' ...' if len(missing) > 10 else ''}, unexpected {unexpected[:10]}"
                           f"{' ...' if len(unexpected) > 10 else ''}")
        for name, (kind, target) in targets.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.dtype.kind not in "fiub":
                # astype below would drop an imaginary part (with only a warning) or fail deep in NumPy
                raise TypeError(f"state[{name!r}]: expected a real numeric array (float, int or bool), "
                                f"received dtype {value.dtype}")
            current = target.data if kind == "param" else getattr(*target)
            if np.shape(current) != value.shape:
                raise ValueError(f"state[{name!r}]: has shape {value.shape}, "
                                 f"the model expects {np.shape(current)}")
        for name, (kind, target) in targets.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if kind == "param":
                target.data = value.astype(target.data.dtype, copy=True)
                target.grad = np.zeros_like(target.data)
            else:
                mod, bname = target
                old = getattr(mod, bname)
                dtype = old.dtype if isinstance(old, np.ndarray) else value.dtype
                object.__setattr__(mod, bname, value.astype(dtype, copy=True))

    def summary(self, input_shape, dtype=None, depth: int | None = None):
        """A layer-by-layer table of output shapes and parameter counts, as Keras' ``model.summary()``.

        ``input_shape``: one sample's shape without the batch axis, e.g. ``(32, 32, 1)``.
        Delegates to :func:`npvision.nn.summary` (see it for ``dtype`` and ``depth``);
        ``print(model.summary((32, 32, 1)))`` shows the table.
        """
        from .summary import summary  # the tracer lives beside the layers it walks

        return summary(self, input_shape, dtype=dtype, depth=depth)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    ``Sequential(a, b, c)`` names its children ``"0"``, ``"1"``, ``"2"``;
    ``Sequential(OrderedDict(conv=a, relu=b))`` uses the given names.
    """

    def __init__(self, *layers) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), layer) for i, layer in enumerate(layers)]
        for name, layer in items:
            if not isinstance(layer, Module):
                raise TypeError(f"layers[{name}]: expected a Module, received {type(layer).__name__}")
            setattr(self, name, layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer: Module) -> "Sequential":
        setattr(self, str(len(self._modules)), layer)
        return self

    def forward(self, x):
        for layer in self._modules.values():
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(self._modules.values()):
            dy = layer.backward(dy)
        return dy
