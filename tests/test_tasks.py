"""The task registry (npvision.tasks): run_task's contract, its files, and the digit tasks' pieces.

Only quick runs here (one epoch on a few hundred images); full runs and their
accuracy and time are recorded in benchmarks/train_digits.md.
"""

import json
import os

import numpy as np
import pytest

from npvision import models
from npvision.io import load_weights
from npvision.tasks import REQUIRED_KEYS, TASKS, available_tasks, get_task, register_task, run_task
from npvision.nn.module import Module, Parameter
from npvision.tasks.classify_digits import _LatestNearBest, plot_predictions, random_affine

FILES = ("curves.png", "predictions.png", "confusion.png", "filters.png", "weights.npz", "history.json",
         "metrics.json")


@pytest.fixture(scope="module")
def quick_lenet(tmp_path_factory):
    out = tmp_path_factory.mktemp("lenet5")
    return run_task("lenet5", quick=True, out=out, progress=False), out


# ---------------------------------------------------------------------------
# run_task on the real LeNet-5 task (quick)
# ---------------------------------------------------------------------------
def test_quick_lenet5_returns_the_metrics(quick_lenet):
    metrics, _ = quick_lenet
    for key in (*REQUIRED_KEYS, "accuracy", "train_accuracy"):
        assert key in metrics, key
    assert metrics["task"] == "lenet5" and metrics["metric"] == "accuracy"
    assert metrics["epochs"] == 1 and metrics["quick"] is True
    assert metrics["parameters"] == 61706
    assert metrics["n_train"] == 256 and metrics["n_test"] == 128
    assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["train_accuracy"] <= 1.0
    assert metrics["errors"] == round((1 - metrics["accuracy"]) * metrics["n_test"])
    assert metrics["seconds"] > 0
    json.dumps(metrics)                                     # JSON-able as returned


def test_quick_lenet5_writes_its_files(quick_lenet):
    _, out = quick_lenet
    for name in FILES:
        path = os.path.join(out, name)
        assert os.path.isfile(path) and os.path.getsize(path) > 0, name
    with open(os.path.join(out, "history.json")) as fh:
        history = json.load(fh)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(history)


def test_metrics_json_equals_the_returned_dict(quick_lenet):
    metrics, out = quick_lenet
    with open(os.path.join(out, "metrics.json")) as fh:
        assert json.load(fh) == metrics


def test_saved_weights_load_into_a_fresh_model(quick_lenet):
    metrics, out = quick_lenet
    model = models.create("lenet5", num_classes=10, input_shape=tuple(metrics["input_shape"]))
    info = load_weights(model, os.path.join(out, "weights.npz"), architecture="lenet5")
    assert info["extra"]["task"] == "lenet5"
    assert info["extra"]["classes"] == [str(d) for d in range(10)]
    assert info["extra"]["accuracy"] == metrics["accuracy"]


def test_runs_are_reproducible_from_the_seed(quick_lenet):
    metrics, _ = quick_lenet
    again = run_task("lenet5", quick=True, progress=False)
    for key in ("accuracy", "test_loss", "train_accuracy", "val_accuracy"):
        assert again[key] == metrics[key], key


# ---------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------
def test_registry_lists_the_digit_tasks():
    assert {"lenet5", "resnet-digits"} <= set(TASKS)
    assert available_tasks() == sorted(TASKS)
    for task in TASKS.values():
        assert task.metric and task.description and task.defaults["epochs"] >= 1
    assert get_task("RESNET_digits") is TASKS["resnet-digits"]


def test_unknown_task_lists_the_tasks():
    with pytest.raises(ValueError) as err:
        run_task("lenet6", quick=True)
    message = str(err.value)
    assert "'lenet6'" in message
    for name in TASKS:
        assert name in message


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="learning_rate"):
        run_task("lenet5", quick=True, out=tmp_path / "run", learning_rate=0.1)
    with pytest.raises(ValueError, match="epochs"):
        run_task("lenet5", epochs=0)
    with pytest.raises(ValueError, match="seed"):
        run_task("lenet5", seed=-1)
    with pytest.raises(TypeError, match="name"):
        run_task(5)
    assert not os.path.exists(tmp_path / "run")             # refused before anything is written


def test_a_new_task_plugs_in(tmp_path):
    calls = {}

    @register_task("toy-count", metric="score", description="a stand-in task", epochs=3, scale=2.0)
    def toy(config, *, seed, out, quick, progress):
        calls.update(config=config, seed=seed, out=out, quick=quick)
        return {"score": np.float32(config["scale"]), "epochs": config["epochs"], "n_train": 4,
                "n_test": 2, "parameters": 0, "sizes": (1, 2)}

    try:
        with pytest.raises(ValueError, match="already registered"):
            register_task("toy-count", metric="score", description="again", epochs=1)(toy)
        metrics = run_task("toy-count", epochs=5, seed=3, out=tmp_path, scale=0.5)
        assert calls["config"] == {"epochs": 5, "scale": 0.5} and calls["seed"] == 3
        assert TASKS["toy-count"].defaults == {"epochs": 3, "scale": 2.0}     # not modified
        assert metrics["task"] == "toy-count" and metrics["metric"] == "score"
        assert metrics["score"] == 0.5 and type(metrics["score"]) is float   # NumPy -> JSON
        assert metrics["sizes"] == [1, 2]
        with open(tmp_path / "metrics.json") as fh:
            assert json.load(fh) == metrics
    finally:
        del TASKS["toy-count"]


