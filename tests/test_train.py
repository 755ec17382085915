"""The training loop, History, callbacks and training curves (npvision.train, npvision.viz.curves).

The models here are tiny Modules defined in this file (a dense layer built from
Parameters and a matmul), so the loop is tested independently of npvision.nn's layers.
"""

import numpy as np
import pytest

from npvision.gradcheck import check_loss, check_module
from npvision.nn.module import Module, Parameter, Sequential
from npvision.optim import SGD, Adam, StepDecay
from npvision.train import (BestWeights, Callback, EarlyStopping, History, accuracy, evaluate, fit,
                            predict, top_k_accuracy)
from npvision.viz.curves import plot_history


# ---------------------------------------------------------------------------
# a tiny model, loss and data set
# ---------------------------------------------------------------------------
class Dense(Module):
    """y = x W + b, W (D_in, D_out)."""

    def __init__(self, d_in, d_out, rng):
        super().__init__()
        self.weight = Parameter(rng.standard_normal((d_in, d_out)) * np.sqrt(1.0 / d_in))
        self.bias = Parameter(np.zeros(d_out))

    def forward(self, x):
        self.x = x
        return x @ self.weight.data + self.bias.data

    def backward(self, dy):
        self.weight.grad += self.x.T @ dy
        self.bias.grad += dy.sum(axis=0)
        return dy @ self.weight.data.T


class Tanh(Module):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1 - self.y ** 2)


class AddInTraining(Module):
    """Adds 100 in training mode, nothing in eval mode (to see which mode is used)."""

    def forward(self, x):
        return x + 100.0 if self.training else x

    def backward(self, dy):
        return dy


def softmax_ce(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    dlogits = p.copy()
    dlogits[np.arange(n), labels] -= 1
    return loss, dlogits / n


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Dense(2, 8, rng), Tanh(), Dense(8, 3, rng))


