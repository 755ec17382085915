"""npvision.models: the registry, exact parameter counts, forward/backward of every model, gradient checks.

The parameter counts are the published ones (torchvision's for ResNet, GoogLeNet,
MobileNet v2 and EfficientNet; Keras's trainable count for MobileNet v1). Building
VGG-16 for real draws 138M random weights (seconds, >1 GB of temporaries), so the
count tests swap the initializer for ``np.zeros`` (lazily allocated): a count does not
depend on the values.
"""

import math
import os

import numpy as np
import pytest

import npvision.nn as nn
import npvision.nn.init as nn_init
from npvision import gradcheck, models
from npvision.models._common import make_divisible
from npvision.models.googlenet import _CeilMaxPool2D

EXPECTED_NAMES = {"lenet5", "alexnet", "vgg11", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50",
                  "resnet20", "googlenet", "mobilenet_v1", "mobilenet_v2"} | {f"efficientnet_b{i}"
                                                                                 for i in range(8)}

# (name, num_classes, input_shape, trainable parameters)
COUNTS = [
    ("lenet5", 10, (32, 32, 1), 61_706),
    ("alexnet", 1000, (224, 224, 3), 61_100_840),
    ("vgg16", 1000, (224, 224, 3), 138_357_544),
    ("resnet18", 1000, (224, 224, 3), 11_689_512),
    ("resnet34", 1000, (224, 224, 3), 21_797_672),
    ("resnet50", 1000, (224, 224, 3), 25_557_032),
    ("resnet20", 10, (32, 32, 3), 272_474),          # option-B shortcuts: the paper's 269,722 + 2,752
    ("googlenet", 1000, (224, 224, 3), 6_624_904),
    ("mobilenet_v1", 1000, (224, 224, 3), 4_231_976),
    ("mobilenet_v2", 1000, (224, 224, 3), 3_504_872),
    ("efficientnet_b0", 1000, (224, 224, 3), 5_288_548),
    # torchvision's published counts for the compound-scaled variants
    ("efficientnet_b1", 1000, (240, 240, 3), 7_794_184),
    ("efficientnet_b2", 1000, (260, 260, 3), 9_109_994),
    ("efficientnet_b3", 1000, (300, 300, 3), 12_233_232),
    ("efficientnet_b4", 1000, (380, 380, 3), 19_341_616),
    ("efficientnet_b5", 1000, (456, 456, 3), 30_389_784),
    ("efficientnet_b6", 1000, (528, 528, 3), 43_040_704),
    ("efficientnet_b7", 1000, (600, 600, 3), 66_347_960),
]


@pytest.fixture
def lazy_weights(monkeypatch):
    """Initializers that return zeros: no random draws, pages allocated only when touched."""
    def zeros(shape, rng=None, dtype=np.float32, fan_in=None):
        return np.zeros(shape, dtype=dtype)
    for name in ("he_normal", "he_uniform", "glorot_normal", "glorot_uniform"):
        monkeypatch.setattr(nn_init, name, zeros)


# -- registry ------------------------------------------------------------------------------------

def test_every_model_is_registered():
    assert EXPECTED_NAMES <= set(models.available())
    assert models.available() == sorted(models.available())


@pytest.mark.parametrize("name,num_classes,input_shape,expected", COUNTS, ids=[c[0] for c in COUNTS])
def test_parameter_count(lazy_weights, name, num_classes, input_shape, expected):
    model = models.create(name, num_classes=num_classes, input_shape=input_shape)
    assert model.num_parameters() == expected
    assert model.architecture == name


def test_counts_that_do_not_depend_on_the_input_size(lazy_weights):
    # global-pool models: only C of input_shape matters; the name is case/dash-insensitive
    assert models.create("ResNet-18", input_shape=(32, 32, 3)).num_parameters() == 11_689_512
    assert models.create("googlenet", input_shape=(15, 15, 3)).num_parameters() == 6_624_904
    # the paper's 5x5 kernels in the third inception branch (torchvision uses 3x3)
    assert models.create("googlenet", kernel5=5).num_parameters() == 7_005_832
    # width multipliers
    assert models.create("mobilenet_v1", alpha=0.5).num_parameters() == 1_331_592
    assert models.create("mobilenet_v2", width_mult=0.5).num_parameters() == 1_968_680
    # CIFAR ResNets of other depths: 6n + 2
    assert models.create("resnet20", num_classes=10, depth=56).num_parameters() == 853_018 + 2_752


def test_create_unknown_name_lists_the_available_models():
    with pytest.raises(ValueError, match="unknown model 'resnet99'.*resnet18.*vgg16"):
        models.create("resnet99")


