"""Output fingerprints of the classic models: a fixed input through fixed weights.

Shape and finiteness tests pass for a model whose block is wired wrong (a skip added
after the ReLU instead of before, a squeeze-excitation gate on the wrong axis, a
missing stride). These tests pin each model's logits on one input.

The weights do not come from the models' initializers (an improved initializer must
not break a fingerprint): every array of the state dict is drawn from a generator
seeded by the CRC-32 of its own name, so the values depend only on the architecture's
names and shapes. Conv/linear weights are scaled by ``sqrt(6 / fan_in)`` (depthwise: KH KW; He's scale, so
the signal keeps its size through ReLU layers); BatchNorm's scale is near 1, its shift, bias and running
mean near 0, its running variance in [1, 1.2]. The model runs in float64, eval mode.

After a deliberate change to an architecture, print the new literals with
``python tests/test_model_fingerprints.py`` and say why they changed in the commit.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from npvision import models

# name -> (input shape, options); num_classes 5 everywhere, batch of 2
CASES = {
    "lenet5": ((32, 32, 1), {}),
    "alexnet": ((63, 63, 3), {}),
    "vgg11": ((32, 32, 3), {"hidden": 16}),
    "vgg16": ((32, 32, 3), {"hidden": 16}),
    "vgg19": ((32, 32, 3), {"hidden": 16}),
    "resnet18": ((32, 32, 3), {}),
    "resnet34": ((32, 32, 3), {}),
    "resnet50": ((32, 32, 3), {}),
    "resnet20": ((16, 16, 3), {}),
    "googlenet": ((16, 16, 3), {}),
    "mobilenet_v1": ((32, 32, 3), {}),
    "mobilenet_v2": ((32, 32, 3), {}),
    "efficientnet_b0": ((32, 32, 3), {}),
    "efficientnet_b1": ((32, 32, 3), {}),
}


def fixed_state(model) -> dict:
    """Every state-dict array drawn from a generator seeded by its name (module docstring)."""
    state = {}
    for key, value in model.state_dict().items():
        value = np.asarray(value)
        if value.dtype.kind != "f":
            state[key] = value                      # counters and the like stay as they are
            continue
        u = np.random.default_rng(zlib.crc32(key.encode())).uniform(-1.0, 1.0, value.shape)
        leaf = key.rsplit(".", 1)[-1]
        if value.ndim >= 2:                         # conv (KH, KW, C_in, C_out), linear (in, out)
            fan_in = math.prod(value.shape[:-1])
            if value.ndim == 4 and value.shape[-1] == 1:    # depthwise (KH, KW, C, 1): one channel in
                fan_in = value.shape[0] * value.shape[1]
            state[key] = u * math.sqrt(6.0 / fan_in)
        elif "var" in leaf:
            state[key] = 1.0 + 0.1 * (u + 1.0)
        elif leaf in ("weight", "gamma", "scale"):
            state[key] = 1.0 + 0.1 * u
        else:                                       # bias, beta, running mean
            state[key] = 0.1 * u
    return state


def fingerprint(name: str) -> np.ndarray:
    """The (2, 5) float64 logits of model ``name`` on the fixed input with the fixed weights."""
    shape, options = CASES[name]
    model = models.create(name, num_classes=5, input_shape=shape, rng=0, **options)
    model.astype(np.float64)
    model.load_state_dict(fixed_state(model))
    model.eval()
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (2,) + shape)
    return np.asarray(model.forward(x), dtype=np.float64)


# printed by running this file (see the module docstring); 8 significant digits
EXPECTED = {
    "alexnet": [[5.1380197, 0.10133291, 2.6697369, -2.1891209, -0.32035851], [4.4132379, 0.15731093, 2.8670558, -1.3709559, -0.70624787]],
    "efficientnet_b0": [[-0.011751829, 0.080158483, 0.095996701, -0.07323949, 0.010229257], [-0.011760343, 0.080166062, 0.095997462, -0.073236328, 0.010236181]],
    "efficientnet_b1": [[0.043624525, 0.0028914476, 0.16667913, -0.17964034, -0.23784716], [0.043620527, 0.0028974404, 0.16667522, -0.17963227, -0.2378407]],
    "googlenet": [[0.094882392, 0.012956277, 0.26062283, -0.30000655, -0.059041546], [0.13914896, 0.031342878, 0.24040961, -0.27775285, -0.020552093]],
    "lenet5": [[0.35281549, 0.55959083, 0.26659486, -0.04654517, 0.82855578], [0.075993466, 0.61207989, 0.057628243, 0.21343649, 0.36360557]],
    "mobilenet_v1": [[0.19896868, 0.070406087, 0.003967048, -0.084464992, -0.064908039], [0.19847777, 0.071116084, 0.003190787, -0.086579316, -0.061531553]],
    "mobilenet_v2": [[-0.30161895, 0.68217035, -0.61069887, -4.3286988, 0.34549343], [1.0662363, -0.635726, -1.315299, -5.265383, 1.1056779]],
    "resnet18": [[5.0017825, 4.5427254, -0.32201021, 1.9575127, -4.156602], [4.3631728, 7.0069874, 0.39263218, 1.6472904, -5.1967042]],
    "resnet20": [[5.5310448, 7.737312, -0.12225765, 6.8961175, 1.4963975], [4.9479312, 9.3346372, -0.46576228, 5.2956043, -0.077924749]],
    "resnet34": [[11.570183, 31.721315, 1.0767134, -33.727498, -10.632108], [7.605258, 31.368528, -7.4102448, -35.50436, -14.562197]],
    "resnet50": [[-12.927871, 8.2533634, -6.4745665, -9.3342619, -30.816852], [-16.905725, 13.958129, 5.9393193, -7.0180332, -26.832832]],
    "vgg11": [[0.30598772, -0.64701271, -0.27717837, -0.010622627, -0.37381236], [0.20394541, -0.78302167, -0.24502886, -0.079093416, -0.24619522]],
    "vgg16": [[0.31741689, 0.42886219, -0.28196355, 0.041265057, 0.56526642], [0.25004958, 0.36975822, -0.23270031, 0.0068640669, 0.41146566]],
    "vgg19": [[0.20498279, 0.08870186, 0.22629868, 0.041097366, -0.10012662], [0.21180867, -0.0002643756, 0.2101323, 0.019890218, -0.072767859]],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fingerprint(name):
    assert name in EXPECTED, f"no fingerprint stored for {name}: run this file to print it"
    expected = np.array(EXPECTED[name])
    got = fingerprint(name)
    assert got.dtype == np.float64 and got.shape == expected.shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * scale,
                               err_msg=f"{name}: logits differ from the stored fingerprint")


def test_fingerprints_tell_the_models_apart():
    # a fingerprint that every model shares (all zeros, a constant) would prove nothing
    rows = np.array([np.ravel(EXPECTED[n]) for n in sorted(EXPECTED)])
    assert len(rows) == len(CASES)
    assert np.all(np.std(rows, axis=1) > 1e-6)
    assert len({tuple(np.round(r, 4)) for r in rows}) == len(rows)
    for r in rows:                                  # the two images of the batch differ too
        assert not np.allclose(r[:5], r[5:])


if __name__ == "__main__":
    for n in sorted(CASES):
        values = fingerprint(n)
        rows = ", ".join("[" + ", ".join(f"{v:.8g}" for v in row) + "]" for row in values)
        print(f'    "{n}": [{rows}],')
