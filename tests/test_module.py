"""The Module contract, exercised through real layers: names, modes, gradients, state, Sequential."""

from collections import OrderedDict

import numpy as np
import pytest

import npvision.nn as nn


def small_net(rng=0):
    return nn.Sequential(
        nn.Conv2D(3, 4, 3, padding=1, bias=False, rng=rng),
        nn.BatchNorm2D(4),
        nn.ReLU(),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dropout(0.5, rng=rng),
        nn.Linear(4 * 2 * 2, 5, rng=rng),
    )


def x_in(seed=42):
    return np.random.default_rng(seed).standard_normal((2, 4, 4, 3))


# -- names and order ------------------------------------------------------------------------------

def test_named_parameters_order_and_names():
    net = small_net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "1.gamma", "1.beta", "6.weight", "6.bias"]
    assert [p.shape for p in net.parameters()] == [(3, 3, 3, 4), (4,), (4,), (16, 5), (5,)]
    assert net.num_parameters() == 108 + 8 + 80 + 5
    assert [n for n, _ in net.named_buffers()] == ["1.running_mean", "1.running_var"]


def test_block_parameter_names_are_dotted_paths():
    block = nn.MBConv(4, 4, 3, 1, 2)
    names = [n for n, _ in block.named_parameters()]
    assert names[:3] == ["expand.conv.weight", "expand.bn.gamma", "expand.bn.beta"]
    assert "se.fc1.weight" in names and "se.fc2.bias" in names
    assert names[-3:] == ["project.conv.weight", "project.bn.gamma", "project.bn.beta"]
    assert len(names) == len(set(names))


def test_shared_parameter_is_listed_once_and_gets_both_gradients():
    a = nn.Linear(3, 3, bias=False, rng=0, dtype=np.float64)
    b = nn.Linear(3, 3, bias=False, rng=1, dtype=np.float64)
    b.weight = a.weight                                 # tie the weights
    net = nn.Sequential(a, b)
    assert [n for n, _ in net.named_parameters()] == ["0.weight"]
    x = np.random.default_rng(0).standard_normal((4, 3))
    h = a.forward(x)
    net.zero_grad()
    b.forward(h)
    b.backward(np.ones((4, 3)))
    a.backward(np.ones((4, 3)) @ a.weight.data.T)
    w = a.weight.data
    expected = x.T @ (np.ones((4, 3)) @ w.T) + h.T @ np.ones((4, 3))
    np.testing.assert_allclose(a.weight.grad, expected)


# -- gradients ------------------------------------------------------------------------------------

def test_gradients_accumulate_until_zero_grad():
    net = small_net().astype(np.float64)
    net[5].eval()                                       # a fixed (identity) dropout
    x = x_in()
    dy = np.random.default_rng(1).standard_normal((2, 5))
    net.forward(x)
    net.backward(dy)
    once = [p.grad.copy() for p in net.parameters()]
    assert all(np.any(g != 0) for g in once)
    net.forward(x)
    net.backward(dy)
    for p, g in zip(net.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g)       # += , not =
    net.zero_grad()
    assert all(not np.any(p.grad) for p in net.parameters())


# -- modes ----------------------------------------------------------------------------------------

def test_train_eval_propagate_to_every_descendant():
    net = nn.Sequential(nn.BasicBlock(3, 4, stride=2), small_net())
    assert all(m.training for _, m in net.named_modules())
    assert net.eval() is net
    assert not any(m.training for _, m in net.named_modules())
    net[1].train()
    assert not net.training and not net[0].bn1.training
    assert net[1][1].training and net[1][5].training
    net.train()
    assert all(m.training for _, m in net.named_modules())


def test_eval_mode_changes_batchnorm_and_dropout_behaviour():
    net = small_net()
    x = x_in().astype(np.float32)
    net.forward(x)                                      # one training step sets the running stats
    net.eval()
    y1, y2 = net.forward(x), net.forward(x)
    np.testing.assert_array_equal(y1, y2)               # deterministic: no dropout, fixed statistics
    net.train()
    assert not np.array_equal(net.forward(x), net.forward(x))  # fresh dropout masks


