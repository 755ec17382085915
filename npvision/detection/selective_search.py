"""Selective search (Uijlings, van de Sande, Gevers & Smeulders, IJCV 2013): region
proposals by hierarchical grouping, diversified over colour spaces, scales and
similarity measures.

The idea: objects are regions of the image at *some* scale, so start from an
over-segmentation and keep merging the two most similar neighbouring regions
until one region is left; every region ever formed is a proposal. No single
rule of "similar" finds every object, so run the grouping several times,
with different colour spaces, different starting segmentations and different
similarity measures, and pool the boxes.

One *strategy* is a colour space, a scale ``k`` and a similarity combination:

1. initial regions: :func:`npvision.detection.felzenszwalb` on the image in
   that colour space with scale ``k``;
2. region features (:mod:`npvision.detection.region_features`): size, box,
   colour histogram (25 bins per channel), texture histogram (8 orientations x
   10 bins per channel);
3. :func:`hierarchical_grouping`::

       S = { s(r_i, r_j) for every pair of neighbouring regions }
       while S is not empty:
           take the most similar pair (r_i, r_j);  r_t = r_i u r_j
           C_t, T_t = size-weighted means of C_i, C_j and T_i, T_j;  box_t = box around both
           drop every similarity involving r_i or r_j
           add s(r_t, r) for every neighbour r of r_i or r_j
       (n initial regions give n - 1 merges and 2n - 1 regions)

   with ``s = a_C s_colour + a_T s_texture + a_S s_size + a_F s_fill``, each
   ``a`` 0 or 1 ("CTSF" means all four, "TSF" drops colour).

The modes (the paper's "Single Strategy", "Selective Search Fast" and "Selective Search Quality"):

=========  =====================================  ==============  ==================  ==========
mode       colour spaces                          k               similarities        strategies
=========  =====================================  ==============  ==================  ==========
single     HSV                                    100             CTSF                1
fast       HSV, Lab                               50, 100         CTSF, TSF           8
quality    HSV, Lab, rgI, H, I                    50, 100, 150,   CTSF, TSF, F, S     80
                                                  300
=========  =====================================  ==============  ==================  ==========

Ranking (the paper's "Combining Locations"): in each hierarchy, the region formed last
(the whole image) has position 1, the one before it 2, ..., the initial regions
the largest positions. Each region gets the value ``RND x position`` with ``RND``
uniform in [0, 1] (seeded), all strategies' regions are sorted by increasing
value, and only then duplicates are removed (a box proposed by several strategies
keeps its best rank). So large, late regions tend to come first, but the small
regions of every strategy are mixed in.

:func:`selective_search` returns the boxes best first, ``(K, 4)`` float64
``xyxy`` in continuous pixel coordinates (pixel (r, c) covers ``[c, c+1) x [r, r+1)``,
so a region's box is ``[col_min, row_min, col_max + 1, row_max + 1]``).

Defaults tuned on the synthetic scenes (``benchmarks/selective_search.md``):
``sigma = 0.8`` (the paper's) and ``min_region_size = 20``, the initial
segmentation's smallest component (the authors' code sets it to ``k``, 50-100
pixels, which on 64x64 and 128x128 images swallows the slivers and corners that
make tight boxes: recall at IoU 0.7 fell from 0.994 to 0.977).
"""

from __future__ import annotations

import heapq
import numbers
from dataclasses import dataclass

import numpy as np

from .._checks import _describe
from . import region_features as RF
from .segmentation_graph import felzenszwalb

__all__ = ["SEARCH_MODES", "Strategy", "Hierarchy", "search_strategies", "region_adjacency",
           "hierarchical_grouping", "selective_search_hierarchies", "rank_proposals",
           "selective_search"]

SIMILARITY_LETTERS = "CTSF"

#: mode -> (colour spaces, scales k, similarity combinations); the strategies are their product.
SEARCH_MODES = {
    "single": (("hsv",), (100,), ("CTSF",)),
    "fast": (("hsv", "lab"), (50, 100), ("CTSF", "TSF")),
    "quality": (("hsv", "lab", "rgi", "h", "i"), (50, 100, 150, 300), ("CTSF", "TSF", "F", "S")),
}


@dataclass(frozen=True)
class Strategy:
    """One diversification strategy: a colour space, an FH scale ``k`` and a similarity
    combination (letters of "CTSF": colour, texture, size, fill)."""
    color_space: str
    k: float
    similarity: str


def search_strategies(mode: str = "fast") -> list[Strategy]:
    """The strategies of ``mode`` ("single", "fast" or "quality"), colour space major."""
    if mode not in SEARCH_MODES:
        raise ValueError(f"mode: expected one of {tuple(SEARCH_MODES)}, received {mode!r}")
    spaces, ks, sims = SEARCH_MODES[mode]
    return [Strategy(c, k, s) for c in spaces for k in ks for s in sims]