def test_a_task_missing_required_keys_is_an_error():
    @register_task("toy-broken", metric="score", description="forgets n_test", epochs=1)
    def broken(config, *, seed, out, quick, progress):
        return {"score": 1.0, "epochs": 1, "n_train": 1, "parameters": 0}

    try:
        with pytest.raises(ValueError, match="n_test"):
            run_task("toy-broken")
    finally:
        del TASKS["toy-broken"]


def test_register_task_checks_its_arguments():
    with pytest.raises(ValueError, match="epochs"):
        register_task("toy-x", metric="score", description="no epochs")
    with pytest.raises(ValueError, match="name"):
        register_task("Toy_X", metric="score", description="bad name", epochs=1)
    assert "toy-x" not in TASKS


# ---------------------------------------------------------------------------
# the ResNet task's plumbing (a tiny depth through the same options)
# ---------------------------------------------------------------------------
def test_quick_resnet_digits_with_options():
    metrics = run_task("resnet-digits", quick=True, progress=False, depth=8, width=4)
    assert metrics["architecture"] == "resnet20" and metrics["config"]["depth"] == 8
    assert metrics["input_shape"] == [16, 16, 1]
    tiny = models.create("resnet20", num_classes=10, input_shape=(16, 16, 1), depth=8, width=4)
    assert metrics["parameters"] == tiny.num_parameters()


# ---------------------------------------------------------------------------
# augmentation and the prediction picture
# ---------------------------------------------------------------------------
# (the bilinear sampler itself is tested against a loop reference in tests/test_augment.py)
def test_kept_weights_are_the_latest_within_one_image_of_the_best():
    class Counter(Module):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.zeros(1))

    model = Counter()
    keep = _LatestNearBest(tolerance=1 / 100 + 1e-9, epochs=6, progress=False)
    keep.on_train_begin(model)
    for epoch, val_acc in enumerate([0.90, 0.95, 0.94, 0.93, 0.96, 0.95]):
        model.w.data[...] = epoch                             # weights that name their epoch
        keep.on_epoch_end(epoch, {"val_accuracy": val_acc}, model)
        if epoch == 2:
            assert keep.best_epoch == 2                       # 0.94 is one image below 0.95
        if epoch == 3:
            assert keep.best_epoch == 2                       # 0.93 is two images below: kept 2
    assert keep.best_epoch == 5 and keep.top_acc == 0.96      # 0.95 ties 0.96 within one image
    keep.on_train_end(model, None)
    assert model.w.data[0] == 5.0


def test_random_affine_with_zero_ranges_is_the_identity():
    x = np.random.default_rng(0).random((3, 9, 7, 2)).astype(np.float32)
    y = random_affine(x, np.random.default_rng(1), max_angle=0.0, max_shift=0.0, max_scale=0.0)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-6)


def test_random_affine_draws_one_transform_per_image():
    digit = np.zeros((12, 12, 1), np.float32)
    digit[3:9, 5:7] = 1.0                                    # a vertical bar
    x = np.repeat(digit[None], 4, axis=0)                    # (4, 12, 12, 1), all equal
    y = random_affine(x, np.random.default_rng(0), max_angle=20.0, max_shift=2.0, max_scale=0.1)
    assert y.shape == x.shape
    for i in range(1, 4):
        assert not np.allclose(y[0], y[i])
    # the same seed gives the same batch
    np.testing.assert_array_equal(
        y, random_affine(x, np.random.default_rng(0), max_angle=20.0, max_shift=2.0, max_scale=0.1))


def test_random_affine_shift_moves_the_image():
    x = np.zeros((1, 10, 10, 1))
    x[0, 4, 4] = 1.0
    y = random_affine(x, np.random.default_rng(0), max_angle=0.0, max_shift=3.0, max_scale=0.0)
    rng = np.random.default_rng(0)                         # replay its draws: angle, scale, shift
    rng.uniform(size=1), rng.uniform(size=1)
    t = rng.uniform(-3.0, 3.0, (1, 2))[0]                  # the shift (tx, ty)
    # the bright pixel's centre of mass moves by (tx, ty)
    rows, cols = np.mgrid[0:10, 0:10]
    mass = y[0, :, :, 0].sum()
    assert abs((y[0, :, :, 0] * cols).sum() / mass - (4 + t[0])) < 1e-6
    assert abs((y[0, :, :, 0] * rows).sum() / mass - (4 + t[1])) < 1e-6


def test_plot_predictions_marks_mistakes_red():
    images = np.random.default_rng(0).random((6, 8, 8, 1))
    labels = np.array([0, 1, 2, 3, 4, 5])
    predicted = np.array([0, 7, 2, 3, 9, 5])
    fig = plot_predictions(images, labels, predicted, max_images=6)
    titles = [ax.get_title() for ax in fig.axes[:6]]
    assert titles[:2] == ["true 1 / pred 7", "true 4 / pred 9"]       # mistakes first
    colors = [ax.title.get_color() for ax in fig.axes[:6]]
    assert colors[:2] == ["red", "red"] and "red" not in colors[2:]
    assert "2 mistakes of 6" in fig._suptitle.get_text()
