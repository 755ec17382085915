"""Model summary tables and layer freezing (npvision.nn.summary, npvision.nn.freeze)."""

import numpy as np
import pytest

from npvision.nn.freeze import freeze, frozen_names, trainable_names, unfreeze
from npvision.nn.module import Module, Parameter, Sequential
from npvision.nn.summary import SummaryError, summary
from npvision.optim import SGD


# ---------------------------------------------------------------------------
# tiny modules (independent of npvision.nn's layers)
# ---------------------------------------------------------------------------
class Dense(Module):
    def __init__(self, d_in, d_out, bias=True):
        super().__init__()
        self.weight = Parameter(np.ones((d_in, d_out)))
        if bias:
            self.bias = Parameter(np.zeros(d_out))

    def forward(self, x):
        y = x @ self.weight.data
        return y + self.bias.data if "bias" in self._params else y

    def backward(self, dy):
        return dy @ self.weight.data.T


class Relu(Module):
    def forward(self, x):
        return np.maximum(x, 0)


class Residual(Module):
    """x + f(x), with its own forward (not a Sequential)."""

    def __init__(self, d):
        super().__init__()
        self.fc1 = Dense(d, 2 * d)
        self.act = Relu()
        self.fc2 = Dense(2 * d, d, bias=False)

    def forward(self, x):
        identity = x
        out = self.fc1(x)
        out = self.act.forward(out)
        out = self.fc2(out)
        return out + identity


class TwoHeads(Module):
    def __init__(self, d):
        super().__init__()
        self.a = Dense(d, 2)
        self.b = Dense(d, 3)

    def forward(self, x):
        return self.a(x), self.b(x)


