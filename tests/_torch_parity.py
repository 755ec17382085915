"""What PyTorch computes for npvision's ops, blocks and optimizers: the cases, defined once.

Each :class:`Case` has three parts:

``setup()``            the NumPy inputs (seeded) and, where needed, a context object
                       (an npvision block whose weights both sides use);
``torch(torch, a, c)`` PyTorch's results from those inputs (run only where PyTorch is installed);
``npvision(a, c)``     npvision's results, the same keys.

``tests/data/make_torch_goldens.py`` (run by hand where PyTorch is installed) stores every
case's inputs and PyTorch's results in ``tests/data/torch_parity.npz``;
``tests/test_torch_parity.py`` always compares npvision against that file, and, when
PyTorch is installed, also checks that the file still holds what PyTorch computes.

Layouts: npvision is channels-last ``(N, H, W, C)``, PyTorch channels-first ``(N, C, H, W)``;
the torch side converts its inputs and results, so every stored array is in npvision's layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import npvision.functional as F
import npvision.nn as nn
from npvision.nn.module import Parameter
from npvision.optim import SGD, Adam, AdamW, CosineDecay, RMSProp, clip_grad_norm

__all__ = ["Case", "CASES"]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[], tuple[dict, object]]
    torch: Callable[..., dict]
    npvision: Callable[[dict, object], dict]
    rtol: float = 1e-10
    atol: float = 1e-12


CASES: dict[str, Case] = {}


def _add(name, setup, torch_fn, npvision_fn, rtol=1e-10, atol=1e-12):
    assert name not in CASES, name
    CASES[name] = Case(name, setup, torch_fn, npvision_fn, rtol, atol)


def _nchw(a):
    return np.ascontiguousarray(np.asarray(a).transpose(0, 3, 1, 2))


def _nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1).copy()


def _grad_nhwc(t):
    return t.grad.numpy().transpose(0, 2, 3, 1).copy()


def _leaf(torch, a):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True)


def _distinct(shape, seed=0):
    """float64 values 0, 0.1, 0.2, ... in random order: no ties in any pooling window."""
    rng = np.random.default_rng(seed)
    return 0.1 * rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) - 1.0


# ----------------------------------------------------------------------------- activations

def _away_from_kinks(rng, shape):
    x = rng.uniform(0.1, 7.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    x[np.abs(x - 6) < 0.1] += 0.3
    return x


_ACTIVATIONS = {
    "relu": (F.relu_forward, F.relu_backward, lambda t, x: t.relu(x)),
    "relu6": (F.relu6_forward, F.relu6_backward, lambda t, x: t.nn.functional.relu6(x)),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward,
                   lambda t, x: t.nn.functional.leaky_relu(x, 0.01)),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, lambda t, x: t.sigmoid(x)),
    "tanh": (F.tanh_forward, F.tanh_backward, lambda t, x: t.tanh(x)),
    "silu": (F.silu_forward, F.silu_backward, lambda t, x: t.nn.functional.silu(x)),
    "softmax": (F.softmax_forward, F.softmax_backward, lambda t, x: t.softmax(x, dim=-1)),
}


def _activation_case(name):
    forward, backward, ref = _ACTIVATIONS[name]

    def setup():
        return {"x": _away_from_kinks(np.random.default_rng(3), (3, 5)),
                "dout": np.random.default_rng(4).standard_normal((3, 5))}, None

    def torch_fn(torch, a, _):
        x = _leaf(torch, a["x"])
        y = ref(torch, x)
        y.backward(torch.tensor(a["dout"]))
        return {"out": y.detach().numpy(), "dx": x.grad.numpy()}

    def npvision_fn(a, _):
        out, cache = forward(a["x"])
        return {"out": out, "dx": backward(a["dout"], cache)}

    _add(f"activation_{name}", setup, torch_fn, npvision_fn)


for _name in _ACTIVATIONS:
    _activation_case(_name)


# ----------------------------------------------------------------------------- batch norm

def _batchnorm_case(training):
    def setup():
        rng = np.random.default_rng(6)
        x = rng.standard_normal((4, 3, 5, 2)) * 2 + 0.5                # (N, H, W, C)
        a = {"x": x, "gamma": rng.uniform(0.5, 2.0, 2), "beta": rng.standard_normal(2),
             "running_mean": rng.standard_normal(2) * 0.1, "running_var": rng.uniform(0.5, 2.0, 2)}
        a["dout"] = rng.standard_normal(x.shape)
        return a, None

    def torch_fn(torch, a, _):
        x, g, b = _leaf(torch, _nchw(a["x"])), _leaf(torch, a["gamma"]), _leaf(torch, a["beta"])
        rm, rv = torch.tensor(a["running_mean"]), torch.tensor(a["running_var"])
        y = torch.nn.functional.batch_norm(x, rm, rv, g, b, training=training, momentum=0.1, eps=1e-5)
        y.backward(torch.tensor(_nchw(a["dout"])))
        return {"out": _nhwc(y), "dx": _grad_nhwc(x), "dgamma": g.grad.numpy(), "dbeta": b.grad.numpy(),
                "running_mean": rm.numpy(), "running_var": rv.numpy()}

    def npvision_fn(a, _):
        rm, rv0 = a["running_mean"].copy(), a["running_var"].copy()
        rv = rv0.copy()
        out, cache = F.batchnorm_forward(a["x"], a["gamma"], a["beta"], rm, rv, training,
                                         momentum=0.9, eps=1e-5)          # our 0.9 is PyTorch's 0.1
        dx, dgamma, dbeta = F.batchnorm_backward(a["dout"], cache)
        if training:
            # PyTorch's running variance takes the unbiased batch variance; npvision's the biased one
            m = a["x"].size // a["x"].shape[-1]
            batch_var = (rv - 0.9 * rv0) / 0.1
            rv = 0.9 * rv0 + 0.1 * batch_var * m / (m - 1)
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta, "running_mean": rm,
                "running_var": rv}

    _add(f"batchnorm_{'training' if training else 'eval'}", setup, torch_fn, npvision_fn, 1e-9, 1e-12)


_batchnorm_case(True)
_batchnorm_case(False)


# ----------------------------------------------------------------------------- convolutions

def _conv_case(i, kw):
    def setup():
        rng = np.random.default_rng(5)
        a = {"x": rng.standard_normal((2, 9, 10, 3)), "w": rng.standard_normal((3, 2, 3, 4)),
             "b": rng.standard_normal(4)}
        out_shape = F.conv2d_forward(a["x"], a["w"], a["b"], **kw)[0].shape
        a["dout"] = rng.standard_normal(out_shape)
        return a, None

    def torch_fn(torch, a, _):
        x, w, b = _leaf(torch, _nchw(a["x"])), _leaf(torch, a["w"].transpose(3, 2, 0, 1)), _leaf(torch, a["b"])
        y = torch.nn.functional.conv2d(x, w, b, kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1))
        y.backward(torch.tensor(_nchw(a["dout"])))
        return {"out": _nhwc(y), "dx": _grad_nhwc(x), "dw": w.grad.numpy().transpose(2, 3, 1, 0),
                "db": b.grad.numpy()}

    def npvision_fn(a, _):
        out, cache = F.conv2d_forward(a["x"], a["w"], a["b"], **kw)
        dx, dw, db = F.conv2d_backward(a["dout"], cache)
        return {"out": out, "dx": dx, "dw": dw, "db": db}

    _add(f"conv2d_{i}", setup, torch_fn, npvision_fn, 1e-10, 1e-10)


for _i, _kw in enumerate([dict(stride=2, padding=1, dilation=2), dict(stride=(1, 3), padding=(2, 1)),
                          dict(stride=1, padding=0, dilation=(2, 1))]):
    _conv_case(_i, _kw)


def _conv_transpose_case(i, kw):
    def setup():
        rng = np.random.default_rng(2)
        a = {"x": rng.standard_normal((2, 4, 5, 3)), "w": rng.standard_normal((3, 3, 2, 3)),
             "b": rng.standard_normal(2)}
        out_shape = F.conv_transpose2d_forward(a["x"], a["w"], a["b"], **kw)[0].shape
        a["dout"] = rng.standard_normal(out_shape)
        return a, None

    def torch_fn(torch, a, _):
        x, w, b = _leaf(torch, _nchw(a["x"])), _leaf(torch, a["w"].transpose(3, 2, 0, 1)), _leaf(torch, a["b"])
        y = torch.nn.functional.conv_transpose2d(x, w, b, kw["stride"], kw["padding"], kw["output_padding"],
                                                 dilation=kw.get("dilation", 1))
        y.backward(torch.tensor(_nchw(a["dout"])))
        return {"out": _nhwc(y), "dx": _grad_nhwc(x), "dw": w.grad.numpy().transpose(2, 3, 1, 0),
                "db": b.grad.numpy()}

    def npvision_fn(a, _):
        out, cache = F.conv_transpose2d_forward(a["x"], a["w"], a["b"], **kw)
        dx, dw, db = F.conv_transpose2d_backward(a["dout"], cache)
        return {"out": out, "dx": dx, "dw": dw, "db": db}

    _add(f"conv_transpose2d_{i}", setup, torch_fn, npvision_fn, 1e-10, 1e-10)


for _i, _kw in enumerate([dict(stride=2, padding=1, output_padding=1),
                          dict(stride=(3, 2), padding=(2, 0), output_padding=(2, 1), dilation=(1, 2)),
                          dict(stride=1, padding=1, output_padding=1, dilation=2)]):
    _conv_transpose_case(_i, _kw)


def _depthwise_case(i, ws, stride, padding, dilation):
    kh, kw, c, m = ws

    def setup():
        a = {"x": np.random.default_rng(0).standard_normal((2, 7, 6, c)),
             "w": np.random.default_rng(1).standard_normal(ws),
             "b": np.random.default_rng(2).standard_normal(c * m)}
        out_shape = F.depthwise_conv2d_forward(a["x"], a["w"], a["b"], stride, padding, dilation)[0].shape
        a["dout"] = np.random.default_rng(3).standard_normal(out_shape)
        return a, None

    def torch_fn(torch, a, _):
        x = _leaf(torch, _nchw(a["x"]))
        w = _leaf(torch, a["w"].transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw))     # (C*M, 1, KH, KW)
        b = _leaf(torch, a["b"])
        y = torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups=c)
        y.backward(torch.tensor(_nchw(a["dout"])))
        return {"out": _nhwc(y), "dx": _grad_nhwc(x),
                "dw": w.grad.numpy().reshape(c, m, kh, kw).transpose(2, 3, 0, 1), "db": b.grad.numpy()}

    def npvision_fn(a, _):
        out, cache = F.depthwise_conv2d_forward(a["x"], a["w"], a["b"], stride, padding, dilation)
        dx, dw, db = F.depthwise_conv2d_backward(a["dout"], cache)
        return {"out": out, "dx": dx, "dw": dw, "db": db}

    _add(f"depthwise_conv2d_{i}", setup, torch_fn, npvision_fn, 1e-10, 1e-12)


for _i, _args in enumerate([((3, 3, 3, 1), 1, 1, 1), ((3, 3, 3, 2), 2, 1, 1),
                            ((3, 2, 3, 3), (2, 1), (1, 0), (1, 2)), ((3, 3, 3, 2), 1, 2, 2)]):
    _depthwise_case(_i, *_args)


# ----------------------------------------------------------------------------- pooling, upsampling

def _pool_case(kind, i, pool, stride, padding):
    def setup():
        shape = (2, 7, 6, 3)
        x = _distinct(shape) if kind == "max" else np.random.default_rng(9).standard_normal(shape)
        fwd = F.max_pool2d_forward if kind == "max" else F.avg_pool2d_forward
        a = {"x": x}
        a["dout"] = np.random.default_rng(8).standard_normal(fwd(x, pool, stride, padding)[0].shape)
        return a, None

    def torch_fn(torch, a, _):
        x = _leaf(torch, _nchw(a["x"]))
        if kind == "max":
            y = torch.nn.functional.max_pool2d(x, pool, stride, padding)
        else:
            y = torch.nn.functional.avg_pool2d(x, pool, stride, padding, count_include_pad=True)
        y.backward(torch.tensor(_nchw(a["dout"])))
        return {"out": _nhwc(y), "dx": _grad_nhwc(x)}

    def npvision_fn(a, _):
        fwd, bwd = ((F.max_pool2d_forward, F.max_pool2d_backward) if kind == "max"
                    else (F.avg_pool2d_forward, F.avg_pool2d_backward))
        out, cache = fwd(a["x"], pool, stride, padding)
        return {"out": out, "dx": bwd(a["dout"], cache)}

    _add(f"{kind}_pool2d_{i}", setup, torch_fn, npvision_fn, 1e-10, 1e-12)


for _i, _args in enumerate([(3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 1)), (2, None, 0)]):
    _pool_case("max", _i, *_args)
for _i, _args in enumerate([(3, 2, 1), (2, 1, 1), ((3, 2), (2, 1), (1, 0))]):
    _pool_case("avg", _i, *_args)


def _nearest_setup():
    return {"x": np.random.default_rng(5).standard_normal((2, 3, 4, 2))}, None


_add("upsample_nearest2d", _nearest_setup,
     lambda torch, a, _: {"out": _nhwc(torch.nn.functional.interpolate(
         torch.tensor(_nchw(a["x"])), scale_factor=(2, 3), mode="nearest"))},
     lambda a, _: {"out": F.upsample_nearest2d_forward(a["x"], (2, 3))[0]}, 0.0, 0.0)


def _unpool_setup():
    a = {"a": _distinct((2, 6, 7, 3))}
    a["x"] = np.random.default_rng(6).standard_normal((2, 3, 3, 3))
    a["dout"] = np.random.default_rng(7).standard_normal((2, 6, 7, 3))
    return a, None


def _unpool_torch(torch, a, _):
    _, idx = torch.nn.functional.max_pool2d(torch.tensor(_nchw(a["a"])), 2, return_indices=True)
    x = _leaf(torch, _nchw(a["x"]))
    y = torch.nn.functional.max_unpool2d(x, idx, 2, output_size=(6, 7))
    y.backward(torch.tensor(_nchw(a["dout"])))
    return {"out": _nhwc(y), "dx": _grad_nhwc(x)}


def _unpool_npvision(a, _):
    _, pool_cache = F.max_pool2d_forward(a["a"], 2)
    up, cache = F.max_unpool2d_forward(a["x"], pool_cache)
    return {"out": up, "dx": F.max_unpool2d_backward(a["dout"], cache)}


_add("max_unpool2d", _unpool_setup, _unpool_torch, _unpool_npvision, 0.0, 0.0)


# ----------------------------------------------------------------------------- losses

def _loss_case(name, setup, torch_loss, npvision_loss, layout_nchw=False):
    """``torch_loss(torch, tf, logits_tensor, a)``; ``npvision_loss(a) -> (loss, dlogits)``."""
    def torch_fn(torch, a, _):
        z = _leaf(torch, _nchw(a["logits"]) if layout_nchw else a["logits"])
        loss = torch_loss(torch, torch.nn.functional, z, a)
        loss.backward()
        g = _grad_nhwc(z) if layout_nchw else z.grad.numpy()
        return {"loss": np.array(loss.item()), "dlogits": g}

    def npvision_fn(a, _):
        loss, d = npvision_loss(a)
        return {"loss": np.array(float(loss)), "dlogits": d}

    _add(f"loss_{name}", setup, torch_fn, npvision_fn, 1e-10, 1e-15)


def _ce_setup():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((8, 5)) * 3
    labels = rng.integers(0, 5, size=8)
    labels[[1, 4]] = -100
    valid = labels.copy()
    valid[valid < 0] = 0
    return {"logits": logits, "labels": labels, "valid": valid, "w": rng.uniform(0.2, 2.0, size=5)}, None


for _weighted in (False, True):
    for _ignore in (False, True):
        def _t(torch, tf, z, a, weighted=_weighted, ignore=_ignore):
            kw = {"weight": torch.tensor(a["w"])} if weighted else {}
            return tf.cross_entropy(z, torch.tensor(a["labels"] if ignore else a["valid"]), **kw)

        def _n(a, weighted=_weighted, ignore=_ignore):
            kw = {"class_weights": a["w"]} if weighted else {}
            if ignore:
                return F.softmax_cross_entropy(a["logits"], a["labels"], ignore_index=-100, **kw)
            return F.softmax_cross_entropy(a["logits"], a["valid"], **kw)

        _loss_case(f"cross_entropy{'_weighted' if _weighted else ''}{'_ignore' if _ignore else ''}",
                   _ce_setup, _t, _n)


def _pixel_ce_setup():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, size=(2, 3, 4))
    labels[0, 0, :2] = 255
    return {"logits": rng.standard_normal((2, 3, 4, 5)), "labels": labels,
            "w": rng.uniform(0.2, 2.0, size=5)}, None


_loss_case("cross_entropy_per_pixel", _pixel_ce_setup,
           lambda torch, tf, z, a: tf.cross_entropy(z, torch.tensor(a["labels"]), weight=torch.tensor(a["w"]),
                                                    ignore_index=255),
           lambda a: F.softmax_cross_entropy(a["logits"], a["labels"], class_weights=a["w"], ignore_index=255),
           layout_nchw=True)


def _soft_setup():
    rng = np.random.default_rng(2)
    probs = rng.uniform(size=(6, 5))
    probs /= probs.sum(axis=1, keepdims=True)
    return {"logits": rng.standard_normal((6, 5)), "probs": probs, "w": rng.uniform(0.2, 2.0, size=5)}, None


_loss_case("cross_entropy_soft", _soft_setup,
           lambda torch, tf, z, a: tf.cross_entropy(z, torch.tensor(a["probs"])),
           lambda a: F.softmax_cross_entropy(a["logits"], a["probs"]))
_loss_case("cross_entropy_soft_weighted", _soft_setup,
           lambda torch, tf, z, a: tf.cross_entropy(z, torch.tensor(a["probs"]), weight=torch.tensor(a["w"])),
           lambda a: F.softmax_cross_entropy(a["logits"], a["probs"], class_weights=a["w"]))


def _regression_setup():
    rng = np.random.default_rng(3)
    return {"logits": rng.standard_normal((4, 6)) * 2, "t": rng.standard_normal((4, 6)),
            "y": rng.uniform(size=(4, 6))}, None


_loss_case("binary_cross_entropy_with_logits", _regression_setup,
           lambda torch, tf, z, a: tf.binary_cross_entropy_with_logits(z, torch.tensor(a["y"])),
           lambda a: F.binary_cross_entropy_with_logits(a["logits"], a["y"]))
_loss_case("mean_squared_error", _regression_setup,
           lambda torch, tf, z, a: tf.mse_loss(z, torch.tensor(a["t"])),
           lambda a: F.mean_squared_error(a["logits"], a["t"]))
_loss_case("smooth_l1", _regression_setup,
           lambda torch, tf, z, a: tf.smooth_l1_loss(z, torch.tensor(a["t"])),
           lambda a: F.smooth_l1_loss(a["logits"], a["t"]))
_loss_case("smooth_l1_beta", _regression_setup,
           lambda torch, tf, z, a: tf.smooth_l1_loss(z, torch.tensor(a["t"]), beta=0.3),
           lambda a: F.smooth_l1_loss(a["logits"], a["t"], beta=0.3))


# ----------------------------------------------------------------------------- blocks

def _randomize_bn(block, seed=1):
    """Non-trivial gamma, beta and running statistics in every BatchNorm of ``block``."""
    rng = np.random.default_rng(seed)
    for _, m in block.named_modules():
        if isinstance(m, nn.BatchNorm2D):
            c = m.num_features
            m.gamma.data[:] = rng.uniform(0.5, 1.5, c)
            m.beta.data[:] = rng.uniform(-0.5, 0.5, c)
            m.running_mean[:] = rng.uniform(-0.5, 0.5, c)
            m.running_var[:] = rng.uniform(0.5, 1.5, c)
    return block


def _torch_block(torch, block, x, dy):
    """``block`` run through torch.nn.functional with its own weights: (y, dx) channels-last."""
    tf = torch.nn.functional

    def t(a):
        return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64)

    def conv(h, layer):
        if isinstance(layer, nn.DepthwiseConv2D):      # (KH, KW, C, 1) -> (C, 1, KH, KW)
            w, groups = t(layer.weight.data.transpose(2, 3, 0, 1)), layer.channels
        else:                                          # (KH, KW, C_in, C_out) -> (C_out, C_in, KH, KW)
            w, groups = t(layer.weight.data.transpose(3, 2, 0, 1)), 1
        b = None if layer.bias is None else t(layer.bias.data)
        return tf.conv2d(h, w, b, stride=layer.stride, padding=layer.padding, groups=groups)

    def bn(h, layer):
        return tf.batch_norm(h, t(layer.running_mean.copy()), t(layer.running_var.copy()),
                             t(layer.gamma.data), t(layer.beta.data), training=layer.training, eps=layer.eps)

    def unit(h, u, act):                               # ConvBNAct
        h = bn(conv(h, u.conv), u.bn)
        return act(h) if u.act is not None else h

    xt = t(_nchw(x)).requires_grad_(True)
    if isinstance(block, nn.BasicBlock):
        h = tf.relu(bn(conv(xt, block.conv1), block.bn1))
        h = bn(conv(h, block.conv2), block.bn2)
        idt = xt if block.downsample is None else bn(conv(xt, block.downsample[0]), block.downsample[1])
        y = tf.relu(h + idt)
    elif isinstance(block, nn.MBConv):
        h = xt if block.expand is None else unit(xt, block.expand, tf.silu)
        h = unit(h, block.depthwise, tf.silu)
        s = tf.silu(conv(h.mean(dim=(2, 3), keepdim=True), block.se.fc1))
        h = h * torch.sigmoid(conv(s, block.se.fc2))
        y = unit(h, block.project, None)
        if block.use_residual:
            y = y + xt
    elif isinstance(block, nn.InceptionModule):
        def branch(h, seq):
            for u in seq:
                h = unit(h, u, tf.relu)
            return h
        pooled = tf.max_pool2d(xt, 3, stride=1, padding=1)
        y = torch.cat([branch(xt, [block.branch1]), branch(xt, block.branch2), branch(xt, block.branch3),
                       branch(pooled, [block.branch4[1]])], dim=1)
    else:
        raise TypeError(type(block))
    y.backward(t(_nchw(dy)))
    return {"y": _nhwc(y), "dx": _grad_nhwc(xt)}


_BLOCKS = {
    "basic_block_stride2": lambda: nn.BasicBlock(3, 4, stride=2, rng=0),
    "basic_block": lambda: nn.BasicBlock(4, 4, rng=0),
    "mbconv": lambda: nn.MBConv(4, 4, 3, 1, 2, rng=0),
    "mbconv_stride2_k5": lambda: nn.MBConv(4, 6, 5, 2, 3, rng=0),
    "inception": lambda: nn.InceptionModule(4, 2, 2, 3, 1, 2, 2, kernel5=5, rng=0),
}


def _block_case(name, training):
    def setup():
        block = _randomize_bn(_BLOCKS[name]()).astype(np.float64).train(training)
        x = np.random.default_rng(42).standard_normal((2, 6, 6, block.in_channels))
        y_shape = block.forward(x).shape
        _randomize_bn(block)                             # undo the running-statistics update of that call
        return {"x": x, "dy": np.random.default_rng(7).standard_normal(y_shape)}, block

    def npvision_fn(a, block):
        y = block.forward(a["x"])
        return {"y": y, "dx": block.backward(a["dy"])}

    _add(f"block_{name}_{'train' if training else 'eval'}", setup,
         lambda torch, a, block: _torch_block(torch, block, a["x"], a["dy"]), npvision_fn, 1e-8, 1e-10)


for _name in _BLOCKS:
    for _training in (True, False):
        _block_case(_name, _training)


# ----------------------------------------------------------------------------- optimizers

_OPTIMIZERS = {
    "sgd_momentum_decay": (SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01), "SGD",
                           dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": (SGD, dict(lr=0.1, momentum=0.8, nesterov=True), "SGD",
                     dict(lr=0.1, momentum=0.8, nesterov=True)),
    "rmsprop": (RMSProp, dict(lr=0.01, beta=0.95, eps=1e-8, weight_decay=0.1), "RMSprop",
                dict(lr=0.01, alpha=0.95, eps=1e-8, weight_decay=0.1)),
    "adam": (Adam, dict(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.1), "Adam",
             dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "adamw": (AdamW, dict(lr=0.01, weight_decay=0.3), "AdamW", dict(lr=0.01, weight_decay=0.3)),
}


def _optimizer_setup():
    rng = np.random.default_rng(1)
    return {"w0": rng.standard_normal((3, 2)), "grads": rng.standard_normal((5, 3, 2))}, None


def _optimizer_case(name):
    cls, kw, tname, tkw = _OPTIMIZERS[name]

    def torch_fn(torch, a, _):
        p = torch.nn.Parameter(torch.tensor(a["w0"]))
        opt = getattr(torch.optim, tname)([p], **tkw)
        steps = []
        for g in a["grads"]:
            p.grad = torch.tensor(g)
            opt.step()
            steps.append(p.detach().numpy().copy())
        return {"weights": np.stack(steps)}

    def npvision_fn(a, _):
        p = Parameter(a["w0"].copy())
        opt = cls([p], **kw)
        steps = []
        for g in a["grads"]:
            p.grad[...] = g
            opt.step()
            steps.append(p.data.copy())
        return {"weights": np.stack(steps)}

    _add(f"optim_{name}", _optimizer_setup, torch_fn, npvision_fn, 1e-10, 1e-12)


for _name in _OPTIMIZERS:
    _optimizer_case(_name)


def _clip_setup():
    rng = np.random.default_rng(2)
    return {f"g{i}": rng.standard_normal(s) for i, s in enumerate([(3, 4), (4,), (2, 2, 2)])}, None


def _clip_torch(torch, a, _):
    ps = []
    for k in sorted(a):
        p = torch.nn.Parameter(torch.zeros(a[k].shape, dtype=torch.float64))
        p.grad = torch.tensor(a[k])
        ps.append(p)
    norm = torch.nn.utils.clip_grad_norm_(ps, 0.7)
    return {"norm": np.array(float(norm)), **{k: p.grad.numpy().copy() for k, p in zip(sorted(a), ps)}}


def _clip_npvision(a, _):
    ps = []
    for k in sorted(a):
        p = Parameter(np.zeros_like(a[k]))
        p.grad[...] = a[k]
        ps.append(p)
    norm = clip_grad_norm(ps, 0.7)
    return {"norm": np.array(float(norm)), **{k: p.grad.copy() for k, p in zip(sorted(a), ps)}}


_add("clip_grad_norm", _clip_setup, _clip_torch, _clip_npvision, 1e-12, 1e-15)


def _cosine_torch(torch, a, _):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"lr": np.array(lrs)}


def _cosine_npvision(a, _):
    s = CosineDecay(SGD([Parameter(np.zeros(1))], lr=0.3), total=7, min_lr=0.01)
    return {"lr": np.array([s.lr_at(t) for t in range(7)])}


_add("cosine_decay", lambda: ({}, None), _cosine_torch, _cosine_npvision, 1e-9, 0.0)