@pytest.mark.parametrize("bad", [(224, 224), (0, 32, 3), (32, 32, -1), (32.0, 32, 3), "224x224x3"])
def test_create_rejects_bad_input_shape(bad):
    with pytest.raises(ValueError, match="input_shape"):
        models.create("resnet18", input_shape=bad)


@pytest.mark.parametrize("name,shape", [("alexnet", (62, 62, 3)), ("vgg16", (31, 31, 3)),
                                        ("googlenet", (14, 32, 3)), ("lenet5", (15, 15, 1))])
def test_create_rejects_too_small_inputs(name, shape):
    with pytest.raises(ValueError, match="input_shape.*at least"):
        models.create(name, num_classes=10, input_shape=shape)


def test_bad_options():
    with pytest.raises(ValueError, match="depth.*6n \\+ 2"):
        models.create("resnet20", depth=21)
    with pytest.raises(ValueError, match="num_classes"):
        models.create("mobilenet_v2", num_classes=0, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="alpha"):
        models.create("mobilenet_v1", alpha=0.0)
    with pytest.raises(ValueError, match="width_mult"):
        models.create("mobilenet_v2", width_mult=-1)
    with pytest.raises(TypeError):
        models.create("resnet18", no_such_option=1)


# -- the scaling rules ---------------------------------------------------------------------------

def test_make_divisible():
    assert make_divisible(32 * 0.25) == 8
    assert make_divisible(35.2) == 32          # 32 >= 0.9 * 35.2: kept
    assert make_divisible(12) == 16            # ties round up
    assert make_divisible(3) == 8              # never below the divisor
    assert make_divisible(1280 * 1.1) == 1408
    assert make_divisible(100, 8) == 104
    assert make_divisible(11.0, 8) == 16       # 8 < 0.9 * 11 = 9.9: one multiple up


def test_compound_scaling_table_and_rule():
    assert models.compound_scaling(0) == (1.0, 1.0, 224, 0.2)
    assert models.compound_scaling(7) == (2.0, 3.1, 600, 0.5)
    w, d, r, _ = models.compound_scaling(1, published=False)
    assert (w, d, r) == pytest.approx((1.1, 1.2, 258))
    w, d, r, _ = models.compound_scaling(2.0, published=False)
    assert d * w ** 2 * (r / 224) ** 2 == pytest.approx((1.2 * 1.1 ** 2 * 1.15 ** 2) ** 2, rel=1e-2)
    with pytest.raises(ValueError, match="phi"):
        models.compound_scaling(8)
    with pytest.raises(ValueError, match="phi"):
        models.compound_scaling(-1, published=False)


def test_efficientnet_scaling_applies_to_channels_and_repeats(lazy_weights):
    b0, b7 = models.create("efficientnet_b0"), models.create("efficientnet_b7")
    for i, (_, _, _, c, n) in enumerate(models.efficientnet.B0_SETTING, start=1):
        s0, s7 = getattr(b0, f"stage{i}"), getattr(b7, f"stage{i}")
        assert len(s0) == n and len(s7) == math.ceil(n * 3.1)
        assert s7[-1].out_channels == make_divisible(c * 2.0)
    assert b7.stem.out_channels == 64 and b7.head.out_channels == 2560 and b7.fc.in_features == 2560
    assert b7.dropout.rate == 0.5 and b0.dropout.rate == 0.2


def test_resnet_cifar_depth_counts_its_layers():
    for depth in (8, 14, 20):
        model = models.resnet_cifar(depth=depth, num_classes=10, input_shape=(8, 8, 1), width=2)
        weighted = [name for name, m in model.named_modules()
                    if isinstance(m, (nn.Conv2D, nn.Linear)) and "downsample" not in name]
        assert len(weighted) == depth


# -- forward and backward of every model ---------------------------------------------------------

SMALL_INPUT = {"lenet5": (32, 32, 1), "alexnet": (63, 63, 3), "vgg11": (32, 32, 3),
               "vgg16": (32, 32, 3), "vgg19": (32, 32, 3), "googlenet": (16, 16, 3),
               "mobilenet_v1": (32, 32, 3)}
SMALL_OPTIONS = {"vgg11": {"hidden": 64}, "vgg16": {"hidden": 64}, "vgg19": {"hidden": 64}}


# EfficientNet-B3..B7 run the very code of B0..B2 with other numbers (their structure is checked
# above), and a pass through B7's 66M weights takes 5-10 s here: opt in with NPVISION_SLOW=1.
SLOW = {f"efficientnet_b{i}" for i in range(3, 8)}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.skipif(
    n in SLOW and not os.environ.get("NPVISION_SLOW"), reason="slow; set NPVISION_SLOW=1"))
    for n in sorted(EXPECTED_NAMES)])
