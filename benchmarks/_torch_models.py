"""PyTorch twins of npvision's ResNet-18, VGG-16, MobileNet v2 and EfficientNet-B0, for bench_models.py.

torchvision is not needed: each twin is written here with ``torch.nn``, layer for
layer as npvision builds the model (torchvision's definitions, which npvision's
follow, with npvision's few differences kept so both frameworks do the same work):

* VGG flattens the last feature map as it is (``2 x 2 x 512`` at 64x64) into the first
  Linear layer; torchvision first pools it to ``7 x 7`` (25,088 inputs instead of 2,048).
* EfficientNet's MBConv has no stochastic depth (npvision leaves it out).

:func:`copy_weights` loads an npvision model's weights into its twin (conv weights
``(KH, KW, C_in, C_out) -> (C_out, C_in, KH, KW)``, Linear ``(D_in, D_out) -> (D_out, D_in)``,
VGG's first Linear reordered from (h, w, c) to (c, h, w) inputs), so the benchmark can check
that both give the same logits before it times them. Only this file imports torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _conv_bn(c_in, c_out, k, stride=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(c_in, c_out, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, c = [], 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(c, width, stride), BasicBlock(width, width, 1)))
            c = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(x.mean((2, 3)), 1))


class VGG16(nn.Module):
    CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

    def __init__(self, num_classes, input_hw, in_channels=3):
        super().__init__()
        layers, c = [], in_channels
        for v in self.CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        h, w = input_hw[0] // 32, input_hw[1] // 32
        self.classifier = nn.Sequential(nn.Linear(h * w * c, 4096), nn.ReLU(True), nn.Dropout(0.5),
                                        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
                                        nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, c_in, c_out, stride, t):
        super().__init__()
        hidden = int(round(c_in * t))
        self.use_residual = stride == 1 and c_in == c_out
        layers = [] if t == 1 else [_conv_bn(c_in, hidden, 1, act=nn.ReLU6)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   _conv_bn(hidden, c_out, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]

    def __init__(self, num_classes, in_channels=3):
        super().__init__()
        layers, c = [_conv_bn(in_channels, 32, 3, 2, act=nn.ReLU6)], 32
        for t, out, n, s in self.SETTING:
            for i in range(n):
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers.append(_conv_bn(c, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x).mean((2, 3)), 1))


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act = nn.SiLU()

    def forward(self, x):
        g = torch.sigmoid(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * g


class MBConv(nn.Module):
    def __init__(self, c_in, c_out, k, stride, t):
        super().__init__()
        hidden = int(round(c_in * t))
        self.use_residual = stride == 1 and c_in == c_out
        layers = [] if hidden == c_in else [_conv_bn(c_in, hidden, 1, act=nn.SiLU)]
        layers += [_conv_bn(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU),
                   SqueezeExcitation(hidden, max(1, c_in // 4)),
                   _conv_bn(hidden, c_out, 1, act=None)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.use_residual else self.block(x)


class EfficientNetB0(nn.Module):
    SETTING = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
               (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]

    def __init__(self, num_classes, in_channels=3):
        super().__init__()
        layers, c = [_conv_bn(in_channels, 32, 3, 2, act=nn.SiLU)], 32
        for t, k, s, out, n in self.SETTING:
            for i in range(n):
                layers.append(MBConv(c, out, k, s if i == 0 else 1, t))
                c = out
        layers.append(_conv_bn(c, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x).mean((2, 3)), 1))


def build(name: str, num_classes: int, input_shape) -> nn.Module:
    """The twin of ``npvision.models.create(name, ...)`` for the four benchmarked models."""
    h, w, c = input_shape
    if name == "resnet18":
        return ResNet18(num_classes, c)
    if name == "vgg16":
        return VGG16(num_classes, (h, w), c)
    if name == "mobilenet_v2":
        return MobileNetV2(num_classes, c)
    if name == "efficientnet_b0":
        return EfficientNetB0(num_classes, c)
    raise ValueError(f"name: no PyTorch twin for {name!r}")


def _leaves_with_parameters(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if list(m.children()) == [] and any(True for _ in m.parameters())]


def copy_weights(np_model, torch_model: nn.Module, input_shape) -> None:
    """Load the npvision model's parameters into its twin (same layer order; layouts converted).

    Raises ValueError naming the layer when the two do not line up (a twin that does not
    match the architecture).
    """
    from npvision import nn as nvnn

    np_layers = [m for _, m in np_model.named_modules() if m.__dict__["_params"]]
    t_layers = _leaves_with_parameters(torch_model)
    if len(np_layers) != len(t_layers):
        raise ValueError(f"copy_weights: npvision has {len(np_layers)} layers with parameters, "
                         f"the twin {len(t_layers)}")
    first_linear = True
    with torch.no_grad():
        for i, (a, b) in enumerate(zip(np_layers, t_layers)):
            params = [p.data for p in a.__dict__["_params"].values() if p is not None]
            if isinstance(a, nvnn.BatchNorm2D):
                arrays = params
            elif isinstance(a, nvnn.Linear):
                w = params[0]
                if first_linear and isinstance(torch_model, VGG16):
                    h, ww = input_shape[0] // 32, input_shape[1] // 32
                    c = w.shape[0] // (h * ww)
                    w = w.reshape(h, ww, c, -1).transpose(2, 0, 1, 3).reshape(w.shape)  # rows (h,w,c) -> (c,h,w)
                arrays = [w.T] + params[1:]
                first_linear = False
            elif params[0].ndim == 4:
                w = params[0]
                arrays = [w.transpose(3, 2, 0, 1) if b.groups == 1 else w.transpose(2, 3, 0, 1)] + params[1:]
            else:
                raise ValueError(f"copy_weights: layer {i} ({type(a).__name__}) has no known layout")
            tparams = list(b.parameters())
            if len(tparams) != len(arrays) or any(t.shape != tuple(x.shape) for t, x in zip(tparams, arrays)):
                raise ValueError(f"copy_weights: layer {i}: npvision {type(a).__name__} "
                                 f"{[x.shape for x in arrays]} vs torch {type(b).__name__} "
                                 f"{[tuple(t.shape) for t in tparams]}")
            for t, x in zip(tparams, arrays):
                t.copy_(torch.from_numpy(np.ascontiguousarray(x)))
