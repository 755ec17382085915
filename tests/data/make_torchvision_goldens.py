"""Write tests/data/torchvision_<arch>.json: torchvision's state-dict layout and its logits.

Run by hand where torch and torchvision are installed (never by the tests):

    /work/venv-tv/bin/python tests/data/make_torchvision_goldens.py [ARCH ... | variants]

(all architectures without arguments; the output is deterministic, so rerunning
an architecture rewrites the same file).

For each architecture the JSON holds

* ``state_dict``: every key of torchvision's 1000-class model with its shape,
  in torchvision's order (``tests/test_io_torch.py`` checks that
  ``npvision.io.to_torch_state_dict`` gives exactly this list);
* ``cases``: small models (10 classes, reduced inputs; VGG's and AlexNet's two
  hidden fully connected layers 64 wide instead of 4096) with the shapes that differ from the
  spec, the npvision options that build the same network, the input's shape,
  and the logits torchvision computes, in float32 and float64, after loading
  the weights of ``tests/_torch_synthetic.py`` (a seeded rule NumPy rebuilds, so
  no weights are stored).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))                      # tests/, for _torch_synthetic
from _torch_synthetic import (  # noqa: E402
    case_spec, fingerprint, spec_hash, synthetic_images, synthetic_state_dict)

SEED = 2024
SMALL = (2, 61, 47, 3)          # odd, non-square: stride-2 padding and H/W order both show
VGG_SMALL = (2, 96, 64, 3)      # VGG's features end 3x2 here, so the 7x7 adaptive pool is not uniform
# AlexNet's end 3x2 at 127x99 (its 6x6 pool likewise)

# architecture -> list of (case name, input (N, H, W, C), npvision options, VGG hidden width or None)
CASES = {
    "vgg16": [("adaptive_96x64", VGG_SMALL, {"hidden": 64, "adaptive_pool": [7, 7]}, 64)],
    "vgg19": [("native_224", (1, 224, 224, 3), {"hidden": 64}, 64),
              ("adaptive_96x64", VGG_SMALL, {"hidden": 64, "adaptive_pool": [7, 7]}, 64)],
    "alexnet": [("native_224", (1, 224, 224, 3), {"hidden": 64}, 64),
                ("adaptive_127x99", (2, 127, 99, 3), {"hidden": 64, "adaptive_pool": [6, 6]}, 64)],
    "resnet18": [("small", SMALL, {}, None)],
    "resnet34": [("small", SMALL, {}, None)],
    "resnet50": [("small", SMALL, {}, None)],
    "mobilenet_v2": [("small", SMALL, {}, None)],
    "efficientnet_b0": [("small", SMALL, {}, None)],
}
NUM_CLASSES = 10

# More architectures, layout only (the same code as above with other numbers): torchvision
# constructor and keyword arguments -> npvision's create() arguments; the classifier of VGG is
# narrowed to 64 as in CASES. tests/test_io_torch.py compares sha256 hashes of the (key, shape) lists.
VARIANTS = {   # name: (torchvision constructor, its kwargs, npvision's name, npvision's options)
    "vgg11": ("vgg11", {}, "vgg11", {"hidden": 64}),
    "vgg11_bn": ("vgg11_bn", {}, "vgg11", {"hidden": 64, "batch_norm": True, "conv_bias": True}),
    "vgg16_bn": ("vgg16_bn", {}, "vgg16", {"hidden": 64, "batch_norm": True, "conv_bias": True}),
    "vgg19_bn": ("vgg19_bn", {}, "vgg19", {"hidden": 64, "batch_norm": True, "conv_bias": True}),
    "mobilenet_v2_x0.5": ("mobilenet_v2", {"width_mult": 0.5}, "mobilenet_v2", {"width_mult": 0.5}),
    "mobilenet_v2_x1.4": ("mobilenet_v2", {"width_mult": 1.4}, "mobilenet_v2", {"width_mult": 1.4}),
    **{f"efficientnet_b{i}": (f"efficientnet_b{i}", {}, f"efficientnet_b{i}", {}) for i in range(1, 8)},
}


def torchvision_model(arch: str, num_classes: int, hidden: int | None, **kwargs) -> torch.nn.Module:
    model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes, **kwargs)
    if hidden is not None:     # VGG, AlexNet: the same classifier, narrower (keys unchanged)
        first, second = (1, 4) if arch == "alexnet" else (0, 3)
        model.classifier[first] = torch.nn.Linear(model.classifier[first].in_features, hidden)
        model.classifier[second] = torch.nn.Linear(hidden, hidden)
        model.classifier[6] = torch.nn.Linear(hidden, num_classes)
    return model.eval()


def spec_of(model: torch.nn.Module) -> list:
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def logits(model, state, images, dtype) -> list:
    model = model.to(dtype)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                          strict=True)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))   # NHWC -> NCHW
    with torch.no_grad():
        return model(x).numpy().tolist()


def main() -> None:
    torch.set_num_threads(2)
    for arch, cases in CASES.items():
        if sys.argv[1:] and arch not in sys.argv[1:]:
            continue
        golden = {"architecture": arch, "torch": torch.__version__,
                  "torchvision": torchvision.__version__, "seed": SEED,
                  "state_dict": spec_of(torchvision_model(arch, 1000, None)), "cases": []}
        full = {k: s for k, s in golden["state_dict"]}
        for name, shape, options, hidden in cases:
            model = torchvision_model(arch, NUM_CLASSES, hidden)
            overrides = {k: s for k, s in spec_of(model) if full[k] != s}
            case = {"name": name, "num_classes": NUM_CLASSES, "input_shape": list(shape),
                    "npvision_options": options, "shape_overrides": overrides}
            spec = case_spec(golden, case)
            assert [k for k, _ in spec] == list(model.state_dict()), arch
            s64 = synthetic_state_dict(spec, SEED, np.float64)
            s32 = synthetic_state_dict(spec, SEED, np.float32)
            case["fingerprint"] = fingerprint(s64)
            case["logits_float32"] = logits(model, s32, synthetic_images(shape, SEED, np.float32),
                                            torch.float32)
            case["logits_float64"] = logits(model, s64, synthetic_images(shape, SEED, np.float64),
                                            torch.float64)
            golden["cases"].append(case)
            scale = np.abs(np.array(case["logits_float64"])).max()
            print(f"{arch:16s} {name:16s} max |logit| {scale:.3g}")
        path = os.path.join(HERE, f"torchvision_{arch}.json")
        with open(path, "w") as fh:
            json.dump(golden, fh, separators=(",", ":"))
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    if not sys.argv[1:] or "variants" in sys.argv[1:]:
        variants = {}
        for name, (arch, tv_kwargs, np_name, np_options) in VARIANTS.items():
            model = torchvision_model(arch, NUM_CLASSES, np_options.get("hidden"), **tv_kwargs)
            variants[name] = {"npvision": np_name, "npvision_options": np_options, "num_classes": NUM_CLASSES,
                              "keys": len(model.state_dict()), "sha256": spec_hash(spec_of(model))}
        path = os.path.join(HERE, "torchvision_variants.json")
        with open(path, "w") as fh:
            json.dump({"torchvision": torchvision.__version__, "variants": variants}, fh, indent=1)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
