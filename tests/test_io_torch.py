"""torchvision state dicts in npvision models (npvision.io.from_torch_state_dict and friends).

The goldens (tests/data/torchvision_<arch>.json, written by
tests/data/make_torchvision_goldens.py with torchvision 0.29) hold torchvision's
keys and shapes and the logits torchvision computes from seeded weights that
tests/_torch_synthetic.py rebuilds here with NumPy alone. No test needs PyTorch;
the ones that compare with it live skip without it.
"""

import json
import os
import sys

import numpy as np
import pytest

from npvision import models
from npvision.io import (WeightsFileError, from_torch_state_dict, load_torch_weights, save_weights,
                         to_torch_state_dict)
from npvision.io_torch import expected_torch_shapes

from _torch_synthetic import case_spec, fingerprint, spec_hash, synthetic_images, synthetic_state_dict

DATA = os.path.join(os.path.dirname(__file__), "data")
ARCHS = ["vgg16", "vgg19", "alexnet", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet_b0"]
BIG = ("vgg16", "vgg19", "alexnet")        # 61M-144M parameters at 1000 classes: their cases are narrower
# float32 logits agree to 1e-5 of the largest logit (ResNet-50's seeded logits reach 1300)
TOL = {np.float32: 1e-5, np.float64: 1e-11}


def golden(arch: str) -> dict:
    with open(os.path.join(DATA, f"torchvision_{arch}.json")) as fh:
        return json.load(fh)


CASES = [(arch, i) for arch in ARCHS for i in range(len(golden(arch)["cases"]))]


def case_model(arch, case, dtype=np.float32, rng=0):
    shape = tuple(case["input_shape"][1:])
    model = models.create(arch, num_classes=case["num_classes"], input_shape=shape,
                          rng=rng, **case["npvision_options"])
    return model.astype(dtype)


def case_state(g, case, dtype=np.float64):
    return synthetic_state_dict(case_spec(g, case), g["seed"], dtype)


# ---------------------------------------------------------------------------
# the same logits as torchvision, and exactly torchvision's keys
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("arch, index", CASES, ids=[f"{a}-{golden(a)['cases'][i]['name']}" for a, i in CASES])
def test_logits_equal_torchvisions(arch, index, dtype):
    g = golden(arch)
    case = g["cases"][index]
    state = case_state(g, case)
    assert fingerprint(state) == pytest.approx(case["fingerprint"], abs=1e-9), (
        "NumPy's random stream changed: rerun tests/data/make_torchvision_goldens.py")
    model = from_torch_state_dict(case_model(arch, case, dtype), state).eval()
    logits = model.forward(synthetic_images(case["input_shape"], g["seed"], dtype))
    expected = np.array(case["logits_float32" if dtype == np.float32 else "logits_float64"])
    assert logits.dtype == dtype and logits.shape == expected.shape
    scale = max(1.0, np.abs(expected).max())
    assert np.abs(logits - expected).max() <= TOL[dtype] * scale


@pytest.mark.parametrize("arch", [a for a in ARCHS if a not in BIG])
def test_keys_and_shapes_are_torchvisions_for_1000_classes(arch):
    expected = [(k, tuple(s)) for k, s in golden(arch)["state_dict"]]
    assert list(expected_torch_shapes(models.create(arch)).items()) == expected


@pytest.mark.parametrize("arch, index", CASES, ids=[f"{a}-{i}" for a, i in CASES])
def test_keys_and_shapes_are_torchvisions_for_each_case(arch, index):
    g = golden(arch)
    expected = case_spec(g, g["cases"][index])
    assert list(expected_torch_shapes(case_model(arch, g["cases"][index])).items()) == expected


with open(os.path.join(DATA, "torchvision_variants.json")) as _fh:
    VARIANTS = json.load(_fh)["variants"]
# B5..B7 build 30-66M parameters (2-5 s each here) to check what B1..B4 check with other numbers
SLOW_VARIANTS = {"efficientnet_b5", "efficientnet_b6", "efficientnet_b7"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.skipif(
    n in SLOW_VARIANTS and not os.environ.get("NPVISION_SLOW"), reason="slow; set NPVISION_SLOW=1"))
    for n in VARIANTS])
def test_more_variants_have_torchvisions_keys_and_shapes(name):
    """VGG-11, the BatchNorm VGGs, MobileNet v2 at other widths, EfficientNet-B1..B7: layouts by hash."""
    v = VARIANTS[name]
    model = models.create(v["npvision"], num_classes=v["num_classes"], **v["npvision_options"])
    spec = list(expected_torch_shapes(model).items())
    assert len(spec) == v["keys"] and spec_hash(spec) == v["sha256"]