# ----------------------------------------------------------------------------- regions

def region_adjacency(labels: np.ndarray) -> np.ndarray:
    """Pairs of neighbouring regions of a label image ``(H, W)`` -> ``(P, 2)`` int64, ``i < j``,
    sorted. Two regions are neighbours when two of their pixels are 8-neighbours (the
    connectivity of the segmentation's graph)."""
    shifted = [(labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :]),
               (labels[:-1, :-1], labels[1:, 1:]), (labels[1:, :-1], labels[:-1, 1:])]
    a = np.concatenate([p.ravel() for p, _ in shifted])
    b = np.concatenate([q.ravel() for _, q in shifted])
    differ = a != b
    lo, hi = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
    n = int(labels.max()) + 1 if labels.size else 0
    codes = np.unique(lo.astype(np.int64) * n + hi)                    # (P,) one code per pair
    return np.stack([codes // n, codes % n], axis=1)                    # (P, 2)


@dataclass
class Hierarchy:
    """The result of one :func:`hierarchical_grouping`.

    With ``n`` initial regions: ``merges (n-1, 2)`` int64, step s merged regions
    ``merges[s]`` into the new region ``n + s``; ``similarities (n-1,)`` the similarity
    of each merged pair; ``sizes (2n-1,)`` and ``boxes (2n-1, 4)`` (inclusive
    ``row_min, col_min, row_max, col_max``) of every region, initial ones first;
    ``labels (H, W)`` the initial segmentation; ``strategy`` what made it.
    """
    labels: np.ndarray
    merges: np.ndarray
    similarities: np.ndarray
    sizes: np.ndarray
    boxes: np.ndarray
    strategy: Strategy | None = None

    @property
    def n_initial(self) -> int:
        return int(self.labels.max()) + 1

    def positions(self) -> np.ndarray:
        """Each region's position in the hierarchy ``(2n-1,)``: 1 for the last region formed
        (the whole image), 2 for the one before, ..., the initial regions last."""
        n_regions = len(self.sizes)
        return n_regions - np.arange(n_regions)

    def labels_after(self, steps: int) -> np.ndarray:
        """The segmentation after the first ``steps`` merges: ``(H, W)``, each pixel labelled
        with the id of the region holding it then (initial ids ``< n``, merged ``n + s``)."""
        n = self.n_initial
        if not 0 <= steps <= len(self.merges):
            raise ValueError(f"steps: expected 0..{len(self.merges)}, received {steps}")
        owner = np.arange(n + steps)                                     # region -> region holding it
        for s in range(steps):
            owner[self.merges[s]] = n + s
        for r in range(n + steps - 1, -1, -1):                          # children before parents
            owner[r] = owner[owner[r]]
        return owner[self.labels]

    def xyxy(self) -> np.ndarray:
        """Every region's box as ``xyxy`` continuous pixel coordinates, ``(2n-1, 4)`` float64."""
        b = self.boxes
        return np.stack([b[:, 1], b[:, 0], b[:, 3] + 1, b[:, 2] + 1], axis=1).astype(np.float64)


def _check_similarity(similarity) -> str:
    if (not isinstance(similarity, str) or not similarity
            or any(ch not in SIMILARITY_LETTERS for ch in similarity)):
        raise ValueError(f"similarity: expected letters of 'CTSF' (e.g. 'CTSF', 'TSF', 'F'), "
                         f"received {similarity!r}")
    return similarity


def hierarchical_grouping(labels: np.ndarray, color_hist: np.ndarray, texture_hist: np.ndarray,
                          similarity: str = "CTSF") -> Hierarchy:
    """Greedy bottom-up grouping of the regions of ``labels (H, W)`` (ids ``0 .. n-1``).

    ``color_hist (n, n_C)`` and ``texture_hist (n, n_T)``: the regions' L1-normalized
    histograms (:func:`~npvision.detection.region_features.color_histograms`,
    ``texture_histograms``); ``similarity``: which of the four similarities to add up.
    Merges the most similar neighbouring pair until one region is left (ties: the
    pair ``(i, j)`` with the smallest ``i``, then ``j``), propagating the histograms
    by size-weighted averages. Returns a :class:`Hierarchy`.
    """
    use = _check_similarity(similarity)
    n = int(labels.max()) + 1
    total = 2 * n - 1
    image_pixels = labels.size
    sizes0, boxes0 = RF.region_sizes_and_boxes(labels, n)
    sizes = np.zeros(total, dtype=np.int64)
    boxes = np.zeros((total, 4), dtype=np.int64)
    color = np.zeros((total, color_hist.shape[1]))
    texture = np.zeros((total, texture_hist.shape[1]))
    sizes[:n], boxes[:n], color[:n], texture[:n] = sizes0, boxes0, color_hist, texture_hist

    def similarities(i, js):
        """s(r_i, r_j) for one region i and an array of regions js -> (len(js),)."""
        s = np.zeros(len(js))
        if "C" in use:
            s += RF.color_similarity(color[i], color[js])
        if "T" in use:
            s += RF.texture_similarity(texture[i], texture[js])
        if "S" in use:
            s += RF.size_similarity(sizes[i], sizes[js], image_pixels)
        if "F" in use:
            s += RF.fill_similarity(boxes[i], boxes[js], sizes[i], sizes[js], image_pixels)
        return s

    pairs = region_adjacency(labels)                                    # (P, 2)
    neighbours = [set() for _ in range(total)]
    heap = []
    for i, j in pairs.tolist():
        neighbours[i].add(j)
        neighbours[j].add(i)
    for i in range(n):                                                  # every pair once, i < j
        js = np.array(sorted(j for j in neighbours[i] if j > i), dtype=np.int64)
        if len(js):
            heap.extend(zip((-similarities(i, js)).tolist(), [i] * len(js), js.tolist()))
    heapq.heapify(heap)                                                 # most similar on top

    alive = np.zeros(total, dtype=bool)
    alive[:n] = True
    merges, merged_similarity = [], []
    t = n
    while heap:
        neg_s, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]):                                 # a pair that no longer exists
            continue
        sizes[t] = sizes[i] + sizes[j]
        color[t] = (sizes[i] * color[i] + sizes[j] * color[j]) / sizes[t]
        texture[t] = (sizes[i] * texture[i] + sizes[j] * texture[j]) / sizes[t]
        boxes[t, :2] = np.minimum(boxes[i, :2], boxes[j, :2])
        boxes[t, 2:] = np.maximum(boxes[i, 2:], boxes[j, 2:])
        alive[i] = alive[j] = False
        alive[t] = True
        around = (neighbours[i] | neighbours[j]) - {i, j}
        for r in around:
            neighbours[r] -= {i, j}
            neighbours[r].add(t)
        neighbours[t] = around
        neighbours[i] = neighbours[j] = set()
        merges.append((i, j))
        merged_similarity.append(-neg_s)
        if around:
            rs = np.array(sorted(around), dtype=np.int64)
            for s_tr, r in zip((-similarities(t, rs)).tolist(), rs.tolist()):
                heapq.heappush(heap, (s_tr, r, t))                      # r < t: pairs stay (small, large)
        t += 1
    n_regions = t
    return Hierarchy(labels=labels, merges=np.array(merges, dtype=np.int64).reshape(-1, 2),
                     similarities=np.array(merged_similarity), sizes=sizes[:n_regions],
                     boxes=boxes[:n_regions])


