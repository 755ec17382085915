"""The union-find loop of Felzenszwalb-Huttenlocher graph segmentation, two ways.

Op ``fh_segment``: ``labels = kernel(a, b, w, n, k, min_size)`` with

- ``a``, ``b`` ``(E,)`` int64: the two pixels (flat indices ``row * W + col``)
  of every edge of the pixel graph, **already sorted by weight**, lightest first;
- ``w`` ``(E,)`` float64: the edge weights in that (non-decreasing) order;
- ``n`` the number of pixels, ``k`` the scale constant (a float > 0),
  ``min_size`` the smallest component size kept (an int >= 1);
- ``labels`` ``(n,)`` int64: the component of every pixel, numbered
  ``0, 1, 2, ...`` in the order the components first appear in a row-major
  scan of the pixels (so two backends that build the same components give
  the same array, whatever roots their union-find chose).

The algorithm (Felzenszwalb & Huttenlocher 2004; the min_size pass is their code's post-processing)::

    every pixel starts as its own component C, with Int(C) = 0 and |C| = 1
    for every edge (a, b, w), lightest first:
        if a and b are in different components A and B and
           w <= min(Int(A) + k / |A|,  Int(B) + k / |B|):     # = MInt(A, B)
            merge A and B into C;  Int(C) = w
    for every edge (a, b, w), lightest first (the min_size post-pass):
        if a and b are in different components and either has < min_size pixels:
            merge them

``Int(C)`` is the largest weight of C's minimum spanning tree. Because the
edges come lightest first, the edge that merges two components is the
heaviest MST edge of the result, so ``Int(C) = w`` at that moment; each
component stores its *threshold* ``tau(C) = Int(C) + k / |C|`` and the merge
test reads ``w <= tau(A) and w <= tau(B)``.

Both backends do the same float64 operations in the same order, so they agree
exactly: the union-find is union by size (the smaller tree hangs under the
larger root; on a tie, ``b``'s root under ``a``'s) with path compression.
"""

from __future__ import annotations

import numpy as np

from . import register
from ._jit import njit


# ---------------------------------------------------------------------------
# naive: the textbook union-find, Python lists and loops
# ---------------------------------------------------------------------------

@register("fh_segment", "naive")
def fh_segment_naive(a, b, w, n, k, min_size):
    """Kruskal-like merging with the internal-difference test, then the min_size post-pass."""
    parent = list(range(n))                 # parent[x] == x: x is the root of its component
    size = [1] * n                          # |C|, valid at roots
    threshold = [float(k)] * n              # tau(C) = Int(C) + k / |C|; a lone pixel: 0 + k / 1
    edges_a, edges_b, weights = a.tolist(), b.tolist(), w.tolist()

    def find(x):
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:            # path compression: point the path at the root
            parent[x], x = root, parent[x]
        return root

    def union(ra, rb):
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        return ra

    for e in range(len(weights)):
        ra, rb = find(edges_a[e]), find(edges_b[e])
        if ra != rb and weights[e] <= threshold[ra] and weights[e] <= threshold[rb]:
            r = union(ra, rb)
            threshold[r] = weights[e] + k / size[r]
    for e in range(len(weights)):
        ra, rb = find(edges_a[e]), find(edges_b[e])
        if ra != rb and (size[ra] < min_size or size[rb] < min_size):
            union(ra, rb)

    labels = [0] * n
    label_of_root = {}
    for x in range(n):                      # number the components in order of first appearance
        r = find(x)
        if r not in label_of_root:
            label_of_root[r] = len(label_of_root)
        labels[x] = label_of_root[r]
    return np.array(labels, dtype=np.int64)


# ---------------------------------------------------------------------------
# numba: the same loop over arrays, compiled
# ---------------------------------------------------------------------------

@njit
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit
def _union(parent, size, ra, rb):
    if size[ra] < size[rb]:
        ra, rb = rb, ra
    parent[rb] = ra
    size[ra] += size[rb]
    return ra


@njit
def _fh_segment_numba(a, b, w, n, k, min_size):
    parent = np.arange(n)
    size = np.ones(n, dtype=np.int64)
    threshold = np.full(n, k)
    for e in range(w.shape[0]):
        ra = _find(parent, a[e])
        rb = _find(parent, b[e])
        if ra != rb and w[e] <= threshold[ra] and w[e] <= threshold[rb]:
            r = _union(parent, size, ra, rb)
            threshold[r] = w[e] + k / size[r]
    for e in range(w.shape[0]):
        ra = _find(parent, a[e])
        rb = _find(parent, b[e])
        if ra != rb and (size[ra] < min_size or size[rb] < min_size):
            _union(parent, size, ra, rb)
    labels = np.empty(n, dtype=np.int64)
    label_of_root = np.full(n, -1, dtype=np.int64)
    count = 0
    for x in range(n):
        r = _find(parent, x)
        if label_of_root[r] < 0:
            label_of_root[r] = count
            count += 1
        labels[x] = label_of_root[r]
    return labels


@register("fh_segment", "numba", fastest=True)
def fh_segment_numba(a, b, w, n, k, min_size):
    """Compiled twin of :func:`fh_segment_naive` (same merges, same labels)."""
    return _fh_segment_numba(a, b, w, int(n), float(k), int(min_size))
