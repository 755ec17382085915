"""Saving and loading weights (npvision.io): round trips and every refusal."""

import json
import os

import numpy as np
import pytest

from npvision.io import FORMAT_VERSION, WeightsFileError, load_weights, read_weights, save_weights
from npvision.nn.module import Module, Parameter, Sequential


class Dense(Module):
    def __init__(self, d_in, d_out, rng, dtype=np.float32):
        super().__init__()
        self.weight = Parameter((rng.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(dtype))
        self.bias = Parameter(rng.standard_normal(d_out).astype(dtype))

    def forward(self, x):
        return x @ self.weight.data + self.bias.data


class Shift(Module):
    """Subtracts a running mean kept as a buffer (like BatchNorm's statistics)."""

    def __init__(self, n, rng):
        super().__init__()
        self.register_buffer("running_mean", rng.standard_normal(n).astype(np.float32))

    def forward(self, x):
        return x - self.running_mean


def make_model(seed=0, hidden=5):
    rng = np.random.default_rng(seed)
    return Sequential(Dense(3, hidden, rng), Shift(hidden, rng), Dense(hidden, 2, rng))


def test_round_trip_gives_identical_predictions(tmp_path):
    x = np.random.default_rng(9).standard_normal((4, 3)).astype(np.float32)
    a, b = make_model(0), make_model(1)
    assert not np.array_equal(a(x), b(x))
    written = save_weights(a, tmp_path / "m.npz", architecture="toy", extra={"classes": ["cat", "dog"]})
    assert written == str(tmp_path / "m.npz")
    info = load_weights(b, tmp_path / "m.npz", architecture="toy")
    np.testing.assert_array_equal(a(x), b(x))
    assert b[1].running_mean.dtype == np.float32 and b[0].weight.data.dtype == np.float32
    assert info["architecture"] == "toy" and info["model_class"] == "Sequential"
    assert info["extra"] == {"classes": ["cat", "dog"]} and info["format_version"] == FORMAT_VERSION
    assert "1.running_mean" in info["loaded"]
    # an ordinary npz: readable without npvision, without pickle
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["state/0.weight"], a[0].weight.data)


def test_suffix_appended_and_folder_created(tmp_path):
    path = save_weights(make_model(), tmp_path / "deep" / "dir" / "weights")
    assert path.endswith("weights.npz") and os.path.exists(path)
    load_weights(make_model(3), tmp_path / "deep" / "dir" / "weights")      # same rule on load
    assert sorted(os.listdir(tmp_path / "deep" / "dir")) == ["weights.npz"]  # no temp files left


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    good = make_model(0)
    save_weights(good, path)
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt                     # e.g. Ctrl-C in the middle of writing

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        save_weights(make_model(1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]
    model = make_model(5)
    load_weights(model, path)
    np.testing.assert_array_equal(model[0].weight.data, good[0].weight.data)


def test_truncated_file(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsFileError, match=r"m\.npz.*truncated or corrupt"):
        load_weights(make_model(), path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(), path)
    data = bytearray(path.read_bytes())
    # flip bytes inside the first stored array's data (after its .npy header)
    start = data.index(b"\x93NUMPY") + 130             # the .npy header is 128 bytes
    for i in range(start, start + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsFileError, match=r"m\.npz.*truncated or corrupt.*CRC"):
        load_weights(make_model(), path)
    path.write_bytes(b"definitely not a zip archive")
    with pytest.raises(WeightsFileError, match="truncated or corrupt"):
        read_weights(path)


def test_missing_file_and_foreign_npz(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_weights(make_model(), tmp_path / "nothing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(WeightsFileError, match="not an npvision weights file"):
        load_weights(make_model(), tmp_path / "other.npz")


def test_other_architecture(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(), path, architecture="lenet5")
    with pytest.raises(WeightsFileError, match=r"architecture 'lenet5'.*not 'alexnet'"):
        load_weights(make_model(), path, architecture="alexnet")


def test_missing_and_unexpected_parameters(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(), path)
    bigger = Sequential(*make_model(1), Dense(2, 2, np.random.default_rng(0)))
    with pytest.raises(WeightsFileError, match=r"m\.npz: parameter '3\.weight' and 1 more .*missing"):
        load_weights(bigger, path)
    smaller = Sequential(*list(make_model(1))[:2])
    with pytest.raises(WeightsFileError, match=r"m\.npz: the file .* has parameter '2\.weight'"):
        load_weights(smaller, path)
    # strict=False loads what both have
    info = load_weights(smaller, path, strict=False)
    assert info["loaded"] == ["0.weight", "0.bias", "1.running_mean"]
    np.testing.assert_array_equal(smaller[0].weight.data, make_model()[0].weight.data)


def test_wrong_shape_names_parameter_and_both_shapes(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(hidden=5), path)
    other = make_model(1, hidden=4)
    w_before = other[0].weight.data.copy()
    with pytest.raises(WeightsFileError,
                       match=r"parameter '0\.weight' has shape \(3, 5\) in the file but the model "
                             r"expects \(3, 4\)"):
        load_weights(other, path)
    np.testing.assert_array_equal(other[0].weight.data, w_before)        # untouched


def test_non_numeric_array_is_refused_naming_the_parameter(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(), path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.keys()}
    name = next(k for k in arrays if k.endswith("0.weight"))
    arrays[name] = np.full(arrays[name].shape, "w")           # right shape, strings
    np.savez(path, **arrays)
    model = make_model(1)
    before = model[0].weight.data.copy()
    with pytest.raises(WeightsFileError, match=r"parameter '0\.weight' has non-numeric dtype <U1"):
        load_weights(model, path)
    np.testing.assert_array_equal(model[0].weight.data, before)            # untouched


def test_unknown_format_version(tmp_path):
    path = tmp_path / "m.npz"
    save_weights(make_model(), path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.keys()}
    meta = json.loads(str(arrays["__npvision__"]))
    meta["format_version"] = FORMAT_VERSION + 1
    arrays["__npvision__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(WeightsFileError, match=rf"format version {FORMAT_VERSION + 1}.*upgrade"):
        load_weights(make_model(), path)


def test_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="extra"):
        save_weights(make_model(), tmp_path / "m.npz", extra={"f": object()})
    with pytest.raises(TypeError, match="model"):
        save_weights({"w": np.zeros(2)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="architecture"):
        save_weights(make_model(), tmp_path / "m.npz", architecture=3)
    assert not os.listdir(tmp_path)
