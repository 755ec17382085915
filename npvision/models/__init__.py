"""The classic ConvNets, from LeNet-5 to EfficientNet, each built from :mod:`npvision.nn` blocks.

    >>> from npvision import models
    >>> net = models.create("resnet18", num_classes=10, input_shape=(32, 32, 3))
    >>> logits = net.forward(x)          # x (N, 32, 32, 3) -> (N, 10)
    >>> dx = net.backward(dlogits)       # parameter gradients accumulate in p.grad

=================  =======================  ======================================
name               file                     parameters (1000 classes, 224x224x3)
=================  =======================  ======================================
``lenet5``         ``lenet.py``             61,706 (10 classes, 32x32x1)
``alexnet``        ``alexnet.py``           61,100,840
``vgg11/16/19``    ``vgg.py``               132,863,336 / 138,357,544 / 143,667,240
``resnet18/34/50`` ``resnet.py``            11,689,512 / 21,797,672 / 25,557,032
``resnet20``       ``resnet.py``            272,474 (10 classes; CIFAR, ``depth=6n+2``)
``googlenet``      ``googlenet.py``         6,624,904
``mobilenet_v1``   ``mobilenet.py``         4,231,976
``mobilenet_v2``   ``mobilenet.py``         3,504,872
``efficientnet_b0`` .. ``_b7``  ``efficientnet.py``  5,288,548 .. 66,347,960
``tiny_yolo``      ``yolo.py``              297,483 (4 classes, 3 anchors, 64x64x3; an 8x8 grid)
=================  =======================  ======================================

Every model is a :class:`~npvision.nn.Module` with ``forward`` and a
``backward`` that mirrors it; its stem conv does not compute the gradient of
the image (``backward`` returns ``None``). ``create(name, num_classes,
input_shape, **options)`` builds one by name; ``available()`` lists the names.
"""

from .registry import available, create, register
from . import alexnet, efficientnet, googlenet, lenet, mobilenet, resnet, vgg, yolo  # noqa: F401  (they register)
from .alexnet import AlexNet
from .efficientnet import EfficientNet, compound_scaling
from .googlenet import GoogLeNet
from .lenet import LeNet5
from .mobilenet import MobileNetV1, MobileNetV2
from .resnet import ResNet, ResNetCIFAR, resnet_cifar
from .vgg import VGG

__all__ = ["create", "available", "register", "compound_scaling", "resnet_cifar",
           "LeNet5", "AlexNet", "VGG", "ResNet", "ResNetCIFAR", "GoogLeNet",
           "MobileNetV1", "MobileNetV2", "EfficientNet"]