def test_forward_backward(name):
    shape = SMALL_INPUT.get(name, (16, 16, 3))
    model = models.create(name, num_classes=5, input_shape=shape, rng=0, **SMALL_OPTIONS.get(name, {}))
    # batch 4: the last stages of the global-pool nets see 1x1 maps, and BatchNorm over only
    # 2 values per channel would pass (almost) no gradient back
    x = np.random.default_rng(1).standard_normal((4,) + shape).astype(np.float32)
    y = model.forward(x)
    assert y.shape == (4, 5) and y.dtype == np.float32 and np.all(np.isfinite(y))
    dx = model.backward(np.random.default_rng(2).standard_normal(y.shape).astype(np.float32))
    assert dx is None or (dx.shape == x.shape and np.all(np.isfinite(dx)))
    params = model.parameters()
    assert all(np.all(np.isfinite(p.grad)) for p in params)
    # the gradient reached the first layer, and most tensors (not all: in training mode a
    # BatchNorm's beta followed only by linear maps and another BatchNorm has an exactly zero
    # gradient, e.g. MobileNet v2's "project" BNs, whose shift the next BN subtracts again)
    assert np.any(params[0].grad != 0)
    assert sum(bool(np.any(p.grad != 0)) for p in params) > 0.75 * len(params)


def test_int_seed_gives_distinct_layers_and_reproducible_models():
    a = models.create("vgg11", num_classes=3, input_shape=(32, 32, 3), hidden=8, rng=0)
    convs = [m for _, m in a.named_modules()
             if isinstance(m, nn.Conv2D) and m.weight.shape == (3, 3, 512, 512)]
    assert len(convs) == 3 and not np.array_equal(convs[0].weight.data, convs[1].weight.data)
    r1 = models.create("resnet20", num_classes=3, input_shape=(8, 8, 1), depth=8, width=2, rng=7)
    r2 = models.create("resnet20", num_classes=3, input_shape=(8, 8, 1), depth=8, width=2, rng=7)
    assert not np.array_equal(r1.layer1[0].conv1.weight.data, r1.layer1[0].conv2.weight.data)
    for (n1, v1), (n2, v2) in zip(r1.state_dict().items(), r2.state_dict().items()):
        assert n1 == n2 and np.array_equal(v1, v2)


# -- GoogLeNet's ceil-mode pool ------------------------------------------------------------------

@pytest.mark.parametrize("size,k,expected", [(112, 3, 56), (56, 3, 28), (28, 3, 14), (14, 2, 7),
                                             (8, 3, 4), (7, 3, 3), (2, 3, 1), (1, 2, 1), (5, 2, 3)])
def test_ceil_max_pool_size(size, k, expected):
    pool = _CeilMaxPool2D(k, 2)
    x = np.random.default_rng(0).standard_normal((1, size, size, 2))
    assert pool.forward(x).shape == (1, expected, expected, 2)


def test_ceil_max_pool_windows():
    # reference: window (i, j) covers rows 2i .. 2i+2 and columns 2j .. 2j+2, cut at the edge
    x = np.random.default_rng(0).standard_normal((2, 9, 10, 3))
    ours = _CeilMaxPool2D(3, 2).forward(x)
    assert ours.shape == (2, 4, 5, 3)
    for i in range(4):
        for j in range(5):
            window = x[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3]  # (N, <=3, <=3, C)
            np.testing.assert_array_equal(ours[:, i, j], window.max(axis=(1, 2)))


def test_ceil_max_pool_gradcheck():
    x = np.random.default_rng(3).permutation(2 * 7 * 6 * 2).reshape(2, 7, 6, 2) / 10.0  # no ties
    gradcheck.check_module(_CeilMaxPool2D(3, 2), x)


# -- end-to-end gradient checks (float64, BatchNorm in training mode) ----------------------------

def directional_check(model, x, groups, seed=0, eps=1e-6, tol=1e-6):
    """Compare d/dt sum(dout * f(x + t v_x, theta + t v)) at t = 0 with the backward's dot products.

    One random direction per group of parameters (or ``"input"``): four forwards per group
    instead of two per parameter entry. Deep BatchNorm networks on tiny batches are very
    curved, so the central difference ``D(h)`` is Richardson-extrapolated,
    ``(4 D(h / 2) - D(h)) / 3``, which cancels its ``h^2`` error term.
    """
    rng = np.random.default_rng(seed)
    model.zero_grad()
    out = model.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = model.backward(dout)
    for group in groups:
        params = [p for p in group if p.trainable] if group != "input" else []
        v_x = rng.standard_normal(x.shape) if group == "input" else np.zeros_like(x)
        vs = [rng.standard_normal(p.shape) for p in params]
        originals = [p.data.copy() for p in params]
        analytic = float(np.sum(dx * v_x)) if group == "input" else 0.0
        analytic += sum(float(np.sum(p.grad * v)) for p, v in zip(params, vs))

        def f(t):
            for p, p0, v in zip(params, originals, vs):
                p.data = p0 + t * v
            return float(np.sum(model.forward(x + t * v_x) * dout))

        d_h = (f(eps) - f(-eps)) / (2 * eps)
        d_half = (f(eps / 2) - f(-eps / 2)) / eps
        numeric = (4 * d_half - d_h) / 3
        for p, p0 in zip(params, originals):
            p.data = p0
        err = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-12)
        assert err < tol, (f"directional derivative mismatch ({err:.2e}): "
                           f"analytic {analytic}, numeric {numeric}")
    model.zero_grad()