class Counter(Module):
    """Counts forward calls in training mode (must stay 0 during summary)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("calls", np.zeros(1))

    def forward(self, x):
        if self.training:
            self.calls += 1
        return x


def make_model():
    return Sequential(Dense(4, 6), Relu(), Residual(6), Counter(), Dense(6, 3))


# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------
def test_summary_rows_shapes_and_counts():
    model = make_model()
    s = summary(model, (4,))
    table = {r.name: r for r in s.rows}
    assert [r.name for r in s.rows] == ["0", "1", "2", "2.fc1", "2.act", "2.fc2", "3", "4"]
    assert table["0"].output_shape == (None, 6) and table["0"].params == 4 * 6 + 6
    assert table["2.fc1"].output_shape == (None, 12) and table["2.fc1"].depth == 2
    assert table["2.fc2"].params == 12 * 6
    assert table["2"].params == (6 * 12 + 12) + 12 * 6           # the block counts its sub-tree
    assert table["4"].output_shape == (None, 3)
    assert s.total_params == 30 + 84 + 72 + 21 == model.num_parameters(trainable_only=False)
    assert s.trainable_params == s.total_params and s.non_trainable_params == 0
    assert s.output_shape == (None, 3) and s.input_shape == (None, 4)
    text = str(s)
    assert "2.fc1 (Dense)" in text and "(None, 12)" in text and "Total params: 207" in text
    assert repr(s) == text


def test_summary_leaves_model_unchanged():
    model = make_model()
    model.train()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    summary(model, (4,))
    assert model.training and model[3].calls[0] == 0
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # the wrappers are gone: forward is the class's method again
    assert all("forward" not in m.__dict__ for _, m in model.named_modules())
    x = np.ones((2, 4))
    assert model.forward(x).shape == (2, 3)


def test_summary_counts_frozen_and_shared_parameters():
    shared = Dense(3, 3)
    model = Sequential(shared, Relu(), shared)
    s = summary(model, 3)
    assert s.total_params == 12                                  # the shared layer counted once
    assert [r.output_shape for r in s.rows] == [(None, 3), (None, 3), (None, 3)]
    freeze(model, "0.bias")
    s = summary(model, 3)
    assert s.trainable_params == 9 and s.non_trainable_params == 3
    assert s.rows[0].trainable == "partly"


def test_summary_depth_tuple_outputs_and_single_layer():
    s = summary(make_model(), (4,), depth=1)
    assert [r.name for r in s.rows] == ["0", "1", "2", "3", "4"] and s.total_params == 207
    s = summary(TwoHeads(5), (5,))
    assert s.output_shape == [(None, 2), (None, 3)]
    assert "[(None, 2), (None, 3)]" in str(s)
    s = summary(Dense(2, 2), (2,))
    assert [r.name for r in s.rows] == ["(model)"] and s.rows[0].params == 6


def test_summary_error_names_the_failing_layer():
    model = Sequential(Dense(4, 6), Residual(5))                 # 6 features into a 5-wide block
    with pytest.raises(SummaryError, match=r"layer '1\.fc1' \(Dense\).*\(None, 6\)"):
        summary(model, (4,))
    assert all("forward" not in m.__dict__ for _, m in model.named_modules())
    with pytest.raises(TypeError, match="input_shape"):
        summary(model, None)
    with pytest.raises(ValueError, match="input_shape"):
        summary(model, (0, 4))


def test_summary_with_npvision_layers():
    import npvision.nn as nn

    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2D(3, 4, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2D(2),
                          nn.BasicBlock(4, 8, stride=2, rng=rng), nn.GlobalAvgPool2D(),
                          nn.Linear(8, 5, rng=rng))
    s = summary(model, (8, 8, 3))
    shapes = {r.name: r.output_shape for r in s.rows}
    assert shapes["0"] == (None, 8, 8, 4) and shapes["2"] == (None, 4, 4, 4)
    assert shapes["3"] == (None, 2, 2, 8) and shapes["5"] == (None, 5)
    assert s.total_params == model.num_parameters(trainable_only=False)
    assert s.rows[0].params == 3 * 3 * 3 * 4 + 4


# ---------------------------------------------------------------------------
# freeze
# ---------------------------------------------------------------------------
def test_freeze_by_prefix_and_unfreeze():
    model = make_model()
    all_names = trainable_names(model)
    assert all_names == ["0.weight", "0.bias", "2.fc1.weight", "2.fc1.bias", "2.fc2.weight",
                         "4.weight", "4.bias"]
    assert freeze(model, "2") == ["2.fc1.weight", "2.fc1.bias", "2.fc2.weight"]
    assert frozen_names(model) == ["2.fc1.weight", "2.fc1.bias", "2.fc2.weight"]
    assert trainable_names(model) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    unfreeze(model, ["2.fc2", "2.fc1.bias"])
    assert frozen_names(model) == ["2.fc1.weight"]
    freeze(model)
    assert trainable_names(model) == []
    unfreeze(model, "4")
    assert trainable_names(model) == ["4.weight", "4.bias"]
    unfreeze(model)
    assert trainable_names(model) == all_names


def test_prefix_matches_whole_name_parts_only():
    model = Sequential(*[Dense(2, 2) for _ in range(11)])
    assert freeze(model, "1") == ["1.weight", "1.bias"]          # not "10.weight"
    assert freeze(model, "1.") == ["1.weight", "1.bias"]         # a trailing dot is tolerated


def test_unknown_prefix_is_a_clear_error_and_changes_nothing():
    model = make_model()
    with pytest.raises(ValueError, match=r"no layer or parameter named '2\.fc3'.*'2\.fc1'"):
        freeze(model, ["0", "2.fc3"])
    assert frozen_names(model) == []                              # "0" was not frozen either
    with pytest.raises(ValueError, match=r"'head'.*'0', '1'"):
        unfreeze(model, "head")
    with pytest.raises(TypeError, match="prefixes"):
        freeze(model, 3)
    with pytest.raises(TypeError, match="model"):
        freeze([Parameter(np.zeros(2))], "0")


def test_optimizer_skips_frozen_layers():
    model = make_model()
    freeze(model, "0")
    opt = SGD(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad[...] = 1.0
    opt.step()
    np.testing.assert_array_equal(model[0].weight.data, np.ones((4, 6)))
    np.testing.assert_array_equal(model[4].weight.data, np.full((6, 3), 0.9))
