"""U-Net (Ronneberger, Fischer and Brox, 2015): an encoder, a decoder, and skip connections.

Shapes, for an input ``(N, H, W, C_in)``, ``depth = d`` levels and ``base_filters = F``
(level ``l`` has ``F 2^l`` channels)::

    encoder level l = 0 .. d-1:  ConvBlock  (N, H_l, W_l, .) -> (N, H_l', W_l', F 2^l)  = skip_l
                                 MaxPool 2x2 -> (N, H_l'/2, W_l'/2, F 2^l)
    bottleneck:                  ConvBlock  -> (N, h, w, F 2^d)
    decoder level l = d-1 .. 0:  up  (x2)   -> (N, 2h, 2w, F 2^l)
                                 crop skip_l to (2h, 2w)            ("valid" only)
                                 concat [up, skip_l] -> (N, 2h, 2w, 2 F 2^l)
                                 ConvBlock  -> (N, 2h', 2w', F 2^l)
    head:                        1x1 conv   -> (N, H_out, W_out, num_classes)  logits

A ConvBlock is two 3x3 convolutions, each followed by an optional BatchNorm and a ReLU.

Padding
-------
``padding="same"``: every 3x3 convolution keeps the size, so ``H_out = H``; each
of the ``d`` max-pools halves the size exactly, so ``H`` must be a multiple of ``2^d``.

``padding="valid"`` (the paper's unpadded convolutions): each 3x3 convolution
trims 2 pixels (``H' = H - 2``), a ConvBlock trims 4, and the skip, larger than
the up-sampled decoder map, is centre-cropped to it. Going down,
``H_(l+1) = (H_l - 4) / 2`` must be a whole number at every level; going up,
``u -> 2u - 4``. The paper's 572x572 input gives a 388x388 output (``d = 4``).
:func:`unet_output_size` computes it and :func:`unet_input_sizes` lists the
sizes that work.

Up path (``upsampling=``)
-------------------------
``"transpose"``      ``ConvTranspose2D(k = up_kernel, stride 2, padding "same")``: learned
                     upsampling (``H -> 2H``). With ``k`` not a multiple of the stride
                     the kernels overlap unevenly and leave a checkerboard pattern.
``"nearest"``        nearest-neighbour copy into 2x2 blocks, then a ``up_kernel`` "same" conv.
``"bed_of_nails"``   value at the top-left of each 2x2 block, zeros elsewhere, then the conv.
``"max_unpool"``     the ``up_kernel`` conv first (to the skip's channels), then every value
                     goes back where the paired encoder max-pool found it, zeros elsewhere;
                     the level's ConvBlock fills the gaps ("same" padding only: the pool's
                     positions must match the decoder map).

Backward
--------
:meth:`UNet.backward` is the forward read backwards. In each decoder level
the concatenation's gradient is split with ``F.concat_backward`` into the up
path's part and the skip's part, and the crop's gradient is a zero pad
(:func:`center_crop_backward`). In each encoder level the skip's activation fed
two consumers (the pool and the decoder), so its gradient is a visible sum::

    d skip_l = pool_l.backward(d pooled_l) + d skip_l (from the decoder)
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from .._checks import as_float_array, int_pair, positive_int
from ..nn.module import Module, Sequential

__all__ = ["center_crop_forward", "center_crop_backward", "unet_output_size", "unet_input_sizes",
           "check_unet_input_size", "ConvBlock", "UpBlock", "UNet", "UPSAMPLING_MODES"]

UPSAMPLING_MODES = ("transpose", "nearest", "bed_of_nails", "max_unpool")
_PADDINGS = ("same", "valid")


# ---------------------------------------------------------------------------
# the crop of the skip connection and its gradient
# ---------------------------------------------------------------------------
def center_crop_forward(x, size):
    """The centre ``(h, w)`` window of every image: ``(N, H, W, C) -> (N, h, w, C)``.

    ``top = (H - h) // 2``, ``left = (W - w) // 2`` (an odd surplus leaves the
    extra row/column at the bottom/right). Returns ``(out, cache)``.
    """
    x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
    h, w = int_pair(size, "size")
    big_h, big_w = x.shape[1:3]
    if h > big_h or w > big_w:
        raise ValueError(f"size: cannot crop a {(h, w)} window out of a map of size "
                         f"{(big_h, big_w)} (x of shape {x.shape})")
    top, left = (big_h - h) // 2, (big_w - w) // 2
    out = x[:, top:top + h, left:left + w, :]                        # (N, h, w, C) view
    pads = ((0, 0), (top, big_h - h - top), (left, big_w - w - left), (0, 0))
    return np.ascontiguousarray(out), pads


def center_crop_backward(dout, cache):
    """Gradient of the crop: ``dout`` put back in place, zeros where the crop cut (a zero pad).

    ``dout (N, h, w, C) -> dx (N, H, W, C)``: the cropped-away pixels did not reach
    the output, so their gradient is 0.
    """
    dout = as_float_array(dout, "dout", ndim=4, layout="(N, h, w, C)")
    return np.pad(dout, cache)                                       # (N, H, W, C), zeros around


# ---------------------------------------------------------------------------
# which input sizes a U-Net can take
# ---------------------------------------------------------------------------
def _trace_size(size: int, depth: int, padding: str):
    """Follow one spatial size through the network: ``(output_size, None)`` or ``(None, why)``."""
    trim = 0 if padding == "same" else 4                # two 3x3 convolutions
    s = size
    for level in range(depth):
        s -= trim
        if s < 2:
            return None, f"level {level} leaves {s} pixels before its max-pool"
        if s % 2:
            return None, (f"the max-pool of level {level} receives an odd size {s}, which "
                          f"2x2 pooling cannot halve evenly")
        s //= 2
    s -= trim                                           # bottleneck
    if s < 1:
        return None, f"the bottleneck's convolutions leave {s} pixels"
    for level in range(depth):
        s = 2 * s - trim
        if s < 1:
            return None, f"the decoder's convolutions leave {s} pixels"
    return s, None


def _check_options(depth, padding):
    depth = positive_int(depth, "depth")
    if padding not in _PADDINGS:
        raise ValueError(f"padding: expected 'same' or 'valid', received {padding!r}")
    return depth, padding


def unet_output_size(size: int, depth: int, padding: str = "same") -> int:
    """Output height (or width) of a U-Net for an input of ``size`` pixels.

    ``"same"``: ``size`` itself (a multiple of ``2^depth``). ``"valid"``: each
    level trims 4 going down and up (see the module docstring). Raises
    ``ValueError`` naming the sizes that work when ``size`` does not.
    """
    depth, padding = _check_options(depth, padding)
    size = positive_int(size, "size")
    out, why = _trace_size(size, depth, padding)
    if out is None:
        raise ValueError(_size_message("size", size, depth, padding, why))
    return out


def unet_input_sizes(depth: int, padding: str = "same", near: int = 64, count: int = 4) -> list[int]:
    """The ``count`` input sizes closest to ``near`` that a U-Net of this depth and padding takes.

    ``"same"``: the multiples of ``2^depth``. ``"valid"``: ``2^d b + 4 (2^d - 1)`` for
    every bottleneck size ``b`` large enough to leave an output (e.g. 572 for ``d = 4``).
    """
    depth, padding = _check_options(depth, padding)
    near, count = positive_int(near, "near"), positive_int(count, "count")
    step = 2 ** depth
    if padding == "same":
        first = step
        offset = 0
    else:
        offset = 4 * (step - 1)
        first = next(step * b + offset for b in range(1, 10_000)
                     if _trace_size(step * b + offset, depth, padding)[0] is not None)
    # the candidates form an arithmetic progression first, first + step, ...
    k = max(0, (near - first) // step)
    lo = max(0, k - count)
    candidates = [first + step * i for i in range(lo, k + count + 1)]
    candidates.sort(key=lambda s: (abs(s - near), s))
    return sorted(candidates[:count])


def _size_message(name, size, depth, padding, why, model="U-Net") -> str:
    works = ", ".join(map(str, unet_input_sizes(depth, padding, near=size)))
    if padding == "same":
        rule = f"with padding='same' the size must be a multiple of 2^depth = {2 ** depth}"
    else:
        rule = (f"with padding='valid' the size must be 2^d b + 4 (2^d - 1) = {2 ** depth} b + "
                f"{4 * (2 ** depth - 1)} for a large enough bottleneck size b")
    return (f"{name}: {size} pixels do not fit a {model} of depth {depth}: {why}; {rule}; "
            f"sizes that work near {size}: {works}")


def check_unet_input_size(shape, depth: int, padding: str = "same", model: str = "U-Net"
                          ) -> tuple[int, int]:
    """Check the ``(H, W)`` of an input shape ``(N, H, W, C)``; return the output ``(H_out, W_out)``.

    ``model`` only names the network in the error message.
    """
    depth, padding = _check_options(depth, padding)
    out = []
    for axis, name in ((1, "height"), (2, "width")):
        size = shape[axis]
        s, why = _trace_size(size, depth, padding)
        if s is None:
            raise ValueError(_size_message(f"x: {name}", size, depth, padding, why, model)
                             + f" (x has shape {tuple(shape)})")
        out.append(s)
    return out[0], out[1]


# ---------------------------------------------------------------------------
# the building blocks
# ---------------------------------------------------------------------------
class ConvBlock(Sequential):
    """Two 3x3 convolutions, each followed by [BatchNorm] and ReLU; then [Dropout].

    ``(N, H, W, C_in) -> (N, H - t, W - t, C_out)`` with ``t = 0`` for ``"same"``
    padding and ``t = 4`` for ``"valid"``. With BatchNorm the convolutions have no
    bias (BatchNorm's ``beta`` plays its part). Backward is Sequential's: the layers
    in reverse order.
    """

    def __init__(self, in_channels: int, out_channels: int, padding: str = "same",
                 batchnorm: bool = True, dropout: float = 0.0, rng=None, dtype=np.float32):
        layers = []
        for i, c_in in enumerate((in_channels, out_channels)):
            layers.append((f"conv{i + 1}", nn.Conv2D(c_in, out_channels, 3, padding=padding,
                                                     bias=not batchnorm, rng=rng, dtype=dtype)))
            if batchnorm:
                layers.append((f"bn{i + 1}", nn.BatchNorm2D(out_channels, dtype=dtype)))
            layers.append((f"relu{i + 1}", nn.ReLU()))
        if dropout:
            layers.append(("dropout", nn.Dropout(dropout, rng=rng)))
        super().__init__(dict(layers))


def _up_layer(mode: str, in_channels: int, out_channels: int, kernel: int, pool, bias: bool, rng,
              dtype):
    """The x2 upsampling of a decoder level: ``(N, h, w, C_in) -> (N, 2h, 2w, C_out)``.

    ``bias=False`` when BatchNorm follows the level's next convolution: that BatchNorm
    subtracts the per-channel constant a bias would add (exactly so with "valid" padding).
    """
    if mode == "transpose":
        return nn.ConvTranspose2D(in_channels, out_channels, kernel, stride=2, padding="same",
                                  bias=bias, rng=rng, dtype=dtype)
    conv = nn.Conv2D(in_channels, out_channels, kernel, padding="same", bias=bias, rng=rng, dtype=dtype)
    if mode == "max_unpool":
        # The pool remembers one position per channel of the C_out-channel skip, so the
        # conv that halves the channels runs first; the convolutions of the level's
        # ConvBlock then fill in the sparse unpooled map.
        return Sequential(dict(conv=conv, unpool=nn.MaxUnpool2D(pool)))
    upsample = nn.UpsampleNearest2D(2) if mode == "nearest" else nn.BedOfNails2D(2)
    return Sequential(dict(upsample=upsample, conv=conv))


class UpBlock(Module):
    """One decoder level: upsample x2, crop the skip, concatenate, ConvBlock.

    ``forward(x, skip)``: ``x (N, h, w, C_in)``, ``skip (N, H_s, W_s, C_skip)`` with
    ``H_s >= 2h`` -> ``(N, 2h - t, 2w - t, C_out)``. ``backward(dy) -> (dx, dskip)``.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, padding="same",
                 batchnorm=True, upsampling="transpose", up_kernel=2, pool=None, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.up = _up_layer(upsampling, in_channels, out_channels, up_kernel, pool, not batchnorm,
                            rng, dtype)
        self.conv = ConvBlock(out_channels + skip_channels, out_channels, padding, batchnorm,
                              rng=rng, dtype=dtype)
        self.crop_cache = None
        self.concat_cache = None

    def forward(self, x, skip):
        up = self.up.forward(x)                                         # (N, 2h, 2w, C_out)
        skip, self.crop_cache = center_crop_forward(skip, up.shape[1:3])  # (N, 2h, 2w, C_skip)
        merged, self.concat_cache = F.concat_forward([up, skip], axis=-1)  # (N, 2h, 2w, C_out + C_skip)
        return self.conv.forward(merged)

    def backward(self, dy):
        if self.concat_cache is None:
            raise RuntimeError("UpBlock.backward was called before forward")
        d_merged = self.conv.backward(dy)                               # (N, 2h, 2w, C_out + C_skip)
        d_up, d_skip = F.concat_backward(d_merged, self.concat_cache)   # the split
        d_skip = center_crop_backward(d_skip, self.crop_cache)          # zero pad back to (H_s, W_s)
        dx = self.up.backward(d_up)                                     # (N, h, w, C_in)
        return dx, d_skip


# ---------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------
class UNet(Module):
    """U-Net returning per-pixel class logits ``(N, H_out, W_out, num_classes)``.

    Parameters
    ----------
    in_channels : channels of the input image (3 for RGB).
    num_classes : classes per pixel (background included).
    depth : number of max-pools (levels); 4 in the paper and the course.
    base_filters : channels of the first level ``F``; level ``l`` has ``F 2^l``.
    padding : ``"same"`` (output as large as the input) or ``"valid"`` (the paper's).
    upsampling : one of :data:`UPSAMPLING_MODES` (see the module docstring).
    up_kernel : kernel of the up-sampling transpose convolution (or of the conv that
        follows the unpooling): 2 as the paper, 3 as the course.
    batchnorm : a BatchNorm after every 3x3 convolution (trains faster; the paper has none).
    dropout : rate of a Dropout after the deepest encoder level and the bottleneck
        (the course uses 0.3); 0 for none.
    final_conv : an extra 3x3 conv + ReLU with ``F`` filters before the 1x1 head (the course has one).

    Attributes: ``encoders`` and ``pools`` (one per level, shallowest first),
    ``bottleneck``, ``decoders`` (deepest first, as they run), ``head``.
    The course's model is ``UNet(3, 23, depth=4, base_filters=32, up_kernel=3,
    batchnorm=False, dropout=0.3, final_conv=True)`` (8,640,471 parameters).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, depth: int = 4,
                 base_filters: int = 64, padding: str = "same", upsampling: str = "transpose",
                 up_kernel: int = 2, batchnorm: bool = True, dropout: float = 0.0,
                 final_conv: bool = False, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.num_classes = positive_int(num_classes, "num_classes")
        self.depth, self.padding = _check_options(depth, padding)
        self.base_filters = positive_int(base_filters, "base_filters")
        self.up_kernel = positive_int(up_kernel, "up_kernel")
        if upsampling not in UPSAMPLING_MODES:
            raise ValueError(f"upsampling: expected one of {UPSAMPLING_MODES}, received {upsampling!r}")
        if upsampling == "max_unpool" and padding != "same":
            raise ValueError("upsampling: 'max_unpool' needs padding='same' (with 'valid' the decoder "
                             "map is smaller than the pooled map whose positions it would reuse)")
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout: expected a rate in [0, 1), received {dropout!r}")
        self.upsampling = upsampling
        rng = nn.init.as_rng(rng)
        widths = [self.base_filters * 2 ** l for l in range(self.depth + 1)]   # F, 2F, ..., F 2^d

        encoders, pools = [], []
        c_in = self.in_channels
        for l in range(self.depth):
            deepest = l == self.depth - 1
            encoders.append(ConvBlock(c_in, widths[l], padding, batchnorm,
                                      dropout if deepest else 0.0, rng=rng, dtype=dtype))
            pools.append(nn.MaxPool2D(2))
            c_in = widths[l]
        # Sequential used as named lists: their own forward/backward are never called.
        self.encoders = Sequential(*encoders)
        self.pools = Sequential(*pools)
        self.bottleneck = ConvBlock(c_in, widths[-1], padding, batchnorm, dropout, rng=rng, dtype=dtype)
        decoders = []
        for l in reversed(range(self.depth)):
            decoders.append(UpBlock(widths[l + 1], widths[l], widths[l], padding, batchnorm,
                                    upsampling, self.up_kernel, pool=pools[l], rng=rng, dtype=dtype))
        self.decoders = Sequential(*decoders)
        head = []
        if final_conv:
            head += [nn.Conv2D(widths[0], widths[0], 3, padding=padding, rng=rng, dtype=dtype), nn.ReLU()]
        head.append(nn.Conv2D(widths[0], self.num_classes, 1, rng=rng, dtype=dtype))
        self.head = Sequential(*head)
        self.final_conv = bool(final_conv)

    def output_size(self, input_hw) -> tuple[int, int]:
        """``(H_out, W_out)`` for an input of spatial size ``input_hw`` (raises if it does not fit)."""
        h, w = int_pair(input_hw, "input_hw")
        size = check_unet_input_size((1, h, w, self.in_channels), self.depth, self.padding)
        if self.final_conv and self.padding == "valid":
            size = (size[0] - 2, size[1] - 2)
        return size

    def forward(self, x):
        """``x (N, H, W, C_in) -> logits (N, H_out, W_out, num_classes)``."""
        x = as_float_array(x, "x", ndim=4, layout="(N, H, W, C)")
        if x.shape[-1] != self.in_channels:
            raise ValueError(f"x: has {x.shape[-1]} channels (shape {x.shape}) but this UNet "
                             f"expects {self.in_channels}")
        self.output_size(x.shape[1:3])                  # a clear error for sizes that do not fit
        skips = []
        for encoder, pool in zip(self.encoders, self.pools):
            skip = encoder.forward(x)                   # (N, H_l', W_l', F 2^l)
            skips.append(skip)
            x = pool.forward(skip)                      # (N, H_l' / 2, W_l' / 2, F 2^l)
        x = self.bottleneck.forward(x)                  # (N, h, w, F 2^d)
        for decoder, skip in zip(self.decoders, reversed(skips)):
            x = decoder.forward(x, skip)                # (N, 2h', 2w', F 2^l)
        return self.head.forward(x)                     # (N, H_out, W_out, K)

    def backward(self, dlogits):
        """``dlogits (N, H_out, W_out, K) -> dx (N, H, W, C_in)``; parameter gradients accumulate."""
        dy = self.head.backward(dlogits)
        d_skips = []                                    # filled shallowest level first
        for decoder in reversed(list(self.decoders)):   # the level-0 decoder ran last
            dy, d_skip = decoder.backward(dy)            # the concatenation's split, un-cropped
            d_skips.append(d_skip)                      # d_skips[l]: d skip_l from the decoder
        dy = self.bottleneck.backward(dy)
        for l in reversed(range(self.depth)):
            d_skip_via_pool = self.pools[l].backward(dy)
            dy = d_skip_via_pool + d_skips[l]           # skip_l fed the pool and the decoder: add
            dy = self.encoders[l].backward(dy)          # (N, H_l, W_l, C_l-1)
        return dy

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, num_classes={self.num_classes}, depth={self.depth}, "
                f"base_filters={self.base_filters}, padding={self.padding!r}, "
                f"upsampling={self.upsampling!r}, up_kernel={self.up_kernel}")