def test_full_vgg19_at_224_takes_torchvisions_whole_dict():
    """The style-transfer use: vgg19 built at 224x224x3 loads every torchvision array, full size."""
    g = golden("vgg19")
    model = models.create("vgg19", input_shape=(224, 224, 3), rng=0)
    assert list(expected_torch_shapes(model).items()) == [(k, tuple(s)) for k, s in g["state_dict"]]
    # full-size arrays without the memory: constants broadcast to each shape, one value per key
    features = model.features.forward(np.zeros((1, 64, 48, 3), np.float32))    # other sizes: features only
    assert features.shape == (1, 2, 1, 512)
    keys = [k for k, _ in g["state_dict"]]
    state = {k: np.broadcast_to(np.float32(i), s) for i, (k, s) in enumerate(g["state_dict"])}
    from_torch_state_dict(model, state)
    assert model.features[0].weight.data[0, 0, 0, 0] == 0 and model.features[0].bias.data[0] == 1
    assert np.all(model.features[34].weight.data == keys.index("features.34.weight"))
    assert model.classifier[6].bias.data.shape == (1000,)
    assert np.all(model.classifier[6].bias.data == keys.index("classifier.6.bias"))


# ---------------------------------------------------------------------------
# the inverse
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("arch, index", CASES, ids=[f"{a}-{i}" for a, i in CASES])
def test_export_is_the_exact_inverse(arch, index):
    g = golden(arch)
    case = g["cases"][index]
    state = case_state(g, case)
    model = from_torch_state_dict(case_model(arch, case, np.float64), state)
    exported = to_torch_state_dict(model)
    assert list(exported) == list(state)
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            assert exported[key].dtype == np.int64 and exported[key].shape == () and exported[key] == 0
        else:
            assert exported[key].flags.c_contiguous
            np.testing.assert_array_equal(exported[key], value, err_msg=key)
    # and back: another model (other random weights) takes the export and becomes identical
    other = from_torch_state_dict(case_model(arch, case, np.float64, rng=99), exported)
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_export_copies_rather_than_shares_the_models_arrays():
    model = models.create("resnet18", num_classes=3, input_shape=(32, 32, 3), rng=0)
    exported = to_torch_state_dict(model)
    exported["fc.bias"][:] = 5.0
    exported["bn1.running_mean"][:] = 5.0
    assert not np.any(model.fc.bias.data == 5.0) and not np.any(model.bn1.running_mean == 5.0)


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

def small_resnet18():
    g = golden("resnet18")
    case = g["cases"][0]
    return case_model("resnet18", case), case_state(g, case, np.float32)