def condition_batchnorm(model, eps=None, seed=1):
    """Random gamma in [0.5, 1.5] and beta = +-[0.2, 0.6] in every BatchNorm (optionally a larger eps).

    With beta = 0 a channel that is (nearly) constant over a tiny batch normalizes to ~0 and
    sits on the following ReLU's kink, where central differences are meaningless.
    """
    rng = np.random.default_rng(seed)
    for _, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2D):
            c = m.num_features
            m.gamma.data[:] = rng.uniform(0.5, 1.5, c)
            m.beta.data[:] = rng.choice([-1.0, 1.0], c) * rng.uniform(0.2, 0.6, c)
            if eps is not None:
                m.eps = eps
    return model


def freeze_all_but(model, keep):
    for name, p in model.named_parameters():
        p.trainable = name in keep
    return model


def test_gradcheck_resnet_cifar_end_to_end():
    model = models.resnet_cifar(depth=8, num_classes=3, input_shape=(8, 8, 1), width=4, rng=0)
    condition_batchnorm(model.astype(np.float64).train())
    model.conv1.input_grad = True  # check d image too, through every block
    x = np.random.default_rng(5).standard_normal((2, 8, 8, 1))
    # every parameter tensor, one random direction each
    directional_check(model, x, ["input"] + [[p] for p in model.parameters()])
    # entry by entry: the input, the stem, a projection shortcut, a BatchNorm deep inside, the classifier
    freeze_all_but(model, {"conv1.weight", "layer2.0.downsample.0.weight", "layer3.0.bn2.gamma",
                           "layer3.0.bn2.beta", "fc.weight", "fc.bias"})
    report = gradcheck.check_module(model, x, tol=1e-5)
    assert report.passed and len(report.errors) == 7  # input + 6 parameters


def test_gradcheck_tiny_mobilenet_v2_end_to_end():
    model = models.create("mobilenet_v2", num_classes=3, input_shape=(16, 16, 3), width_mult=0.25, rng=0)
    # A batch of 2 at 16x16 leaves 2 values per channel in the last stages (1x1 maps): there a
    # near-constant channel divided by sqrt(var + 1e-5) is amplified ~300x per layer, and the
    # network is far too curved for finite differences. eps = 1 keeps the math and tames that.
    condition_batchnorm(model.astype(np.float64).train(), eps=1.0)
    model.dropout.eval()                # a fixed function of x (BatchNorm stays in training mode)
    model.conv1.conv.input_grad = True
    x = np.random.default_rng(6).standard_normal((2, 16, 16, 3))
    groups = ["input"] + [child.parameters() for _, child in model.named_children() if child.parameters()]
    groups += [block.parameters() for block in model.stage4]   # a residual stage, block by block
    directional_check(model, x, groups, tol=1e-5)
    freeze_all_but(model, {"conv1.bn.gamma", "stage4.0.project.bn.gamma", "fc.bias"})
    report = gradcheck.check_module(model, x, tol=1e-5, check_input=False)
    assert report.passed and len(report.errors) == 3


def test_create_uses_each_models_own_defaults_and_names_bad_class_counts():
    lenet = models.create("lenet5")                           # the paper's: 32x32x1, 10 classes
    assert lenet.num_parameters() == 61_706
    assert lenet.forward(np.zeros((2, 32, 32, 1), np.float32)).shape == (2, 10)
    assert models.create("resnet20").forward(np.zeros((1, 32, 32, 3), np.float32)).shape == (1, 10)
    with pytest.raises(ValueError, match=r"num_classes: expected an int >= 1 .* received 0"):
        models.create("lenet5", num_classes=0)


def test_an_empty_batch_flows_through_lenet5():
    lenet = models.create("lenet5")
    assert lenet.forward(np.zeros((0, 32, 32, 1), np.float32)).shape == (0, 10)
    lenet.backward(np.zeros((0, 10), np.float32))              # the first conv returns no dx
    assert all(p.grad.shape == p.data.shape and not p.grad.any() for p in lenet.parameters())