# ----------------------------------------------------------------------------- the whole search

def _as_rgb(image) -> np.ndarray:
    """The accepted inputs -> ``(H, W, 3)`` float64 in [0, 1] (see :func:`selective_search`)."""
    if not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float64) / 255.0
    elif image.dtype.kind in "iub":
        raise TypeError(f"image: expected float values in [0, 1] or uint8 values in 0..255, received "
                        f"{_describe(image)}; convert it first, e.g. image.astype(np.float32) / 255.0")
    elif image.dtype.kind != "f":
        raise TypeError(f"image: expected a float or uint8 image, received {_describe(image)}")
    if image.ndim == 2:
        image = image[:, :, None]                                       # (H, W) -> (H, W, 1)
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image: expected one image (H, W, 3) RGB, (H, W, 1) or (H, W) grey, "
                         f"received shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image: expected at least one pixel, received an empty image of shape "
                         f"{image.shape}")
    if not np.isfinite(image).all():
        raise ValueError("image: expected finite values, found NaN or infinity")
    lo, hi = float(image.min()), float(image.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"image: expected float values in [0, 1], received values in [{lo:g}, {hi:g}]"
                         + ("; divide 8-bit values by 255" if hi > 1.0 else ""))
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)                             # (H, W, 1) -> (H, W, 3)
    return image.astype(np.float64, copy=False)


def _check_strategies(mode) -> list[Strategy]:
    if isinstance(mode, str):
        return search_strategies(mode)
    chosen = list(mode)
    if not chosen or not all(isinstance(s, Strategy) for s in chosen):
        raise TypeError(f"mode: expected 'single', 'fast', 'quality' or a non-empty list of Strategy, "
                        f"received {mode!r}")
    for s in chosen:
        if s.color_space not in RF.COLOR_SPACES:
            raise ValueError(f"mode: unknown colour space {s.color_space!r}; expected one of {RF.COLOR_SPACES}")
        _check_similarity(s.similarity)
    return chosen