def blobs(n, seed):
    """Three well-separated Gaussian blobs in 2-D; labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, size=n)
    x = centers[y] + rng.standard_normal((n, 2)) * 0.7
    return x, y


X_TRAIN, Y_TRAIN = blobs(240, seed=1)
X_TEST, Y_TEST = blobs(120, seed=2)


def test_helpers_are_correct():
    rng = np.random.default_rng(0)
    check_module(make_model(), rng.standard_normal((4, 2)))
    check_loss(softmax_ce, rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, 0]))


# ---------------------------------------------------------------------------
# fit / evaluate / predict
# ---------------------------------------------------------------------------
def test_fit_learns_separable_problem():
    model = make_model()
    before = evaluate(model, softmax_ce, X_TEST, Y_TEST)
    h = fit(model, softmax_ce, Adam(model.parameters(), lr=0.05), X_TRAIN, Y_TRAIN, epochs=15,
            batch_size=32, validation_data=(X_TEST, Y_TEST), progress=False)
    assert isinstance(h, History) and len(h) == 15
    assert set(h.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    after = evaluate(model, softmax_ce, X_TEST, Y_TEST)
    assert after["accuracy"] >= 0.97 > before["accuracy"]
    assert after["loss"] < 0.2 * before["loss"]
    assert h["loss"][-1] < h["loss"][0]
    # the last val_ entry is the held-out evaluation of the final weights
    assert h["val_loss"][-1] == pytest.approx(after["loss"], rel=1e-12)
    pred = predict(model, X_TEST, batch_size=50)
    assert pred.shape == (120, 3)
    assert accuracy(pred, Y_TEST) == pytest.approx(after["accuracy"])


def test_reproducible_from_seed():
    runs = []
    for seed in (7, 7, 8):
        model = make_model(seed=0)
        h = fit(model, softmax_ce, SGD(model.parameters(), lr=0.1, momentum=0.9), X_TRAIN, Y_TRAIN,
                epochs=3, batch_size=16, validation_data=(X_TEST, Y_TEST), seed=seed, progress=False)
        runs.append((h, model.state_dict()))
    (h1, w1), (h2, w2), (h3, _) = runs
    assert h1 == h2 and h1.to_dict() == h2.to_dict()
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    assert h1["loss"] != h3["loss"]                 # the seed really drives the shuffle


def test_augment_is_applied_to_every_batch_and_reproducible():
    def run(seed):
        seen = []

        def augment(xb, rng):
            noise = rng.normal(0.0, 0.1, xb.shape)
            seen.append((xb.copy(), noise))
            return xb + noise

        model = make_model(seed=0)
        h = fit(model, softmax_ce, SGD(model.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=2,
                batch_size=50, validation_data=(X_TEST, Y_TEST), seed=seed, progress=False,
                augment=augment)
        return h, model.state_dict(), seen

    h1, w1, seen1 = run(3)
    # one call per training batch: 240 samples in batches of 50 -> 5 batches per epoch
    assert [len(xb) for xb, _ in seen1] == [50, 50, 50, 50, 40] * 2
    for e in range(2):                        # each epoch's batches are a permutation of x_train
        batches = np.concatenate([xb for xb, _ in seen1[5 * e:5 * e + 5]])
        np.testing.assert_array_equal(np.sort(batches, axis=0), np.sort(X_TRAIN, axis=0))
    h2, w2, seen2 = run(3)                    # same seed: same shuffles, same noise, same weights
    assert h1.to_dict() == h2.to_dict()
    for (xa, na), (xb, nb) in zip(seen1, seen2):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(na, nb)
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    h3, _, seen3 = run(4)
    assert not np.array_equal(seen1[0][1], seen3[0][1])
    # the augmented batches are what the model trains on; validation is not augmented
    plain = make_model(seed=0)
    h0 = fit(plain, softmax_ce, SGD(plain.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=2,
             batch_size=50, validation_data=(X_TEST, Y_TEST), seed=3, progress=False)
    assert h0["loss"][0] != h1["loss"][0]
    zeros = make_model(seed=0)
    w_before = zeros.state_dict()
    hz = fit(zeros, softmax_ce, SGD(zeros.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=1,
             batch_size=50, validation_data=(X_TEST, Y_TEST), progress=False,
             augment=lambda xb, rng: np.zeros_like(xb))
    first_weight = next(k for k in w_before if k.endswith("weight"))
    np.testing.assert_array_equal(zeros.state_dict()[first_weight], w_before[first_weight])
    assert hz["val_loss"][0] == pytest.approx(evaluate(zeros, softmax_ce, X_TEST, Y_TEST)["loss"])


def test_augment_errors():
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="augment"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=1, progress=False, augment="flip")
    with pytest.raises(ValueError, match="augment: returned shape"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=1, progress=False,
            augment=lambda xb, rng: xb[:1])


def test_no_shuffle_uses_data_order():
    h = []
    for seed in (0, 1):
        model = make_model()
        h.append(fit(model, softmax_ce, SGD(model.parameters(), lr=0.1), X_TRAIN, Y_TRAIN,
                     epochs=2, batch_size=50, shuffle=False, seed=seed, progress=False))
    assert h[0] == h[1]


def test_predict_and_evaluate_use_eval_mode_and_restore_it():
    model = Sequential(AddInTraining())
    x = np.arange(6.0).reshape(3, 2)
    model.train()
    np.testing.assert_array_equal(predict(model, x, batch_size=2), x)
    assert model.training
    model.eval()
    predict(model, x)
    assert not model.training


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_scores_in_eval_mode_and_restores_the_mode(training):
    model = Sequential(AddInTraining())
    x = np.arange(6.0).reshape(3, 2)
    model.train(training)
    seen = evaluate(model, None, x, np.zeros(3), metrics=[("mean_output", lambda out, y: float(out.mean()))])
    assert seen["mean_output"] == pytest.approx(x.mean())       # eval mode: nothing added
    assert model.training is training


def test_fit_trains_in_train_mode_and_restores_mode():
    seen = []

    class Spy(Module):
        def forward(self, x):
            seen.append(self.training)
            return x

        def backward(self, dy):
            return dy

    model = Sequential(make_model(), Spy())
    model.eval()
    fit(model, softmax_ce, SGD(model.parameters(), lr=0.1), X_TRAIN[:20], Y_TRAIN[:20], epochs=1,
        batch_size=10, validation_data=(X_TEST[:10], Y_TEST[:10]), progress=False)
    assert seen == [True, True, False]               # two training batches, one validation batch
    assert not model.training


def test_scheduler_per_epoch_and_per_batch():
    model = make_model()
    opt = SGD(model.parameters(), lr=0.4)
    h = fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=5, batch_size=60,
            scheduler=StepDecay(opt, step_size=2, gamma=0.5), progress=False)
    np.testing.assert_allclose(h["lr"], [0.4, 0.4, 0.2, 0.2, 0.1])

    model = make_model()
    opt = SGD(model.parameters(), lr=1.0)
    sched = StepDecay(opt, step_size=4, gamma=0.5, interval="batch")
    h = fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=2, batch_size=60, scheduler=sched,
            progress=False)
    assert sched.t == 8                              # 4 batches per epoch, 2 epochs
    np.testing.assert_allclose(h["lr"], [1.0, 0.5])


def test_max_grad_norm_limits_each_update():
    model = make_model()
    opt = SGD(model.parameters(), lr=1.0)
    w0 = np.concatenate([p.data.ravel() for p in model.parameters()])
    fit(model, softmax_ce, opt, X_TRAIN[:8], Y_TRAIN[:8], epochs=1, batch_size=8,
        max_grad_norm=0.01, progress=False)
    w1 = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert np.linalg.norm(w1 - w0) <= 0.01 + 1e-9


def test_progress_bar_on_and_off(capsys):
    model = make_model()
    fit(model, softmax_ce, SGD(model.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=2,
        batch_size=60, progress=False)
    assert capsys.readouterr().err == ""
    fit(model, softmax_ce, SGD(model.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=2,
        batch_size=60, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "loss=" in err and "accuracy=" in err


def test_diverging_loss_raises():
    def nan_loss(out, y):
        return np.nan, np.zeros_like(out)

    model = make_model()
    with pytest.raises(FloatingPointError, match="epoch 1, batch 1"):
        fit(model, nan_loss, SGD(model.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=1,
            progress=False)


def test_fit_argument_errors():
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="y_train: has 10 samples"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN[:10], epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=1, metrics=("acc",), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=0, progress=False)
    with pytest.raises(TypeError, match="x_train"):
        fit(model, softmax_ce, opt, X_TRAIN.astype(np.uint8), Y_TRAIN, epochs=1, progress=False)
    with pytest.raises(TypeError, match="model"):
        fit(object(), softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=1, progress=False)
    with pytest.raises(ValueError, match="progress"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=1, progress="yes")
    with pytest.raises(ValueError, match="different optimizer"):
        fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=1, progress=False,
            scheduler=StepDecay(SGD(model.parameters(), lr=0.1), step_size=1))


# ---------------------------------------------------------------------------
# metrics and History
# ---------------------------------------------------------------------------
def test_accuracy_cases():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(scores, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(scores, np.eye(2)[[1, 1, 1]]) == pytest.approx(2 / 3)        # one-hot
    assert accuracy(np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 0.0])) == pytest.approx(2 / 3)
    per_pixel = np.zeros((1, 2, 2, 3))
    per_pixel[..., 2] = 1.0
    assert accuracy(per_pixel, np.array([[[2, 2], [0, 2]]])) == 0.75
    assert top_k_accuracy(np.array([[5.0, 4, 3, 2, 1, 0]]), np.array([4]), k=5) == 1.0
    assert top_k_accuracy(np.array([[5.0, 4, 3, 2, 1, 0]]), np.array([5]), k=5) == 0.0
    with pytest.raises(ValueError, match="accuracy"):
        accuracy(np.zeros((4, 3)), np.zeros((5,)))


def test_custom_metric_function():
    def mean_max_score(out, y):
        return float(out.max(axis=1).mean())

    model = make_model()
    res = evaluate(model, softmax_ce, X_TEST, Y_TEST, batch_size=7, metrics=[mean_max_score])
    assert set(res) == {"loss", "mean_max_score"}
    out = predict(model, X_TEST)
    assert res["mean_max_score"] == pytest.approx(out.max(axis=1).mean())
    assert res["loss"] == pytest.approx(softmax_ce(out, Y_TEST)[0])


def test_history_best_and_table():
    h = History()
    for loss, acc in [(1.0, 0.5), (0.4, 0.8), (0.6, 0.9), (0.4, 0.7)]:
        h.append({"val_loss": loss, "val_accuracy": acc})
    assert h.best("val_loss") == (1, 0.4)                    # the earliest of a tie
    assert h.best("val_accuracy").epoch == 2
    assert h.best("val_accuracy", mode="min").value == 0.5
    assert "val_accuracy" in str(h) and len(str(h).splitlines()) == 5
    with pytest.raises(KeyError, match="recorded"):
        h["accuracy"]
    with pytest.raises(ValueError, match="reports"):
        h.append({"val_loss": 0.1})


# ---------------------------------------------------------------------------
# callbacks
# ---------------------------------------------------------------------------
class Recorder(Callback):
    def on_train_begin(self, model):
        self.states = []

    def on_epoch_end(self, epoch, logs, model):
        self.states.append(model.state_dict())


def test_early_stopping_stops_after_patience():
    model = make_model()
    stopper = EarlyStopping("val_loss", patience=2)
    # lr = 0: nothing changes, so val_loss never improves after epoch 0
    h = fit(model, softmax_ce, SGD(model.parameters(), lr=0.0), X_TRAIN, Y_TRAIN, epochs=20,
            batch_size=60, validation_data=(X_TEST, Y_TEST), callbacks=[stopper], progress=False)
    assert len(h) == 3 and stopper.stopped_epoch == 2 and stopper.best_epoch == 0


def test_early_stopping_restores_best_weights():
    model = make_model()
    rec = Recorder()
    stopper = EarlyStopping("val_loss", patience=2, restore_best=True)
    # validation labels permuted: training makes the validation loss worse after a while
    y_wrong = (Y_TEST + 1) % 3
    h = fit(model, softmax_ce, Adam(model.parameters(), lr=0.05), X_TRAIN, Y_TRAIN, epochs=30,
            batch_size=32, validation_data=(X_TEST, y_wrong), callbacks=[rec, stopper],
            progress=False)
    assert stopper.stopped_epoch is not None and len(h) == stopper.stopped_epoch + 1 < 30
    best = h.best("val_loss").epoch
    assert best == stopper.best_epoch and best < len(h) - 1
    final = model.state_dict()
    for k in final:
        np.testing.assert_array_equal(final[k], rec.states[best][k])
    assert not np.array_equal(final["2.weight"], rec.states[-1]["2.weight"])

    # the same run without restoring ends on the last epoch's weights
    model = make_model()
    rec = Recorder()
    fit(model, softmax_ce, Adam(model.parameters(), lr=0.05), X_TRAIN, Y_TRAIN, epochs=30,
        batch_size=32, validation_data=(X_TEST, y_wrong), progress=False,
        callbacks=[rec, EarlyStopping("val_loss", patience=2, restore_best=False)])
    np.testing.assert_array_equal(model.state_dict()["2.weight"], rec.states[-1]["2.weight"])


def test_best_weights_without_stopping_and_max_mode():
    model = make_model()
    rec = Recorder()
    keeper = BestWeights("val_accuracy")
    h = fit(model, softmax_ce, SGD(model.parameters(), lr=0.05), X_TRAIN, Y_TRAIN, epochs=4,
            batch_size=60, validation_data=(X_TEST, Y_TEST), callbacks=[rec, keeper], progress=False)
    assert len(h) == 4 and keeper.mode == "max"
    assert keeper.best_epoch == h.best("val_accuracy").epoch
    np.testing.assert_array_equal(model.state_dict()["0.weight"], rec.states[keeper.best_epoch]["0.weight"])


def test_monitor_missing_is_a_clear_error():
    model = make_model()
    with pytest.raises(ValueError, match="validation_data"):
        fit(model, softmax_ce, SGD(model.parameters(), lr=0.1), X_TRAIN, Y_TRAIN, epochs=2,
            callbacks=[EarlyStopping("val_loss")], progress=False)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping("val_loss", mode="smallest")


# ---------------------------------------------------------------------------
# training curves
# ---------------------------------------------------------------------------
def test_plot_history_writes_png(tmp_path):
    model = make_model()
    opt = SGD(model.parameters(), lr=0.2)
    h = fit(model, softmax_ce, opt, X_TRAIN, Y_TRAIN, epochs=3, batch_size=60,
            validation_data=(X_TEST, Y_TEST), scheduler=StepDecay(opt, 1, 0.5), progress=False)
    path = tmp_path / "sub" / "curves.png"
    fig = plot_history(h, path, title="toy")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "learning rate"]
    fig = plot_history({"loss": [1.0, 0.5]}, tmp_path / "plain.png")
    assert (tmp_path / "plain.png").exists() and len(fig.axes) == 1
    with pytest.raises(ValueError, match="recorded"):
        plot_history(h, metrics=["iou"])
    with pytest.raises(ValueError, match="same"):
        plot_history({"loss": [1.0, 0.5], "val_loss": [1.0]})


def test_fit_with_npvision_layers_and_loss():
    import npvision.functional as F
    import npvision.nn as nn

    x_train, x_test = X_TRAIN.astype(np.float32), X_TEST.astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 16, rng=0), nn.ReLU(), nn.Linear(16, 3, rng=1))
    h = fit(model, F.softmax_cross_entropy, Adam(model.parameters(), lr=0.02), x_train, Y_TRAIN,
            epochs=8, batch_size=32, validation_data=(x_test, Y_TEST), progress=False)
    assert h["val_accuracy"][-1] >= 0.95
    assert model[0].weight.data.dtype == np.float32
    assert predict(model, x_test).dtype == np.float32
