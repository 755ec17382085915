"""The face encoder f(x) and the Siamese network: one ConvNet, the same weights for every image.

FaceEncoder
-----------
A small ResNet (He et al. 2015) from npvision's blocks, ending in a 128-number
encoding on the unit sphere, as FaceNet's::

    x     (N, S, S, C)
    stem  ConvBNAct 3x3, stride s0                  (N, S/s0, S/s0, w)
    stage1 BasicBlock(w, w)                         (N, S/s0, S/s0, w)
    stage2 BasicBlock(w, 2w, stride 2)              (N, S/2s0, S/2s0, 2w)
    stage3 BasicBlock(2w, 4w, stride 2)             (N, S/4s0, S/4s0, 4w)
    pool  GlobalAvgPool2D                           (N, 4w)
    fc    Linear(4w, d)                             (N, d)
    [relu ReLU, when nonnegative=True]              (N, d), every entry >= 0
    norm  L2Normalize                               (N, d), ||f(x)|| = 1

``nonnegative=True`` puts a ReLU before the normalization, so every entry of the
encoding is >= 0: the chi-square pair feature ``(f_i - f_j)^2 / (f_i + f_j)`` of
DeepFace (Taigman et al. 2014) needs that.

Siamese: the branches as one batch
----------------------------------
A Siamese network runs the *same* encoder on two (pair) or three (triplet)
images. npvision's modules keep only the cache of their last forward pass, so
running the encoder three times and then calling backward three times would
differentiate the last call only. :class:`Siamese` therefore stacks the
branches into one batch, runs the encoder once and splits the result::

    x = concat([x_A, x_P, x_N])            (N_A + N_P + N_N, S, S, C)
    e = encoder(x);  e_A, e_P, e_N = split(e)
    backward: d_e = concat([d_A, d_P, d_N]); encoder.backward(d_e)

Every weight then receives ``dL/dW = dL_A/dW + dL_P/dW + dL_N/dW``: the sum of
what each branch would have given alone, which is what sharing one set of
Parameters means (``tests/test_face_encoder.py`` checks it). The equality is
exact for layers that treat every image on its own: BatchNorm in eval mode. In
training mode BatchNorm normalizes with the statistics of the whole stacked
batch, as one network on one batch does (and as a P x K batch is anyway).
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .._checks import as_float_array, positive_int
from ..nn.init import as_rng

__all__ = ["FaceEncoder", "Siamese", "embed"]


class FaceEncoder(nn.Module):
    """``(N, S, S, C) -> (N, d)`` L2-normalized encodings (see the module docstring).

    Parameters
    ----------
    in_channels : 3 for RGB faces, 1 for grey digits.
    width : ``w``, the stem's channels (the stages have ``w, 2w, 4w``).
    embedding_dim : ``d``, 128 as FaceNet.
    stem_stride : ``s0``, 1 or 2 (2 halves the cost, for 32x32 inputs and up).
    nonnegative : ReLU before the normalization (for chi-square pair features).
    """

    def __init__(self, in_channels: int = 3, width: int = 32, embedding_dim: int = 128,
                 stem_stride: int = 2, nonnegative: bool = False, rng=None, dtype=np.float32):
        super().__init__()
        rng = as_rng(rng)
        w = positive_int(width, "width")
        self.config = {"in_channels": positive_int(in_channels, "in_channels"), "width": w,
                       "embedding_dim": positive_int(embedding_dim, "embedding_dim"),
                       "stem_stride": positive_int(stem_stride, "stem_stride"),
                       "nonnegative": bool(nonnegative)}
        self.embedding_dim = embedding_dim
        self.stem = nn.ConvBNAct(in_channels, w, 3, stride=stem_stride, rng=rng, dtype=dtype)
        self.stage1 = nn.BasicBlock(w, w, rng=rng, dtype=dtype)
        self.stage2 = nn.BasicBlock(w, 2 * w, stride=2, rng=rng, dtype=dtype)
        self.stage3 = nn.BasicBlock(2 * w, 4 * w, stride=2, rng=rng, dtype=dtype)
        self.pool = nn.GlobalAvgPool2D()
        self.fc = nn.Linear(4 * w, embedding_dim, rng=rng, dtype=dtype)
        self.relu = nn.ReLU() if nonnegative else None
        self.norm = nn.L2Normalize()

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.stem.forward(x)
        out = self.stage1.forward(out)
        out = self.stage2.forward(out)
        out = self.stage3.forward(out)
        out = self.pool.forward(out)
        out = self.fc.forward(out)
        if self.relu is not None:
            out = self.relu.forward(out)
        return self.norm.forward(out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d = self.norm.backward(dy)
        if self.relu is not None:
            d = self.relu.backward(d)
        d = self.fc.backward(d)
        d = self.pool.backward(d)
        d = self.stage3.backward(d)
        d = self.stage2.backward(d)
        d = self.stage1.backward(d)
        return self.stem.backward(d)

    def extra_repr(self) -> str:
        c = self.config
        return (f"in_channels={c['in_channels']}, width={c['width']}, embedding_dim={c['embedding_dim']}, "
                f"stem_stride={c['stem_stride']}, nonnegative={c['nonnegative']}")


class Siamese(nn.Module):
    """One encoder applied to several branches of images as one batch (module docstring).

    ``forward([x_1, x_2, ...])`` -> ``[f(x_1), f(x_2), ...]``;
    ``backward([d_1, d_2, ...])`` -> ``[dx_1, dx_2, ...]``, the encoder's
    Parameters accumulating the sum over the branches.
    """

    def __init__(self, encoder: nn.Module):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder: expected an npvision.nn.Module, received {type(encoder).__name__}")
        self.encoder = encoder
        self.sizes = None

    def forward(self, branches):
        if not isinstance(branches, (list, tuple)) or not branches:
            raise TypeError("branches: expected a non-empty list of image batches, one per branch")
        arrays = [as_float_array(b, f"branches[{i}]") for i, b in enumerate(branches)]
        for i, b in enumerate(arrays[1:], 1):
            if b.shape[1:] != arrays[0].shape[1:]:
                raise ValueError(f"branches[{i}]: images of shape {b.shape[1:]} differ from "
                                 f"branches[0]'s {arrays[0].shape[1:]}; every branch feeds one encoder")
        self.sizes = [len(b) for b in arrays]
        stacked = np.concatenate(arrays, axis=0)                   # (sum N_b, H, W, C)
        e = self.encoder.forward(stacked)                          # (sum N_b, d)
        return np.split(e, np.cumsum(self.sizes)[:-1], axis=0)     # one (N_b, d) per branch

    def backward(self, d_branches):
        if self.sizes is None:
            raise RuntimeError("Siamese.backward was called before forward")
        if len(d_branches) != len(self.sizes):
            raise ValueError(f"d_branches: expected {len(self.sizes)} gradients (one per branch), "
                             f"received {len(d_branches)}")
        d = np.concatenate(d_branches, axis=0)                     # (sum N_b, d): the gradients stack too
        dx = self.encoder.backward(d)
        return np.split(dx, np.cumsum(self.sizes)[:-1], axis=0)


def embed(model: nn.Module, images, batch_size: int = 256) -> np.ndarray:
    """Encodings of ``images`` ``(N, H, W, C)`` (or one image ``(H, W, C)``) in eval mode.

    Runs in batches of ``batch_size`` and restores the model's train/eval mode.
    Returns ``(N, d)`` float32 (``(1, d)`` for one image).
    """
    images = as_float_array(images, "images", ndim=(3, 4), layout="(N, H, W, C) or (H, W, C)")
    if images.ndim == 3:
        images = images[None]                                      # (H, W, C) -> (1, H, W, C)
    batch_size = positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    try:
        out = [model.forward(images[i:i + batch_size].astype(np.float32, copy=False))
               for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(out, axis=0).astype(np.float32, copy=False)