def test_missing_key_is_named_and_the_model_is_unchanged():
    model, state = small_resnet18()
    before = model.state_dict()
    del state["layer2.1.bn2.running_var"]
    with pytest.raises(WeightsFileError,
                       match=r"lacks 1 key this model needs: 'layer2\.1\.bn2\.running_var'$"):
        from_torch_state_dict(model, state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_num_batches_tracked_may_be_absent():
    model, state = small_resnet18()
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    from_torch_state_dict(model, state)


def test_extra_key_is_named():
    model, state = small_resnet18()
    state["layer1.0.conv3.weight"] = np.zeros((64, 64, 1, 1), np.float32)
    with pytest.raises(WeightsFileError,
                       match=r"has 1 key this model has no place for: 'layer1\.0\.conv3\.weight'"):
        from_torch_state_dict(model, state)


def test_wrong_shape_names_the_key_and_both_shapes():
    model, state = small_resnet18()
    state["layer3.0.conv2.weight"] = np.zeros((256, 256, 3, 1), np.float32)
    with pytest.raises(WeightsFileError, match=r"'layer3\.0\.conv2\.weight'\]: has shape \(256, 256, 3, 1\), "
                                               r"this ResNet \('resnet18'\) expects \(256, 256, 3, 3\)"):
        from_torch_state_dict(model, state)


def test_wrong_number_of_classes_says_so():
    g = golden("resnet18")
    state = synthetic_state_dict(g["state_dict"], 0, np.float32)      # 1000 classes
    with pytest.raises(WeightsFileError, match=r"'fc\.weight'.*\(1000, 512\).*num_classes"):
        from_torch_state_dict(models.create("resnet18", num_classes=10, input_shape=(32, 32, 3)), state)


def test_vgg_built_for_another_input_size_says_how_to_fit_torchvisions_classifier():
    g = golden("vgg16")
    case = g["cases"][0]
    model = models.create("vgg16", num_classes=10, input_shape=(96, 64, 3), hidden=64)   # no adaptive pool
    with pytest.raises(WeightsFileError, match=r"'classifier\.0\.weight'.*\(64, 25088\).*expects \(64, 3072\)"
                                               r".*adaptive_pool=\(7, 7\)"):
        from_torch_state_dict(model, case_state(g, case, np.float32))


@pytest.mark.parametrize("source, target, name", [
    ("resnet34", "resnet18", "resnet34"), ("resnet50", "resnet34", "resnet50"),
    ("vgg16", "vgg19", "vgg16"), ("mobilenet_v2", "efficientnet_b0", "mobilenet_v2"),
    ("efficientnet_b0", "mobilenet_v2", "efficientnet_b0"), ("resnet18", "vgg16", "resnet18"),
    ("alexnet", "vgg16", "alexnet"), ("vgg19", "alexnet", "vgg19")])
def test_weights_of_another_architecture_are_recognized(source, target, name):
    g = golden(source)
    case = g["cases"][0]
    state = case_state(g, case, np.float32)
    model = models.create(target, num_classes=10, input_shape=(96, 96, 3), hidden=64) \
        if target in BIG else models.create(target, num_classes=10, input_shape=(64, 64, 3))
    with pytest.raises(WeightsFileError, match=rf"does not fit this .*look like torchvision's {name}$"):
        from_torch_state_dict(model, state)


def test_batchnorm_vgg_without_conv_biases_says_how_to_fit_torchvisions():
    model = models.create("vgg11", num_classes=10, input_shape=(64, 64, 3), hidden=8, batch_norm=True,
                          adaptive_pool=(7, 7))
    state = to_torch_state_dict(models.create("vgg11", num_classes=10, input_shape=(64, 64, 3), hidden=8,
                                              batch_norm=True, conv_bias=True, adaptive_pool=(7, 7)))
    with pytest.raises(WeightsFileError, match=r"has 8 keys .*'features\.0\.bias'.*vgg11_bn.*conv_bias=True"):
        from_torch_state_dict(model, state)
    assert model.features[0].bias is None


def test_unsupported_model_non_mapping_and_integer_arrays():
    with pytest.raises(TypeError, match="LeNet5"):
        from_torch_state_dict(models.create("lenet5", num_classes=10, input_shape=(32, 32, 1)), {})
    model, state = small_resnet18()
    with pytest.raises(TypeError, match="state_dict: expected a mapping"):
        from_torch_state_dict(model, list(state.items()))
    state["fc.bias"] = np.zeros(10, np.int64)
    with pytest.raises(WeightsFileError, match=r"'fc\.bias'.*floating-point"):
        from_torch_state_dict(model, state)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def test_load_from_npz_as_the_snippet_writes_it(tmp_path):
    g = golden("mobilenet_v2")
    case = g["cases"][0]
    state = case_state(g, case, np.float32)
    path = tmp_path / "mobilenet_v2.npz"
    np.savez(path, **state)                    # what {k: v.numpy() for k, v in sd.items()} gives
    model = load_torch_weights(case_model("mobilenet_v2", case), path).eval()
    logits = model.forward(synthetic_images(case["input_shape"], g["seed"], np.float32))
    expected = np.array(case["logits_float32"])
    assert np.abs(logits - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())


def test_file_refusals(tmp_path, monkeypatch):
    model, _ = small_resnet18()
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        load_torch_weights(model, tmp_path / "absent.npz")
    npvision_file = save_weights(model, tmp_path / "mine.npz")
    with pytest.raises(WeightsFileError, match="npvision weights file.*load_weights"):
        load_torch_weights(model, npvision_file)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(WeightsFileError, match="truncated or corrupt"):
        load_torch_weights(model, broken)
    other = tmp_path / "resnet34.npz"
    g = golden("resnet34")
    np.savez(other, **case_state(g, g["cases"][0], np.float32))
    with pytest.raises(WeightsFileError, match=r"resnet34\.npz: state_dict: does not fit .*resnet34$"):
        load_torch_weights(model, other)
    monkeypatch.setitem(sys.modules, "torch", None)          # PyTorch absent: import torch fails
    pth = tmp_path / "resnet18.pth"
    pth.write_bytes(b"anything")
    with pytest.raises(ImportError, match=r"(?s)needs PyTorch.*np\.savez"):
        load_torch_weights(model, pth)


# ---------------------------------------------------------------------------
# live, where PyTorch is installed
# ---------------------------------------------------------------------------

def test_tensors_and_pth_files_load(tmp_path):
    torch = pytest.importorskip("torch")
    model, state = small_resnet18()
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    reference = from_torch_state_dict(small_resnet18()[0], state).state_dict()

    def assert_same(m):
        loaded = m.state_dict()
        for k, v in reference.items():
            np.testing.assert_array_equal(loaded[k], v, err_msg=k)

    assert_same(from_torch_state_dict(model, tensors))
    torch.save(tensors, tmp_path / "plain.pth")
    assert_same(load_torch_weights(small_resnet18()[0], tmp_path / "plain.pth"))
    wrapped = {"epoch": 3, "state_dict": {"module." + k: v for k, v in tensors.items()}}
    torch.save(wrapped, tmp_path / "wrapped.pth")
    assert_same(load_torch_weights(small_resnet18()[0], tmp_path / "wrapped.pth"))
    half = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in tensors.items()}
    from_torch_state_dict(small_resnet18()[0], half)                 # bfloat16 is read via float32
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(WeightsFileError, match="torch.load could not read it"):
        load_torch_weights(small_resnet18()[0], tmp_path / "junk.pth")