# -- state ----------------------------------------------------------------------------------------

def test_state_dict_round_trip_with_buffers():
    src = small_net(rng=0)
    src.forward(x_in().astype(np.float32))              # move the running statistics
    state = src.state_dict()
    assert list(state) == ["0.weight", "1.gamma", "1.beta", "6.weight", "6.bias",
                           "1.running_mean", "1.running_var"]
    dst = small_net(rng=1)
    assert not np.array_equal(dst[0].weight.data, src[0].weight.data)
    dst.load_state_dict(state)
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    src.eval()
    dst.eval()
    np.testing.assert_array_equal(dst.forward(x_in().astype(np.float32)),
                                  src.forward(x_in().astype(np.float32)))
    state["0.weight"][...] = 0                          # state_dict returns copies
    assert np.any(src[0].weight.data != 0) and np.any(dst[0].weight.data != 0)


def test_load_state_dict_errors_leave_the_module_untouched():
    net = small_net()
    before = net.state_dict()
    state = small_net(rng=5).state_dict()
    del state["6.bias"]
    with pytest.raises(KeyError, match=r"missing \['6.bias'\]"):
        net.load_state_dict(state)
    state = small_net(rng=5).state_dict()
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"unexpected \['extra.weight'\]"):
        net.load_state_dict(state)
    state = small_net(rng=5).state_dict()
    state["6.weight"] = np.zeros((5, 16))
    with pytest.raises(ValueError,
                       match=r"state\['6.weight'\]: has shape \(5, 16\), the model expects \(16, 5\)"):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_loads_what_matches():
    net = small_net()
    state = small_net(rng=5).state_dict()
    partial = {k: state[k] for k in ("0.weight", "1.running_var")}
    net.load_state_dict(partial, strict=False)
    np.testing.assert_array_equal(net[0].weight.data, state["0.weight"])
    np.testing.assert_array_equal(net[1].running_var, state["1.running_var"])


def test_astype_converts_parameters_and_buffers():
    net = nn.Sequential(nn.Conv2D(3, 4, 3), nn.BatchNorm2D(4))
    net.astype(np.float64)
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float64


# -- Sequential -----------------------------------------------------------------------------------

def test_sequential_indexing_slicing_and_iteration():
    net = small_net()
    assert len(net) == 7
    assert isinstance(net[0], nn.Conv2D) and isinstance(net[-1], nn.Linear)
    head = net[:4]
    assert isinstance(head, nn.Sequential) and len(head) == 4
    assert head[0] is net[0]                            # a slice shares the layers
    y = head.forward(x_in().astype(np.float32))
    assert y.shape == (2, 2, 2, 4)
    assert [type(m).__name__ for m in net] == ["Conv2D", "BatchNorm2D", "ReLU", "MaxPool2D", "Flatten",
                                               "Dropout", "Linear"]
    net.append(nn.Softmax())
    assert len(net) == 8 and isinstance(net[7], nn.Softmax)


def test_sequential_with_names_and_backward_in_reverse():
    net = nn.Sequential(OrderedDict(fc=nn.Linear(3, 4, rng=0, dtype=np.float64), act=nn.Tanh()))
    assert [n for n, _ in net.named_parameters()] == ["fc.weight", "fc.bias"]
    x = np.random.default_rng(0).standard_normal((2, 3))
    y = net.forward(x)
    dx = net.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, (1 - y ** 2) @ net.fc.weight.data.T)
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Sequential(nn.ReLU(), "relu")


def test_repr_shows_the_tree_and_configs():
    text = repr(nn.Sequential(nn.Conv2D(3, 4, 3, stride=2), nn.BasicBlock(4, 4)))
    assert "(0): Conv2D(3, 4, kernel_size=(3, 3), stride=(2, 2), padding=0)" in text
    assert "(conv1): Conv2D(4, 4, kernel_size=(3, 3), stride=(1, 1), padding=1, bias=False)" in text
    assert "(bn1): BatchNorm2D(4, momentum=0.9, eps=1e-05)" in text
