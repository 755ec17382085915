"""Input checks shared by every floor of npvision.

Every public function validates its arguments here, before any math runs, so a
mistake is reported in the caller's terms: the argument's name, what was
received, and what was expected. Nothing in this file computes anything.

    >>> as_float_array(np.zeros((2, 3), dtype=np.uint8), "x", ndim=4)
    Traceback (most recent call last):
    TypeError: x: expected a floating-point array ...
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "check_ndim",
    "positive_int",
    "nonnegative_int",
    "int_pair",
    "resolve_padding",
    "check_channels",
    "check_dout",
    "check_cache",
]


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"


def as_float_array(x, name: str, ndim: int | tuple[int, ...] | None = None,
                   layout: str | None = None) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray, or raise a clear error.

    Integer and boolean arrays are refused (``TypeError``) rather than cast:
    an image of ``uint8`` pixels fed to a convolution almost always means a
    forgotten ``x / 255.0``, and silently casting hides that. So are float16 and
    long double: npvision computes in float32 (to train) or float64 (to check). Lists and other
    array-likes of floats are converted. ``ndim`` may be one int or a tuple of
    allowed values; ``layout`` (e.g. ``"(N, H, W, C)"``) is only used to make
    the message readable.
    """
    if not isinstance(x, np.ndarray):
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise TypeError(f"{name}: expected an array, received {_describe(x)}") from exc
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        x = arr
    if x.dtype.kind != "f":
        raise TypeError(
            f"{name}: expected a floating-point array (float32 or float64), received "
            f"{_describe(x)}; convert it first, e.g. {name}.astype(np.float32) / 255.0 for 8-bit images"
        )
    if x.dtype not in (np.float32, np.float64):
        # float16 and long double: the kernels compute in float32 or float64 only, and one
        # rule everywhere beats an op that works beside one that fails deep inside numba
        raise TypeError(f"{name}: expected dtype float32 or float64, received {x.dtype}; "
                        f"convert it first, e.g. {name}.astype(np.float32)")
    if ndim is not None:
        check_ndim(x, name, ndim, layout)
    return x


def check_ndim(x: np.ndarray, name: str, ndim: int | tuple[int, ...],
               layout: str | None = None) -> None:
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        if layout:
            want += f" {layout}"
        raise ValueError(f"{name}: expected a {want} array, received shape {x.shape} ({x.ndim}-D)")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def positive_int(v, name: str) -> int:
    """An int >= 1 (strides, pool sizes, dilations, channel counts)."""
    if not _is_int(v):
        raise TypeError(f"{name}: expected an integer >= 1, received {_describe(v)}")
    if v < 1:
        raise ValueError(f"{name}: expected an integer >= 1, received {v}")
    return int(v)


def nonnegative_int(v, name: str) -> int:
    if not _is_int(v):
        raise TypeError(f"{name}: expected an integer >= 0, received {_describe(v)}")
    if v < 0:
        raise ValueError(f"{name}: expected an integer >= 0, received {v}")
    return int(v)


def int_pair(v, name: str, minimum: int = 1) -> tuple[int, int]:
    """``v`` or ``(v_h, v_w)`` as a pair of ints, each >= ``minimum``."""
    check = positive_int if minimum >= 1 else nonnegative_int
    if _is_int(v):
        p = (check(v, name),) * 2
    elif isinstance(v, (tuple, list)) and len(v) == 2:
        p = (check(v[0], name), check(v[1], name))
    else:
        raise TypeError(f"{name}: expected an int or a pair (h, w) of ints, received {_describe(v)}")
    if minimum > 1 and min(p) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, received {v!r}")
    return p