def test_each_layout_against_torch_functional():
    """Every conversion on its own, against the PyTorch op it stands for (NCHW there, NHWC here)."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    from npvision import nn
    from npvision.io_torch import _CONV, _DEPTHWISE, _LINEAR, _FlattenedLinear

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 5, 4))                                   # NHWC
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())                   # NCHW

    def nhwc(t):
        return t.detach().numpy().transpose(0, 2, 3, 1)

    w = rng.standard_normal((6, 4, 3, 3))                                   # OIHW
    conv = nn.Conv2D(4, 6, 3, stride=2, padding=1, bias=False, dtype=np.float64)
    conv.weight.data = _CONV.from_torch(w, conv.weight.shape)
    np.testing.assert_allclose(conv.forward(x), nhwc(tf.conv2d(xt, torch.from_numpy(w), stride=2, padding=1)),
                               atol=1e-12)

    wd = rng.standard_normal((8, 1, 3, 3))                                  # groups=4, multiplier 2
    dw = nn.DepthwiseConv2D(4, 3, stride=2, padding=1, depth_multiplier=2, bias=False, dtype=np.float64)
    dw.weight.data = _DEPTHWISE.from_torch(wd, dw.weight.shape)
    np.testing.assert_allclose(dw.forward(x), nhwc(tf.conv2d(xt, torch.from_numpy(wd), stride=2, padding=1,
                                                             groups=4)), atol=1e-12)

    wl = rng.standard_normal((3, 7 * 5 * 4))                                # (out, c h w)
    fc = nn.Linear(7 * 5 * 4, 3, bias=False, dtype=np.float64)
    fc.weight.data = _FlattenedLinear(7, 5, 4).from_torch(wl, fc.weight.shape)
    np.testing.assert_allclose(fc.forward(x.reshape(2, -1)),
                               tf.linear(torch.flatten(xt, 1), torch.from_numpy(wl)).numpy(), atol=1e-12)
    np.testing.assert_array_equal(_FlattenedLinear(7, 5, 4).to_torch(fc.weight.data), wl)
    np.testing.assert_array_equal(_LINEAR.from_torch(wl, (140, 3)), wl.T)

    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    bn = nn.BatchNorm2D(4, dtype=np.float64).eval()
    bn.gamma.data, bn.beta.data, bn.running_mean, bn.running_var = gamma, beta, mean, var
    ref = tf.batch_norm(xt, *map(torch.from_numpy, (mean, var, gamma, beta)), training=False, eps=1e-5)
    np.testing.assert_allclose(bn.forward(x), nhwc(ref), atol=1e-12)

    np.testing.assert_allclose(nn.AdaptiveAvgPool2D((7, 7)).forward(x[:, :3, :2]),
                               nhwc(tf.adaptive_avg_pool2d(xt[:, :, :3, :2], (7, 7))), atol=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_against_live_torchvision(arch):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    g = golden(arch)
    case = g["cases"][-1]
    tv = getattr(torchvision.models, arch)(weights=None, num_classes=case["num_classes"])
    if arch in BIG:                        # the classifier the goldens use: 64 wide
        first, second = (1, 4) if arch == "alexnet" else (0, 3)
        tv.classifier[first] = torch.nn.Linear(tv.classifier[first].in_features, 64)
        tv.classifier[second] = torch.nn.Linear(64, 64)
        tv.classifier[6] = torch.nn.Linear(64, case["num_classes"])
    tv = tv.double().eval()
    model = from_torch_state_dict(case_model(arch, case, np.float64),
                                  {k: v for k, v in tv.state_dict().items()}).eval()
    x = synthetic_images(case["input_shape"], 1, np.float64)
    with torch.no_grad():
        expected = tv(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(model.forward(x), expected, rtol=1e-9, atol=1e-9)
    # the other way: change npvision's weights, export them, and torchvision computes npvision's logits
    rng = np.random.default_rng(5)
    for p in model.parameters():
        p.data = p.data * rng.uniform(0.8, 1.2, p.shape)
    tv.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state_dict(model).items()}, strict=True)
    with torch.no_grad():
        expected = tv(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(model.forward(x), expected, rtol=1e-9, atol=1e-9)
