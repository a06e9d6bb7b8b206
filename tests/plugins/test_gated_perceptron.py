"""gated-perceptron: conformance, the unit is the paper's equation, the perceptron criterion is
Rosenblatt's rule, the XOR task's data, a gated unit separating XOR where the plain one cannot,
and bad input."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.gated_perceptron.loop import accuracy, fit
from zoo_plugins.gated_perceptron.model import perceptron_criterion
from zoo_plugins.gated_perceptron.task import xor_data, xor_task


def test_conforms_default_and_variants():
    assert_conforms("gated-perceptron")
    assert_conforms("gated-perceptron", variant="plain")
    assert_conforms("gated-perceptron", variant="rosenblatt", in_features=4, num_classes=3)


def test_logit_is_the_gated_perceptron_equation():
    torch.manual_seed(0)
    model = zoo.create("gated-perceptron", in_features=3, num_classes=2)
    x = torch.randn(6, 3)
    w, b = model.unit.weight[0], model.unit.bias[0]
    z = b + w[0] * x[:, 0] + w[1] * x[:, 1] + w[2] * x[:, 2] + w[3] * x[:, 0] * x[:, 1] * x[:, 2]
    logits = model(x)
    torch.testing.assert_close(logits[:, 1], z)
    assert torch.all(logits[:, 0] == 0)  # one unit: p(class 1) = sigmoid(z)
    torch.testing.assert_close(logits.softmax(-1)[:, 1], torch.sigmoid(z))
    three = zoo.create("gated-perceptron", in_features=2, num_classes=3)
    assert three(x[:, :2]).shape == (6, 3) and three.unit.weight.shape == (3, 3)
    plain = zoo.create("gated-perceptron", in_features=3, gate=False)
    assert plain.unit.weight.shape == (1, 3)


def test_hand_set_unit_separates_xor():
    model = zoo.create("gated-perceptron", in_features=2)
    with torch.no_grad():
        model.unit.weight.copy_(torch.tensor([[0.0, 0.0, 1.0]]))  # z = x1 x2
        model.unit.bias.zero_()
    x, y = xor_data(400, np.random.default_rng(0), noise=0.2)
    predicted = model(torch.from_numpy(x)).argmax(-1).numpy()
    assert (predicted == y).mean() > 0.98


def test_perceptron_criterion_is_rosenblatts_rule():
    torch.manual_seed(0)
    model = zoo.create("gated-perceptron", in_features=2, criterion="perceptron")
    x = torch.tensor([[0.5, -1.0]])
    with torch.no_grad():
        model.unit.weight.copy_(torch.tensor([[1.0, 1.0, 1.0]]))
        model.unit.bias.fill_(0.2)
    # z = 0.5 - 1 - 0.5 + 0.2 = -0.8 < 0: a missed positive, the rule adds the gated input vector
    before = model.unit.weight.detach().clone()
    loss = perceptron_criterion(model(x), torch.tensor([1]))
    assert loss.item() == pytest.approx(0.8)
    loss.backward()
    with torch.no_grad():
        after = model.unit.weight - 1.0 * model.unit.weight.grad
    torch.testing.assert_close(after - before, torch.tensor([[0.5, -1.0, -0.5]]))
    model.zero_grad()
    assert perceptron_criterion(model(x), torch.tensor([0])).item() == 0.0  # correct: no update


def test_xor_task_data():
    x, y = xor_data(1000, np.random.default_rng(1), noise=0.3)
    assert x.shape == (1000, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert abs(y.mean() - 0.5) < 0.01
    assert ((x[:, 0] * x[:, 1] > 0) == (y == 1)).mean() > 0.97  # the label is the sign of x1 x2
    # no line does well: the best least-squares linear classifier stays near chance
    design = np.c_[x, np.ones(len(x))]
    w = np.linalg.lstsq(design, 2.0 * y - 1, rcond=None)[0]
    assert ((design @ w > 0) == (y == 1)).mean() < 0.7
    task = xor_task(train=40, val=8, test=12, seed=3)
    assert [len(task.splits()[k]) for k in ("train", "val", "test")] == [40, 8, 12]
    np.testing.assert_array_equal(task.splits()["train"].tensors[0].numpy(),
                                  xor_task(train=40, val=8, test=12, seed=3).splits()["train"].tensors[0].numpy())
    for bad in ({"n": 2}, {"n": 100, "noise": 0.0}):
        with pytest.raises(ValueError, match="n must|noise must"):
            xor_data(rng=np.random.default_rng(0), **bad)


def test_training_gated_separates_xor_plain_does_not():
    task = xor_task(train=200, val=20, test=200, seed=0)
    found = {}
    for gate in (True, False):
        torch.manual_seed(0)
        model = zoo.create("gated-perceptron", task=task, gate=gate)
        before = accuracy(model, task)
        fit(model, task, epochs=20, batch_size=16, lr=0.05, seed=0)
        found[gate] = (before, accuracy(model, task))
    assert found[True][1] > 0.95 and found[True][1] > found[True][0]
    assert found[False][1] < 0.8


def test_bad_input_and_config():
    model = zoo.create("gated-perceptron", in_features=3)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model(torch.randn(4, 5))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="gate=False"):
        zoo.create("gated-perceptron", gate=False).gate_weight
    for bad in ({"in_features": 0}, {"num_classes": 1}, {"criterion": "hinge"}, {"in_features": 10**6}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("gated-perceptron", **bad)
    with pytest.raises(ValueError, match="classification task"):
        zoo.create("gated-perceptron", task="diabetes")