def _same_pads(size: int, k_eff: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same": output ceil(size / stride); the odd pixel goes bottom/right."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, name: str, in_hw: tuple[int, int], kernel_hw: tuple[int, int],
                    stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1)
                    ) -> tuple[tuple[int, int], tuple[int, int]]:
    """Turn a padding spec into explicit ``((top, bottom), (left, right))``.

    Accepted specs: an int ``p`` (all sides), a pair ``(p_h, p_w)``, an explicit
    ``((top, bottom), (left, right))``, ``"valid"`` (no padding) and ``"same"``
    (TensorFlow's rule: output size ``ceil(in / stride)``; an odd total puts the
    extra row/column at the bottom/right). The effective kernel size used by
    ``"same"`` is ``d (k - 1) + 1``.
    """
    if isinstance(padding, str):
        key = padding.lower()
        if key == "valid":
            return (0, 0), (0, 0)
        if key == "same":
            kh = dilation[0] * (kernel_hw[0] - 1) + 1
            kw = dilation[1] * (kernel_hw[1] - 1) + 1
            return _same_pads(in_hw[0], kh, stride[0]), _same_pads(in_hw[1], kw, stride[1])
        raise ValueError(f"{name}: unknown padding {padding!r}; expected an int, a pair (ph, pw), "
                         f"((top, bottom), (left, right)), 'valid' or 'same'")
    if _is_int(padding):
        p = nonnegative_int(padding, name)
        return (p, p), (p, p)
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        a, b = padding
        if _is_int(a) and _is_int(b):
            ph, pw = nonnegative_int(a, name), nonnegative_int(b, name)
            return (ph, ph), (pw, pw)
        if all(isinstance(t, (tuple, list)) and len(t) == 2 for t in (a, b)):
            (t, bo), (l, r) = a, b
            return ((nonnegative_int(t, name), nonnegative_int(bo, name)),
                    (nonnegative_int(l, name), nonnegative_int(r, name)))
    raise TypeError(f"{name}: expected an int, a pair (ph, pw), ((top, bottom), (left, right)), "
                    f"'valid' or 'same', received {_describe(padding)}")


def check_channels(received: int, expected: int, name: str, what: str) -> None:
    """Channel-count agreement, e.g. the input's C against the weight's C_in."""
    if received != expected:
        raise ValueError(f"{name}: has {received} channels but {what} expects {expected}")


def check_dout(dout, expected_shape, op: str | None = None, name: str = "dout",
               dtype=None) -> np.ndarray:
    """The upstream gradient of a backward pass: a float array of the forward output's shape.

    ``op`` (e.g. ``"relu_backward"``) names the backward pass in the message.
    With ``dtype`` the result is also made C-contiguous in that dtype (the
    forward input's), which the compiled kernels require.
    """
    dout = as_float_array(dout, name)
    expected = tuple(expected_shape)
    if dout.shape != expected:
        if op:
            raise ValueError(f"{name}: {op} expected the shape of its forward output {expected}, "
                             f"received {dout.shape}")
        raise ValueError(f"{name}: expected shape {expected} (the forward output's shape), "
                         f"received {dout.shape}")
    if dtype is not None:
        dout = np.ascontiguousarray(dout, dtype=dtype)
    return dout


def check_cache(cache, op: str, length: int | None = None, arrays: int = 1, tagged: bool = False):
    """``cache`` as saved by ``<op>_forward``, checked for its form before any math reads it.

    ``check_cache(c, "relu")``: an array. ``check_cache(c, "linear", 3, arrays=2)``: a tuple of
    3 items whose first 2 are arrays. ``check_cache(c, "conv2d", tagged=True)``: a dict whose
    ``"op"`` entry names ``conv2d`` (so a transpose conv's cache, with the same keys, is refused).
    A backward pass handed something else (``None``, another op's cache) says so here,
    instead of failing on an attribute or an unpacking deep inside the math.
    """
    if tagged:
        ok = isinstance(cache, dict) and cache.get("op") == op
        want = "a dict tagged with its op"
        got = (f"a cache of {cache.get('op')}_forward" if isinstance(cache, dict) and "op" in cache
               else _describe(cache))
    elif length is None:
        ok = isinstance(cache, np.ndarray)
        want, got = "an array", _describe(cache)
    else:
        ok = (isinstance(cache, tuple) and len(cache) == length
              and all(isinstance(c, np.ndarray) for c in cache[:arrays]))
        want = f"a tuple of {length} items" + (f", the first {arrays} arrays" if arrays > 1 else
                                               ", the first an array" if arrays == 1 else "")
        got = (f"a tuple of {len(cache)} items ({', '.join(type(c).__name__ for c in cache[:6])})"
               if isinstance(cache, tuple) else _describe(cache))
    if not ok:
        raise TypeError(f"cache: expected the cache returned by {op}_forward ({want}), received {got}")
    return cache
