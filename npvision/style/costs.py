"""The costs of neural style transfer, each with its hand-written gradient.

Notation (the course's): an activation ``a`` of one layer has ``n_H x n_W``
positions and ``n_C`` channels; ``C`` is the content image, ``S`` the style image,
``G`` the generated image. Every function takes one image's activation,
``(n_H, n_W, n_C)`` or a batch of one ``(1, n_H, n_W, n_C)``, and returns the
gradient in the shape it was given.

Content cost (how far G's activation is from C's, at one layer)::

    J_content(C, G) = 1 / (4 n_H n_W n_C) * sum_{i,j,c} (a_C[i,j,c] - a_G[i,j,c])**2
    dJ/da_G         = (a_G - a_C) / (2 n_H n_W n_C)

Gram matrix (the "style" of one layer: which channels fire together). With the
activation unrolled into ``A`` of shape ``(n_H n_W, n_C)`` (one row per position)::

    G = A^T A                   G[c, c'] = sum_{i,j} a[i,j,c] a[i,j,c']       (n_C, n_C)
    dL/dA = A (dL/dG + dL/dG^T)

The course writes the same matrix as ``A A^T`` with ``A`` unrolled the other way,
``(n_C, n_H n_W)``; :func:`gram_matrix` accepts that 2-D form too.

Style cost of one layer::

    J_style^[l](S, G) = 1 / (4 n_C**2 (n_H n_W)**2) * sum_{c,c'} (G_S[c,c'] - G_G[c,c'])**2
    dJ/da_G           = A_G (G_G - G_S) / (n_C**2 (n_H n_W)**2)      (reshaped to a_G's shape)

When S and G have different sizes (a texture synthesized larger than its
sample) each Gram matrix is divided by its own ``n_H n_W`` inside the square,
``sum((G_S / M_S - G_G / M_G)**2) / (4 n_C**2)`` with ``M = n_H n_W``: the same
number when the sizes agree.

Style cost over several layers: ``J_style = sum_l lambda^[l] J_style^[l]``, the
weights ``lambda^[l]`` given as numbers or as the course's ``STYLE_LAYERS`` list of
``(layer name, weight)`` pairs.

Total variation (a smoothness regularizer, not in the course; squared
differences of neighbouring pixels, averaged over the ``H W C`` values)::

    TV(x) = 1 / (H W C) * sum ( (x[i+1,j,c] - x[i,j,c])**2 + (x[i,j+1,c] - x[i,j,c])**2 )

Total cost: ``J = alpha J_content + beta J_style`` (the course's ``alpha=10``,
``beta=40``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from .._checks import as_float_array
from ..kernels.blas import matmul

__all__ = ["gram_matrix", "gram_matrix_forward", "gram_matrix_backward", "content_cost",
           "layer_style_cost", "style_cost", "total_variation", "total_cost"]


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------
def _activation(a, name: str) -> np.ndarray:
    """``a`` as a float ``(n_H, n_W, n_C)`` array (a batch of one is unwrapped)."""
    a = as_float_array(a, name, ndim=(3, 4), layout="(n_H, n_W, n_C) or (1, n_H, n_W, n_C)")
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"{name}: expected the activation of one image, (1, n_H, n_W, n_C), "
                             f"received a batch of {a.shape[0]} (shape {a.shape})")
        a = a[0]                                             # (1, n_H, n_W, n_C) -> (n_H, n_W, n_C)
    if min(a.shape) < 1:
        raise ValueError(f"{name}: every dimension must be >= 1, received shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def _same_channels(a_ref: np.ndarray, a_G: np.ndarray, ref: str) -> None:
    if a_ref.shape[-1] != a_G.shape[-1]:
        raise ValueError(f"a_G: has {a_G.shape[-1]} channels but {ref} has {a_ref.shape[-1]}; "
                         f"both must come from the same layer")


# ---------------------------------------------------------------------------
# Gram matrix
# ---------------------------------------------------------------------------
def gram_matrix_forward(a):
    """``G = A^T A`` of an activation; returns ``(G, cache)``.

    a : ``(n_H, n_W, n_C)`` or ``(1, n_H, n_W, n_C)``.
    G : ``(n_C, n_C)``, unnormalized, in ``a``'s dtype.
    """
    shape = np.shape(a)
    a = _activation(a, "a")
    n_H, n_W, n_C = a.shape
    A = a.reshape(n_H * n_W, n_C)                            # (n_H n_W, n_C): one row per position
    G = A.T @ A                                              # (n_C, n_C)
    return G, dict(A=A, shape=shape)


def gram_matrix_backward(dG, cache):
    """``dL/da = A (dG + dG^T)``, in the shape the activation had in the forward."""
    A = cache["A"]
    n_C = A.shape[1]
    dG = as_float_array(dG, "dG", ndim=2, layout="(n_C, n_C)")
    if dG.shape != (n_C, n_C):
        raise ValueError(f"dG: expected the Gram matrix's shape ({n_C}, {n_C}), received {dG.shape}")
    # (n_H n_W, n_C) @ (n_C, n_C); npvision's matmul splits the rows over its threads
    dA = matmul(A, (dG + dG.T).astype(A.dtype, copy=False))
    return dA.reshape(cache["shape"]).astype(A.dtype, copy=False)


def gram_matrix(a) -> np.ndarray:
    """The Gram matrix of one layer's activation: ``G[c, c'] = sum_{i,j} a[i,j,c] a[i,j,c']``.

    a : ``(n_H, n_W, n_C)``, ``(1, n_H, n_W, n_C)``, or the course's unrolled
        ``(n_C, n_H n_W)`` matrix ``A`` (then ``G = A A^T``, the course's ``gram_matrix(A)``).
    Returns ``(n_C, n_C)``, unnormalized, symmetric. Gradient: :func:`gram_matrix_backward`.
    """
    arr = as_float_array(a, "a", ndim=(2, 3, 4),
                         layout="(n_H, n_W, n_C), (1, n_H, n_W, n_C) or the unrolled (n_C, n_H n_W)")
    if arr.ndim == 2:
        return arr @ arr.T                                   # (n_C, n_H n_W) @ (n_H n_W, n_C)
    return gram_matrix_forward(arr)[0]


# ---------------------------------------------------------------------------
# content and style costs
# ---------------------------------------------------------------------------
def content_cost(a_C, a_G):
    """The course's ``compute_content_cost``, with its gradient.

    a_C, a_G : the same layer's activations of the content and the generated
        image, ``(n_H, n_W, n_C)`` or ``(1, n_H, n_W, n_C)``, of equal shapes.
    Returns ``(J, dJ/da_G)``: ``J = sum((a_C - a_G)**2) / (4 n_H n_W n_C)`` as a
    float, and ``(a_G - a_C) / (2 n_H n_W n_C)`` in ``a_G``'s shape and dtype.
    """
    shape = np.shape(a_G)
    c = _activation(a_C, "a_C")
    g = _activation(a_G, "a_G")
    if c.shape != g.shape:
        raise ValueError(f"a_G: has shape {g.shape} but a_C has {c.shape}; the content cost "
                         f"compares the same layer of two images of the same size")
    n_H, n_W, n_C = g.shape
    diff = g - c.astype(g.dtype, copy=False)                 # (n_H, n_W, n_C)
    J = float(np.sum(diff.astype(np.float64) ** 2)) / (4 * n_H * n_W * n_C)
    dG = diff / g.dtype.type(2 * n_H * n_W * n_C)
    return J, dG.reshape(shape)


def _style_target(a_S) -> tuple[np.ndarray, int]:
    """The style image's Gram matrix divided by its ``n_H n_W``, and ``n_C``."""
    s = _activation(a_S, "a_S")
    G_S, _ = gram_matrix_forward(s)
    return G_S / (s.shape[0] * s.shape[1]), s.shape[2]


def _layer_style_cost_from_target(target: np.ndarray, a_G, shape):
    """``layer_style_cost`` with the style side precomputed: ``target = G_S / M_S`` (n_C, n_C)."""
    g = _activation(a_G, "a_G")
    n_H, n_W, n_C = g.shape
    if target.shape != (n_C, n_C):
        raise ValueError(f"a_G: has {n_C} channels but the style activation has {target.shape[0]}; "
                         f"both must come from the same layer")
    M = n_H * n_W
    G_G, cache = gram_matrix_forward(g)
    diff = G_G / M - target.astype(g.dtype, copy=False)      # (n_C, n_C)
    J = float(np.sum(diff.astype(np.float64) ** 2)) / (4 * n_C ** 2)
    # dJ/dG_G = 2 diff / (4 n_C^2 M); gram_matrix_backward adds its transpose (diff is symmetric)
    dG = diff / g.dtype.type(2 * n_C ** 2 * M)
    return J, gram_matrix_backward(dG, cache).reshape(shape)


def layer_style_cost(a_S, a_G):
    """The course's ``compute_layer_style_cost``, with its gradient.

    a_S, a_G : the same layer's activations of the style and the generated image,
        ``(n_H, n_W, n_C)`` or ``(1, n_H, n_W, n_C)``, with the same ``n_C``.
    Returns ``(J, dJ/da_G)``::

        J = sum((G_S - G_G)**2) / (4 n_C**2 (n_H n_W)**2)
        dJ/da_G = A_G (G_G - G_S) / (n_C**2 (n_H n_W)**2)

    (with different sizes each Gram matrix is divided by its own ``n_H n_W``:
    see the module docstring).
    """
    shape = np.shape(a_G)
    target, n_C = _style_target(a_S)
    g = _activation(a_G, "a_G")
    if g.shape[-1] != n_C:
        raise ValueError(f"a_G: has {g.shape[-1]} channels but a_S has {n_C}; both must come "
                         f"from the same layer")
    return _layer_style_cost_from_target(target, g, shape)


def _weight(v, name: str) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v):
        raise TypeError(f"{name}: expected a finite number, received {v!r}")
    return float(v)


def _layer_weights(weights, keys: list, by_name: bool) -> dict:
    """The weights as ``{key: float}``: keys are layer names (``by_name``) or list positions.

    A list of ``(name, weight)`` pairs (the course's ``STYLE_LAYERS``) is matched by
    name to dicts of activations and by position to lists; plain numbers by position.
    """
    if isinstance(weights, Mapping):
        if not by_name:
            raise TypeError("weights: a dict of weights needs styles and generated as dicts "
                            "keyed by layer name")
        pairs = list(weights.items())
    elif isinstance(weights, Sequence) and not isinstance(weights, str):
        named = [isinstance(w, (tuple, list)) and len(w) == 2 and isinstance(w[0], str)
                 for w in weights]
        if all(named) and weights:
            pairs = ([(n, w) for n, w in weights] if by_name
                     else [(i, w) for i, (_, w) in enumerate(weights)])
        elif by_name:
            raise TypeError("weights: with dicts of activations give the weights as a dict or "
                            "as (layer name, weight) pairs")
        else:
            pairs = list(enumerate(weights))
    else:
        raise TypeError(f"weights: expected a list of numbers, a list of (layer name, weight) "
                        f"pairs or a dict, received {type(weights).__name__}")
    out = {k: _weight(w, f"weights[{k!r}]") for k, w in pairs}
    if set(out) != set(keys) or len(pairs) != len(keys):
        raise ValueError(f"weights: has entries for {[k for k, _ in pairs]} but the activations "
                         f"are for {keys}; give one weight per style layer")
    return out


def style_cost(styles, generated, weights):
    """The course's ``compute_style_cost``: ``J_style = sum_l lambda^[l] J_style^[l](S, G)``.

    styles, generated : the style image's and the generated image's activations,
        both lists (layer by layer, in the same order) or both dicts keyed by
        layer name.
    weights : one ``lambda^[l]`` per layer: a list of numbers, the course's
        ``STYLE_LAYERS`` list of ``(name, weight)`` pairs, or a dict by name.
    Returns ``(J_style, grads)`` with ``grads`` like ``generated`` (a list or a
    dict): ``lambda^[l] dJ_style^[l]/da_G^[l]`` for each layer.
    """
    if isinstance(styles, Mapping) != isinstance(generated, Mapping):
        raise TypeError("styles, generated: give both as lists (in the same layer order) or both "
                        "as dicts keyed by layer name")
    if isinstance(styles, Mapping):
        keys = list(generated)
        if set(styles) != set(keys):
            raise ValueError(f"styles: has layers {sorted(styles)} but generated has {sorted(keys)}")
        lam = _layer_weights(weights, keys, by_name=True)
        pairs = {k: layer_style_cost(styles[k], generated[k]) for k in keys}
        J = sum(lam[k] * pairs[k][0] for k in keys)
        return float(J), {k: pairs[k][1] * lam[k] for k in keys}
    styles, generated = list(styles), list(generated)
    if len(styles) != len(generated):
        raise ValueError(f"styles: has {len(styles)} layers but generated has {len(generated)}")
    if not styles:
        raise ValueError("styles: expected at least one layer")
    lam = _layer_weights(weights, list(range(len(styles))), by_name=False)
    pairs = [layer_style_cost(s, g) for s, g in zip(styles, generated)]
    J = sum(lam[i] * J_l for i, (J_l, _) in enumerate(pairs))
    return float(J), [d * lam[i] for i, (_, d) in enumerate(pairs)]


# ---------------------------------------------------------------------------
# total variation and total cost
# ---------------------------------------------------------------------------
def total_variation(image):
    """Mean squared difference between neighbouring pixels, and its gradient.

    image : ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)`` floats.
    Returns ``(TV, dTV/dimage)`` with ``TV`` as in the module docstring (summed
    over the batch, averaged over each image's ``H W C`` values) and the
    gradient in ``image``'s shape and dtype. A pixel's gradient collects
    ``-2 d`` from the difference ``d`` it starts and ``+2 d`` from the one it ends.
    """
    x = as_float_array(image, "image", ndim=(2, 3, 4), layout="(H, W), (H, W, C) or (N, H, W, C)")
    shape = x.shape
    if x.ndim == 2:
        x = x[:, :, None]                                    # (H, W) -> (H, W, 1)
    if x.ndim == 3:
        x = x[None]                                          # (H, W, C) -> (1, H, W, C)
    _, H, W, C = x.shape
    scale = 1.0 / (H * W * C)
    dv = x[:, 1:, :, :] - x[:, :-1, :, :]                    # (N, H-1, W, C) vertical differences
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]                    # (N, H, W-1, C) horizontal differences
    tv = scale * (float(np.sum(dv.astype(np.float64) ** 2)) + float(np.sum(dh.astype(np.float64) ** 2)))
    grad = np.zeros_like(x)
    k = x.dtype.type(2 * scale)
    grad[:, 1:] += k * dv                                    # each difference's end pixel
    grad[:, :-1] -= k * dv                                   # ... and its start pixel
    grad[:, :, 1:] += k * dh
    grad[:, :, :-1] -= k * dh
    return tv, grad.reshape(shape)


def total_cost(J_content, J_style, alpha=10, beta=40):
    """The course's ``total_cost``: ``J = alpha J_content + beta J_style``.

    Its gradient is ``alpha`` with respect to ``J_content`` and ``beta`` with
    respect to ``J_style``: the loop scales each cost's gradient by them.
    """
    for v, name in ((alpha, "alpha"), (beta, "beta")):
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not np.isfinite(v):
            raise TypeError(f"{name}: expected a finite number, received {v!r}")
    return alpha * J_content + beta * J_style