def selective_search_hierarchies(image, mode="fast", sigma: float = 0.8,
                                 min_region_size: int = 20) -> list[Hierarchy]:
    """Run every strategy of ``mode`` on ``image``: one :class:`Hierarchy` per strategy.

    ``mode``: "single", "fast", "quality" or a list of :class:`Strategy`. The pixels'
    colour and texture bins of a colour space, and the segmentation and histograms of
    a (colour space, k), are computed once and shared by the strategies that use them.
    """
    rgb = _as_rgb(image)
    chosen = _check_strategies(mode)
    out, pixels, regions = [], {}, {}
    for strategy in chosen:
        space, key = strategy.color_space, (strategy.color_space, strategy.k)
        if space not in pixels:                                         # per colour space: pixel bins
            img = RF.to_color_space(rgb, space)
            pixels[space] = (img, RF.color_bins(img), RF.texture_bins(img))
        if key not in regions:                                          # per (space, k): regions
            img, colour_bins, texture_bins = pixels[space]
            labels = felzenszwalb(img, k=strategy.k, sigma=sigma, min_size=min_region_size)
            n = int(labels.max()) + 1
            regions[key] = (labels, RF.region_histograms(colour_bins, labels, n, RF.COLOR_BINS),
                            RF.region_histograms(texture_bins, labels, n, RF.TEXTURE_BINS))
        labels, color_hist, texture_hist = regions[key]
        hierarchy = hierarchical_grouping(labels, color_hist, texture_hist, strategy.similarity)
        hierarchy.strategy = strategy
        out.append(hierarchy)
    return out


def rank_proposals(hierarchies: list[Hierarchy], seed: int = 0) -> np.ndarray:
    """Pool and rank the regions of several hierarchies (the paper's "Combining Locations").

    Value of a region: ``RND x position`` (position 1 = the last region formed),
    ``RND ~ U[0, 1)`` from ``numpy.random.default_rng(seed)``, one draw per region,
    hierarchies in order. Sorted by increasing value (a stable sort), then every
    box that already appeared higher up is dropped. Returns ``(K, 4)`` float64 xyxy.
    """
    rng = np.random.default_rng(seed)
    boxes = np.concatenate([h.xyxy() for h in hierarchies])            # (M, 4) every region
    positions = np.concatenate([h.positions() for h in hierarchies])   # (M,)
    values = rng.random(len(positions)) * positions
    order = np.argsort(values, kind="stable")
    ranked = boxes[order]
    _, first = np.unique(ranked, axis=0, return_index=True)            # first (best) copy of each box
    return ranked[np.sort(first)]


def selective_search(image, mode="fast", *, seed: int = 0, max_boxes: int | None = None,
                     min_box_size: int = 0, sigma: float = 0.8, min_region_size: int = 20) -> np.ndarray:
    """Region proposals for ``image``, best first: ``(K, 4)`` float64 ``xyxy`` pixels.

    ``image``: ``(H, W, 3)`` RGB, or ``(H, W)`` / ``(H, W, 1)`` grey, either float in
    [0, 1] or uint8 in 0..255 (divided by 255; other integer types are refused, since
    their range is ambiguous). ``mode``: "single" (1 strategy, fastest), "fast"
    (8 strategies), "quality" (80), or a list of :class:`Strategy`. ``seed``: the
    ranking's random numbers (the same seed, the same order). ``max_boxes``: keep the
    best ``max_boxes`` (None: all); ``min_box_size``: drop boxes narrower or lower than
    this many pixels. ``sigma`` and ``min_region_size``: the initial segmentation's
    smoothing and smallest region (:func:`~npvision.detection.felzenszwalb`).

    Boxes are distinct, inside the image (``0 <= x1 < x2 <= W``, ``0 <= y1 < y2 <= H``),
    and include the whole image.
    """
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, received {_describe(seed)}")
    if max_boxes is not None and (not isinstance(max_boxes, numbers.Integral) or max_boxes < 1):
        raise ValueError(f"max_boxes: expected None or an int >= 1, received {max_boxes!r}")
    if not isinstance(min_box_size, numbers.Integral) or min_box_size < 0:
        raise ValueError(f"min_box_size: expected an int >= 0, received {min_box_size!r}")
    boxes = rank_proposals(selective_search_hierarchies(image, mode, sigma, min_region_size), int(seed))
    if min_box_size:
        keep = ((boxes[:, 2] - boxes[:, 0]) >= min_box_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_box_size)
        boxes = boxes[keep]
    return boxes if max_boxes is None else boxes[:max_boxes]
